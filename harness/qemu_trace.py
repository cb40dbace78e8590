"""Assertions on QEMU's own trace: what happened on the wire.

A scenario's `trace` key enables QEMU trace events (written, with the log
backend, to the cell's qemu-debug.log); its `trace-order` key lists regexes
that must match trace lines in that order, each one after the line the
previous one matched. That is how a scenario asserts an order the guest
cannot see, such as "ATS disabled, then translation blocked, then the ATC
invalidated" during an orderly removal. Its `trace-forbid` key lists
regexes that no trace line may match: what must not happen on the wire
(a completion the vIOMMU did not expect, say).
"""
import os
import re

TRACE_LOG = "qemu-debug.log"


def read(workdir):
    try:
        with open(os.path.join(workdir, TRACE_LOG), errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def check_order(lines, regexes):
    """None when the regexes match lines in order, else the reason."""
    pos, prev = 0, None
    for regex in regexes:
        r = re.compile(regex)
        for i in range(pos, len(lines)):
            if r.search(lines[i]):
                pos, prev = i + 1, regex
                break
        else:
            if prev is None:
                return "trace order: /%s/ never seen" % regex
            return "trace order: no /%s/ after /%s/" % (regex, prev)
    return None


def check_absent(lines, regexes):
    """None when no line matches any of the regexes, else the reason: the
    first forbidden line."""
    for regex in regexes:
        r = re.compile(regex)
        for i, ln in enumerate(lines):
            if r.search(ln):
                return "trace: forbidden /%s/ at line %d: %s" % (regex, i + 1, ln.strip())
    return None


def slice_around(lines, regex=r"vtd_devtlb_inv_timeout|vtd_inv_qi_ite_clear",
                 before=20, after=20, tail=40):
    """The trace lines around the first match of regex (the first ITE, by
    default), or the last `tail` lines when nothing matches."""
    r = re.compile(regex)
    for i, ln in enumerate(lines):
        if r.search(ln):
            return lines[max(0, i - before):i + after]
    return lines[-tail:]
