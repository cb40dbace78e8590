"""Is every prefix of a kernel series no less safe than its base?

scripts/series-prefix-safety.sh builds the base and each prefix of a series
(patches 1..k, k = 0..N; prefix 0 is the base itself) and runs the
hung-device and fence scenarios (SCENARIOS) on each, as a kernel given by
path. This module reads those runs and says, per prefix, whether it is
less safe than the base, measured in the same way on the same machine:

    python3 -m harness.prefix_safety [--series mainline|6.12] WORK

WORK holds prefixes.tsv (k, commit, subject, 1 if it built, its results
directory: one line per prefix, written by the script) and the results.

What a cell (a scenario in a mode) did is read from its guest log and its
result.json, not from whether it met the patched kernel's expectations:
a prefix that does not print the series' final messages yet is not less
safe for that. Its failure classes:

  lockup    the base's retry loop: the base kernel's signature for the
            scenario (its [unpatched] or [mainline-base] section) on as
            many lines as the section asks, or a lockup detector's report
            (soft or hard lockup, RCU stall, hung task)
  fence     intel-iommu's fence-violations above 0: translated DMA after
            the unmap returned
  isolated  a healthy device cut off (HEALTHY: a device the scenario did
            not hang, named by an isolation or failure line, or refusing
            translations to the host's qom-check)
  crash     BUG, Oops, WARNING or panic, other than a lockup detector's
  other     failed, none of the above (said with the first reason)

A prefix is LESS SAFE than the base where, in some cell, it shows more
fence violations than the base, a healthy device isolated or a crash that
the base's cell does not, or fails at all where the base passes. A prefix
that fails like the base (lockup where the base locks up) is no less
safe: the series may fix the bug in a later patch, but must never make it
worse on the way. A prefix that fails otherwise where the base locks up
("other") is not counted as less safe but is said in its verdict, for a
look by hand.
"""
import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field

from . import TOP, guest_log, scenario

# The hung-device and fence scenarios: what a prefix must not make worse.
SCENARIOS = ("hung-device-dma", "hung-device-no-itesid", "slow-device-above-timeout",
             "hung-dma-fence", "busy-neighbours-hung-no-itesid",
             "surprise-removal-inflight-no-itesid")
# Each series' base kernel, whose scenario section tells the retry loop.
SERIES_BASE = {"6.12": "unpatched", "mainline": "mainline-base"}
# The healthy devices of a scenario with more than one, harmed: a guest log
# line that names one with an isolation or failure, and a failure reason
# of the harness (a host-side qom-check) that says one refused translations.
HEALTHY = {
    "busy-neighbours-hung-no-itesid": (
        r"0000:0[456]:00\.0.*(timed out|ATS blocked|isolat|cut off|failed)",
        r"/dut[BCD] translation-ur is [1-9]"),
}
FENCE = re.compile(r"fence-violations is (\d+)")
CRASH = re.compile(r"\bBUG:|\bOops\b|\bWARNING:|Kernel panic")
# A lockup detector's own reports (BUG: soft lockup, a panic it causes)
# belong to the lockup, not to a crash.
DETECTOR = re.compile(r"soft lockup|hard LOCKUP|softlockup|hung_task|hung tasks|RCU Stall")
WEDGED = [re.compile(regex) for _, regex in guest_log.WEDGED if _ != "panic"]
# The reasons the runner adds from the guest log and the expectation; the
# log is judged here, against the scenario's own lines only.
LOG_REASONS = ("required line missing", "forbidden ", "expected failure /",
               "failed, but not with")
CLASSES = ("lockup", "fence", "isolated", "crash", "other")


@dataclass
class Cell:
    """What one kernel did in one scenario and mode."""
    failed: bool = False
    classes: set = field(default_factory=set)
    fence: int = 0
    crash: str = ""         # the first crash line, for "crash"
    why: str = ""           # the first reason, for "other"

    def describe(self, base=None):
        """In a few words; "like base" where the base did the same."""
        if not self.failed:
            return "pass"
        out = []
        for c in CLASSES:
            if c not in self.classes:
                continue
            like = base is not None and c in base.classes
            if c == "lockup":
                out.append("lockup like base" if like else "lockup")
            elif c == "fence":
                out.append("fence-violations %d" % self.fence)
            elif c == "isolated":
                out.append("healthy device isolated")
            elif c == "crash":
                out.append("crash like base" if like else "crash: %s" % self.crash)
            else:
                out.append("fails: %s" % self.why[:70])
        return ", ".join(out)


def classify(scen, result, log_text, base_kernel="unpatched"):
    """The Cell of a cell's result.json (as a dict) and guest log, for
    scenario `scen`; the retry loop is the signature of `base_kernel`'s
    expectation."""
    cell = Cell()
    reasons = result.get("reasons", [])
    harness_reasons = [r for r in reasons if not r.startswith(LOG_REASONS)]
    lines = guest_log.lines_of(log_text)
    exp = scen.expectation(base_kernel)
    v = guest_log.check(log_text, scen.require, scen.forbid,
                        exp.signature if exp.outcome == "fail" else "", exp.repeat)
    cell.failed = bool(harness_reasons or v.missing or v.forbidden)
    if not cell.failed:
        return cell
    if v.signature is not None or any(w.search(ln) for w in WEDGED for ln in lines):
        cell.classes.add("lockup")
    for r in harness_reasons:
        m = FENCE.search(r)
        if m:
            cell.fence = max(cell.fence, int(m.group(1)))
    if cell.fence:
        cell.classes.add("fence")
    log_re, reason_re = HEALTHY.get(scen.name, (None, None))
    if (log_re and any(re.search(log_re, ln) for ln in lines)) or \
            (reason_re and any(re.search(reason_re, r) for r in harness_reasons)):
        cell.classes.add("isolated")
    crashes = [ln for ln in lines if CRASH.search(ln) and not DETECTOR.search(ln)]
    if crashes:
        cell.classes.add("crash")
        cell.crash = crashes[0].strip()[:70]
    if not cell.classes:
        cell.classes.add("other")
        cell.why = (harness_reasons + ["required line missing: /%s/" % r for r in v.missing]
                    + ["forbidden %s: %s" % (h.what, h.line.strip()) for h in v.forbidden])[0]
    return cell


