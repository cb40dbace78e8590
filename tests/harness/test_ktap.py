"""results.ktap read by the kernel's own KTAP parser (kunit.py parse, from
the pinned tree): the tests it counts passed, failed and skipped are what
the results say, for a real run of the whole matrix
(tests/data/results/matrix.json) and for the cells it does not have: a
gating failure, a cell that did not run, a kernel given by path, repeated
runs, and names that are not KTAP."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

from harness import ktap
from harness.runner import CellResult

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDED = os.path.join(TOP, "tests", "data", "results", "matrix.json")
KUNIT = os.path.join(os.environ.get("ITE_BUILD", os.path.join(TOP, "build")),
                     "linux", "patched", "src", "tools", "testing", "kunit", "kunit.py")


def recorded():
    with open(RECORDED) as f:
        return [CellResult(**c) for c in json.load(f)]


def cell(kernel, met=True, informational=False, scenario="s", mode="legacy", **kw):
    r = CellResult(scenario, kernel, kw.pop("expected", "pass"), mode, informational,
                   met=met, **kw)
    if not met and "outcome" not in kw:
        r.outcome = "fail"
        r.reasons = ["required line missing: /x/"]
    return r


def expected_counts(results):
    """What the results say, as kunit.py counts: a cell that did not run
    or an informational finding is skipped, a gating cell that missed its
    expectation failed, any other passed. Counts of 0 it leaves out."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for r in results:
        if r.outcome == "skip" or (r.informational and not r.met):
            counts["skipped"] += 1
        else:
            counts["passed" if r.met else "failed"] += 1
    return {k: v for k, v in counts.items() if v}


@unittest.skipUnless(os.path.exists(KUNIT), "kunit.py is not in the pinned kernel tree: "
                     "%s (ninja -C build kernel-patched unpacks it; ITE_BUILD for "
                     "another build directory)" % KUNIT)
class Parsed(unittest.TestCase):
    def parse(self, results):
        """(kunit.py's exit status, its counts, its whole output) for
        the KTAP of `results`."""
        with tempfile.TemporaryDirectory() as d:
            # kunit.py changes to the kernel tree: the path must be absolute.
            path = os.path.join(d, "results.ktap")
            with open(path, "w") as f:
                f.write(ktap.render(results))
            p = subprocess.run([sys.executable, KUNIT, "parse", path], capture_output=True,
                               text=True, timeout=60)
        m = re.search(r"Testing complete\. Ran (\d+) tests: (.*)$", p.stdout, re.M)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        counts = dict((k, int(v)) for k, v in re.findall(r"(\w+): (\d+)", m.group(2)))
        self.assertEqual(int(m.group(1)), len(results), p.stdout)
        return p.returncode, counts, p.stdout

    def test_the_recorded_matrix(self):
        results = recorded()
        status, counts, out = self.parse(results)
        self.assertEqual(counts, expected_counts(results), out)
        # Every gating cell of that run met its expectation; one of sid's
        # is a finding.
        self.assertEqual(counts, {"passed": 95, "skipped": 1}, out)
        self.assertEqual(status, 0, out)
        self.assertNotIn("[ERROR]", out)

    def test_a_gating_failure_fails_its_mode_and_scenario(self):
        results = recorded()
        r = next(r for r in results if (r.scenario, r.mode, r.kernel)
                 == ("hung-device-dma", "scalable", "patched"))
        r.met, r.outcome, r.reasons = False, "timeout", ["timeout: no DEVICE_DELETED event"]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, expected_counts(results), out)
        self.assertEqual(counts["failed"], 1, out)
        self.assertEqual(status, 1, out)
        # kunit.py shows the reason with the failure, and names what failed.
        self.assertRegex(out, r"# timeout: no DEVICE_DELETED event\n"
                         r".*# logs in hung-device-dma.scalable.patched\n.*\[FAILED\] patched\n")
        self.assertIn("[FAILED] scalable", out)
        self.assertIn("[FAILED] hung-device-dma", out)
        self.assertIn("[PASSED] legacy", out)

    def test_an_informational_finding_is_not_a_failure(self):
        results = [cell("patched"), cell("unpatched"), cell("sid", met=False, informational=True)]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, {"passed": 2, "skipped": 1}, out)
        self.assertEqual(status, 0, out)
        self.assertIn("[PASSED] legacy", out)

    def test_an_informational_cell_that_passes_passes(self):
        status, counts, out = self.parse([cell("patched"), cell("sid", informational=True)])
        self.assertEqual(counts, {"passed": 2}, out)
        self.assertEqual(status, 0, out)

    def test_a_cell_that_did_not_run_is_skipped(self):
        results = [cell("patched"), cell("o-series", outcome="skip",
                                         reasons=["a bare bzImage: no guest driver"]),
                   cell("o-series", scenario="t", outcome="skip", reasons=["no driver"])]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, {"passed": 1, "skipped": 2}, out)
        self.assertEqual(status, 0, out)
        self.assertIn("[PASSED] s", out)
        self.assertIn("[SKIPPED] t", out)

    def test_a_kernel_given_by_path_says_what_it_matched(self):
        results = [
            cell("o-series", informational=True, matches="patched",
                 match_detail="passes like the patched kernel"),
            cell("o-series", informational=True, expected="fail", mode="scalable",
                 matches="base", match_detail="fails like the base: line 470: DMAR: ITE"),
            cell("o-series", met=False, informational=True, scenario="t", outcome="fail",
                 reasons=["x"], matches="neither",
                 match_detail="matches no known behaviour (not like patched: x; not like base: y)")]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, {"passed": 2, "skipped": 1}, out)
        self.assertEqual(status, 0, out)
        self.assertEqual([ln.strip() for ln in ktap.render(results).splitlines()
                          if ln.lstrip().startswith(("ok 1 o-", "not ok 1 o-"))], [
            "ok 1 o-series # passes like the patched kernel",
            "ok 1 o-series # XFAIL fails like the base: line 470: DMAR: ITE",
            "not ok 1 o-series # SKIP informational: matches no known behaviour "
            "(not like patched: x; not like base: y)"])

    def test_a_repeated_cell_fails_if_one_run_does(self):
        results = [cell("patched", attempt=1), cell("patched", met=False, attempt=2)]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, {"passed": 1, "failed": 1}, out)
        self.assertEqual(status, 1, out)
        self.assertIn("[PASSED] patched.r1", out)
        self.assertIn("[FAILED] patched.r2", out)
        self.assertIn("# repeat: s [legacy, patched]: met its expectation in 1 of 2 runs "
                      "(flaky: 50% failed)", ktap.render(results))

    def test_names_and_evidence_that_are_not_ktap(self):
        r = cell("o#series\nnext", expected="fail", scenario="s#1",
                 evidence="line 3: CPU: 0 PID: 1 # SKIP\nnext line")
        status, counts, out = self.parse([r])
        self.assertEqual(counts, {"passed": 1}, out)
        self.assertEqual(status, 0, out)
        self.assertIn("[PASSED] o%23series next", out)
        self.assertNotIn("[ERROR]", out)

    def test_a_quoted_panic_does_not_end_the_parse(self):
        # kunit.py stops reading at a VFS panic, wherever it is in a line.
        r = cell("patched", met=False)
        r.reasons = ["forbidden panic at line 9: Kernel panic - not syncing: VFS: "
                     "Unable to mount root fs on unknown-block(0,0)"]
        results = [r, cell("patched", scenario="t")]
        status, counts, out = self.parse(results)
        self.assertEqual(counts, {"passed": 1, "failed": 1}, out)
        self.assertEqual(status, 1, out)
        self.assertNotIn("[ERROR]", out)
        self.assertIn("[PASSED] t", out)


