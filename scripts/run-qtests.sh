#!/usr/bin/env bash
# Build and run the QEMU qtests ite-lab cares about, against ite-lab's
# QEMU: its own (ats-testdev-test, pcie-surprise-test) and the upstream
# ones for the code it patches (intel-iommu-test). Prints their TAP, one
# test per line, and a closing "N passed, N failed" line.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

read -r -a qtests <<<"${ITE_QTESTS:-ats-testdev-test pcie-surprise-test intel-iommu-test}"
bld=$ITE_BUILD/qemu/build
[ -x "$bld/qemu-system-x86_64" ] || die "QEMU is not built (ninja -C build qemu)"
targets=()
for t in "${qtests[@]}"; do targets+=("tests/qtest/$t"); done
ninja -C "$bld" "${targets[@]}" >"$ITE_BUILD/qtests-build.log" 2>&1 || {
	tail -n 20 "$ITE_BUILD/qtests-build.log" >&2
	die "building the qtests failed; see $ITE_BUILD/qtests-build.log"
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
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		# crashed or timed out between tests
		bad=1
		tail -n 15 <<<"$out" | sed "s|^|# $t: |"
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
