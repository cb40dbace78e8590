#!/usr/bin/env bash
# bisect-step.sh: one step of scripts/bisect-kernel.sh, run by "git bisect
# run" on the commit checked out in TREE (or by hand on any commit, to see
# what a step makes of it):
#
#   bisect-step.sh --tree DIR --obj DIR --dir RUNDIR --terms good|broken
#                  --scenario NAME --mode legacy|scalable [--runs N] [--debug]
#
# 1. Configure (scripts/lib/kconfig.sh: the lab's config, with --debug the
#    debug fragment too) and build bzImage and modules out of tree in OBJ,
#    incrementally, with a fixed build identity (user, host, timestamp,
#    build number, no "+" suffix): a commit that does not change the
#    kernel gives the same bzImage, byte for byte.
# 2. If that bzImage was tested before in this bisect (RUNDIR/tested), take
#    that verdict and say at which commit. Otherwise run the cell up to N
#    times (default 3), each a run-tests.sh --kernel=OBJ --expect=pass
#    --boot=cold of its own into RUNDIR/steps/NN-COMMIT/run-K, and stop at
#    the first run where the kernel failed (one is enough).
# 3. Answer git bisect run (harness/bisect.py): 0 for the old term (good,
#    or broken), 1 for the new one (bad, or fixed), 125 when the commit
#    cannot be tested: the configuration or the build failed, or a run
#    said nothing about the kernel (harness or QEMU error, run-tests.sh
#    exit 2 or 77, after which no more runs are tried) and none failed.
# ITE_RUN_TESTS replaces run-tests.sh (tests only).
# Every step appends to RUNDIR/log: the commit and subject, the build's
# result and time, the bzImage's sha256, each run's outcome and result
# directory, and the answer.
set -uo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"

tree='' obj='' dir='' terms='' scenario='' mode='' runs=3 debug=()
while [ $# -gt 0 ]; do
	case $1 in
	--tree) tree=$2 && shift ;;
	--obj) obj=$2 && shift ;;
	--dir) dir=$2 && shift ;;
	--terms) terms=$2 && shift ;;
	--scenario) scenario=$2 && shift ;;
	--mode) mode=$2 && shift ;;
	--runs) runs=$2 && shift ;;
	--debug) debug=(--debug) ;;
	*) log "bisect-step.sh: unknown argument '$1'" && exit 255 ;;
	esac
	shift
done
# A step that cannot even start aborts the bisect (git bisect run stops on
# a status above 127): every later step would fail the same way.
for v in tree obj dir terms scenario mode; do
	[ -n "${!v}" ] || { log "bisect-step.sh: --$v is missing" && exit 255; }
done
mkdir -p "$dir/steps" "$obj" || exit 255
tree=$(cd "$tree" && pwd -P) obj=$(cd "$obj" && pwd -P) dir=$(cd "$dir" && pwd) || exit 255
touch "$dir/tested" "$dir/log" || exit 255

py() { PYTHONPATH=$ITE_TOP "$ITE_PYTHON" -m harness.bisect "$@"; }
say() { printf '%s\n' "$*" >>"$dir/log" && log "$*"; }
answer() { # answer VERDICT TERM STATUS WHY
	[[ $3 =~ ^[0-9]+$ ]] || { say "  no answer: harness/bisect.py failed" && exit 255; }
	say "  answer: $2 (exit $3): $4"
	exit "$3"
}

commit=$(git -C "$tree" rev-parse HEAD) || exit 255
short=$(git -C "$tree" rev-parse --short=12 HEAD)
subject=$(git -C "$tree" log -1 --format=%s HEAD)
n=$(($(find "$dir/steps" -mindepth 1 -maxdepth 1 -type d | wc -l) + 1))
step=$dir/steps/$(printf '%02d' "$n")-$short
mkdir -p "$step"
say "step $n: $short $subject"

