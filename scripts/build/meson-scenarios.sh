#!/usr/bin/env bash
# Usage: meson-scenarios.sh [--sanitizers] RUN-TESTS-ARG...
# run-tests.sh as a meson test (meson.build: suites 'scenarios' and
# 'sanitizers'). Its TAP goes through as it is, but for what meson reads
# differently from TAP itself:
#  - "ok N - ... # TODO informational column", a cell of an informational
#    column (a kernel given by path, nothing expected of it) that met a
#    known behaviour: TAP counts a
#    passing TODO as a bonus, meson as a failure (UNEXPECTEDPASS). The TODO
#    is dropped from passing lines; "not ok ... # TODO" (a finding) stays,
#    meson's "expected fail".
#  - the closing "N passed, N failed", which is not TAP: a comment.
#  - exit status 77, with "1..0 # SKIP" (nothing could run): 0, since
#    meson reads any other status of a TAP test as an error; the plan line
#    already says that the test was skipped.
# A failed cell's line and the comments after it (the guest log's tail,
# the diagnosis) go to stderr too, which is what meson test
# --print-errorlogs shows of a TAP test.
# --sanitizers: run with the settings of scripts/lib/sanitizers.sh, for a QEMU
# built with ASan/UBSan (--qemu).
set -uo pipefail
. "$(dirname "$0")/../lib/lib.sh"
if [ "${1:-}" = --sanitizers ]; then
	shift
	. "$ITE_TOP/scripts/lib/sanitizers.sh"
fi
"$ITE_TOP/run-tests.sh" "$@" | awk '
	/^ok [0-9]+ .* # TODO informational / { sub(/ # TODO informational/, " (informational") ; $0 = $0 ")" }
	/^[0-9]+ passed, [0-9]+ failed$/ { $0 = "# " $0 }
	/^(not )?ok / { failed = /^not ok / && !/ # TODO / }
	{ print; fflush() }
	failed { print > "/dev/stderr"; fflush("/dev/stderr") }'
rc=$?
[ "$rc" -eq 77 ] && rc=0
exit "$rc"
