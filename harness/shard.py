"""run-tests.sh --shard=I/N: run part I of N of the selected cells, for CI
that runs the parts on machines of their own and joins their results
(harness/merge.py, scripts/merge-results.sh).

Every shard works out the whole plan and keeps its own part, so the split
must come out the same on every machine: it depends only on the selected
cells (the arguments and the scenario files) and on a cost table committed
with them (COSTS_FILE: seconds per cell, measured by a full run and
refreshed by scripts/update-cell-costs.sh), never on a machine's own
build/results/durations.json, which differs from one runner to the next.
Cells are dealt longest first to the least loaded shard (LPT), costs in
whole centiseconds so that no float rounding can differ, ties broken by
the cell's name, then by the lowest shard.

Each shard leaves MANIFEST in its results directory: I, N, the plan's
cells and its own, so that a merge can tell a missing shard or cell, and
shards of different plans, from a complete run.
"""
import json
import os
import re
import statistics
import sys

from . import modes, report, scenario
from .runner import cell_dir

COSTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cell-costs.json")
MANIFEST = "shard.json"
# A cell of a scenario the table has never measured costs its timeout
# times this, when the table does not say: cells took about a tenth of
# their timeout when the table was made.
SECONDS_PER_TIMEOUT = 0.1


def parse_spec(text):
    """"I/N" -> (I, N), 1 <= I <= N; ValueError saying what is wrong."""
    got = re.fullmatch(r"([0-9]+)/([0-9]+)", text)
    if not got:
        raise ValueError("%r: expected I/N, shard I of N, both numbers (1/2)" % text)
    i, n = int(got[1]), int(got[2])
    if n < 1 or not 1 <= i <= n:
        raise ValueError("%r: shard I of N needs 1 <= I <= N" % text)
    return i, n


def load_costs(path=COSTS_FILE):
    """The committed cost table: {"cells": {cell: seconds},
    "seconds_per_timeout": x}; an empty one when there is none."""
    try:
        with open(path) as f:
            got = json.load(f)
    except (OSError, ValueError):
        return {"cells": {}}
    cells = got.get("cells") if isinstance(got, dict) else None
    if not isinstance(cells, dict):
        return {"cells": {}}
    got["cells"] = {k: v for k, v in cells.items() if isinstance(v, (int, float))}
    return got


def cost(cell, table, hint):
    """A cell's cost in centiseconds: what the table measured; else the
    same scenario and mode on the kernels it measured (a kernel the table
    does not know, such as a PATH kernel, is about as long as those), the
    longest; else the scenario in any mode; else its timeout (the second
    part of main.cost_hint, `hint`) scaled by what measured cells take of
    theirs."""
    s, m, k = cell[:3]
    cells = table["cells"]
    if cell_dir(s, m, k) in cells:
        return round(cells[cell_dir(s, m, k)] * 100)
    for prefix in ("%s.%s." % (s.name, m), "%s." % s.name):
        seen = [v for c, v in cells.items() if c.startswith(prefix)]
        if seen:
            return round(max(seen) * 100)
    per = table.get("seconds_per_timeout", SECONDS_PER_TIMEOUT)
    return max(1, round(hint(s)[1] * per * 100))


def assign(ids, costs, n):
    """Deal cells to n shards, the longest first to the least loaded
    shard. ids: the cells' names (the tie-break), costs: integers.
    Returns ([cell indices of each shard, in the given order], [load of
    each shard])."""
    parts, loads = [[] for _ in range(n)], [0] * n
    for i in sorted(range(len(ids)), key=lambda i: (-costs[i], ids[i], i)):
        j = min(range(n), key=lambda j: (loads[j], j))
        parts[j].append(i)
        loads[j] += costs[i]
    return [sorted(p) for p in parts], loads


