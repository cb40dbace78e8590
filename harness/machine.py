"""One guest: the QEMU command line, the process, QMP and the agent channel.

QMP goes through QEMU's own in-tree client library (python/qemu/qmp, from
the pinned source tree), with the harness as the socket server, the way
QEMU's own python/qemu/machine does it.
"""
import asyncio
import hashlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from . import guest_log, modes, qemu_trace, qmp_log

# The kernel command line of every cell: the machine's console first
# (modes.MachineDef.console), then these, the machine's own words, the
# mode's, the TSC's and the scenario's.
BASE_CMDLINE = "loglevel=7 panic=-1 printk.time=1"

QEMU_STDERR = "qemu.stderr"     # QEMU's stdout and stderr, in each cell's directory
AGENT_LOG = "agent.log"         # the agent transcript, likewise


def timeline_events(machine):
    """The trace events every cell on `machine` (a modes.MachineDef)
    records for the timeline in the report, unless its scenario says
    `timeline = off`."""
    return tuple(event for _, event in machine.lanes)


@dataclass
class Paths:
    qemu: str          # qemu-system-x86_64 or qemu-system-aarch64: the kernel's
    firmware: str      # directory with the machines' firmware (modes.MachineDef.firmware)
    kernel: str        # its image: bzImage, Image
    initramfs: str
    qmp_python: str    # QEMU's python/ directory
    tsc_khz: int = 0   # the host's TSC frequency, for the guest; 0: it calibrates
    hz: int = 0        # the guest kernel's CONFIG_HZ; 0: not known


def socket_dir(workdir):
    """Where a cell's unix sockets live: the cell's directory when its
    paths fit in sun_path (108 bytes with the NUL), else a short directory
    under /tmp named after the cell (a deep checkout must not break QMP)."""
    if len(os.path.join(workdir, "agent.sock")) < 100:
        return workdir
    digest = hashlib.sha1(os.path.abspath(workdir).encode()).hexdigest()[:12]
    d = os.path.join(tempfile.gettempdir(), "ite-lab-%s" % digest)
    os.makedirs(d, exist_ok=True)
    return d


