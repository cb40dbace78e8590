"""run-tests.sh: run scenarios on the built kernels and QEMU.

Exit status: 0 when every cell met its expectation, 1 when one did not,
2 on bad usage or a missing build, 77 when nothing could run (skipped).
"""
import argparse
import collections
import concurrent.futures
import datetime
import functools
import multiprocessing
import os
import sys
import threading
import time

from . import (TOP, durations, kernels, modes, report, rerun, run_files, scenario, shard,
               snapshot)
from .build_layout import check_built, host_tsc_khz, paths_for, qemu_arch, versions
from .machine import qemu_command, shell_quote
from .runner import cell_dir, run_cell


class Cell(collections.namedtuple("Cell", "scenario mode kernel attempt")):
    """One cell of the matrix: a scenario, in a vIOMMU mode, on a kernel
    (a kernels.Kernel); with --repeat, which run of it (1..N; else 0)."""
    __slots__ = ()

    @property
    def dir(self):
        return cell_dir(self.scenario, self.mode, self.kernel, self.attempt)




def parse_args(argv):
    p = argparse.ArgumentParser(prog="run-tests.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="scenarios to run (default: every scenario not in group 'nodefault')")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("-g", "--group", action="append", default=[],
                   help="run the scenarios of this group (repeatable)")
    p.add_argument("--kernel", action="append", metavar="KERNEL[,KERNEL...]",
                   help="which guest kernel(s) to boot (repeatable): all (the default: "
                   "the lab's own but the debug lanes, of the architectures of the modes "
                   "asked for), %s, or the PATH of another (NAME=PATH to name its "
                   "column): a built kernel tree or O= build directory, or a bzImage"
                   % ", ".join(scenario.KERNELS))
    p.add_argument("--modules", metavar="DIR", default="",
                   help="the modules (*.ko) to boot a bzImage given by --kernel=PATH with")
    p.add_argument("--expect", choices=tuple(kernels.EXPECT_AS), default="",
                   help="hold kernels given by path to the patched kernel's expectations "
                   "(pass) or the base's (base); without it their cells say which they "
                   "match, and do not decide the run")
    p.add_argument("--repeat", type=positive, default=1, metavar="N",
                   help="run each cell N times, and report how often each met its "
                   "expectation")
    p.add_argument("--mode", default="all", choices=scenario.MODES + ("all",),
                   help="vIOMMU mode(s) to run each scenario in (default: all "
                   "the scenario lists, but a mode with a group of its own, smmuv3, "
                   "only when its group or a kernel of its architecture is asked for)")
    p.add_argument("--accel", default="tcg", choices=("tcg", "kvm"),
                   help="QEMU accelerator (default: tcg; kvm only when usable)")
    p.add_argument("-j", "--jobs", type=int, default=default_jobs(),
                   help="cells to run at once (default: %(default)s; ITE_TEST_JOBS)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the QEMU command of every cell, run nothing")
    p.add_argument("--build", default=os.environ.get("ITE_BUILD", os.path.join(TOP, "build")),
                   help="the build directory (default: build/)")
    p.add_argument("--scenarios", default=os.path.join(TOP, "scenarios"),
                   help="directory of *.scenario files")
    p.add_argument("--results", help="results directory (default: BUILD/results/DATE)")
    p.add_argument("--format", default="tap", choices=("tap", "ktap"),
                   help="what stdout carries: tap (the default), streamed as cells "
                   "finish, or ktap, nested per scenario and mode, when the run ends "
                   "(the TAP then goes to stderr); both are written to the results")
    p.add_argument("--qemu", action="append", default=[], type=qemu_binary,
                   help="another qemu-system-x86_64 or qemu-system-aarch64 to run, "
                   "for the kernels of its architecture (repeatable; default: ite-lab's, "
                   "from the build directory)")
    p.add_argument("--boot", default="snapshot", choices=("snapshot", "cold"),
                   help="snapshot (the default): boot each guest configuration once and "
                   "start its cells from the saved guest; cold: boot every cell's guest")
    p.add_argument("--set", action="append", default=[], type=override, metavar="KEY=VALUE",
                   help="replace what the chosen scenarios' files say (repeatable): "
                   "KEY=VALUE for their [scenario] section (cycles=500, "
                   "iommu=intremap=on,device-iotlb=on,devtlb-timeout-ms=50), "
                   "KERNEL.KEY=VALUE for a kernel's section (patched.expect=fail)")
    p.add_argument("--shard", type=shard_spec, metavar="I/N",
                   help="run only shard I of N of the selected cells, split by the "
                   "committed cost table (harness/shard.py); join the shards' results "
                   "with scripts/merge-results.sh")
    return p.parse_args(argv)


