package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

func TestParseTxRules(t *testing.T) {
	k := testKey(t, 0)
	rules := testGenesis().Rules()
	two := new(uint256.Int).Mul(gwei, uint256.NewInt(2))
	half := new(uint256.Int).Div(gwei, uint256.NewInt(2))

	unprotected := func() []byte {
		tx := types.NewTx(&types.LegacyTx{Nonce: 0, GasPrice: two.ToBig(), Gas: TransferGas, To: &Address{1}, Value: big.NewInt(1)})
		s, err := types.SignTx(tx, types.HomesteadSigner{}, k)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.MarshalBinary()
		return b
	}
	badSig := func() []byte {
		tx := signTx(t, k, txSpec{typ: types.DynamicFeeTxType})
		// s above the curve order is never valid.
		v, r, _ := tx.RawSignatureValues()
		sig := make([]byte, 65)
		r.FillBytes(sig[:32])
		for i := 32; i < 64; i++ {
			sig[i] = 0xff
		}
		sig[64] = byte(v.Uint64())
		bad, err := tx.WithSignature(types.NewLondonSigner(big.NewInt(testChainID)), sig)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := bad.MarshalBinary()
		return b
	}
	blobTx := func() []byte {
		tx := types.NewTx(&types.BlobTx{ChainID: uint256.NewInt(testChainID), Gas: TransferGas, GasFeeCap: two, GasTipCap: gwei, BlobFeeCap: gwei, Value: uint256.NewInt(1)})
		b, _ := tx.MarshalBinary()
		return b
	}
	huge := make([]byte, rules.MaxTxBytes+1)
	overflow := func() []byte {
		v := new(big.Int).Lsh(big.NewInt(1), 300)
		tx := types.NewTx(&types.LegacyTx{Nonce: 0, GasPrice: two.ToBig(), Gas: TransferGas, To: &Address{1}, Value: v})
		s, err := types.SignTx(tx, types.NewEIP155Signer(big.NewInt(testChainID)), k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := []struct {
		name string
		raw  []byte
		want error // nil: valid
	}{
		{"legacy eip155", rawTx(t, k, txSpec{typ: types.LegacyTxType}), nil},
		{"eip2930", rawTx(t, k, txSpec{typ: types.AccessListTxType}), nil},
		{"eip1559", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType}), nil},
		{"fee cap equal to minimum", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, feeCap: gwei, tip: gwei}), nil},
		{"empty", nil, ErrTxDecode},
		{"garbage", []byte{0xc5, 0x01, 0x02}, ErrTxDecode},
		{"oversized", append([]byte{0xf9}, huge...), ErrOversized},
		{"oversized with data", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, data: make([]byte, 2000)}), ErrOversized},
		{"blob tx", blobTx(), ErrTxType},
		{"set-code tx type byte", []byte{0x04, 0xc0}, ErrTxType},
		{"unprotected legacy", unprotected(), ErrUnprotected},
		{"wrong chain id legacy", rawTx(t, k, txSpec{typ: types.LegacyTxType, chainID: 1}), ErrWrongChainID},
		{"wrong chain id 1559", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, chainID: 7}), ErrWrongChainID},
		{"contract creation", func() []byte {
			tx := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(testChainID), GasTipCap: gwei.ToBig(), GasFeeCap: two.ToBig(), Gas: TransferGas})
			s, _ := types.SignTx(tx, types.NewLondonSigner(big.NewInt(testChainID)), k)
			b, _ := s.MarshalBinary()
			return b
		}(), ErrContractCreation},
		{"data", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, data: []byte{1}}), ErrData},
		{"access list", rawTx(t, k, txSpec{typ: types.AccessListTxType, access: types.AccessList{{Address: Address{9}}}}), ErrAccessList},
		{"gas above 21000", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, gas: TransferGas + 1}), ErrGasLimit},
		{"gas below 21000", rawTx(t, k, txSpec{typ: types.LegacyTxType, gas: 20_999}), ErrGasLimit},
		{"legacy gas price below minimum", rawTx(t, k, txSpec{typ: types.LegacyTxType, feeCap: half}), ErrFeeCapTooLow},
		{"fee cap below minimum", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, feeCap: half, tip: uint256.NewInt(0)}), ErrFeeCapTooLow},
		{"tip above fee cap", rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, feeCap: two, tip: new(uint256.Int).Add(two, uint256.NewInt(1))}), ErrTipAboveFeeCap},
		{"bad signature", badSig(), ErrInvalidSignature},
		{"value over 256 bits", overflow(), ErrValueOverflow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := rules.DecodeTx(tc.raw)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid tx rejected: %v", err)
				}
				if tx.From != keyAddr(k) {
					t.Fatalf("sender %s, want %s", tx.From, keyAddr(k))
				}
				if tx.Hash != Keccak256(tc.raw) {
					t.Fatalf("hash %s is not keccak of the encoding", tx.Hash)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRejectionErrorsDistinct(t *testing.T) {
	all := []error{ErrOversized, ErrTxDecode, ErrTxType, ErrUnprotected, ErrWrongChainID, ErrContractCreation,
		ErrData, ErrAccessList, ErrGasLimit, ErrValueOverflow, ErrFeeCapTooLow, ErrTipAboveFeeCap,
		ErrInvalidSignature, ErrNonceTooLow, ErrNonceTooHigh, ErrNonceMax, ErrInsufficientFunds}
	for i := range all {
		for j := range all {
			if i != j && (errors.Is(all[i], all[j]) || all[i].Error() == all[j].Error()) {
				t.Fatalf("%v and %v are not distinct", all[i], all[j])
			}
		}
	}
}

func TestEffectiveGasPrice(t *testing.T) {
	rules := testGenesis().Rules()
	k := testKey(t, 1)
	base := rules.BaseFee()
	cases := []struct {
		name         string
		spec         txSpec
		wantGweiX100 uint64
	}{
		{"legacy pays its gas price", txSpec{typ: types.LegacyTxType, feeCap: uint256.NewInt(3_000_000_000)}, 300},
		{"2930 pays its gas price", txSpec{typ: types.AccessListTxType, feeCap: uint256.NewInt(3_000_000_000)}, 300},
		{"1559 base plus tip under cap", txSpec{typ: types.DynamicFeeTxType, feeCap: uint256.NewInt(5_000_000_000), tip: uint256.NewInt(1_500_000_000)}, 250},
		{"1559 capped by fee cap", txSpec{typ: types.DynamicFeeTxType, feeCap: uint256.NewInt(1_200_000_000), tip: uint256.NewInt(1_000_000_000)}, 120},
		{"1559 zero tip pays base", txSpec{typ: types.DynamicFeeTxType, feeCap: uint256.NewInt(9_000_000_000), tip: uint256.NewInt(0)}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := verifiedTx(t, rules, k, tc.spec)
			p := tx.EffectiveGasPrice(base)
			want := tc.wantGweiX100 * 10_000_000
			if !p.Eq(uint256.NewInt(want)) {
				t.Fatalf("effective price %s, want %d", p.Dec(), want)
			}
		})
	}
}

func TestRecoverSenderOnce(t *testing.T) {
	rules := testGenesis().Rules()
	k, _ := crypto.GenerateKey()
	tx, err := rules.ParseTx(rawTx(t, k, txSpec{typ: types.DynamicFeeTxType}))
	if err != nil {
		t.Fatal(err)
	}
	if tx.Recovered() || tx.From != (Address{}) {
		t.Fatal("ParseTx must not recover the sender")
	}
	if err := rules.RecoverSender(tx); err != nil {
		t.Fatal(err)
	}
	if tx.From != keyAddr(k) || !tx.Recovered() {
		t.Fatalf("recovered %s, want %s", tx.From, keyAddr(k))
	}
	if _, err := tx.Eth(); err != nil {
		t.Fatalf("re-decoding after recovery: %v", err)
	}
}
