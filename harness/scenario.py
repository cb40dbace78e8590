"""Scenario files: one small INI file per scenario, under scenarios/.

Every key is documented in docs/scenarios.md. A scenario says what to put
in the machine, what to do to it, and what each kernel is expected to do.
"""
import configparser
import json
import operator
import os
import re
import shlex
from dataclasses import dataclass, field

# The lab's own kernels (build/linux/NAME, ninja -C build kernel-NAME):
# the 6.12 pair, patched (kernel-patches/6.12/) and unpatched (its base,
# linux-source-6.12), and the mainline pair, mainline
# (kernel-patches/mainline/, the primary series) and mainline-base (its
# base, sid's linux at the pinned ITE_MAINLINE_VERSION); then the debug
# lanes. Every one gates its cells.
KERNELS = ("patched", "unpatched", "mainline", "mainline-base",
           "patched-debug", "mainline-debug")
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
LANES = ("patched-debug", "mainline-debug")
# Each series' base kernel: what "no less safe than the base" compares a
# prefix of the series with (harness/prefix_safety.py).
BASE_OF = {"patched": "unpatched", "mainline": "mainline-base"}
# The vIOMMU's translation modes: legacy (root/context tables) and scalable
# (x-scalable-mode=on, PASID tables); the guest driver is told to match.
MODES = ("legacy", "scalable")
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
    modes: list = field(default_factory=lambda: list(MODES))
    trace: list = field(default_factory=list)        # QEMU trace event patterns
    trace_order: list = field(default_factory=list)  # regexes, in order
    trace_forbid: list = field(default_factory=list)  # regexes no trace line may match
    timeline: bool = True   # the timeline's trace events recorded (TIMELINE)
    expect: dict = field(default_factory=dict)

    @property
    def needs_driver(self):
        return any(st.kind == "guest" and st.words[0] == LOAD_DRIVER
                   for st in self.steps + self.cycle + self.after)

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
    """One --set argument, KEY=VALUE or KERNEL.KEY=VALUE, as
    (section, key, value); ScenarioError when it names no scenario key."""
    key, eq, value = text.partition("=")
    section, dot, kkey = key.partition(".")
    if not dot:
        section, kkey = "scenario", key
    known = SCENARIO_KEYS if section == "scenario" else KERNEL_KEYS
    if not eq or (section != "scenario" and section not in KERNELS) or kkey not in known:
        raise ScenarioError(
            "%r: expected KEY=VALUE, KEY one of %s, or KERNEL.KEY=VALUE, KERNEL "
            "one of %s and KEY one of %s" % (text, ", ".join(SCENARIO_KEYS),
                                             ", ".join(KERNELS), ", ".join(KERNEL_KEYS)))
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
    for section, key, value in overrides:
        if section not in cp:
            cp.add_section(section)
        cp[section][key] = value
    s = cp["scenario"]
    unknown = set(s.keys()) - set(SCENARIO_KEYS)
    if unknown:
        raise ScenarioError("%s: unknown key(s) %s" % (path, ", ".join(sorted(unknown))))
    for extra in set(cp.sections()) - {"scenario", *KERNELS}:
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
    modes = s.get("modes", " ".join(MODES)).split()
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ScenarioError("%s: modes must be among %s, got %r"
                            % (path, ", ".join(MODES), s.get("modes")))
    trace = []
    for line in _lines(s.get("trace", "")):
        trace += line.split()
    trace_order = _regexes(s, "trace-order", path)
    trace_forbid = _regexes(s, "trace-forbid", path)
    for key, value in (("trace-order", trace_order), ("trace-forbid", trace_forbid)):
        if value and not trace:
            raise ScenarioError("%s: %s needs trace: the events to record" % (path, key))
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

    return Scenario(
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
        timeline=TIMELINE[timeline], expect=expect,
    )


def load_dir(directory, overrides=()):
    """All scenarios of a directory, sorted by name, each with `overrides`."""
    out = []
    for entry in sorted(os.listdir(directory)):
        if entry.endswith(SCENARIO_SUFFIX):
            out.append(load(os.path.join(directory, entry), overrides))
    return out
