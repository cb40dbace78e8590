"""A cell's timeline: what happened to device-TLB invalidations and
devices, on one clock, as figures and as an SVG picture.

Sources, all stamped with the host's wall clock:
- QEMU's trace (qemu-debug.log, `-msg timestamp=on`): an invalidation
  submitted to a device, completed by it, timed out (ITE raised), and the
  guest clearing the ITE; on the smmuv3 mode's machine, an ATC
  invalidation submitted and completed, a CMD_SYNC timed out
  (CERROR_ATC_INV_SYNC) and the guest acknowledging that error, in the
  same lanes (modes.MachineDef.lanes);
- the QMP transcript (qmp.log): the harness's commands (device_del, ...)
  and QEMU's events (DEVICE_DELETED).
"""
import bisect
import datetime
import itertools
import os
import re
from dataclasses import dataclass

from . import modes, qemu_trace, qmp_log

# The lanes of trace events, in order, each fed by one event of each
# machine's vIOMMU.
LANES = tuple(lane for lane, _ in modes.HOME.lanes)
# trace event -> lane, for every machine's events
BY_EVENT = {event: lane for m in modes.MACHINES.values() for lane, event in m.lanes}
QMP_LANES = ("host action", "device removed")
HOST_ACTIONS = ("device_del", "device_add", "x-pcie-surprise-remove", "x-pcie-link-set",
                "qom-set")

# A trace line of the log backend with `-msg timestamp=on`: QEMU 10.1 and
# later stamp it as every other log line, with the UTC time
# ("2026-12-01T21:49:38.790871Z vtd_devtlb_inv_submit sid=..."); before
# that, with the thread and the seconds since the epoch
# ("1234@1764625778.790871:vtd_devtlb_inv_submit sid=...").
_TRACE = re.compile(r"^(?:\d+@(\d+\.\d+):|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z )"
                    r"(\w+) ?(.*)$")
_SID = re.compile(r"\bsid=(\S+)")


@dataclass
class Event:
    t: float        # wall clock, seconds
    lane: str
    what: str
    device: str = ""    # the device: a host action's or removal's id, a trace event's sid


def _trace_time(m):
    """A _TRACE match's time, in seconds since the epoch."""
    if m.group(1):
        return float(m.group(1))
    return datetime.datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def _trace_events(workdir):
    by_event = BY_EVENT
    out = []
    try:
        with open(os.path.join(workdir, qemu_trace.TRACE_LOG), errors="replace") as f:
            for ln in f:
                m = _TRACE.match(ln.rstrip("\n"))
                if m and m.group(3) in by_event:
                    sid = _SID.search(m.group(4))
                    out.append(Event(_trace_time(m), by_event[m.group(3)],
                                     "%s %s" % (m.group(3), m.group(4)),
                                     sid.group(1) if sid else ""))
    except OSError:
        pass
    return out


def _qmp_events(workdir):
    out = []
    for wall, direction, obj in qmp_log.read(workdir):
        if direction == ">" and obj.get("execute") in HOST_ACTIONS:
            args = obj.get("arguments", {})
            out.append(Event(wall, "host action",
                             "%s %s" % (obj["execute"], " ".join(
                                 "%s=%s" % kv for kv in sorted(args.items()))),
                             str(args.get("id", ""))))
        elif direction == "event" and obj.get("event") == "DEVICE_DELETED":
            ts = obj.get("timestamp", {})
            t = ts.get("seconds", 0) + ts.get("microseconds", 0) / 1e6
            dev = str(obj.get("data", {}).get("device", ""))
            out.append(Event(t, "device removed", "DEVICE_DELETED " + dev, dev))
    return out


def events(workdir):
    return sorted(_trace_events(workdir) + _qmp_events(workdir), key=lambda e: e.t)


# However short the device-TLB time-out, ITEs further apart than this are
# not one driver resending the same flush.
MIN_QUIET_S = 1.0
REMOVALS = ("device_del", "x-pcie-surprise-remove")


