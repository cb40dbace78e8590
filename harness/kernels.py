"""The guest kernels a run boots (run-tests.sh --kernel).

The lab's own are built in the build directory (scenario.KERNELS): the
6.12 pair (patched, unpatched) and the mainline pair (mainline,
mainline-base), each held to its section of a scenario or to the one
scenario.HELD_TO names, and the debug lanes (patched-debug,
mainline-debug: a series with the checkers of guest-image/debug.config),
run only when named; and the arm64 guest (mainline-arm64), whose cells
are the smmuv3 mode's (harness/modes.py), run when asked for (by name,
--mode=smmuv3 or -g smmuv3). A kernel given by path is someone else's,
an x86 one:
  - a built kernel tree or O= build directory (arch/x86/boot/bzImage,
    .config, Module.symvers): its .config is checked against
    guest-image/kernel-required.config, and the lab builds its guest driver
    against it (M=) into an initramfs of its own;
  - a bare bzImage, with --modules DIR for the modules to give it: without
    the guest driver (ats_testdev.ko), the scenarios that load it are
    skipped.
The lab knows nothing of such a kernel: unless told what to expect of it
(--expect=pass: what the patched kernel does; --expect=base: what the
unpatched base does), each cell says which known behaviour it matched and
does not decide the run.
"""
import functools
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from . import TOP, modes, scenario

REQUIRED_CONFIG = os.path.join(TOP, "guest-image", "kernel-required.config")
BZIMAGE = modes.X86.image
# The arm64 Image header's magic, at 0x38 (Documentation/arch/arm64/booting.rst).
ARM64_MAGIC = b"ARM\x64"
DRIVER_MODULE = "ats_testdev.ko"
# Where the lab keeps what it builds for a kernel given by path (the guest
# driver, the initramfs), under the build directory, a directory each.
WORK_DIR = "kernels"
# --expect: which built-in kernel's expectations a kernel given by path is
# held to.
EXPECT_AS = {"pass": "patched", "base": "unpatched"}
# The known behaviours a kernel given by path is compared with when it has
# no expectations, in the order they are tried.
KNOWN = (("patched", "patched"), ("base", "unpatched"))
# A column's name: a cell directory's last part.
LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+-]*")
# The command that writes the lab's kernel config into a tree.
KCONFIG_COMMAND = "scripts/kernel-config.sh"
# Checkers that make every lock operation or memory access of a guest
# several times slower under TCG: a kernel built with one (the debug
# lanes: guest-image/debug.config's lockdep; a developer's KASAN tree)
# boots in 7 to 11 s of QEMU CPU where the lab's others take 2 to 3, and
# gets SLOW_FACTOR times the harness's boot allowance (runner.boot_limit).
SLOW_OPTIONS = ("CONFIG_PROVE_LOCKING=y", "CONFIG_KASAN=y")
SLOW_FACTOR = 3


class KernelError(Exception):
    """A --kernel, --modules or --expect argument that names no usable kernel."""


@dataclass(frozen=True)
class Kernel:
    label: str              # its column: the cells' directories and names
    image: str              # what it boots: a bzImage, an arm64 Image
    initramfs: str          # what it boots with
    config: str = ""        # its .config ("" when unknown: a bare bzImage)
    driver: bool = True     # the guest driver is in its initramfs
    builtin: bool = True    # one of the lab's own (scenario.KERNELS)
    spec: str = ""          # as given on the command line
    expect: str = ""        # a kernel given by path: pass, base, or "" (none)
    kdir: str = ""          # the tree to build the guest driver against
    modules: str = ""       # a bare bzImage's --modules DIR
    arch: modes.Arch = modes.X86    # its architecture: which modes it runs in

    @property
    def informational(self):
        """Its cells never decide the run: a kernel given by path with
        nothing expected of it (the lab's own all gate theirs)."""
        return not self.builtin and not self.expect

    def expectation(self, s):
        """What scenario `s` expects of it. With no expectations (a kernel
        given by path without --expect) the cell runs as the base's would
        where the base fails, so that it ends once that failure shows,
        and is then compared with each known behaviour (compare())."""
        if self.builtin:
            return s.expectation(self.label)
        if self.expect:
            return s.expectation(EXPECT_AS[self.expect])
        exps = [s.expectation(k) for _, k in reversed(KNOWN)]
        return next((e for e in exps if e.outcome == "fail"), exps[0])

    def compare(self, s):
        """[(behaviour, expectation)]: what the cell is compared with, when
        nothing is expected of the kernel."""
        if self.builtin or self.expect:
            return []
        return [(name, s.expectation(k)) for name, k in KNOWN]

    @property
    def slow(self):
        """Built with a checker of SLOW_OPTIONS (by its .config; not a
        bare bzImage, which has none)."""
        try:
            return bool(self.config) and not config_lines(self.config).isdisjoint(SLOW_OPTIONS)
        except OSError:
            return False

    def skip_reason(self, s):
        """Why scenario `s` cannot run on it, or ""."""
        if s.needs_driver and not self.driver:
            return ("needs the guest driver (%s), which this kernel's initramfs has not: "
                    "give --modules DIR with it, or --kernel the built tree"
                    % DRIVER_MODULE)
        return ""


