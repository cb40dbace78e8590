#!/usr/bin/env bash
# Build and run the QEMU qtests ite-lab cares about, against ite-lab's
# QEMU: its own (ats-testdev-test, pcie-surprise-test) and the upstream
# ones for the code it patches (intel-iommu-test). Prints their TAP, one
# test per line, and a closing "N passed, N failed" line.
#
# ITE_QEMU_FLAVOUR=qemu-asan runs them against the sanitizer build
# (scripts/build-qemu.sh --asan, ninja -C build qemu-asan), with the
# settings of scripts/sanitizers.sh; a sanitizer report fails the test.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

read -r -a qtests <<<"${ITE_QTESTS:-ats-testdev-test pcie-surprise-test intel-iommu-test}"
flavour=${ITE_QEMU_FLAVOUR:-qemu}
bld=$ITE_BUILD/$flavour/build
[ -x "$bld/qemu-system-x86_64" ] || die "QEMU is not built (ninja -C build $flavour)"
sanitized=0
if [ "$flavour" = qemu-asan ]; then
	. "$ITE_TOP/scripts/sanitizers.sh"
	sanitized=1
fi
targets=()
for t in "${qtests[@]}"; do targets+=("tests/qtest/$t"); done
build_log=$ITE_BUILD/qtests-build${flavour#qemu}.log
ninja -C "$bld" "${targets[@]}" >"$build_log" 2>&1 || {
	tail -n 20 "$build_log" >&2
	die "building the qtests failed; see $build_log"
}

passed=0 failed=0
for t in "${qtests[@]}"; do
	log "qtest: $t"
	out=$(cd "$bld" && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
		timeout 300 "tests/qtest/$t" --tap 2>&1)
	rc=$?
	ok=$(grep -c '^ok ' <<<"$out")
	bad=$(grep -c '^not ok ' <<<"$out")
	grep -E '^(not )?ok |^Bail out' <<<"$out" | sed "s|^|# $t: |"
	if [ "$sanitized" = 1 ] && grep -qE "$ITE_SANITIZER_RE" <<<"$out"; then
		# in QEMU or in the test program; a failure even when the exit
		# status did not show it
		echo "# $t: not ok - sanitizer report"
		grep -E -m 3 -A 12 "$ITE_SANITIZER_RE" <<<"$out" | sed "s|^|# $t: |"
		[ "$bad" -gt 0 ] || bad=1
	elif [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		# crashed or timed out between tests
		bad=1
		tail -n 15 <<<"$out" | sed "s|^|# $t: |"
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
