package chain

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

func TestApplyTxRules(t *testing.T) {
	rules := testGenesis().Rules()
	base := rules.BaseFee()
	k := testKey(t, 0)
	from := keyAddr(k)
	to := Address{0x77}
	price := uint256.NewInt(2_000_000_000)
	fee := new(uint256.Int).Mul(uint256.NewInt(TransferGas), price)
	value := uint256.NewInt(5_000)
	exact := new(uint256.Int).Add(fee, value)

	cases := []struct {
		name  string
		acct  Account
		spec  txSpec
		noRec bool
		want  error
	}{
		{"ok exact balance", Account{Nonce: 3, Balance: *exact}, txSpec{typ: types.LegacyTxType, nonce: 3, feeCap: price, value: value}, false, nil},
		{"one wei short", Account{Nonce: 3, Balance: *new(uint256.Int).Sub(exact, uint256.NewInt(1))}, txSpec{typ: types.LegacyTxType, nonce: 3, feeCap: price, value: value}, false, ErrInsufficientFunds},
		{"balance checked against fee cap, not effective price", Account{Balance: *exact}, txSpec{typ: types.DynamicFeeTxType, feeCap: new(uint256.Int).Add(price, uint256.NewInt(1)), tip: uint256.NewInt(0), value: value}, false, ErrInsufficientFunds},
		{"nonce too low", Account{Nonce: 4, Balance: *ether}, txSpec{typ: types.LegacyTxType, nonce: 3, feeCap: price}, false, ErrNonceTooLow},
		{"nonce too high", Account{Nonce: 2, Balance: *ether}, txSpec{typ: types.LegacyTxType, nonce: 3, feeCap: price}, false, ErrNonceTooHigh},
		{"nonce at max", Account{Nonce: ^uint64(0), Balance: *ether}, txSpec{typ: types.LegacyTxType, nonce: ^uint64(0), feeCap: price}, false, ErrNonceMax},
		{"empty sender", Account{}, txSpec{typ: types.LegacyTxType, feeCap: price}, false, ErrInsufficientFunds},
		{"sender not recovered", Account{Balance: *ether}, txSpec{typ: types.LegacyTxType, feeCap: price}, true, ErrSenderUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.to = &to
			st := NewState(mapReader{from: tc.acct})
			var tx *Tx
			if tc.noRec {
				var err error
				if tx, err = rules.ParseTx(rawTx(t, k, tc.spec)); err != nil {
					t.Fatal(err)
				}
			} else {
				tx = verifiedTx(t, rules, k, tc.spec)
			}
			_, err := st.ApplyTx(tx, testFeeAddr, base, 0)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if ch := st.Changes(); len(ch) != 0 {
				t.Fatalf("rejected tx changed state: %+v", ch)
			}
		})
	}
}

func TestApplyTxFeeAccounting(t *testing.T) {
	rules := testGenesis().Rules()
	base := rules.BaseFee() // 1 gwei
	k := testKey(t, 0)
	from := keyAddr(k)
	start := *new(uint256.Int).Mul(ether, uint256.NewInt(10))

	cases := []struct {
		name      string
		spec      txSpec
		proposer  Address
		wantPrice uint64
	}{
		{"legacy", txSpec{typ: types.LegacyTxType, feeCap: uint256.NewInt(3e9)}, testFeeAddr, 3e9},
		{"1559 base plus tip", txSpec{typ: types.DynamicFeeTxType, feeCap: uint256.NewInt(10e9), tip: uint256.NewInt(2e9)}, testFeeAddr, 3e9},
		{"1559 capped", txSpec{typ: types.DynamicFeeTxType, feeCap: uint256.NewInt(15e8), tip: uint256.NewInt(2e9 - 1e9)}, testFeeAddr, 15e8},
		{"to the proposer itself", txSpec{typ: types.LegacyTxType, feeCap: uint256.NewInt(2e9), to: &testFeeAddr}, testFeeAddr, 2e9},
		{"to self", txSpec{typ: types.LegacyTxType, feeCap: uint256.NewInt(2e9), to: &from}, testFeeAddr, 2e9},
		{"sender is the proposer", txSpec{typ: types.LegacyTxType, feeCap: uint256.NewInt(2e9)}, from, 2e9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec.to == nil {
				tc.spec.to = &Address{0x99}
			}
			tc.spec.value = uint256.NewInt(123_456)
			pre := mapReader{from: {Balance: start}, testFeeAddr: {Balance: *uint256.NewInt(7)}}
			st := NewState(pre)
			tx := verifiedTx(t, rules, k, tc.spec)
			r, err := st.ApplyTx(tx, tc.proposer, base, 42_000)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != ReceiptSuccess || r.GasUsed != TransferGas || r.CumulativeGasUsed != 63_000 || r.From != from {
				t.Fatalf("receipt %+v", r)
			}
			if !r.EffectiveGasPrice.Eq(uint256.NewInt(tc.wantPrice)) {
				t.Fatalf("effective price %s, want %d", r.EffectiveGasPrice.Dec(), tc.wantPrice)
			}
			fee := new(uint256.Int).Mul(uint256.NewInt(TransferGas), uint256.NewInt(tc.wantPrice))
			// Expected balances by address, computed independently.
			want := map[Address]uint256.Int{}
			for a, acct := range pre {
				want[a] = acct.Balance
			}
			sub := func(a Address, v *uint256.Int) { x := want[a]; x.Sub(&x, v); want[a] = x }
			add := func(a Address, v *uint256.Int) { x := want[a]; x.Add(&x, v); want[a] = x }
			sub(from, tc.spec.value)
			sub(from, fee)
			add(*tc.spec.to, tc.spec.value)
			add(tc.proposer, fee)
			var before, after uint256.Int
			for a, acct := range pre {
				before.Add(&before, &acct.Balance)
				_ = a
			}
			for a, w := range want {
				got := mustAccount(t, st, a)
				if !got.Balance.Eq(&w) {
					t.Fatalf("balance of %s = %s, want %s", a, got.Balance.Dec(), w.Dec())
				}
				after.Add(&after, &got.Balance)
			}
			if !before.Eq(&after) {
				t.Fatalf("supply changed: %s → %s", before.Dec(), after.Dec())
			}
			if n := mustAccount(t, st, from).Nonce; n != 1 {
				t.Fatalf("sender nonce %d, want 1", n)
			}
		})
	}
}

func TestStateChangesOmitUntouched(t *testing.T) {
	rules := testGenesis().Rules()
	k := testKey(t, 0)
	st := NewState(mapReader{keyAddr(k): {Balance: *ether}})
	// A rejected transaction touches entries but must not report changes.
	bad := verifiedTx(t, rules, k, txSpec{typ: types.LegacyTxType, nonce: 5})
	if _, err := st.ApplyTx(bad, testFeeAddr, rules.BaseFee(), 0); !errors.Is(err, ErrNonceTooHigh) {
		t.Fatalf("got %v", err)
	}
	if ch := st.Changes(); len(ch) != 0 {
		t.Fatalf("changes after a rejected tx: %+v", ch)
	}
	good := verifiedTx(t, rules, k, txSpec{typ: types.LegacyTxType})
	if _, err := st.ApplyTx(good, testFeeAddr, rules.BaseFee(), 0); err != nil {
		t.Fatal(err)
	}
	if ch := st.Changes(); len(ch) != 3 {
		t.Fatalf("want 3 changed accounts (sender, recipient, proposer), got %d", len(ch))
	}
}