@dataclass
class Episode:
    """A run of ITEs: one, or a driver resending the flush that timed out,
    each resend timing out in turn."""
    start: float            # the flush that timed out first was submitted
    timeouts: list          # when each ITE was raised
    cleared: float = None   # the last of them the guest cleared
    ended: bool = True      # the ITEs stopped while the guest ran on

    @property
    def recovery_ms(self):
        """From submitting the flush that timed out to clearing the last
        ITE: how long the guest spent on the dead device. None when it
        never got past it."""
        if not self.ended or self.cleared is None:
            return None
        return round((self.cleared - self.start) * 1000, 1)

    @property
    def every_ms(self):
        """The median time between two ITEs: the resend period."""
        gaps = sorted(b - a for a, b in zip(self.timeouts, self.timeouts[1:]))
        return round(gaps[len(gaps) // 2] * 1000, 1) if gaps else None


def _last_before(times, t, strict=False):
    """The last of the sorted times at or before t (before t when
    strict), or None."""
    i = (bisect.bisect_left if strict else bisect.bisect_right)(times, t)
    return times[i - 1] if i else None


def ite_episodes(evs, end=None, powered_off=False):
    """The ITEs of a run, grouped into episodes: ITEs are one episode
    while each comes within `quiet` of the one before, twice the longest
    a flush was seen to wait before it timed out (the time-out itself),
    at least MIN_QUIET_S.

    `end` is when QEMU stopped (wall clock). The last episode did not end
    when its ITEs came until then, as a driver retrying for ever makes
    them come, unless the guest powered off when asked (`powered_off`):
    that guest was running, not stuck in the flush."""
    timeouts = [e for e in evs if e.lane == "timed out"]
    if not timeouts:
        return []
    submits = {}
    for e in evs:
        if e.lane == "submitted":
            submits.setdefault(e.device, []).append(e.t)
    clears = [e.t for e in evs if e.lane == "ITE cleared"]
    starts = [_last_before(submits.get(e.device, []), e.t) for e in timeouts]
    waits = [e.t - s for e, s in zip(timeouts, starts) if s is not None]
    quiet = max([MIN_QUIET_S] + [2 * w for w in waits])
    eps = []
    for e, s in zip(timeouts, starts):
        if eps and e.t - eps[-1].timeouts[-1] <= quiet:
            eps[-1].timeouts.append(e.t)
        else:
            eps.append(Episode(e.t if s is None else s, [e.t]))
    for ep, nxt in zip(eps, eps[1:] + [None]):
        until = nxt.timeouts[0] if nxt else float("inf")
        ep.cleared = _last_before(clears, until, strict=True)
        if ep.cleared is not None and ep.cleared < ep.timeouts[0]:
            ep.cleared = None
    if end is not None and not powered_off:
        eps[-1].ended = end - eps[-1].timeouts[-1] > quiet
    return eps


def unplugs_ms(evs):
    """Each removal (device_del, surprise removal) to its device's
    DEVICE_DELETED, in milliseconds, in order."""
    out = []
    for i, e in enumerate(evs):
        if e.lane != "host action" or e.what.split()[0] not in REMOVALS:
            continue
        gone = next((g for g in itertools.islice(evs, i + 1, None)
                     if g.lane == "device removed"
                     and (g.device == e.device or not e.device)), None)
        if gone:
            out.append(round((gone.t - e.t) * 1000, 1))
    return out


def figures(evs, end=None, powered_off=False):
    """Timings a developer looks for first, in milliseconds (or counts).
    Lists where a cell can have many (cycle cells): the report gives
    their median and maximum. `end`, `powered_off`: how QEMU stopped
    (ite_episodes)."""
    out = {}
    timeouts = [e for e in evs if e.lane == "timed out"]
    out["ite"] = len(timeouts)
    if timeouts:
        after = [e for e in evs if e.lane == "ITE cleared" and e.t >= timeouts[0].t]
        if after:
            # From the ITE to the guest clearing it: the driver's reaction.
            out["ite_to_clear_ms"] = round((after[0].t - timeouts[0].t) * 1000, 1)
    eps = ite_episodes(evs, end, powered_off)
    rec = [ep.recovery_ms for ep in eps if ep.recovery_ms is not None]
    if rec:
        out["ite_recoveries_ms"] = rec
    if eps and not eps[-1].ended:
        last = eps[-1]
        out["ite_unrecovered"] = {"ites": len(last.timeouts), "every_ms": last.every_ms,
                                  "for_s": round(end - last.start, 1)}
    un = unplugs_ms(evs)
    if un:
        out["unplugs_ms"] = un
    # Every device removed, whoever started the removal (the guest powering
    # its slot off starts it without a QMP command to pair it with); not
    # the events of a device's parts, which have a QOM path but no id.
    removed = sum(1 for e in evs if e.lane == "device removed" and e.device)
    if removed:
        out["removed"] = removed
    return out


def interesting(evs):
    """Worth a picture: something timed out, or a device went away."""
    return any(e.lane in ("timed out", "device removed") for e in evs)


def write_pictures(evs, title, workdir):
    """The full timeline, and for a long one its summary, into workdir."""
    if not interesting(evs):
        return
    with open(os.path.join(workdir, SVG_FILE), "w") as f:
        f.write(svg(evs, title))
    if len(evs) > SUMMARY_OVER:
        with open(os.path.join(workdir, SUMMARY_FILE), "w") as f:
            f.write(summary_svg(evs, title))


COLOUR = {"submitted": "#4477aa", "completed": "#228833", "timed out": "#cc3311",
          "ITE cleared": "#ee7733", "host action": "#222222", "device removed": "#aa3377"}
LEFT, LANE_H, TOP = 110, 22, 28
# The pictures in a cell's directory. A timeline with more events than
# SUMMARY_OVER (about 8 kB drawn in full) also gets a summary, which is
# what the report shows.
SVG_FILE = "timeline.svg"
SUMMARY_FILE = "timeline-summary.svg"
SUMMARY_OVER = 50


class _Frame:
    """The picture's frame, shared by the full timeline and its summary:
    the title, one lane per kind of event, and the time axis from the
    first host action or timeout (minus a margin) to the last event."""

    def __init__(self, evs, title, width):
        self.lanes = list(LANES) + list(QMP_LANES)
        marks = [e for e in evs if e.lane in ("host action", "timed out", "device removed")]
        self.t0 = (marks[0].t if marks else evs[0].t) - 0.5
        self.t1 = max(evs[-1].t, self.t0 + 1.0)
        self.width = width
        self.plot = width - LEFT - 10
        height = TOP + LANE_H * len(self.lanes) + 30
        self.out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'font-family="sans-serif" font-size="11">' % (width, height),
                    '<text x="4" y="16" font-size="13">%s</text>' % _esc(title)]
        for i, lane in enumerate(self.lanes):
            y = self.y(lane)
            self.out.append('<text x="4" y="%d">%s</text>' % (y + 14, _esc(lane)))
            self.out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>'
                            % (LEFT, y + LANE_H - 2, width - 10, y + LANE_H - 2))

    def x(self, t):
        return LEFT + (t - self.t0) / (self.t1 - self.t0) * self.plot

    def y(self, lane):
        return TOP + self.lanes.index(lane) * LANE_H

    def close(self):
        ya = TOP + LANE_H * len(self.lanes) + 12
        span = self.t1 - self.t0
        step = next(s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 60, 120, 600, 1800)
                    if span / s <= 8)
        k = 0
        while k * step <= span:
            px = self.x(self.t0 + k * step)
            self.out.append('<line x1="%.0f" y1="%d" x2="%.0f" y2="%d" stroke="#999"/>'
                            % (px, ya - 6, px, ya - 2))
            self.out.append('<text x="%.0f" y="%d" text-anchor="middle">%gs</text>'
                            % (px, ya + 8, round(k * step, 1)))
            k += 1
        self.out.append("</svg>")
        return "\n".join(self.out)


