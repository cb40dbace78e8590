"""Run one cell of the matrix: one scenario, in one vIOMMU mode, on one kernel.

The cell's verdict compares what happened with what the scenario expects
of that kernel:
  expect = pass: every step succeeded, every required line appeared, no
                 forbidden line appeared, QEMU stayed alive.
  expect = fail: the run failed AND the failure's signature appeared in the
                 guest log. A run that fails some other way, or passes,
                 does not meet the expectation.
"""
import dataclasses
import functools
import json
import os
import re
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field

from . import guest_log, kernels, qemu_trace, snapshot, timeline
from . import scenario as scenario_mod
from .diagnosis import diagnose
from .machine import QEMU_STDERR, AgentError, Machine, StartError, qemu_command, shell_quote

# How long a guest has from QEMU's start until its agent answers, at
# the harness's default parallelism on two cores; a kernel with slow
# checkers gets kernels.SLOW_FACTOR times as long (boot_limit).
BOOT_TIMEOUT = 60.0


def boot_limit(kernel):
    """The boot allowance of `kernel`'s guests, in seconds."""
    return BOOT_TIMEOUT * (kernels.SLOW_FACTOR if kernel.slow else 1)


@dataclass
class CellResult:
    scenario: str
    kernel: str
    expected: str               # pass | fail
    mode: str = "legacy"        # the vIOMMU mode
    informational: bool = False  # a findings column: never fails the run
    outcome: str = "pass"       # pass | fail | timeout | error | skip (did not run)
    met: bool = False           # outcome matches the expectation
    reasons: list = field(default_factory=list)
    evidence: str = ""          # the signature line, for expected failures
    shows: str = ""             # what that failure means (the scenario's words)
    duration: float = 0.0
    timings: dict = field(default_factory=dict)
    workdir: str = ""
    command: str = ""
    # A kernel given by path with nothing expected of it: the known
    # behaviour the cell matched (patched, base or neither), and how.
    matches: str = ""
    match_detail: str = ""
    identity: dict = field(default_factory=dict)    # kernels.identity()
    attempt: int = 0            # which run of the cell, with --repeat

    @property
    def label(self):
        # Not "#N": a "#" in a TAP description starts a directive.
        run = " run %d" % self.attempt if self.attempt else ""
        return "%s [%s, %s]%s" % (self.scenario, self.mode, self.kernel, run)

    def summary(self):
        if self.outcome == "skip":
            return "skipped: %s" % "; ".join(self.reasons)
        if self.matches:
            return self.match_detail
        if self.met and self.expected == "fail":
            return "expected failure seen: %s" % self.evidence
        if self.met:
            return "passed"
        return "; ".join(self.reasons) or self.outcome


def _parse_kv(words):
    out = {}
    for w in words:
        if "=" not in w:
            raise ValueError("expected key=value, got %r" % w)
        k, v = w.split("=", 1)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _log_watch(m, regex, repeat=1):
    """A stop() for guest and event steps: true once `repeat` lines of the
    guest log match regex, so a step that will never be answered or come
    (the guest locked up) ends as soon as the lockup is shown, instead of
    at its timeout with a vCPU spinning all along. Checked at most every
    0.5 s."""
    pattern = re.compile(regex)

    def seen():
        return sum(1 for ln in guest_log.lines_of(m.serial_text())
                   if pattern.search(ln)) >= repeat
    return seen


