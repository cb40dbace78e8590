#!/usr/bin/env bash
# Usage: run-qtests.sh [QTEST...]
# Builds and runs the QEMU qtests ite-lab cares about against ite-lab's
# QEMU: those of tests/qtests.list (its own, and upstream's for the code
# the series changes), or ITE_QTESTS (a space-separated list), or the ones
# named. A QTEST is PROGRAM@TARGET (smmuv3-ats-test@aarch64), or PROGRAM:
# on every target tests/qtests.list gives it (x86_64 for a program it does
# not name). tests/qtests.list is the one place that says which program
# runs on which target (qemu-system-TARGET).
# Prints TAP: every test case of every program, numbered across them
# ("ok 3 - ats-testdev-test: /x86_64/ats-testdev/..."; a program run on
# another target than x86_64 is named PROGRAM@TARGET). A program that
# crashed or timed out between its test cases, or whose output has a
# sanitizer report, adds a "not ok" of its own. The tail of a failed
# program's output goes to stderr (as comments), which is what meson shows
# of a failed test. meson runs each program and target as a test of suite
# 'qtests'.
#
# ITE_QEMU_FLAVOUR=qemu-asan runs them against the sanitizer build
# (scripts/build/build-qemu.sh --asan, ninja -C build qemu-asan), with the
# settings of scripts/lib/sanitizers.sh; a sanitizer report fails the test.
# That is meson's suite 'qtests-asan' (also part of 'sanitizers').
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"

list=$ITE_TOP/tests/qtests.list
# The list's entries, "PROGRAM TARGET..." a line (comments and blank lines
# dropped; no target means x86_64)
list_entries() {
	sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$list" |
		awk '{ if (NF == 1) print $1, "x86_64"; else print }'
}
# PROGRAM@TARGET for each target of QTEST (PROGRAM or PROGRAM@TARGET)
expand() {
	local targets
	case $1 in
	*@*) echo "$1"; return ;;
	esac
	targets=$(list_entries | awk -v p="$1" '$1 == p { $1 = ""; print }')
	for t in ${targets:-x86_64}; do echo "$1@$t"; done
}

if [ $# -gt 0 ]; then
	named=("$@")
elif [ -n "${ITE_QTESTS:-}" ]; then
	read -r -a named <<<"$ITE_QTESTS"
else
	mapfile -t named < <(list_entries | awk '{ print $1 }')
fi
runs=()
for q in "${named[@]}"; do
	mapfile -t -O "${#runs[@]}" runs < <(expand "$q")
done
flavour=${ITE_QEMU_FLAVOUR:-qemu}
bld=$ITE_BUILD/$flavour/build
sanitized=0
if [ "$flavour" = qemu-asan ]; then
	. "$ITE_TOP/scripts/lib/sanitizers.sh"
	# Allocation stacks that hold their callers: the fast unwinder loses
	# them past GLib's g_malloc (QEMU and GLib have no frame pointers),
	# and the leak suppressions match on them. Ten frames reach the
	# suppressed functions and keep the slow unwinder's cost to 2.5 to
	# 3.5 times the fast one's (30, its default: 7 times); the scenarios
	# and fuzzers keep the fast one (docs/robustness.md).
	case $ASAN_OPTIONS in
	*fast_unwind_on_malloc=*) ;;
	*) ASAN_OPTIONS+=:fast_unwind_on_malloc=0:malloc_context_size=10 ;;
	esac
	sanitized=1
fi

echo "TAP version 13"
targets=()
for r in "${runs[@]}"; do
	q=qemu-system-${r#*@}
	[ -x "$bld/$q" ] || { echo "Bail out! $q is not built (ninja -C build $flavour)"; exit 1; }
	case " ${targets[*]} " in
	*" tests/qtest/${r%@*} "*) ;;
	*) targets+=("tests/qtest/${r%@*}") ;;
	esac
done
build_log=$ITE_BUILD/qtests-build${flavour#qemu}.log
if ! ninja -C "$bld" "${targets[@]}" >"$build_log" 2>&1; then
	tail -n 20 "$build_log" | sed 's/^/# /' >&2
	echo "Bail out! building the qtests failed; see $build_log"
	exit 1
fi

n=0 failed=0
# result OK|NOT NAME: a TAP line, numbered across the programs.
result() {
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
for r in "${runs[@]}"; do
	prog=${r%@*} arch=${r#*@}
	# its name in the TAP lines
	t=$prog
	[ "$arch" = x86_64 ] || t=$r
	log "qtest: $t"
	out=$(cd "$bld" && QTEST_QEMU_BINARY=./qemu-system-$arch \
		timeout 300 "tests/qtest/$prog" --tap 2>&1)
	rc=$?
	before=$failed
	# Its test cases, renumbered; a bail-out is a failed case.
	while IFS= read -r line; do
		case $line in
		"not ok "*) result NOT "$t: $(sed -E 's/^not ok [0-9]+ (- )?//' <<<"$line")" ;;
		"ok "*) result OK "$t: $(sed -E 's/^ok [0-9]+ (- )?//' <<<"$line")" ;;
		"Bail out!"*) result NOT "$t: $line" ;;
		esac
	done < <(grep -E '^(not )?ok |^Bail out!' <<<"$out")
	if [ "$sanitized" = 1 ] && grep -qE "$ITE_SANITIZER_RE" <<<"$out"; then
		# in QEMU or in the test program; a failure even when the exit
		# status did not show it
		result NOT "$t: sanitizer report"
		grep -E -m 3 -A 12 "$ITE_SANITIZER_RE" <<<"$out" | sed "s|^|# $t: |" >&2
	elif [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		# crashed or timed out between test cases
		result NOT "$t: exited with status $rc$( [ "$rc" = 124 ] && echo ' (timed out after 300 s)')"
	fi
	[ "$failed" -eq "$before" ] || tail -n 15 <<<"$out" | sed "s|^|# $t: |" >&2
done
echo "1..$n"
[ "$failed" -eq 0 ]
