#!/usr/bin/env bash
# The soak (issue 9): scenarios/unplug-cycles.scenario stretched to CYCLES
# cycles (four removals each, two slots at once) with DMA in one boot, on
# the patched kernel in legacy mode, with QEMU built with ASan/UBSan when
# it is built (ninja -C build qemu-asan), else the normal one. The harness
# judges the cell as it judges any: no forbidden guest line (lockups,
# oopses, the scenario's DMA failures), no QEMU sanitizer report, every
# step done (each removal's DEVICE_DELETED among them). This prints its
# verdict from the cell's result.json and the removals QEMU completed;
# exits non-zero unless the cell passed.
#
#   scripts/soak.sh [CYCLES]     (default 250: 1000 removals)
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

cycles=${1:-250}
case $cycles in '' | *[!0-9]* | 0) die "CYCLES must be a positive number, got '$cycles'" ;; esac
qemu=$ITE_BUILD/qemu-asan/build/qemu-system-x86_64
[ -x "$qemu" ] || { log "no ASan QEMU built; the soak runs on the normal one"; qemu=$ITE_BUILD/qemu/build/qemu-system-x86_64; }
out=$ITE_BUILD/soak
rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# Same cycle, more of it: the deadline grows with the count, 20 s a
# cycle, several times what one takes (2.7 s on the normal build).
"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --kernel=patched --mode=legacy --qemu "$qemu" \
	--results "$out/results" --set "cycles=$cycles" --set "timeout=$((cycles * 20 + 120))" \
	unplug-cycles >"$out/soak.tap" || true
printf 'soak: qemu %s\n' "$qemu"
"$ITE_PYTHON" - "$out/results/unplug-cycles.legacy.patched/result.json" "$cycles" <<'PY'
import json, sys
path, cycles = sys.argv[1], int(sys.argv[2])
try:
    with open(path) as f:
        r = json.load(f)
except (OSError, ValueError) as e:
    sys.exit("soak: no result (%s)" % e)
removals = r["timings"].get("removed", 0)
print("soak: %s, %d removals completed in %s of %d cycles"
      % ("passed" if r["met"] else "FAILED", removals, r["timings"].get("cycles", 0), cycles))
for reason in r["reasons"]:
    print("soak: " + reason)
sys.exit(0 if r["met"] else 1)
PY
