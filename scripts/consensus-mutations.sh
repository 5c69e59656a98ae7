#!/usr/bin/env bash
# Mutation testing of the consensus simulator's power: does it notice when
# the consensus rules are broken?
#
# The script copies the repository (the working tree as it is, without
# .git) to a temporary directory, and there, one mutation at a time,
# changes the core (consensus/core.go, votes.go, timeouts.go,
# signatures.go, validators.go) or the
# driver that ships in the node and runs in the simulator
# (consensus/driver/*.go) with sed, then runs:
#
#   scenarios  go test ./consensus/sim -run TestScenarios
#   seeds      go test ./consensus/sim -run TestRandomSeeds over a fixed seed range
#   unit       go test ./consensus -run 'TestCore' and go test ./consensus/driver
#
# A mutation is caught by a suite when the suite fails. Each line of the
# table says which suites caught it; "SURVIVED" means no simulator suite
# (scenarios, seeds) did. The work tree is never touched.
#
# Usage: scripts/consensus-mutations.sh [NAME…]
#   SEEDS=N      random seeds per mutation (default 200)
#   FIRST=S      first seed (default 1)
#   KEEP=1       keep the temporary copy
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seeds=${SEEDS:-200}
first=${FIRST:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/consensus-mutations.XXXXXX")
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$tmp"' EXIT
fi

tar -C "$repo" --exclude=./.git -cf - . | tar -C "$tmp" -xf -
cd "$tmp"
pristine="$tmp/.pristine"
mkdir -p "$pristine"
mutable=(consensus/core.go consensus/votes.go consensus/timeouts.go consensus/signatures.go consensus/validators.go consensus/driver/driver.go consensus/driver/proposals.go consensus/driver/persist.go)
for f in "${mutable[@]}"; do
	mkdir -p "$pristine/$(dirname "$f")"
	cp "$f" "$pristine/$f"
done

restore() {
	for f in "${mutable[@]}"; do
		cp "$pristine/$f" "$f"
	done
}

# The mutations. mut NAME KIND FILE WHY SED-EXPRESSION…: KIND is safety
# (a broken safety rule: the simulator must catch it) or other (liveness
# only, or equivalent in the simulator for the reason WHY gives). An
# expression that starts with @PATH and a space applies to PATH instead of
# FILE.
names=() kinds=() files=() whys=() exprs=()
mut() {
	names+=("$1") kinds+=("$2") files+=("$3") whys+=("$4")
	shift 4
	local joined="" e
	for e in "$@"; do joined+="$e"$'\n'; done
	exprs+=("$joined")
}
mut quorum-half safety consensus/validators.go 'IsQuorum: more than half of the stake instead of more than two thirds' \
	's/return 3\*stake > 2\*s.total/return 2*stake > s.total/'
mut no-lock-check safety consensus/core.go 'onProposal prevotes whatever it is locked on' \
	's/vote := c.st.LockedRound == NoRound || c.st.LockedBlock == p.BlockID/vote := true/'
mut second-prevote safety consensus/core.go 'a second proposal in a round is prevoted too: no duplicate check, no step check, no signed record' \
	's/if prev := c.proposals\[p.Round\]; prev != nil {/if prev := c.proposals[p.Round]; prev != nil \&\& prev.BlockID == p.BlockID {/' \
	's/if c.st.Step != StepPropose || p.Round != c.st.Round {/if c.st.Step == StepPrecommit || p.Round != c.st.Round {/' \
	'/^func (c \*Core) vote(/,/^}/ s/(done \&\& prev != block) || /(false \&\& done \&\& prev != block) || /'
mut vote-ignores-record other consensus/core.go 'vote() ignores the signed record; the step guards each vote too, so only the unit test that rolls the step back sees it' \
	'/^func (c \*Core) vote(/,/^}/ s/(done \&\& prev != block) || /(false \&\& done \&\& prev != block) || /'
mut no-persist-signed safety consensus/core.go 'Ready.State without the signed records' \
	's/^\t\tst.Signed = slices.Clone(c.st.Signed)$/\t\tst.Signed = nil/'
mut older-pol-unlocks safety consensus/core.go 'any proof of lock unlocks, even one older than the lock' \
	's/p.ValidRound >= c.st.LockedRound && //'
mut commit-on-prevote-qc safety consensus/core.go 'a received prevote certificate commits its block' \
	'/^func (c \*Core) stepQC/,/^}/ s/c.addPrevoteQC(qc)/c.onCommitQC(qc)/'
mut any-proposer safety consensus/core.go 'the core accepts proposals from any validator; the driver checks the leader too before it executes a proposal'"'"'s block, so with the shipped driver only the core'"'"'s unit test reaches this check' \
	's/if p.Proposer != c.vals.Proposer(p.Height, p.Round) {/if false {/'
mut any-proposer-anywhere safety consensus/core.go 'proposals from any validator accepted by the core and by the driver (which still refuses a block whose fee recipient is not the round leader'"'"'s: a usurper'"'"'s own blocks die there)' \
	's/if p.Proposer != c.vals.Proposer(p.Height, p.Round) {/if false {/' \
	'@consensus/driver/proposals.go s/if int(p.Proposer) >= len(d.cfg.Recipients) || d.vals.Proposer(p.Height, p.Round) != p.Proposer {/if int(p.Proposer) >= len(d.cfg.Recipients) {/'
mut skip-qc-signature safety consensus/signatures.go 'certificates accepted without checking their aggregate signature' \
	'/^func VerifyQC/,/^}/ s/^\treturn checkAggregate(.*$/\treturn nil/'
mut skip-qc-quorum safety consensus/signatures.go 'certificates accepted without a quorum of signers' \
	'/^func VerifyQC/,/^}/ s/ || !vals.IsQuorum(vals.StakeOf(qc.Signers))//'
mut lock-any-round safety consensus/core.go 'a prevote certificate of an earlier round locks and precommits in the current one' \
	'/^func (c \*Core) addPrevoteQC/,/^}/ s/if qc.Round == c.st.Round {/if qc.Round <= c.st.Round {/' \
	'/^func (c \*Core) onPrevoteQC/,/^}/ s/if qc.Round != c.st.Round {/if false {/'
mut restart-forgets-lock safety consensus/core.go 'a restarted validator forgets its lock' \
	's/c.st.Signed = slices.Clone(c.st.Signed) \/\/ the caller.s slice may be shared/c.st.Signed = slices.Clone(c.st.Signed); c.st.LockedRound = NoRound/'
mut restart-forgets-round other consensus/core.go 'a restarted validator starts its height again at round 0: its signed records keep it from signing anything new in the rounds it redoes' \
	's/c.st.Signed = slices.Clone(c.st.Signed) \/\/ the caller.s slice may be shared/c.st.Signed = slices.Clone(c.st.Signed); c.st.Round, c.st.Step = 0, StepPropose/'
mut no-sign-from other consensus/core.go 'a restart with a State ahead of the chain signs again at the chain'"'"'s height; the simulator'"'"'s driver applies commits before persisting, as the core asks, so only the unit test reaches it' \
	's/c.signFrom = start.State.Height/_ = start.State.Height/'
mut no-tc-forward other consensus/timeouts.go 'timeouts do not carry the last timeout certificate: validators left behind in a certified round stay there (liveness)' \
	's/if tc := c.certified(r); tc != nil {/if tc := c.certified(r); false \&\& tc != nil {/'
mut no-relay other consensus/timeouts.go 'a timing-out validator sends the next leader the prevote certificate without the proposal: a leader that missed the block cannot re-propose it (liveness)' \
	's/c.send(\[\]uint32{next}, \&Message{Kind: KindProposal, Proposal: p})/_ = p/'
mut no-vote-resend other consensus/core.go 'a vote sent straight to the leader is never sent again: under loss a leader short of one vote loses the round (liveness)' \
	's/leader != c.cfg.Self {$/leader != c.cfg.Self \&\& c.voteTarget(c.cfg.Self, key.round) != leader {/'
mut no-resend other consensus/core.go 'the leader of an undecided round does not send its proposal and certificate again: under loss, rounds fail (liveness)' \
	's/^\tc.resend()$/\t\/\/ c.resend()/'
mut leader-forms-at-a-third safety consensus/votes.go 'the leader forms certificates from more than a third of the stake' \
	'/^func (c \*Core) tryForm/,/^}/ s/if !c.vals.IsQuorum(c.stakeOf(bm)) {/if !c.vals.IsOneThird(c.stakeOf(bm)) {/'
mut tc-without-quorum other consensus/signatures.go 'timeout certificates accepted without a quorum: liveness, not safety (timeouts carry no safety)' \
	'/^func VerifyTC/,/^}/ s/ || !vals.IsQuorum(vals.StakeOf(tc.Signers))//'
# The driver's duties, in the code the node ships.
mut send-before-persist safety consensus/driver/driver.go 'the driver sends a Ready'"'"'s messages before it commits and persists' \
	'/^\t\td.send(rd.Messages)$/d' \
	's/^\t\tif err := d.commitAll(rd.Commits); err != nil {$/\t\td.send(rd.Messages)\n&/'
mut drop-held other consensus/driver/driver.go 'proposals held for the next height are dropped at the commit instead of stepped: a late validator prevotes only when the leader sends again (liveness)' \
	's/d.replay = append(d.replay, d.held...)/_ = d.held/'
mut held-before-advance safety consensus/driver/driver.go 'held proposals are stepped before Advance: what the core outputs for them is lost with the Ready (a prevote never sent, a signature not persisted before the next send)' \
	's/^\t\td.core.Advance()$/\t\td.stepHeld()\n&/'
mut no-round-limit other consensus/driver/proposals.go 'every proposed block of a round is executed: a flooding leader spends the validators'"'"' time (resources)' \
	's/if d.tried\[p.Round\] >= d.cfg.MaxProposalsPerRound {/if false {/'
mut no-payload-persist other consensus/driver/persist.go 'the payloads of the locked and valid blocks are not stored: a validator restarted while locked refuses to start (liveness)' \
	's/ws = append(ws, chain.AuxWrite{Key: payloadKey(st.Height, block), Value: payload})/_ = payload/'

want=("$@")
selected() {
	[[ ${#want[@]} -eq 0 ]] && return 0
	local w
	for w in "${want[@]}"; do [[ "$w" == "$1" ]] && return 0; done
	return 1
}

# run SUITE: runs a suite on the mutated copy; prints "passed" or
# "caught: DETAIL".
run() {
	local out rc
	set +e
	case "$1" in
	scenarios) out=$(go test -count=1 -timeout 300s ./consensus/sim -run 'TestScenarios' 2>&1) ;;
	seeds) out=$(go test -count=1 -timeout 600s ./consensus/sim -run 'TestRandomSeeds' -sim.first="$first" -sim.seeds="$seeds" 2>&1) ;;
	unit) out=$( { go test -count=1 -timeout 300s ./consensus -run 'TestCore' && go test -count=1 -timeout 300s ./consensus/driver; } 2>&1) ;;
	esac
	rc=$?
	set -e
	if [[ $rc -eq 0 ]]; then
		echo "passed"
		return
	fi
	local what
	case "$1" in
	seeds) what=$({ grep -oE 'sim seed [0-9]+: (SAFETY VIOLATION \([a-z-]+\)|liveness)' <<<"$out" || true; } | head -1) ;;
	*) what=$({ grep -oE -- '--- FAIL: [^ ]+' <<<"$out" || true; } | sed 's/--- FAIL: //' | sort -u | tr '\n' ' ') ;;
	esac
	grep -q "panic: test timed out" <<<"$out" && what="timeout $what"
	[[ -z "$what" ]] && what=$(grep -m1 -E 'FAIL|panic' <<<"$out")
	echo "caught: $what"
}

