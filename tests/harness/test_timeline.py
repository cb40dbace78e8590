"""The timeline: events from QEMU's trace and the QMP transcript on one
clock, the figures the report shows, and a well-formed picture."""
import os
import tempfile
import unittest
import xml.dom.minidom

from harness import qmp_log, timeline

TRACE = """\
100@1000.000000:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff
100@1000.001000:vtd_devtlb_inv_complete sid=0x0100 itag=1
100@1001.000000:vtd_devtlb_inv_submit sid=0x0100 itag=2 addr=0x0 mask=0xfff
100@1001.100000:vtd_devtlb_inv_timeout sid=0x0100
100@1001.102000:vtd_inv_qi_ite_clear head=4
ats_testdev_ats_enable enabled=0
"""


def qmp(*entries):
    """A qmp.log of (wall, direction, message) entries."""
    return "".join(qmp_log.entry(1.0, wall, d, msg) + "\n" for wall, d, msg in entries)


def deleted(wall, device):
    return (wall + 0.5, "event", {"timestamp": {"seconds": int(wall), "microseconds":
                                                round(wall % 1 * 1e6)},
                                  "event": "DEVICE_DELETED", "data": {"device": device}})


QMP = qmp((1000.5, ">", {"execute": "device_del", "arguments": {"id": "dut"}}),
          (1000.502, "<", {"return": {}}),
          deleted(1006.4, "dut"))


