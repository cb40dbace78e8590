"""run-tests.sh --shard=I/N and the merge of the shards' results: the
split (the same wherever it is computed, each cell in exactly one shard,
the shards' costs balanced), the spec, the cost table, and what the merge
refuses. tests/shell/test-shards.sh runs the real thing."""
import contextlib
import io
import json
import os
import random
import shutil
import tempfile
import unittest
from types import SimpleNamespace

from harness import kernels, main, merge, modes, run_files, scenario, shard
from harness.runner import RESULT_FILE, cell_dir

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDED = os.path.join(TOP, "tests", "data", "results", "matrix.json")


def scen(name, timeout=90, cycles=0):
    return SimpleNamespace(name=name, timeout=timeout, cycles=cycles,
                           cycle=[None] * bool(cycles))


def default_matrix(names=tuple(kernels.resolve(["all"], "/nonexistent-build"))):
    """The cells of the default group, as main builds them (the debug
    kernel's lane is no column of it, nor the arm64 kernel, and no mode
    of a group of its own, smmuv3, is asked for)."""
    ss = [s for s in scenario.load_dir(os.path.join(TOP, "scenarios"))
          if "default" in s.groups]
    ks = [kernels.builtin("/nonexistent-build", getattr(k, "label", k)) for k in names]
    return [(c.scenario, c.mode, c.kernel.label) for c in main.matrix(
        ss, main.asked_modes("all", ["default"]), ks, ["default"])]


class Spec(unittest.TestCase):
    def test_good(self):
        for text, want in (("1/1", (1, 1)), ("2/3", (2, 3)), ("12/12", (12, 12))):
            self.assertEqual(shard.parse_spec(text), want)

    def test_bad(self):
        for text in ("0/2", "3/2", "x", "1/0", "0/0", "1/", "/2", "-1/2", " 1/2",
                     "1/2/3", "", "1.0/2", "½/2", "١/٢"):
            with self.assertRaises(ValueError, msg=text):
                shard.parse_spec(text)

    def test_usage_error_exits_2(self):
        """argparse's usage error: exit status 2, the message names the
        option and says what is expected."""
        for text in ("0/2", "3/2", "x", "1/0"):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as e:
                main.parse_args(["--shard", text, "device-del-idle"])
            self.assertEqual(e.exception.code, 2)
            self.assertIn("argument --shard: %r" % text, err.getvalue())
            self.assertIn("I/N", err.getvalue())


class Split(unittest.TestCase):
    def test_each_cell_exactly_once(self):
        cells = default_matrix()
        ids = [cell_dir(*c) for c in cells]
        for n in (1, 2, 3, 5, 8, len(cells), len(cells) + 3):
            plans = [shard.Plan(cells, (i, n), main.cost_hint) for i in range(1, n + 1)]
            mine = [c for p in plans for c in p.mine]
            self.assertEqual(sorted(mine), sorted(ids), n)
            self.assertEqual(len(mine), len(set(mine)), n)
            for p in plans:
                self.assertEqual(p.ids, ids)     # every shard, the whole plan
                # A shard runs its cells in the matrix's order.
                self.assertEqual(p.mine, [c for c in ids if c in set(p.mine)])

    def test_same_wherever_computed(self):
        """The split depends on the cells and the table, not on the order
        the cells come in, nor on the machine's own durations."""
        cells = default_matrix()
        want = {c: p.index for p in (shard.Plan(cells, (i, 4), main.cost_hint)
                                     for i in range(1, 5)) for c in p.mine}
        rnd = random.Random(19)
        for _ in range(5):
            shuffled = rnd.sample(cells, len(cells))
            got = {c: p.index for p in (shard.Plan(shuffled, (i, 4), main.cost_hint)
                                        for i in range(1, 5)) for c in p.mine}
            self.assertEqual(got, want)

    def test_ties_are_broken_by_name(self):
        parts, loads = shard.assign(["c", "a", "b", "d"], [5, 5, 5, 5], 2)
        # a and c to shard 1, b and d to shard 2: by name, not by position
        self.assertEqual(parts, [[0, 1], [2, 3]])
        self.assertEqual(loads, [10, 10])

    def test_longest_first(self):
        # Dealt in the given order, the long one would come last: 2 and 4.
        parts, loads = shard.assign(["a", "b", "c", "d"], [1, 1, 1, 3], 2)
        self.assertEqual((parts, loads), ([[3], [0, 1, 2]], [3, 3]))
        parts, loads = shard.assign(["long", "s1", "s2", "s3"], [90, 10, 10, 10], 2)
        self.assertEqual(parts, [[0], [1, 2, 3]])

    def test_balanced(self):
        """By the table, the default matrix's shards come within a cell of
        each other (what LPT guarantees), and within 2 % on it."""
        table = shard.load_costs()
        self.assertGreater(len(table["cells"]), 50)
        for kernels in (("patched", "unpatched"), scenario.KERNELS):
            cells = default_matrix(kernels)
            costs = [shard.cost(c, table, main.cost_hint) for c in cells]
            for n in range(2, 9):
                loads = shard.Plan(cells, (1, n), main.cost_hint, table).loads
                self.assertEqual(sum(loads), sum(costs))
                self.assertLessEqual(max(loads) - min(loads), max(costs), (kernels, n))
                self.assertLess(max(loads) / min(loads), 1.02, (kernels, n, loads))

    def test_empty_shards(self):
        cells = [(scen("a"), "legacy", "patched")]
        plans = [shard.Plan(cells, (i, 3), main.cost_hint, {"cells": {}}) for i in (1, 2, 3)]
        self.assertEqual([p.mine for p in plans], [["a.legacy.patched"], [], []])


