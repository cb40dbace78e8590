"""Socket paths: a deep results directory must not push a unix socket's
path past sun_path's 108 bytes (QEMU accepts one Python cannot connect to)."""
import os
import unittest

from harness.machine import socket_dir


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


if __name__ == "__main__":
    unittest.main()
