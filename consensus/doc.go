// Package consensus decides which block commits at each height: a
// Byzantine fault tolerant protocol among stake-weighted validators, with
// votes signed with BLS12-381 and aggregated by committees into quorum
// certificates. The core is a deterministic state machine; package
// consensus/sim runs many of them on a simulated network to check safety
// and liveness; the node drives one per validator.
//
// # Protocol
//
// Tendermint's two-phase rounds ("The latest gossip on BFT consensus",
// Buchman, Kwon and Milosevic, 2018), with linear, aggregated voting. At
// each height, rounds 0, 1, 2, … run until a block commits:
//
//  1. The round's leader (drawn by stake from a hash of height and round)
//     proposes a block: the block of the highest prevote certificate it
//     knows, with that certificate as proof of lock (POL), or else a new
//     block.
//  2. Each validator prevotes for the proposal if it is not locked, or is
//     locked on that block, or the proposal's POL is from a round at least
//     as high as its lock. Otherwise it does not vote.
//  3. Prevotes go to the voter's committee aggregator, which combines them
//     into one BLS signature with a signer bitmap and forwards it to the
//     leader; the leader combines committee aggregates into a prevote
//     quorum certificate (more than two thirds of the stake) and broadcasts
//     it. With few validators there is one committee and votes go straight
//     to the leader.
//  4. A validator that sees the prevote certificate of its current round,
//     and knows the block, locks on it and precommits for it, aggregated
//     the same way.
//  5. A precommit quorum certificate commits the block, in any round. It is
//     stored with the block as its certificate.
//  6. A validator whose round timer expires broadcasts a timeout, and sends
//     its highest prevote certificate to the next leader, with a proposal
//     that carried that block (a leader that missed it could not
//     re-propose it, and the validators locked on it would refuse any
//     other; a proposal counts by its leader's signature, whoever relays
//     it). More than two
//     thirds of the stake in timeouts forms a timeout certificate that moves
//     everyone to the next round; the new leader forwards it to those that
//     missed the timeouts. More than a third in timeouts for a round makes a
//     validator join them (at least one of them is honest). Round timeouts
//     grow by half each round.
//
// Why Tendermint's structure rather than chained HotStuff: a block commits
// with its own certificate, before the next height starts, so the chain
// executes and stores only committed blocks (no speculative state on
// uncommitted forks), block sync checks one certificate per block, and
// finality is immediate for clients (safe, finalized and latest are the
// same block). It costs one more message delay per block than a chained
// two-phase protocol, which is small against block times of a second.
//
// # Safety
//
// The safety rules are inside the core: a validator signs at most one
// proposal, one prevote and one precommit per round, and the record of
// what it signed at the current height, its lock and its round are part of
// the State that the driver persists before any message leaves. A
// restarted validator therefore never signs two conflicting messages. If a
// block commits in round r, more than two thirds of the stake precommitted
// it, so more than a third of honest stake is locked on it; no other block
// can gather a prevote certificate in a later round (those validators will
// not prevote it), so no honest validator unlocks, and no other block
// commits at that height while less than a third of the stake is faulty.
//
// # Certificates
//
// A vote signs (domain, chain tag, type, height, round, block); all votes
// of a certificate sign the same bytes, so a certificate is checked with
// the aggregate of its signers' public keys and one pairing. A timeout
// signs only (domain, chain tag, height, round): unlike HotStuff-family
// timeouts it carries no certificate of its own, which is safe here because
// locks, not timeouts, carry safety, and it keeps timeout certificates to
// one pairing as well. Aggregators and leaders check signatures
// optimistically: the aggregate first, and only when it fails, halves of
// it down to single votes.
//
// # Committees
//
// Validators are assigned to committees per epoch by xxhash(epoch seed ||
// public key) mod the committee count (both from genesis). The seed of
// epoch e is a hash of the chain tag, e, and the last block of epoch e-1,
// so assignments change every epoch and cannot be known more than an epoch
// ahead. Each round each committee has an aggregator drawn from it by a
// hash of height, round and committee. A voter whose vote has produced no
// certificate after FallbackTicks sends it to the leader directly, so a
// missing or faulty aggregator costs a bounded delay.
//
// # Using the core
//
// The core does no I/O, starts no goroutines, reads no clock and uses no
// randomness. Its driver, package consensus/driver (the same code in a
// node and in every simulated validator):
//
//   - calls Tick at a fixed interval (timeouts are counted in ticks);
//   - checks each proposal's payload before it calls Step with it (the
//     core treats stepped proposals as valid blocks), and holds proposals
//     for later heights until it has committed the heights before;
//   - after every call, takes Ready and in this order: applies
//     Ready.Commits durably; persists Ready.State (synced) if set; sends
//     Ready.Messages; answers Ready.ProposalRequest with Propose and
//     Ready.Fetches with StepCommitted; calls Advance. Advance may be
//     called right after Ready when applying steps the core again.
//     Commits go first because the State of the same Ready may already
//     belong to the next height (see Ready).
package consensus
