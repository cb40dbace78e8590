"""A run's results as KTAP version 1 (the kernel's
Documentation/dev-tools/ktap.rst), for results.ktap and, with
--format=ktap, stdout.

A test per scenario, its subtests the vIOMMU modes, theirs the kernels
(the cells), two spaces of indent a level:

  KTAP version 1
  1..16
    KTAP version 1
    # Subtest: hung-device-dma
    1..2
      KTAP version 1
      # Subtest: legacy
      1..4
      ok 1 patched
      ok 2 unpatched # XFAIL line 464: [ 12.686050] DMAR: VT-d detected ...
      ok 3 mainline
      ok 4 mainline-base # XFAIL line 480: ...
    ok 1 legacy
    ...
  ok 1 hung-device-dma

The directives are chosen for the kernel's own parser (kunit.py parse,
tools/testing/kunit/kunit_parser.py), which knows one: SKIP, on "ok" or
"not ok" alike, counts a test as skipped; any other directive leaves the
result as "ok" or "not ok" says.
- A cell that met an expected failure is "ok N unpatched # XFAIL
  EVIDENCE", the line kselftest writes for one (ksft_test_result_xfail):
  it passed.
- A cell that did not run (outcome "skip") is "ok N name # SKIP why".
- An informational cell that missed its expectation (a finding: a
  kernel given by path like no known behaviour) is
  "not ok N NAME # SKIP informational: WHAT". TODO would be TAP's way,
  but KTAP does not recognize it (ktap.rst) and kunit.py counts a "not ok
  # TODO" as failed, exiting 1 for a run that passed; SKIP keeps it out of
  the failures, and "not ok" still says what the cell did.
- Any other cell that missed its expectation is "not ok N name", with
  "# TIMEOUT" or "# ERROR" when that is how it ended, after diagnostic
  lines with its reasons: ktap.rst puts a test's diagnostics directly
  before its result line, and kunit.py prints them with the failure.
A kernel given by path without --expect says which behaviour it matched
("ok N o-series # passes like the patched kernel", "# XFAIL fails like
the base: EVIDENCE"). A scenario or mode is ok when every gating cell
under it (report.gating: not informational, not skipped) met its
expectation, and SKIP when none of its cells ran.
"""
from . import report
from .runner import run_suffix

INDENT = "  "
REASONS_SHOWN = 3   # a failing cell's reasons as diagnostic lines; all are in results.tap


def render(results):
    """The KTAP text of a run's CellResults, in the order they ran."""
    scenarios = _grouped(results, lambda r: r.scenario)
    lines = ["KTAP version 1", "1..%d" % len(scenarios)]
    for n, (name, cells) in enumerate(scenarios, 1):
        modes = _grouped(cells, lambda r: r.mode)
        lines += _parent(n, name, cells, [_mode(m, mode, mc)
                                          for m, (mode, mc) in enumerate(modes, 1)])
    # The closing lines, as TAP has them, each a diagnostic line.
    lines += [ln if ln.startswith("#") else "# " + ln for ln in report.tap_tail(results)]
    return "\n".join(lines) + "\n"


def _grouped(results, key):
    """[(key, [results])] in the order the keys first appear."""
    groups = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return list(groups.items())


def _mode(n, mode, cells):
    return _parent(n, mode, cells, [_leaf(k, r) for k, r in enumerate(cells, 1)])


def _parent(n, name, cells, children):
    """A test made of subtests (`children`, the lines of each), indented
    a level, and its result line."""
    head = ["KTAP version 1", "# Subtest: " + _safe(name), "1..%d" % len(children)]
    lines = [INDENT + ln for ln in head + [ln for c in children for ln in c]]
    ok = all(r.met for r in report.gating(cells))
    skipped = all(r.outcome == "skip" for r in cells)
    return lines + ["%s %d %s%s" % ("ok" if ok else "not ok", n, _safe(name),
                                    " # SKIP no cell ran" if skipped else "")]


def _leaf(n, r):
    """The lines of one cell: diagnostics, then its result line."""
    name = _name(r)
    if r.outcome == "skip":
        return ["ok %d %s # SKIP %s" % (n, name, _safe("; ".join(r.reasons) or "not run"))]
    if r.met and r.expected == "fail":
        return ["ok %d %s # XFAIL %s" % (n, name, _safe(r.match_detail or r.evidence))]
    if r.met:
        # A kernel given by path says which known behaviour it matched.
        return ["ok %d %s%s" % (n, name, " # " + _safe(r.match_detail) if r.match_detail else "")]
    if r.informational:
        return ["not ok %d %s # SKIP informational: %s" % (n, name, _safe(r.summary()))]
    directive = {"timeout": " # TIMEOUT %ds" % r.duration, "error": " # ERROR"}
    return _why(r) + ["not ok %d %s%s" % (n, name, directive.get(r.outcome, ""))]


def _name(r):
    """The cell's kernel, and with --repeat which run, as its directory
    says it."""
    return _safe(r.kernel + run_suffix(r.attempt))


def _why(r):
    """Diagnostic lines for a failing cell: its first reasons and its logs."""
    reasons = r.reasons or [r.outcome]
    lines = ["# " + _safe(reason) for reason in reasons[:REASONS_SHOWN]]
    if len(reasons) > REASONS_SHOWN:
        lines.append("# and %d more reasons (results.tap)" % (len(reasons) - REASONS_SHOWN))
    return lines + ["# logs in " + _safe(r.workdir)]


# What kunit.py takes for the end of a kernel's KTAP wherever it is in a
# line (kunit_parser.KTAP_END): a guest's panic quoted in a reason must
# not end the parse halfway.
KUNIT_ENDS = ("List of all partitions:", "Kernel panic - not syncing: VFS:",
              "reboot: System halted")


def _safe(text):
    """Text for a KTAP line: one line, and no '#', which ends a test's
    name (ktap.rst), and, in the text after a directive, could make
    kunit.py read ' # SKIP' where there is none; nor any of KUNIT_ENDS.
    Percent-encoded, as in a URL, so that it still reads."""
    text = str(text).replace("#", "%23")
    for end in KUNIT_ENDS:
        text = text.replace(end, end.replace(":", "%3A"))
    return " ".join(text.split())
