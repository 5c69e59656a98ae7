package chain

import (
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// Rules are the stateless transaction rules of one chain, taken from its
// genesis. They are safe for concurrent use.
type Rules struct {
	ChainID     uint64
	MinGasPrice uint256.Int // also the constant base fee
	MaxTxBytes  int
	signer      types.Signer
	chainIDBig  *big.Int
}

// NewRules returns the rules for a chain id, minimum gas price and maximum
// transaction size.
func NewRules(chainID uint64, minGasPrice *uint256.Int, maxTxBytes int) *Rules {
	id := new(big.Int).SetUint64(chainID)
	return &Rules{
		ChainID:     chainID,
		MinGasPrice: *minGasPrice,
		MaxTxBytes:  maxTxBytes,
		signer:      types.NewLondonSigner(id),
		chainIDBig:  id,
	}
}

// BaseFee is the chain's constant base fee per gas (the minimum gas price).
func (r *Rules) BaseFee() *uint256.Int { return &r.MinGasPrice }

// Signer is the go-ethereum signer for this chain id.
func (r *Rules) Signer() types.Signer { return r.signer }

// Tx is a transaction that passed the stateless rules. Fields are copied out
// of the Ethereum envelope once, so that execution does no big-integer
// conversions.
type Tx struct {
	Hash   Hash
	Type   uint8
	Nonce  uint64
	To     Address
	Value  uint256.Int
	Gas    uint64
	FeeCap uint256.Int // gas price for legacy transactions
	TipCap uint256.Int // gas price for legacy transactions
	From   Address     // zero until RecoverSender succeeds
	Raw    []byte      // Ethereum binary encoding

	eth       *types.Transaction
	recovered bool
}

// Recovered reports whether the sender has been recovered and checked.
func (tx *Tx) Recovered() bool { return tx.recovered }

// Eth returns the go-ethereum form of the transaction, decoding Raw again
// if it was dropped after sender recovery.
func (tx *Tx) Eth() (*types.Transaction, error) {
	if tx.eth != nil {
		return tx.eth, nil
	}
	var t types.Transaction
	if err := t.UnmarshalBinary(tx.Raw); err != nil {
		return nil, Rejectf(ErrTxDecode, "%v", err)
	}
	return &t, nil
}

// Size returns the length of the encoding.
func (tx *Tx) Size() int { return len(tx.Raw) }

// EffectiveGasPrice is what the transaction pays per gas under the chain's
// constant base fee: the legacy gas price, or min(fee cap, base fee + tip).
func (tx *Tx) EffectiveGasPrice(baseFee *uint256.Int) uint256.Int {
	if tx.Type == types.LegacyTxType || tx.Type == types.AccessListTxType {
		return tx.FeeCap
	}
	var p uint256.Int
	if _, overflow := p.AddOverflow(baseFee, &tx.TipCap); overflow || p.Gt(&tx.FeeCap) {
		return tx.FeeCap
	}
	return p
}

// MaxCost is value + gas × fee cap, the balance a sender must hold for the
// transaction to be valid. The stateless rules guarantee it fits in 256 bits
// with room to spare only if the caller checks the overflow flag.
func (tx *Tx) MaxCost() (uint256.Int, bool) {
	var c uint256.Int
	_, o1 := c.MulOverflow(uint256.NewInt(tx.Gas), &tx.FeeCap)
	_, o2 := c.AddOverflow(&c, &tx.Value)
	return c, o1 || o2
}

// ParseTx decodes raw and checks every stateless rule except the signature,
// cheapest first: size, decoding, type, replay protection and chain id,
// recipient, data, access list, gas limit, value and fee ranges, minimum gas
// price, tip against fee cap. The sender is not yet known; see
// RecoverSender and DecodeTx.
func (r *Rules) ParseTx(raw []byte) (*Tx, error) {
	if len(raw) > r.MaxTxBytes {
		return nil, Rejectf(ErrOversized, "%d bytes, limit %d", len(raw), r.MaxTxBytes)
	}
	if len(raw) == 0 {
		return nil, Rejectf(ErrTxDecode, "empty input")
	}
	// Reject unsupported envelopes before go-ethereum parses them, so that
	// blob and set-code transactions never reach their larger decoders.
	if raw[0] < 0x7f && raw[0] != types.AccessListTxType && raw[0] != types.DynamicFeeTxType {
		return nil, Rejectf(ErrTxType, "type %d", raw[0])
	}
	eth := new(types.Transaction)
	if err := eth.UnmarshalBinary(raw); err != nil {
		if errors.Is(err, types.ErrTxTypeNotSupported) {
			return nil, Rejectf(ErrTxType, "%v", err)
		}
		return nil, Rejectf(ErrTxDecode, "%v", err)
	}
	return r.checkEth(eth, raw)
}

func (r *Rules) checkEth(eth *types.Transaction, raw []byte) (*Tx, error) {
	switch eth.Type() {
	case types.LegacyTxType:
		if !eth.Protected() {
			return nil, ErrUnprotected
		}
	case types.AccessListTxType, types.DynamicFeeTxType:
	default:
		return nil, Rejectf(ErrTxType, "type %d", eth.Type())
	}
	if id := eth.ChainId(); id.Cmp(r.chainIDBig) != 0 {
		return nil, Rejectf(ErrWrongChainID, "have %s, want %d", id, r.ChainID)
	}
	to := eth.To()
	if to == nil {
		return nil, ErrContractCreation
	}
	if len(eth.Data()) != 0 {
		return nil, Rejectf(ErrData, "%d bytes", len(eth.Data()))
	}
	if len(eth.AccessList()) != 0 {
		return nil, ErrAccessList
	}
	if eth.Gas() != TransferGas {
		return nil, Rejectf(ErrGasLimit, "have %d", eth.Gas())
	}
	tx := &Tx{
		Hash:  eth.Hash(),
		Type:  eth.Type(),
		Nonce: eth.Nonce(),
		To:    *to,
		Gas:   eth.Gas(),
		Raw:   raw,
		eth:   eth,
	}
	if tx.Value.SetFromBig(eth.Value()) || tx.FeeCap.SetFromBig(eth.GasFeeCap()) || tx.TipCap.SetFromBig(eth.GasTipCap()) {
		return nil, ErrValueOverflow
	}
	if _, overflow := tx.MaxCost(); overflow {
		return nil, Rejectf(ErrValueOverflow, "value + gas × fee cap")
	}
	if tx.FeeCap.Lt(&r.MinGasPrice) {
		return nil, Rejectf(ErrFeeCapTooLow, "fee cap %s, minimum %s", tx.FeeCap.Dec(), r.MinGasPrice.Dec())
	}
	if tx.TipCap.Gt(&tx.FeeCap) {
		return nil, Rejectf(ErrTipAboveFeeCap, "tip %s, fee cap %s", tx.TipCap.Dec(), tx.FeeCap.Dec())
	}
	return tx, nil
}

// RecoverSender checks the signature and sets From. It is the expensive
// step (an ECDSA public key recovery) and is done once per transaction.
func (r *Rules) RecoverSender(tx *Tx) error {
	if tx.recovered {
		return nil
	}
	eth := tx.eth
	if eth == nil {
		var err error
		if eth, err = tx.Eth(); err != nil {
			return err
		}
	}
	from, err := types.Sender(r.signer, eth)
	if err != nil {
		return Rejectf(ErrInvalidSignature, "%v", err)
	}
	tx.From = from
	tx.recovered = true
	tx.eth = nil // the compact fields are all execution needs
	return nil
}

// DecodeTx parses raw under the stateless rules and recovers its sender.
func (r *Rules) DecodeTx(raw []byte) (*Tx, error) {
	tx, err := r.ParseTx(raw)
	if err != nil {
		return nil, err
	}
	if err := r.RecoverSender(tx); err != nil {
		return nil, err
	}
	return tx, nil
}

// NewVerifiedTx builds a Tx from a signed go-ethereum transaction whose
// sender the caller has already checked, for tests and load generators that
// sign locally. It applies the stateless rules.
func (r *Rules) NewVerifiedTx(eth *types.Transaction, from Address) (*Tx, error) {
	raw, err := eth.MarshalBinary()
	if err != nil {
		return nil, Rejectf(ErrTxDecode, "%v", err)
	}
	if len(raw) > r.MaxTxBytes {
		return nil, Rejectf(ErrOversized, "%d bytes, limit %d", len(raw), r.MaxTxBytes)
	}
	tx, err := r.checkEth(eth, raw)
	if err != nil {
		return nil, err
	}
	tx.From = from
	tx.recovered = true
	tx.eth = nil
	return tx, nil
}
