"""report.html: the matrix at a glance, for a browser. The same content as
report.md, with colours, and the timeline pictures inline: a long cell's
as its summary, the full picture a link away in the cell's directory, so
that the page of the whole matrix stays small."""
import html
import os

from . import report, timeline

# One colour per verdict (report.VERDICTS); the word says the same
# without colour.
STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
.pass { background: #eaf6ea; } .recovered { background: #a9dca9; }
.bug { background: #d7c4f0; } .fail { background: #f08c80; } .finding { background: #fde2b0; }
.skip { background: #eeeeee; }
td b { font-size: 90%; } td small { color: #444; }
table.glance td { font-size: 95%; } p.legend { font-size: 90%; color: #333; }
pre { background: #f6f6f6; padding: 6px; overflow-x: auto; font-size: 11px; }
"""
e = html.escape


def write_html(path, results, versions):
    kernels, rows, cell = report.matrix(results)
    here = os.path.dirname(path)
    detailed = report.detailed(results)
    shown = {id(r) for r in detailed}
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
           "<title>ite-lab report</title><style>%s</style></head><body>" % STYLE,
           "<h1>ite-lab report</h1>", "<p><b>%s</b></p>" % e(report.closing_line(results))]
    if report.findings_line(results):
        out.append("<p>%s</p>" % e(report.findings_line(results).lstrip("# ")))
    out += glance(results)
    out.append("<h2>Matrix</h2><table><tr><th>scenario</th><th>mode</th>%s</tr>" % "".join(
        "<th>%s</th>" % e(report.kernel_heading(k, results)) for k in kernels))
    for s, m in rows:
        tds = []
        for k in kernels:
            r = cell.get((s, m, k))
            if r is None:
                tds.append("<td></td>")
                continue
            word = "<b>%s</b>" % report.mark(r)
            if id(r) in shown:
                word = "<a href='#%s'>%s</a>" % (e(anchor(r)), word)
            tds.append("<td class='%s' title='%s'>%s (%s, %.1fs) <small><a href='%s/'>files"
                       "</a></small></td>" % (
                           report.verdict(r), e(r.summary()), word, e(report.what(r)),
                           r.duration, e(os.path.relpath(r.workdir, here))))
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
    for r in detailed:
        out.append("<h3 id='%s' class='%s'>%s: %s</h3><p>%s</p><p><small>%s</small></p>" % (
            e(anchor(r)), report.verdict(r), e(r.label), report.mark(r), e(r.summary()),
            links(r, here)))
        out.append(picture(r))
        if report.excerpts_shown(r):
            out.append("<details><summary>guest log</summary><pre>%s</pre></details>"
                       % e(report.guest_slice(r)))
            out.append("<details><summary>QEMU trace</summary><pre>%s</pre></details>"
                       % e(report.trace_slice(r)))
    out.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def glance(results):
    """The summary on top: per scenario, worst first, what each kernel did."""
    kernels, srows = report.summary(results)
    out = ["<h2>At a glance</h2><p class='legend'>%s</p>" % e(report.legend()),
           "<table class='glance'><tr><th>scenario</th>%s</tr>" % "".join(
               "<th>%s</th>" % e(report.kernel_heading(k, results)) for k in kernels)]
    for s, _, per in srows:
        tds = []
        for k in kernels:
            if k not in per:
                tds.append("<td></td>")
                continue
            worst, stories = per[k]
            tds.append("<td class='%s'>%s</td>" % (worst, "<br>".join(
                " ".join(filter(None, ("<b>%s</b>" % report.WORD[v], m and "<small>%s</small>"
                                       % e(report.mode_label(m, t)), e(t))))
                for m, v, t in stories)))
        out.append("<tr><td>%s</td>%s</tr>" % (e(s), "".join(tds)))
    out.append("</table>")
    return out


def links(r, here):
    return " · ".join("<a href='%s'>%s</a>" % (e(p), e(label))
                      for label, p in report.cell_links(r, here))


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
