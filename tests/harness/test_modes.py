"""The vIOMMU modes and their machines (harness/modes.py): every mode's
machine is whole, kernels run only in the modes of their architecture,
the smmuv3 cells run only when asked for (the default matrix is the x86
one), and the arm64 kernel boots its Image on qemu-system-aarch64."""
import contextlib
import io
import os
import shutil
import tempfile
import unittest

from harness import build_layout, kernels, main, modes, scenario, timeline

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Definitions(unittest.TestCase):
    def test_scenario_modes_are_the_definitions(self):
        self.assertEqual(scenario.MODES, ("legacy", "scalable", "smmuv3"))
        self.assertEqual(scenario.DEFAULT_MODES, ("legacy", "scalable"))
        self.assertEqual({m.machine.name for m in modes.MODES.values()}, {"q35", "virt"})

    def test_every_machine_feeds_the_same_lanes(self):
        """The timeline's lanes are one set: each machine has an event for
        each, and no event is two machines'."""
        for m in modes.MACHINES.values():
            with self.subTest(m.name):
                self.assertEqual(tuple(lane for lane, _ in m.lanes), timeline.LANES)
        events = [e for m in modes.MACHINES.values() for _, e in m.lanes]
        self.assertEqual(len(events), len(set(events)))
        self.assertEqual(timeline.BY_EVENT["smmuv3_atc_inv_sync_timeout"], "timed out")
        self.assertEqual(timeline.BY_EVENT["vtd_devtlb_inv_timeout"], "timed out")

    def test_smmuv3_timeline_events_parsed(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        with open(os.path.join(d, "qemu-debug.log"), "w") as f:
            # hw/arm/trace-events' formats
            f.write("1@1700000000.100000:smmuv3_atc_inv_submit sid=0x0100 itag=1 ssv=0 "
                    "ssid=0x0 global=0 addr=0x0 mask=0xfff\n"
                    "1@1700000000.200000:smmuv3_atc_inv_sync_timeout sid=0x0100 itag=1 "
                    "pending=1 cons=0x5\n"
                    "1@1700000000.210000:smmuv3_cmdq_err_ack err=3 cons=0x5\n")
        evs = timeline.events(d)
        self.assertEqual([(e.lane, e.device) for e in evs],
                         [("submitted", "0x0100"), ("timed out", "0x0100"), ("ITE cleared", "")])
        self.assertEqual(timeline.figures(evs)["ite_recoveries_ms"], [110.0])

    def test_machine_of(self):
        self.assertIs(modes.machine_of(modes.X86), modes.Q35)
        self.assertIs(modes.machine_of(modes.ARM64), modes.VIRT)


class Kernels(unittest.TestCase):
    BUILD = "/nonexistent-build"

    def test_arch_of_the_lab_kernels(self):
        k = kernels.builtin(self.BUILD, "mainline-arm64")
        self.assertIs(k.arch, modes.ARM64)
        self.assertEqual(k.image, os.path.join(self.BUILD, "linux", "mainline-arm64", "src",
                                               "arch", "arm64", "boot", "Image"))
        self.assertEqual(k.initramfs, os.path.join(self.BUILD, "initramfs-mainline-arm64.cpio"))
        self.assertIs(kernels.builtin(self.BUILD, "patched").arch, modes.X86)

    def test_all_is_per_architecture(self):
        def labels(arches):
            return [k.label for k in kernels.resolve(["all"], self.BUILD, arches=arches)]
        self.assertEqual(labels((modes.X86,)), ["patched", "unpatched", "mainline",
                                                "mainline-base"])
        self.assertEqual(labels((modes.ARM64,)), ["mainline-arm64"])
        self.assertEqual(labels((modes.X86, modes.ARM64)),
                         ["patched", "unpatched", "mainline", "mainline-base", "mainline-arm64"])

    def test_arm64_image_by_path_refused(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        img = os.path.join(d, "Image")
        write_image(img)
        with self.assertRaises(kernels.KernelError) as cm:
            kernels.resolve([img], self.BUILD)
        self.assertIn("an arm64 Image: only the lab's own arm64 kernel", str(cm.exception))
        write_image(os.path.join(d, "tree", modes.ARM64.image))
        with self.assertRaises(kernels.KernelError) as cm:
            kernels.resolve([os.path.join(d, "tree")], self.BUILD)
        self.assertIn("an arm64 tree", str(cm.exception))

    def test_arm64_release(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        img = os.path.join(d, "Image")
        write_image(img, "7.2.8-ite-arm64")
        k = kernels.Kernel(label="mainline-arm64", image=img, initramfs="", arch=modes.ARM64)
        self.assertEqual(kernels.identity(k)["release"], "7.2.8-ite-arm64")


def write_image(path, release="7.2.8"):
    """A file with what an arm64 Image has that the harness reads: the
    header's magic, and the banner far past the first 64 KiB."""
    data = bytearray(0x20000)
    data[0x38:0x3c] = kernels.ARM64_MAGIC
    banner = ("Linux version %s (me@here) (gcc) #1 SMP\n" % release).encode()
    data[0x18000:0x18000 + len(banner)] = banner
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class Paths(unittest.TestCase):
    def test_arm64_paths(self):
        p = build_layout.paths_for("/b", "mainline-arm64", tsc_khz=2000000)
        self.assertEqual(p.qemu, "/b/qemu/build/qemu-system-aarch64")
        self.assertEqual(p.kernel, "/b/linux/mainline-arm64/src/arch/arm64/boot/Image")
        self.assertEqual((p.tsc_khz, p.hz), (0, 0))     # no TSC on arm64
        p = build_layout.paths_for("/b", "patched", qemu={"arm64": "/q/qemu-system-aarch64"})
        self.assertEqual(p.qemu, "/b/qemu/build/qemu-system-x86_64")
        p = build_layout.paths_for("/b", "mainline-arm64",
                                   qemu={"arm64": "/q/qemu-system-aarch64"})
        self.assertEqual(p.qemu, "/q/qemu-system-aarch64")

    def test_virt_needs_no_firmware(self):
        build = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, build)
        err = io.StringIO()
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(err):
            build_layout.check_built(build_layout.paths_for(build, "mainline-arm64"),
                                     modes.VIRT)
        self.assertIn("qemu-system-aarch64", err.getvalue())
        self.assertNotIn("bios-256k.bin", err.getvalue())

    def test_qemu_arch(self):
        self.assertEqual(build_layout.qemu_arch("/x/qemu-asan/build/qemu-system-x86_64"),
                         "x86_64")
        self.assertEqual(build_layout.qemu_arch("qemu-system-aarch64"), "arm64")
        self.assertIsNone(build_layout.qemu_arch("/usr/bin/qemu-kvm"))


class Matrix(unittest.TestCase):
    """Which cells run-tests.sh makes, from its --dry-run."""

    def setUp(self):
        self.build = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.build)

    def cells(self, *argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main.main(["--dry-run", "--build", self.build] + list(argv))
        if rc == 77:
            return []
        self.assertEqual(rc, 0)
        return [ln[2:] for ln in out.getvalue().splitlines() if ln.startswith("# ")]

    def smmuv3_scenarios(self):
        return [s.name for s in scenario.load_dir(os.path.join(TOP, "scenarios"))
                if "smmuv3" in s.modes]

    def test_default_matrix_has_no_arm64_cell(self):
        for argv in ((), ("-g", "default"), ("device-del-idle",), ("--kernel=all",)):
            with self.subTest(argv):
                cells = self.cells(*argv)
                self.assertTrue(cells)
                self.assertFalse([c for c in cells if "smmuv3" in c or "arm64" in c])

    def test_group_smmuv3(self):
        cells = self.cells("-g", "smmuv3")
        self.assertEqual(cells, ["%s [smmuv3, mainline-arm64]" % n
                                 for n in self.smmuv3_scenarios()])

    def test_mode_smmuv3(self):
        self.assertEqual(self.cells("--mode=smmuv3", "device-del-idle"),
                         ["device-del-idle [smmuv3, mainline-arm64]"])
        # An x86 kernel has no cell in smmuv3, nor a VT-d-only scenario.
        self.assertEqual(self.cells("--mode=smmuv3", "--kernel=patched", "device-del-idle"), [])
        self.assertEqual(self.cells("--mode=smmuv3", "hung-dma-fence"), [])

    def test_arm64_kernel_named(self):
        self.assertEqual(self.cells("--kernel=mainline-arm64", "device-del-idle"),
                         ["device-del-idle [smmuv3, mainline-arm64]"])
        self.assertEqual(self.cells("--kernel=patched,mainline-arm64", "device-del-idle"),
                         ["device-del-idle [legacy, patched]",
                          "device-del-idle [scalable, patched]",
                          "device-del-idle [smmuv3, mainline-arm64]"])

    def test_other_groups_of_smmuv3_cells(self):
        """-g default with the mode asked for: the smmuv3 cells of the
        default group's scenarios; -g smmuv3 with an x86 group: both."""
        cells = self.cells("--mode=smmuv3", "-g", "default")
        self.assertEqual(cells, ["%s [smmuv3, mainline-arm64]" % n
                                 for n in self.smmuv3_scenarios()
                                 if "default" in scenario.load(os.path.join(
                                     TOP, "scenarios", n + ".scenario")).groups])
        want = []
        for sc in scenario.load_dir(os.path.join(TOP, "scenarios")):
            if "smoke" in sc.groups:
                want += ["%s [%s, %s]" % (sc.name, m, k) for m in ("legacy", "scalable")
                         for k in ("patched", "unpatched", "mainline", "mainline-base")]
            if "smmuv3" in sc.modes:
                want.append("%s [smmuv3, mainline-arm64]" % sc.name)
        self.assertEqual(self.cells("-g", "smmuv3", "-g", "smoke"), want)

    def test_qemu_named_after_its_target(self):
        err = io.StringIO()
        with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(err):
            main.parse_args(["--qemu", "/usr/bin/qemu-kvm", "device-del-idle"])
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("name it after its target", err.getvalue())
        a = main.parse_args(["--qemu", "/a/qemu-system-x86_64", "--qemu",
                             "/b/qemu-system-aarch64"])
        self.assertEqual(a.qemu, ["/a/qemu-system-x86_64", "/b/qemu-system-aarch64"])


if __name__ == "__main__":
    unittest.main()
