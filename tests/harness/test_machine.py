"""The machine: socket paths (a deep results directory must not push a
unix socket's path past sun_path's 108 bytes: QEMU accepts one Python
cannot connect to), and a QEMU that cannot start (its cell is an error
that says why, with every file closed, and nothing raised from stop())."""
import asyncio
import dataclasses
import os
import shutil
import stat
import sys
import tempfile
import textwrap
import time
import unittest
from unittest import mock

from harness import machine, scenario
from harness.machine import Machine, Paths, qemu_command, socket_dir, tsc_cmdline

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# QEMU's own QMP library, from the pinned source tree the build unpacks.
QEMU_PYTHON = os.path.join(TOP, "build", "qemu", "src", "python")
HAVE_QMP = os.path.isdir(os.path.join(QEMU_PYTHON, "qemu", "qmp"))
# What makes `from qemu.qmp.legacy import ...` fail whatever sys.path says.
NO_QMP = {"qemu": None, "qemu.qmp": None, "qemu.qmp.legacy": None}


def open_fds():
    return sorted(os.listdir("/proc/self/fd"))


class SocketDir(unittest.TestCase):
    def test_short_workdir_kept(self):
        self.assertEqual(socket_dir("/tmp/r/cell"), "/tmp/r/cell")

    def test_long_workdir_moved(self):
        deep = "/tmp/ci-clone/build/results/20261128-204758/" \
               "ats-testdev-dma-running-device-del.scalable.unpatched"
        d = socket_dir(deep)
        self.assertNotEqual(d, deep)
        self.assertLess(len(os.path.join(d, "agent.sock")), 100)
        self.assertEqual(d, socket_dir(deep))   # stable for the same cell
        os.rmdir(d)


GOLDEN_SCENARIO = """
[scenario]
description = the golden command line's
memory = 512M
iommu = intremap=on,device-iotlb=on,devtlb-timeout-ms=50
devices = -device ats-testdev,id=dut,bus=rp1
cmdline = iommu.strict=1
trace = ats_testdev_*
steps =
    guest ping
"""
GOLDEN_PATHS = Paths(qemu="/b/qemu-system-x86_64", firmware="/b/firmware",
                     kernel="/b/bzImage", initramfs="/b/initramfs.cpio",
                     qmp_python="/b/python", tsc_khz=2000000, hz=250)


def golden(iommu, sm):
    """The whole command line, word by word, for GOLDEN_SCENARIO."""
    return [
        "/b/qemu-system-x86_64",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-L", "/b/firmware",
        "-machine", "q35",
        "-accel", "tcg,thread=single",
        "-cpu", "max",
        "-smp", "2",
        "-m", "512M",
        "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
        "-device", iommu,
        "-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1",
        "-device", "ats-testdev,id=dut,bus=rp1",
        "-kernel", "/b/bzImage",
        "-initrd", "/b/initramfs.cpio",
        "-append", "console=ttyS0,115200 loglevel=7 panic=-1 printk.time=1 no_timer_check "
                   "intel_iommu=on,%s tsc_early_khz=2000000 lpj=8000000 iommu.strict=1" % sm,
        "-chardev", "file,id=console,path=/r/cell/serial.log",
        "-serial", "chardev:console",
        "-chardev", "socket,id=agent,path=/r/cell/agent.sock,server=on,wait=off",
        "-serial", "chardev:agent",
        "-chardev", "socket,id=qmp,path=/r/cell/qmp.sock",
        "-mon", "chardev=qmp,mode=control",
        "-D", "/r/cell/qemu-debug.log",
        "-msg", "timestamp=on",
        "-trace", "vtd_devtlb_inv_submit",
        "-trace", "vtd_devtlb_inv_complete",
        "-trace", "vtd_devtlb_inv_timeout",
        "-trace", "vtd_inv_qi_ite_clear",
        "-trace", "ats_testdev_*",
    ]


GOLDEN_SMMUV3 = GOLDEN_SCENARIO + """
[smmuv3]
iommu = atc-inv-timeout-ms=50
"""
GOLDEN_ARM64_PATHS = Paths(qemu="/b/qemu-system-aarch64", firmware="/b/firmware",
                           kernel="/b/Image", initramfs="/b/initramfs.cpio",
                           qmp_python="/b/python")


