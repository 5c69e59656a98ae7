// Package node assembles a BIZRA validator node from its parts and owns
// what they share: the configuration (config.toml in the home directory,
// then flags), the root logger, the Prometheus registry and its HTTP
// endpoint, the key files of a home directory, and the lifecycle of the
// services, started in order and stopped in reverse.
//
// It also holds the drivers that carry out what the lower packages decide:
// the block production engine (the interim single-validator soloEngine,
// behind the Engine interface that the BFT engine will implement), which
// fills blocks from the mempool and tells it about commits, and the dev
// traffic generator. Only drivers here hold a Clock.
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
