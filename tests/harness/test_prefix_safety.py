"""harness/prefix_safety.py: the classes of a cell, read from its guest log
and result.json, and the "no less safe than base" verdict of a prefix, on
the shipped scenarios with logs written here."""
import contextlib
import io
import json
import os
import tempfile
import unittest

from harness import TOP, prefix_safety as ps, scenario

SCENARIOS = {s.name: s for s in scenario.load_dir(os.path.join(TOP, "scenarios"))}
ITE = ("[   %d.000000] DMAR: VT-d detected Invalidation Time-out Error: SID %s\n"
       "[   %d.000001] DMAR: Invalidation Time-out Error (ITE) cleared")
BOOT = "[    0.000000] Linux version 7.2.8-mainline\n"


def ites(n, sid="100"):
    return BOOT + "".join(ITE % (i, sid, i) + "\n" for i in range(n))


def result(outcome="fail", reasons=()):
    return {"outcome": outcome, "reasons": list(reasons)}


def cell(name, log, outcome="fail", reasons=(), base_kernel="unpatched"):
    return ps.classify(SCENARIOS[name], result(outcome, reasons), log, base_kernel)


# What the base does in hung-device-dma: the retry loop, 50 ITEs, and a
# stall report; the guest stops answering.
LOCKED = dict(log=ites(60) + "[   30.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
              "[   30.1] Call Trace:\n",
              reasons=["timeout: guest did not answer 'guest sh x' (lockup reported)"])
PASSED = dict(log=ites(1) + "[    2.0] DMAR: dmar0: device-TLB invalidation to "
              "0000:01:00.0 timed out; ATS blocked, no more sent to it\n"
              "[    3.0] ats_testdev 0000:01:00.0: pass 3 of 5 failed\n",
              outcome="pass")


class Classify(unittest.TestCase):
    def test_the_scenarios_exist(self):
        for name in ps.SCENARIOS:
            self.assertIn(name, SCENARIOS)
            self.assertEqual(SCENARIOS[name].expectation("unpatched").outcome, "fail")

    def test_retry_loop_is_a_lockup(self):
        c = cell("hung-device-dma", **LOCKED)
        self.assertEqual(c.classes, {"lockup"})
        self.assertEqual(c.describe(c), "lockup like base")
        self.assertEqual(c.describe(ps.Cell()), "lockup")

    def test_a_pass(self):
        c = cell("hung-device-dma", **PASSED)
        self.assertFalse(c.failed)
        self.assertEqual(c.describe(), "pass")

    def test_the_series_message_is_not_required(self):
        # [patched] requires "ATS blocked, no more sent to it"; a prefix
        # without it that passes every step is a pass.
        c = cell("hung-device-dma", ites(1), outcome="fail",
                 reasons=["required line missing: /DMAR: dmar0: device-TLB invalidation to "
                          "0000:01:00\\.0 timed out; ATS blocked, no more sent to it/"])
        self.assertFalse(c.failed)

    def test_few_ites_are_not_the_retry_loop(self):
        c = cell("hung-device-dma", ites(3), reasons=["timeout: guest did not answer 'guest sh x'"])
        self.assertEqual(c.classes, {"other"})
        self.assertIn("guest did not answer", c.describe())

    def test_fence_violations(self):
        c = cell("hung-dma-fence", ites(1), reasons=[
            "qom-check: /machine/peripheral/iommu fence-violations is 12, expected == 0"])
        self.assertEqual((c.classes, c.fence), ({"fence"}, 12))
        self.assertEqual(c.describe(), "fence-violations 12")

    def test_healthy_neighbour_isolated(self):
        log = ites(1, "0") + ("[    5.0] DMAR: dmar0: device-TLB invalidation to 0000:05:00.0 "
                              "timed out; ATS blocked, no more sent to it\n")
        c = cell("busy-neighbours-hung-no-itesid", log, reasons=["guest sh ... exited 1"])
        self.assertIn("isolated", c.classes)
        c = cell("busy-neighbours-hung-no-itesid", ites(1, "0"), reasons=[
            "qom-check: /machine/peripheral/dutC translation-ur is 4, expected == 0"])
        self.assertEqual(c.classes, {"isolated"})
        # The hung one (03:00.0) cut off is what the scenario wants.
        c = cell("busy-neighbours-hung-no-itesid", ites(1, "0") + (
            "[    5.0] DMAR: dmar0: device-TLB invalidation to 0000:03:00.0 timed out; "
            "ATS blocked, no more sent to it\n"), reasons=["guest sh y exited 1"])
        self.assertNotIn("isolated", c.classes)

    def test_crash_but_not_the_lockup_detector(self):
        c = cell("hung-device-dma", ites(2) + "[    4.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1\n")
        self.assertEqual(c.classes, {"crash"})
        self.assertIn("WARNING: CPU: 0", c.describe())
        c = cell("hung-device-dma", ites(2) + "[   25.0] watchdog: BUG: soft lockup - CPU#0 "
                 "stuck for 22s! [kworker/0:1:30]\n")
        self.assertEqual(c.classes, {"lockup"})

    def test_mainline_base_signature(self):
        # The mainline series' retry loop is mainline-base's signature,
        # which falls back on [unpatched].
        c = cell("surprise-removal-inflight-no-itesid", ites(3, "0"),
                 reasons=["timeout: x"], base_kernel="mainline-base")
        self.assertEqual(c.classes, {"lockup"})


