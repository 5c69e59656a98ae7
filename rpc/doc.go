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
// the explorer decode into them), and the server's protections.
//
// Every client is treated as a possible adversary (Config documents each
// limit and its default):
//   - At the door (limits.go): a request addressed to a name that is not in
//     allowed_hosts is refused (403), against DNS rebinding; an IP address
//     is always accepted. A POST must be JSON (Content-Type
//     application/json, 415 otherwise), and a request that carries an
//     Origin must come from one of cors_origins (403 otherwise), so that
//     a web page can neither run a call through a "simple" text/plain or
//     form POST, which browsers send without asking, nor over WebSocket.
//     CORS is off unless cors_origins lists origins; preflights from them
//     are answered.
//   - Per client address (an IPv6 client's /64; exempt_clients, loopback
//     by default, excepted): a token bucket of rate_limit calls a second
//     (each call of a batch counts), and caps on WebSocket connections and
//     subscriptions; server-wide caps on connections, subscriptions per
//     connection, body and batch size, and a timeout per request.
//   - Per answer (budget.go): the answers to one request stay within
//     max_response_bytes. Methods whose answer grows with what is asked
//     build it piece by piece and stop at the first piece that does not
//     fit; every other answer is measured once encoded. An answer that
//     does not fit is refused with CodeLimitExceeded and DataTooLarge,
//     its message naming the limit and how to ask for less; in a batch the
//     first refusal refuses every later call without running it.
//   - Per transaction (Options.Admission, the node's mempool.Admission):
//     eth_sendRawTransaction asks the door before decoding anything; a
//     refusal, and the pool's own refusal for want of room (a TxMessage
//     with a FullReason), is CodeLimitExceeded "txpool is full" with
//     PoolFull data (reason, retry_after_ms), counted in
//     bizra_rpc_txpool_full_total{reason}.
//   - Subscriptions (feed.go): NotifyTx and NotifyBlock, on the pool's
//     admission and the chain's commit paths, only queue the event and
//     return (a bounded queue; what overflows is dropped and counted).
//     A goroutine of the Feed, running while anyone subscribes, hands each
//     subscribed connection one batch per pass, whatever the number of
//     events and of its subscriptions; the connection's writer sends a
//     notification per event and subscription, after the answers queued
//     before it. A client whose backlog grows past a bound behind what its
//     writer took is closed as too slow.
//
// It imports only chain. It sees the chain and the mempool through the
// small interfaces in backend.go, which the node implements; what only the
// node knows (status, peers, validators, consensus, whether it is syncing)
// comes through Node, and the rules behind it are the node's. It holds no
// state of its own beyond connections, subscriptions, rate buckets and a
// small cache of decoded blocks (blockcache.go: committed blocks never
// change), and never writes to the chain.
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
