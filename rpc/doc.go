// Package rpc serves the node's JSON-RPC 2.0 API over HTTP and WebSocket on
// one address, so that Ethereum tools (ethers.js, viem, cast, curl) work
// against a BIZRA node unchanged: the web3_, net_ and eth_ methods a wallet
// or script uses, WebSocket subscriptions to new heads and pending
// transactions, and a bizra_ namespace for what Ethereum has no word for
// (node status, validator set, mempool shards).
//
// It owns the wire format: request decoding, batches, the JSON-RPC error
// codes and the Ethereum error messages clients recognise (a rejection's
// rule gives the message, its Detail the rest), the JSON shapes of blocks,
// transactions and receipts (Block, Transaction, Receipt: readers such as
// the explorer decode into them), and the server's protections (body and
// batch limits, a per-client rate limit, per-request timeouts, caps on
// WebSocket connections and subscriptions, CORS off unless configured).
//
// It imports only chain. It sees the chain and the mempool through the
// small interfaces in backend.go, which the node implements; what only the
// node knows (status, peers, validators, consensus, whether it is syncing)
// comes through Node, and the rules behind it are the node's. It holds no
// state of its own beyond connections and subscriptions, and never writes
// to the chain.
//
// Using it:
//
//	feed := rpc.NewFeed(backend, log) // before the pool, whose admissions it hears
//	srv, _ := rpc.NewServer(rpc.DefaultConfig(), backend, pool, rpc.Options{Metrics: m, Logger: log, Feed: feed})
//	_ = srv.Start()            // listens on cfg.ListenAddr
//	feed.NotifyBlock(block)    // after each commit: newHeads subscribers
//	feed.NotifyTx(tx)          // after each admission: newPendingTransactions
//	_ = srv.Stop()
//
// Client is a minimal JSON-RPC client for the load tool and tests.
package rpc
