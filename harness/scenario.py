"""Scenario files: one small INI file per scenario, under scenarios/.

Every key is documented in docs/scenarios.md. A scenario says what to put
in the machine, what to do to it, and what each kernel is expected to do.
"""
import configparser
import dataclasses
import json
import operator
import os
import re
import shlex
from dataclasses import dataclass, field

from . import modes as modes_mod

# The lab's own kernels (build/linux/NAME, ninja -C build kernel-NAME):
# the 6.12 pair, patched (kernel-patches/6.12/) and unpatched (its base,
# linux-source-6.12), and the mainline pair, mainline
# (kernel-patches/mainline/, the primary series) and mainline-base (its
# base, sid's linux at the pinned ITE_MAINLINE_VERSION); then the debug
# lanes; then the arm64 guest, the mainline base cross-built for arm64
# (no series: the series are intel-iommu's), which boots on the smmuv3
# mode's machine. Every one gates its cells.
KERNELS = ("patched", "unpatched", "mainline", "mainline-base",
           "patched-debug", "mainline-debug", "mainline-arm64")
# Each kernel's architecture (modes.ARCHES) where it is not x86_64: its
# cells are those of the modes whose machine has that architecture.
KERNEL_ARCH = {"mainline-arm64": modes_mod.ARM64.name}


def kernel_arch(name):
    """The modes.Arch of the lab's kernel `name`."""
    return modes_mod.ARCHES[KERNEL_ARCH.get(name, modes_mod.X86.name)]


# The kernels every scenario states what it expects of ([patched],
# [unpatched]); the others are held to these when they have no section.
STATED = ("patched", "unpatched")
# Kernels held to another's section when they have none of their own. The
# mainline pair does what the 6.12 pair does unless a scenario says
# otherwise ([mainline], [mainline-base]): both series fix the same bugs,
# and both bases have them. The debug lanes, each series built with
# guest-image/debug.config too (lockdep, atomic-sleep checks, KFENCE), must
# do what their series does, and their checkers' reports ("WARNING: ...",
# "BUG: ...") are forbidden lines like any other (guest_log.FORBIDDEN).
# A lane runs only when named: not a column of "--kernel=all", as each
# takes a kernel build of its own (docs/harness.md, "Kernels").
HELD_TO = {"mainline": "patched", "mainline-base": "unpatched",
           "patched-debug": "patched", "mainline-debug": "mainline"}
# The arm64 kernel is held to its own section only ([mainline-arm64]),
# never to an x86 kernel's: arm-smmu-v3 is another driver, and every
# scenario that runs in an arm64 mode says what it expects of it.
LANES = ("patched-debug", "mainline-debug")
# Each series' base kernel: what "no less safe than the base" compares a
# prefix of the series with (harness/prefix_safety.py).
BASE_OF = {"patched": "unpatched", "mainline": "mainline-base"}
# The vIOMMU modes (harness/modes.py): legacy (intel-iommu, root/context
# tables) and scalable (x-scalable-mode=on, PASID tables) on q35, smmuv3
# (arm-smmuv3) on virt; the guest driver is told to match.
MODES = tuple(modes_mod.MODES)
# A scenario's modes when it has no `modes` key: those without a group of
# their own (modes.Mode.group), the x86 ones. A scenario that makes sense
# on Arm says so (modes = legacy scalable smmuv3).
DEFAULT_MODES = tuple(m for m in MODES if not modes_mod.MODES[m].group)
# The keys of a mode's section ([smmuv3], ...): in that mode they replace
# the [scenario] section's (docs/scenarios.md, "Modes").
MODE_KEYS = ("iommu", "require", "forbid", "trace", "trace-order", "trace-forbid")
STEP_KINDS = ("guest", "qmp", "event", "sleep", "qom-check")
# The comparisons of a qom-check step (PATH PROPERTY OP VALUE); the
# ordering ones compare numbers only.
QOM_OPS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
QOM_ORDERING = ("<", "<=", ">", ">=")
SCENARIO_SUFFIX = ".scenario"
# The keys of a scenario's [scenario] section and of its kernel sections
# ([patched], [unpatched], [mainline], ...); docs/scenarios.md says what
# each means.
SCENARIO_KEYS = ("description", "groups", "timeout", "smp", "memory", "iommu",
                 "topology", "devices", "cmdline", "steps", "require", "forbid",
                 "trace", "trace-order", "trace-forbid", "timeline", "modes", "cycle", "cycles",
                 "after")
