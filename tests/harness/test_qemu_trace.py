"""The trace-order check: regexes must match trace lines in order."""
import unittest

from harness.qemu_trace import check_absent, check_order

LINES = [
    "ats_testdev_ats_enable enabled=1",
    "vtd_inv_desc_cc_device context invalidate device 01:00.00",
    "ats_testdev_ats_enable enabled=0",
    "vtd_inv_desc_cc_device context invalidate device 01:00.00",
    "ats_testdev_inval_completed iova=0x0 itag=20 error=0",
]


class Order(unittest.TestCase):
    def test_in_order(self):
        self.assertIsNone(check_order(LINES, ["enabled=0", "cc_device", "inval_completed"]))

    def test_earlier_match_does_not_count(self):
        # The context invalidation at boot comes before ATS is disabled.
        self.assertEqual(check_order(LINES[:3], ["enabled=0", "cc_device"]),
                         "trace order: no /cc_device/ after /enabled=0/")

    def test_never_seen(self):
        self.assertEqual(check_order(LINES, ["inval_dropped"]),
                         "trace order: /inval_dropped/ never seen")

    def test_nothing_asked(self):
        self.assertIsNone(check_order([], []))


class Absent(unittest.TestCase):
    def test_absent(self):
        self.assertIsNone(check_absent(LINES, ["vtd_devtlb_inv_unexpected", "error=1"]))

    def test_first_forbidden_line(self):
        self.assertEqual(check_absent(LINES, ["inval_dropped", "cc_device"]),
                         "trace: forbidden /cc_device/ at line 2: "
                         "vtd_inv_desc_cc_device context invalidate device 01:00.00")

    def test_nothing_asked(self):
        self.assertIsNone(check_absent(LINES, []))


if __name__ == "__main__":
    unittest.main()