class Plan:
    """The split of `cells` (main's (scenario, mode, kernel) list, in
    matrix order) into spec's N shards, and shard I's cells."""

    def __init__(self, cells, spec, hint, table=None, ident=None):
        ident = ident or (lambda c: cell_dir(*c[:3]))
        table = load_costs() if table is None else table
        self.index, self.count = spec
        self.ids = [ident(c) for c in cells]
        costs = [cost(c, table, hint) for c in cells]
        self.parts, self.loads = assign(self.ids, costs, self.count)
        mine = self.parts[self.index - 1]
        self.cells = [cells[i] for i in mine]
        self.mine = [self.ids[i] for i in mine]

    def describe(self):
        return "shard %d/%d: %d of %d cells, about %.0f s of %.0f s" % (
            self.index, self.count, len(self.mine), len(self.ids),
            self.loads[self.index - 1] / 100, sum(self.loads) / 100)

    def manifest(self, versions=()):
        return {"shard": self.index, "of": self.count, "plan": self.ids,
                "cells": self.mine, "estimated_s": [x / 100 for x in self.loads],
                "versions": [list(v) for v in versions]}


def write_manifest(results_dir, plan, versions=()):
    """Written before the cells run: a shard that dies half-way still says
    which cells it owed."""
    with open(os.path.join(results_dir, MANIFEST), "w") as f:
        json.dump(plan.manifest(versions), f, indent=1)
        f.write("\n")


def read_manifest(results_dir):
    """The manifest of a shard's results directory; ValueError saying why
    there is none."""
    path = os.path.join(results_dir, MANIFEST)
    try:
        with open(path) as f:
            m = json.load(f)
    except OSError:
        raise ValueError("%s: not the results of a shard (no %s)" % (results_dir, MANIFEST))
    except ValueError as e:
        raise ValueError("%s: %s" % (path, e))
    if not (isinstance(m, dict) and isinstance(m.get("shard"), int)
            and isinstance(m.get("of"), int) and isinstance(m.get("plan"), list)
            and isinstance(m.get("cells"), list)):
        raise ValueError("%s: not a shard manifest (shard, of, plan, cells)" % path)
    return m


def update_costs(results_dirs, scenarios_dir, path=COSTS_FILE):
    """Refresh the table from the cells of finished runs (their
    result.json: a full run's results directory, or a merge of shards):
    each cell measured there replaces its entry, the others stay. Only
    cells of the scenario files' own names, modes and built-in kernels are
    kept: a run with a PATH kernel or --repeat adds nothing. Returns the
    number of cells updated."""
    scens = {s.name: s for s in scenario.load_dir(scenarios_dir)}
    known = {cell_dir(s, m, k) for s in scens.values() for m in s.modes
             for k in scenario.KERNELS
             if scenario.kernel_arch(k) == modes.MODES[m].machine.arch}
    table = load_costs(path)
    got = {}
    for d in results_dirs:
        for r in report.load_results(d):
            name = os.path.basename(r.workdir.rstrip("/"))
            if name in known and r.outcome != "error":
                got[name] = round(r.duration, 1)
    cells = dict(table["cells"], **got)
    ratios = sorted(v / scens[c.split(".", 1)[0]].timeout for c, v in cells.items()
                    if c.split(".", 1)[0] in scens)
    out = {"about": "seconds per cell, for run-tests.sh --shard (harness/shard.py); "
                    "refresh with scripts/update-cell-costs.sh after a full run",
           "seconds_per_timeout": round(statistics.median(ratios), 3)
           if ratios else SECONDS_PER_TIMEOUT,
           "cells": dict(sorted(cells.items()))}
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return len(got)


def main(argv):
    """scripts/update-cell-costs.sh SCENARIOS_DIR RESULTS_DIR..."""
    if len(argv) < 2:
        print("usage: update-cell-costs.sh [RESULTS_DIR...]", file=sys.stderr)
        return 2
    missing = [d for d in argv[1:] if not os.path.isdir(d)]
    if missing:
        print("update-cell-costs.sh: not a directory: %s" % ", ".join(missing), file=sys.stderr)
        return 2
    n = update_costs(argv[1:], argv[0])
    print("harness/%s: %d cells measured in %s"
          % (os.path.basename(COSTS_FILE), n, " ".join(argv[1:])))
    return 0 if n else 1
