"""Assertions on the guest's log (the kernel console: ttyS0, ttyAMA0).

What it checks, and what it does not:
- every "require" regex matches at least one line;
- no line matches a forbidden regex: the global list below (anything that
  means the kernel is broken) plus the scenario's own "forbid" list;
- for a cell that expects a failure, its "signature" regex matches (on at
  least "repeat" lines), and the line where it reached that count is
  reported as the evidence.
It does not interpret the kernel's state beyond these lines: a lockup that
prints nothing (no detector configured) is caught by the step timeouts in
the runner, not here.
"""
import os
import re
from dataclasses import dataclass, field

# Anything that means the guest kernel is broken, whatever the scenario.
# The RCU pattern is narrower than "rcu.*stall" on purpose: the boot banner
# "RCU CPU stall warnings timeout set to N" (printed when the command line
# shortens the timeout) is not a stall.
FORBIDDEN = (
    ("BUG", r"\bBUG:"),
    ("Oops", r"\bOops\b"),
    ("soft lockup", r"soft lockup"),
    ("hard lockup", r"hard LOCKUP"),
    ("RCU stall", r"rcu: .*(detected stalls|self-detected stall|detected expedited stalls)"),
    ("WARNING", r"\bWARNING:"),
    # x86 says "Call Trace:", arm64 "Call trace:"
    ("Call Trace", r"Call [Tt]race"),
    ("hung task", r"blocked for more than \d+ seconds"),
    ("panic", r"Kernel panic"),
)

# The subset of FORBIDDEN that means the kernel is wedged: the harness
# stops waiting for a guest step as soon as one of these appears.
WEDGED = tuple(p for p in FORBIDDEN
               if p[0] in ("soft lockup", "hard lockup", "RCU stall", "hung task", "panic"))

SERIAL_LOG = "serial.log"    # the guest's console, in each cell's directory
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Hit:
    what: str       # the pattern's name or the regex itself
    lineno: int     # 1-based
    line: str


@dataclass
class LogVerdict:
    missing: list = field(default_factory=list)     # required regexes not seen
    forbidden: list = field(default_factory=list)   # Hit
    signature: Hit = None                           # first signature match

    @property
    def clean(self):
        return not self.missing and not self.forbidden


def read_serial(workdir):
    """The guest log a cell recorded in workdir (empty if none yet)."""
    try:
        with open(os.path.join(workdir, SERIAL_LOG), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def lines_of(text):
    return [_ANSI.sub("", ln).rstrip("\r") for ln in text.splitlines()]


def first_match(lines, regex, nth=1):
    """The nth line (1-based) matching regex, or None."""
    r = re.compile(regex)
    for i, ln in enumerate(lines, 1):
        if r.search(ln):
            nth -= 1
            if nth == 0:
                return Hit(regex, i, ln)
    return None


def check(text, require=(), forbid=(), signature="", repeat=1):
    lines = lines_of(text)
    v = LogVerdict()
    for regex in require:
        if first_match(lines, regex) is None:
            v.missing.append(regex)
    patterns = list(FORBIDDEN) + [(regex, regex) for regex in forbid]
    for name, regex in patterns:
        hit = first_match(lines, regex)
        if hit:
            hit.what = name
            v.forbidden.append(hit)
    if signature:
        # The evidence is the line where the signature reached `repeat`.
        v.signature = first_match(lines, signature, repeat)
    return v


def excerpt(text, around=None, before=15, after=25, tail=60):
    """The log lines around line `around` (1-based), or the last `tail`."""
    lines = lines_of(text)
    if around:
        lo, hi = max(0, around - 1 - before), min(len(lines), around + after)
    else:
        lo, hi = max(0, len(lines) - tail), len(lines)
    return "\n".join(lines[lo:hi])