def golden_smmuv3(iommu):
    """The whole command line, word by word, for GOLDEN_SCENARIO in the
    smmuv3 mode: virt, arm-smmuv3, the PL011 console; no firmware, no
    ICH9 hot-plug global, no TSC."""
    return [
        "/b/qemu-system-aarch64",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-machine", "virt,gic-version=3",
        "-accel", "tcg,thread=single",
        "-cpu", "max",
        "-smp", "2",
        "-m", "512M",
        "-device", iommu,
        "-device", "pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1",
        "-device", "ats-testdev,id=dut,bus=rp1",
        "-kernel", "/b/Image",
        "-initrd", "/b/initramfs.cpio",
        "-append", "console=ttyAMA0 loglevel=7 panic=-1 printk.time=1 iommu.strict=1",
        "-chardev", "file,id=console,path=/r/cell/serial.log",
        "-serial", "chardev:console",
        "-chardev", "socket,id=agent,path=/r/cell/agent.sock,server=on,wait=off",
        "-serial", "chardev:agent",
        "-chardev", "socket,id=qmp,path=/r/cell/qmp.sock",
        "-mon", "chardev=qmp,mode=control",
        "-D", "/r/cell/qemu-debug.log",
        "-msg", "timestamp=on",
        "-trace", "smmuv3_atc_inv_submit",
        "-trace", "smmuv3_atc_inv_complete",
        "-trace", "smmuv3_atc_inv_sync_timeout",
        "-trace", "smmuv3_cmdq_err_ack",
        "-trace", "ats_testdev_*",
    ]


