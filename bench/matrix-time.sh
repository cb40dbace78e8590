#!/usr/bin/env bash
# Wall time of the scenario matrix (figures only; nothing is asserted):
# runs ./run-tests.sh with the arguments given (default: the whole default
# matrix) and prints the total wall time and CPU time, then per scenario
# the sum and the longest of its cells' durations and their QEMU CPU time,
# from each cell's result.json.
#
#   bench/matrix-time.sh [run-tests.sh ARGS...]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/lib.sh"

out=$ITE_BUILD/bench/matrix-time
rm -rf "$out"
start=$SECONDS
"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --results "$out" "$@" >"$out.tap" 2>"$out.log" ||
	log "not every cell met its expectation (see $out.tap)"
wall=$((SECONDS - start))
# CPU time of everything run-tests.sh ran (QEMU, the harness): against
# wall time x host CPUs, it says how much more parallelism could give.
times >"$out.times"
read -r _ _ cpu_user cpu_sys < <(tr "\n" " " <"$out.times"; echo)
printf 'cpu: user %s, sys %s, on %s host CPUs\n' "$cpu_user" "$cpu_sys" "$(nproc)"

"$ITE_PYTHON" - "$out" "$wall" <<'PY'
import glob, json, os, sys
out, wall = sys.argv[1], int(sys.argv[2])
per, cpu = {}, {}
for f in sorted(glob.glob(os.path.join(out, "*", "result.json"))):
    r = json.load(open(f))
    per.setdefault(r["scenario"], []).append(r["duration"])
    # QEMU's own CPU time: what the cell costs, whatever ran beside it
    cpu[r["scenario"]] = cpu.get(r["scenario"], 0) + r["timings"].get("cpu_s", 0)
cells = sum(len(v) for v in per.values())
print("matrix: %d cells, %d s wall (%.0f s of cell time, %.0f s of QEMU CPU)"
      % (cells, wall, sum(sum(v) for v in per.values()), sum(cpu.values())))
print("%-36s %6s %10s %10s %10s" % ("scenario", "cells", "sum", "longest", "QEMU CPU"))
for name, ds in sorted(per.items(), key=lambda kv: -cpu[kv[0]]):
    print("%-36s %6d %9.1fs %9.1fs %9.1fs" % (name, len(ds), sum(ds), max(ds), cpu[name]))
PY
tail -n 1 "$out.tap"