def qemu_binary(text):
    """--qemu: a QEMU named after its target (build_layout.qemu_arch)."""
    if not qemu_arch(text):
        raise argparse.ArgumentTypeError(
            "%r: name it after its target (%s): it runs the kernels of that architecture"
            % (text, ", ".join(a.qemu for a in modes.ARCHES.values())))
    return text


def shard_spec(text):
    """--shard: I/N, 1 <= I <= N (shard.parse_spec)."""
    try:
        return shard.parse_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def override(text):
    """--set: a scenario key and its new value (scenario.parse_override)."""
    try:
        return scenario.parse_override(text)
    except scenario.ScenarioError as e:
        raise argparse.ArgumentTypeError(str(e))


def positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("%r: expected a positive number" % text)
    return int(text)


def cell_groups(s, mode):
    """The groups of scenario s's cells in `mode`: the scenario's, and the
    mode's own group if it has one (modes.Mode.group)."""
    return set(s.groups) | {modes.MODES[mode].group} - {""}


def select(all_scenarios, names, groups):
    by_name = {s.name: s for s in all_scenarios}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        print("run-tests.sh: no such scenario: %s (see --list)" % ", ".join(unknown),
              file=sys.stderr)
        raise SystemExit(2)
    if names:
        return [by_name[n] for n in names]
    if groups:
        return [s for s in all_scenarios
                if any(set(groups) & cell_groups(s, m) for m in s.modes)]
    return [s for s in all_scenarios if "nodefault" not in s.groups]


def asked_modes(mode, groups, named_arches=()):
    """The modes a run covers: --mode's, or with --mode=all those without
    a group of their own (the x86 ones), and each with one when its group
    is among `groups` or a kernel of its architecture was named
    (`named_arches`): the default matrix stays the x86 one."""
    if mode != "all":
        return [mode]
    return [m for m, d in modes.MODES.items()
            if not d.group or d.group in groups or d.machine.arch in named_arches]


def matrix(chosen, mode_names, chosen_kernels, groups=(), attempts=(0,)):
    """The cells: each chosen scenario in each of its modes among
    `mode_names`, on each kernel of that mode's architecture, each in the
    mode as the scenario runs there (scenario.Scenario.in_mode). Selected
    by groups, a cell is in them by cell_groups: the smmuv3 cells of
    `-g default` run only when their mode was asked for, those of
    `-g smmuv3` only in smmuv3."""
    return [Cell(s.in_mode(m), m, k, n) for s in chosen for m in s.modes if m in mode_names
            if not groups or set(groups) & cell_groups(s, m)
            for k in chosen_kernels if k.arch == modes.MODES[m].machine.arch
            for n in attempts]


def _run_one(job):
    c, paths, results_dir, accel, boot, template_trace = job
    return run_cell(c.scenario, c.kernel, paths, results_dir, accel, c.mode, boot,
                    template_trace, c.attempt)


