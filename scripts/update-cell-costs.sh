#!/usr/bin/env bash
# Usage: update-cell-costs.sh [RESULTS_DIR...]
# Refresh harness/cell-costs.json, the seconds per cell that
# run-tests.sh --shard=I/N splits the matrix by (harness/shard.py), from
# the cells of finished runs: by default the last run's
# ($ITE_BUILD/results/latest), best a full one; a merge of shards
# (scripts/merge-results.sh) does too. Each cell measured there replaces
# its entry, the others stay. Commit the file: every shard of a CI run
# must split by the same table.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

[ $# -gt 0 ] || set -- "$ITE_BUILD/results/latest"
exec "$ITE_PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from harness.shard import main; sys.exit(main(sys.argv[2:]))' \
	"$ITE_TOP" "$ITE_TOP/scenarios" "$@"
