"""report.html: the matrix at a glance, for a browser. The same content as
report.md, with colours, and the timeline pictures inline."""
import html
import os

from . import report, timeline

STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.PASS { background: #d8f0d8; } td.FAIL { background: #f4c7c3; }
td.finding { background: #fde9c6; }
pre { background: #f6f6f6; padding: 6px; overflow-x: auto; font-size: 11px; }
"""


def write_html(path, results, versions):
    kernels, rows, cell = report.matrix(results)
    e = html.escape
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
           "<title>ite-lab report</title><style>%s</style></head><body>" % STYLE,
           "<h1>ite-lab report</h1>", "<p><b>%s</b></p>" % e(report.closing_line(results))]
    if report.findings_line(results):
        out.append("<p>%s</p>" % e(report.findings_line(results).lstrip("# ")))
    out.append("<h2>Matrix</h2><table><tr><th>scenario</th><th>mode</th>%s</tr>" % "".join(
        "<th>%s%s</th>" % (e(k), " (informational)" if k in report.INFORMATIONAL else "")
        for k in kernels))
    for s, m in rows:
        tds = []
        for k in kernels:
            r = cell.get((s, m, k))
            if r is None:
                tds.append("<td></td>")
                continue
            tds.append("<td class='%s' title='%s'><a href='#%s'>%s</a> (%s, %.1fs)</td>" % (
                report.mark(r), e(r.summary()), e(anchor(r)), report.mark(r),
                e(report.what(r)), r.duration))
        out.append("<tr><td>%s</td><td>%s</td>%s</tr>" % (e(s), e(m), "".join(tds)))
    out.append("</table><h2>Versions</h2><ul>%s</ul>" % "".join(
        "<li>%s: %s</li>" % (e(k), e(v)) for k, v in versions))
    out.append("<h2>Timings</h2><table><tr><th>cell</th><th>boot</th><th>total</th>%s</tr>"
               % "".join("<th>%s</th>" % e(n) for _, n in report.FIGURES))
    for r in results:
        out.append("<tr><td>%s</td><td>%s</td><td>%.1fs</td>%s</tr>" % (
            e(r.label), r.timings.get("boot", "-"), r.duration,
            "".join("<td>%s</td>" % e(report.figure(r, k)) for k, _ in report.FIGURES)))
    out.append("</table><h2>Cells</h2>")
    for r in report.detailed(results):
        out.append("<h3 id='%s'>%s: %s</h3><p>%s</p>" % (
            e(anchor(r)), e(r.label), report.mark(r), e(r.summary())))
        out.append(picture(r))
        out.append("<details><summary>guest log</summary><pre>%s</pre></details>"
                   % e(report.guest_slice(r)))
        out.append("<details><summary>QEMU trace</summary><pre>%s</pre></details>"
                   % e(report.trace_slice(r)))
        out.append("<details><summary>command</summary><pre>%s</pre></details>"
                   % e(r.command))
    out.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def picture(r):
    """The cell's timeline inline: its summary when it has one."""
    for name in (timeline.SUMMARY_FILE, timeline.SVG_FILE):
        p = os.path.join(r.workdir, name)
        if os.path.exists(p):
            with open(p) as f:
                return f.read()
    return ""


def anchor(r):
    return "%s-%s-%s" % (r.scenario, r.mode, r.kernel)