class LessSafe(unittest.TestCase):
    def setUp(self):
        self.locked = cell("hung-device-dma", **LOCKED)
        self.passed = cell("hung-device-dma", **PASSED)

    def test_like_the_base_or_better(self):
        self.assertEqual(ps.less_safe(self.locked, self.locked), [])
        self.assertEqual(ps.less_safe(self.passed, self.locked), [])
        self.assertEqual(ps.less_safe(self.passed, self.passed), [])

    def test_new_failure_classes(self):
        fence = cell("hung-dma-fence", ites(1), reasons=[
            "qom-check: /machine/peripheral/iommu fence-violations is 3, expected == 0"])
        base = cell("hung-dma-fence", **LOCKED)
        self.assertEqual(ps.less_safe(fence, base), ["fence-violations 3, the base 0"])
        self.assertEqual(ps.less_safe(fence, fence), [])
        crash = cell("hung-device-dma", ites(60) + "[    4.0] Oops: general protection\n")
        self.assertEqual(ps.less_safe(crash, self.locked), ["a crash the base does not have"])
        self.assertIn("fails where the base passes (lockup)",
                      ps.less_safe(self.locked, self.passed))

    def test_other_failure_where_the_base_locks_up(self):
        other = cell("hung-device-dma", ites(3), reasons=["timeout: no answer"])
        self.assertEqual(ps.less_safe(other, self.locked), [])
        self.assertTrue(ps.differs(other, self.locked))


class Report(unittest.TestCase):
    def write(self, d, k, cells, built=True):
        res = os.path.join(d, "r%d" % k)
        for (name, mode), c in cells.items():
            cd = os.path.join(res, "%s.%s.p%d" % (name, mode, k))
            os.makedirs(cd)
            with open(os.path.join(cd, "result.json"), "w") as f:
                json.dump(dict(result(c.get("outcome", "fail"), c.get("reasons", ())),
                               scenario=name, mode=mode), f)
            with open(os.path.join(cd, "serial.log"), "w") as f:
                f.write(c["log"])
        with open(os.path.join(d, "prefixes.tsv"), "a") as f:
            f.write("%d\tc%d\tpatch %d\t%d\t%s\n" % (k, k, k, built, res))

    def test_table_and_verdicts(self):
        fence = dict(log=ites(1), reasons=[
            "qom-check: /machine/peripheral/iommu fence-violations is 7, expected == 0"])
        with tempfile.TemporaryDirectory() as d:
            both = lambda name, c: {(name, m): c for m in scenario.MODES}
            self.write(d, 0, {**both("hung-device-dma", LOCKED), **both("hung-dma-fence", LOCKED)})
            self.write(d, 1, {**both("hung-device-dma", PASSED),
                              ("hung-dma-fence", "legacy"): fence,
                              ("hung-dma-fence", "scalable"): LOCKED})
            self.write(d, 2, {**both("hung-device-dma", PASSED), **both("hung-dma-fence", LOCKED)})
            self.write(d, 3, {}, built=False)
            prefixes = ps.load(d)
            text, safe = ps.table(prefixes)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                status = ps.main([d])
        self.assertEqual((status, out.getvalue()), (1, text))
        self.assertFalse(safe)
        rows = text.splitlines()
        self.assertEqual(rows[0], "| prefix | patch | builds | hung-device-dma | hung-dma-fence "
                         "| verdict |")
        self.assertIn("| 0 | (the base) | yes | lockup | lockup | the base |",
                      text)
        self.assertIn("| 1 | patch 1 | yes | pass | legacy: fence-violations 7; scalable: lockup "
                      "like base | LESS SAFE than base: hung-dma-fence/legacy: fence-violations "
                      "7, the base 0 |", text)
        self.assertIn("| 2 | patch 2 | yes | pass | lockup like base | no less safe than base |",
                      text)
        self.assertIn("| 3 | patch 3 | NO | - | - | DOES NOT BUILD |", text)

    def test_all_safe(self):
        with tempfile.TemporaryDirectory() as d:
            self.write(d, 0, {("hung-device-dma", "legacy"): LOCKED})
            self.write(d, 1, {("hung-device-dma", "legacy"): PASSED})
            text, safe = ps.table(ps.load(d, "mainline"))
            self.assertTrue(safe, text)
            self.assertIn("| 1 | patch 1 | yes | pass | no less safe than base |", text)
            # A prefix whose cell did not run is no verdict of safety.
            self.write(d, 2, {("hung-device-no-itesid", "legacy"): LOCKED})
            text, safe = ps.table(ps.load(d, "mainline"))
            self.assertFalse(safe)
            self.assertIn("not run: hung-device-dma/legacy", text)
            self.write(d, 4, {})
            self.assertIn("| 4 | patch 4 | yes | - | - | no cell ran",
                          ps.table(ps.load(d, "mainline"))[0])
            # Nor one whose base did not run the cell.
            self.write(d, 3, {("hung-device-dma", "legacy"): PASSED,
                              ("hung-device-dma", "scalable"): PASSED})
            text, safe = ps.table(ps.load(d, "mainline"))
            self.assertIn("not run: hung-device-dma/scalable (on the base)", text)


if __name__ == "__main__":
    unittest.main()
