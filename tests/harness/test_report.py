"""The report's counts: informational cells (the sid column) are reported
as findings and never counted as failures."""
import os
import tempfile
import unittest

from harness import report, report_html
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

    def test_skip(self):
        r = CellResult("s", "bz", "pass", "legacy", False, outcome="skip", met=True,
                       reasons=["needs the guest driver"])
        self.assertEqual(report.tap_line(2, r),
                         "ok 2 - s [legacy, bz] # SKIP needs the guest driver")
        self.assertEqual(report.gating([r, cell("patched", True)])[0].kernel, "patched")
        self.assertIsNone(report.findings_line([r]))
        self.assertEqual(report.mark(r), "SKIP")


class Repeat(unittest.TestCase):
    def runs(self, *mets):
        out = []
        for n, met in enumerate(mets, 1):
            r = cell("patched", met)
            r.attempt = n
            out.append(r)
        return out

    def test_flake_rate(self):
        self.assertEqual(report.repeat_lines(self.runs(True, False, True, True)),
                         ["# repeat: s [legacy, patched]: met its expectation in 3 of 4 "
                          "runs (flaky: 25% failed)"])
        self.assertEqual(report.repeat_lines(self.runs(False, False)),
                         ["# repeat: s [legacy, patched]: met its expectation in 0 of 2 runs"])

    def test_matrix_shows_a_failing_run(self):
        _, _, cells = report.matrix(self.runs(True, False, True))
        self.assertEqual(cells[("s", "legacy", "patched")].attempt, 2)
        self.assertEqual(self.runs(True, True)[1].label, "s [legacy, patched] run 2")


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


def hung(kernel, mode, **timings):
    """A hung-device-dma cell: the patched kernel passes, the base ones
    show the bug."""
    exp = "pass" if kernel == "patched" else "fail"
    r = CellResult("hung-device-dma", kernel, exp, mode, kernel == "sid")
    r.met, r.timings = True, dict(timings, stop="killed" if exp == "fail" else "poweroff")
    if exp == "fail":
        r.outcome = "timeout"
        r.evidence = "line 412: DMAR: VT-d detected Invalidation Time-out Error: SID 100"
    return r


LOCKED = {"ite": 50, "ite_unrecovered": {"ites": 50, "every_ms": 104.0, "for_s": 7.5}}


class Glance(unittest.TestCase):
    """What a reader sees first: the bug set apart from passes and from
    failures, and no kill time passed off as a recovery time."""

    def setUp(self):
        self.results = [
            hung("patched", "legacy", ite=1, ite_recoveries_ms=[105.2]),
            hung("patched", "scalable", ite=1, ite_recoveries_ms=[131.0]),
            hung("unpatched", "legacy", **LOCKED), hung("unpatched", "scalable", **LOCKED),
            hung("sid", "legacy", **LOCKED), hung("sid", "scalable", **LOCKED),
            cell("patched", True), cell("unpatched", True)]
        for r in self.results[-2:]:
            r.scenario, r.timings = "device-del-idle", {"unplugs_ms": [900.0, 1300.0, 1100.0]}
        self.results.append(cell("patched", False))

    def test_verdicts(self):
        self.assertEqual([report.mark(r) for r in self.results],
                         ["RECOVERED", "RECOVERED", "BUG", "BUG", "BUG", "BUG",
                          "PASS", "PASS", "FAIL"])

    def test_summary_rows_worst_first(self):
        kernels, rows = report.summary(self.results)
        self.assertEqual(kernels, ["patched", "unpatched", "sid"])
        self.assertEqual([(s, v) for s, v, _ in rows],
                         [("s", "fail"), ("hung-device-dma", "bug"),
                          ("device-del-idle", "pass")])
        per = rows[1][2]
        # Both modes did the same: one story, their figures as a range.
        self.assertEqual(per["patched"], ("recovered", [
            (None, "recovered", "in 105–131 ms")]))
        self.assertEqual(per["unpatched"], ("bug", [
            (None, "bug", "locked up: an ITE every 104 ms until killed (50 ITEs in 7.5 s)")]))

    def test_modes_that_differ_are_told_apart(self):
        self.results[1].met, self.results[1].outcome = False, "timeout"
        self.results[1].reasons = ["timeout: guest did not answer 'x'"]
        _, rows = report.summary(self.results)
        per = {name: p for name, _, p in rows}
        self.assertEqual(per["hung-device-dma"]["patched"], ("fail", [
            ("legacy", "recovered", "in 105 ms"),
            ("scalable", "fail", "timeout: guest did not answer 'x'")]))

    def test_a_bug_says_what_it_shows(self):
        r = hung("unpatched", "legacy")
        r.evidence = "harness: trace order: no /a/ after /b/"
        self.assertEqual(report.story([r]), "trace order: no /a/ after /b/")
        r.shows = "no device-TLB flush after the teardown"
        self.assertEqual(report.story([r]), "no device-TLB flush after the teardown")
        r.shows, r.evidence = "", "line 9: [ 3.1] rcu: INFO: rcu_sched detected stalls on CPUs"
        self.assertEqual(report.story([r]), "RCU stall")

    def test_a_kill_is_never_a_recovery(self):
        locked = self.results[2]
        self.assertEqual(report.figure(locked, "ite_recoveries_ms"),
                         "never (killed after 7.5 s, 50 ITEs, one every 104 ms)")
        self.assertNotIn("recover", report.story([locked]))

    def test_distributions(self):
        self.assertEqual(report.figure(self.results[6], "unplugs_ms"),
                         "median 1.10 s, max 1.30 s (3)")
        self.assertEqual(report.figure(self.results[0], "ite_recoveries_ms"), "105 ms")

    def test_the_page_says_it_on_top(self):
        with tempfile.TemporaryDirectory() as d:
            for i, r in enumerate(self.results):
                r.workdir = os.path.join(d, str(i))
                os.makedirs(r.workdir)
            path = os.path.join(d, "report.html")
            report_html.write_html(path, self.results, [("qemu", "10.0")])
            with open(path) as f:
                page = f.read()
        top = page[:page.index("<h2>Matrix</h2>")]
        self.assertIn("<td class='bug'><b>BUG</b> locked up: an ITE every 104 ms", top)
        self.assertIn("<td class='recovered'><b>RECOVERED</b> in 105–131 ms", top)
        self.assertIn("<td class='fail'><b>FAIL</b> <small>legacy:</small> "
                      "required line missing", top)


if __name__ == "__main__":
    unittest.main()
