#!/usr/bin/env bash
# ite-lab's tests (what .ci/run runs): build what is needed, then meson's
# test suites (meson.build; each runs on its own as
# "meson test -C build --suite NAME"):
#   unit       the agent's parser, tree.sh, the harness on recorded logs
#              and scenario files;
#   lint       shellcheck on every shell script, checkpatch.pl on every
#              QEMU and kernel patch and overlay file;
#   qtests     the QEMU qtests of tests/qtests.list (scripts/run-qtests.sh):
#              ite-lab's own and upstream's for the code the series changes;
#   qtests-asan the same qtests on QEMU built with ASan, LSan and UBSan,
#              built here (ninja qemu-asan): a sanitizer report fails the
#              test. Its build takes about 31 minutes cold, 3 to 21
#              with ccache warm, its run about 7 (docs/layout.md, "CI's
#              budget"); ITE_QTESTS_ASAN=0 leaves it out;
#   scenarios  the scenarios of the 'default' group, in both vIOMMU modes,
#              on the four gating kernels: the 6.12 pair (patched,
#              unpatched) and the mainline pair (mainline, mainline-base);
#   smmuv3     the scenarios of the 'smmuv3' group on the arm64 guest
#              (mainline-arm64) behind arm-smmuv3 on virt; ITE_SMMUV3=0
#              leaves it out;
#   bisect     bisect-kernel.sh on the lab's kernel series as a git tree
#              (docs/bisect.md): it must find the commit that fixes
#              hung-device-dma. Its out-of-tree kernel build takes about
#              20 minutes with ccache cold, 2-4 minutes warm (it stays in
#              build/bisect-selftest/); ITE_BISECT=0 leaves it out.
#   debug      the 'ite' and 'surprise' groups on the debug kernels,
#              patched-debug and mainline-debug (each series with lockdep,
#              atomic-sleep checks and KFENCE; docs/harness.md, "Kernels"),
#              built here (ninja kernel-patched-debug kernel-mainline-debug):
#              a lockdep, sleep-in-atomic or KFENCE report fails its cell
#              and the check. ITE_DEBUG_KERNEL=mainline or =6.12 builds and
#              runs one lane only (suite debug-mainline, debug-6.12), =0
#              neither. Each lane's cold build is the largest single cost
#              of a clean CI run (docs/layout.md, "CI's budget").
# ITE_SANITIZERS=1 adds the suite 'sanitizers' (docs/robustness.md): the
# qtests and two scenarios on qemu-asan, and each fuzz target of qemu-fuzz
# for ITE_FUZZ_SECONDS (60). Not by default: qemu-fuzz is a second
# sanitizer build (cold, about 20 minutes on 2 cores).
# Prints meson's lines, a test each, the output of every failed test, and
# meson's count. Exit 0 only if all passed.
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"

"$ITE_TOP/scripts/build-all.sh" || die "build failed; nothing was tested"

suites=(unit lint qtests scenarios)
[ "${ITE_SMMUV3:-1}" = 0 ] || suites+=(smmuv3)
[ "${ITE_BISECT:-1}" = 0 ] || suites+=(bisect)
status=0
case ${ITE_DEBUG_KERNEL:-1} in
0) lanes=() ;;
mainline) lanes=(mainline-debug) debug_suite=debug-mainline ;;
6.12) lanes=(patched-debug) debug_suite=debug-6.12 ;;
*) lanes=(patched-debug mainline-debug) debug_suite=debug ;;
esac
# The lanes' tests run once one kernel is built: another's then fails,
# saying it is not built.
built=0
for lane in "${lanes[@]}"; do
	log "check: the debug kernel $lane (ninja -C $ITE_BUILD kernel-$lane)"
	start=$(date +%s)
	if ninja -C "$ITE_BUILD" "kernel-$lane"; then
		log "check: $lane built in $(($(date +%s) - start))s"
		built=1
	else
		log "error: the debug kernel $lane did not build (see above)"
		status=1
	fi
done
[ "$built" = 0 ] || suites+=("$debug_suite")
# The sanitizer builds: qemu-asan for 'qtests-asan' (and 'sanitizers'),
# qemu-fuzz for 'sanitizers' only.
asan_suites=()
[ "${ITE_QTESTS_ASAN:-1}" = 0 ] || asan_suites+=(qtests-asan)
[ "${ITE_SANITIZERS:-0}" != 1 ] || asan_suites+=(sanitizers)
for s in "${asan_suites[@]}"; do
	targets=(qemu-asan)
	[ "$s" = qtests-asan ] || targets+=(qemu-fuzz)
	log "check: the sanitizer builds for '$s' (ninja -C $ITE_BUILD ${targets[*]})"
	start=$(date +%s)
	if ninja -C "$ITE_BUILD" "${targets[@]}"; then
		log "check: ${targets[*]} built in $(($(date +%s) - start))s"
		suites+=("$s")
	else
		log "error: the sanitizer builds failed (see above); the suite '$s' does not run"
		status=1
	fi
done

log "check: meson test, suites ${suites[*]}"
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done
# Everything is built: no rebuild. A failed test's whole output (up to
# 10000 lines, not meson's last 100) reaches the log; all of it is in
# $ITE_BUILD/meson-logs/testlog.txt.
meson test -C "$ITE_BUILD" --no-rebuild --print-errorlogs --max-lines 10000 "${args[@]}" || status=1
exit "$status"
