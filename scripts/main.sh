#!/usr/bin/env bash
# ite-lab's main job on a fresh Debian 12 or 13 machine (as root): install
# the build dependencies, fetch and build everything (scripts/build-all.sh),
# then run the whole scenario matrix. The report lands in
# build/results/latest/.
set -euo pipefail
. "$(dirname "$0")/lib/lib.sh"

"$ITE_TOP/scripts/build-all.sh"
exec "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" "$@"