def tsc_cmdline(tsc_khz, hz=0):
    """Under TCG the guest's TSC is the host's: a guest that calibrates it
    against emulated timers on a loaded host can be off by a factor of 40
    (its clock racing, every timeout firing), so it is told. Its delay loop
    counts TSC cycles, and only the boot CPU derives loops_per_jiffy from
    the TSC frequency: each other CPU measures it again, spinning for
    jiffies (and, under TCG, failing: "calibrate_delay_direct() failed"),
    unless lpj= gives it."""
    if not tsc_khz:
        return ""
    if not hz:
        return "tsc_early_khz=%d" % tsc_khz
    return "tsc_early_khz=%d lpj=%d" % (tsc_khz, tsc_khz * 1000 // hz)


def qemu_command(paths, scenario, workdir, accel="tcg", mode="legacy", restore=False):
    """The exact command line for one scenario cell (a list of words), on
    the machine of its mode (modes.MODES). `scenario` is the scenario as
    it runs in that mode (scenario.Scenario.in_mode).
    restore: the guest is not booted but loaded from a saved state
    (harness/snapshot.py), whose console log the cell's continues."""
    m = modes.MODES[mode]
    mdef = m.machine
    sockets = socket_dir(workdir)
    machine, accel_opts = mdef.machine, accel
    if accel == "kvm":
        machine += mdef.kvm_machine
    else:
        # One thread for all vCPUs (round-robin TCG): a cell uses one
        # host CPU at most, and the matrix runs several cells per CPU.
        accel_opts += ",thread=single"
    iommu = ",".join(filter(None, (mdef.iommu, scenario.iommu))) + m.iommu
    cmd = [paths.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]
    if mdef.firmware:
        cmd += ["-L", paths.firmware]
    cmd += [
        "-machine", machine,
        "-accel", accel_opts,
        "-cpu", "max",
        "-smp", str(scenario.smp),
        "-m", scenario.memory,
    ]
    cmd += list(mdef.args)
    # The vIOMMU comes before any device it translates for.
    # id=iommu: its QOM path, /machine/peripheral/iommu, for qom-check steps.
    cmd += ["-device", iommu]
    cmd += scenario.topology
    cmd += [
        "-kernel", paths.kernel,
        "-initrd", paths.initramfs,
        "-append", " ".join(filter(None, (mdef.console, BASE_CMDLINE, mdef.cmdline,
                                          m.cmdline, tsc_cmdline(paths.tsc_khz, paths.hz),
                                          scenario.cmdline))),
        "-chardev", "file,id=console,%spath=%s" % ("append=on," if restore else "",
                                                   os.path.join(workdir, guest_log.SERIAL_LOG)),
        "-serial", "chardev:console",
        "-chardev", "socket,id=agent,path=%s,server=on,wait=off"
        % os.path.join(sockets, "agent.sock"),
        "-serial", "chardev:agent",
        "-chardev", "socket,id=qmp,path=%s" % os.path.join(sockets, "qmp.sock"),
        "-mon", "chardev=qmp,mode=control",
        "-D", os.path.join(workdir, qemu_trace.TRACE_LOG),
    ]
    # Trace events go to the same log (QEMU's "log" trace backend), each
    # with its wall-clock time: the invalidation timeline of every cell
    # (harness/timeline.py) unless the scenario leaves it out, plus the
    # scenario's own.
    cmd += ["-msg", "timestamp=on"]
    events = timeline_events(mdef) if scenario.timeline else ()
    for pattern in events + tuple(scenario.trace):
        cmd += ["-trace", pattern]
    if restore:
        cmd += ["-incoming", "defer"]
    return cmd


def shell_quote(cmd):
    return " ".join(shlex.quote(w) for w in cmd)


class AgentError(Exception):
    pass


class StartError(Exception):
    """QEMU could not be started: what is wrong, in a sentence."""


class Agent:
    """Client of guest-image/agent/ite-agent.c over the second serial port."""

    def __init__(self, path, transcript):
        self.path = path
        self.sock = None
        self.buf = b""
        self.seq = 0
        self.transcript = transcript

    def _connect(self, deadline):
        while self.sock is None:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise AgentError("agent socket %s never appeared" % self.path)
                time.sleep(0.05)

    def _readline(self, deadline, stop=None):
        if self.sock is None:
            raise AgentError("agent not connected")
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or (stop and stop()):
                return None
            self.sock.settimeout(min(left, 0.5))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                raise AgentError("agent channel closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode(errors="replace").rstrip("\r")
        self.transcript.write("< %s\n" % text)
        self.transcript.flush()
        return text

    def _send(self, words):
        if self.sock is None:
            raise AgentError("agent not connected")
        self.seq += 1
        line = "%d %s" % (self.seq, " ".join(words))
        self.transcript.write("> %s\n" % line)
        self.transcript.flush()
        self.sock.sendall(line.encode() + b"\n")
        return self.seq

    def command(self, words, deadline, stop=None):
        """Run one agent command: (ok, summary, output lines).
        Returns None on timeout (the guest stopped answering), or as soon
        as stop() is true while waiting."""
        seq = self._send(words)
        output = []
        while True:
            line = self._readline(deadline, stop)
            if line is None:
                return None
            head, _, rest = line.partition(" ")
            if head != str(seq):
                continue        # hello, or a stale reply
            if rest.startswith("| "):
                output.append(rest[2:])
            elif rest.startswith("ok"):
                return True, rest[2:].strip(), output
            elif rest.startswith("fail"):
                return False, rest[4:].strip(), output

    def wait_ready(self, deadline):
        """Wait for the agent's hello, then check it answers a ping.
        Nothing is sent before the hello: bytes sent while no one has the
        guest's agent port (ttyS1, ttyAMA1) open fill the UART and stall the channel."""
        self._connect(deadline)
        while True:
            line = self._readline(deadline)
            if line is None:
                return False
            if line.startswith("0 hello"):
                break
        r = self.command(["ping"], deadline)
        return bool(r and r[0])

    def wait_resumed(self, deadline):
        """Check that the agent of a guest loaded from a saved state
        answers a ping: it said hello to the guest that was saved, and
        waits on its open port for the next command."""
        self._connect(deadline)
        r = self.command(["ping"], deadline)
        return bool(r and r[0])

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


class Machine:
    """A running QEMU with QMP and the agent connected.

    Nothing is opened before start(); stop() ends whatever start() got to,
    whether it succeeded, failed half-way or never ran, and closes every
    file the machine opened."""

    def __init__(self, paths, cmd, workdir):
        self.paths = paths
        self.cmd = cmd
        self.workdir = workdir
        self.proc = None
        self.cpu = None         # host CPU seconds, read as it stops
        self.qmp = None
        self.events = []
        self.started = None
        self.sockets = socket_dir(workdir)
        self.transcript = self.qmp_log = self.stderr = None
        self.agent = Agent(os.path.join(self.sockets, "agent.sock"), None)

    def start(self, timeout=30.0):
        """Start QEMU and accept its QMP connection. On failure, raises
        StartError saying why, with whatever it had opened closed again
        and QEMU, if it runs, killed."""
        try:
            self._start(timeout)
        except Exception as e:
            self._release()
            if isinstance(e, (StartError, OSError)):
                why = str(e)
            else:
                why = "%s: %s" % (type(e).__name__, e)
            raise StartError("cannot start QEMU: %s" % why) from e

    def _start(self, timeout):
        self.transcript = open(os.path.join(self.workdir, AGENT_LOG), "w")
        self.agent.transcript = self.transcript
        self.qmp_log = open(os.path.join(self.workdir, qmp_log.QMP_LOG), "w")
        self.stderr = open(os.path.join(self.workdir, QEMU_STDERR), "w")
        if self.paths.qmp_python not in sys.path:
            sys.path.insert(0, self.paths.qmp_python)
        try:
            from qemu.qmp.legacy import QEMUMonitorProtocol
        except ImportError as e:
            raise StartError("no QMP library in %s (%s)" % (self.paths.qmp_python, e))
        qmp_path = os.path.join(self.sockets, "qmp.sock")
        try:
            self.qmp = QEMUMonitorProtocol(qmp_path, server=True)
        except Exception as e:      # the library wraps the OSError
            raise StartError("cannot listen for QMP: %s" % getattr(e, "exc", e))
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        try:
            self._accept(qmp_path, timeout)
        except Exception as e:      # QMP connection errors come in many types
            raise StartError(self._why_no_qmp(e, timeout))
        self.qmp.settimeout(timeout)

    def _accept(self, qmp_path, timeout):
        """Accept QEMU's QMP connection. A QEMU that exits before it
        connects would leave accept() to wait out its timeout: a thread
        watching QEMU connects to the socket itself when it exits, so that
        accept() ends at once (at the end of file where the greeting
        should be)."""
        done = threading.Event()

        def watch():
            while not done.wait(0.05):
                if self.proc.poll() is not None:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        try:
                            s.connect(qmp_path)
                        except OSError:
                            pass
                    return
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            self.qmp.accept(timeout=timeout)
        finally:
            done.set()
            watcher.join()

    def _why_no_qmp(self, e, timeout):
        """Why QMP did not come up: QEMU's own last words when it exited
        (it may take a moment: a QEMU refusing an option closes QMP on its
        way out), else what the QMP library said."""
        timed_out = isinstance(e, (asyncio.TimeoutError, TimeoutError))
        try:
            status = self.proc.wait(timeout=0 if timed_out else 2.0)
        except subprocess.TimeoutExpired:
            status = None
        if status is not None:
            last = self._last_stderr_line()
            return "it exited with status %s%s" % (status, ": " + last if last else "")
        if timed_out:
            return "it did not connect to QMP within %g s" % timeout
        return "QMP: %s: %s" % (type(e).__name__, e)

    def _last_stderr_line(self):
        """QEMU's last line on its stderr, without -msg timestamp=on's stamp."""
        self.stderr.flush()
        try:
            with open(self.stderr.name, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return ""
        return re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ", "", lines[-1]) if lines else ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_qmp(self, direction, obj):
        self.qmp_log.write(qmp_log.entry(time.monotonic() - self.started, time.time(),
                                         direction, obj) + "\n")
        self.qmp_log.flush()

    def execute(self, command, args):
        """A QMP command: (ok, return value or error description)."""
        from qemu.qmp import ExecuteError
        self.log_qmp(">", {"execute": command, "arguments": args})
        try:
            ret = self.qmp.cmd(command, **args)
        except ExecuteError as e:
            self.log_qmp("<", {"error": str(e)})
            return False, str(e)
        self.log_qmp("<", {"return": ret})
        return True, ret

    def poll_events(self, wait=0.0):
        import asyncio
        try:
            ev = self.qmp.pull_event(wait=float(wait)) if wait else self.qmp.pull_event()
        except asyncio.TimeoutError:
            ev = None
        while ev:
            self.log_qmp("event", ev)
            self.events.append(ev)
            ev = self.qmp.pull_event()

    def wait_event(self, name, match, deadline, stop=None):
        """Wait for a QMP event NAME whose data contains `match`; None when
        the deadline passes, QEMU exits, or stop() says to give up."""
        seen = 0
        while True:
            for ev in self.events[seen:]:
                data = ev.get("data", {})
                if ev.get("event") == name and all(
                        str(data.get(k)) == v for k, v in match.items()):
                    self.events.remove(ev)
                    return ev
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0 or not self.alive() or (stop and stop()):
                return None
            self.poll_events(min(left, 0.5))

    def cpu_seconds(self):
        """Host CPU time QEMU has used so far (user + system), or None
        once it is gone. The matrix is CPU-bound on small hosts: this is
        what a cell costs, where its duration depends on its neighbours."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, AttributeError, IndexError):
            return None
        # utime and stime are fields 14 and 15; the list starts at field 3
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def serial_text(self):
        return guest_log.read_serial(self.workdir)

    def stop(self, grace=5.0):
        """Power off through the agent if it still answers, else quit over
        QMP, else kill. Returns how it ended: poweroff, killed, exited, or
        "not started" when QEMU never ran. Safe to call whatever start()
        did, and more than once."""
        if self.proc is None:
            self._release()
            return "not started"
        how = "exited"
        self.cpu = self.cpu_seconds()
        if self.alive():
            how = "killed"
            try:
                if self.agent.sock and self.agent.command(
                        ["poweroff"], time.monotonic() + 2.0):
                    self.proc.wait(timeout=grace)
                    how = "poweroff"
            except (AgentError, OSError, subprocess.TimeoutExpired):
                pass
        self._release()
        return how

    def _release(self):
        """Kill QEMU if it still runs, close QMP, the agent's socket and
        every file the machine opened; a no-op the second time."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.agent.close()
        if self.qmp is not None:
            try:
                self.qmp.close()
            except Exception:   # the peer is gone; nothing left to tell it
                pass
            self.qmp = None
        for f in (self.transcript, self.qmp_log, self.stderr):
            if f is not None:
                f.close()
        if self.sockets != self.workdir:
            shutil.rmtree(self.sockets, ignore_errors=True)
