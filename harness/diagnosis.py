"""What the harness asks when a cell expected to pass fails while QEMU
still runs: QEMU over QMP (where each vCPU is, each local APIC) before
and after the guest's answers, and the guest over its agent (the hot-plug
slots, interrupts, waiting tasks, the timer ticks). The answers go to the
cell's diagnosis.txt, which the report shows under the failure."""
import os
import re
import time

from .machine import AgentError


# What the guest is asked when a cell expected to pass fails, while QEMU
# still runs: the hot-plug slots' registers (an event bit left set, an
# interrupt not enabled, a link state not updated), whether interrupts
# arrive and the CPUs' ticks go on, and where the kernel's threads wait.
# Each gets 10 s; a guest that no longer answers is itself the diagnosis.
DIAGNOSIS = (
    ("slots", ["slot-status"]),
    ("interrupts", ["sh", "grep", "-E", "'CPU|MSI|DMAR|LOC|RES|CAL'", "/proc/interrupts"]),
    # Shell builtins only: a fork per task takes seconds under TCG.
    ("waiting tasks", ["sh", "cd /proc && for p in [0-9]*; do read -r a c s r < $p/stat;"
                       " case $s$c in S*pciehp*|[!SI]*) read -r w < $p/wchan;"
                       " echo $p $c $s $w;; esac; done 2>/dev/null"]),
    # Last, as it sleeps: a CPU whose local timer count stands still has
    # lost its tick (time stands still for whatever waits on that CPU).
    ("timer interrupts a second later", ["sh", "sleep", "1;", "grep", "LOC", "/proc/interrupts"]),
)
DIAGNOSIS_FILE = "diagnosis.txt"


# And QEMU's side, over QMP, before and after the guest's answers: which
# vCPUs are halted, and each local APIC (timer, IRR/ISR, priority). An
# interrupt that stays in a halted vCPU's IRR across both, deliverable
# (above the PPR), is one QEMU does not deliver.
# Each entry: the HMP command, and the lines of its output to keep.
QEMU_DIAGNOSIS = (
    ("info registers -a", r"^CPU#|RIP=|HLT="),     # where each vCPU is, halted
    ("info lapic 0", r"\S"),
    ("info lapic 1", r"\S"),
)


def _diagnose_qemu(m, f, when):
    """False once QMP itself fails (a wedged QEMU): no more asking it."""
    for hmp, keep in QEMU_DIAGNOSIS:
        try:
            ok, out = m.execute("human-monitor-command", {"command-line": hmp})
        except Exception as e:  # QMP errors come in many types
            f.write("qemu %s (%s): QMP failed: %s: %s\n" % (hmp, when, type(e).__name__, e))
            return False
        f.write("qemu %s (%s):%s\n" % (hmp, when, "" if ok else " failed: %s" % out))
        if ok:
            f.writelines("  %s\n" % ln for ln in out.splitlines() if re.search(keep, ln))
    return True


def diagnose(m, workdir):
    """Ask QEMU, then the guest, then QEMU again; their answers go to the
    cell's DIAGNOSIS_FILE."""
    with open(os.path.join(workdir, DIAGNOSIS_FILE), "w") as f:
        qmp_ok = _diagnose_qemu(m, f, "first")
        _diagnose_guest(m, f)
        if qmp_ok:
            _diagnose_qemu(m, f, "after the guest's answers")


def _diagnose_guest(m, f):
    for label, words in DIAGNOSIS:
        try:
            r = m.agent.command(words, time.monotonic() + 10.0)
        except (AgentError, OSError) as e:
            r = (False, "harness: %s" % e, [])
        if r is None:
            f.write("%s: the guest did not answer\n" % label)
            return
        f.write("%s:%s\n" % (label, "" if r[0] else " failed: " + r[1]))
        f.writelines("  %s\n" % ln for ln in r[2])
