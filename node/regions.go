package node

import (
	"slices"
	"time"
)

// Emulated wide-area latency for local testnets: each node carries a
// region label, and the peer-to-peer transport holds every consensus
// message it receives for the one-way latency between the sender's region
// and its own before the engine sees it. Transactions and block sync are
// not delayed. The figures are typical one-way latencies between the
// regions' data centres; a message within a region gets a small delay.
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
