"""The build directory's layout: where run-tests.sh finds what the build
made (QEMU for each architecture, each guest kernel and its initramfs, the firmware, QEMU's
python/ for its QMP library), checks that it is there, and reads what it
reports of it (versions, a kernel's CONFIG_HZ, the host's TSC frequency
measured by the build's helper)."""
import functools
import os
import subprocess
import sys

from . import kernels, modes, scenario
from .machine import Paths


@functools.lru_cache(maxsize=None)
def kernel_hz(config):
    """CONFIG_HZ of a guest kernel from its .config, 0 when it cannot be
    read. Read once per kernel, not once per cell."""
    try:
        with open(config) as f:
            for ln in f:
                if ln.startswith("CONFIG_HZ=") and ln[10:].strip().isdigit():
                    return int(ln[10:])
    except OSError:
        pass
    return 0


def paths_for(build, kernel, qemu=None, tsc_khz=0):
    """The Paths of a cell booting `kernel` (a kernels.Kernel, or the name
    of one of the lab's own): the QEMU of its architecture, `qemu` (a
    path, or {arch name: path} from --qemu) where given. The host's TSC
    frequency `tsc_khz` is for an x86 guest only."""
    k = kernels.builtin(build, kernel) if isinstance(kernel, str) else kernel
    if isinstance(qemu, dict):
        qemu = qemu.get(k.arch.name)
    tsc_khz = tsc_khz if k.arch.tsc else 0
    return Paths(
        qemu=qemu or os.path.join(build, "qemu", "build", k.arch.qemu),
        firmware=os.path.join(build, "firmware"),
        kernel=k.image,
        initramfs=k.initramfs,
        qmp_python=os.path.join(build, "qemu", "src", "python"),
        tsc_khz=tsc_khz,
        hz=kernel_hz(k.config) if tsc_khz and k.config else 0,
    )


def qemu_arch(path):
    """The name of the architecture whose QEMU `path` is, by its file name
    (modes.Arch.qemu), or None."""
    return next((a.name for a in modes.ARCHES.values()
                 if os.path.basename(path) == a.qemu), None)


def host_tsc_khz(build, accel):
    """The host's TSC frequency for the guests (see tools/host-tsc-khz.c),
    or 0 to let them calibrate it: under KVM, or when the host's TSC does
    not tick at a constant rate, or the helper is not built."""
    helper = os.path.join(build, "host-tsc-khz")
    if accel != "tcg" or not os.access(helper, os.X_OK):
        return 0
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    except OSError:
        return 0
    if "constant_tsc" not in flags or "nonstop_tsc" not in flags:
        return 0
    r = subprocess.run([helper], capture_output=True, text=True)
    return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else 0


def check_built(p, machine=modes.Q35):
    """Exit with status 2 unless what a cell on `machine` (a
    modes.MachineDef) with the Paths `p` boots is built."""
    missing = [f for f in (p.qemu, p.kernel, p.initramfs)
               + tuple(os.path.join(p.firmware, fw) for fw in machine.firmware)
               + (os.path.join(p.qmp_python, "qemu", "qmp"),)
               if not os.path.exists(f)]
    if missing:
        # Exit status 2, a missing build, as main's docstring says.
        print("run-tests.sh: not built: %s\n(build with: meson setup build && "
              "ninja -C build)" % ", ".join(missing), file=sys.stderr)
        raise SystemExit(2)


def versions(build):
    out = []
    env = os.path.join(build, "versions.env")
    if os.path.exists(env):
        with open(env) as f:
            for ln in f:
                if "=" in ln and not ln.startswith("#") and "VERSION" in ln:
                    k, v = ln.strip().split("=", 1)
                    out.append((k, v))
    for k in scenario.KERNELS:
        rel = os.path.join(build, "linux", k, "kernelrelease")
        if os.path.exists(rel):
            with open(rel) as f:
                out.append(("kernel " + k, f.read().strip()))
    q = paths_for(build, "patched").qemu
    if os.path.exists(q):
        v = subprocess.run([q, "--version"], capture_output=True, text=True).stdout
        out.append(("qemu", v.splitlines()[0] if v else "?"))
    return out
