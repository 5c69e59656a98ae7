// Package node assembles a BIZRA validator node from its parts and owns
// what they share: the configuration (config.toml in the home directory,
// then flags), the root logger, the Prometheus registry and its HTTP
// endpoint, the key files of a home directory, and the lifecycle of the
// services, started in order and stopped in reverse.
//
// It also runs what carries out the lower packages' decisions: the
// consensus engine, one goroutine that hands the consensus driver
// (package consensus/driver, which owns the order of persisting, sending
// and committing) the transport's messages and fetched blocks and the
// passing of time, over adapters of the chain, the mempool and the
// transport; the peer-to-peer network, a service of its own (built in New,
// listening from Start to Stop): consensus gossip, where every message is
// checked before it is relayed and handed to the engine once (wire.go for
// the wire and the message identity, gossip_check.go for the rules:
// heights near the committed head, proposals bound to their block,
// certificates with a quorum, aggregates that add signers, each body
// verified once through a consensus.VerifyCache that the engine shares),
// transaction gossip that admits into the pool,
// and block sync that checks every certificate; the mempool journal
// (journal.go: what clients send is admitted, journaled, gossiped, then
// answered; at start the journal is replayed into the pool and what it
// admitted is gossiped once a peer is connected; it is trimmed per block); the emulated wide-area
// latency a local testnet's regions file asks for (a transport decorator);
// and the dev traffic generator. Only these hold a Clock.
//
// Key files (node_key.json, fee_key.json, the validator key) and the
// validator key's passphrase file are each opened once and checked on the
// open descriptor: a regular file (a symlink is followed and its target
// checked; a directory, named pipe or device is refused without reading),
// not accessible by group or others (the error says to chmod 600), and no
// larger than its kind can be (64 KiB for a key file, 4 KiB for a
// passphrase; a larger file is refused, never cut). The bytes are read
// into one buffer that is overwritten once the key is decoded or
// decrypted; the keys themselves stay in memory while the node runs.
//
// It must not contain ledger rules (package chain) or consensus rules
// (package consensus); it adapts between packages that do not import each
// other.
//
// Using it:
//
//	cfg, _ := node.LoadConfig(home)
//	n, err := node.New(cfg, node.Options{Version: v}) // loads keys, opens the store
//	err = n.Run(ctx)                                  // until ctx ends; then a clean stop
package node