class Lines(unittest.TestCase):
    """What the KTAP says, for a reader: the layout (kunit.py ignores
    indentation) and what it says of a cell."""
    def test_layout(self):
        results = [cell("patched", mode=m) for m in ("legacy", "scalable")]
        self.assertEqual(ktap.render(results), "\n".join([
            "KTAP version 1",
            "1..1",
            "  KTAP version 1",
            "  # Subtest: s",
            "  1..2",
            "    KTAP version 1",
            "    # Subtest: legacy",
            "    1..1",
            "    ok 1 patched",
            "  ok 1 legacy",
            "    KTAP version 1",
            "    # Subtest: scalable",
            "    1..1",
            "    ok 1 patched",
            "  ok 2 scalable",
            "ok 1 s",
            "# 2 passed, 0 failed",
            ""]))

    def leaf(self, r):
        lines = ktap.render([r]).splitlines()
        i = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith(("ok 1 ", "not ok 1 ")))
        return [ln.strip() for ln in lines[i - 2:i + 1]]

    def test_an_expected_failure_gives_its_evidence(self):
        r = cell("unpatched", expected="fail", evidence="line 464: [   12.6] DMAR: ITE")
        self.assertEqual(self.leaf(r)[-1], "ok 1 unpatched # XFAIL line 464: [ 12.6] DMAR: ITE")

    def test_a_failure_says_why_before_its_result(self):
        r = cell("patched", met=False, outcome="timeout", duration=61.5, workdir="/r/s.legacy.p",
                 reasons=["timeout: guest did not answer 'x'"])
        self.assertEqual(self.leaf(r), ["# timeout: guest did not answer 'x'",
                                        "# logs in /r/s.legacy.p",
                                        "not ok 1 patched # TIMEOUT 61s"])

    def test_an_infrastructure_failure_is_an_error(self):
        r = cell("patched", met=False, outcome="error",
                 reasons=["harness: cannot start QEMU: no such file"])
        self.assertEqual(self.leaf(r)[-1], "not ok 1 patched # ERROR")

    def test_a_finding_stays_not_ok(self):
        r = cell("sid", met=False, informational=True)
        self.assertEqual(self.leaf(r)[-1],
                         "not ok 1 sid # SKIP informational: required line missing: /x/")

    def test_closing_counts(self):
        text = ktap.render([cell("patched", met=False), cell("sid", informational=True)])
        self.assertTrue(text.endswith("# informational column (sid): 1 as expected, 0 findings\n"
                                      "# 0 passed, 1 failed\n"), text)


if __name__ == "__main__":
    unittest.main()
