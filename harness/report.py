"""Results of a run: TAP on stdout, and results.tap, junit.xml and
report.md in the run's results directory."""
import json
import os
import re
import xml.etree.ElementTree as ET

from . import guest_log, qemu_trace, qmp_log, timeline
from .diagnosis import DIAGNOSIS_FILE
from .machine import AGENT_LOG, QEMU_STDERR
from .runner import COMMAND_FILE, HARNESS_ERROR_FILE, RESULT_FILE, CellResult
from .scenario import KERNELS


def tap_line(n, r):
    status = "ok" if r.met else "not ok"
    line = "%s %d - %s: %s" % (status, n, r.label, r.summary())
    if r.outcome == "timeout" and not r.met:
        line += "; duration=%ds" % int(r.duration)
    if r.outcome == "skip":
        line = "ok %d - %s # SKIP %s" % (n, r.label, "; ".join(r.reasons))
    elif r.informational:
        # TAP's TODO: reported, not counted as a failure.
        line += " # TODO informational column"
    return line


def repeat_lines(results):
    """With --repeat: how often each cell met its expectation, as TAP
    comments, the flaky ones marked."""
    runs = {}
    for r in results:
        if r.outcome != "skip":
            runs.setdefault((r.scenario, r.mode, r.kernel), []).append(r)
    out = []
    for (s, m, k), rs in runs.items():
        met = sum(1 for r in rs if r.met)
        out.append("# repeat: %s [%s, %s]: met its expectation in %d of %d runs%s"
                   % (s, m, k, met, len(rs), "" if met in (0, len(rs)) else " (flaky: %d%% "
                      "failed)" % round(100 * (len(rs) - met) / len(rs))))
    return out


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
    """The cells that decide the run: not informational, and run."""
    return [r for r in results if not r.informational and r.outcome != "skip"]


def closing_line(results):
    """Counts the cells that decide the run; informational ones are in
    findings_line()."""
    g = gating(results)
    passed = sum(1 for r in g if r.met)
    return "%d passed, %d failed" % (passed, len(g) - passed)


def tap_tail(results):
    """The TAP lines after the cells' own: with --repeat, each cell's flake
    rate; the informational column's count (comments); the closing
    count."""
    lines = repeat_lines(results) if any(r.attempt for r in results) else []
    findings = findings_line(results)
    return lines + ([findings] if findings else []) + [closing_line(results)]


def findings_line(results):
    info = [r for r in results if r.informational and r.outcome != "skip"]
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


FIGURES = (("unplugs_ms", "unplug"), ("ite", "ITEs"), ("ite_to_clear_ms", "ITE→cleared"),
           ("ite_recoveries_ms", "ITE recovery"))


def matrix(results):
    """(kernels, rows, cells): the columns in order, the (scenario, mode)
    rows in run order, and the results by (scenario, mode, kernel)."""
    kernels = sorted({r.kernel for r in results},
                     key=lambda k: KERNELS.index(k) if k in KERNELS else len(KERNELS))
    rows, cells = [], {}
    for r in results:
        if (r.scenario, r.mode) not in rows:
            rows.append((r.scenario, r.mode))
        # The runs of a repeated cell: the first that did not meet its
        # expectation stands for them.
        key = (r.scenario, r.mode, r.kernel)
        if key not in cells or (cells[key].met and not r.met):
            cells[key] = r
    return kernels, rows, cells


# What a cell did, worst first: a class (a colour in HTML), a word that
# says the same without colour, and what the word means.
VERDICTS = (
    ("fail", "FAIL", "not what the scenario expects"),
    ("finding", "FINDING", "an informational kernel differs from the base"),
    ("bug", "BUG", "the bug showed where the scenario predicts it (an expected failure)"),
    ("recovered", "RECOVERED", "device-TLB flushes timed out and the guest went on"),
    ("pass", "PASS", "nothing timed out"),
    ("skip", "SKIP", "not run: the kernel lacks what the scenario needs"),
)
WORD = {c: w for c, w, _ in VERDICTS}
WORST = [c for c, _, _ in VERDICTS]


