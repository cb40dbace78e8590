"""The guest-log asserter on recorded logs (tests/data/logs, see its
README): a clean pass stays clean, and each kind of failure is caught by
the pattern meant for it, with the line that shows it."""
import os
import unittest

from harness import guest_log

LOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "data", "logs")

ITE_SIGNATURE = r"rcu: INFO: rcu_sched (self-)?detected stalls?|Watchdog detected hard LOCKUP"
HUNG_DEVICE_REQUIRED = (
    r"DMAR: VT-d detected Invalidation Time-out Error: SID 100",
    r"DMAR: Invalidation Time-out Error \(ITE\) cleared",
)
DEVICE_DEL_REQUIRED = (
    r"DMAR: IOMMU enabled",
    r"DMAR: dmar0: Using Queued invalidation",
    r"pciehp: Slot\(1\): Button press: will power off in 5 sec",
)


def read(name):
    with open(os.path.join(LOGS, name), errors="replace") as f:
        return f.read()


def forbidden_names(v):
    return sorted(h.what for h in v.forbidden)


class CleanPass(unittest.TestCase):
    def test_clean_with_required_lines(self):
        v = guest_log.check(read("patched-pass-stall-banner.log"), DEVICE_DEL_REQUIRED)
        self.assertTrue(v.clean, (v.missing, v.forbidden))

    def test_stall_timeout_banner_is_not_a_stall(self):
        text = read("patched-pass-stall-banner.log")
        self.assertIn("RCU CPU stall warnings timeout set to 7", text)
        self.assertEqual(guest_log.check(text).forbidden, [])

    def test_missing_required_line_is_reported(self):
        v = guest_log.check(read("patched-pass-stall-banner.log"),
                            [r"DMAR: VT-d detected Invalidation Time-out Error"])
        self.assertEqual(v.missing, [r"DMAR: VT-d detected Invalidation Time-out Error"])

    def test_scenario_forbid_list(self):
        v = guest_log.check(read("patched-pass-stall-banner.log"), forbid=[r"ite-agent: step 3"])
        self.assertEqual([h.what for h in v.forbidden], [r"ite-agent: step 3"])


class Failures(unittest.TestCase):
    def test_rcu_stall(self):
        text = read("unpatched-hung-device-rcu-stall.log")
        v = guest_log.check(text, HUNG_DEVICE_REQUIRED, signature=ITE_SIGNATURE)
        self.assertEqual(v.missing, [])
        self.assertEqual(forbidden_names(v), ["Call Trace", "RCU stall"])
        self.assertIn("rcu_sched detected stalls on CPUs/tasks", v.signature.line)
        self.assertIn("RIP: 0010:qi_submit_sync", text)

    def test_hard_lockup(self):
        v = guest_log.check(read("synthetic-unpatched-ite-hard-lockup.log"),
                            signature=ITE_SIGNATURE)
        self.assertEqual(forbidden_names(v), ["Call Trace", "hard lockup"])
        self.assertIn("Watchdog detected hard LOCKUP on cpu 1", v.signature.line)

    def test_signature_line_number_points_at_the_evidence(self):
        text = read("unpatched-hung-device-rcu-stall.log")
        v = guest_log.check(text, signature=ITE_SIGNATURE)
        self.assertEqual(guest_log.lines_of(text)[v.signature.lineno - 1], v.signature.line)

    def test_panic_mid_run(self):
        v = guest_log.check(read("unpatched-panic-no-init.log"), DEVICE_DEL_REQUIRED,
                            signature=ITE_SIGNATURE)
        self.assertEqual(forbidden_names(v), ["Call Trace", "panic"])
        self.assertIn(r"pciehp: Slot\(1\): Button press: will power off in 5 sec", v.missing)
        self.assertIsNone(v.signature, "a panic is not the expected ITE failure")

    def test_one_line_per_pattern_kind(self):
        text = ("[1.0] BUG: kernel NULL pointer dereference\n[1.1] Oops: 0002 [#1] SMP\n"
                "[2.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [sh:1]\n"
                "[3.0] INFO: task sh:42 blocked for more than 10 seconds.\n"
                "[4.0] WARNING: CPU: 0 PID: 1 at drivers/iommu/intel/dmar.c:1300\n"
                "[5.0] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n")
        v = guest_log.check(text)
        self.assertEqual(forbidden_names(v), ["BUG", "Oops", "RCU stall", "WARNING",
                                              "hung task", "soft lockup"])

    def test_arm64_stack_dump(self):
        """arm64 writes "Call trace:" where x86 writes "Call Trace:"."""
        v = guest_log.check("[9.0] Internal error: Oops: 0000000096000004 [#1] SMP\n"
                            "[9.1] Call trace:\n[9.2]  arm_smmu_cmdq_issue_cmdlist+0x1c/0x4c0\n")
        self.assertEqual(forbidden_names(v), ["Call Trace", "Oops"])

    def test_console_noise_is_stripped(self):
        v = guest_log.check("\x1b[0m[1.0] Kernel panic - not syncing: x\r\n")
        self.assertEqual(forbidden_names(v), ["panic"])
        self.assertFalse(v.forbidden[0].line.endswith("\r"))


class Excerpt(unittest.TestCase):
    def test_around_and_tail(self):
        text = "\n".join("line %d" % i for i in range(1, 101))
        self.assertEqual(guest_log.excerpt(text, around=50, before=1, after=1),
                         "line 49\nline 50\nline 51")
        self.assertEqual(guest_log.excerpt(text, tail=2), "line 99\nline 100")


if __name__ == "__main__":
    unittest.main()
