#!/usr/bin/env bash
# ITE recovery latency against the configured time-out (figures only;
# nothing is asserted). Runs the hung-device scenario on the patched
# kernel with intel-iommu's devtlb-timeout-ms set to each value given
# (default 50 100 200 500), in both vIOMMU modes, and prints for each the
# "ITE recovery" figure of harness/timeline.py: from submitting the
# device-TLB invalidation that timed out to the last ITE the guest cleared
# ("never" when the ITEs went on until the cell ended).
# A driver that gives up after one ITE recovers in about the time-out; one
# that retries never does (the unpatched kernel: see the scenario's report).
#
#   bench/ite-recovery.sh [TIMEOUT_MS...]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

[ $# -gt 0 ] || set -- 50 100 200 500
out=$ITE_BUILD/bench/ite-recovery
rm -rf "$out"
mkdir -p "$out/scenarios"
src=$ITE_TOP/scenarios/hung-device-dma.scenario
[ -f "$src" ] || die "$src is missing"

for ms in "$@"; do
	case $ms in '' | *[!0-9]*) die "not a number of milliseconds: $ms" ;; esac
	sed -e "/^iommu =/d" \
		-e "s/^\[scenario\]$/[scenario]\niommu = intremap=on,device-iotlb=on,devtlb-timeout-ms=$ms/" \
		-e "s/^groups = .*/groups = bench/" "$src" >"$out/scenarios/hung-$ms.scenario"
done

"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --scenarios "$out/scenarios" -g bench \
	--kernel=patched --results "$out/results" >"$out/run.tap" ||
	log "some cells did not pass; figures below are for those that did (see $out/run.tap)"

printf '%-10s %-9s %10s %14s %16s\n' timeout mode ITEs ITE-cleared recovery
for ms in "$@"; do
	for mode in legacy scalable; do
		res=$out/results/hung-$ms.$mode.patched/result.json
		[ -f "$res" ] || continue
		"$ITE_PYTHON" - "$res" "$ms" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["timings"]
rec = sorted(t.get("ite_recoveries_ms", []))
recovery = ("never" if "ite_unrecovered" in t else
            "%.1f ms" % rec[len(rec) // 2] if rec else "-")
print("%-10s %-9s %10s %14s %16s" % (sys.argv[2] + " ms", sys.argv[3], t.get("ite", "-"),
                                      "%.1f ms" % t["ite_to_clear_ms"] if "ite_to_clear_ms" in t
                                      else "-", recovery))
PY
	done
done