# The build: a fixed identity, so that equal sources make an equal bzImage;
# ccache with paths relative to the common parent of tree and build dir.
export KBUILD_BUILD_USER=ite-lab KBUILD_BUILD_HOST=ite-lab
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00 UTC" KBUILD_BUILD_VERSION=1
CCACHE_BASEDIR=$("$ITE_PYTHON" -c 'import os, sys; print(os.path.commonpath(sys.argv[1:]))' "$tree" "$obj")
export CCACHE_BASEDIR CCACHE_NOHASHDIR=1
margs=(CC="ccache gcc" HOSTCC="ccache gcc" LOCALVERSION= -j "$ITE_JOBS")
start=$SECONDS
if ! kconfig_lab "$tree" "$obj" "$step/config.log" "${debug[@]}" "${margs[@]}" 2>"$step/config.err"; then
	say "  config: FAILED after $((SECONDS - start)) s ($step/config.log)"
	sed 's/^\[ite-lab\] /    /' "$step/config.err" | tee -a "$dir/log" >&2
	answer untestable skip 125 "the lab's configuration failed at this commit"
fi
if ! make -C "$tree" O="$obj" ARCH=x86_64 "${margs[@]}" bzImage modules >"$step/build.log" 2>&1; then
	say "  build: FAILED after $((SECONDS - start)) s ($step/build.log)"
	grep -E 'error:|Error [0-9]' "$step/build.log" | head -n 5 | sed 's/^/    /' | tee -a "$dir/log" >&2
	answer untestable skip 125 "the build failed"
fi
bzimage=$obj/arch/x86/boot/bzImage
sha=$(sha256sum "$bzimage" | cut -d' ' -f1)
say "  build: ok in $((SECONDS - start)) s, $(make -s -C "$tree" O="$obj" ARCH=x86_64 LOCALVERSION= kernelrelease 2>/dev/null), bzImage sha256 $sha"

# The same kernel as a step before: its verdict (a pass or a failure;
# an untestable one is tried again).
read -r _ seen_commit seen_verdict < <(grep "^$sha " "$dir/tested" | head -n 1)
if [ -n "${seen_verdict:-}" ]; then
	seen_subject=$(git -C "$tree" log -1 --format=%s "$seen_commit" 2>/dev/null)
	say "  bzImage identical to the one tested at ${seen_commit:0:12} ($seen_subject): its verdict, $seen_verdict"
	outcome=pass
	[ "$seen_verdict" = passes ] || outcome=fail
	IFS=$'\t' read -r verdict term status < <(py answer "$terms" "$outcome")
	answer "$verdict" "$term" "$status" "the kernel $verdict (the same bzImage as ${seen_commit:0:12})"
fi

outcomes=()
for k in $(seq 1 "$runs"); do
	results=$step/run-$k
	"${ITE_RUN_TESTS:-$ITE_TOP/run-tests.sh}" --build "$ITE_BUILD" --kernel="$obj" --expect=pass \
		--mode="$mode" --boot=cold -j 1 --results "$results" "$scenario" \
		>"$step/run-$k.tap" 2>"$step/run-$k.stderr"
	rc=$?
	IFS=$'\t' read -r outcome detail < <(py run "$results" "$rc")
	outcomes+=("$outcome")
	cells=$(find "$results" -mindepth 2 -maxdepth 2 -name result.json -printf '%h ' 2>/dev/null)
	[ -n "$cells" ] || cells="no cell; run-tests.sh said: $(tail -n 1 "$step/run-$k.stderr") ($step/run-$k.stderr)"
	say "  run $k/$runs: $outcome (run-tests.sh exit $rc): $detail; $cells"
	if [ "$outcome" = fail ] && [ "$k" -lt "$runs" ]; then
		say "  runs $((k + 1))-$runs: not run, one failure is enough"
		break
	fi
	if [ "$rc" = 2 ] || [ "$rc" = 77 ]; then
		[ "$k" = "$runs" ] || say "  runs $((k + 1))-$runs: not run, run-tests.sh would refuse them too"
		break
	fi
done
IFS=$'\t' read -r verdict term status < <(py answer "$terms" "${outcomes[@]}")
[ "$verdict" = untestable ] || printf '%s %s %s\n' "$sha" "$commit" "$verdict" >>"$dir/tested"
case $verdict in
passes) why="the kernel passed all $runs run(s)" ;;
fails) why="the kernel failed run ${#outcomes[@]}" ;;
*) why="no run failed, and not every run could say (harness or QEMU error)" ;;
esac
answer "$verdict" "$term" "$status" "$why"
