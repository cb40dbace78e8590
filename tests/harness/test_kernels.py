"""run-tests.sh --kernel: the lab's own kernels by name, other kernels by
path (a built tree or O= directory, a bare bzImage), and the clear error
and exit status 2 for anything else."""
import contextlib
import io
import os
import shutil
import tempfile
import unittest
from types import SimpleNamespace

from harness import kernels, main, runner, scenario
from harness.scenario import Expectation

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bzimage(path, release="6.99.0-mine"):
    """A file with what a bzImage has that the harness reads: the boot
    header's magic and its kernel_version string."""
    data = bytearray(0x400)
    data[0x202:0x206] = b"HdrS"
    data[0x20e:0x210] = (0x300 - 0x200).to_bytes(2, "little")
    v = ("%s (me@here) #1 SMP" % release).encode() + b"\0"
    data[0x300:0x300 + len(v)] = v
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tree(path, config=None, symvers=True):
    """A built kernel tree as far as the harness looks."""
    bzimage(os.path.join(path, kernels.BZIMAGE))
    with open(os.path.join(path, "Makefile"), "w"):
        pass
    with open(os.path.join(path, ".config"), "w") as f:
        f.write("\n".join(kernels.required_config() if config is None else config) + "\n")
    if symvers:
        with open(os.path.join(path, "Module.symvers"), "w"):
            pass
    return path


