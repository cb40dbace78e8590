#!/usr/bin/env bash
# Usage: shellcheck.sh [FILE...]
# Runs shellcheck on every shell script of the project (git ls-files:
# *.sh, run-tests.sh, guest-image/init, .ci/run), or on the files given.
# Prints TAP, a test per file; shellcheck's findings go to stderr (as
# comments), which is what meson shows of a failed test. Part of meson's
# suite 'lint'.
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
need shellcheck shellcheck

# From the top: shellcheck follows "$ITE_TOP/scripts/lib/..." from there.
if [ $# -gt 0 ]; then
	mapfile -t files < <(realpath -s --relative-to="$ITE_TOP" -- "$@")
	cd "$ITE_TOP" || exit 1
else
	cd "$ITE_TOP" || exit 1
	mapfile -t files < <(git ls-files '*.sh' run-tests.sh guest-image/init .ci/run | sort -u)
fi
echo "TAP version 13"
echo "1..${#files[@]}"
# One shellcheck run for all of them (it is the slow part), then a line
# per file: the files with a finding are the ones it names.
declare -A flagged
while IFS= read -r line; do
	flagged[${line%%:*}]=1
done < <(shellcheck -f gcc "${files[@]}" 2>&1)
n=0 failed=0
for f in "${files[@]}"; do
	n=$((n + 1))
	if [ -n "${flagged[$f]:-}" ] || [ ! -f "$f" ]; then
		echo "not ok $n - $f"
		shellcheck "$f" 2>&1 | sed 's/^/# /' >&2
		failed=$((failed + 1))
	else
		echo "ok $n - $f"
	fi
done
[ "$failed" -eq 0 ]
