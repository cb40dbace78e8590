"""What a cell's directory holds to run that cell again alone: a copy of
its scenario file, and rerun.sh, the run-tests.sh command that runs just
that cell on the same kernel, QEMU and options. Which kernel it booted
(release, .config hash) is in its result.json."""
import os
import shutil

from . import TOP
from .build_layout import qemu_arch
from .machine import shell_quote

RERUN_FILE = "rerun.sh"
SCENARIO_DIR = "scenario"   # in the cell's directory: its scenario file


def write(workdir, c, a, build):
    """Write RERUN_FILE and SCENARIO_DIR into the cell's directory
    `workdir` for the cell `c` (main.Cell) of a run with options `a`."""
    if not os.path.isdir(workdir):
        return
    sdir = os.path.join(workdir, SCENARIO_DIR)
    os.makedirs(sdir, exist_ok=True)
    shutil.copy(c.scenario.path, sdir)
    words = [os.path.join(TOP, "run-tests.sh"), "--build", build,
             "--kernel", c.kernel.spec, "--mode", c.mode,
             "--accel", a.accel, "--boot", a.boot]
    if c.kernel.modules:
        words += ["--modules", c.kernel.modules]
    if c.kernel.expect:
        words += ["--expect", c.kernel.expect]
    for q in a.qemu:
        if qemu_arch(q) == c.kernel.arch.name:
            words += ["--qemu", os.path.abspath(q)]
    for section, key, value in a.set:
        words += ["--set", "%s=%s" % (key if section == "scenario" else
                                      "%s.%s" % (section, key), value)]
    words.append(c.scenario.name)
    with open(os.path.join(workdir, RERUN_FILE), "w") as f:
        f.write("#!/bin/sh\n# Run this cell again, alone, from the scenario file "
                "beside this script: %s\nhere=$(cd \"$(dirname \"$0\")\" && pwd)\n"
                "exec %s --scenarios \"$here/%s\" \"$@\"\n"
                % (os.path.basename(workdir), shell_quote(words), SCENARIO_DIR))
    os.chmod(os.path.join(workdir, RERUN_FILE), 0o755)