restore
if ! go build ./consensus/... || ! go vet ./consensus/sim >/dev/null; then
	echo "the unmutated copy does not build" >&2
	exit 1
fi
echo "consensus mutations: scenarios, random seeds $first..$((first + seeds - 1)), core and driver unit tests"
summary=()
for i in "${!names[@]}"; do
	name=${names[$i]} kind=${kinds[$i]} file=${files[$i]} why=${whys[$i]}
	selected "$name" || continue
	restore
	echo
	echo "$name ($kind, $file): $why"
	applied=1
	while IFS= read -r expr; do
		[[ -z "$expr" ]] && continue
		target=$file
		if [[ $expr == @* ]]; then
			target=${expr%% *}
			target=${target#@}
			expr=${expr#* }
		fi
		if [[ " ${mutable[*]} " != *" $target "* ]]; then
			echo "    $target is not in the script's list of mutable files (it would not be restored)" >&2
			exit 1
		fi
		cp "$target" "$tmp/.before"
		sed -i -e "$expr" "$target"
		if cmp -s "$target" "$tmp/.before"; then
			echo "    NOT APPLIED: the code no longer matches $expr"
			applied=0
		fi
	done <<<"${exprs[$i]}"
	if [[ $applied == 0 ]]; then
		summary+=("$(printf '%-26s %-7s %s' "$name" "$kind" "not applied")")
		continue
	fi
	if ! go build ./consensus/... 2>/dev/null; then
		echo "    DOES NOT BUILD"
		summary+=("$(printf '%-26s %-7s %s' "$name" "$kind" "does not build")")
		continue
	fi
	sc=$(run scenarios)
	echo "    scenarios: $sc"
	se=$(run seeds)
	echo "    seeds:     $se"
	un=$(run unit)
	echo "    unit:      $un"
	verdict="CAUGHT"
	if [[ "$sc" == passed && "$se" == passed ]]; then
		verdict="SURVIVED"
		[[ "$un" != passed ]] && verdict="SURVIVED the simulator, caught by unit tests"
	fi
	echo "    => $verdict"
	summary+=("$(printf '%-26s %-7s %-10s %-10s %-10s %s' "$name" "$kind" "${sc%%:*}" "${se%%:*}" "${un%%:*}" "$verdict")")
done
restore
echo
printf '%-26s %-7s %-10s %-10s %-10s %s\n' MUTATION KIND SCENARIOS SEEDS UNIT VERDICT
printf '%s\n' "${summary[@]}"
