package consensus

import (
	"errors"
	"fmt"
	"log/slog"
)

// Config is the static configuration of a core.
type Config struct {
	// ChainTag is mixed into every signature: the genesis hash.
	ChainTag   Hash
	Validators *ValidatorSet
	// Self is this validator's index in Validators.
	Self   uint32
	Crypto Crypto
	// Committees and EpochLength come from genesis: votes are aggregated by
	// committees reassigned every EpochLength heights.
	Committees  int
	EpochLength uint64
	// TimeoutTicks is the first round's timeout; each further round of a
	// height waits TimeoutGrowthPercent percent longer, at most
	// MaxTimeoutTicks.
	TimeoutTicks         uint64
	TimeoutGrowthPercent uint64
	MaxTimeoutTicks      uint64
	// AggregateTicks is how long an aggregator waits for the rest of its
	// committee before forwarding what it has; FallbackTicks is how long a
	// voter waits for a certificate before sending its vote straight to the
	// leader as well (a missing or faulty aggregator), and how long a
	// leader waits before sending its proposal and certificate again.
	AggregateTicks uint64
	FallbackTicks  uint64
	// Logger receives debug logs only, so that simulations stay quiet and
	// reproducible.
	Logger *slog.Logger
}

// DefaultTimeouts fills the timing fields for a tick of tickMs milliseconds
// and a target block interval: a round times out after four intervals,
// growing by half each round up to a minute.
func (c *Config) DefaultTimeouts(tickMs, blockMs uint64) {
	ticks := func(ms uint64) uint64 { return max(1, ms/tickMs) }
	c.TimeoutTicks = ticks(max(4*blockMs, 1000))
	c.TimeoutGrowthPercent = 50
	c.MaxTimeoutTicks = ticks(60_000)
	c.AggregateTicks = ticks(max(blockMs/20, 20))
	c.FallbackTicks = ticks(max(blockMs/2, 200))
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Validators == nil {
		bad("no validator set")
	} else if int(c.Self) >= c.Validators.Len() {
		bad("self index %d outside a set of %d", c.Self, c.Validators.Len())
	}
	if c.Crypto == nil {
		bad("no crypto")
	}
	if c.Committees < 1 {
		bad("committees %d must be positive", c.Committees)
	}
	if c.EpochLength < 1 {
		bad("epoch length %d must be positive", c.EpochLength)
	}
	if c.TimeoutTicks < 1 || c.MaxTimeoutTicks < c.TimeoutTicks {
		bad("timeouts %d..%d ticks are not a range", c.TimeoutTicks, c.MaxTimeoutTicks)
	}
	if c.AggregateTicks < 1 || c.FallbackTicks < 1 {
		bad("aggregate and fallback ticks must be positive")
	}
	return errors.Join(errs...)
}
