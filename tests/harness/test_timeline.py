"""The timeline: events from QEMU's trace and the QMP transcript on one
clock, the figures the report shows, and a well-formed picture."""
import os
import tempfile
import unittest
import xml.dom.minidom

from harness import timeline

TRACE = """\
100@1000.000000:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff
100@1000.001000:vtd_devtlb_inv_complete sid=0x0100 itag=1
100@1001.000000:vtd_devtlb_inv_submit sid=0x0100 itag=2 addr=0x0 mask=0xfff
100@1001.100000:vtd_devtlb_inv_timeout sid=0x0100
100@1001.102000:vtd_inv_qi_ite_clear head=4
ats_testdev_ats_enable enabled=0
"""
QMP = """\
   5.000 1000.500000 > {'execute': 'device_del', 'arguments': {'id': 'dut'}}
   5.002 1000.502000 < {'return': {}}
  11.000 1006.500000 event {'timestamp': {'seconds': 1006, 'microseconds': 400000}, \
'event': 'DEVICE_DELETED', 'data': {'device': 'dut', 'path': '/machine/peripheral/dut'}}
"""


class Timeline(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        for name, text in (("qemu-debug.log", TRACE), ("qmp.log", QMP)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

    def test_events_in_order(self):
        evs = timeline.events(self.dir)
        self.assertEqual([e.lane for e in evs],
                         ["submitted", "completed", "host action", "submitted",
                          "timed out", "ITE cleared", "device removed"])

    def test_figures(self):
        f = timeline.figures(timeline.events(self.dir))
        self.assertEqual(f["ite"], 1)
        self.assertEqual(f["ite_to_clear_ms"], 2.0)
        self.assertEqual(f["ite_recovery_ms"], 102.0)
        self.assertEqual(f["unplug_ms"], 5900.0)

    def test_svg_is_well_formed(self):
        evs = timeline.events(self.dir)
        self.assertTrue(timeline.interesting(evs))
        doc = xml.dom.minidom.parseString(timeline.svg(evs, "t <&> [legacy, patched]"))
        self.assertEqual(doc.documentElement.tagName, "svg")

    def test_nothing_recorded(self):
        empty = tempfile.mkdtemp()
        self.assertEqual(timeline.events(empty), [])
        self.assertEqual(timeline.figures([]), {"ite": 0})
        self.assertFalse(timeline.interesting([]))


if __name__ == "__main__":
    unittest.main()
