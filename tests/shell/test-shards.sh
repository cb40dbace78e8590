#!/usr/bin/env bash
# Test of run-tests.sh --shard=I/N and scripts/merge-results.sh on the
# built QEMU and kernels: a small selection is run whole, then as two
# shards side by side (as CI runs them, each on a machine of its own), and
# the shards are merged. The merge must give every cell the verdict the
# whole run gave it, the same TAP lines and the same exit status; then it
# must refuse shards that do not make one run. Prints TAP.
# ITE_SHARD_TEST_DIR: where the runs go (default: a temporary directory,
# removed when every test passed).
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib/lib.sh"

. "$ITE_TOP/tests/shell/tap.sh"

work=${ITE_SHARD_TEST_DIR:-$(mktemp -d)}
mkdir -p "$work"
rm -rf "${work:?}"/{whole,s1,s2,merged,bad-*}
# Three short scenarios, one mode, both kernels: six cells of a few
# seconds, an expected failure among them (hung-device-dma, unpatched).
# The patched kernel's expectation is turned around, so that its cells
# pass where a failure is expected and the run has failing cells: exit
# status 1, "not ok" lines and junit failures must go through the merge.
sel=(--build "$ITE_BUILD" --mode=legacy --kernel "patched,unpatched"
	--set patched.expect=fail --set patched.signature=never-seen-on-purpose
	surprise-removal-idle slow-device-below-timeout hung-device-dma)

echo "TAP version 13"
echo "1..15"

start=$(date +%s)
"$ITE_TOP/run-tests.sh" "${sel[@]}" -j 4 --results "$work/whole" >"$work/whole.out" 2>"$work/whole.err"
whole_rc=$?
log "shards test: whole run exit $whole_rc in $(($(date +%s) - start))s"
start=$(date +%s)
"$ITE_TOP/run-tests.sh" "${sel[@]}" -j 2 --shard=1/2 --results "$work/s1" >"$work/s1.out" 2>"$work/s1.err" &
s1=$!
"$ITE_TOP/run-tests.sh" "${sel[@]}" -j 2 --shard=2/2 --results "$work/s2" >"$work/s2.out" 2>"$work/s2.err"
s2_rc=$?
wait "$s1"
s1_rc=$?
log "shards test: shards exit $s1_rc and $s2_rc in $(($(date +%s) - start))s"
"$ITE_TOP/scripts/merge-results.sh" "$work/merged" "$work/s1" "$work/s2" >"$work/merged.out" 2>"$work/merged.err"
merged_rc=$?

t "the whole run has a failing cell, as arranged (exit 1)" test "$whole_rc" = 1
t "each shard ran (exit 0 or 1)" test "$s1_rc" -le 1 -a "$s2_rc" -le 1

# cell met outcome, a line per cell of a results directory
verdicts() {
	"$ITE_PYTHON" - "$1" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*", "result.json"))):
    r = json.load(open(f))
    print(os.path.basename(os.path.dirname(f)), r["met"], r["outcome"])
PY
}
# the cells of shard manifests, sorted, or of a plan (--plan)
cells() {
	"$ITE_PYTHON" - "$@" <<'PY'
import json, sys
key = "plan" if sys.argv[1] == "--plan" else "cells"
got = [c for d in sys.argv[1 + (key == "plan"):]
       for c in json.load(open(d + "/shard.json"))[key]]
print("\n".join(sorted(got)))
PY
}
t "the shards split the cells: each exactly once" \
	test "$(cells "$work/s1" "$work/s2")" = "$(verdicts "$work/whole" | cut -d' ' -f1)"
t "each shard ran its cells and no other" test \
	"$(verdicts "$work/s1" | cut -d' ' -f1; verdicts "$work/s2" | cut -d' ' -f1)" = \
	"$(cells "$work/s1"; cells "$work/s2")"
t "both shards have the same plan" test "$(cells --plan "$work/s1")" = "$(cells --plan "$work/s2")"
t "neither shard is empty" test -s "$work/s1/junit.xml" -a -s "$work/s2/junit.xml"
t "the merge exits as the whole run did ($whole_rc)" test "$merged_rc" = "$whole_rc"
t "every cell has the same verdict (met, outcome)" \
	test "$(verdicts "$work/merged")" = "$(verdicts "$work/whole")"
tap_lines() { grep -E '^(not )?ok ' "$1" | sed 's/: .*//'; }
t "the same TAP lines, numbers and order" \
	test "$(tap_lines "$work/merged/results.tap")" = "$(tap_lines "$work/whole/results.tap")"
t "the same closing line" \
	test "$(tail -n1 "$work/merged/results.tap")" = "$(tail -n1 "$work/whole/results.tap")"
junit_counts() { grep -o '<testsuite [^>]*' "$1" | grep -oE ' (tests|failures)="[0-9]+"'; }
t "junit.xml: the same number of cases and failures" \
	test "$(junit_counts "$work/merged/junit.xml")" = "$(junit_counts "$work/whole/junit.xml")"
# Every relative link of the merged report leads to a file of the merge.
links_ok() {
	local href missing=0
	while IFS= read -r href; do
		[ -e "$work/merged/$href" ] || { echo "# broken link: $href"; missing=1; }
	done < <(grep -oE "href='[^'#]+'" "$work/merged/report.html" | sed "s/^href='//; s/'$//")
	grep -q "href='surprise-removal-idle.legacy.patched/'" "$work/merged/report.html" && [ "$missing" = 0 ]
}
t "the merged report's links lead to the merged cells' files" links_ok

merge_refuses() { # merge_refuses MESSAGE SHARD_DIR...: exit 2, saying MESSAGE
	local msg=$1 out
	shift
	out=$(mktemp -d -p "$work" bad-XXXX)
	rmdir "$out"
	"$ITE_TOP/scripts/merge-results.sh" "$out" "$@" >/dev/null 2>"$out.err"
	local rc=$?
	if [ "$rc" != 2 ] || ! grep -q "$msg" "$out.err" || [ -e "$out" ]; then
		echo "# exit $rc: $(cat "$out.err")"
		return 1
	fi
}
t "merge: a missing shard is refused (exit 2)" merge_refuses "missing shard 2 of 2" "$work/s1"
t "merge: a shard given twice is refused (exit 2)" \
	merge_refuses "given more than once" "$work/s1" "$work/s1" "$work/s2"
t "merge: a directory that is not a shard's is refused (exit 2)" \
	merge_refuses "not the results of a shard" "$work/s1" "$work/whole"

if [ "$failed" -eq 0 ] && [ -z "${ITE_SHARD_TEST_DIR:-}" ]; then
	rm -rf "$work"
elif [ "$failed" -ne 0 ]; then
	echo "# the runs are in $work"
fi
[ "$failed" -eq 0 ]