def svg(evs, title, width=760):
    """The timeline as an SVG picture: a tick per event (events closer
    than a pixel share one), each with its trace line as a tooltip."""
    if not evs:
        return ""
    f = _Frame(evs, title, width)
    for lane in f.lanes:
        y = f.y(lane)
        seen = set()
        for e in evs:
            if e.lane != lane or e.t < f.t0:
                continue
            px = int(f.x(e.t))
            if px in seen:
                continue
            seen.add(px)
            f.out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
                         'stroke-width="2"><title>%s</title></line>'
                         % (px, y + 3, px, y + LANE_H - 4, COLOUR[lane], _esc(e.what)))
    return f.close()


def summary_svg(evs, title, width=760, bin_px=8):
    """The timeline in a few kilobytes, however many events: per lane, a
    bar per `bin_px` pixels whose height is the number of events in that
    interval against the lane's busiest one, and the lane's total."""
    if not evs:
        return ""
    f = _Frame(evs, title, width)
    f.out[1] = f.out[1].replace("</text>", " (summary: events per %.2g s)</text>"
                                % ((f.t1 - f.t0) * bin_px / f.plot))
    last = f.plot // bin_px - 1     # the last event's bin, not one past the axis
    for lane in f.lanes:
        bins = {}
        for e in evs:
            if e.lane == lane and e.t >= f.t0:
                b = min(last, int((f.x(e.t) - LEFT) // bin_px))
                bins[b] = bins.get(b, 0) + 1
        if not bins:
            continue
        y, most, h = f.y(lane), max(bins.values()), LANE_H - 6
        # One path of vertical bars, each drawn from the one before
        # (relative moves keep it small).
        path, px, up = ["M%d %d" % (LEFT + bin_px // 2, y + LANE_H - 3)], 0, 0
        for b, n in sorted(bins.items()):
            bar = max(1, round(h * n / most))
            path.append("m%d %dv-%d" % ((b - px) * bin_px, up, bar))
            px, up = b, bar
        path = "".join(path)
        f.out.append('<path d="%s" stroke="%s" stroke-width="%d"><title>%s: %d events, '
                     'at most %d per bar</title></path>'
                     % (path, COLOUR[lane], bin_px - 1, _esc(lane), sum(bins.values()), most))
    return f.close()


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
