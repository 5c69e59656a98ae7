#!/usr/bin/env bash
# Measures a 4-validator loopback testnet under each attack of the
# adversary harness (node/adversary_test.go) at its highest rate from one
# peer, against the same run without an attack (issue 12, BENCHMARKS.md
# "Hostile peers"). Each run starts a fresh `bizra testnet` (separate
# processes), sends honest load with `bizra load` at RATE tx/s for
# DURATION, and, once the load is sending, runs TestAttackExternal against
# the testnet for the rest of the load's window. It prints one line per
# run: the attacker's view of the chain over its window (blocks, mean
# interval, committed tx/s, read from node 0's JSON-RPC) and the load
# tool's own figures (accepted, committed tx/s, inclusion latency).
# Usage: scripts/attack-bench.sh [ATTACK...]
#   ATTACK      none proposals replay topics sync txs stall (default: all, none first)
# Environment:
#   RATE        honest transfers per second (default 2000)
#   DURATION    load window (default 40s; the attack runs 30 s of it)
#   BATCH       transfers per JSON-RPC request of the load tool (default 1:
#               one per request, as wallets send)
#   CONNS       concurrent load senders (default 16)
#   BLOCK_TIME  testnet block time (default 1s)
#   PORT        first JSON-RPC port (default 28545; metrics and p2p use
#               PORT-2485 and PORT+455, node i adds i)
#   KEEP        when set, keep the working directory (testnet homes with
#               each node's log, the load and attacker outputs) and print it
set -euo pipefail
attacks=("$@")
[ ${#attacks[@]} -gt 0 ] || attacks=(none proposals replay topics sync txs stall)
rate=${RATE:-2000}
duration=${DURATION:-40s}
batch=${BATCH:-1}
conns=${CONNS:-16}
block_time=${BLOCK_TIME:-1s}
port=${PORT:-28545}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
tn=""
cleanup() {
	if [ -n "$tn" ]; then
		kill -INT "$tn" 2>/dev/null || true
		wait "$tn" 2>/dev/null || true
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
go build -o "$work/bizra" ./cmd/bizra
go test -c -o "$work/node.test" ./node
secs=${duration%s}
attack_secs=$((secs - 10))
[ "$attack_secs" -ge 5 ] || { echo "DURATION must be at least 15s" >&2; exit 2; }
rpcs=""
for i in 0 1 2 3; do rpcs="$rpcs${rpcs:+,}http://127.0.0.1:$((port + i))"; done

height() {
	curl -s -m 2 -X POST -H 'Content-Type: application/json' \
		--data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://127.0.0.1:$1" |
		sed -n 's/.*"result":"0x\([0-9a-f]*\)".*/\1/p' | { read -r h || true; echo $((16#${h:-0})); }
}

run=0
for attack in "${attacks[@]}"; do
	run=$((run + 1))
	dir="$work/testnet-$run-$attack"
	"$work/bizra" testnet init --dir "$dir" --validators 4 --block-time "$block_time" \
		--rpc-port "$port" --metrics-port $((port - 2485)) --p2p-port $((port + 455)) >/dev/null
	"$work/bizra" testnet start --dir "$dir" >"$work/$run-$attack.testnet" 2>&1 &
	tn=$!
	deadline=$(($(date +%s) + 60))
	for i in 0 1 2 3; do
		until [ "$(height $((port + i)))" -ge 3 ]; do
			[ "$(date +%s)" -lt "$deadline" ] || { echo "$attack: the testnet did not start" >&2; cat "$work/$run-$attack.testnet" >&2; exit 1; }
			sleep 0.5
		done
	done
	"$work/bizra" load --rpc "$rpcs" --rate "$rate" --duration "$duration" --batch "$batch" --conns "$conns" \
		>"$work/$run-$attack.load" 2>"$work/$run-$attack.progress" &
	load=$!
	# The load tool funds its accounts and signs first; its progress line
	# appears once it sends.
	deadline=$(($(date +%s) + 300))
	until grep -q "sent " "$work/$run-$attack.progress" 2>/dev/null; do
		kill -0 "$load" 2>/dev/null || { echo "$attack: the load tool stopped" >&2; cat "$work/$run-$attack.progress" "$work/$run-$attack.load" >&2; exit 1; }
		[ "$(date +%s)" -lt "$deadline" ] || { echo "$attack: the load did not start" >&2; exit 1; }
		sleep 0.2
	done
	sleep 3 # past the load's first burst
	BIZRA_ATTACK_HOME="$dir" BIZRA_ATTACK="$attack" BIZRA_ATTACK_DURATION="${attack_secs}s" \
		"$work/node.test" -test.run '^TestAttackExternal$' -test.v -test.count=1 >"$work/$run-$attack.attack" 2>&1 ||
		{ echo "$attack: the attacker failed" >&2; tail -20 "$work/$run-$attack.attack" >&2; }
	wait "$load" || true
	kill -INT "$tn" 2>/dev/null || true
	wait "$tn" 2>/dev/null || true
	tn=""
	result=$(sed -n 's/^attack-result //p' "$work/$run-$attack.attack")
	# The load tool's report is a table aligned with spaces.
	committed=$(sed -n 's/^committed  *\([0-9]\)/\1/p' "$work/$run-$attack.load")
	accepted=$(sed -n 's/^accepted  *//p' "$work/$run-$attack.load")
	inclusion=$(sed -n 's/^inclusion p50 \/ p95 \/ p99 \/ max  *//p' "$work/$run-$attack.load")
	echo "attack=$attack rate=$rate batch=$batch $result load: accepted $accepted, committed $committed, inclusion $inclusion"
done