def _run_step(m, step, deadline, stop=None):
    """Run one step; returns None on success or a reason string."""
    now = time.monotonic()
    if step.kind == "guest":
        r = m.agent.command(step.words, deadline, stop)
        if r is None:
            if stop and stop():
                return "timeout: guest did not answer '%s' (lockup reported)" % step.text
            return "timeout: guest did not answer '%s'" % step.text
        ok, summary, _ = r
        return None if ok else "guest step '%s' failed: %s" % (step.text, summary)
    if step.kind == "qmp":
        try:
            args = _parse_kv(step.words[1:])
        except ValueError as e:
            return "bad qmp step '%s': %s" % (step.text, e)
        ok, ret = m.execute(step.words[0], args)
        return None if ok else "qmp '%s' failed: %s" % (step.text, ret)
    if step.kind == "event":
        name, secs = step.words[0], float(step.words[-1])
        try:
            match = {k: str(v) for k, v in _parse_kv(step.words[1:-1]).items()}
        except ValueError as e:
            return "bad event step '%s': %s" % (step.text, e)
        ev = m.wait_event(name, match, min(deadline, now + secs), stop)
        if ev is None:
            if stop and stop():
                return "timeout: no %s event %s (lockup reported)" % (name, match or "")
            return "timeout: no %s event %s within %gs" % (name, match or "", secs)
        return None
    if step.kind == "qom-check":
        return _qom_check(m, step, now, deadline, stop)
    if step.kind == "sleep":
        end = min(deadline, now + float(step.words[0]))
        while time.monotonic() < end and m.alive():
            m.poll_events(min(0.5, end - time.monotonic()))
        return None
    return "unknown step kind %s" % step.kind


# How often a qom-check with SECONDS reads the property again: often
# enough to act within a few milliseconds of guest time on what it waits
# for (an invalidation a device received, say).
QOM_POLL_S = 0.005


def _qom_check(m, step, now, deadline, stop):
    """A QOM property read on the host (a device's statistic, say), which
    nothing the guest does can fake, compared with the step's value; with
    SECONDS, read again until the comparison holds or they run out."""
    path, prop, op, want = step.words[:4]
    secs = float(step.words[4]) if len(step.words) > 4 else 0.0
    end = min(deadline, now + secs)
    want = scenario_mod.qom_value(want)
    while True:
        ok, got = m.execute("qom-get", {"path": path, "property": prop})
        if not ok:
            return "qom-check '%s': qom-get failed: %s" % (step.text, got)
        why = scenario_mod.qom_mismatch(got, op, want)
        if why is None:
            return None
        if time.monotonic() >= end or not m.alive() or (stop and stop()):
            break
        m.poll_events(QOM_POLL_S)
    return "qom-check: %s %s %s%s" % (path, prop, why,
                                      " after %gs" % secs if secs else "")


def _all_steps(scenario):
    """(step, cycle number, last step of its cycle) in the order they run:
    the steps (cycle 0), the cycle block `cycles` times, then the after
    block (cycle 0)."""
    for step in scenario.steps:
        yield step, 0, False
    for n in range(1, scenario.cycles + 1):
        for i, step in enumerate(scenario.cycle):
            yield step.in_cycle(n), n, i == len(scenario.cycle) - 1
    for step in scenario.after:
        yield step, 0, False


def judge(res, failed, v, exp):
    """Fill res.outcome, res.reasons, res.met and res.evidence from how the
    run ended (`failed`: None or (outcome, reason)), the log verdict `v`
    and the expectation `exp`."""
    if failed:
        res.outcome = failed[0]
        res.reasons.append(failed[1])
    if v.missing or v.forbidden:
        res.outcome = "fail" if res.outcome == "pass" else res.outcome
    res.reasons += ["required line missing: /%s/" % r for r in v.missing]
    res.reasons += ["forbidden %s at line %d: %s" % (h.what, h.lineno, h.line.strip())
                    for h in v.forbidden]
    if failed and failed[1].startswith(SANITIZER_REASON):
        # QEMU misbehaved: no expectation of the guest covers that.
        res.met = False
        return
    if exp.outcome == "pass":
        res.met = res.outcome == "pass"
        return
    # The signature is looked for in the guest log, then in the harness's
    # own finding, why the run failed (a broken trace order, a qom-check,
    # is not a guest log line); never in the log verdict's reasons, which
    # quote the scenario's regexes: "required line missing: /SIG/" would
    # match SIG itself.
    finding = None
    if v.signature is None and failed and re.search(exp.signature, failed[1]):
        finding = failed[1]
    res.met = res.outcome != "pass" and (v.signature is not None or finding is not None)
    if v.signature:
        res.evidence = "line %d: %s" % (v.signature.lineno, v.signature.line.strip())
    elif finding:
        res.evidence = "harness: %s" % finding
    elif res.outcome == "pass":
        res.reasons.append("expected failure /%s/ but the run passed" % exp.signature)
    else:
        res.reasons.append("failed, but not with the expected signature /%s/%s"
                           % (exp.signature, " (%d times)" % exp.repeat
                              if exp.repeat > 1 else ""))


