"""scripts/build/mkcpio.py writes a newc archive the kernel (and cpio) can read,
with device nodes made without root, and rejects a bad spec by line."""
import gzip
import os
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MKCPIO = os.path.join(TOP, "scripts", "build", "mkcpio.py")


def run(spec, name="out.cpio.gz"):
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "payload"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(d, "spec"), "w") as f:
        f.write(spec.replace("PAYLOAD", os.path.join(d, "payload")))
    out = os.path.join(d, name)
    p = subprocess.run(["/usr/bin/python3", MKCPIO, os.path.join(d, "spec"), out],
                       capture_output=True, text=True)
    return p, out


class MkCpio(unittest.TestCase):
    def test_entries(self):
        p, out = run("dir /dev 0755\nnod /dev/console 0600 c 5 1\n"
                     "file /init PAYLOAD 0755\nslink /bin/sh busybox 0777\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        with gzip.open(out) as f:
            data = f.read()
        self.assertTrue(data.startswith(b"070701"))
        self.assertIn(b"dev/console\0", data)
        self.assertIn(b"hello\n", data)
        self.assertIn(b"TRAILER!!!", data)
        self.assertEqual(len(data) % 4, 0)

    def test_uncompressed(self):
        p, out = run("file /init PAYLOAD 0755\n", "out.cpio")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"070701"))
        self.assertIn(b"hello\n", data)
        self.assertTrue(data.rstrip(b"\0").endswith(b"TRAILER!!!"))

    def test_reproducible(self):
        spec = "dir /dev 0755\nfile /init PAYLOAD 0755\n"
        a = run(spec)[1]
        b = run(spec)[1]
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_bad_line(self):
        p, _ = run("dir /dev 0755\nfifo /x 0644\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("line 2", p.stderr)

    def test_missing_file(self):
        p, _ = run("file /init /nonexistent/file 0755\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("line 1", p.stderr)


if __name__ == "__main__":
    unittest.main()
