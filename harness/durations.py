"""How long each cell took the last time it ran, kept in the build
directory across runs, so that the next run starts the longest first
(main.schedule). A cell's duration is its own run, not counting the wait
for its configuration's template boot."""
import json
import os

DURATIONS_FILE = os.path.join("results", "durations.json")


def load(build):
    """{cell directory name: seconds}, empty when nothing was recorded."""
    try:
        with open(os.path.join(build, DURATIONS_FILE)) as f:
            got = json.load(f)
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in got.items() if isinstance(v, (int, float))} \
        if isinstance(got, dict) else {}


def record(build, results):
    """Add the durations of this run's cells to what the file holds."""
    got = load(build)
    got.update({os.path.basename(r.workdir): r.duration for r in results if r.workdir})
    path = os.path.join(build, DURATIONS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(got, f, indent=0, sort_keys=True)
    os.replace(path + ".tmp", path)
