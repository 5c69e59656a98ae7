package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGenesisParseAndHash(t *testing.T) {
	g := testGenesis(Address{1}, Address{2})
	enc, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "genesis.json", enc)
	back, err := ParseGenesis(enc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != g.Hash() {
		t.Fatal("hash changed by a round trip")
	}
	golden(t, "genesis_hash.txt", []byte(g.Hash().Hex()+"\n"))
	// Formatting does not change the hash.
	var compact bytes.Buffer
	if err := json.Compact(&compact, enc); err != nil {
		t.Fatal(err)
	}
	again, err := ParseGenesis(compact.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash() != g.Hash() {
		t.Fatal("formatting changes the genesis hash")
	}
	// A time zone offset means the same instant and the same chain.
	shifted := strings.Replace(string(enc), `"2026-01-02T03:04:05Z"`, `"2026-01-02T05:04:05+02:00"`, 1)
	if again, err = ParseGenesis([]byte(shifted)); err != nil || again.Hash() != g.Hash() {
		t.Fatalf("offset time gives another chain: %v", err)
	}
	// Content does.
	g2 := testGenesis(Address{1}, Address{3})
	if g2.Hash() == g.Hash() {
		t.Fatal("different accounts, same hash")
	}
	blk, _ := g.Block()
	if blk.Header.ParentHash != g.Hash() || blk.Header.Height != 0 || blk.Header.Timestamp != uint64(g.GenesisTime.UnixMilli()) {
		t.Fatalf("genesis block header %+v", blk.Header)
	}
	golden(t, "genesis_state_root.txt", []byte(blk.Header.StateRoot.Hex()+"\n"))
}

func TestGenesisValidateReportsEverything(t *testing.T) {
	g := testGenesis(Address{1}, Address{1})
	g.ChainID = 0
	g.BlockTime.Duration = time.Microsecond
	g.Limits.BlockGasLimit = 100
	g.Limits.BlockMaxTxs = 0
	g.Limits.MaxTxBytes = 1
	g.Consensus = ConsensusParams{Committees: 0, EpochLength: MaxEpochLength + 1}
	g.Validators = append(g.Validators, g.Validators[0])
	g.Validators[1].Stake = 0
	g.Validators = append(g.Validators, GenesisValidator{})
	g.Accounts = append(g.Accounts, GenesisAccount{Address: Address{9}})
	err := g.Validate()
	if !errors.Is(err, ErrInvalidGenesis) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{
		"chain_id must be positive",
		"block_time 1µs",
		"block_gas_limit 100",
		"block_max_txs 0",
		"max_tx_bytes 1",
		"consensus.committees 0 must be between 1 and 1024",
		"consensus.epoch_length 100000001",
		`validators[1].name "v0" is used twice`,
		"validators[1].address",
		"validators[1].bls_pubkey is used twice",
		"validators[1].stake must be positive",
		"validators[2].name is required",
		"validators[2].bls_pubkey is 0 bytes",
		"validators[2].bls_pop is 0 bytes",
		"accounts[1].address 0x0100000000000000000000000000000000000000 is listed twice",
		"accounts[2].balance must be positive",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestParseGenesisRejects(t *testing.T) {
	good, _ := testGenesis(Address{1}).Encode()
	cases := map[string]string{
		"unknown field":      strings.Replace(string(good), `"chain_id"`, `"chainid": 1, "chain_id"`, 1),
		"negative balance":   strings.Replace(string(good), `"100000000000000000000"`, `"-5"`, 1),
		"unquoted balance":   strings.Replace(string(good), `"100000000000000000000"`, `100`, 1),
		"balance over 2^256": strings.Replace(string(good), `"100000000000000000000"`, `"`+strings.Repeat("9", 80)+`"`, 1),
		"bad duration":       strings.Replace(string(good), `"1s"`, `"soon"`, 1),
		"trailing data":      string(good) + "{}",
		"year 10000 in UTC":  strings.Replace(string(good), `"2026-01-02T03:04:05Z"`, `"9999-12-31T23:00:00-05:00"`, 1),
		"before 1970":        strings.Replace(string(good), `"2026-01-02T03:04:05Z"`, `"1969-12-31T23:59:59Z"`, 1),
		"microseconds":       strings.Replace(string(good), `"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:05.000001Z"`, 1),
		"stake too large":    strings.Replace(string(good), `"stake": 100`, `"stake": 1152921504606846977`, 1),
		"not json":           "chain_id: 5",
		"no consensus":       strings.Replace(string(good), `"committees": 1`, `"committees": 0`, 1),
		"missing everything": "{}",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseGenesis([]byte(doc)); !errors.Is(err, ErrInvalidGenesis) {
				t.Fatalf("got %v, want ErrInvalidGenesis", err)
			}
		})
	}
}