def verdict(r):
    if r.outcome == "skip":
        return "skip"
    if not r.met:
        return "finding" if r.informational else "fail"
    if r.expected == "fail":
        return "bug"
    return "recovered" if r.timings.get("ite_recoveries_ms") else "pass"


def mark(r):
    return WORD[verdict(r)]


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


def _ended(rs):
    """How the harness stopped these cells' guests, in a word."""
    return "killed" if all(r.timings.get("stop") == "killed" for r in rs) else "stopped"


def never(r):
    """The ITEs that went on until QEMU was stopped, or None."""
    u = r.timings.get("ite_unrecovered")
    if not u:
        return None
    every = ", one every %s" % _ms(u["every_ms"]) if u.get("every_ms") else ""
    return "never (%s after %.1f s, %d ITEs%s)" % (_ended([r]), u["for_s"], u["ites"], every)


def figure(r, key):
    v = r.timings.get(key)
    if key == "ite_recoveries_ms" and never(r):
        return (spread(v) + "; then " if v else "") + never(r)
    if v is None:
        return "-"
    if key == "ite":
        return str(v)
    return spread(v) if isinstance(v, list) else _ms(v)


def _span(values, fmt):
    """Values of a few cells as one figure: "a", or "a–b"."""
    lo, hi = fmt(min(values)), fmt(max(values))
    if lo == hi:
        return lo
    if lo.partition(" ")[2] == hi.partition(" ")[2]:    # the same unit once
        lo = lo.partition(" ")[0]
    return "%s–%s" % (lo, hi)


def _evidence_name(evidence):
    """The kind of wedged-kernel report (guest_log.FORBIDDEN) an evidence
    line is, or None."""
    line = evidence.split(": ", 1)[-1]
    return next((name for name, regex in guest_log.FORBIDDEN if re.search(regex, line)), None)


def story(rs):
    """What cells of one verdict (one kernel's modes) did, in a few words.
    An expected failure says what it shows: the ITEs that never stopped,
    else the scenario's own words (`shows`), else the kind of report or
    the evidence line."""
    v = verdict(rs[0])
    if v == "bug":
        locked = [r.timings.get("ite_unrecovered") for r in rs]
        if all(locked):
            every = [u["every_ms"] for u in locked if u.get("every_ms")]
            return "locked up: an ITE every %s until %s (%s ITEs in %s)" % (
                _span(every, _ms) if every else "time-out", _ended(rs),
                _span([u["ites"] for u in locked], str),
                _span([u["for_s"] for u in locked], lambda x: "%.1f s" % x))
        return " / ".join(dict.fromkeys(
            r.shows or _evidence_name(r.evidence) or _short(r.evidence.split(": ", 1)[-1])
            for r in rs))
    if v == "recovered":
        per = [r.timings["ite_recoveries_ms"] for r in rs]
        if all(len(p) == 1 for p in per):
            return "in " + _span([p[0] for p in per], _ms)
        return "in " + spread([x for p in per for x in p])
    if v == "pass":
        return ""
    return " / ".join(dict.fromkeys(_short(r.summary()) for r in rs))


def _short(text, n=90):
    return text if len(text) <= n else text[:n - 1] + "…"


def summary(results):
    """(kernels, rows): per scenario, worst first, (scenario, worst
    verdict, {kernel: (worst verdict, [(mode, verdict, story)])}). A
    kernel whose modes did the same has one story with mode None; a
    failure is told per mode."""
    kernels, rows, cell = matrix(results)
    out = []
    for s in dict.fromkeys(sc for sc, _ in rows):
        modes = [m for sc, m in rows if sc == s]
        per = {}
        for k in kernels:
            rs = [(m, cell[(s, m, k)]) for m in modes if (s, m, k) in cell]
            if not rs:
                continue
            vs = [verdict(r) for _, r in rs]
            worst = min(vs, key=WORST.index)
            if len(set(vs)) == 1 and worst not in ("fail", "finding"):
                per[k] = (worst, [(None, worst, story([r for _, r in rs]))])
            else:
                per[k] = (worst, [(m, v, story([r])) for (m, r), v in zip(rs, vs)])
        worst = min((v for v, _ in per.values()), key=WORST.index)
        out.append((s, worst, per))
    out.sort(key=lambda row: WORST.index(row[1]))
    return kernels, out


