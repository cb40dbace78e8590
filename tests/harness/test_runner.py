"""A cell whose QEMU cannot start ends as an error that says why, and
neither it nor a bug of the harness's takes the other cells down with it.
No guest boots here: the QEMUs fail before there is one."""
import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

from harness import diagnosis, kernels, main, runner, scenario
from harness.machine import Paths

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU_PYTHON = os.path.join(TOP, "build", "qemu", "src", "python")
HAVE_QMP = os.path.isdir(os.path.join(QEMU_PYTHON, "qemu", "qmp"))
QEMU = os.path.join(TOP, "build", "qemu", "build", "qemu-system-x86_64")
NO_QMP = {"qemu": None, "qemu.qmp": None, "qemu.qmp.legacy": None}

SCENARIO = """\
[scenario]
description = a cell for QEMUs that do not start
timeout = 30
devices = -device virtio-rng-pci,id=dut,bus=rp1
steps =
    guest ping
require =
    DMAR: IOMMU enabled
"""


KERNEL = os.path.join(TOP, "build", "linux", "patched", "src", "arch", "x86", "boot",
                      "bzImage")
INITRAMFS = os.path.join(TOP, "build", "initramfs-patched.cpio")


def paths(qemu):
    return Paths(qemu, os.path.join(TOP, "build", "firmware"), KERNEL, INITRAMFS, QEMU_PYTHON)


@unittest.skipUnless(HAVE_QMP, "QEMU's python/ is not unpacked (ninja -C build)")
class StartFailure(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ite-runner-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.results = os.path.join(self.dir, "results")
        os.makedirs(self.results)

    def scenario(self, text=SCENARIO, name="no-start"):
        p = os.path.join(self.dir, name + ".scenario")
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        return scenario.load(p)

    def run_cell(self, qemu, s=None, kernel="patched"):
        r = runner.run_cell(s or self.scenario(), kernels.builtin(os.path.join(TOP, "build"),
                                                                  kernel),
                            paths(qemu), self.results)
        with open(os.path.join(r.workdir, runner.RESULT_FILE)) as f:
            self.assertEqual(json.load(f)["outcome"], r.outcome)
        return r

    def assert_error(self, r, summary):
        self.assertEqual(r.outcome, "error")
        self.assertFalse(r.met)
        self.assertRegex(r.summary(), "^" + summary)

    def test_qemu_missing(self):
        r = self.run_cell("/nonexistent")
        # The reason, and only it: no guest, so no "required line missing".
        self.assertEqual(r.summary(), "harness: cannot start QEMU: [Errno 2] "
                         "No such file or directory: '/nonexistent'")
        self.assert_error(r, "harness: cannot start QEMU")
        self.assertEqual(r.timings["stop"], "not started")

    def test_qmp_library_missing(self):
        with mock.patch.dict(sys.modules, NO_QMP):
            r = self.run_cell("/nonexistent")
        self.assert_error(r, "harness: cannot start QEMU: no QMP library in ")

    def test_qemu_exits_at_once(self):
        r = self.run_cell("/bin/false")
        self.assert_error(r, "harness: cannot start QEMU: it exited with status 1$")
        self.assertLess(r.duration, 10)

    def test_expected_failure_not_met(self):
        s = self.scenario(SCENARIO + "[patched]\nexpect = fail\nsignature = ITE\n")
        r = self.run_cell("/nonexistent", s)
        self.assert_error(r, "harness: cannot start QEMU: ")
        self.assertIn("not with the expected signature", r.summary())

    @unittest.skipUnless(os.access(QEMU, os.X_OK) and os.path.exists(KERNEL),
                         "QEMU and the patched kernel are not built")
    def test_real_qemu_refuses_an_option(self):
        # QEMU connects to QMP, then fails on the device (after it has
        # loaded the kernel): it closes QMP while it still runs, and the
        # cell must neither ask it for a diagnosis nor report less than
        # what QEMU said.
        s = self.scenario(SCENARIO + "iommu = bogus=on\n")
        r = self.run_cell(QEMU, s)
        self.assert_error(r, "harness: cannot start QEMU: it exited with status 1: "
                          "qemu-system-x86_64: -device intel-iommu,id=iommu,bogus=on: "
                          "Property 'intel-iommu.bogus' not found$")
        self.assertFalse(os.path.exists(os.path.join(r.workdir, diagnosis.DIAGNOSIS_FILE)))

    def test_timeline_off_has_no_timeline_figures(self):
        # A cell's timeline figures come from its trace; a scenario that
        # records none gets none, not "0 ITEs".
        self.assertIn("ite", self.run_cell("/nonexistent").timings)
        r = self.run_cell("/nonexistent", self.scenario(SCENARIO + "timeline = off\n"))
        self.assert_error(r, "harness: cannot start QEMU")
        self.assertNotIn("ite", r.timings)

    def test_harness_bug_ends_only_its_cell(self):
        with mock.patch.object(runner.timeline, "write_pictures",
                               side_effect=RuntimeError("boom")), \
                contextlib.redirect_stderr(io.StringIO()) as err:
            r = self.run_cell("/nonexistent")
        self.assert_error(r, r"harness: internal error: RuntimeError: boom \(traceback in ")
        with open(os.path.join(r.workdir, runner.HARNESS_ERROR_FILE)) as f:
            self.assertIn("Traceback", f.read())
        self.assertIn("RuntimeError: boom", err.getvalue())


@unittest.skipUnless(HAVE_QMP, "QEMU's python/ is not unpacked (ninja -C build)")
class Pool(unittest.TestCase):
    def test_other_cells_go_on(self):
        """Two cells through run-tests.sh's process pool, whose QEMUs
        cannot start: both report it, and the run goes on."""
        d = tempfile.mkdtemp(prefix="ite-pool-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        s = scenario.load(os.path.join(TOP, "scenarios", "device-del-idle.scenario"))
        s2 = scenario.load(os.path.join(TOP, "scenarios", "hung-device-dma.scenario"))
        patched = kernels.builtin(os.path.join(d, "build"), "patched")
        cells = [main.Cell(s, "legacy", patched, 0), main.Cell(s2, "legacy", patched, 0)]
        a = argparse.Namespace(jobs=2, accel="tcg", boot="snapshot")
        # The workers are forked while the QMP library cannot be imported.
        with mock.patch.dict(sys.modules, NO_QMP), \
                contextlib.redirect_stderr(io.StringIO()):
            results = [r for _, r in main.run_cells(cells, os.path.join(d, "build"),
                                                    os.path.join(d, "results"), a, 0,
                                                    {"x86_64": "/nonexistent"})]
        self.assertEqual([(r.scenario, r.outcome) for r in results],
                         [("device-del-idle", "error"), ("hung-device-dma", "error")])
        for r in results:
            self.assertIn("cannot start QEMU: no QMP library in ", r.summary())


if __name__ == "__main__":
    unittest.main()