def run_cells(cells, build, results_dir, a, tsc_khz, qemus):
    """Run the cells, a.jobs at a time, each in its own process (QEMU's
    QMP library wants a thread of its own for its event loop), and yield
    (number, result) in the order of `cells` as results come in. A saved
    guest (--boot=snapshot) is deleted once the last cell that starts from
    it is done. `qemus`: --qemu's, by architecture."""
    paths = [paths_for(build, c.kernel, qemus, tsc_khz) for c in cells]
    keys = [snapshot.config_key(p, c.scenario, a.accel, c.mode) if a.boot == "snapshot"
            else None for p, c in zip(paths, cells)]
    # A template boots with the trace events of every cell that starts
    # from it: what a cell's trace-order needs may happen during the boot.
    traces = collections.defaultdict(set)
    for key, c in zip(keys, cells):
        traces[key].update(c.scenario.trace)
    jobs = [(c, p, results_dir, a.accel, a.boot, sorted(traces[key]))
            for p, key, c in zip(paths, keys, cells)]
    users = collections.Counter(keys)
    lock = threading.Lock()

    def release(key, _future):
        with lock:
            users[key] -= 1
            if key and not users[key]:
                snapshot.remove_state(results_dir, key)

    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(a.jobs, mp_context=ctx) as pool:
        futures = [None] * len(jobs)
        for i in schedule(cells, durations.load(build)):
            futures[i] = pool.submit(_run_one, jobs[i])
            futures[i].add_done_callback(functools.partial(release, keys[i]))
        done = 0
        for n, f in enumerate(futures, 1):
            print("# waiting for %s (%d/%d, %d done)" % (cells[n - 1].dir, n, len(cells), done),
                  file=sys.stderr, flush=True)
            r = f.result()
            done += 1
            yield n, r


def schedule(cells, last):
    """The order to start the cells in: the longest first, so that the
    short ones fill in around them instead of one long cell finishing
    alone. How long a cell takes is what it took last time (`last`, by
    cell directory, from durations.load); cells never measured start
    before all others, ranked by cost_hint, as they may be long. The runs
    of a repeated cell take what its single run took."""
    def rank(i):
        c = cells[i]
        took = last.get(cell_dir(c.scenario, c.mode, c.kernel))
        took = last.get(c.dir, took)
        return (took is not None, -(took or 0), tuple(-x for x in cost_hint(c.scenario)))
    return sorted(range(len(cells)), key=rank)


def cost_hint(s):
    """A rough rank of how long a scenario's cells run, for cells never
    measured: the cycles in one boot first, then the scenario's own
    timeout (long ones wait out removals or ITE retries)."""
    return (s.cycles * len(s.cycle), s.timeout)


