#!/usr/bin/env bash
# The soak (issue 9): scenarios/unplug-cycles.scenario stretched to 1000
# alternating orderly/surprise removals with DMA in one boot, on the
# patched kernel in legacy mode, with QEMU built with ASan/UBSan when it is built
# (ninja -C build qemu-asan), else the normal one. Prints the counts:
# lockups and stalls, oopses/BUGs/WARNINGs, QEMU sanitizer reports, DMA
# passes lost or corrupted, removals completed; exits non-zero unless all
# failure counts are 0.
#
#   scripts/soak.sh [CYCLES]     (CYCLES pairs of removals, default 500)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cycles=${1:-500}
case $cycles in '' | *[!0-9]*) die "CYCLES must be a number, got '$cycles'" ;; esac
qemu=$ITE_BUILD/qemu-asan/build/qemu-system-x86_64
[ -x "$qemu" ] || { log "no ASan QEMU built; the soak runs on the normal one"; qemu=$ITE_BUILD/qemu/build/qemu-system-x86_64; }
out=$ITE_BUILD/soak
rm -rf "$out"
mkdir -p "$out/scenarios"
# Same cycle (two removals), more of it: about 3.5 s a cycle under ASan,
# so the deadline grows with the count.
sed -e "s/^cycles = .*/cycles = $cycles/" -e "s/^timeout = .*/timeout = $((cycles * 10 + 120))/" \
	"$ITE_TOP/scenarios/unplug-cycles.scenario" >"$out/scenarios/unplug-cycles.scenario"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
rc=0
"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --scenarios "$out/scenarios" --kernel=patched \
	--mode=legacy --qemu "$qemu" --results "$out/results" unplug-cycles >"$out/soak.tap" || rc=$?
cell=$out/results/unplug-cycles.legacy.patched
count() { grep -cE "$1" "$2" 2>/dev/null || true; }
lockups=$(count 'soft lockup|hard LOCKUP|rcu: .*stall|blocked for more than' "$cell/serial.log")
oopses=$(count 'BUG:|Oops|WARNING:|Kernel panic' "$cell/serial.log")
sanitizer=$(count 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: ' "$cell/qemu.stderr")
dma_bad=$(count 'ats_testdev .* pass [0-9]+ of [0-9]+ failed|workload: [0-9]+ of [0-9]+ passes ok, [1-9]' "$cell/serial.log")
removed=$(grep -c "DEVICE_DELETED" "$cell/qmp.log" 2>/dev/null || true)
printf 'soak: qemu %s\n' "$qemu"
printf 'soak: %s removals of %s asked, lockups %s, oopses %s, sanitizer reports %s, DMA lost or corrupted %s\n' \
	"$removed" $((cycles * 2)) "$lockups" "$oopses" "$sanitizer" "$dma_bad"
tail -n 1 "$out/soak.tap"
[ "$rc" -eq 0 ] && [ "$lockups$oopses$sanitizer$dma_bad" = 0000 ] && [ "$removed" -eq $((cycles * 2)) ]
