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
. "$(dirname "$0")/../scripts/lib/lib.sh"

[ $# -gt 0 ] || set -- 50 100 200 500
for ms in "$@"; do
	case $ms in '' | *[!0-9]*) die "not a number of milliseconds: $ms" ;; esac
done
out=$ITE_BUILD/bench/ite-recovery
rm -rf "$out"
mkdir -p "$out"
# The scenario's own intel-iommu properties (its file's, or the default),
# with the time-out added.
iommu=$(cd "$ITE_TOP" && "$ITE_PYTHON" -c 'from harness import scenario
print(scenario.load("scenarios/hung-device-dma.scenario").iommu)')

# One run per time-out, all at once: the cells mostly wait.
pids=()
for ms in "$@"; do
	"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --kernel=patched --results "$out/$ms" \
		--set "iommu=$iommu,devtlb-timeout-ms=$ms" hung-device-dma >"$out/$ms.tap" 2>&1 &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" ||
		log "some cells did not pass at ${*:i+1:1} ms; figures below are for those that did (see $out/${*:i+1:1}.tap)"
done

printf '%-10s %-9s %10s %14s %16s\n' timeout mode ITEs ITE-cleared recovery
for ms in "$@"; do
	for mode in legacy scalable; do
		res=$out/$ms/hung-device-dma.$mode.patched/result.json
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
