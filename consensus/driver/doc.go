// Package driver carries out what a consensus core asks, for one
// validator: it is the code between a consensus.Core and the world, and the
// same code runs in a node and in every validator of the simulator
// (consensus/sim).
//
// # What it owns
//
// A Driver feeds its core messages (Step), committed blocks fetched from
// others (StepBlock) and the passing of time (Tick); it checks each
// proposal's block before the core sees it (the proposal must be the round
// leader's and signed, its payload must decode to the block it names, the
// header must fit its height, round and leader; the block must execute on
// the chain) and bounds how many distinct blocks one round may make it
// execute, counting only proposals that passed the cheap checks, so that
// copies of the leader's proposal with another payload, which anyone can
// make (the signature does not cover the payload), cannot use up the
// budget; it holds proposals for the next height, checked the same way but
// for execution and with their proof of lock, once per (proposer, round,
// block), until the height before is committed, and steps them once the
// core's Ready is acknowledged; it builds this validator's block
// when the core asks for a proposal, in the block's slot; and it drains the
// core's Ready in the order that keeps a validator safe across crashes:
//
//  1. commit the decided blocks (Chain.Commit, durable);
//  2. persist the core's State with the payloads of the blocks it is
//     locked on or holds as valid, in one synced write (Store);
//  3. send the messages (Transport);
//  4. note the proposal request and ask for the fetches;
//  5. Advance the core, then step the proposals held for the new height.
//
// On start it resumes from the persisted State, and refuses one ahead of
// the chain (ErrUnsafeState): the store lost blocks this validator may have
// signed at. It keeps a status (height, round, step, lock, last
// certificate, committees, participation) that other goroutines may read,
// and its metrics.
//
// # What it must not do
//
// Start goroutines, block, or read a clock other than its Clock: a node
// runs it from one goroutine that waits on its transport and its timer
// (Wake), and the simulator runs it on a virtual clock. It holds no ledger
// rules (Chain executes blocks) and no voting rules (the core decides).
//
// # Using it
//
//	d, err := driver.New(cfg, chain, store, transport, clock)
//	err = d.Start()            // resume; carries out the first Ready
//	for {                      // one goroutine
//		select {
//		case m := <-inbox:      err = d.Step(m)
//		case b := <-fetched:    err = d.StepBlock(b.payload, b.qc)
//		case <-timer(d.Wake()):
//		}
//		err = d.Tick()          // after every event
//	}
//
// An error from Step, StepBlock or Tick means the driver cannot go on (a
// certified block does not apply, or the store failed): the node stops.
package driver
