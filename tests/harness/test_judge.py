"""The cell verdict: an expected failure is met only by a failed run that
shows the expected signature; anything else is reported."""
import os
import tempfile
import unittest

from harness import guest_log
from harness.machine import QEMU_STDERR
from harness.runner import CellResult, judge
from harness.scenario import Expectation

STALL = "[29.4] rcu: INFO: rcu_sched self-detected stall on CPU\n"
SIG = r"rcu: INFO: rcu_sched self-detected stall"


def verdict(failed, log, exp, require=()):
    res = CellResult("s", "unpatched", exp.outcome)
    judge(res, failed, guest_log.check(log, require, (), exp.signature, exp.repeat), exp)
    return res


ITE = "[7.3] DMAR: VT-d detected Invalidation Time-out Error: SID 100\n"


class Judge(unittest.TestCase):
    def test_pass(self):
        r = verdict(None, "[1.0] all good\n", Expectation())
        self.assertTrue(r.met)
        self.assertEqual(r.outcome, "pass")

    def test_missing_required_line_fails(self):
        r = verdict(None, "[1.0] all good\n", Expectation(), require=["pciehp"])
        self.assertFalse(r.met)
        self.assertEqual(r.reasons, ["required line missing: /pciehp/"])

    def test_timeout_kept_as_outcome(self):
        r = verdict(("timeout", "timeout: guest did not answer"), STALL, Expectation())
        self.assertEqual(r.outcome, "timeout")
        self.assertFalse(r.met)
        self.assertIn("forbidden RCU stall", r.reasons[1])

    def test_expected_failure_seen(self):
        r = verdict(("timeout", "timeout: guest did not answer"), STALL,
                    Expectation("fail", SIG))
        self.assertTrue(r.met)
        self.assertTrue(r.evidence.startswith("line 1: "))
        self.assertIn("expected failure seen", r.summary())

    def test_expected_failure_but_passed(self):
        r = verdict(None, "[1.0] all good\n", Expectation("fail", SIG))
        self.assertFalse(r.met)
        self.assertIn("but the run passed", r.reasons[-1])

    def test_failed_differently(self):
        r = verdict(("error", "QEMU exited on its own (status -6)"),
                    "[1.0] Kernel panic - not syncing\n", Expectation("fail", SIG))
        self.assertFalse(r.met)
        self.assertIn("not with the expected signature", r.reasons[-1])

    def test_stall_in_an_otherwise_passing_run_meets_it(self):
        # The log shows a stall but the run otherwise passed: the forbidden
        # list turns it into a failure, so the expectation is met.
        r = verdict(None, STALL, Expectation("fail", SIG))
        self.assertEqual(r.outcome, "fail")
        self.assertTrue(r.met)


class HarnessFinding(unittest.TestCase):
    ORDER = "trace order: no /inval_completed/ after /cc_device/"

    def test_signature_in_a_finding(self):
        r = verdict(("fail", self.ORDER), "[1.0] all good\n",
                    Expectation("fail", r"no /inval_completed/ after"))
        self.assertTrue(r.met)
        self.assertEqual(r.evidence, "harness: " + self.ORDER)

    def test_other_finding_does_not_meet_it(self):
        r = verdict(("fail", "trace order: /ats_enable/ never seen"), "[1.0] all good\n",
                    Expectation("fail", r"no /inval_completed/ after"))
        self.assertFalse(r.met)


    def test_missing_required_line_is_no_finding(self):
        """A run that failed early, before the line that is both required
        and the signature: the reason quotes the regex, which matches
        itself, and must not meet the expectation."""
        sig = "Invalidation Time-out Error: SID 100"
        r = verdict(("fail", "qom-check 'x': qom-get failed: Property 'y' not found"),
                    "[1.0] all good\n", Expectation("fail", sig), require=[sig])
        self.assertFalse(r.met)
        self.assertIn("required line missing: /%s/" % sig, r.reasons)


class Sanitizer(unittest.TestCase):
    def test_sanitizer_report_fails_even_an_expected_failure(self):
        from harness.runner import SANITIZER_REASON
        r = verdict(("error", SANITIZER_REASON + "ERROR: AddressSanitizer: heap-use-after-free"),
                    ITE * 3, Expectation("fail", "Invalidation Time-out Error: SID 100"))
        self.assertFalse(r.met)
        self.assertEqual(r.outcome, "error")

    def test_every_report_kind_is_found(self):
        from harness.runner import qemu_sanitizer_report
        for line in ("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1",
                     "==1==ERROR: LeakSanitizer: detected memory leaks",
                     "../hw/pci/pci.c:10:5: runtime error: shift exponent 40 is too large",
                     "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ../a.c:1:2"):
            with self.subTest(line), tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, QEMU_STDERR), "w") as f:
                    f.write("qemu-system-x86_64: warning: x\n" + line + "\n")
                self.assertEqual(qemu_sanitizer_report(d), line)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, QEMU_STDERR), "w") as f:
                f.write("qemu-system-x86_64: terminating on signal 15\n")
            self.assertIsNone(qemu_sanitizer_report(d))


class Repeat(unittest.TestCase):
    def test_signature_must_repeat(self):
        exp = Expectation("fail", "Invalidation Time-out Error: SID 100", 3)
        r = verdict(("timeout", "timeout: guest did not answer"), ITE * 2, exp)
        self.assertFalse(r.met)
        self.assertIn("(3 times)", r.reasons[-1])
        r = verdict(("timeout", "timeout: guest did not answer"), ITE * 3, exp)
        self.assertTrue(r.met)
        self.assertTrue(r.evidence.startswith("line 3: "))


if __name__ == "__main__":
    unittest.main()
