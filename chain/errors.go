package chain

import "errors"

// Transaction rejections. Each rule has its own value so that the mempool and
// JSON-RPC can map them to the messages Ethereum tools expect.
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
