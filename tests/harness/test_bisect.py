"""harness/bisect.py: what a bisect step makes of its runs' result.json
files, and the exit status it gives git bisect run for each pair of
terms (the broken/fixed inversion)."""
import json
import os
import tempfile
import unittest

from harness import bisect

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class RunOutcome(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def cell(self, outcome, met, name="hung-device-dma.legacy.obj", reasons=()):
        os.makedirs(os.path.join(self.dir, name))
        with open(os.path.join(self.dir, name, "result.json"), "w") as f:
            json.dump({"scenario": "hung-device-dma", "kernel": "obj", "expected": "pass",
                       "outcome": outcome, "met": met, "reasons": list(reasons)}, f)

    def test_pass(self):
        self.cell("pass", True)
        self.assertEqual(bisect.run_outcome(self.dir, 0)[0], "pass")

    def test_kernel_failures(self):
        for outcome in ("fail", "timeout"):
            with self.subTest(outcome):
                self.tearDown()
                self.setUp()
                self.cell(outcome, False, reasons=["missing required line"])
                got, detail = bisect.run_outcome(self.dir, 1)
                self.assertEqual(got, "fail")
                self.assertIn("missing required line", detail)

    def test_harness_failures_are_errors(self):
        for outcome in ("error", "skip"):
            with self.subTest(outcome):
                self.tearDown()
                self.setUp()
                self.cell(outcome, outcome == "skip", reasons=["harness: cannot start QEMU: x"])
                self.assertEqual(bisect.run_outcome(self.dir, 1)[0], "error")

    def test_a_failure_beside_an_error_is_still_the_kernel(self):
        self.cell("error", False, name="a")
        self.cell("timeout", False, name="b")
        self.assertEqual(bisect.run_outcome(self.dir, 1)[0], "fail")

    def test_no_result_is_an_error(self):
        got, detail = bisect.run_outcome(self.dir, 2)
        self.assertEqual(got, "error")
        self.assertIn("exited with 2", detail)

    def test_status_must_agree_with_the_cells(self):
        self.cell("pass", True)
        self.assertEqual(bisect.run_outcome(self.dir, 2)[0], "error")
        self.assertEqual(bisect.run_outcome(self.dir, 77)[0], "error")

    def test_unreadable_result_is_an_error(self):
        os.makedirs(os.path.join(self.dir, "c"))
        with open(os.path.join(self.dir, "c", "result.json"), "w") as f:
            f.write("{")
        self.assertEqual(bisect.run_outcome(self.dir, 0)[0], "error")


class StepAnswer(unittest.TestCase):
    def test_good_bad(self):
        self.assertEqual(bisect.step_answer("good", ["pass", "pass", "pass"]), ("passes", "good", 0))
        self.assertEqual(bisect.step_answer("good", ["pass", "fail"]), ("fails", "bad", 1))

    def test_broken_fixed_inverts_the_status(self):
        self.assertEqual(bisect.step_answer("broken", ["pass", "pass", "pass"]), ("passes", "fixed", 1))
        self.assertEqual(bisect.step_answer("broken", ["fail"]), ("fails", "broken", 0))

    def test_one_failure_is_enough(self):
        self.assertEqual(bisect.step_answer("good", ["pass", "error", "fail"])[0], "fails")

    def test_errors_without_failure_skip(self):
        for terms in ("good", "broken"):
            self.assertEqual(bisect.step_answer(terms, ["pass", "error", "pass"]),
                             ("untestable", "skip", 125))
            self.assertEqual(bisect.step_answer(terms, []), ("untestable", "skip", 125))


class CheckScenario(unittest.TestCase):
    scenarios = os.path.join(TOP, "scenarios")

    def test_known(self):
        self.assertIsNone(bisect.check_scenario(self.scenarios, "hung-device-dma", "legacy"))

    def test_unknown(self):
        self.assertIn("unknown scenario", bisect.check_scenario(self.scenarios, "no-such", "legacy"))

    def test_mode_not_listed(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "one.scenario"), "w") as f:
                f.write("[scenario]\ndescription = x\nmodes = scalable\nsteps =\n    guest ping\n")
            self.assertIn("does not run in mode", bisect.check_scenario(d, "one", "legacy"))


if __name__ == "__main__":
    unittest.main()
