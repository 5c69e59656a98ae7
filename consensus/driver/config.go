package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bizra/node0/chain"
	"github.com/bizra/node0/consensus"
)

// Config is a driver's static configuration.
type Config struct {
	// Core configures the consensus core; Core.Validators and Core.Self
	// name this validator.
	Core consensus.Config
	// Recipients is the fee recipient of each validator, by index: a
	// block's proposer field must be its round leader's.
	Recipients []chain.Address
	// Tick is the core's unit of time.
	Tick time.Duration
	// BlockInterval is the target time between blocks: a leader proposes
	// in a height's first round one interval after its parent.
	BlockInterval time.Duration
	// MaxClockDrift is how far in the future a proposed block's
	// timestamp may be against this validator's clock.
	MaxClockDrift time.Duration
	// MaxHeldProposals bounds the proposals kept for the next height.
	MaxHeldProposals int
	// MaxProposalsPerRound bounds the proposed blocks executed for one
	// round: an equivocating leader cannot spend this validator's time at
	// will.
	MaxProposalsPerRound int
	// MaxCatchUpTicks bounds the ticks given at once after the driver was
	// busy (a long block execution): time passed, but not without limit.
	MaxCatchUpTicks int
	// Metrics may be nil (NopMetrics).
	Metrics *Metrics
	// Logger may be nil (discard).
	Logger *slog.Logger
}

// Defaults of the driver's own settings.
const (
	DefaultTick                 = 10 * time.Millisecond
	DefaultMaxClockDrift        = 2 * time.Second
	DefaultMaxHeldProposals     = 64
	DefaultMaxProposalsPerRound = 2
	DefaultMaxCatchUpTicks      = 1000
)

// SetDefaults fills the driver's own settings left at zero with the
// defaults, and the core's timeouts from Tick and BlockInterval (a round
// times out after four block intervals, see
// consensus.Config.DefaultTimeouts). Core's identity and Recipients are
// the caller's.
func (c *Config) SetDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	if c.MaxClockDrift == 0 {
		c.MaxClockDrift = DefaultMaxClockDrift
	}
	def(&c.MaxHeldProposals, DefaultMaxHeldProposals)
	def(&c.MaxProposalsPerRound, DefaultMaxProposalsPerRound)
	def(&c.MaxCatchUpTicks, DefaultMaxCatchUpTicks)
	c.Core.DefaultTimeouts(uint64(c.Tick/time.Millisecond), uint64(c.BlockInterval/time.Millisecond))
}

// Validate reports every problem at once; the core's configuration is
// checked by consensus.NewCore.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if v := c.Core.Validators; v != nil && len(c.Recipients) != v.Len() {
		bad("%d fee recipients for %d validators", len(c.Recipients), v.Len())
	}
	if c.Tick <= 0 || c.Tick%time.Millisecond != 0 {
		bad("tick %s must be a positive whole number of milliseconds", c.Tick)
	}
	if c.BlockInterval < 0 || c.MaxClockDrift < 0 {
		bad("block interval %s and clock drift %s must not be negative", c.BlockInterval, c.MaxClockDrift)
	}
	if c.MaxHeldProposals < 0 || c.MaxProposalsPerRound < 1 || c.MaxCatchUpTicks < 1 {
		bad("held proposals %d, proposals per round %d and catch-up ticks %d out of range", c.MaxHeldProposals, c.MaxProposalsPerRound, c.MaxCatchUpTicks)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("driver: invalid config: %w", errors.Join(errs...))
}
