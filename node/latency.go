package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bizra/node0/consensus"
)

// Emulated wide-area latency for local testnets: `bizra testnet init
// --regions` writes into every home the region of each validator
// (RegionsFileName), and a node started from such a home holds every
// consensus message it receives for the one-way latency between the
// sender's region and its own before its driver sees it (latencyTransport,
// a decorator of its transport that only this wiring installs).
// Transactions and block sync are not delayed. The figures are typical
// one-way latencies between the regions' data centres; a message within a
// region gets a small delay.
type region struct {
	name string
	// oneWay[i] is the one-way latency to regions[i].
	oneWay []time.Duration
}

var regions = []region{
	{"us-east", []time.Duration{2 * time.Millisecond, 40 * time.Millisecond, 110 * time.Millisecond}},
	{"eu-west", []time.Duration{40 * time.Millisecond, 2 * time.Millisecond, 150 * time.Millisecond}},
	{"ap", []time.Duration{110 * time.Millisecond, 150 * time.Millisecond, 2 * time.Millisecond}},
}

// RegionNames lists the region labels a node may carry.
func RegionNames() []string {
	out := make([]string, len(regions))
	for i, r := range regions {
		out[i] = r.name
	}
	return out
}

func regionIndex(name string) (int, bool) {
	i := slices.IndexFunc(regions, func(r region) bool { return r.name == name })
	return i, i >= 0
}

// RegionLatency is the emulated one-way latency from region a to region b;
// zero when either is empty or unknown.
func RegionLatency(a, b string) time.Duration {
	i, ok1 := regionIndex(a)
	j, ok2 := regionIndex(b)
	if !ok1 || !ok2 {
		return 0
	}
	return regions[i].oneWay[j]
}

// RegionsFileName is the file of a testnet home that gives the region of
// every validator, in genesis order, as a JSON array of region names.
const RegionsFileName = "regions.json"

// ErrRegions wraps a regions file's problems.
var ErrRegions = errors.New("node: invalid regions file")

// SaveRegions writes the regions of a testnet's validators into a home.
func SaveRegions(home string, names []string) error {
	if err := checkRegions(names); err != nil {
		return err
	}
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(home, RegionsFileName), append(b, '\n'), 0o644)
}

// LoadRegions reads a home's regions file; nil, nil when it has none.
func LoadRegions(home string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(home, RegionsFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRegions, RegionsFileName, err)
	}
	if err := checkRegions(names); err != nil {
		return nil, err
	}
	return names, nil
}

func checkRegions(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: no regions", ErrRegions)
	}
	for i, n := range names {
		if _, ok := regionIndex(n); !ok {
			return fmt.Errorf("%w: validator %d: region %q is not one of %s", ErrRegions, i, n, strings.Join(RegionNames(), ", "))
		}
	}
	return nil
}

// latencyTransport delays the consensus messages its transport delivers
// by the one-way latency from the sender's region to this validator's.
type latencyTransport struct {
	Transport
	delay func(from uint32) time.Duration
	out   chan *consensus.Message
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// newLatencyTransport decorates t for validator self, with the regions of
// every validator by index.
func newLatencyTransport(t Transport, self uint32, names []string) *latencyTransport {
	own := names[self]
	l := &latencyTransport{
		Transport: t,
		delay: func(from uint32) time.Duration {
			if int(from) >= len(names) {
				return 0
			}
			return RegionLatency(names[from], own)
		},
		out: make(chan *consensus.Message, consensusInbox), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.relay()
	return l
}

func (l *latencyTransport) Messages() <-chan *consensus.Message { return l.out }

func (l *latencyTransport) relay() {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case m := <-l.Transport.Messages():
			if d := l.delay(m.From); d > 0 {
				time.AfterFunc(d, func() { l.deliver(m) })
				continue
			}
			l.deliver(m)
		}
	}
}

func (l *latencyTransport) deliver(m *consensus.Message) {
	select {
	case l.out <- m:
	default: // the protocol recovers from a lost message
	}
}

// Close stops the relay (the decorated transport is closed by its owner).
func (l *latencyTransport) Close() error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	return nil
}
