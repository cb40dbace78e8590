#!/usr/bin/env bash
# bisect-kernel.sh: find the commit of a kernel git tree that broke, or
# fixed, a scenario, with git bisect run and the lab's harness.
#
#   scripts/bisect-kernel.sh --tree DIR (--good A --bad B | --broken A --fixed B)
#       --scenario NAME --mode legacy|scalable
#       [--runs N] [--obj DIR] [--results DIR] [--log FILE] [--debug]
#
# --good A --bad B      the scenario passes at A, fails at B: which commit
#                       broke it (git bisect's good/bad)
# --broken A --fixed B  it fails at A, passes at B: which commit fixed it
#                       (git bisect --term-old=broken --term-new=fixed)
# --runs N              runs of the cell per commit (default 3); one failure
#                       makes the commit fail, all N passing make it pass
# --obj DIR             the O= build directory, kept between bisects for
#                       incremental builds (default:
#                       BUILD/bisect/TREENAME/obj)
# --results DIR         where the bisect's log, steps' build logs and run
#                       results go (default: BUILD/bisect/TREENAME/DATE)
# --log FILE            the step log (default: RESULTS/log)
# --debug               build with guest-image/debug.config too (lockdep,
#                       KFENCE: scripts/kernel-config.sh --debug)
#
# Each step (scripts/build/bisect-step.sh) builds the commit with the lab's
# config out of tree, incrementally, and runs the cell with
# run-tests.sh --kernel=OBJ --expect=pass --boot=cold; a commit whose
# build fails, or whose runs said nothing about the kernel (harness or
# QEMU error), is skipped (125). Everything of a bisect goes to its
# results directory: the log, git bisect's log and output, each step's
# config and build logs and run results (steps/NN-COMMIT/run-K/). The
# tree is left as it was found (git bisect reset), also on an error or
# Ctrl-C.
#
# Prints the answer on stdout: "first fixed commit: SHA SUBJECT". Exit
# status: 0 found, 1 not found (only skipped commits left, or the bisect
# stopped), 2 bad usage or input (nothing done, the tree untouched).
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}/usage: /; 2,$s/^usage: /       /' >&2
	exit 2
}
bad() { # bad MESSAGE: bad input, exit 2
	printf '[ite-lab] error: %s\n' "$*" >&2
	exit 2
}

tree='' old='' new='' terms='' scenario='' mode='' runs=3 obj='' rundir='' logfile='' debug=()
set_pair() { # set_pair TERMS OLD|NEW VALUE
	[ -z "$terms" ] || [ "$terms" = "$1" ] || bad "--good/--bad and --broken/--fixed do not mix"
	terms=$1
	if [ "$2" = old ]; then old=$3; else new=$3; fi
}
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' && exit 0 ;;
	--tree | --good | --bad | --broken | --fixed | --scenario | --mode | --runs | --obj | --results | --log)
		[ $# -ge 2 ] || bad "$1 needs a value"
		case $1 in
		--tree) tree=$2 ;;
		--good) set_pair good old "$2" ;;
		--bad) set_pair good new "$2" ;;
		--broken) set_pair broken old "$2" ;;
		--fixed) set_pair broken new "$2" ;;
		--scenario) scenario=$2 ;;
		--mode) mode=$2 ;;
		--runs) runs=$2 ;;
		--obj) obj=$2 ;;
		--results) rundir=$2 ;;
		--log) logfile=$2 ;;
		esac
		shift
		;;
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" && continue ;;
	--debug) debug=(--debug) ;;
	*) bad "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
if [ -z "$tree" ] || [ -z "$terms" ] || [ -z "$scenario" ] || [ -z "$mode" ]; then usage; fi
if [ -z "$old" ] || [ -z "$new" ]; then
	bad "give both ends: --good A --bad B, or --broken A --fixed B"
fi
if [ "$terms" = good ]; then old_term=good new_term=bad; else old_term=broken new_term=fixed; fi
need git git
need make build-essential

# Everything is checked before git bisect start: bad input changes nothing.
case $mode in legacy | scalable) ;; *) bad "--mode must be legacy or scalable, not '$mode'" ;; esac
if ! [[ $runs =~ ^[1-9][0-9]{0,2}$ ]] || [ "$runs" -gt 100 ]; then
	bad "--runs must be a number from 1 to 100, not '$runs'"
fi
why=$(PYTHONPATH=$ITE_TOP "$ITE_PYTHON" -m harness.bisect check "$ITE_TOP/scenarios" "$scenario" "$mode" 2>&1) ||
	bad "$why"
[ -d "$tree" ] || bad "--tree $tree: no such directory"
top=$(git -C "$tree" rev-parse --show-toplevel 2>/dev/null) || bad "--tree $tree is not a git work tree"
tree=$(cd "$tree" && pwd -P)
[ "$top" = "$tree" ] || bad "--tree $tree is not the top of its git work tree ($top is)"
if [ ! -f "$tree/Makefile" ] || [ ! -f "$tree/scripts/kconfig/merge_config.sh" ]; then
	bad "--tree $tree is not a kernel source tree (no Makefile, scripts/kconfig/merge_config.sh)"
fi
g() { git -C "$tree" "$@"; }
[ ! -e "$(g rev-parse --absolute-git-dir)/BISECT_START" ] ||
	bad "a bisect is already in progress in $tree (git -C $tree bisect reset ends it)"
