#!/usr/bin/env bash
# A long fault campaign against a 4-validator testnet of separate
# `bizra start` processes: the real-process test of issue 13
# (cmd/bizra TestFaultsUnderLoad) with more load, time and faults, run one
# or more times, each run's summary printed as it ends and all of them at
# the end.
#
#   scripts/fault-campaign.sh [-d DURATION] [-r RATE] [-f FAULTS] [-k KINDS]
#                             [-b BLOCK_TIME] [-s SEED] [-n RUNS] [-o DIR]
#
#   -d  load duration per run, a Go duration (default 5m)
#   -r  offered transfers per second, one per JSON-RPC request (default 800)
#   -f  faults per run, one validator at a time (default 20)
#   -k  fault kinds to cycle through: kill (SIGKILL, restart), stop
#       (SIGSTOP, SIGCONT), stopterm (SIGSTOP, SIGTERM, SIGCONT, restart)
#       (default kill,stop,kill,stopterm)
#   -b  block time (default 1s)
#   -s  seed of the first run (default: from the clock; run i uses seed+i)
#   -n  runs (default 1)
#   -o  directory for each run's log and summary (default: a new temporary one)
#
# Each summary has the faults (node, time, down time, catch-up time, exit
# of a SIGTERM while stopped), then accepted, included, lost (accepted and
# on no node), partial (on some nodes only), misplaced (at different
# blocks), duplicates, divergent heights, and every node's SIGTERM-to-exit
# time, status and `bizra verify` result. A run fails if any check fails;
# the script exits non-zero if any run failed. Loopback only; the nodes'
# ports are chosen free at each run.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=5m rate=800 faults=20 kinds=kill,stop,kill,stopterm block=1s seed=$(date +%s) runs=1 out=""
while getopts "d:r:f:k:b:s:n:o:h" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	r) rate=$OPTARG ;;
	f) faults=$OPTARG ;;
	k) kinds=$OPTARG ;;
	b) block=$OPTARG ;;
	s) seed=$OPTARG ;;
	n) runs=$OPTARG ;;
	o) out=$OPTARG ;;
	h | *)
		sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
		[ "$opt" = h ] && exit 0 || exit 2
		;;
	esac
done
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ] || [ "$runs" -gt 100 ]; then
	echo "-n $runs: give between 1 and 100 runs" >&2
	exit 2
fi
[ -n "$out" ] || out=$(mktemp -d /tmp/bizra-faults.XXXXXX)
mkdir -p "$out"

# The test's own timeout: the load, the settle and checks, and room for
# the catch-up waits of every fault.
secs=0 rest=$duration
while [[ $rest =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
	case ${BASH_REMATCH[2]} in
	h) secs=$((secs + BASH_REMATCH[1] * 3600)) ;;
	m) secs=$((secs + BASH_REMATCH[1] * 60)) ;;
	s) secs=$((secs + BASH_REMATCH[1])) ;;
	esac
	rest=${BASH_REMATCH[3]}
done
if [ -n "$rest" ] || [ "$secs" -eq 0 ]; then
	echo "-d $duration: give a duration such as 90s, 5m or 1h30m" >&2
	exit 2
fi
timeout=$((secs * 2 + faults * 60 + 600))s

echo "fault campaign: $runs run(s) of $duration at $rate tx/s with $faults faults ($kinds), $block blocks; logs in $out"
failed=0
for ((i = 0; i < runs; i++)); do
	s=$((seed + i))
	log="$out/run$i.log" summary="$out/run$i.summary"
	echo
	echo "=== run $i (BIZRA_FAULTS_SEED=$s)"
	rc=0
	BIZRA_FAULTS_DURATION=$duration BIZRA_FAULTS_RATE=$rate BIZRA_FAULTS=$faults BIZRA_FAULTS_KINDS=$kinds \
		BIZRA_FAULTS_BLOCK_TIME=$block BIZRA_FAULTS_SEED=$s BIZRA_FAULTS_REPORT=$summary \
		go test ./cmd/bizra -run '^TestFaultsUnderLoad$' -count=1 -v -timeout "$timeout" >"$log" 2>&1 || rc=$?
	if [ -s "$summary" ]; then
		cat "$summary"
	else
		echo "(no summary: the run stopped before its checks; see $log)"
	fi
	if [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		echo "run $i FAILED:"
		grep -E '^\s+faults_test\.go:[0-9]+: ' "$log" | grep -vE 'faults_test\.go:[0-9]+: (fault [0-9]+:|summary:|load:|[0-9]+ faults \()' | cut -c1-400 | head -20 || true
	else
		echo "run $i passed"
	fi
done
echo
echo "=== $runs run(s), $failed failed; logs and summaries in $out"
[ $failed -eq 0 ]
