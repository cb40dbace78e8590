"""The report rendered from a real run's recorded results
(tests/data/results/matrix.json): what its summary says of each cell, and
that the page of the whole matrix stays small however long its cells ran."""
import json
import os
import tempfile
import unittest

from harness import guest_log, qemu_trace, qmp_log, report, report_html, timeline
from harness.runner import CellResult

RECORDED = os.path.join(os.path.dirname(__file__), "..", "data", "results", "matrix.json")
PAGE_LIMIT = 1 << 20


def recorded(results_dir):
    """The recorded cells, each with a directory under results_dir."""
    with open(RECORDED) as f:
        cells = json.load(f)
    out = []
    for c in cells:
        r = CellResult(**c)
        r.workdir = os.path.join(results_dir, c["workdir"])
        os.makedirs(r.workdir)
        out.append(r)
    return out


def long_cell(workdir, n=1000):
    """A cell that ran long: n invalidations, n/10 ITEs, n/20 removals,
    and a guest log of long lines, the worst a cell gives the page."""
    trace, qmp = [], []
    for i in range(n):
        t = 1000.0 + i * 0.05
        trace.append("1@%.6f:vtd_devtlb_inv_submit sid=0x0100 itag=1 addr=0x0 mask=0xfff" % t)
        trace.append("1@%.6f:vtd_devtlb_inv_complete sid=0x0100 itag=1" % (t + 0.001))
        if i % 10 == 0:
            trace.append("1@%.6f:vtd_devtlb_inv_timeout sid=0x0100" % (t + 0.002))
            trace.append("1@%.6f:vtd_inv_qi_ite_clear head=1" % (t + 0.003))
        if i % 20 == 0:
            qmp.append(qmp_log.entry(1.0, t, ">", {"execute": "device_del",
                                                   "arguments": {"id": "d%d" % i}}))
            qmp.append(qmp_log.entry(1.0, t, "event", {
                "timestamp": {"seconds": int(t), "microseconds": 0},
                "event": "DEVICE_DELETED", "data": {"device": "d%d" % i}}))
    for name, lines in ((qemu_trace.TRACE_LOG, trace), (qmp_log.QMP_LOG, qmp),
                        (guest_log.SERIAL_LOG, ["[ %8.3f] %s" % (i, "x" * 150)
                                                for i in range(n)])):
        with open(os.path.join(workdir, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    timeline.write_pictures(timeline.events(workdir), "long", workdir)


class Recorded(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.results = recorded(self.dir.name)
        _, rows = report.summary(self.results)
        self.glance = {name: per for name, _, per in rows}

    def tearDown(self):
        self.dir.cleanup()

    def test_the_base_kernels_lock_up_where_the_bug_is(self):
        for name in ("hung-device-dma", "hung-device-no-itesid", "slow-device-above-timeout",
                     "surprise-removal-inflight-no-itesid"):
            for kernel in ("unpatched", "sid"):
                (worst, [(mode, verdict, text)]) = self.glance[name][kernel]
                self.assertEqual((worst, mode, verdict), ("bug", None, "bug"), (name, kernel))
                self.assertRegex(text, r"^locked up: an ITE every [0-9.–]+ m?s until killed "
                                 r"\([0-9–]+ ITEs in [0-9.–]+ s\)$", (name, kernel))

    def test_the_patched_kernel_recovers_there(self):
        for name in ("hung-device-dma", "hung-device-no-itesid", "slow-device-above-timeout",
                     "surprise-removal-inflight-no-itesid"):
            (worst, [(_, _, text)]) = self.glance[name]["patched"]
            self.assertEqual(worst, "recovered", name)
            self.assertRegex(text, r"^in [0-9.–]+ (ms|s)$", name)

    def test_a_kill_is_never_reported_as_a_recovery(self):
        for r in self.results:
            if r.timings.get("stop") == "killed" and r.timings.get("ite"):
                self.assertNotEqual(report.verdict(r), "recovered", r.label)
                self.assertIn("never (killed after", report.figure(r, "ite_recoveries_ms"),
                              r.label)

    def test_the_order_bug_in_words(self):
        (worst, [(_, _, text)]) = self.glance["device-del-ats-shutdown-order"]["unpatched"]
        self.assertEqual(worst, "bug")
        self.assertTrue(text.startswith("the ATC is never flushed"), text)

    def test_clean_scenarios_pass(self):
        self.assertEqual({k: v[0] for k, v in self.glance["device-del-idle"].items()},
                         {"patched": "pass", "unpatched": "pass", "sid": "pass"})

    def test_the_whole_matrix_stays_under_a_megabyte(self):
        # The run's verdicts, every cell as long as the longest: the page
        # is bounded per cell, not by how long cells ran.
        for r in self.results:
            long_cell(r.workdir)
        path = os.path.join(self.dir.name, "report.html")
        report_html.write_html(path, self.results, [("qemu", "x")])
        size = os.path.getsize(path)
        self.assertGreaterEqual(len(self.results), 96)
        self.assertLess(size, PAGE_LIMIT, "%d bytes for %d cells" % (size, len(self.results)))


if __name__ == "__main__":
    unittest.main()
