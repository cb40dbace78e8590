"""Which cells share a boot, and the template's bookkeeping: booted once
per configuration, never again after a failure."""
import os
import tempfile
import textwrap
import unittest

from harness import scenario, snapshot
from harness.machine import Paths

PATHS = Paths(qemu="/q", firmware="/fw", kernel="/k", initramfs="/i", qmp_python="/p",
              tsc_khz=2000000, hz=250)

BASE = """
[scenario]
description = x
steps =
    guest ping
"""


def load(text):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.scenario")
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        return scenario.load(p)


def key(text, mode="legacy"):
    return snapshot.config_key(PATHS, load(text), "tcg", mode)


class ConfigKey(unittest.TestCase):
    def test_what_is_done_after_boot_does_not_count(self):
        self.assertEqual(key(BASE), key(BASE.replace("guest ping", "qmp device_del id=x")))
        self.assertEqual(key(BASE), key(BASE + "trace = ats_testdev_*\ntimeout = 9\n"))

    def test_what_the_guest_boots_with_does(self):
        for other in (BASE + "cmdline = iommu.strict=1\n",
                      BASE + "iommu = intremap=on,device-iotlb=on,ite-sid=off\n",
                      BASE + "memory = 512M\n",
                      BASE + "smp = 1\n"):
            with self.subTest(other):
                self.assertNotEqual(key(BASE), key(other))
        self.assertNotEqual(key(BASE, "legacy"), key(BASE, "scalable"))


class Ensure(unittest.TestCase):
    def setUp(self):
        self.results = tempfile.mkdtemp()
        self.boots = 0

    def boot(self, ok):
        def boot(d):
            self.boots += 1
            if ok:
                with open(os.path.join(d, snapshot.STATE_FILE), "w") as f:
                    f.write("saved")
            return {"ok": ok}
        return boot

    def test_booted_once(self):
        path = snapshot.ensure(self.results, "k", self.boot(True))
        self.assertEqual(path, snapshot.state_path(self.results, "k"))
        self.assertEqual(snapshot.ensure(self.results, "k", self.boot(True)), path)
        self.assertEqual(self.boots, 1)
        snapshot.remove_state(self.results, "k")
        self.assertFalse(os.path.exists(path))

    def test_failed_boot_is_not_retried(self):
        self.assertIsNone(snapshot.ensure(self.results, "k", self.boot(False)))
        self.assertIsNone(snapshot.ensure(self.results, "k", self.boot(True)))
        self.assertEqual(self.boots, 1)


if __name__ == "__main__":
    unittest.main()