if ! g diff --quiet HEAD -- 2>/dev/null || ! g diff --cached --quiet 2>/dev/null; then
	bad "$tree has uncommitted changes; commit or stash them first"
fi
if [ -f "$tree/.config" ] || [ -d "$tree/include/config" ]; then
	bad "$tree has an in-tree build; an O= build needs a clean source tree (make -C $tree mrproper)"
fi
old_c=$(g rev-parse --verify --quiet "$old^{commit}") || bad "--$old_term $old: no such commit in $tree"
new_c=$(g rev-parse --verify --quiet "$new^{commit}") || bad "--$new_term $new: no such commit in $tree"
[ "$old_c" != "$new_c" ] || bad "--$old_term and --$new_term are the same commit"
g merge-base --is-ancestor "$old_c" "$new_c" ||
	bad "--$old_term $old is not an ancestor of --$new_term $new"
[ -x "$ITE_TOP/run-tests.sh" ] || bad "run-tests.sh is missing"

name=$(basename "$tree")
obj=${obj:-$ITE_BUILD/bisect/$name/obj}
mkdir -p "$obj" || bad "cannot create --obj $obj"
obj=$(cd "$obj" && pwd -P)
case $obj/ in "$tree"/*) bad "--obj $obj is inside the tree; put it elsewhere" ;; esac
if [ -z "$rundir" ]; then
	base=$ITE_BUILD/bisect/$name/$(date -u +%Y%m%d-%H%M%S)
	rundir=$base i=1
	while [ -e "$rundir" ]; do rundir=$base.$i && i=$((i + 1)); done
fi
mkdir -p "$rundir" || bad "cannot create --results $rundir"
rundir=$(cd "$rundir" && pwd)
[ -z "$(ls -A "$rundir")" ] || bad "--results $rundir is not empty"
if [ -n "$logfile" ]; then
	{ mkdir -p "$(dirname "$logfile")" && touch "$logfile"; } 2>/dev/null || bad "cannot write --log $logfile"
	logfile=$(cd "$(dirname "$logfile")" && pwd)/$(basename "$logfile")
	ln -sf "$logfile" "$rundir/log"
else
	logfile=$rundir/log
	: >"$logfile"
fi
say() { printf '%s\n' "$*" >>"$logfile" && log "$*"; }

started=0
# shellcheck disable=SC2317 # run by the traps
finish() {
	local status=$?
	trap - EXIT INT TERM
	if [ "$started" = 1 ]; then
		g bisect log >"$rundir/bisect.log" 2>/dev/null
		g bisect reset >/dev/null 2>&1 || log "warning: git bisect reset failed in $tree"
	fi
	exit "$status"
}
# On Ctrl-C or a kill, stop the running step (its build, run-tests.sh and
# QEMU: the process group of git bisect run, below) before the reset.
child=''
# shellcheck disable=SC2317 # run by the traps
stop() { # stop SIGNAL STATUS
	say "interrupted (SIG$1)"
	if [ -n "$child" ]; then
		kill -"$1" -- -"$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	exit "$2"
}
trap finish EXIT
trap 'stop INT 130' INT
trap 'stop TERM 143' TERM

say "bisect of $tree: $scenario [$mode], $runs run(s) per commit$([ ${#debug[@]} -eq 0 ] || echo ", debug config")"
say "  $old_term: $(g log -1 --format='%h %s' "$old_c")"
say "  $new_term: $(g log -1 --format='%h %s' "$new_c")"
say "  build: $obj; results: $rundir"
started=1
g bisect start --term-old="$old_term" --term-new="$new_term" "$new_c" "$old_c" >/dev/null ||
	{ say "git bisect start failed"; exit 1; }
# git bisect run's own output goes to RUNDIR/bisect-run.out, the steps'
# progress to stderr. ITE_BISECT_STEP replaces the step (tests only).
# In a process group of its own (set -m), waited for: a signal reaches the
# trap at once, and the trap stops the whole group.
set -m
g bisect run "${ITE_BISECT_STEP:-$ITE_TOP/scripts/build/bisect-step.sh}" --tree "$tree" \
	--obj "$obj" --dir "$rundir" --terms "$terms" --scenario "$scenario" --mode "$mode" \
	--runs "$runs" "${debug[@]}" </dev/null >"$rundir/bisect-run.out" &
child=$!
set +m
wait "$child" || say "git bisect run stopped: $(tail -n 1 "$rundir/bisect-run.out")"
child=''

first=$(g bisect log 2>/dev/null | sed -n "s/^# first $new_term commit: \[\([0-9a-f]*\)\] .*/\1/p" | tail -n 1)
if [ -n "$first" ]; then
	answer="first $new_term commit: $(g log -1 --format='%H %s' "$first")"
	say "$answer"
	echo "$answer"
	exit 0
fi
if grep -q "only 'skip'ped commits left" "$rundir/bisect-run.out"; then
	say "not found: only skipped (untestable) commits are left; the first $new_term commit is one of:"
	sed -n '/^There are only/,$p' "$rundir/bisect-run.out" | sed -n 's/^\([0-9a-f]\{40\}\)$/\1/p' |
		while read -r c; do say "  $(g log -1 --format='%H %s' "$c")"; done
	echo "not found: only skipped commits left (see $logfile)"
	exit 1
fi
say "not found; git bisect run said: $(tail -n 3 "$rundir/bisect-run.out" | paste -sd' ')"
echo "not found (see $logfile)"
exit 1
