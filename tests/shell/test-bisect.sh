#!/usr/bin/env bash
# Self-test of scripts/bisect-kernel.sh and its step, scripts/build/bisect-step.sh.
# Prints TAP.
#
#   tests/shell/test-bisect.sh [--fast]
#
# First, in seconds, on a tiny git tree with a stand-in step
# (ITE_BISECT_STEP) that reads the commit's verdict from a file: bad input
# exits 2 and leaves the tree alone; broken/fixed and good/bad each find
# their commit (the exit-status inversion, end to end through git bisect
# run); a step that aborts, and commits that are all skipped, end in "not
# found", exit 1; Ctrl-C in a step exits 130; each time with the tree
# reset. --fast stops there (suite 'unit').
#
# Then, on the real thing (suite 'bisect'): the lab's kernel series as a
# git tree (scripts/worktree.sh linux) in $ITE_BUILD/bisect-selftest/linux,
# built in $ITE_BUILD/bisect-selftest/obj. Both stay between runs, so a
# second run builds incrementally and from ccache (the tree is made again
# only when kernel-patches/6.12/ or the pinned base changed):
# - --broken ite-lab-base --fixed HEAD --scenario hung-device-dma --mode
#   legacy finds the patch that makes the kernel print "ATS blocked"
#   (below, why that one);
# - a commit whose only change is a file the build does not read gives a
#   byte-identical bzImage, and the step reuses the verdict of the commit
#   it was tested at, naming it;
# - runs where the harness failed rather than the kernel (a stand-in
#   run-tests.sh: a cell in error, then exit 2) make the step answer 125;
# - a commit with a syntax error in drivers/iommu/intel/dmar.c (built
#   into the guest kernel) makes the step answer 125 (skip).
# The last bisect's results stay in $ITE_BUILD/bisect-selftest/last/.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

fast=0
[ "${1:-}" = --fast ] && fast=1

. "$ITE_TOP/tests/shell/tap.sh"
skip_rest() { # skip_rest FROM TO WHY
	local i
	for ((i = $1; i <= $2; i++)); do
		n=$((n + 1))
		echo "ok $n - # SKIP $3"
	done
}
bisect() { "$ITE_TOP/scripts/bisect-kernel.sh" "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "TAP version 13"
if [ "$fast" = 1 ]; then echo "1..24"; else echo "1..32"; fi

# --- A tiny tree and a stand-in step --------------------------------------
# verdicts:  base fail, 1 fail, 2 fail, 3 pass, 4 pass, 5 fail, 6 fail
tree=$work/tree
mkdir -p "$tree/scripts/kconfig"
touch "$tree/Makefile" "$tree/scripts/kconfig/merge_config.sh"
git -C "$tree" init -q
git -C "$tree" config user.name test && git -C "$tree" config user.email test@localhost
i=0
for v in fail fail fail pass pass fail fail; do
	echo "$v" >"$tree/verdict"
	echo "$i" >"$tree/n"
	git -C "$tree" add -A
	git -C "$tree" commit -q -m "commit $i ($v)"
	git -C "$tree" tag "c$i"
	i=$((i + 1))
done
head0=$(git -C "$tree" rev-parse HEAD)
branch0=$(git -C "$tree" symbolic-ref --short HEAD)
cat >"$work/step.sh" <<'EOF'
#!/usr/bin/env bash
# A stand-in for bisect-step.sh: the tree's file "verdict" is how its
# kernel does; FAKE_STEP_STATUS, if set, is the exit status instead
# ("sleep": it sleeps, to be interrupted).
while [ $# -gt 0 ]; do
	case $1 in --terms) terms=$2 && shift ;; --tree) tree=$2 && shift ;; esac
	shift
done
if [ "${FAKE_STEP_STATUS:-}" = sleep ]; then
	echo $$ >"$(dirname "$0")/step.pid"
	exec sleep 60
