package node

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/mempool"
)

// devTraffic signs transfers among the dev accounts at a steady rate and
// queues them, so that a devnet has something to put in its blocks. Each
// account keeps a window of transactions in flight; a window that stops
// draining (a transaction was dropped) is resent from the committed nonce.
type devTraffic struct {
	chain    *chain.Chain
	pool     *mempool.Pool
	accounts []DevAccount
	rate     int // transfers per second
	clock    Clock
	log      *slog.Logger
	rng      *rand.Rand

	cancel context.CancelFunc
	done   chan struct{}
}

const (
	trafficTick     = 100 * time.Millisecond
	trafficWindow   = 512 // transactions in flight per account
	trafficStallFor = 5 * time.Second
)

func newDevTraffic(c *chain.Chain, pool *mempool.Pool, accounts []DevAccount, rate int, clock Clock, log *slog.Logger) *devTraffic {
	return &devTraffic{
		chain: c, pool: pool, accounts: accounts, rate: rate, clock: clock,
		log: log.With("module", "devtraffic"),
		rng: rand.New(rand.NewPCG(uint64(clock.Now().UnixNano()), 7)),
	}
}

func (d *devTraffic) Name() string { return "dev-traffic" }

func (d *devTraffic) Start(ctx context.Context) error {
	ctx, d.cancel = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go d.loop(ctx)
	d.log.Info("generating dev transfers", "per_second", d.rate, "accounts", len(d.accounts))
	return nil
}

func (d *devTraffic) Stop() error {
	d.cancel()
	<-d.done
	return nil
}

type trafficAccount struct {
	started   bool
	next      uint64 // next nonce to sign
	committed uint64 // committed nonce at the last check
	since     time.Time
}

func (d *devTraffic) loop(ctx context.Context) {
	defer close(d.done)
	rules := d.chain.Rules()
	signer := rules.Signer()
	chainID := new(big.Int).SetUint64(rules.ChainID)
	tip := big.NewInt(1_000_000_000)
	feeCap := new(big.Int).Add(rules.MinGasPrice.ToBig(), tip)
	state := make([]trafficAccount, len(d.accounts))
	for i := range state {
		state[i].since = d.clock.Now()
	}
	perTick := max(1, d.rate*int(trafficTick)/int(time.Second))
	sender := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.clock.After(trafficTick):
		}
		now := d.clock.Now()
		for i, a := range d.accounts {
			acct, err := d.chain.Account(a.Address)
			if err != nil {
				d.log.Error("read dev account", "err", err)
				return
			}
			st := &state[i]
			if !st.started {
				st.next, st.committed, st.started = acct.Nonce, acct.Nonce, true
			}
			if acct.Nonce != st.committed {
				st.committed, st.since = acct.Nonce, now
			}
			if st.next < acct.Nonce {
				st.next = acct.Nonce
			}
			if st.next > acct.Nonce && now.Sub(st.since) > trafficStallFor {
				d.log.Warn("dev account stalled; resending from the committed nonce", "address", a.Address, "nonce", acct.Nonce)
				st.next, st.since = acct.Nonce, now
			}
		}
		for n := 0; n < perTick; n++ {
			i := sender % len(d.accounts)
			sender++
			st := &state[i]
			if st.next-st.committed >= trafficWindow {
				continue
			}
			to := d.accounts[d.rng.IntN(len(d.accounts))].Address
			tx := types.NewTx(&types.DynamicFeeTx{
				ChainID: chainID, Nonce: st.next, GasTipCap: tip, GasFeeCap: feeCap,
				Gas: chain.TransferGas, To: &to, Value: big.NewInt(int64(1 + d.rng.IntN(1000))),
			})
			signed, err := types.SignTx(tx, signer, d.accounts[i].Key)
			if err != nil {
				d.log.Error("sign dev transfer", "err", err)
				return
			}
			vtx, err := rules.NewVerifiedTx(signed, d.accounts[i].Address)
			if err != nil {
				d.log.Error("dev transfer rejected", "err", err)
				return
			}
			switch err := d.pool.AddTx(vtx); {
			case err == nil, errors.Is(err, mempool.ErrAlreadyKnown):
				st.next++
			case errors.Is(err, mempool.ErrUnderpriced), errors.Is(err, mempool.ErrShardFull),
				errors.Is(err, mempool.ErrSenderPendingLimit), errors.Is(err, mempool.ErrSenderQueuedLimit):
				n = perTick // the pool is full: back off until the next tick
			default:
				d.log.Warn("dev transfer refused", "err", err)
			}
		}
	}
}
