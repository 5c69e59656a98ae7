#!/usr/bin/env bash
# Measures a 4-validator loopback testnet under one-per-request load at each
# offered rate given (issue 13, BENCHMARKS.md "Under real client traffic"):
# for every RATE and run, a fresh `bizra testnet` (separate processes) and
# `bizra load --batch 1` round robin over the four nodes, with a warm-up the
# window excludes. It prints one line per run — committed tx/s, block
# interval (average and p95), inclusion p50/p95 of accepted transfers,
# accepted-and-lost, refusals, node CPU per committed transaction — and
# keeps each run's JSON report.
# Usage: scripts/overload-bench.sh [RATE...]   (default: 3000 6000 12000)
# Environment:
#   RUNS        runs per rate (default 3)
#   DURATION    sending time (default 50s), of which WARMUP (default 10s)
#               is not measured
#   CONNS       keep-alive connections (default 512)
#   ACCOUNTS    sending accounts (default 3000)
#   BATCH       transfers per request (default 1; more sends JSON-RPC batches)
#   BLOCK_TIME  testnet block time (default 1s)
#   PORT        first JSON-RPC port (default 38545; metrics PORT-2485,
#               p2p PORT+455, node i adds i)
#   KEEP        when set, keep the working directory and print it
set -euo pipefail
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(3000 6000 12000)
runs=${RUNS:-3}
duration=${DURATION:-50s}
warmup=${WARMUP:-10s}
conns=${CONNS:-512}
accounts=${ACCOUNTS:-3000}
batch=${BATCH:-1}
block_time=${BLOCK_TIME:-1s}
port=${PORT:-38545}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
tn=""
stop_testnet() {
	if [ -n "$tn" ]; then
		kill -INT "$tn" 2>/dev/null || true
		wait "$tn" 2>/dev/null || true
		tn=""
	fi
}
cleanup() {
	stop_testnet
	if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
go build -o "$work/bizra" ./cmd/bizra
printf '%-7s %-3s %9s %9s %11s %9s %13s %6s %9s %11s\n' offered run requests committed interval p95int inclusion50/95 lost refused node_us/tx
for rate in "${rates[@]}"; do
	for run in $(seq 1 "$runs"); do
		dir="$work/tn-$rate-$run"
		"$work/bizra" testnet init --dir "$dir" --validators 4 --block-time "$block_time" \
			--rpc-port "$port" --metrics-port $((port - 2485)) --p2p-port $((port + 455)) >/dev/null
		"$work/bizra" testnet start --dir "$dir" >"$dir/testnet.out" 2>&1 &
		tn=$!
		for _ in $(seq 1 100); do
			curl -s -m 1 -X POST -H 'Content-Type: application/json' \
				--data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$port" | grep -q '"result":"0x[1-9]' && break
			sleep 0.2
		done
		out="$dir/load.json"
		"$work/bizra" load --testnet "$dir" --batch "$batch" --conns "$conns" --accounts "$accounts" \
			--rate "$rate" --duration "$duration" --warmup "$warmup" --json >"$out" 2>"$dir/load.err" || true
		stop_testnet
		python3 - "$rate" "$run" "$out" <<'PY'
import json, sys
rate, run, path = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"{rate:<7} {run:<3} no report ({e})"); sys.exit()
w = r.get("window", {})
inc = w.get("inclusion", {})
refused = r.get("refused", 0)
print(f"{rate:<7} {run:<3} {w.get('requests_per_s',0):9.0f} {w.get('committed_tps',0):9.0f} "
      f"{w.get('avg_block_interval_ms',0):9.0f}ms {w.get('p95_block_interval_ms',0):7.0f}ms "
      f"{inc.get('p50_ms',0):6.0f}/{inc.get('p95_ms',0):<6.0f} {r.get('lost',0):6d} {refused:9d} "
      f"{w.get('node_us_per_committed_tx_per_node',0):11.0f}")
PY
		[ -n "${KEEP:-}" ] || rm -rf "$dir/node0/data" "$dir/node1/data" "$dir/node2/data" "$dir/node3/data"
	done
done