fi
[ -z "${FAKE_STEP_STATUS:-}" ] || exit "$FAKE_STEP_STATUS"
v=$(cat "$tree/verdict")
IFS=$'\t' read -r _ _ status < <(PYTHONPATH=$ITE_TOP "$ITE_PYTHON" -m harness.bisect answer "$terms" "$v")
exit "$status"
EOF
chmod +x "$work/step.sh"
fake() { ITE_BUILD=$work/build ITE_BISECT_STEP=$work/step.sh bisect "$@"; }
untouched() {
	[ "$(git -C "$tree" rev-parse HEAD)" = "$head0" ] &&
		[ "$(git -C "$tree" symbolic-ref --short HEAD 2>/dev/null)" = "$branch0" ] &&
		[ ! -e "$tree/.git/BISECT_START" ] &&
		[ -z "$(git -C "$tree" status --porcelain)" ]
}
status_is() { # status_is WANT COMMAND...: COMMAND exits with WANT
	local want=$1
	shift
	"$@" >"$work/out" 2>&1
	local got=$?
	[ "$got" = "$want" ] || { sed 's/^/# /' "$work/out" && echo "# exit $got, not $want" && return 1; }
}
says() { grep -q "$1" "$work/out" || { sed 's/^/# /' "$work/out" && return 1; }; }
args=(--scenario hung-device-dma --mode legacy)

bad_input() { # bad_input WHAT_IT_SAYS ARG...: exit 2, saying so
	local msg=$1
	shift
	status_is 2 fake "$@" && says "$msg"
}
t "not a git tree: exit 2" bad_input "is not a git work tree" --tree "$work" --broken c0 --fixed c4 "${args[@]}"
t "an unknown commit: exit 2" bad_input "no-such-commit: no such commit" \
	--tree "$tree" --broken c0 --fixed no-such-commit "${args[@]}"
t "an unknown scenario: exit 2" bad_input "unknown scenario" --tree "$tree" --broken c0 --fixed c4 \
	--scenario no-such --mode legacy
for r in 0 x 101; do
	t "--runs $r: exit 2" bad_input "runs must be" --tree "$tree" --broken c0 --fixed c4 "${args[@]}" --runs "$r"
done
t "a bad --mode: exit 2" bad_input "mode must be" --tree "$tree" --broken c0 --fixed c4 \
	--scenario hung-device-dma --mode both
t "--broken with --bad: exit 2" bad_input "do not mix" --tree "$tree" --broken c0 --bad c4 "${args[@]}"
t "the ends reversed: exit 2" bad_input "not an ancestor" --tree "$tree" --broken c4 --fixed c0 "${args[@]}"
echo dirty >>"$tree/n"
t "uncommitted changes: exit 2" bad_input "uncommitted changes" --tree "$tree" --broken c0 --fixed c4 "${args[@]}"
git -C "$tree" checkout -q n
git -C "$tree" bisect start c4 c0 >/dev/null
t "a bisect in progress: exit 2" bad_input "already in progress" --tree "$tree" --broken c0 --fixed c4 "${args[@]}"
t "  and it is left alone" test -e "$tree/.git/BISECT_START"
git -C "$tree" bisect reset >/dev/null 2>&1
t "after bad input the tree is as it was" untouched

fake --tree "$tree" --broken c0 --fixed c4 "${args[@]}" --results "$work/r1" >"$work/answer" 2>"$work/err"
t "--broken/--fixed: the first fixed commit (commit 3)" \
	grep -qx "first fixed commit: $(git -C "$tree" rev-parse c3) commit 3 (pass)" "$work/answer"
t "  the tree is back where it was" untouched
ln -s "$tree" "$work/link"
fake --tree "$work/link" --good c3 --bad c6 "${args[@]}" --results "$work/r2" >"$work/answer" 2>"$work/err"
t "--good/--bad (the tree through a symlink): the first bad commit (commit 5)" \
	grep -qx "first bad commit: $(git -C "$tree" rev-parse c5) commit 5 (fail)" "$work/answer"