def default_jobs():
    """Cells in parallel: six per host CPU, at most 16. A cell keeps a
    host CPU busy only while its guest boots or works, and mostly waits on
    the guest's own delays (pciehp's button and power-off waits), when its
    idle (tickless) guest costs about a hundredth of a host CPU; the long
    cells run for minutes, mostly idle, and the other slots must keep the
    CPUs busy meanwhile (bench/matrix-time.sh measures it). Where a
    scenario's outcome depends on timing, it races QEMU timers against
    each other (a completion delay against the ITE time-out), or leaves a
    window of a second (the pull during an outstanding invalidation), so a
    busy host slows cells down without changing what they see."""
    env = os.environ.get("ITE_TEST_JOBS")
    if env:
        if not env.strip().isdigit() or int(env) < 1:
            print("run-tests.sh: ITE_TEST_JOBS must be a positive number of "
                  "cells, not %r" % env, file=sys.stderr)
            raise SystemExit(2)
        return int(env)
    return max(1, min(16, 6 * (os.cpu_count() or 1)))


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.jobs < 1:
        print("run-tests.sh: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        scenarios = scenario.load_dir(a.scenarios)
    except scenario.ScenarioError as e:
        print("run-tests.sh: %s" % e, file=sys.stderr)
        return 2
    if a.list:
        for s in scenarios:
            print("%-28s [%s] %s" % (s.name, " ".join(s.groups), s.description))
        return 0
    chosen = select(scenarios, a.names, a.group)
    if a.set:
        # Only the chosen ones: cycles=500 makes no sense for a scenario
        # without a cycle, and must not stop the others from being listed.
        try:
            chosen = [scenario.load(s.path, a.set) for s in chosen]
        except scenario.ScenarioError as e:
            print("run-tests.sh: with --set: %s" % e, file=sys.stderr)
            return 2
    build = os.path.abspath(a.build)
    mode_names = asked_modes(a.mode, a.group)
    try:
        chosen_kernels = kernels.resolve(
            a.kernel or ["all"], build, a.modules, a.expect,
            {modes.MODES[m].machine.arch for m in mode_names})
    except kernels.KernelError as e:
        print("run-tests.sh: %s" % e, file=sys.stderr)
        return 2
    mode_names = asked_modes(a.mode, a.group, {k.arch for k in chosen_kernels})
    attempts = range(1, a.repeat + 1) if a.repeat > 1 else (0,)
    cells = matrix(chosen, mode_names, chosen_kernels, a.group if not a.names else (),
                   attempts)
    if not cells:
        print("1..0 # SKIP no scenario selected")
        return 77

    # Every shard plans the whole selection and keeps its part.
    plan = shard.Plan(cells, a.shard, cost_hint, ident=lambda c: c.dir) if a.shard else None
    if plan:
        cells = plan.cells
        print("# " + plan.describe(), file=sys.stderr)

    if a.accel == "kvm" and not kvm_usable():
        print("1..0 # SKIP --accel=kvm asked for, but /dev/kvm is not usable here")
        return 77

    # Measured once per run, for every cell's command line
    tsc_khz = host_tsc_khz(build, a.accel)
    qemus = {qemu_arch(q): q for q in a.qemu}
    if a.dry_run:
        for c in cells:
            print("# %s [%s, %s]" % (c.scenario.name, c.mode, c.kernel.label))
            print(shell_quote(qemu_command(paths_for(build, c.kernel, qemus, tsc_khz),
                                           c.scenario, "RESULTS/" + c.dir, a.accel, c.mode)))
        return 0

    # Only the kernels with cells: "all" with -g smmuv3 names the x86
    # ones too, which need not be built for it.
    for k in [k for k in chosen_kernels if any(c.kernel == k for c in cells)]:
        try:
            kernels.prepare(k, build)
        except kernels.KernelError as e:
            print("run-tests.sh: %s" % e, file=sys.stderr)
            return 2
        check_built(paths_for(build, k, qemus), modes.machine_of(k.arch))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results_dir = os.path.abspath(a.results or os.path.join(build, "results", stamp))
    os.makedirs(results_dir, exist_ok=True)
    if not a.results:
        latest = os.path.join(build, "results", "latest")
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(stamp, latest)
    if plan:
        shard.write_manifest(results_dir, plan, versions(build))
        if not cells:
            # More shards than cells: this one did all it had to do.
            tap = "1..0 # SKIP %s" % plan.describe()
            print(tap)
            with open(os.path.join(results_dir, run_files.TAP_FILE), "w") as f:
                f.write(tap + "\n")
            return 0

    # With --format=ktap, KTAP is printed at the end: TAP is the progress.
    tap_out = sys.stdout if a.format == "tap" else sys.stderr
    tap = ["TAP version 13", "1..%d" % len(cells)]
    print("\n".join(tap), file=tap_out, flush=True)
    t0 = time.monotonic()
    results = []
    for n, r in run_cells(cells, build, results_dir, a, tsc_khz, qemus):
        results.append(r)
        rerun.write(r.workdir, cells[n - 1], a, build)
        lines = [report.tap_line(n, r)] + report.tap_detail(r)
        tap += lines
        print("\n".join(lines), file=tap_out, flush=True)
    print("# %d cells in %.0fs with %d jobs" % (len(cells), time.monotonic() - t0, a.jobs),
          file=sys.stderr)
    durations.record(build, results)
    tail = report.tap_tail(results)
    print("\n".join(tail), file=tap_out)
    vs = versions(build) + [kernels.version(k) for k in chosen_kernels if not k.builtin]
    text = run_files.write(results_dir, tap + tail, results, vs)
    if a.format == "ktap":
        print(text, end="", flush=True)
    return 0 if all(r.met for r in report.gating(results)) else 1