class Timeline(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        for name, text in (("qemu-debug.log", TRACE), (qmp_log.QMP_LOG, QMP)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

    def test_events_in_order(self):
        evs = timeline.events(self.dir)
        self.assertEqual([e.lane for e in evs],
                         ["submitted", "completed", "host action", "submitted",
                          "timed out", "ITE cleared", "device removed"])

    def test_figures(self):
        f = timeline.figures(timeline.events(self.dir), end=1010.0)
        self.assertEqual(f["ite"], 1)
        self.assertEqual(f["ite_to_clear_ms"], 2.0)
        self.assertEqual(f["ite_recoveries_ms"], [102.0])
        self.assertNotIn("ite_unrecovered", f)
        self.assertEqual(f["unplugs_ms"], [5900.0])

    def test_a_kill_is_not_a_recovery(self):
        # The flush is resent after each ITE until QEMU is stopped: the
        # guest never got past it, whatever it cleared on the way.
        lines = []
        for i in range(50):
            t = 1000.0 + i * 0.105
            lines += ["1@%.6f:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff" % t,
                      "1@%.6f:vtd_devtlb_inv_timeout sid=0x0100" % (t + 0.1),
                      "1@%.6f:vtd_inv_qi_ite_clear head=4" % (t + 0.102)]
        evs = self._events("\n".join(lines))
        f = timeline.figures(evs, end=1005.6)
        self.assertEqual(f["ite"], 50)
        self.assertNotIn("ite_recoveries_ms", f)
        self.assertEqual(f["ite_unrecovered"], {"ites": 50, "every_ms": 105.0, "for_s": 5.6})
        # Stopped long after the last ITE: the resends had ended.
        self.assertEqual(len(timeline.figures(evs, end=1015.0)["ite_recoveries_ms"]), 1)

    def test_a_guest_that_powers_off_went_on(self):
        # One ITE with a 2 s time-out, and the guest, done with its steps,
        # powers off 0.2 s later: too soon for the next ITE to show that
        # nobody resends, but the guest was not stuck in the flush.
        evs = self._events("1@1000.000000:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 "
                           "mask=0xfff\n1@1002.000000:vtd_devtlb_inv_timeout sid=0x0100\n"
                           "1@1002.003000:vtd_inv_qi_ite_clear head=4\n")
        self.assertEqual(timeline.figures(evs, end=1002.2, powered_off=True)
                         ["ite_recoveries_ms"], [2003.0])
        self.assertIn("ite_unrecovered", timeline.figures(evs, end=1002.2))

    def test_qemu_10_2_stamps(self):
        """QEMU 10.2's log backend stamps a trace line with the UTC time, as
        every log line with -msg timestamp=on (a recorded q35 cell's)."""
        evs = self._events(
            "2026-12-01T21:49:38.790871Z vtd_devtlb_inv_submit sid=0x0100 itag=0 "
            "pasid=0xffffffff global=0 addr=0xffffc000 mask=0x1fff\n"
            "2026-12-01T21:49:38.890871Z vtd_devtlb_inv_timeout sid=0x0100 itag=0\n"
            "2026-12-01T21:49:38.893871Z vtd_inv_qi_ite_clear head=4\n"
            "2026-12-01T21:49:38.893900Z qemu-system-x86_64: not a trace line\n")
        self.assertEqual([(e.lane, e.device) for e in evs],
                         [("submitted", "0x0100"), ("timed out", "0x0100"),
                          ("ITE cleared", "")])
        self.assertAlmostEqual(evs[0].t, 1796161778.790871, places=5)
        f = timeline.figures(evs, end=evs[-1].t + 0.2, powered_off=True)
        self.assertEqual((f["ite"], f["ite_recoveries_ms"]), (1, [103.0]))

    def test_cycles_give_one_figure_each(self):
        lines, qmp_entries = [], []
        for n in range(3):
            t = 1000.0 + n * 10
            lines += ["1@%.6f:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff" % t,
                      "1@%.6f:vtd_devtlb_inv_timeout sid=0x0100" % (t + 0.1),
                      "1@%.6f:vtd_inv_qi_ite_clear head=4" % (t + 0.1 + 0.01 * (n + 1))]
            qmp_entries += [(t + 1, ">", {"execute": "x-pcie-surprise-remove",
                                          "arguments": {"id": "s%d" % n}}),
                            deleted(t + 1 + 0.1 * (n + 1), "s%d" % n)]
        f = timeline.figures(self._events("\n".join(lines), qmp(*qmp_entries)), end=1100.0)
        self.assertEqual(f["ite_recoveries_ms"], [110.0, 120.0, 130.0])
        self.assertEqual(f["unplugs_ms"], [100.0, 200.0, 300.0])

    def test_removal_pairs_with_its_own_device(self):
        log = qmp((1000.0, ">", {"execute": "device_del", "arguments": {"id": "a"}}),
                  deleted(1001.0, "b"), deleted(1002.0, "a"))
        evs = self._events("", log)
        self.assertEqual(timeline.unplugs_ms(evs), [2000.0])
        self.assertEqual(timeline.figures(evs)["removed"], 2)

    def _events(self, trace, qmp_text=""):
        d = tempfile.mkdtemp()
        for name, text in (("qemu-debug.log", trace), (qmp_log.QMP_LOG, qmp_text)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        return timeline.events(d)

    def test_summary_stays_small(self):
        lines = ["1@%.6f:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff"
                 % (1000 + i * 0.01) for i in range(20000)]
        evs = self._events("\n".join(lines) + "\n1@1000.5:vtd_devtlb_inv_timeout sid=0x0100")
        small = timeline.summary_svg(evs, "long")
        self.assertLess(len(small), 8000)
        self.assertGreater(len(timeline.svg(evs, "long")), 3 * len(small))
        doc = xml.dom.minidom.parseString(small)
        self.assertEqual(doc.documentElement.tagName, "svg")
        with tempfile.TemporaryDirectory() as d:
            timeline.write_pictures(evs, "long", d)
            self.assertEqual(sorted(os.listdir(d)),
                             [timeline.SUMMARY_FILE, timeline.SVG_FILE])

    def test_svg_is_well_formed(self):
        evs = timeline.events(self.dir)
        self.assertTrue(timeline.interesting(evs))
        doc = xml.dom.minidom.parseString(timeline.svg(evs, "t <&> [legacy, patched]"))
        self.assertEqual(doc.documentElement.tagName, "svg")

    def test_nothing_recorded(self):
        empty = tempfile.mkdtemp()
        self.assertEqual(timeline.events(empty), [])
        self.assertEqual(timeline.figures([], end=1000.0), {"ite": 0})
        self.assertFalse(timeline.interesting([]))


if __name__ == "__main__":
    unittest.main()