t "  the tree is back where it was" untouched
aborted() { FAKE_STEP_STATUS=255 status_is 1 fake --tree "$tree" --broken c0 --fixed c4 "${args[@]}" && says "^not found"; }
t "a step that aborts: exit 1, not found" aborted
all_skipped() {
	FAKE_STEP_STATUS=125 status_is 1 fake --tree "$tree" --broken c0 --fixed c4 "${args[@]}" --log "$work/skip.log" &&
		says "only skipped" && grep -q "commit 3 (pass)" "$work/skip.log"
}
t "only skipped commits: exit 1, the candidates listed" all_skipped
t "  the tree is back where it was" untouched
interrupted() { # interrupted SIGNAL STATUS: the signal in the middle of a step
	local pid i
	rm -f "$work/step.pid"
	# As from a terminal: SIGINT not ignored (bash ignores it in what it
	# starts in the background).
	FAKE_STEP_STATUS='sleep' "$ITE_PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' env ITE_BUILD="$work/build" ITE_BISECT_STEP="$work/step.sh" \
		"$ITE_TOP/scripts/bisect-kernel.sh" --tree "$tree" --broken c0 --fixed c4 "${args[@]}" >"$work/out" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do [ -s "$work/step.pid" ] && break; sleep 0.1; done
	kill -"$1" "$pid"
	wait "$pid"
	local got=$?
	[ "$got" = "$2" ] || { echo "# exit $got, not $2" && return 1; }
	says "interrupted (SIG$1)" && [ -s "$work/step.pid" ] || return 1
	# The step was signalled too: gone (once reaped) within a second or two.
	for ((i = 0; i < 20; i++)); do kill -0 "$(cat "$work/step.pid")" 2>/dev/null || return 0; sleep 0.1; done
	echo "# the step ($(cat "$work/step.pid")) still runs"
	return 1
}
t "SIGINT (Ctrl-C) during a step: exit 130, the step stopped" interrupted INT 130
t "  the tree is back where it was" untouched
t "SIGTERM during a step: exit 143, the step stopped" interrupted TERM 143
t "  the tree is back where it was" untouched

[ "$fast" = 1 ] && exit $((failed > 0))

# --- The lab's 6.12 series ----------------------------------------------
self=$ITE_BUILD/bisect-selftest
ktree=$self/linux obj=$self/obj
load_versions
# The tree is remade when the series or the base changes.
series_id=$(cd "$ITE_TOP/kernel-patches/6.12" && cat "$ITE_CACHE/versions.env" series ./*.patch | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$self/linux.stamp" "$series_id" || [ ! -d "$ktree/.git" ]; then
	rm -rf "$ktree" "$self/linux.stamp"
	mkdir -p "$self"
	"$ITE_TOP/scripts/worktree.sh" linux "$ktree" >&2 && echo "$series_id" >"$self/linux.stamp"
fi
kg() { git -C "$ktree" "$@"; }
# Whatever an interrupted run left: no bisect, the series' tip, no test branches.
kg bisect reset >/dev/null 2>&1
kmain=$(kg for-each-ref --format='%(refname:short)' refs/heads | grep -v '^selftest-' | head -n 1)
kg checkout -q -f "$kmain" 2>/dev/null
kg for-each-ref --format='%(refname:short)' 'refs/heads/selftest-*' | xargs -r git -C "$ktree" branch -q -D
t "the series as a git tree ($ktree)" test -f "$self/linux.stamp"
khead=$(kg rev-parse HEAD)

# Which commit fixes hung-device-dma: its [patched] section requires
# "timed out; ATS blocked, no more sent to it", and its last step needs
# the endpoint's translation-ur count, which only the blocking of ATS
# makes: the first commit of the series that adds that message (the
# series' patch that blocks ATS; 0004 in the first 6.12 series, 0002 in
# its v2). Before the series the guest resends the flush for ever.
fix_subject=$(kg log --reverse --format=%s -G'timed out; ATS blocked, no more sent to it' \
	ite-lab-base..HEAD | head -n 1)
rm -rf "$self/last"
start=$SECONDS
bisect --tree "$ktree" --broken ite-lab-base --fixed HEAD --scenario hung-device-dma --mode legacy \
	--obj "$obj" --results "$self/last" >"$work/answer" 2>"$work/err"
status=$?
echo "# bisect: exit $status in $((SECONDS - start)) s: $(cat "$work/answer")"
sed 's/^/#   /' "$self/last/log"
t "the first fixed commit is the one that blocks ATS (${fix_subject:-none found})" \
	grep -qx "first fixed commit: [0-9a-f]\{40\} $fix_subject" "$work/answer"
logged() {
	grep -q "build: ok in .* bzImage sha256 [0-9a-f]\{64\}" "$self/last/log" &&
		grep -q "run 1/3: fail .*hung-device-dma.legacy" "$self/last/log" &&
		grep -q "answer: broken (exit 0)" "$self/last/log"
}
t "  the log has every step's build, bzImage sha256, runs and answer" logged
at_tip() { [ "$(kg rev-parse HEAD)" = "$khead" ] && [ ! -e "$ktree/.git/BISECT_START" ] && [ -z "$(kg status --porcelain)" ]; }
t "  the tree is back at the series' tip" at_tip

step() { # step DIR [ARG...]: bisect-step.sh on the checked-out commit, results into DIR
	local dir=$1
	shift
	"$ITE_TOP/scripts/build/bisect-step.sh" --tree "$ktree" --obj "$obj" --dir "$dir" \
		--terms broken --scenario hung-device-dma --mode legacy --runs 1 "$@" 2>>"$work/err"
}
# A commit the bisect tested, with a file the build does not read added:
# the same bzImage, the same verdict, without running it.
read -r _ tested tested_verdict < <(head -n 1 "$self/last/tested" 2>/dev/null)
if [ -n "${tested:-}" ]; then
	# The step's exit status for that commit's verdict ("passes": fixed, 1).
	case $tested_verdict in passes) v=pass ;; *) v=fail ;; esac
	want=$(PYTHONPATH=$ITE_TOP "$ITE_PYTHON" -m harness.bisect answer broken "$v" | cut -f3)
	kg checkout -q -b selftest-docs "$tested"
	echo "not built" >"$ktree/Documentation/ite-lab-selftest.txt"
	# (-f: the Debian tree's .gitignore ignores Documentation/)
	kg add -f Documentation/ite-lab-selftest.txt && kg commit -q -m "selftest: a file the build does not read"
	docs=$(kg rev-parse --short=12 HEAD)
	step "$self/last" >/dev/null
	status=$?
	tail -n 4 "$self/last/log" | sed 's/^/#   /'
	reused() {
		[ "$status" = "$want" ] && [ "$docs" != "${tested:0:12}" ] &&
			grep -q "^step [0-9]*: $docs selftest: a file the build does not read" "$self/last/log" &&
			grep -q "bzImage identical to the one tested at ${tested:0:12}" "$self/last/log"
	}
	t "a commit that changes no built file: the same bzImage, the verdict of ${tested:0:12} reused" reused
else
	skip_rest 1 1 "the bisect tested no commit"
fi

# Runs where the harness failed, not the kernel: skipped, and not
# remembered as a verdict. A stand-in run-tests.sh: a cell in error (QEMU
# did not start) on run 1, exit 2 (a usage error) on run 2.
cat >"$work/run-tests.sh" <<'EOF'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do [ "$1" = --results ] && results=$2; shift; done
case $results in
*/run-1) mkdir -p "$results/hung-device-dma.legacy.obj" &&
	echo '{"outcome": "error", "met": false, "reasons": ["harness: cannot start QEMU: test"]}' \
		>"$results/hung-device-dma.legacy.obj/result.json" && exit 1 ;;
