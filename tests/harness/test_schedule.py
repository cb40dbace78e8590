"""The order cells start in: the longest first, by what each took last
time, and cells never measured before all of them."""
import os
import tempfile
import unittest
from types import SimpleNamespace

from harness import durations, main


def scen(name, cycles=0, timeout=120):
    return SimpleNamespace(name=name, cycles=cycles, cycle=[None] * bool(cycles),
                           timeout=timeout)


class Schedule(unittest.TestCase):
    def test_longest_first_unknown_before(self):
        cells = [main.Cell(scen("short"), "legacy", "patched", 0),
                 main.Cell(scen("long"), "legacy", "patched", 0),
                 main.Cell(scen("new"), "legacy", "patched", 0),
                 main.Cell(scen("new-cycles", cycles=5), "legacy", "patched", 0)]
        last = {"short.legacy.patched": 5.0, "long.legacy.patched": 90.0}
        self.assertEqual([cells[i][0].name for i in main.schedule(cells, last)],
                         ["new-cycles", "new", "long", "short"])

    def test_durations_kept_across_runs(self):
        build = tempfile.mkdtemp()
        self.assertEqual(durations.load(build), {})
        durations.record(build, [SimpleNamespace(workdir="/r/1/a.legacy.patched", duration=3.0)])
        durations.record(build, [SimpleNamespace(workdir="/r/2/b.legacy.patched", duration=4.0)])
        self.assertEqual(durations.load(build),
                         {"a.legacy.patched": 3.0, "b.legacy.patched": 4.0})
        with open(os.path.join(build, durations.DURATIONS_FILE), "w") as f:
            f.write("not json")
        self.assertEqual(durations.load(build), {})


if __name__ == "__main__":
    unittest.main()