# The machine's PCIe topology when a scenario has no `topology` key: one
# hot-plug root port, rp1, at 00:02.0 with slot 1, whose secondary bus is 01,
# so the card in it (`devices = -device ats-testdev,id=dut,bus=rp1`, or one
# that device_add puts there) is 0000:01:00.0. A scenario's own `topology`
# replaces it (`topology =`, empty, leaves the machine without one).
DEFAULT_TOPOLOGY = "-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1"
# The values of the `timeline` key: whether the cell records the timeline's
# trace events (harness/timeline.py, machine.TIMELINE_EVENTS).
TIMELINE = {"on": True, "off": False}
KERNEL_KEYS = ("expect", "signature", "repeat", "require", "shows")
# The agent command that loads the guest driver (guest-image/driver), which
# only a kernel the lab built the driver against has: a scenario with this
# step cannot run on a bare bzImage.
LOAD_DRIVER = "load-driver"


class ScenarioError(Exception):
    """A scenario file that cannot be run as written."""


@dataclass
class Step:
    kind: str           # guest | qmp | event | sleep | qom-check
    words: list         # the rest of the line, shell-split
    text: str           # the line as written, for reports

    def in_cycle(self, n):
        """The step as run in cycle n: "{n}" replaced by the number."""
        sub = str(n)
        return Step(self.kind, [w.replace("{n}", sub) for w in self.words],
                    self.text.replace("{n}", sub))


@dataclass
class Expectation:
    outcome: str = "pass"         # pass | fail
    signature: str = ""           # regex the guest log must show when "fail"
    repeat: int = 1               # ... on at least this many lines
    require: list = field(default_factory=list)  # on top of the scenario's
    shows: str = ""               # what the failure means, in a few words


@dataclass
class Scenario:
    name: str
    path: str
    description: str
    groups: list
    timeout: int
    smp: int
    memory: str
    iommu: str
    topology: list      # QEMU's words: the topology's, then the devices'
    cmdline: str
    steps: list
    require: list
    forbid: list
    cycle: list = field(default_factory=list)   # steps repeated `cycles` times
    cycles: int = 0
    after: list = field(default_factory=list)   # steps run once after the cycles
    modes: list = field(default_factory=lambda: list(DEFAULT_MODES))
    trace: list = field(default_factory=list)        # QEMU trace event patterns
    trace_order: list = field(default_factory=list)  # regexes, in order
    trace_forbid: list = field(default_factory=list)  # regexes no trace line may match
    timeline: bool = True   # the timeline's trace events recorded (TIMELINE)
    expect: dict = field(default_factory=dict)
    # Per mode, its section's keys (MODE_KEYS), as the fields they replace.
    per_mode: dict = field(default_factory=dict)

    @property
    def needs_driver(self):
        return any(st.kind == "guest" and st.words[0] == LOAD_DRIVER
                   for st in self.steps + self.cycle + self.after)

    def in_mode(self, mode):
        """The scenario as it runs in `mode`: the keys of the mode's
        section in place of the [scenario] section's; on a machine other
        than modes.HOME, the vIOMMU's properties are its section's, else
        the machine's default (the [scenario] section's `iommu` is
        intel-iommu's). The same scenario again for a mode that changes
        nothing (the x86 modes, as a rule)."""
        over = dict(self.per_mode.get(mode, {}))
        machine = modes_mod.MODES[mode].machine
        if "iommu" not in over and machine is not modes_mod.HOME:
            over["iommu"] = machine.iommu_default
        return dataclasses.replace(self, **over) if over else self

    def expectation(self, kernel):
        """What the kernel is expected to do: its own section, else the
        section of the kernel it is held to (HELD_TO, in a chain:
        mainline-debug to mainline, then patched), else a pass."""
        if kernel in self.expect:
            return self.expect[kernel]
        if kernel in HELD_TO:
            return self.expectation(HELD_TO[kernel])
        return Expectation()


