"""Results of a run: TAP on stdout, and results.tap, junit.xml and
report.md in the run's results directory."""
import os
import xml.etree.ElementTree as ET

from . import guest_log, qemu_trace, timeline
from .runner import DIAGNOSIS_FILE
from .scenario import INFORMATIONAL


def tap_line(n, r):
    status = "ok" if r.met else "not ok"
    line = "%s %d - %s: %s" % (status, n, r.label, r.summary())
    if r.outcome == "timeout" and not r.met:
        line += "; duration=%ds" % int(r.duration)
    if r.informational:
        # TAP's TODO: reported, not counted as a failure.
        line += " # TODO informational column"
    return line


def tap_detail(r):
    """Comment lines after a result: where the logs are, and for a failure,
    the tail of the guest log."""
    out = ["# duration %.1fs, logs in %s" % (r.duration, r.workdir)]
    if not r.met:
        out.append("# command: %s" % r.command)
        text = _serial(r)
        out += ["#   " + ln for ln in guest_log.excerpt(text, tail=25).splitlines()]
        out += ["# diagnosis: " + ln for ln in _diagnosis(r)]
    return out


def _diagnosis(r):
    """What QEMU and the guest said when asked after the failure
    (runner._diagnose)."""
    try:
        with open(os.path.join(r.workdir, DIAGNOSIS_FILE), errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def _serial(r):
    return guest_log.read_serial(r.workdir)


def gating(results):
    return [r for r in results if not r.informational]


def closing_line(results):
    """Counts the cells that decide the run; informational ones are in
    findings_line()."""
    g = gating(results)
    passed = sum(1 for r in g if r.met)
    return "%d passed, %d failed" % (passed, len(g) - passed)


def findings_line(results):
    info = [r for r in results if r.informational]
    if not info:
        return None
    found = sum(1 for r in info if not r.met)
    return "# informational column (%s): %d as expected, %d findings" % (
        ", ".join(sorted({r.kernel for r in info})), len(info) - found, found)


def write_junit(path, results):
    suite = ET.Element("testsuite", name="ite-lab", tests=str(len(results)),
                       failures=str(sum(1 for r in gating(results) if not r.met)),
                       time="%.2f" % sum(r.duration for r in results))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="%s.%s" % (r.scenario, r.mode),
                             name=r.kernel, time="%.2f" % r.duration)
        if not r.met and r.informational:
            ET.SubElement(case, "system-out").text = "informational finding: " + r.summary()
        elif not r.met:
            fail = ET.SubElement(case, "failure", message=r.summary()[:500])
            fail.text = guest_log.excerpt(_serial(r), tail=60)
        else:
            ET.SubElement(case, "system-out").text = r.summary()
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


KERNEL_ORDER = ("patched", "unpatched", "sid")
FIGURES = (("unplugs_ms", "unplug"), ("ite", "ITEs"), ("ite_to_clear_ms", "ITE→cleared"),
           ("ite_recoveries_ms", "ITE recovery"))


def matrix(results):
    """(kernels, rows, cells): the columns in order, the (scenario, mode)
    rows in run order, and the results by (scenario, mode, kernel)."""
    kernels = sorted({r.kernel for r in results},
                     key=lambda k: KERNEL_ORDER.index(k) if k in KERNEL_ORDER else 9)
    rows = []
    for r in results:
        if (r.scenario, r.mode) not in rows:
            rows.append((r.scenario, r.mode))
    return kernels, rows, {(r.scenario, r.mode, r.kernel): r for r in results}


def mark(r):
    if r.met:
        return "PASS"
    return "finding" if r.informational else "FAIL"


def what(r):
    return "expected failure" if r.expected == "fail" and r.met else r.outcome


def _ms(v):
    return "%.0f ms" % v if v < 1000 else "%.2f s" % (v / 1000) if v < 10000 \
        else "%.1f s" % (v / 1000)


def spread(values):
    """One figure, or the median and maximum of many."""
    if len(values) == 1:
        return _ms(values[0])
    v = sorted(values)
    return "median %s, max %s (%d)" % (_ms(v[len(v) // 2]), _ms(v[-1]), len(v))


def never(r):
    """The ITEs that went on until QEMU was stopped, or None."""
    u = r.timings.get("ite_unrecovered")
    if not u:
        return None
    how = "killed" if r.timings.get("stop") == "killed" else "stopped"
    every = ", one every %s" % _ms(u["every_ms"]) if u.get("every_ms") else ""
    return "never (%s after %.1f s, %d ITEs%s)" % (how, u["for_s"], u["ites"], every)


def figure(r, key):
    v = r.timings.get(key)
    if key == "ite_recoveries_ms" and never(r):
        return (spread(v) + "; then " if v else "") + never(r)
    if v is None:
        return "-"
    if key == "ite":
        return str(v)
    return spread(v) if isinstance(v, list) else _ms(v)


def detailed(results):
    """The cells worth a closer look: failures, expected failures, and
    those with a timeline (something timed out or a device went away)."""
    return [r for r in results
            if not r.met or r.expected == "fail"
            or os.path.exists(os.path.join(r.workdir, timeline.SVG_FILE))]


def guest_slice(r):
    lineno = None
    if r.evidence.startswith("line "):
        lineno = int(r.evidence.split()[1].rstrip(":"))
    return guest_log.excerpt(_serial(r), around=lineno, tail=60)


def trace_slice(r):
    return "\n".join(qemu_trace.slice_around(qemu_trace.read(r.workdir)))


def write_markdown(path, results, versions):
    kernels, rows, cell = matrix(results)
    out = ["# ite-lab report", "", closing_line(results)]
    if findings_line(results):
        out += ["", findings_line(results).lstrip("# ")]
    out += ["", "## Versions", ""]
    out += ["- %s: %s" % kv for kv in versions]
    out += ["", "## Matrix", "",
            "| scenario | mode | " + " | ".join(
                k + (" (informational)" if k in INFORMATIONAL else "") for k in kernels) + " |",
            "|---|---|" + "---|" * len(kernels)]
    for s, m in rows:
        row = []
        for k in kernels:
            r = cell.get((s, m, k))
            if r is None:
                row.append("")
                continue
            label = mark(r) if r.met else "**%s**" % mark(r)
            row.append("%s (%s, %.1fs)" % (label, what(r), r.duration))
        out.append("| %s | %s | %s |" % (s, m, " | ".join(row)))
    out += ["", "## Timings", "",
            "| cell | boot | total | " + " | ".join(n for _, n in FIGURES) + " |",
            "|---|---|---|" + "---|" * len(FIGURES)]
    for r in results:
        out.append("| %s | %s | %.1fs | %s |" % (
            r.label, r.timings.get("boot", "-"), r.duration,
            " | ".join(figure(r, k) for k, _ in FIGURES)))
    for r in detailed(results):
        head = "FAILED" if not r.met and not r.informational else what(r)
        out += ["", "## %s: %s" % (r.label, head), "", r.summary(), "",
                "Command: `%s`" % r.command, ""]
        svg = os.path.join(r.workdir, timeline.SVG_FILE)
        if os.path.exists(svg):
            out += ["Timeline: `%s`" % os.path.relpath(svg, os.path.dirname(path)), ""]
        out += ["Guest log:", "", "```", guest_slice(r), "```", "",
                "QEMU trace:", "", "```", trace_slice(r), "```"]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
