"""What a step of scripts/bisect-kernel.sh makes of its runs.

A step runs one cell (scenario, mode, the commit's kernel) a few times,
each run a run-tests.sh of its own with its own results directory. Each
run is read from its cells' result.json, never from run-tests.sh's
stdout:

- "fail": the kernel failed: a cell's outcome is fail or timeout (it did
  not meet --expect=pass);
- "pass": every cell passed and met its expectation, and run-tests.sh
  said 0;
- "error": nothing can be said about the kernel: the harness failed (a
  cell's outcome "error": QEMU did not start, the harness broke), a cell
  was skipped, there is no result.json, or run-tests.sh exited with
  neither 0 nor 1 (2: bad usage or missing build, 77: nothing ran), or
  its status does not agree with the cells.

The step's answer, syzkaller style: one failed run makes the commit fail
(a flaky failure is still a failure); it passes when every run passed;
otherwise (a run in error, none failed) it cannot be tested and git
bisect skips it. How that maps to git bisect run's exit status depends on
the terms: with good/bad a failing kernel is "bad" (1), with
broken/fixed a failing kernel is "broken", the old term (0).

    python3 -m harness.bisect check SCENARIOS_DIR NAME MODE
    python3 -m harness.bisect run RESULTS_DIR STATUS
        -> "pass|fail|error<TAB>what the cells said"
    python3 -m harness.bisect answer good|broken OUTCOME...
        -> "passes|fails|untestable<TAB>TERM<TAB>EXIT_STATUS"
"""
import glob
import json
import os
import sys

from harness import scenario as scenario_mod
from harness.runner import RESULT_FILE

KERNEL_FAILED = ("fail", "timeout")
SKIP_STATUS = 125           # git bisect run: this commit cannot be tested

# old term, new term; which of them a kernel that passes is.
TERMS = {
    "good": ("good", "bad", "good"),
    "broken": ("broken", "fixed", "fixed"),
}


def check_scenario(scenarios_dir, name, mode):
    """None when NAME is a scenario that runs in MODE, else why not."""
    path = os.path.join(scenarios_dir, name + scenario_mod.SCENARIO_SUFFIX)
    if not os.path.isfile(path):
        known = sorted(f[:-len(scenario_mod.SCENARIO_SUFFIX)] for f in os.listdir(scenarios_dir)
                       if f.endswith(scenario_mod.SCENARIO_SUFFIX))
        return "unknown scenario %r (known: %s)" % (name, ", ".join(known))
    try:
        s = scenario_mod.load(path)
    except scenario_mod.ScenarioError as e:
        return "scenario %r does not load: %s" % (name, e)
    if mode not in s.modes:
        return "scenario %r does not run in mode %r (its modes: %s)" % (name, mode, " ".join(s.modes))
    return None


def run_outcome(results_dir, status):
    """(pass|fail|error, detail) for one run-tests.sh run into RESULTS_DIR
    that exited with STATUS."""
    cells = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*", RESULT_FILE))):
        try:
            with open(path) as f:
                cells.append((os.path.dirname(path), json.load(f)))
        except (OSError, ValueError) as e:
            return "error", "unreadable %s: %s" % (path, e)
    if not cells:
        return "error", "no %s (run-tests.sh exited with %d)" % (RESULT_FILE, status)
    said = []
    failed = errored = False
    for d, c in cells:
        outcome = c.get("outcome", "?")
        reasons = c.get("reasons") or []
        said.append("%s: %s%s" % (os.path.basename(d), outcome,
                                  " (%s)" % reasons[0] if reasons and outcome != "pass" else ""))
        if outcome in KERNEL_FAILED or (outcome == "pass" and not c.get("met")):
            failed = True
        elif outcome != "pass":     # error, skip, or something unknown
            errored = True
    detail = "; ".join(said)
    if failed and status == 1:
        return "fail", detail
    if errored:
        return "error", detail
    if status == 0 and not failed:
        return "pass", detail
    return "error", "%s; but run-tests.sh exited with %d" % (detail, status)


def step_answer(terms, outcomes):
    """(passes|fails|untestable, the term, git bisect run's exit status)."""
    old, new, passing = TERMS[terms]
    failing = new if passing == old else old
    if "fail" in outcomes:
        verdict, term = "fails", failing
    elif outcomes and all(o == "pass" for o in outcomes):
        verdict, term = "passes", passing
    else:
        return "untestable", "skip", SKIP_STATUS
    return verdict, term, 0 if term == old else 1


def main(argv):
    usage = ("usage: python3 -m harness.bisect check SCENARIOS_DIR NAME MODE | "
             "run RESULTS_DIR STATUS | answer good|broken OUTCOME...")
    if len(argv) == 4 and argv[0] == "check":
        why = check_scenario(*argv[1:])
        if why:
            print(why, file=sys.stderr)
            return 1
        return 0
    if len(argv) == 3 and argv[0] == "run" and argv[2].isdigit():
        print("%s\t%s" % run_outcome(argv[1], int(argv[2])))
        return 0
    if len(argv) >= 2 and argv[0] == "answer" and argv[1] in TERMS:
        print("%s\t%s\t%d" % step_answer(argv[1], argv[2:]))
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