# What a QEMU built with sanitizers (scripts/build/build-qemu.sh --asan)
# prints on its stderr when it finds something: one pattern a line, in a
# file the shell scripts read too (scripts/lib/sanitizers.sh).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "sanitizer-reports.txt")) as _f:
    SANITIZER = re.compile("|".join(ln.rstrip("\n") for ln in _f if ln.strip()))
SANITIZER_REASON = "QEMU sanitizer report: "


def qemu_sanitizer_report(workdir):
    """The first sanitizer line in the cell's qemu.stderr, or None."""
    try:
        with open(os.path.join(workdir, QEMU_STDERR), errors="replace") as f:
            for ln in f:
                if SANITIZER.search(ln):
                    return ln.strip()
    except OSError:
        pass
    return None


RESULT_FILE = "result.json"     # the CellResult, as JSON
COMMAND_FILE = "command.sh"     # the cell's QEMU command, to run it again by hand
HARNESS_ERROR_FILE = "harness-error.txt"    # the traceback of a bug of the harness's


def run_suffix(attempt):
    """What names a run of a repeated cell (--repeat), after its kernel."""
    return ".r%d" % attempt if attempt else ""


def cell_dir(scenario, mode, kernel, attempt=0):
    """A cell's directory name; `kernel` a kernels.Kernel or its label."""
    return "%s.%s.%s%s" % (scenario.name, mode, getattr(kernel, "label", kernel),
                           run_suffix(attempt))


def _new_result(scenario, kernel, mode, attempt, results_dir):
    exp = kernel.expectation(scenario)
    res = CellResult(scenario.name, kernel.label, exp.outcome, mode, kernel.informational,
                     shows=exp.shows, identity=kernels.identity(kernel), attempt=attempt)
    res.workdir = os.path.join(results_dir, cell_dir(scenario, mode, kernel, attempt))
    return res


def _write_result(res):
    with open(os.path.join(res.workdir, RESULT_FILE), "w") as f:
        json.dump(res.__dict__, f, indent=1)


def run_cell(scenario, kernel, paths, results_dir, accel="tcg", mode="legacy",
             boot="snapshot", template_trace=(), attempt=0):
    """Run one cell (`kernel` a kernels.Kernel); its CellResult, also
    written to its RESULT_FILE. Never raises: a bug of the harness's ends
    this cell as an error, its traceback on stderr and in the cell's
    HARNESS_ERROR_FILE, and the other cells of the run go on."""
    try:
        return _run_cell(scenario, kernel, paths, results_dir, accel, mode, boot,
                         template_trace, attempt)
    except Exception as e:
        tb = traceback.format_exc()
        res = _new_result(scenario, kernel, mode, attempt, results_dir)
        res.outcome = "error"
        res.reasons.append("harness: internal error: %s: %s (traceback in %s)"
                           % (type(e).__name__, e, HARNESS_ERROR_FILE))
        print("# %s: harness error\n%s" % (res.label, tb), file=sys.stderr, flush=True)
        try:
            os.makedirs(res.workdir, exist_ok=True)
            with open(os.path.join(res.workdir, HARNESS_ERROR_FILE), "w") as f:
                f.write(tb)
            _write_result(res)
        except OSError:
            pass
        return res


def _restore_from(scenario, paths, results_dir, accel, mode, template_trace, boot_timeout):
    """The template directory and state file this cell starts from, made
    if it is the first of its configuration (booted with the trace events
    template_trace as well as its own); None to boot it."""
    key = snapshot.config_key(paths, scenario, accel, mode)
    # The timeline's events too, whatever the scenario says: cells of
    # other scenarios may start from the same template, and which cell
    # boots it is chance (the timeline is read from the cell's own log).
    template = dataclasses.replace(scenario, timeline=True,
                                   trace=sorted(set(scenario.trace) | set(template_trace)))
    state = snapshot.ensure(results_dir, key, functools.partial(
        snapshot.boot_template, paths, template, accel, mode, boot_timeout=boot_timeout))
    return (snapshot.template_dir(results_dir, key), state) if state else None