class Cost(unittest.TestCase):
    TABLE = {"cells": {"a.legacy.patched": 12.34, "a.legacy.unpatched": 20.0,
                       "a.scalable.patched": 50.0, "ab.legacy.x": 99.0},
             "seconds_per_timeout": 0.2}

    def cost(self, name, mode, kernel, timeout=90, table=None):
        return shard.cost((scen(name, timeout), mode, kernel), table or self.TABLE,
                          main.cost_hint)

    def test_measured(self):
        self.assertEqual(self.cost("a", "legacy", "patched"), 1234)

    def test_another_kernel(self):
        """A kernel the table does not know (a PATH kernel's label): the
        longest of the same scenario and mode."""
        self.assertEqual(self.cost("a", "legacy", "o-series"), 2000)

    def test_another_mode(self):
        self.assertEqual(self.cost("a", "scalable", "unpatched"), 5000)

    def test_never_measured(self):
        """From main.cost_hint's timeout, scaled as the table says; not
        from a scenario whose name merely begins the same."""
        self.assertEqual(self.cost("b", "legacy", "patched", timeout=150), 3000)
        self.assertEqual(self.cost("b", "legacy", "patched", 150, {"cells": {}}),
                         round(150 * shard.SECONDS_PER_TIMEOUT * 100))

    def test_table_update(self):
        """update_costs takes the cells of finished runs, keeps what they
        did not measure, and leaves out errors and cells that are not the
        scenario files' own."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        scen_dir = os.path.join(d, "scenarios")
        os.makedirs(scen_dir)
        for name, modes_ in (("s", ""), ("t", ""), ("u", "modes = smmuv3\n")):
            with open(os.path.join(scen_dir, name + ".scenario"), "w") as f:
                f.write("[scenario]\ndescription = x\ntimeout = 100\n" + modes_ +
                        "steps =\n    guest ping\n")
        run = os.path.join(d, "run")
        for cell, secs, outcome in (("s.legacy.patched", 7.04, "pass"),
                                    ("s.legacy.o-series", 70, "pass"),
                                    ("t.legacy.patched", 99, "error"),
                                    # no cell of the matrix: x86 mode, arm64 kernel
                                    ("s.legacy.mainline-arm64", 50, "pass"),
                                    ("u.smmuv3.mainline-arm64", 9, "pass")):
            os.makedirs(os.path.join(run, cell))
            with open(os.path.join(run, cell, RESULT_FILE), "w") as f:
                json.dump({"scenario": cell.split(".")[0], "kernel": cell.split(".")[2],
                           "expected": "pass", "outcome": outcome, "duration": secs,
                           "workdir": "/elsewhere/" + cell}, f)
        path = os.path.join(d, "costs.json")
        with open(path, "w") as f:
            json.dump({"cells": {"s.legacy.patched": 1.0, "s.scalable.unpatched": 30.0}}, f)
        self.assertEqual(shard.update_costs([run], scen_dir, path), 2)
        got = shard.load_costs(path)
        self.assertEqual(got["cells"], {"s.legacy.patched": 7.0, "s.scalable.unpatched": 30.0,
                                        "u.smmuv3.mainline-arm64": 9.0})
        self.assertEqual(got["seconds_per_timeout"], 0.09)   # median of 0.07, 0.09, 0.3

    def test_committed_table(self):
        """The committed table covers the default matrix."""
        table = shard.load_costs()
        missing = [cell_dir(*c) for c in default_matrix()
                   if cell_dir(*c) not in table["cells"]]
        self.assertEqual(missing, [])


def recorded():
    """Cells of a real run (tests/data/results/matrix.json), legacy only,
    of the lab's kernels of today (the run had a sid column, since
    replaced), in the matrix's order (kernels as scenario.KERNELS has
    them), which is not their names' order."""
    with open(RECORDED) as f:
        return sorted((c for c in json.load(f)
                       if c["mode"] == "legacy" and c["kernel"] in scenario.KERNELS),
                      key=lambda c: (c["scenario"], scenario.KERNELS.index(c["kernel"])))