def detailed(results):
    """The cells worth a closer look: failures, expected failures, and
    those with a timeline (something timed out or a device went away)."""
    return [r for r in results
            if not r.met or r.expected == "fail"
            or os.path.exists(os.path.join(r.workdir, timeline.SVG_FILE))]


def excerpts_shown(r):
    """Whether the report quotes the cell's logs: for failures and for
    the bug's evidence; other cells only link to them."""
    return verdict(r) in ("fail", "finding", "bug")


# A cell's files the report links to: (label, file name).
CELL_FILES = (("timeline", timeline.SVG_FILE), ("guest log", guest_log.SERIAL_LOG),
              ("QEMU log", qemu_trace.TRACE_LOG), ("QMP", qmp_log.QMP_LOG),
              ("QEMU stderr", QEMU_STDERR), ("agent", AGENT_LOG), ("result", RESULT_FILE),
              ("command", COMMAND_FILE), ("diagnosis", DIAGNOSIS_FILE),
              ("harness error", HARNESS_ERROR_FILE))


def cell_links(r, report_dir):
    """(label, path relative to report_dir) of the cell's files there are."""
    return [(label, os.path.relpath(os.path.join(r.workdir, name), report_dir))
            for label, name in CELL_FILES if os.path.exists(os.path.join(r.workdir, name))]


def guest_slice(r):
    lineno = None
    if r.evidence.startswith("line "):
        lineno = int(r.evidence.split()[1].rstrip(":"))
    return guest_log.excerpt(_serial(r), around=lineno, tail=60)


def trace_slice(r):
    return "\n".join(qemu_trace.slice_around(qemu_trace.read(r.workdir)))


def legend():
    return " ".join("%s: %s." % (w, meaning) for _, w, meaning in VERDICTS)


def mode_label(mode, text):
    """What stands between a summary's word and its text: "legacy:", or
    "legacy" alone when there is no text, or nothing (all modes)."""
    return mode and mode + ":" * bool(text)


def kernel_heading(k, results):
    return k + (" (informational)" if any(r.informational for r in results
                                          if r.kernel == k) else "")


def write_markdown(path, results, versions):
    kernels, rows, cell = matrix(results)
    out = ["# ite-lab report", "", closing_line(results)]
    if findings_line(results):
        out += ["", findings_line(results).lstrip("# ")]
    sk, srows = summary(results)
    out += ["", "## At a glance", "", legend(), "",
            "| scenario | " + " | ".join(kernel_heading(k, results) for k in sk) + " |",
            "|---|" + "---|" * len(sk)]
    for s, _, per in srows:
        tds = []
        for k in sk:
            _, stories = per.get(k, (None, []))
            tds.append("; ".join(" ".join(filter(None, (
                "**%s**" % WORD[v] if v == "fail" else WORD[v], mode_label(m, t), t)))
                for m, v, t in stories))
        out.append("| %s | %s |" % (s, " | ".join(tds)))
    out += ["", "## Versions", ""]
    out += ["- %s: %s" % kv for kv in versions]
    out += ["", "## Matrix", "",
            "| scenario | mode | " + " | ".join(kernel_heading(k, results) for k in kernels) + " |",
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
    here = os.path.dirname(path)
    for r in detailed(results):
        out += ["", "## %s: %s" % (r.label, mark(r)), "", r.summary(), "",
                "Command: `%s`" % r.command, "",
                "Files: " + ", ".join("[%s](%s)" % lp for lp in cell_links(r, here))]
        if excerpts_shown(r):
            out += ["", "Guest log:", "", "```", guest_slice(r), "```", "",
                    "QEMU trace:", "", "```", trace_slice(r), "```"]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def load_results(results_dir):
    """The CellResults a run left in results_dir (each cell's
    result.json), in name order."""
    out = []
    for name in sorted(os.listdir(results_dir)):
        f = os.path.join(results_dir, name, RESULT_FILE)
        if os.path.isfile(f):
            with open(f) as fp:
                out.append(CellResult(**json.load(fp)))
    return out
