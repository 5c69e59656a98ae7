#!/usr/bin/env bash
# Measures the resident memory of a devnet after a number of blocks.
# Usage: scripts/devnet-rss.sh [BLOCKS] [BLOCK_TIME] [TRAFFIC]
#   BLOCKS      blocks to produce before measuring (default 10000)
#   BLOCK_TIME  devnet block time (default 10ms)
#   TRAFFIC     dev transfers per second (default 0: empty blocks)
set -euo pipefail
blocks=${1:-10000}
block_time=${2:-10ms}
traffic=${3:-0}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/bizra" ./cmd/bizra
port=$((20000 + RANDOM % 20000))
"$work/bizra" devnet --home "$work/home" --block-time "$block_time" --dev.traffic "$traffic" \
	--metrics.addr "127.0.0.1:$port" --log.level warn >"$work/out" 2>&1 &
pid=$!
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
start=$(date +%s)
limit=$((start + 7200))
height=0
while [ "${height%.*}" -lt "$blocks" ]; do
	if [ "$(date +%s)" -gt "$limit" ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "devnet stopped or too slow at height $height" >&2; cat "$work/out" >&2; exit 1
	fi
	sleep 1
	height=$(metric bizra_chain_height || echo 0); height=${height:-0}
done
rss=$(metric process_resident_memory_bytes)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
txs=$(metric bizra_chain_committed_txs_total)
awk -v h="$height" -v bt="$block_time" -v tr="$traffic" -v tx="$txs" -v rss="$rss" -v hwm="$hwm" \
	-v disk="$(du -sm "$work/home/data" | cut -f1)" -v app="$(du -sm --apparent-size "$work/home/data" | cut -f1)" \
	-v el="$(( $(date +%s) - start ))" 'BEGIN {
	printf "blocks=%d block_time=%s traffic=%s/s committed_txs=%d rss_mib=%.1f peak_rss_mib=%.1f data_mib=%s (allocated %s) elapsed_s=%s\n",
		h, bt, tr, tx, rss / 1048576, hwm / 1024, app, disk, el }'