def builtin(build, name):
    src = os.path.join(build, "linux", name, "src")
    arch = scenario.kernel_arch(name)
    return Kernel(label=name, image=os.path.join(src, arch.image),
                  initramfs=os.path.join(build, "initramfs-%s.cpio" % name),
                  config=os.path.join(src, ".config"), spec=name, arch=arch)


def resolve(specs, build, modules="", expect="", arches=(modes.X86,)):
    """The Kernels of --kernel's values `specs` (each a comma-separated list
    of built-in names and paths; "all": the built-in ones of the
    architectures `arches` but the lanes), in order, without repeats.
    KernelError for a path that is no kernel, a tree the scenarios cannot
    run on, or options that apply to none of them."""
    names = []
    for spec in specs:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                raise KernelError("--kernel=%s: an empty name" % spec)
            for n in (_all(arches) if item == "all" else (item,)):
                if n not in names:
                    names.append(n)
    out, labels = [], set()
    for n in names:
        label, eq, path = n.partition("=")
        if not eq:
            label, path = "", n
        elif not LABEL.fullmatch(label) or label in scenario.KERNELS or label in labels:
            raise KernelError("--kernel=%s: NAME=PATH names its column NAME: letters, "
                              "digits, _, + and -, and not %s nor another's"
                              % (n, ", ".join(scenario.KERNELS)))
        if n in scenario.KERNELS:
            k = builtin(build, n)
        elif eq or "/" in n or os.path.exists(n):
            k = _by_path(path, build, modules, expect, labels, label)
        else:
            raise KernelError("--kernel=%s: not one of the lab's kernels (%s) nor a path "
                              "to a kernel (a built tree, an O= directory or a bzImage)"
                              % (n, ", ".join(scenario.KERNELS)))
        labels.add(k.label)
        out.append(k)
    if modules and not any(k.modules for k in out):
        raise KernelError("--modules is for a bare bzImage given by --kernel=PATH, "
                          "and no --kernel is one")
    if expect and all(k.builtin for k in out):
        raise KernelError("--expect is for a kernel given by --kernel=PATH; the lab's "
                          "own kernels are held to their scenario sections")
    return out


def _all(arches):
    """The lab's own kernels of the architectures `arches` but the lanes
    of their own (the debug kernels), which run when named."""
    return [n for n in scenario.KERNELS
            if n not in scenario.LANES and scenario.kernel_arch(n) in arches]


def _by_path(path, build, modules, expect, labels, label=""):
    path = os.path.abspath(path)
    label = label or _label(path, labels)
    work = os.path.join(build, WORK_DIR, "%s-%s" % (
        label, hashlib.sha256(path.encode()).hexdigest()[:8]))
    common = dict(label=label, builtin=False, spec=path, expect=expect)
    if os.path.isdir(path):
        return _tree(path, work, common)
    if not os.path.isfile(path):
        raise KernelError("--kernel=%s: no such file or directory" % path)
    _check_bzimage(path)
    if not modules:
        return Kernel(image=path, initramfs=os.path.join(build, "initramfs.cpio"),
                      driver=False, **common)
    modules = os.path.abspath(modules)
    if not os.path.isdir(modules) or not any(f.endswith(".ko") for f in os.listdir(modules)):
        raise KernelError("--modules=%s: not a directory of modules (*.ko)" % modules)
    return Kernel(image=path, initramfs=os.path.join(work, "initramfs.cpio"),
                  driver=os.path.isfile(os.path.join(modules, DRIVER_MODULE)),
                  modules=modules, **common)


def _tree(path, work, common):
    bz = os.path.join(path, BZIMAGE)
    config = os.path.join(path, ".config")
    if not os.path.isfile(bz):
        if os.path.isfile(os.path.join(path, modes.ARM64.image)):
            raise KernelError("--kernel=%s: an arm64 tree: only the lab's own arm64 kernel "
                              "(mainline-arm64) runs, not one given by path" % path)
        if not os.path.isfile(os.path.join(path, "Makefile")):
            raise KernelError("--kernel=%s: not a kernel tree, an O= build directory "
                              "nor a bzImage" % path)
        raise KernelError("--kernel=%s: no %s: build the kernel first "
                          "(make bzImage modules)" % (path, BZIMAGE))
    if not os.path.isfile(config):
        raise KernelError("--kernel=%s: no .config: configure it with the lab's config "
                          "(%s), then build it" % (path, kconfig_hint(path)))
    missing = missing_config(config)
    if missing:
        raise KernelError(
            "--kernel=%s: its .config lacks what the scenarios need: %s. Write the lab's "
            "config (%s) or enable them, and rebuild" % (path, " ".join(missing),
                                                         kconfig_hint(path)))
    if not os.path.isfile(os.path.join(path, "Module.symvers")):
        raise KernelError("--kernel=%s: no Module.symvers: the guest driver is built "
                          "against it; build the modules too (make bzImage modules)" % path)
    _check_bzimage(bz)
    return Kernel(image=bz, initramfs=os.path.join(work, "initramfs.cpio"),
                  config=config, kdir=path, **common)