def _run_cell(scenario, kernel, paths, results_dir, accel, mode, boot, template_trace,
              attempt):
    exp = kernel.expectation(scenario)
    res = _new_result(scenario, kernel, mode, attempt, results_dir)
    workdir = res.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    skip = kernel.skip_reason(scenario)
    if skip:
        res.outcome, res.met, res.reasons = "skip", True, [skip]
        _write_result(res)
        return res
    # The command that boots the cell's guest: to run it again by hand,
    # whether the cell booted or started from a saved state.
    res.command = shell_quote(qemu_command(paths, scenario, workdir, accel, mode))
    with open(os.path.join(workdir, COMMAND_FILE), "w") as f:
        f.write(res.command + "\n")

    boot_timeout = boot_limit(kernel)
    t0 = time.monotonic()
    restore = _restore_from(scenario, paths, results_dir, accel, mode, template_trace,
                            boot_timeout) if boot == "snapshot" else None
    if boot == "snapshot":
        # The wait for the template is not the cell's: from here it has
        # its whole time, whether it starts from the template or, where
        # that did not boot, boots on its own.
        res.timings["wait_template"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
    if restore:
        res.timings["booted_from"] = os.path.relpath(restore[0], results_dir)
        snapshot.start_from(restore[0], workdir)
    # A slow kernel's extra boot allowance is added to the scenario's time.
    deadline = t0 + scenario.timeout + boot_timeout - BOOT_TIMEOUT
    m = Machine(paths, qemu_command(paths, scenario, workdir, accel, mode, bool(restore)),
                workdir)
    failed = None
    started = False
    try:
        m.start()
        started = True
        why = snapshot.restore(m, restore[1]) if restore else None
        if why:
            failed = ("error", "harness: cannot start from %s: %s" % (restore[0], why))
        elif not (m.agent.wait_resumed if restore else m.agent.wait_ready)(
                min(deadline, t0 + boot_timeout)):
            failed = ("timeout", "timeout: guest agent did not answer within %ds of start"
                      % int(min(deadline - t0, boot_timeout)))
        else:
            res.timings["boot"] = round(time.monotonic() - t0, 2)
            res.timings["boot_cpu_s"] = m.cpu_seconds()
            # What ends a guest step early: the expected failure, or for a
            # cell expected to pass, any report of a wedged kernel.
            if exp.outcome == "fail":
                stop = _log_watch(m, exp.signature, exp.repeat)
            else:
                stop = _log_watch(m, "|".join(r for _, r in guest_log.WEDGED))
            cycle_start, cycle_times = {}, []
            for step, n, last in _all_steps(scenario):
                ts = time.monotonic()
                cycle_start.setdefault(n, ts)
                reason = _run_step(m, step, deadline, stop)
                if n == 0:
                    res.timings.setdefault("steps", []).append(
                        [step.text, round(time.monotonic() - ts, 2)])
                elif last or reason:
                    cycle_times.append(time.monotonic() - cycle_start[n])
                if reason:
                    if n:
                        reason = "cycle %d of %d: %s" % (n, scenario.cycles, reason)
                    failed = ("timeout" if reason.startswith("timeout") else "fail", reason)
                    break
                if not m.alive():
                    failed = ("error", "QEMU exited (status %s) during '%s'"
                              % (m.proc.returncode, step.text))
                    break
            if cycle_times:
                res.timings["cycles"] = len(cycle_times)
                res.timings["cycle_mean_s"] = round(sum(cycle_times) / len(cycle_times), 2)
                res.timings["cycle_max_s"] = round(max(cycle_times), 2)
    except (StartError, AgentError, OSError) as e:
        failed = ("error", "harness: %s" % e)
    except Exception as e:  # QMP connection errors come in many types
        failed = ("error", "harness: %s: %s" % (type(e).__name__, e))

    try:
        if failed and exp.outcome == "pass" and m.alive():
            diagnose(m, workdir)

        # An expected failure may take a while to show (an RCU stall report
        # comes 21 s after the CPU stops): keep the guest running until the
        # signature shows up or the scenario's time is up.
        if failed and exp.outcome == "fail":
            signature_seen = _log_watch(m, exp.signature, exp.repeat)
            while time.monotonic() < deadline and m.alive() and not signature_seen():
                time.sleep(0.5)

        died = m.proc is not None and not m.alive()
    finally:
        how = m.stop()      # whatever went wrong above, no QEMU is left running
    stopped_at = time.time()    # the clock of QEMU's trace and the QMP log
    res.duration = round(time.monotonic() - t0, 2)
    res.timings["total"] = res.duration
    res.timings["stop"] = how
    if m.cpu is not None:
        res.timings["cpu_s"] = round(m.cpu, 2)
    if died and not failed:
        failed = ("error", "QEMU exited on its own (status %s)" % m.proc.returncode)

    sanitizer = qemu_sanitizer_report(workdir)
    if not sanitizer and restore:
        # The boot ran in the template's QEMU: its reports count too.
        sanitizer = qemu_sanitizer_report(os.path.join(restore[0], snapshot.TEMPLATE))
    if sanitizer:
        # Whatever the guest did, QEMU must not misbehave: fail the cell
        # even where a failure was expected.
        failed = ("error", SANITIZER_REASON + sanitizer)
    if scenario.timeline:
        # Without its trace events the timeline would be the QMP lanes
        # alone, and "0 ITEs" a claim nothing checked.
        evs = timeline.events(workdir)
        res.timings.update(timeline.figures(evs, stopped_at, how == "poweroff"))
        timeline.write_pictures(evs, res.label, workdir)
    if not failed and (scenario.trace_order or scenario.trace_forbid):
        # The guest's boot is in its template's trace when it was restored.
        trace = qemu_trace.read(workdir)
        if restore:
            trace = qemu_trace.read(os.path.join(restore[0], snapshot.TEMPLATE)) + trace
        reason = (qemu_trace.check_order(trace, scenario.trace_order)
                  or qemu_trace.check_absent(trace, scenario.trace_forbid))
        if reason:
            failed = ("fail", reason)
    text = m.serial_text()

    def verdict(e):
        """The cell judged against the expectation `e`."""
        r = dataclasses.replace(res, reasons=list(res.reasons), expected=e.outcome,
                                shows=e.shows)
        # A guest that never started is missing every required line: its
        # cell's reason is why it did not start, not that.
        require = scenario.require + e.require if started else []
        judge(r, failed, guest_log.check(text, require, scenario.forbid,
                                         e.signature, e.repeat), e)
        return r
    compare = kernel.compare(scenario)
    res = matched([(name, verdict(e)) for name, e in compare]) if compare else verdict(exp)
    _write_result(res)
    return res


# The known behaviours (kernels.KNOWN) in a cell's words.
WHO = {"patched": "the patched kernel", "base": "the base"}


def matched(verdicts):
    """The cell of a kernel with nothing expected of it, from its verdicts
    against each known behaviour ([(name, CellResult)], in kernels.KNOWN's
    order): the first behaviour it met, or "neither" and why not each."""
    met = [(name, r) for name, r in verdicts if r.met]
    if met:
        name, r = met[0]
        like = " and ".join(WHO[n] for n, v in met if v.expected == r.expected)
        how = ("fails like %s: %s" % (like, r.evidence) if r.expected == "fail"
               else "passes like %s" % like)
        return dataclasses.replace(r, matches=name, match_detail=how)
    r = verdicts[0][1]
    why = "; ".join("not like %s: %s" % (name, v.summary()) for name, v in verdicts)
    return dataclasses.replace(r, matches="neither", match_detail="matches no known "
                               "behaviour (%s)" % why)
