# shellcheck shell=bash
# Run-time settings for a QEMU built with sanitizers
# (scripts/build/build-qemu.sh --asan or --fuzz; docs/robustness.md).
# Source it after lib.sh. Whatever the caller already exported wins.
#
# ASan: stop at the first error; LeakSanitizer (part of ASan) checks for
# leaks when QEMU exits. UBSan: print a stack trace and stop, so that
# "runtime error:" is fatal and cannot scroll by unnoticed. The harness
# (harness/runner.py) fails a cell whose QEMU printed either report.

# The patterns that mean a sanitizer report, for grep -E: the harness's
# list, one a line (its lines hold no grep -E specials but spaces).
# shellcheck disable=SC2034 # used by the scripts that source this file
ITE_SANITIZER_RE=$(paste -sd'|' "$ITE_TOP/harness/sanitizer-reports.txt")

# meson test gives every test ASAN_OPTIONS and UBSAN_OPTIONS of its own
# (with abort_on_error=1, without handle_abort=1) when the caller set none:
# those are not the caller's choice, and give way to these.
if [ -n "${MESON_TEST_ITERATION:-}" ]; then
	[ "${ASAN_OPTIONS:-}" != halt_on_error=1:abort_on_error=1:print_summary=1 ] || unset ASAN_OPTIONS
	[ "${UBSAN_OPTIONS:-}" != halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1 ] ||
		unset UBSAN_OPTIONS
fi
: "${ASAN_OPTIONS:=halt_on_error=1:detect_leaks=1:print_summary=1:handle_abort=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
# LeakSanitizer: upstream QEMU's own leaks that the tests reach are
# suppressed, each by the one function that loses the memory
# (lsan-qemu-upstream.supp says which, why, and how narrow).
: "${LSAN_OPTIONS:=print_suppressions=0:suppressions=$ITE_TOP/scripts/lib/lsan-qemu-upstream.supp}"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
