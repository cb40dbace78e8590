"""The report's counts: informational cells (the sid column) are reported
as findings and never counted as failures."""
import os
import tempfile
import unittest

from harness import report
from harness.runner import CellResult


def cell(kernel, met, informational=False):
    r = CellResult("s", kernel, "pass", "legacy", informational)
    r.met = met
    if not met:
        r.outcome = "fail"
        r.reasons = ["required line missing: /x/"]
    return r


class Counts(unittest.TestCase):
    def test_informational_cells_do_not_fail_the_run(self):
        results = [cell("patched", True), cell("unpatched", True), cell("sid", False, True)]
        self.assertEqual(report.closing_line(results), "2 passed, 0 failed")
        self.assertEqual(report.findings_line(results),
                         "# informational column (sid): 0 as expected, 1 findings")

    def test_no_informational_column(self):
        self.assertIsNone(report.findings_line([cell("patched", False)]))
        self.assertEqual(report.closing_line([cell("patched", False)]), "0 passed, 1 failed")

    def test_tap_todo(self):
        line = report.tap_line(3, cell("sid", False, True))
        self.assertTrue(line.startswith("not ok 3 - s [legacy, sid]: "))
        self.assertTrue(line.endswith("# TODO informational column"))
        self.assertNotIn("TODO", report.tap_line(1, cell("patched", True)))


class Detail(unittest.TestCase):
    def test_failure_shows_the_diagnosis(self):
        with tempfile.TemporaryDirectory() as d:
            r = cell("patched", False)
            r.workdir = d
            with open(os.path.join(d, "serial.log"), "w") as f:
                f.write("[    1.0] last words\n")
            with open(os.path.join(d, "diagnosis.txt"), "w") as f:
                f.write("slots:\n  0000:00:02.0 sltsta=0x0040(PDS)\n")
            lines = report.tap_detail(r)
        self.assertIn("#   [    1.0] last words", lines)
        self.assertEqual(lines[-2:], ["# diagnosis: slots:",
                                      "# diagnosis:   0000:00:02.0 sltsta=0x0040(PDS)"])

    def test_no_diagnosis_when_none_was_taken(self):
        with tempfile.TemporaryDirectory() as d:
            r = cell("patched", False)
            r.workdir = d
            self.assertFalse([ln for ln in report.tap_detail(r) if "diagnosis" in ln])


if __name__ == "__main__":
    unittest.main()