def kconfig_hint(path):
    """The command that writes the lab's config for the tree or O=
    directory `path`: an O= directory is the second argument, after its
    source tree (kbuild's `source` link in it names that tree)."""
    src = os.path.join(path, "source")
    if os.path.islink(src):
        return "%s %s %s" % (KCONFIG_COMMAND, os.path.realpath(src), path)
    if os.path.isfile(os.path.join(path, "Kconfig")):
        return "%s %s" % (KCONFIG_COMMAND, path)
    return "%s SRC %s, SRC its source tree" % (KCONFIG_COMMAND, path)


def _label(path, taken):
    """A kernel's column name, from its path: the directory's name, or the
    file's (the tree's when it is arch/x86/boot/bzImage), made unique and
    never one of the lab's own."""
    p = path
    if os.path.isfile(p) and p.endswith(os.sep + BZIMAGE):
        p = p[:-len(os.sep + BZIMAGE)]
    label = re.sub(r"[^A-Za-z0-9_+-]+", "-", os.path.basename(p.rstrip(os.sep))).strip("-+")
    label = label or "kernel"
    base, n = label, 1
    while label in taken or label in scenario.KERNELS:
        n += 1
        label = "%s-%d" % (base, n)
    return label


def _check_bzimage(path):
    """A bzImage carries the x86 boot protocol's header ("HdrS" at 0x202).
    An arm64 Image ("ARM\\x64" at 0x38) is refused by name: the lab has no
    arm64 initramfs to boot one given by path with."""
    try:
        with open(path, "rb") as f:
            head = f.read(0x210)
    except OSError as e:
        raise KernelError("--kernel=%s: %s" % (path, e.strerror))
    if head[0x38:0x3c] == ARM64_MAGIC:
        raise KernelError("--kernel=%s: an arm64 Image: only the lab's own arm64 kernel "
                          "(mainline-arm64) runs, not one given by path" % path)
    if head[0x202:0x206] != b"HdrS":
        raise KernelError("--kernel=%s: not a bzImage (no x86 boot header)" % path)


@functools.lru_cache(maxsize=None)
def image_release(path, mtime):
    """The release of a kernel image, "" when it has none to read: a
    bzImage's from the boot protocol's kernel_version, an arm64 Image's
    (uncompressed) from its banner. Read once per image and mtime."""
    try:
        with open(path, "rb") as f:
            data = f.read(0x10000)
            if data[0x38:0x3c] == ARM64_MAGIC:
                data = data + f.read()
                off = data.index(b"Linux version ") + len(b"Linux version ")
                return data[off:off + 200].split()[0].decode(errors="replace")
        # The boot protocol's kernel_version: an offset from 0x200 to a
        # NUL-terminated "RELEASE (builder) #N ..." string.
        off = int.from_bytes(data[0x20e:0x210], "little") + 0x200
        return data[off:data.index(b"\0", off)].decode(errors="replace").split()[0]
    except (OSError, ValueError, IndexError):
        return ""


def required_config():
    """The lines of guest-image/kernel-required.config: CONFIG_X=y."""
    with open(REQUIRED_CONFIG) as f:
        return [ln.strip() for ln in f if ln.startswith("CONFIG_")]


def config_lines(config):
    """The lines of the .config `config`, stripped, as a set."""
    with open(config, errors="replace") as f:
        return {ln.strip() for ln in f}


def missing_config(config):
    """The required options that the .config `config` does not set."""
    have = config_lines(config)
    return [ln.split("=")[0] for ln in required_config() if ln not in have]


def prepare(k, build):
    """Build what a kernel given by path boots with: the initramfs with the
    guest driver built against its tree, or with its --modules. The lab's
    own kernels are built by ninja; a bare bzImage boots the common one."""
    if k.builtin or not (k.kdir or k.modules):
        return
    work = os.path.dirname(k.initramfs)
    os.makedirs(work, exist_ok=True)
    how = ["--kdir", k.kdir] if k.kdir else ["--modules", k.modules]
    r = subprocess.run([os.path.join(TOP, "scripts", "build", "build-guest-initramfs.sh")]
                       + how + [os.path.join(work, "driver"),
                                os.path.join(build, "initramfs.cpio"), k.initramfs],
                       env=dict(os.environ, ITE_BUILD=build),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise KernelError("--kernel=%s: %s" % (k.spec, r.stdout.strip()))


def version(k):
    """A kernel given by path, as the report's versions list it."""
    i = identity(k)
    return ("kernel " + k.label, "%s (%s; .config sha256 %s)" % (
        i["release"] or "?", k.spec, i["config_sha256"][:12] or "unknown"))


def identity(k):
    """What identifies the kernel a cell booted: its release (from the
    image's own version string) and the sha256 of its .config."""
    out = {"kernel": k.label, "image": k.image, "release": "", "config_sha256": ""}
    try:
        out["release"] = image_release(k.image, os.stat(k.image).st_mtime_ns)
    except OSError:
        pass
    if k.config:
        try:
            with open(k.config, "rb") as f:
                out["config_sha256"] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            pass
    return out
