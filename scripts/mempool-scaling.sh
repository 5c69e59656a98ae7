#!/usr/bin/env bash
# Measures how mempool admission scales from one core to two: runs a
# mempool admission benchmark alternately with GOMAXPROCS=1 and GOMAXPROCS=2
# (the -cpu flag of go test does not pin GOMAXPROCS under Go 1.26 here),
# ROUNDS times each, and prints the medians and their ratio. Alternating
# runs spread the noise of a shared machine over both settings.
# Usage: scripts/mempool-scaling.sh [ROUNDS] [BENCHMARK]
#   BENCHMARK  AdmitVerified (one AddTx per transaction into a warm pool,
#              the default), AdmitVerifiedFresh (the same into a new pool),
#              AdmitVerifiedBatch (AddTxs with batches of 256), or
#              ShardedMapBaseline (the least such work can be: a locked
#              insert into one of 16 maps, to see the machine's own ceiling)
set -euo pipefail
rounds=${1:-9}
bench=${2:-AdmitVerified}
cd "$(dirname "$0")/.."
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
go test -c -o "$bin" ./mempool
run() {
	GOMAXPROCS=$1 "$bin" -test.run '^$' -test.bench "^Benchmark${bench}\$" -test.benchtime 20x |
		awk '/^Benchmark/ { for (i = 1; i <= NF; i++) if ($i == "tx/s") print $(i-1) }'
}
one=(); two=()
for r in $(seq "$rounds"); do
	one+=("$(run 1)"); two+=("$(run 2)")
	echo "round $r: 1 core ${one[-1]} tx/s, 2 cores ${two[-1]} tx/s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m1=$(median "${one[@]}"); m2=$(median "${two[@]}")
awk -v a="$m1" -v b="$m2" -v n="$rounds" 'BEGIN { printf "median of %d rounds: 1 core %.0f tx/s, 2 cores %.0f tx/s, ratio %.2f\n", n, a, b, b / a }'