def _lines(value):
    return [ln.strip() for ln in value.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def _regexes(section, key, path):
    out = []
    for pat in _lines(section.get(key, "")):
        try:
            re.compile(pat)
        except re.error as e:
            raise ScenarioError("%s: %s: bad regex %r: %s" % (path, key, pat, e))
        out.append(pat)
    return out


def _trace(section):
    out = []
    for line in _lines(section.get("trace", "")):
        out += line.split()
    return out


# A MODE_KEYS key as the Scenario field it is, and how it is read.
_MODE_FIELDS = {
    "iommu": ("iommu", lambda sec, key, path: sec.get(key).strip()),
    "require": ("require", _regexes),
    "forbid": ("forbid", _regexes),
    "trace": ("trace", lambda sec, key, path: _trace(sec)),
    "trace-order": ("trace_order", _regexes),
    "trace-forbid": ("trace_forbid", _regexes),
}


def _foreign(values, machine):
    """The first (value, word) of `values` that names another machine's
    vIOMMU (modes.MachineDef.words: "DMAR", "vtd_" in an smmuv3 cell), or
    None."""
    others = [w for m in modes_mod.MACHINES.values() if m is not machine for w in m.words]
    return next(((v, w) for v in values for w in others if w in v), None)


def _check_modes(sc, path, file_iommu, file_sections):
    """What the scenario is in each of its modes must make sense on that
    mode's machine: no line that names another vIOMMU, no trace-order
    without the events to record, a mode section only for a mode it runs
    in, and on a machine other than modes.HOME the vIOMMU's properties of
    its own (when the file gives the home vIOMMU's)."""
    for mode in file_sections & set(MODES):
        if mode not in sc.modes:
            raise ScenarioError("%s: [%s] is for a mode the scenario does not run in "
                                "(modes = %s)" % (path, mode, " ".join(sc.modes)))
    for mode in sc.modes:
        machine = modes_mod.MODES[mode].machine
        own = sc.per_mode.get(mode, {})
        if file_iommu and machine is not modes_mod.HOME and "iommu" not in own:
            raise ScenarioError(
                "%s: iommu = %s is %s's; the scenario runs in %s too, on %s: give [%s] "
                "iommu, its properties there (empty for the defaults)"
                % (path, sc.iommu, modes_mod.HOME.iommu.split(",")[0], mode,
                   machine.iommu.split(",")[0], mode))
        m = sc.in_mode(mode)
        for key, (fld, _) in _MODE_FIELDS.items():
            if key == "iommu":
                continue
            bad = _foreign(getattr(m, fld), machine)
            if bad:
                raise ScenarioError(
                    "%s: %s: %r names %r, another vIOMMU's, and the scenario runs in %s "
                    "(%s): give [%s] %s" % (path, key, bad[0], bad[1], mode,
                                            machine.iommu.split(",")[0], mode, key))
        for key, value in (("trace-order", m.trace_order), ("trace-forbid", m.trace_forbid)):
            if value and not m.trace:
                raise ScenarioError("%s: %s needs trace: the events to record%s"
                                    % (path, key, " (in mode %s)" % mode if own else ""))
    for kernel, e in sc.expect.items():
        arch = kernel_arch(kernel)
        if kernel in file_sections and not any(
                modes_mod.MODES[m].machine.arch == arch for m in sc.modes):
            raise ScenarioError("%s: [%s] is for an %s kernel, and the scenario runs in no "
                                "mode of that architecture (modes = %s)"
                                % (path, kernel, arch.name, " ".join(sc.modes)))
        machine = modes_mod.machine_of(arch)
        bad = _foreign(([e.signature] if e.signature else []) + e.require, machine)
        if bad:
            raise ScenarioError("%s: [%s] %r names %r, another vIOMMU's than %s kernels boot "
                                "with" % (path, kernel, bad[0], bad[1], arch.name))


def _qemu_words(value, key, path):
    """The QEMU arguments of a topology or devices key, shell-quoted, one or
    more per line."""
    words = []
    for line in _lines(value):
        try:
            words += shlex.split(line)
        except ValueError as e:
            raise ScenarioError("%s: %s: %r: %s" % (path, key, line, e))
    return words


def parse_step(text, path):
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ScenarioError("%s: step %r: %s" % (path, text, e))
    if not words or words[0] not in STEP_KINDS:
        raise ScenarioError("%s: step %r: must start with one of %s"
                            % (path, text, ", ".join(STEP_KINDS)))
    kind, rest = words[0], words[1:]
    if kind in ("guest", "qmp") and not rest:
        raise ScenarioError("%s: step %r: %s needs a command" % (path, text, kind))
    if kind == "event" and len(rest) < 2:
        raise ScenarioError("%s: step %r: event NAME [key=value...] SECONDS" % (path, text))
    if kind in ("event", "sleep"):
        try:
            float(rest[-1])
        except (ValueError, IndexError):
            raise ScenarioError("%s: step %r: last word must be seconds" % (path, text))
    if kind == "qom-check":
        _check_qom(rest, text, path)
    return Step(kind, rest, text)


def qom_value(word):
    """A qom-check step's VALUE: JSON when it parses (a number, true,
    false, a quoted string), else the word as a string."""
    try:
        return json.loads(word)
    except ValueError:
        return word


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_qom(words, text, path):
    if len(words) not in (4, 5) or words[2] not in QOM_OPS:
        raise ScenarioError("%s: step %r: qom-check PATH PROPERTY OP VALUE [SECONDS], "
                            "OP one of %s" % (path, text, " ".join(QOM_OPS)))
    if len(words) == 5:
        try:
            ok = float(words[4]) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ScenarioError("%s: step %r: SECONDS must be a positive number"
                                % (path, text))
    if words[2] in QOM_ORDERING and not _is_number(qom_value(words[3])):
        raise ScenarioError("%s: step %r: %s compares numbers, got %r"
                            % (path, text, words[2], words[3]))


def qom_mismatch(got, op, want):
    """Why a qom-check step's property value `got` fails `got OP want`, or
    None when it holds. Ordering needs numbers on both sides."""
    if op in QOM_ORDERING and not _is_number(got):
        return "is %s, not a number" % json_text(got)
    if QOM_OPS[op](got, want):
        return None
    return "is %s, expected %s %s" % (json_text(got), op, json_text(want))


def json_text(v):
    return json.dumps(v)


def parse_override(text):
    """One --set argument, KEY=VALUE, KERNEL.KEY=VALUE or MODE.KEY=VALUE,
    as (section, key, value); ScenarioError when it names no scenario key."""
    key, eq, value = text.partition("=")
    section, dot, kkey = key.partition(".")
    if not dot:
        section, kkey = "scenario", key
    known = (SCENARIO_KEYS if section == "scenario" else
             MODE_KEYS if section in MODES else KERNEL_KEYS if section in KERNELS else ())
    if not eq or kkey not in known:
        raise ScenarioError(
            "%r: expected KEY=VALUE, KEY one of %s, or KERNEL.KEY=VALUE, KERNEL "
            "one of %s and KEY one of %s, or MODE.KEY=VALUE, MODE one of %s and KEY "
            "one of %s" % (text, ", ".join(SCENARIO_KEYS), ", ".join(KERNELS),
                           ", ".join(KERNEL_KEYS), ", ".join(MODES), ", ".join(MODE_KEYS)))
    return section, kkey, value


def load(path, overrides=()):
    """The scenario of a file, with `overrides` ((section, key, value), from
    parse_override) replacing what the file says before it is checked."""
    name = os.path.basename(path)
    if not name.endswith(SCENARIO_SUFFIX):
        raise ScenarioError("%s: scenario files end in %s" % (path, SCENARIO_SUFFIX))
    name = name[:-len(SCENARIO_SUFFIX)]
    cp = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as f:
            cp.read_file(f)
    except (OSError, configparser.Error) as e:
        raise ScenarioError("%s: %s" % (path, e))
    if "scenario" not in cp:
        raise ScenarioError("%s: no [scenario] section" % path)
    # What the file itself says, before --set: a --set smmuv3.iommu=... for
    # the run is no mistake in a scenario that does not run in smmuv3.
    file_sections = set(cp.sections())
    file_iommu = "iommu" in cp["scenario"]
    for section, key, value in overrides:
        if section not in cp:
            cp.add_section(section)
        cp[section][key] = value
    s = cp["scenario"]
    unknown = set(s.keys()) - set(SCENARIO_KEYS)
    if unknown:
        raise ScenarioError("%s: unknown key(s) %s" % (path, ", ".join(sorted(unknown))))
    for extra in set(cp.sections()) - {"scenario", *KERNELS, *MODES}:
        raise ScenarioError("%s: unknown section [%s]" % (path, extra))
    try:
        timeout = int(s.get("timeout", "120"))
        smp = int(s.get("smp", "2"))
        cycles = int(s.get("cycles", "0"))
    except ValueError as e:
        raise ScenarioError("%s: %s" % (path, e))
    if timeout <= 0 or smp <= 0:
        raise ScenarioError("%s: timeout and smp must be positive" % path)
    steps = [parse_step(t, path) for t in _lines(s.get("steps", ""))]
    cycle = [parse_step(t, path) for t in _lines(s.get("cycle", ""))]
    after = [parse_step(t, path) for t in _lines(s.get("after", ""))]
    if cycles < 0 or bool(cycles) != bool(cycle):
        raise ScenarioError("%s: cycle and cycles go together (cycles >= 1)" % path)
    modes = s.get("modes", " ".join(DEFAULT_MODES)).split()
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ScenarioError("%s: modes must be among %s, got %r"
                            % (path, ", ".join(MODES), s.get("modes")))
    trace = _trace(s)
    trace_order = _regexes(s, "trace-order", path)
    trace_forbid = _regexes(s, "trace-forbid", path)
    timeline = s.get("timeline", "on").strip()
    if timeline not in TIMELINE:
        raise ScenarioError("%s: timeline must be %s, got %r"
                            % (path, " or ".join(TIMELINE), timeline))
    topology = (_qemu_words(s.get("topology", DEFAULT_TOPOLOGY), "topology", path)
                + _qemu_words(s.get("devices", ""), "devices", path))

    expect = {}
    for kernel in KERNELS:
        if kernel not in cp:
            continue
        k = cp[kernel]
        unknown = set(k.keys()) - set(KERNEL_KEYS)
        if unknown:
            raise ScenarioError("%s: [%s] unknown key(s) %s"
                                % (path, kernel, ", ".join(sorted(unknown))))
        outcome = k.get("expect", "pass")
        if outcome not in ("pass", "fail"):
            raise ScenarioError("%s: [%s] expect must be pass or fail" % (path, kernel))
        sig = k.get("signature", "")
        if outcome == "fail" and not sig:
            raise ScenarioError("%s: [%s] expect = fail needs a signature: the failure "
                                "that must be seen, so a change that hides it is caught"
                                % (path, kernel))
        if sig:
            try:
                re.compile(sig)
            except re.error as e:
                raise ScenarioError("%s: [%s] bad signature regex: %s" % (path, kernel, e))
        try:
            repeat = int(k.get("repeat", "1"))
        except ValueError as e:
            raise ScenarioError("%s: [%s] repeat: %s" % (path, kernel, e))
        if repeat < 1:
            raise ScenarioError("%s: [%s] repeat must be at least 1" % (path, kernel))
        if k.get("shows") and outcome != "fail":
            raise ScenarioError("%s: [%s] shows is for expect = fail: what the failure "
                                "means" % (path, kernel))
        expect[kernel] = Expectation(outcome, sig, repeat,
                                     _regexes(k, "require", path),
                                     " ".join(k.get("shows", "").split()))

    per_mode = {}
    for mode in MODES:
        if mode not in cp:
            continue
        sec = cp[mode]
        unknown = set(sec.keys()) - set(MODE_KEYS)
        if unknown:
            raise ScenarioError("%s: [%s] unknown key(s) %s: a mode's section has %s"
                                % (path, mode, ", ".join(sorted(unknown)),
                                   ", ".join(MODE_KEYS)))
        per_mode[mode] = {_MODE_FIELDS[key][0]: _MODE_FIELDS[key][1](sec, key, path)
                          for key in MODE_KEYS if key in sec}

    sc = Scenario(
        name=name, path=path,
        description=s.get("description", "").strip(),
        groups=s.get("groups", "default").split(),
        timeout=timeout, smp=smp,
        memory=s.get("memory", "256M").strip(),
        iommu=s.get("iommu", "intremap=on,device-iotlb=on").strip(),
        topology=topology,
        cmdline=" ".join(_lines(s.get("cmdline", ""))),
        steps=steps, cycle=cycle, cycles=cycles, after=after,
        require=_regexes(s, "require", path),
        forbid=_regexes(s, "forbid", path),
        modes=modes, trace=trace, trace_order=trace_order, trace_forbid=trace_forbid,
        timeline=TIMELINE[timeline], expect=expect, per_mode=per_mode,
    )
    _check_modes(sc, path, file_iommu, file_sections)
    return sc


def load_dir(directory, overrides=()):
    """All scenarios of a directory, sorted by name, each with `overrides`."""
    out = []
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(SCENARIO_SUFFIX):
            out.append(load(os.path.join(directory, entry), overrides))
    return out
