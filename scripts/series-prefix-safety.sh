#!/usr/bin/env bash
# series-prefix-safety.sh [--series mainline|6.12] [--mode legacy|scalable|all]
#                         [--from K] [--to K] [-j N]
# Is every prefix of a kernel series no less safe than its base? For
# k = 0..N (prefix 0 is the base, prefix k the patches 1..k of the series
# file; --from/--to narrow it), this
#   1. checks out prefix k in a work tree of the series (scripts/worktree.sh,
#      in $ITE_BUILD/prefix-safety/SERIES/tree),
#   2. builds its bzImage and modules out of tree in
#      $ITE_BUILD/prefix-safety/SERIES/obj-K with the lab's config and ccache
#      (kbuild_obj, scripts/lib/kconfig.sh, as scripts/bisect-build.sh
#      does; the first prefix compiles everything, the others mostly hit
#      ccache),
#   3. runs the hung-device and fence scenarios (harness/prefix_safety.py,
#      SCENARIOS) on it, while the tree is at that prefix, as a kernel given
#      by path (run-tests.sh --kernel=pK=OBJ: nothing expected of it) into
#      results-K,
# and then prints harness/prefix_safety.py's table: per prefix, whether it
# builds, what each scenario showed (pass, lockup like base,
# fence-violations N, healthy device isolated, a crash, ...) and the
# verdict, "no less safe than base" or why not. The table is also written
# to table.md there. Exit 0 when every prefix builds and is no less safe
# than the base, 1 when not, 2 when nothing could be run.
#
# By hand, not in CI: a cold first build (20-30 minutes) and about a minute
# of cells per prefix and mode. A run with --from K keeps the rows of the
# prefixes before K from the previous run (their results stay in the
# work directory).
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/kconfig.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

usage="usage: series-prefix-safety.sh [--series mainline|6.12] [--mode legacy|scalable|all] [--from K] [--to K] [-j N]"
series=mainline mode=all from=0 to='' jobs=2
while [ $# -gt 0 ]; do
	case $1 in
	--series) series=${2:-} && shift ;;
	--mode) mode=${2:-} && shift ;;
	--from) from=${2:-} && shift ;;
	--to) to=${2:-} && shift ;;
	-j) jobs=${2:-} && shift ;;
	*) echo "$usage" >&2 && exit 2 ;;
	esac
	shift
done
case $series in
mainline) component=linux-mainline ;;
6.12) component=linux ;;
*) echo "$usage" >&2 && exit 2 ;;
esac
if ! [[ $from =~ ^[0-9]+$ && ${to:-0} =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]]; then
	echo "$usage" >&2
	exit 2
fi
need git git

work=$ITE_BUILD/prefix-safety/$series
tree=$work/tree
mkdir -p "$work"
# A fresh work tree every run: the series may have changed since.
rm -rf "$tree"
"$ITE_TOP/scripts/worktree.sh" "$component" "$tree" || exit 2
branch=$(git -C "$tree" symbolic-ref --short HEAD)
mapfile -t commits < <(git -C "$tree" rev-parse ite-lab-base && git -C "$tree" rev-list --reverse ite-lab-base..HEAD)
last=$((${#commits[@]} - 1))
to=${to:-$last}
[ "$to" -le "$last" ] || die "--to $to: the $series series has $last patch(es)"
mapfile -t scenarios < <(cd "$ITE_TOP" && "$ITE_PYTHON" -c \
	'from harness.prefix_safety import SCENARIOS; print("\n".join(SCENARIOS))')
log "prefix safety of the $series series: prefixes $from..$to of 0..$last, ${#scenarios[@]} scenarios, mode $mode"

# The rows of the prefixes this run does not redo stay.
touch "$work/prefixes.tsv"
awk -F'\t' -v from="$from" -v to="$to" '$1 < from || $1 > to' "$work/prefixes.tsv" >"$work/prefixes.keep"
for k in $(seq "$from" "$to"); do
	c=${commits[k]}
	git -C "$tree" checkout -q "$c" || die "cannot check out prefix $k ($c)"
	subject=$(git -C "$tree" log -1 --format=%s "$c")
	[ "$k" -gt 0 ] || subject="(the base)"
	obj=$work/obj-$k results=$work/results-$k built=0
	start=$SECONDS
	if kbuild_obj "$tree" "$obj" "$work/build-$k.log" bzImage modules; then
		built=1
		log "prefix $k ($subject): built in $((SECONDS - start)) s; running the scenarios"
		rm -rf "$results"
		start=$SECONDS
		"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --kernel="p$k=$obj" --mode="$mode" -j "$jobs" \
			--results "$results" "${scenarios[@]}" >"$work/run-$k.tap" 2>"$work/run-$k.stderr"
		log "prefix $k: run-tests.sh exit $? in $((SECONDS - start)) s ($work/run-$k.tap)"
	else
		log "prefix $k ($subject): does NOT build ($work/build-$k.log):"
		grep -E 'error:|Error [0-9]' "$work/build-$k.log" | head -n 5 >&2
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$c" "$subject" "$built" "$results" >>"$work/prefixes.keep"
done
git -C "$tree" checkout -q "$branch"
sort -n -k1,1 "$work/prefixes.keep" >"$work/prefixes.tsv"
rm -f "$work/prefixes.keep"

(cd "$ITE_TOP" && "$ITE_PYTHON" -m harness.prefix_safety --series "$series" "$work") >"$work/table.md"
status=$?
cat "$work/table.md"
exit "$status"
