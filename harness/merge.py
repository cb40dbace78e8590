"""scripts/merge-results.sh OUT SHARD_DIR...: join the results directories
of the N shards of one run (run-tests.sh --shard=I/N, each maybe on a
machine of its own) into OUT, one results directory as one run of the
whole plan leaves it: every cell's directory, results.tap, junit.xml,
report.md and report.html, the cells in the plan's order.

Exit status, as run-tests.sh's: 0 when every gating cell met its
expectation, 1 when one did not, 2 when the shards do not make one
complete run (a shard missing or given twice, shards of different plans
or builds, a cell in two shards or in none, a cell without its result: a
shard that did not finish), when a directory is not a shard's results, or
when OUT is not empty. Nothing is written to OUT unless the shards check
out.

The cells' directories are hard-linked into OUT (copied where that cannot
be done): OUT stands on its own, and the report's links, relative to it,
keep working wherever OUT is moved or uploaded. Each cell's result.json
is written anew with its new place. What else a shard left (its
manifest, its TAP, its template boots under snapshots/) goes under
OUT/shards/I/; a cell's booted_from is pointed there.
"""
import collections
import json
import os
import shutil
import sys

from . import report, run_files, shard, snapshot
from .runner import RESULT_FILE

MERGED = "merged.json"
SHARDS = "shards"
USAGE = "usage: merge-results.sh OUT SHARD_DIR..."


class MergeError(Exception):
    """Shards that do not make one complete run."""


def check(shards):
    """shards: [(directory, manifest)]. Returns (plan, {cell: directory});
    MergeError saying what is wrong."""
    d0, m0 = shards[0]
    n = m0["of"]
    for d, m in shards[1:]:
        if m["of"] != n or m["plan"] != m0["plan"]:
            raise MergeError("%s (shard %d/%d) and %s (shard %d/%d) are shards of "
                             "different plans (other cells, or another --shard=I/N)"
                             % (d0, m0["shard"], n, d, m["shard"], m["of"]))
        if m.get("versions") != m0.get("versions"):
            raise MergeError("%s and %s ran different builds (versions differ)" % (d0, d))
    by_index = collections.defaultdict(list)
    for d, m in shards:
        by_index[m["shard"]].append(d)
    twice = ["%d/%d (%s)" % (i, n, ", ".join(ds)) for i, ds in sorted(by_index.items())
             if len(ds) > 1]
    if twice:
        raise MergeError("shard given more than once: %s" % "; ".join(twice))
    missing = [i for i in range(1, n + 1) if i not in by_index]
    if missing:
        raise MergeError("missing shard%s %s of %d" % (
            "s" * (len(missing) > 1), ", ".join(map(str, missing)), n))
    plan, owner = m0["plan"], {}
    for d, m in shards:
        for c in m["cells"]:
            if c in owner:
                raise MergeError("cell %s is in two shards: %s and %s" % (c, owner[c], d))
            if c not in plan:
                raise MergeError("%s: cell %s is not in the plan" % (d, c))
            owner[c] = d
    left = [c for c in plan if c not in owner]
    if left:
        raise MergeError("cells of the plan in no shard: %s" % ", ".join(left))
    unfinished = [os.path.join(owner[c], c) for c in plan
                  if not os.path.isfile(os.path.join(owner[c], c, RESULT_FILE))]
    if unfinished:
        raise MergeError("no %s (did the shard's run finish?): %s"
                         % (RESULT_FILE, ", ".join(unfinished)))
    return plan, owner


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy(src, dst):
    shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)


def merge(out, dirs):
    """Join the shards' directories into out; the merged CellResults, in
    the plan's order. MergeError when they do not make one run."""
    shards = []
    for d in dirs:
        try:
            shards.append((d, shard.read_manifest(d)))
        except ValueError as e:
            raise MergeError(str(e))
    plan, owner = check(shards)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise MergeError("%s exists and is not an empty directory" % out)
    index = {d: m["shard"] for d, m in shards}
    os.makedirs(out, exist_ok=True)
    for c in plan:
        _copy(os.path.join(owner[c], c), os.path.join(out, c))
        path = os.path.join(out, c, RESULT_FILE)
        with open(path) as f:
            r = json.load(f)
        r["workdir"] = os.path.join(out, c)
        booted = r.get("timings", {}).get("booted_from")
        if booted:
            r["timings"]["booted_from"] = os.path.join(SHARDS, str(index[owner[c]]), booted)
        os.unlink(path)     # a link to the shard's own: write a file of OUT's
        with open(path, "w") as f:
            json.dump(r, f, indent=1)
    for d, m in shards:
        own = os.path.join(out, SHARDS, str(m["shard"]))
        os.makedirs(own)
        for name in (shard.MANIFEST, run_files.TAP_FILE):
            if os.path.exists(os.path.join(d, name)):
                _link_or_copy(os.path.join(d, name), os.path.join(own, name))
        if os.path.isdir(os.path.join(d, snapshot.SNAPSHOTS)):
            _copy(os.path.join(d, snapshot.SNAPSHOTS), os.path.join(own, snapshot.SNAPSHOTS))
    with open(os.path.join(out, MERGED), "w") as f:
        json.dump({"of": len(shards), "plan": plan,
                   "shards": [os.path.abspath(d) for d, _ in
                              sorted(shards, key=lambda s: s[1]["shard"])]}, f, indent=1)
        f.write("\n")
    order = {c: i for i, c in enumerate(plan)}
    results = sorted(report.load_results(out),
                     key=lambda r: order[os.path.basename(r.workdir)])
    return results, [tuple(v) for v in shards[0][1].get("versions", [])]


def write(out, results, versions):
    """What run-tests.sh writes at the end of a run, for the merged
    cells; the TAP is printed too. Returns the TAP."""
    tap = ["TAP version 13", "1..%d" % len(results)]
    for n, r in enumerate(results, 1):
        tap += [report.tap_line(n, r)] + report.tap_detail(r)
    tap += report.tap_tail(results)
    print("\n".join(tap), flush=True)
    run_files.write(out, tap, results, versions)
    return tap


def main(argv):
    if len(argv) < 2 or argv[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    out = os.path.abspath(argv[0])
    try:
        results, versions = merge(out, [os.path.abspath(d) for d in argv[1:]])
    except MergeError as e:
        print("merge-results.sh: %s" % e, file=sys.stderr)
        return 2
    write(out, results, versions)
    return 0 if all(r.met for r in report.gating(results)) else 1