class Resolve(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ite-kernels-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.build = os.path.join(self.dir, "build")

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def resolve(self, *specs, **kw):
        return kernels.resolve(list(specs), self.build, **kw)

    def error(self, *specs, **kw):
        with self.assertRaises(kernels.KernelError) as cm:
            self.resolve(*specs, **kw)
        return str(cm.exception)

    def test_builtin_names(self):
        # "all": the two pairs, built or not (run-tests.sh says what is
        # missing), every one gating.
        ks = self.resolve("all")
        self.assertEqual([k.label for k in ks],
                         ["patched", "unpatched", "mainline", "mainline-base"])
        self.assertEqual([k.informational for k in ks], [False] * 4)
        self.assertEqual([k.label for k in self.resolve("unpatched,patched", "patched")],
                         ["unpatched", "patched"])
        k, = self.resolve("mainline-base")
        self.assertEqual(k.image, os.path.join(self.build, "linux", "mainline-base", "src",
                                                 kernels.BZIMAGE))
        self.assertIn("not one of the lab's kernels", self.error("sid"))

    def test_debug_kernel_only_when_named(self):
        # Built or not, "all" leaves the debug lane out; named, it is a
        # gating column of the lab's own, in build/linux/patched-debug/.
        bzimage(kernels.builtin(self.build, "patched-debug").image)
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertNotIn("patched-debug", [k.label for k in self.resolve("all")])
        k, = self.resolve("patched-debug")
        self.assertEqual((k.label, k.builtin, k.informational), ("patched-debug", True, False))
        self.assertEqual(k.image, os.path.join(self.build, "linux", "patched-debug", "src",
                                                 kernels.BZIMAGE))
        self.assertEqual(k.initramfs, os.path.join(self.build, "initramfs-patched-debug.cpio"))
        self.assertEqual([k.label for k in self.resolve("all,patched-debug")],
                         ["patched", "unpatched", "mainline", "mainline-base", "patched-debug"])
        self.assertNotIn("mainline-debug", [k.label for k in self.resolve("all")])
        self.assertIn("not patched, unpatched, mainline, mainline-base, patched-debug, "
                      "mainline-debug", self.error("patched-debug=" + self.path("x")))

    def test_tree_and_o_directory(self):
        t = tree(self.path("o-series"))
        k, = self.resolve(t)
        self.assertEqual((k.label, k.builtin, k.driver, k.kdir), ("o-series", False, True, t))
        self.assertEqual(k.image, os.path.join(t, kernels.BZIMAGE))
        self.assertTrue(k.initramfs.startswith(os.path.join(self.build, kernels.WORK_DIR)))
        self.assertTrue(k.informational)
        k, = self.resolve(t, expect="pass")
        self.assertFalse(k.informational)

    def test_labels_unique_and_named(self):
        a, b = tree(self.path("a", "patched")), tree(self.path("b", "patched"))
        self.assertEqual([k.label for k in self.resolve(a, b)], ["patched-2", "patched-3"])
        self.assertEqual([k.label for k in self.resolve("mine=" + a)], ["mine"])
        self.assertIn("NAME=PATH", self.error("mainline-base=" + a))
        self.assertIn("NAME=PATH", self.error("a.b=" + a))

    def test_not_a_kernel(self):
        self.assertIn("no such file or directory", self.error(self.path("nothing/")))
        self.assertIn("nor a path to a kernel", self.error("nothing"))
        os.makedirs(self.path("empty"))
        self.assertIn("not a kernel tree", self.error(self.path("empty")))
        with open(self.path("text"), "w") as f:
            f.write("hello\n")
        self.assertIn("not a bzImage", self.error(self.path("text")))
        self.assertIn("an empty name", self.error("patched,"))

    def test_tree_not_built_or_configured(self):
        t = tree(self.path("t"))
        os.unlink(os.path.join(t, kernels.BZIMAGE))
        self.assertIn("build the kernel first", self.error(t))
        t = tree(self.path("u"))
        os.unlink(os.path.join(t, ".config"))
        self.assertIn("no .config: configure it with the lab's config (%s"
                      % kernels.KCONFIG_COMMAND, self.error(t))
        t = tree(self.path("v"), symvers=False)
        self.assertIn("no Module.symvers", self.error(t))

    def test_config_command_for_tree_and_o_directory(self):
        src = self.path("linux")
        os.makedirs(src)
        open(os.path.join(src, "Kconfig"), "w").close()
        self.assertEqual(kernels.kconfig_hint(src), "%s %s" % (kernels.KCONFIG_COMMAND, src))
        obj = self.path("obj")
        os.makedirs(obj)
        os.symlink(src, os.path.join(obj, "source"))
        self.assertEqual(kernels.kconfig_hint(obj),
                         "%s %s %s" % (kernels.KCONFIG_COMMAND, src, obj))

    def test_config_lacking_options_named(self):
        req = kernels.required_config()
        t = tree(self.path("t"), [ln for ln in req if "INTEL_IOMMU" not in ln
                                  and "PCI_ATS" not in ln] + ["CONFIG_PCI_ATS=m"])
        msg = self.error(t)
        self.assertIn("lacks what the scenarios need: CONFIG_PCI_ATS CONFIG_INTEL_IOMMU.", msg)
        self.assertIn(kernels.KCONFIG_COMMAND, msg)

    def test_bare_bzimage_and_modules(self):
        bz = self.path("vmlinuz-6.99")
        bzimage(bz)
        k, = self.resolve(bz)
        self.assertEqual((k.label, k.driver), ("vmlinuz-6-99", False))
        self.assertEqual(k.initramfs, os.path.join(self.build, "initramfs.cpio"))
        needs = SimpleNamespace(needs_driver=True)
        self.assertIn("needs the guest driver", k.skip_reason(needs))
        self.assertEqual(k.skip_reason(SimpleNamespace(needs_driver=False)), "")
        mods = self.path("mods")
        os.makedirs(mods)
        self.assertIn("not a directory of modules", self.error(bz, modules=mods))
        open(os.path.join(mods, kernels.DRIVER_MODULE), "w").close()
        k, = self.resolve(bz, modules=mods)
        self.assertTrue(k.driver)
        self.assertEqual(k.skip_reason(needs), "")

    def test_options_that_apply_to_no_kernel(self):
        self.assertIn("--modules is for a bare bzImage",
                      self.error("patched", modules=self.dir))
        self.assertIn("--expect is for a kernel given by", self.error("patched", expect="base"))

    def test_identity(self):
        t = tree(self.path("t"))
        k, = self.resolve(t)
        ident = kernels.identity(k)
        self.assertEqual(ident["release"], "6.99.0-mine")
        self.assertEqual(len(ident["config_sha256"]), 64)
        self.assertEqual(kernels.version(k), ("kernel t", "6.99.0-mine (%s; .config sha256 %s)"
                                               % (t, ident["config_sha256"][:12])))

    def test_slow_checkers_get_a_longer_boot(self):
        plain, = self.resolve(tree(self.path("plain")))
        lockdep, = self.resolve(tree(self.path("lockdep"), kernels.required_config()
                                     + ["CONFIG_PROVE_LOCKING=y"]))
        bare, = self.resolve(self.path("plain", kernels.BZIMAGE))
        self.assertEqual([runner.boot_limit(k) for k in (plain, lockdep, bare)],
                         [runner.BOOT_TIMEOUT, runner.BOOT_TIMEOUT * kernels.SLOW_FACTOR,
                          runner.BOOT_TIMEOUT])
        # The debug lanes are built with such a checker.
        with open(os.path.join(TOP, "guest-image", "debug.config")) as f:
            self.assertTrue(set(kernels.SLOW_OPTIONS) & {ln.strip() for ln in f})

    def test_required_config_is_in_the_labs_own(self):
        # The lab's x86 kernels: the common fragment and the x86 one.
        have = set()
        for name in ("kernel.config", "kernel-x86.config"):
            with open(os.path.join(TOP, "guest-image", name)) as f:
                have |= {ln.strip() for ln in f}
        self.assertEqual([ln for ln in kernels.required_config() if ln not in have], [])

    def test_bad_kernels_exit_2(self):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(main.main(["--build", self.build, "--kernel",
                                        self.path("none/"), "device-del-idle"]), 2)
        self.assertIn("no such file or directory", err.getvalue())


class Expectations(unittest.TestCase):
    """A kernel given by path: held to --expect's kernel, or compared with
    the known behaviours."""
    def scenario(self, patched, unpatched):
        return SimpleNamespace(expectation=lambda k: {"patched": patched,
                                                      "unpatched": unpatched}.get(k))

    def test_expect(self):
        p, u = Expectation(), Expectation("fail", "ITE")
        s = self.scenario(p, u)
        k = kernels.Kernel("mine", "bz", "ird", builtin=False, expect="pass")
        self.assertIs(k.expectation(s), p)
        self.assertEqual(k.compare(s), [])
        k = kernels.Kernel("mine", "bz", "ird", builtin=False, expect="base")
        self.assertIs(k.expectation(s), u)

    def test_no_expectations_runs_as_the_failing_base(self):
        p, u = Expectation(), Expectation("fail", "ITE")
        k = kernels.Kernel("mine", "bz", "ird", builtin=False)
        self.assertIs(k.expectation(self.scenario(p, u)), u)
        self.assertIs(k.expectation(self.scenario(u, p)), u)
        self.assertEqual(k.compare(self.scenario(p, u)), [("patched", p), ("base", u)])

    def cell(self, **kw):
        return runner.CellResult("s", "mine", **kw)

    def test_matched(self):
        pat = self.cell(expected="pass", outcome="fail", reasons=["x"])
        base = self.cell(expected="fail", outcome="fail", met=True, evidence="line 3: ITE")
        r = runner.matched([("patched", pat), ("base", base)])
        self.assertEqual((r.matches, r.met, r.summary()),
                         ("base", True, "fails like the base: line 3: ITE"))
        r = runner.matched([("patched", self.cell(expected="pass", met=True)), ("base", base)])
        self.assertEqual((r.matches, r.summary()), ("patched", "passes like the patched kernel"))
        both = runner.matched([("patched", self.cell(expected="pass", met=True)),
                               ("base", self.cell(expected="pass", met=True))])
        self.assertEqual((both.matches, both.summary()),
                         ("patched", "passes like the patched kernel and the base"))
        nope = self.cell(expected="fail", outcome="fail", reasons=["other"])
        r = runner.matched([("patched", pat), ("base", nope)])
        self.assertEqual((r.matches, r.met), ("neither", False))
        self.assertIn("not like patched: x; not like base: other", r.summary())


if __name__ == "__main__":
    unittest.main()