def less_safe(prefix, base):
    """Why the prefix's cell is less safe than the base's: [] when it is not."""
    out = []
    if prefix.fence > base.fence:
        out.append("fence-violations %d, the base %d" % (prefix.fence, base.fence))
    if "isolated" in prefix.classes and "isolated" not in base.classes:
        out.append("a healthy device isolated")
    if "crash" in prefix.classes and "crash" not in base.classes:
        out.append("a crash the base does not have")
    if prefix.failed and not base.failed:
        out.append("fails where the base passes (%s)" % prefix.describe())
    return out


def differs(prefix, base):
    """A failure of another kind where the base fails: not less safe by
    less_safe()'s measure, but worth a look."""
    return prefix.failed and base.failed and "other" in prefix.classes \
        and "other" not in base.classes


@dataclass
class Prefix:
    k: int
    commit: str
    subject: str
    built: bool
    cells: dict = field(default_factory=dict)   # (scenario, mode) -> Cell


def verdict(prefix, base):
    """(safe, text): whether the prefix is no less safe than the base, and
    the verdict's words."""
    if not prefix.built:
        return False, "DOES NOT BUILD"
    if not prefix.cells:
        return False, "no cell ran (see its run-tests.sh output)"
    if base is None or not base.built or not base.cells:
        return False, "no base to compare with (the base did not build or run)"
    if prefix.k == 0:
        return True, "the base"
    worse, odd, missing = [], [], []
    for key in sorted(set(base.cells) | set(prefix.cells)):
        b, c = base.cells.get(key), prefix.cells.get(key)
        if c is None or b is None:
            missing.append("%s/%s%s" % (key + ("" if c is None else " (on the base)",)))
            continue
        worse += ["%s/%s: %s" % (key + (w,)) for w in less_safe(c, b)]
        if differs(c, b):
            odd.append("%s/%s" % key)
    if worse:
        return False, "LESS SAFE than base: " + "; ".join(worse)
    if missing:
        return False, "not run: " + ", ".join(missing)
    text = "no less safe than base"
    if odd:
        text += " (fails otherwise than the base, check by hand: %s)" % ", ".join(odd)
    return True, text


def load(work, series="6.12", scenarios_dir=None):
    """The Prefixes of a WORK directory (prefixes.tsv and the results)."""
    scens = {s.name: s for s in scenario.load_dir(scenarios_dir or os.path.join(TOP, "scenarios"))}
    base_kernel = SERIES_BASE[series]
    out = []
    with open(os.path.join(work, "prefixes.tsv")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            k, commit, subject, built, results = line.rstrip("\n").split("\t")
            p = Prefix(int(k), commit, subject, built == "1")
            if p.built and os.path.isdir(results):
                for name in sorted(os.listdir(results)):
                    rfile = os.path.join(results, name, "result.json")
                    if not os.path.isfile(rfile):
                        continue
                    with open(rfile) as fp:
                        r = json.load(fp)
                    if r.get("scenario") not in SCENARIOS or r.get("outcome") == "skip":
                        continue
                    text = guest_log.read_serial(os.path.join(results, name))
                    p.cells[(r["scenario"], r["mode"])] = classify(
                        scens[r["scenario"]], r, text, base_kernel)
            out.append(p)
    return out


def table(prefixes):
    """The report: a markdown table, a row per prefix, a column per
    scenario (both modes in one cell when they agree), and the verdict."""
    base = next((p for p in prefixes if p.k == 0), None)
    names = [s for s in SCENARIOS if any(s == key[0] for p in prefixes for key in p.cells)]
    head = ["prefix", "patch", "builds"] + names + ["verdict"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    all_safe = True
    for p in prefixes:
        cols = [str(p.k), p.subject if p.k else "(the base)", "yes" if p.built else "NO"]
        for n in names:
            per_mode = []
            for mode in scenario.MODES:
                c = p.cells.get((n, mode))
                if c is None:
                    continue
                b = base.cells.get((n, mode)) if base and p.k else None
                per_mode.append((mode, c.describe(b)))
            texts = {t for _, t in per_mode}
            if not per_mode:
                cols.append("-")
            elif len(texts) == 1:
                cols.append(per_mode[0][1])
            else:
                cols.append("; ".join("%s: %s" % mt for mt in per_mode))
        safe, text = verdict(p, base)
        all_safe = all_safe and safe
        cols.append(text)
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cols) + " |")
    return "\n".join(rows) + "\n", all_safe


def main(argv=None):
    ap = argparse.ArgumentParser(prog="prefix_safety", description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", choices=tuple(SERIES_BASE), default="6.12")
    ap.add_argument("work")
    a = ap.parse_args(argv)
    prefixes = load(a.work, a.series)
    if not prefixes:
        print("prefix_safety: %s has no prefix (prefixes.tsv is empty)" % a.work, file=sys.stderr)
        return 2
    text, safe = table(prefixes)
    sys.stdout.write(text)
    return 0 if safe else 1


if __name__ == "__main__":
    raise SystemExit(main())
