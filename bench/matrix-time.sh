#!/usr/bin/env bash
# Wall time of the scenario matrix (figures only; nothing is asserted):
# runs ./run-tests.sh with the arguments given (default: the whole default
# matrix) and prints the wall time and the CPU time, then per scenario the
# sum and the longest of its cells' durations, their QEMU CPU time and the
# part of it spent booting, from each cell's result.json, and the template
# boots the cells started from (harness/snapshot.py).
#
#   bench/matrix-time.sh [--against-cold] [run-tests.sh ARGS...]
#
# --against-cold runs the matrix twice on the same machine, first booting
# every cell (--boot=cold), then as asked (snapshots by default), and
# prints the ratio of their wall times: the two runs see the same host, so
# the ratio means more than either figure on a shared machine.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/lib.sh"

# matrix NAME ARGS...: run the matrix into $ITE_BUILD/bench/NAME, print
# its figures; the wall time in seconds goes to $ITE_BUILD/bench/NAME.wall.
matrix() {
	local name=$1 out=$ITE_BUILD/bench/$1 start=$SECONDS
	shift
	rm -rf "$out"
	mkdir -p "$out"
	"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --results "$out" "$@" >"$out.tap" 2>"$out.log" ||
		log "not every cell met its expectation (see $out.tap)"
	echo $((SECONDS - start)) >"$out.wall"
	"$ITE_PYTHON" - "$out" "$(cat "$out.wall")" "$name" <<'PY'
import glob, json, os, sys
out, wall, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
per, cpu, boot = {}, {}, {}
for f in sorted(glob.glob(os.path.join(out, "*", "result.json"))):
    r = json.load(open(f))
    t = r["timings"]
    per.setdefault(r["scenario"], []).append(r["duration"])
    # QEMU's own CPU time: what the cell costs, whatever ran beside it
    cpu[r["scenario"]] = cpu.get(r["scenario"], 0) + t.get("cpu_s", 0)
    boot[r["scenario"]] = boot.get(r["scenario"], 0) + (t.get("boot_cpu_s") or 0)
templates = [json.load(open(f)) for f in glob.glob(os.path.join(out, "snapshots", "*", "boot.json"))]
tcpu = sum(t.get("boot_cpu_s") or 0 for t in templates)
cells = sum(len(v) for v in per.values())
print("%s: %d cells, %d s wall, QEMU CPU %.0f s in cells (%.0f s of it booting or "
      "loading) + %.0f s in %d template boots"
      % (name, cells, wall, sum(cpu.values()), sum(boot.values()), tcpu, len(templates)))
print("%-36s %6s %10s %10s %10s %10s" % ("scenario", "cells", "sum", "longest", "QEMU CPU",
                                          "boot CPU"))
for s, ds in sorted(per.items(), key=lambda kv: -cpu[kv[0]]):
    print("%-36s %6d %9.1fs %9.1fs %9.1fs %9.1fs" % (s, len(ds), sum(ds), max(ds), cpu[s],
                                                    boot[s]))
PY
	tail -n 1 "$out.tap"
}

if [ "${1:-}" = --against-cold ]; then
	shift
	matrix matrix-time-cold --boot=cold "$@"
	matrix matrix-time "$@"
	"$ITE_PYTHON" -c 'import sys; c, s = (int(open(f).read()) for f in sys.argv[1:])
print("wall: %d s as asked against %d s booting every cell: ratio %.2f" % (s, c, s / c))' \
		"$ITE_BUILD/bench/matrix-time-cold.wall" "$ITE_BUILD/bench/matrix-time.wall"
else
	matrix matrix-time "$@"
fi
# CPU time of everything run-tests.sh ran (QEMU, the harness): against
# wall time x host CPUs, it says how much more parallelism could give.
# ("times" in a pipe would run in a subshell, and report its own.)
times >"$ITE_BUILD/bench/matrix-time.times"
read -r _ _ cpu_user cpu_sys < <(tr "\n" " " <"$ITE_BUILD/bench/matrix-time.times"; echo)
printf 'cpu (all runs): user %s, sys %s, on %s host CPUs\n' "$cpu_user" "$cpu_sys" "$(nproc)"
