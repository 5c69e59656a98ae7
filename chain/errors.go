package chain

import (
	"errors"
	"fmt"
)

// Transaction rejections. Each rule has its own value so that the mempool and
// JSON-RPC can map them to the messages Ethereum tools expect. A rejection
// that says more than its rule is a *TxError.
var (
	ErrOversized         = errors.New("chain: oversized transaction")
	ErrTxDecode          = errors.New("chain: malformed transaction encoding")
	ErrTxType            = errors.New("chain: transaction type not supported")
	ErrUnprotected       = errors.New("chain: legacy transaction without EIP-155 replay protection")
	ErrWrongChainID      = errors.New("chain: wrong chain id")
	ErrContractCreation  = errors.New("chain: contract creation not supported")
	ErrData              = errors.New("chain: transaction data not supported")
	ErrAccessList        = errors.New("chain: access lists not supported")
	ErrGasLimit          = errors.New("chain: gas limit must be exactly 21000")
	ErrValueOverflow     = errors.New("chain: value or fee exceeds 256 bits")
	ErrFeeCapTooLow      = errors.New("chain: fee cap below minimum gas price")
	ErrTipAboveFeeCap    = errors.New("chain: max priority fee per gas higher than max fee per gas")
	ErrInvalidSignature  = errors.New("chain: invalid signature")
	ErrNonceTooLow       = errors.New("chain: nonce too low")
	ErrNonceTooHigh      = errors.New("chain: nonce too high")
	ErrNonceMax          = errors.New("chain: nonce has max value")
	ErrInsufficientFunds = errors.New("chain: insufficient funds for gas * price + value")
	ErrBalanceOverflow   = errors.New("chain: balance overflow")
	ErrSenderUnknown     = errors.New("chain: transaction sender not recovered")
)

// Block building and validation.
var (
	ErrBlockFull       = errors.New("chain: block is full")
	ErrBadBlock        = errors.New("chain: invalid block")
	ErrStalePending    = errors.New("chain: pending block does not extend the current head")
	ErrDecode          = errors.New("chain: malformed encoding")
	ErrNotFound        = errors.New("chain: not found")
	ErrGenesisMismatch = errors.New("chain: store belongs to a different genesis")
	ErrInvalidGenesis  = errors.New("chain: invalid genesis")
	ErrCorruptStore    = errors.New("chain: corrupt store")
	ErrClosed          = errors.New("chain: store closed")
)

// TxError is the rejection of a transaction by a rule: the rule, one of the
// values above or a sentinel of another package (the mempool's), and what
// about the transaction broke it ("address 0x…, tx 3, state 5"). errors.Is
// matches the rule; Detail tells clients the rest without their parsing
// Error.
type TxError struct {
	rule   error
	detail string
}

// Rejectf returns the rejection of a transaction by rule, with a detail made
// as fmt.Sprintf makes it.
func Rejectf(rule error, format string, args ...any) error {
	return &TxError{rule: rule, detail: fmt.Sprintf(format, args...)}
}

// Error is the rule's text, then a colon and the detail if there is one.
func (e *TxError) Error() string {
	if e.detail == "" {
		return e.rule.Error()
	}
	return e.rule.Error() + ": " + e.detail
}

// Unwrap returns the rule.
func (e *TxError) Unwrap() error { return e.rule }

// Detail says what about the transaction broke the rule.
func (e *TxError) Detail() string { return e.detail }
