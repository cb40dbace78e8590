"""A cell's QMP transcript (qmp.log): the harness's commands, QEMU's
replies and events, one JSON object per line:

  {"t": 5.002, "wall": 1764547200.123456, "dir": "<", "msg": {"return": {}}}

t: seconds since QEMU was started; wall: the host's wall clock, the clock
of QMP event timestamps and of QEMU's trace (-msg timestamp=on); dir: ">"
a command, "<" its reply, "event" an event; msg: the QMP message.
"""
import json
import os

QMP_LOG = "qmp.log"     # in each cell's directory

DIRECTIONS = (">", "<", "event")


def entry(since_start, wall, direction, msg):
    """One line of the transcript (without its newline)."""
    return json.dumps({"t": round(since_start, 3), "wall": round(wall, 6),
                       "dir": direction, "msg": msg}, default=str)


def read(workdir):
    """The transcript of a cell as (wall, direction, msg) tuples; lines
    that are not entries (a log cut short as QEMU was killed) are
    skipped."""
    out = []
    try:
        with open(os.path.join(workdir, QMP_LOG), errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for ln in lines:
        try:
            e = json.loads(ln)
            out.append((float(e["wall"]), e["dir"], e["msg"]))
        except (ValueError, TypeError, KeyError):
            continue
    return [x for x in out if x[1] in DIRECTIONS and isinstance(x[2], dict)]
