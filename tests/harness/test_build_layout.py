"""The build directory's layout: a missing build is exit status 2, with
what is missing named."""
import contextlib
import io
import tempfile
import unittest

from harness import build_layout


class CheckBuilt(unittest.TestCase):
    def test_missing_build_is_status_2(self):
        build = tempfile.mkdtemp()
        err = io.StringIO()
        with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(err):
            build_layout.check_built(build_layout.paths_for(build, "patched"))
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("not built: %s/qemu/build/qemu-system-x86_64" % build, err.getvalue())


if __name__ == "__main__":
    unittest.main()
