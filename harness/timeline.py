"""A cell's timeline: what happened to device-TLB invalidations and
devices, on one clock, as figures and as an SVG picture.

Sources, all stamped with the host's wall clock:
- QEMU's trace (qemu-debug.log, `-msg timestamp=on`): an invalidation
  submitted to a device, completed by it, timed out (ITE raised), and the
  guest clearing the ITE;
- the QMP transcript (qmp.log): the harness's commands (device_del, ...)
  and QEMU's events (DEVICE_DELETED).
"""
import ast
import os
import re
from dataclasses import dataclass

from . import qemu_trace

# lane name -> trace event
LANES = (
    ("submitted", "vtd_devtlb_inv_submit"),
    ("completed", "vtd_devtlb_inv_complete"),
    ("timed out", "vtd_devtlb_inv_timeout"),
    ("ITE cleared", "vtd_inv_qi_ite_clear"),
)
QMP_LANES = ("host action", "device removed")
HOST_ACTIONS = ("device_del", "device_add", "x-pcie-surprise-remove", "x-pcie-link-set",
                "qom-set")

QMP_LOG = "qmp.log"     # the QMP transcript, in each cell's directory
_TRACE = re.compile(r"^\d+@(\d+\.\d+):(\w+) ?(.*)$")
_QMP = re.compile(r"^\s*[\d.]+ (\d+\.\d+) (>|<|event) (.*)$")


@dataclass
class Event:
    t: float        # wall clock, seconds
    lane: str
    what: str


def _trace_events(workdir):
    by_event = {ev: lane for lane, ev in LANES}
    out = []
    try:
        with open(os.path.join(workdir, qemu_trace.TRACE_LOG), errors="replace") as f:
            for ln in f:
                m = _TRACE.match(ln)
                if m and m.group(2) in by_event:
                    out.append(Event(float(m.group(1)), by_event[m.group(2)],
                                     "%s %s" % (m.group(2), m.group(3))))
    except OSError:
        pass
    return out


def _qmp_events(workdir):
    out = []
    try:
        with open(os.path.join(workdir, QMP_LOG), errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for ln in lines:
        m = _QMP.match(ln)
        if not m:
            continue
        try:
            obj = ast.literal_eval(m.group(3))
        except (ValueError, SyntaxError):
            continue
        if not isinstance(obj, dict):
            continue
        if m.group(2) == ">" and obj.get("execute") in HOST_ACTIONS:
            args = obj.get("arguments", {})
            out.append(Event(float(m.group(1)), "host action",
                             "%s %s" % (obj["execute"], " ".join(
                                 "%s=%s" % kv for kv in sorted(args.items())))))
        elif m.group(2) == "event" and obj.get("event") == "DEVICE_DELETED":
            ts = obj.get("timestamp", {})
            t = ts.get("seconds", 0) + ts.get("microseconds", 0) / 1e6
            out.append(Event(t, "device removed",
                             "DEVICE_DELETED %s" % obj.get("data", {}).get("device", "")))
    return out


def events(workdir):
    return sorted(_trace_events(workdir) + _qmp_events(workdir), key=lambda e: e.t)


def figures(evs):
    """Timings a developer looks for first, in milliseconds (or counts)."""
    out = {}
    timeouts = [e for e in evs if e.lane == "timed out"]
    clears = [e for e in evs if e.lane == "ITE cleared"]
    out["ite"] = len(timeouts)
    if timeouts:
        first = timeouts[0]
        after = [e for e in clears if e.t >= first.t]
        subs = [e for e in evs if e.lane == "submitted" and e.t <= first.t]
        if after:
            # From the ITE to the guest clearing it: the driver's reaction.
            out["ite_to_clear_ms"] = round((after[0].t - first.t) * 1000, 1)
        if after and subs:
            # From submitting the invalidation that timed out to the last
            # ITE cleared: how long the guest spent on the dead device
            # (about devtlb-timeout-ms when it gives up after one ITE;
            # the rest of the run when it retries for ever).
            out["ite_recovery_ms"] = round((after[-1].t - subs[-1].t) * 1000, 1)
    dels = [e for e in evs if e.lane == "host action"
            and e.what.split()[0] in ("device_del", "x-pcie-surprise-remove")]
    gone = [e for e in evs if e.lane == "device removed"]
    if dels and gone:
        later = [g for g in gone if g.t >= dels[0].t]
        if later:
            out["unplug_ms"] = round((later[0].t - dels[0].t) * 1000, 1)
    return out


def interesting(evs):
    """Worth a picture: something timed out, or a device went away."""
    return any(e.lane in ("timed out", "device removed") for e in evs)


def svg(evs, title, width=760):
    """The timeline as an SVG picture: one lane per kind of event, a tick
    per event (events closer than a pixel share one), time on the x axis
    from the first host action or timeout (minus a margin) to the end."""
    lanes = [lane for lane, _ in LANES] + list(QMP_LANES)
    marks = [e for e in evs if e.lane in ("host action", "timed out", "device removed")]
    if not evs:
        return ""
    t0 = (marks[0].t if marks else evs[0].t) - 0.5
    t1 = max(evs[-1].t, t0 + 1.0)
    left, lane_h, top = 110, 22, 28
    plot = width - left - 10
    height = top + lane_h * len(lanes) + 30
    colour = {"submitted": "#4477aa", "completed": "#228833", "timed out": "#cc3311",
              "ITE cleared": "#ee7733", "host action": "#222222",
              "device removed": "#aa3377"}

    def x(t):
        return left + (t - t0) / (t1 - t0) * plot

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<text x="4" y="16" font-size="13">%s</text>' % _esc(title)]
    for i, lane in enumerate(lanes):
        y = top + i * lane_h
        out.append('<text x="4" y="%d">%s</text>' % (y + 14, _esc(lane)))
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>'
                   % (left, y + lane_h - 2, width - 10, y + lane_h - 2))
        seen = set()
        for e in evs:
            if e.lane != lane or e.t < t0:
                continue
            px = int(x(e.t))
            if px in seen:
                continue
            seen.add(px)
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
                       'stroke-width="2"><title>%s</title></line>'
                       % (px, y + 3, px, y + lane_h - 4, colour[lane], _esc(e.what)))
    ya = top + lane_h * len(lanes) + 12
    span = t1 - t0
    step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 60, 120, 600) if span / s <= 8)
    k = 0
    while k * step <= span:
        px = x(t0 + k * step)
        out.append('<line x1="%.0f" y1="%d" x2="%.0f" y2="%d" stroke="#999"/>'
                   % (px, ya - 6, px, ya - 2))
        out.append('<text x="%.0f" y="%d" text-anchor="middle">%gs</text>'
                   % (px, ya + 8, round(k * step, 1)))
        k += 1
    out.append("</svg>")
    return "\n".join(out)


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
