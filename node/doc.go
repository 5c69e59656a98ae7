// Package node assembles a BIZRA validator node from its parts and owns
// what they share: the configuration (config.toml in the home directory,
// then flags), the root logger, the Prometheus registry and its HTTP
// endpoint, the key files of a home directory, and the lifecycle of the
// services, started in order and stopped in reverse.
//
// It also holds the drivers that carry out what the lower packages decide:
// the consensus engine (bftEngine), which drives the BFT core of package
// consensus: it feeds it messages from a Transport and clock ticks, checks
// proposed blocks by executing them on the chain, builds this validator's
// blocks from the mempool, persists the core's safety state in the store,
// commits decided blocks with their certificates and tells the mempool and
// the JSON-RPC subscribers; and the dev traffic generator. Only drivers
// here hold a Clock.
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