*) echo "run-tests.sh: error: test" >&2 && exit 2 ;;
esac
EOF
chmod +x "$work/run-tests.sh"
kg checkout -q -f "$kmain"
rm -rf "$work/harness-error"
ITE_RUN_TESTS=$work/run-tests.sh step "$work/harness-error" --runs 2 >/dev/null
status=$?
sed 's/^/#   /' "$work/harness-error/log"
harness_failed() {
	[ "$status" = 125 ] &&
		grep -q "run 1/2: error (run-tests.sh exit 1): .*cannot start QEMU: test" "$work/harness-error/log" &&
		grep -q "run 2/2: error (run-tests.sh exit 2): .*run-tests.sh said: run-tests.sh: error: test" "$work/harness-error/log" &&
		[ ! -s "$work/harness-error/tested" ]
}
t "runs where the harness failed (a cell in error, exit 2): the step answers 125 (skip)" harness_failed

# A commit that does not build: skipped.
kg checkout -q -f -B selftest-broken "$khead"
sed -i '1i this is not C;' "$ktree/drivers/iommu/intel/dmar.c"
kg commit -q -a -m "selftest: a syntax error in dmar.c"
rm -rf "$work/broken"
step "$work/broken" >/dev/null
status=$?
sed 's/^/#   /' "$work/broken/log"
skipped() { [ "$status" = 125 ] && grep -q "build: FAILED" "$work/broken/log" && grep -q "dmar.c.*error" "$work/broken/log"; }
t "a commit that does not build: the step answers 125 (skip)" skipped

kg checkout -q -f "$kmain"
kg branch -q -D selftest-broken selftest-docs 2>/dev/null
t "the tree is back at the series' tip, clean" at_tip
[ "$failed" -eq 0 ] || sed 's/^/# stderr: /' "$work/err" | tail -n 40
[ "$failed" -eq 0 ]