class Merge(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.d)
        self.cells = recorded()
        self.plan = [c["workdir"] for c in self.cells]

    def shards(self, n=2, cells=None, versions=(("qemu", "10.0.13"),), drop=()):
        """n shard directories of self.cells, as run-tests.sh --shard
        leaves them: a manifest, and a directory per cell with its
        result.json and a log."""
        cells = self.cells if cells is None else cells
        dirs = []
        for i in range(1, n + 1):
            d = os.path.join(self.d, "shard%d" % i)
            mine = [c for j, c in enumerate(cells) if j % n == i - 1]
            os.makedirs(d)
            with open(os.path.join(d, shard.MANIFEST), "w") as f:
                json.dump({"shard": i, "of": n, "plan": self.plan,
                           "cells": [c["workdir"] for c in mine],
                           "versions": [list(v) for v in versions]}, f)
            os.makedirs(os.path.join(d, "snapshots", "k%d" % i))
            for c in mine:
                w = os.path.join(d, c["workdir"])
                os.makedirs(w)
                with open(os.path.join(w, "serial.log"), "w") as f:
                    f.write("[    0.000000] Linux version\n")
                if c["workdir"] not in drop:
                    r = dict(c, workdir=w)
                    r["timings"] = dict(r["timings"], booted_from="snapshots/k%d" % i)
                    with open(os.path.join(w, RESULT_FILE), "w") as f:
                        json.dump(r, f)
            dirs.append(d)
        return dirs

    def run_merge(self, dirs, out=None):
        out = out or os.path.join(self.d, "out")
        err, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
            rc = merge.main([out] + dirs)
        return rc, err.getvalue(), out

    def refused(self, dirs, message):
        rc, err, out = self.run_merge(dirs)
        self.assertEqual(rc, 2, err)
        self.assertIn(message, err)
        self.assertFalse(os.path.exists(out), "wrote to OUT before the checks passed")

    def test_complete(self):
        rc, err, out = self.run_merge(self.shards(3))
        self.assertEqual(rc, 0, err)
        results = merge.report.load_results(out)
        self.assertEqual(sorted(os.path.basename(r.workdir) for r in results),
                         sorted(self.plan))
        for r in results:
            self.assertEqual(os.path.dirname(r.workdir), out)
            self.assertTrue(r.timings["booted_from"].startswith("shards/"), r.timings)
            self.assertTrue(os.path.isdir(os.path.join(out, r.timings["booted_from"])))
        with open(os.path.join(out, run_files.TAP_FILE)) as f:
            tap = [ln for ln in f.read().splitlines() if ln.startswith(("ok", "not ok"))]
        # TAP in the plan's order, numbered as one run
        self.assertEqual([ln.split(" - ")[1].split(":")[0] for ln in tap],
                         ["%s [%s, %s]" % (c["scenario"], c["mode"], c["kernel"])
                          for c in self.cells])
        self.assertEqual([int(ln.split()[1 if ln.startswith("ok") else 2]) for ln in tap],
                         list(range(1, len(tap) + 1)))
        for name in (run_files.JUNIT_FILE, run_files.REPORT_MD, run_files.REPORT_HTML,
                     run_files.KTAP_FILE, merge.MERGED, "shards/1/" + shard.MANIFEST):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        with open(os.path.join(out, run_files.REPORT_HTML)) as f:
            self.assertIn("href='%s/'" % self.plan[0], f.read())

    def test_exit_status(self):
        """1 when a gating cell did not meet its expectation; an
        informational one's finding does not count."""
        gating = next(i for i, c in enumerate(self.cells) if not c["informational"])
        self.cells[gating] = dict(self.cells[gating], met=False, outcome="fail")
        self.assertEqual(self.run_merge(self.shards(2))[0], 1)

        shutil.rmtree(self.d)
        self.cells = recorded()
        # An informational cell (a kernel given by path, nothing expected).
        self.cells[0] = dict(self.cells[0], informational=True, met=False, outcome="fail")
        self.assertEqual(self.run_merge(self.shards(2))[0], 0)

    def test_missing_shard(self):
        self.refused(self.shards(3)[:2], "missing shard 3 of 3")

    def test_shard_twice(self):
        a, b = self.shards(2)
        self.refused([a, b, a], "given more than once")

    def test_different_plans(self):
        a, b = self.shards(2)
        m = self.manifest(b)
        m["plan"] = m["plan"][:-1]
        self.write_manifest(b, m)
        self.refused([a, b], "different plans")

    def manifest(self, d):
        with open(os.path.join(d, shard.MANIFEST)) as f:
            return json.load(f)

    def write_manifest(self, d, m):
        with open(os.path.join(d, shard.MANIFEST), "w") as f:
            json.dump(m, f)

    def test_different_n(self):
        a, b = self.shards(2)
        m = self.manifest(b)
        m["of"] = 3
        self.write_manifest(b, m)
        self.refused([a, b], "different plans")

    def test_different_builds(self):
        a, b = self.shards(2)
        m = self.manifest(b)
        m["versions"] = [["qemu", "9.2"]]
        self.write_manifest(b, m)
        self.refused([a, b], "different builds")

    def test_overlap(self):
        """Shards of the same plan split by different cost tables."""
        a, b = self.shards(2)
        m = self.manifest(a)
        m["cells"].append(self.plan[1])     # shard 2's
        self.write_manifest(a, m)
        self.refused([a, b], "in two shards")

    def test_cell_in_no_shard(self):
        a, b = self.shards(2)
        m = self.manifest(b)
        m["cells"].remove(self.plan[1])
        self.write_manifest(b, m)
        self.refused([a, b], "in no shard: %s" % self.plan[1])

    def test_unfinished_shard(self):
        self.refused(self.shards(2, drop=(self.plan[3],)), "did the shard's run finish")

    def test_not_a_shard(self):
        a, _ = self.shards(2)
        other = os.path.join(self.d, "plain")
        os.makedirs(other)
        self.refused([a, other], "not the results of a shard")
        with open(os.path.join(other, shard.MANIFEST), "w") as f:
            f.write("{}")
        self.refused([a, other], "not a shard manifest")

    def test_out_not_empty(self):
        out = os.path.join(self.d, "out")
        os.makedirs(out)
        open(os.path.join(out, "x"), "w").close()
        rc, err, _ = self.run_merge(self.shards(2), out)
        self.assertEqual(rc, 2)
        self.assertIn("not an empty directory", err)

    def test_usage(self):
        self.assertEqual(self.run_merge([])[0], 2)


if __name__ == "__main__":
    unittest.main()
