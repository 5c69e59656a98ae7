#!/usr/bin/env bash
# Measures the explorer API under load with wrk: a devnet with live traffic,
# an explorer (primary, replica and Redis from the environment, as
# scripts/explorer-services.sh starts them) following it, then wrk on the
# leaderboard, the latest blocks and a read mix, RUNS times each. For the
# mix it prints the share of requests served from a cache tier.
#
#   scripts/explorer-api-bench.sh [DURATION=20s] [RUNS=3] [CONNECTIONS=32]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-20s}
runs=${2:-3}
conns=${3:-32}
: "${PGHOST:?set the PG* variables (scripts/explorer-services.sh start)}"
: "${REDIS_URL:?set REDIS_URL}"

work=$(mktemp -d)
go build -o "$work/bizra" ./cmd/bizra
rpc=127.0.0.1:18547
db=explorer_api_bench_$$
cleanup() {
	kill "${ex_pid:-}" "${node_pid:-}" 2>/dev/null || true
	wait 2>/dev/null || true
	psql -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$work/bizra" devnet --home "$work/home" --dev.traffic 1000 --rpc.addr "$rpc" --metrics.addr 127.0.0.1:0 >"$work/node.log" 2>&1 &
node_pid=$!
sleep 20 # a chain to browse: about 20 blocks of 1,000 transfers
psql -q -c "CREATE DATABASE $db" >/dev/null
replica_args=()
if [ -n "${BIZRA_PG_REPLICA:-}" ]; then
	replica_args=(--replica "${BIZRA_PG_REPLICA%/*}/$db")
	for _ in $(seq 100); do psql "${BIZRA_PG_REPLICA%/*}/$db" -c 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
fi
"$work/bizra" explorer --rpc "http://$rpc" --postgres "dbname=$db" "${replica_args[@]}" --redis "$REDIS_URL" \
	--listen 127.0.0.1:18080 --log.level warn >"$work/ex.log" 2>&1 &
ex_pid=$!
url=http://127.0.0.1:18080
for _ in $(seq 200); do curl -sf "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 5
curl -s "$url/api/txs?limit=100" | python3 -c 'import json,sys; [print(t["hash"], t["from"]) for t in json.load(sys.stdin)["transactions"]]' >"$work/hashes"
head=$(curl -s "$url/api/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])')
echo "explorer at height $head, following a devnet with 1,000 transfers/s; wrk -t2 -c$conns -d$dur"

metric() { # sum of a metric's samples matching a pattern
	curl -s "$url/metrics" | awk -v p="$1" '$0 ~ p && $0 !~ /^#/ { s += $NF } END { printf "%.0f\n", s }'
}
for target in "/api/leaderboard?limit=50" "/api/blocks?limit=20" mix; do
	for run in $(seq "$runs"); do
		if [ "$target" = mix ]; then
			req0=$(metric 'bizra_explorer_http_requests_total')
			hit0=$(metric 'bizra_explorer_cache_requests_total.*result="hit"')
			printf '%-26s run %d: ' "mix" "$run"
			wrk -t2 -c"$conns" -d"$dur" -s scripts/wrk/explorer.lua "$url" -- mix "$head" "$work/hashes" | tail -1 | tr -d '\n'
			req1=$(metric 'bizra_explorer_http_requests_total')
			hit1=$(metric 'bizra_explorer_cache_requests_total.*result="hit"')
			awk -v r=$((req1 - req0)) -v h=$((hit1 - hit0)) 'BEGIN { printf "  cache hits %.1f%% of %d requests\n", 100 * h / r, r }'
		else
			printf '%-26s run %d: ' "$target" "$run"
			wrk -t2 -c"$conns" -d"$dur" -s scripts/wrk/explorer.lua "$url" -- "$target" | tail -1
		fi
	done
done
