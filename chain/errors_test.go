package chain

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// TestTxError checks that a rejection carries its rule and its detail
// apart: errors.Is finds the rule, Detail has no rule text in it, and Error
// reads as the rule, a colon and the detail.
func TestTxError(t *testing.T) {
	rules := testGenesis().Rules()
	k := testKey(t, 0)
	st := NewState(mapReader{keyAddr(k): {Nonce: 4, Balance: *ether}})
	check := func(raw []byte) error {
		tx, err := rules.DecodeTx(raw)
		if err != nil {
			return err
		}
		return st.Check(tx)
	}
	for _, tc := range []struct {
		name   string
		err    error
		rule   error
		detail string // "" for a rejection that is its rule alone
	}{
		{"empty", check(nil), ErrTxDecode, "empty input"},
		{"gas limit", check(rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, nonce: 4, gas: 30000})), ErrGasLimit, "have 30000"},
		{"wrong chain id", check(rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, nonce: 4, chainID: 5})), ErrWrongChainID, "have 5, want " + strconv.FormatUint(testChainID, 10)},
		{"fee cap", check(rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, nonce: 4, feeCap: uint256.NewInt(1), tip: uint256.NewInt(1)})), ErrFeeCapTooLow, "fee cap 1, minimum 1000000000"},
		{"nonce too low", check(rawTx(t, k, txSpec{typ: types.DynamicFeeTxType, nonce: 3})), ErrNonceTooLow, "address " + keyAddr(k).String() + ", tx 3, state 4"},
		{"contract creation", Rejectf(ErrContractCreation, ""), ErrContractCreation, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.rule) {
				t.Fatalf("%v is not %v", tc.err, tc.rule)
			}
			te, ok := errors.AsType[*TxError](tc.err)
			if !ok {
				t.Fatalf("%v (%T) is not a *TxError", tc.err, tc.err)
			}
			if te.Detail() != tc.detail {
				t.Fatalf("detail %q, want %q", te.Detail(), tc.detail)
			}
			want := tc.rule.Error()
			if tc.detail != "" {
				want += ": " + tc.detail
			}
			if tc.err.Error() != want || strings.Contains(te.Detail(), "chain: ") {
				t.Fatalf("error %q, want %q", tc.err, want)
			}
		})
	}
}