class QemuCommand(unittest.TestCase):
    """The exact command line: any change to it shows up here as a diff
    (and is then also a change to every cell's command.sh)."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "golden.scenario")
            with open(p, "w") as f:
                f.write(textwrap.dedent(GOLDEN_SCENARIO))
            cls.scenario = scenario.load(p)

    def command(self, mode, accel="tcg"):
        return qemu_command(GOLDEN_PATHS, self.scenario, "/r/cell", accel, mode)

    def test_legacy(self):
        self.assertEqual(self.command("legacy"), golden(
            "intel-iommu,id=iommu,intremap=on,device-iotlb=on,devtlb-timeout-ms=50",
            "sm_off"))

    def test_scalable(self):
        self.assertEqual(self.command("scalable"), golden(
            "intel-iommu,id=iommu,intremap=on,device-iotlb=on,devtlb-timeout-ms=50,"
            "x-scalable-mode=on", "sm_on"))

    def test_smmuv3(self):
        """The scenario's [smmuv3] iommu after arm-smmuv3's own properties;
        the [scenario] section's (intel-iommu's) nowhere."""
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "golden.scenario")
            with open(p, "w") as f:
                f.write(textwrap.dedent(GOLDEN_SMMUV3).replace(
                    "trace = ", "modes = legacy smmuv3\ntrace = "))
            s = scenario.load(p)
        self.assertEqual(
            qemu_command(GOLDEN_ARM64_PATHS, s.in_mode("smmuv3"), "/r/cell", "tcg", "smmuv3"),
            golden_smmuv3("arm-smmuv3,id=iommu,primary-bus=pcie.0,ats=on,atc-inv-timeout-ms=50"))
        # The legacy cell of the same file is the golden x86 one.
        self.assertEqual(qemu_command(GOLDEN_PATHS, s.in_mode("legacy"), "/r/cell", "tcg",
                                      "legacy"), self.command("legacy"))

    def test_smmuv3_default_properties(self):
        s = dataclasses.replace(self.scenario, modes=["smmuv3"])
        self.assertEqual(
            qemu_command(GOLDEN_ARM64_PATHS, s.in_mode("smmuv3"), "/r/cell", "tcg", "smmuv3"),
            golden_smmuv3("arm-smmuv3,id=iommu,primary-bus=pcie.0,ats=on"))

    def test_kvm_changes_only_machine_and_accel(self):
        tcg, kvm = self.command("legacy"), self.command("legacy", "kvm")
        self.assertEqual([(a, b) for a, b in zip(tcg, kvm) if a != b],
                         [("q35", "q35,kernel-irqchip=split"), ("tcg,thread=single", "kvm")])
        self.assertEqual(len(tcg), len(kvm))

    def test_timeline_off_keeps_the_scenarios_trace(self):
        s = dataclasses.replace(self.scenario, timeline=False)
        cmd = qemu_command(GOLDEN_PATHS, s, "/r/cell", "tcg", "legacy")
        whole = self.command("legacy")
        self.assertEqual(cmd, whole[:whole.index("-trace")] + ["-trace", "ats_testdev_*"])

    def test_tsc_cmdline(self):
        self.assertEqual(tsc_cmdline(0, 250), "")
        self.assertEqual(tsc_cmdline(2445427), "tsc_early_khz=2445427")
        self.assertEqual(tsc_cmdline(2445427, 100), "tsc_early_khz=2445427 lpj=24454270")


@unittest.skipUnless(HAVE_QMP, "QEMU's python/ is not unpacked (ninja -C build)")
class StartFailure(unittest.TestCase):
    """Machine.start() failing at each of its steps."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ite-machine-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        # The QMP library runs on this thread's event loop: made here, so
        # that the open descriptors before and after are comparable.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.addCleanup(loop.close)
        self.addCleanup(asyncio.set_event_loop, None)
        self.fds = open_fds()

    def machine(self, qemu="/nonexistent"):
        paths = Paths(qemu, "/nonexistent-firmware", "bzImage", "initramfs", QEMU_PYTHON)
        return Machine(paths, [qemu], self.workdir)

    def assert_start_fails(self, m, reason):
        """start() raises StartError saying `reason` (a regex); stop()
        afterwards raises nothing and leaves no file open. Returns what
        stop() said."""
        try:
            m.start(timeout=20)
        except Exception as e:      # noqa: BLE001 (checked below)
            err = e
        else:
            m.stop()
            self.fail("start() succeeded")
        how = m.stop()
        self.assertIsInstance(err, machine.StartError)
        self.assertRegex(str(err), "^cannot start QEMU: " + reason)
        self.assertEqual(open_fds(), self.fds)
        self.assertFalse(m.alive())
        return how

    def test_qemu_missing(self):
        how = self.assert_start_fails(
            self.machine("/nonexistent"),
            r"\[Errno 2\] No such file or directory: '/nonexistent'$")
        self.assertEqual(how, "not started")

    def test_qemu_not_executable(self):
        path = os.path.join(self.workdir, "qemu-system-x86_64")
        open(path, "w").close()
        self.assert_start_fails(self.machine(path), r"\[Errno 13\] Permission denied")

    def test_qmp_library_missing(self):
        m = self.machine()
        with mock.patch.dict(sys.modules, NO_QMP):
            self.assert_start_fails(m, "no QMP library in %s" % QEMU_PYTHON)

    def test_qmp_socket_cannot_bind(self):
        os.mkdir(os.path.join(self.workdir, "qmp.sock"))
        self.assert_start_fails(self.machine(), r"cannot listen for QMP: \[Errno 98\] .*/qmp\.sock' is already in use$")

    def test_qemu_exits_at_once(self):
        # It never connects to QMP: start() must not wait out its timeout.
        t0 = time.monotonic()
        how = self.assert_start_fails(self.machine("/bin/false"),
                                      r"it exited with status 1$")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(how, "exited")

    def test_qemu_says_why(self):
        # What QEMU prints (with -msg timestamp=on) is the reason.
        path = os.path.join(self.workdir, "qemu-system-x86_64")
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho '2026-11-30T23:53:34.118643Z qemu-system-x86_64: "
                    "-device intel-iommu,bogus=on: Property '\\''intel-iommu.bogus'\\'' "
                    "not found' >&2\nexit 1\n")
        os.chmod(path, stat.S_IRWXU)
        self.assert_start_fails(
            self.machine(path),
            "it exited with status 1: qemu-system-x86_64: -device intel-iommu,bogus=on: "
            "Property 'intel-iommu.bogus' not found$")

    def test_no_file_before_start(self):
        m = self.machine()
        self.assertEqual(os.listdir(self.workdir), [])
        self.assertEqual(m.stop(), "not started")
        self.assertEqual(m.stop(), "not started")
        self.assertEqual(open_fds(), self.fds)


if __name__ == "__main__":
    unittest.main()
