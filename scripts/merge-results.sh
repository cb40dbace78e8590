#!/usr/bin/env bash
# Usage: merge-results.sh OUT SHARD_DIR...
# Join the results directories of the shards of one run
# (run-tests.sh --shard=I/N --results SHARD_DIR, I = 1..N) into OUT, one
# results directory with the whole run's results.tap, junit.xml, report.md
# and report.html, and exit as run-tests.sh would have: 0 every gating
# cell met its expectation, 1 one did not, 2 the shards do not make one
# complete run (harness/merge.py says what it checks).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# Debian's python3, as run-tests.sh's.
exec /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from harness.merge import main; sys.exit(main(sys.argv[2:]))' "$top" "$@"
