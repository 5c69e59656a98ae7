#!/usr/bin/env bash
# Measures the explorer's backfill throughput: a devnet fills a chain with
# dev traffic, then explorers index it from scratch, each into a fresh
# database, and the transactions indexed per second are printed per run.
#
#   scripts/explorer-backfill.sh [SECONDS=60] [TRAFFIC=12000] [RUNS=3] [-- explorer flags]
#
# Needs PostgreSQL (PG* variables) as scripts/explorer-services.sh starts it;
# Redis is not used (indexing does not read the cache). The node and the
# explorer share this machine's cores, as they would on a one-box setup.
set -euo pipefail
cd "$(dirname "$0")/.."
pos=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do pos+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
secs=${pos[0]:-60}
traffic=${pos[1]:-12000}
runs=${pos[2]:-3}
: "${PGHOST:?set the PG* variables (scripts/explorer-services.sh start)}"

work=$(mktemp -d)
bin=$work/bizra
go build -o "$bin" ./cmd/bizra
rpc=127.0.0.1:18545
cleanup() {
	kill ${ex_pid:-} ${node_pid:-} 2>/dev/null || true
	wait 2>/dev/null || true
	[ -n "${db:-}" ] && psql -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

echo "filling a chain: ${traffic} transfers/s for ${secs}s"
"$bin" devnet --home "$work/home" --dev.traffic "$traffic" --rpc.addr "$rpc" --metrics.addr 127.0.0.1:0 >"$work/fill.log" 2>&1 &
node_pid=$!
sleep "$secs"
kill -TERM "$node_pid"; wait "$node_pid" || true
# The chain stays; the node goes on with empty blocks while explorers read it.
"$bin" devnet --home "$work/home" --rpc.addr "$rpc" --metrics.addr 127.0.0.1:0 >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://$rpc" && break; sleep 0.1; done
height=$(curl -s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "http://$rpc" | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/')
echo "chain height $((height))"

for run in $(seq "$runs"); do
	db="explorer_backfill_$$_$run"
	psql -q -c "CREATE DATABASE $db" >/dev/null
	start=$(date +%s.%N)
	"$bin" explorer --rpc "http://$rpc" --postgres "dbname=$db" --listen 127.0.0.1:0 --log.level info "$@" >"$work/ex.log" 2>&1 &
	ex_pid=$!
	deadline=$(( $(date +%s) + 600 ))
	until grep -q "index caught up" "$work/ex.log"; do
		if ! kill -0 "$ex_pid" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
			echo "run $run: the explorer did not catch up:"; tail -20 "$work/ex.log"; exit 1
		fi
		sleep 0.05
	done
	end=$(date +%s.%N)
	kill -TERM "$ex_pid"; wait "$ex_pid" || true
	ex_pid=
	txs=$(psql -d "$db" -Atc "SELECT total_transactions FROM indexer_state")
	blocks=$(psql -d "$db" -Atc "SELECT height + 1 FROM indexer_state")
	psql -q -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
	db=
	awk -v t="$txs" -v b="$blocks" -v s="$start" -v e="$end" -v r="$run" \
		'BEGIN { d = e - s; printf "run %d: %d transactions in %d blocks in %.2f s: %.0f transactions/s\n", r, t, b, d, t / d }'
done
