"""Boot each guest configuration once per run, and start its cells from
the saved state.

Most of a short cell's QEMU CPU time is the guest's boot under TCG
(firmware, kernel, driver probes, the agent starting), and many cells
boot the same machine: the same kernel, vIOMMU mode, devices and command
line, differing only in what is done to the guest once it runs. The
first cell of such a configuration boots a template guest until its agent
answers, stops it and saves its state to a file with QEMU's own migration
(`migrate` to a `file:` URI); every cell of that configuration, that one
included, then starts its own QEMU with `-incoming defer` and loads the
state (`migrate-incoming`), with the template's console log as the
beginning of its own. A cell's QEMU trace and QMP transcript start there.

The configuration is the cell's whole QEMU command apart from its own
paths and trace patterns (config_key): anything that could make the guest
boot differently makes another template. A template that fails to boot
leaves its configuration's cells to boot on their own, so that each fails
with its own logs.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time

from . import guest_log
from .machine import AgentError, Machine, StartError, qemu_command, shell_quote

SNAPSHOTS = "snapshots"     # under the results directory, one directory per key
STATE_FILE = "state"        # the saved guest
BOOT_FILE = "boot.json"     # how the template booted: ok, boot_s, cpu_s, or why not
TEMPLATE = "template"       # the template guest's own cell-like directory

# Stands for the cell's directory in the command that config_key hashes.
_CELL = "/@cell"


def config_key(paths, scenario, accel, mode):
    """What cells must share to start from one boot: a hash of the QEMU
    command without the cell's directory and trace patterns."""
    words, cmd = [], qemu_command(paths, scenario, _CELL, accel, mode)
    it = iter(cmd)
    for w in it:
        if w == "-trace":
            next(it, None)
            continue
        words.append(w)
    return hashlib.sha1("\0".join(words).encode()).hexdigest()[:16]


def template_dir(results_dir, key):
    return os.path.join(results_dir, SNAPSHOTS, key)


def state_path(results_dir, key):
    return os.path.join(template_dir(results_dir, key), STATE_FILE)


def ensure(results_dir, key, boot):
    """The template's state file for `key`, made by boot(directory) the
    first time (it returns a dict with "ok" and figures), under a lock so
    cells of one configuration that start together wait for one boot.
    None when the template could not boot."""
    d = template_dir(results_dir, key)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = read_boot(d)
        if info is None:
            info = boot(d)
            with open(os.path.join(d, BOOT_FILE), "w") as f:
                json.dump(info, f, indent=1)
    path = os.path.join(d, STATE_FILE)
    return path if info.get("ok") and os.path.exists(path) else None


def read_boot(d):
    try:
        with open(os.path.join(d, BOOT_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _wait_migration(m, deadline):
    """query-migrate until it completes; the final status."""
    while True:
        ok, r = m.execute("query-migrate", {})
        status = r.get("status") if ok and isinstance(r, dict) else "query failed: %s" % r
        if status not in ("setup", "active", "device", "wait-unplug", "pre-switchover",
                          "none", None):
            return status
        if time.monotonic() > deadline or not m.alive():
            return "timed out in %s" % status
        time.sleep(0.02)


def save(m, path, timeout=60.0):
    """Stop a running guest and write its state to path; None when saved,
    else why not."""
    ok, r = m.execute("stop", {})
    if not ok:
        return "stop: %s" % r
    ok, r = m.execute("migrate", {"uri": "file:" + path})
    if not ok:
        return "migrate: %s" % r
    status = _wait_migration(m, time.monotonic() + timeout)
    return None if status == "completed" else "migration %s" % status


def restore(m, path, timeout=60.0):
    """Load a saved guest into a QEMU started with -incoming defer and
    let it run; None when it runs, else why not."""
    ok, r = m.execute("migrate-incoming", {"uri": "file:" + path})
    if not ok:
        return "migrate-incoming: %s" % r
    status = _wait_migration(m, time.monotonic() + timeout)
    if status != "completed":
        return "incoming migration %s" % status
    # The template was stopped when it was saved, so this guest is paused.
    ok, r = m.execute("cont", {})
    return None if ok else "cont: %s" % r


def boot_template(paths, scenario, accel, mode, directory, boot_timeout):
    """Boot the template guest of a configuration (the first cell's
    scenario stands for all of them: only its configuration counts) until
    its agent answers, and save it to directory/STATE_FILE. Its own logs
    go to directory/TEMPLATE. The dict for BOOT_FILE."""
    tdir = os.path.join(directory, TEMPLATE)
    os.makedirs(tdir, exist_ok=True)
    cmd = qemu_command(paths, scenario, tdir, accel, mode)
    with open(os.path.join(tdir, "command.sh"), "w") as f:
        f.write(shell_quote(cmd) + "\n")
    info = {"ok": False, "scenario": scenario.name}
    m = Machine(paths, cmd, tdir)
    t0 = time.monotonic()
    try:
        m.start()
        if not m.agent.wait_ready(t0 + boot_timeout):
            info["why"] = "the guest agent did not answer within %d s" % boot_timeout
        else:
            info["boot_s"] = round(time.monotonic() - t0, 2)
            info["boot_cpu_s"] = m.cpu_seconds()
            why = save(m, os.path.join(directory, STATE_FILE))
            if why:
                info["why"] = why
            else:
                info["ok"] = True
                info["save_s"] = round(time.monotonic() - t0 - info["boot_s"], 2)
                m.execute("quit", {})
                m.proc.wait(timeout=10)     # else stop() kills it
    except subprocess.TimeoutExpired:
        pass
    except (StartError, AgentError, OSError) as e:
        info["why"] = str(e)
    except Exception as e:  # QMP and its library fail in many ways
        info["why"] = "%s: %s" % (type(e).__name__, e)
    finally:
        m.stop()
    return info


def start_from(directory, workdir):
    """Begin a cell's console log with its template's, for the cell's
    QEMU (started with restore=True) to append to."""
    shutil.copyfile(os.path.join(directory, TEMPLATE, guest_log.SERIAL_LOG),
                    os.path.join(workdir, guest_log.SERIAL_LOG))


def remove_state(results_dir, key):
    """Drop a template's saved guest once no cell needs it (tens of MB
    each); its boot.json and logs stay."""
    try:
        os.unlink(state_path(results_dir, key))
    except OSError:
        pass
