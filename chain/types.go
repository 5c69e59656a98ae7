package chain

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/bizra/node0/internal/codec"
)

// Address is a 20-byte account address, shared with go-ethereum so that
// hex encoding and checksums match what Ethereum tools print.
type Address = common.Address

// Hash is a 32-byte hash.
type Hash = common.Hash

// TransferGas is the gas a value transfer costs, and the only gas limit a
// transaction may carry.
const TransferGas = 21_000

// Keccak256 hashes the concatenation of its arguments.
func Keccak256(data ...[]byte) Hash { return crypto.Keccak256Hash(data...) }

// Account is the state of one address.
type Account struct {
	Nonce   uint64
	Balance uint256.Int
}

// accountSize is the length of an encoded account.
const accountSize = 8 + 32

// IsEmpty reports whether the account is indistinguishable from one that
// never existed; empty accounts are not stored and add nothing to the state
// root.
func (a *Account) IsEmpty() bool { return a.Nonce == 0 && a.Balance.IsZero() }

// AppendEncode appends the canonical 40-byte encoding.
func (a *Account) AppendEncode(dst []byte) []byte {
	e := codec.NewEncoder(dst)
	e.U64(a.Nonce)
	balance := a.Balance.Bytes32()
	e.Fixed(balance[:])
	return e.Bytes()
}

// DecodeAccount decodes an account encoding.
func DecodeAccount(b []byte) (Account, error) {
	d := codec.NewDecoder(b, ErrDecode)
	var a Account
	a.Nonce = d.U64("account nonce")
	var balance [32]byte
	d.Fixed("account balance", balance[:])
	a.Balance.SetBytes32(balance[:])
	return a, d.Finish("account")
}
