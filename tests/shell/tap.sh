# shellcheck shell=bash
# The shell tests' TAP, sourced after scripts/lib/lib.sh:
#   t DESCRIPTION COMMAND...
# runs COMMAND as the next test, "ok N - DESCRIPTION" when it succeeds,
# "not ok N - ..." when not; $n counts the tests, $failed the failures.
n=0 failed=0
t() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failed=$((failed + 1)); fi
}
