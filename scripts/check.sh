#!/usr/bin/env bash
# ite-lab's tests (what .ci/run runs): build what is needed, then
#   1. shellcheck on every shell script,
#   2. the unit tests (meson test --suite unit): agent parser, tree.sh,
#      the harness's log asserter on recorded logs, scenario files,
#   3. checkpatch.pl on every QEMU and kernel patch and overlay file,
#   4. the QEMU qtests (scripts/run-qtests.sh),
#   5. the scenarios of the 'default' group, in both vIOMMU modes, on both
#      kernels (and the sid column when that kernel is already built).
# The sid kernel is not built here unless ITE_SID=1: a cold build of it
# takes about half an hour, too much for CI's 90 minutes on 2 cores; the
# main job (scripts/main.sh) builds it.
# ITE_SANITIZERS=1 adds the sanitizer lane (docs/robustness.md): QEMU
# built with ASan/UBSan for the qtests and two scenarios, and each fuzz
# target for ITE_FUZZ_SECONDS (60). Not by default: cold, its two QEMU
# builds take about 50 minutes on 2 cores.
# Prints TAP lines per part and a closing "N passed, N failed" line that
# counts every unit test and scenario cell. Exit 0 only if all passed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ITE_SID=${ITE_SID:-0} "$ITE_TOP/scripts/build-all.sh" || die "build failed; nothing was tested"

passed=0 failed=0
count() { # count PASSED FAILED
	passed=$((passed + $1))
	failed=$((failed + $2))
}

log "check: shellcheck"
mapfile -t shell_files < <(cd "$ITE_TOP" && git ls-files '*.sh' run-tests.sh guest-image/init .ci/run 2>/dev/null | sort -u)
if (cd "$ITE_TOP" && shellcheck "${shell_files[@]}"); then
	echo "ok - shellcheck (${#shell_files[@]} files)"
	count 1 0
else
	echo "not ok - shellcheck"
	count 0 1
fi

log "check: unit tests"
meson test -C "$ITE_BUILD" --suite unit --print-errorlogs >"$ITE_BUILD/unit-tests.log" 2>&1
sed -n 's/^ *[0-9]*\/[0-9]* \(.*\)$/# \1/p' "$ITE_BUILD/unit-tests.log"
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$ITE_BUILD/unit-tests.log")
bad=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$ITE_BUILD/unit-tests.log")
[ -n "$ok" ] || { ok=0; bad=1; cat "$ITE_BUILD/unit-tests.log"; }
if [ "${bad:-0}" -eq 0 ]; then echo "ok - unit tests ($ok suites)"; else echo "not ok - unit tests ($bad of $((ok + bad)) suites failed)"; fi
count "$ok" "${bad:-0}"

# part NAME COMMAND...: run a part that prints TAP-like lines and closes
# with "N passed, N failed"; its lines are shown as comments, its counts
# added to the total.
part() {
	local name=$1 out=$ITE_BUILD/check-$1.log line sp sf
	shift
	log "check: $name"
	"$@" | tee "$out" | sed -E 's/^([0-9]+ passed, [0-9]+ failed)$/# '"$name"': \1/'
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
	if [ -z "$line" ]; then
		echo "not ok - $name did not report a result"
		count 0 1
		return
	fi
	read -r sp _ sf _ <<<"$line"
	if [ "$sf" -eq 0 ]; then echo "ok - $name ($sp passed)"; else echo "not ok - $name ($sf failed)"; fi
	count "$sp" "$sf"
}

part checkpatch "$ITE_TOP/scripts/checkpatch.sh"
part qtests "$ITE_TOP/scripts/run-qtests.sh"
part scenarios "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" -g default

if [ "${ITE_SANITIZERS:-0}" = 1 ]; then
	. "$ITE_TOP/scripts/sanitizers.sh"
	log "check: sanitizer builds (qemu-asan, qemu-fuzz)"
	if ninja -C "$ITE_BUILD" qemu-asan qemu-fuzz >"$ITE_BUILD/check-sanitizer-builds.log" 2>&1; then
		echo "ok - sanitizer builds"
		count 1 0
		part qtests-asan env ITE_QEMU_FLAVOUR=qemu-asan "$ITE_TOP/scripts/run-qtests.sh"
		# One cell at a time: the ASan QEMU boots at half speed, and the
		# harness gives a guest 60 s to boot.
		part scenarios-asan "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --jobs 1 \
			--qemu "$ITE_BUILD/qemu-asan/build/qemu-system-x86_64" \
			--kernel=patched --mode=legacy hung-device-dma device-del-idle
		part fuzz env ITE_FUZZ_BUILD=0 "$ITE_TOP/scripts/fuzz.sh" all "${ITE_FUZZ_SECONDS:-60}"
	else
		tail -n 20 "$ITE_BUILD/check-sanitizer-builds.log" | sed 's/^/# /'
		echo "not ok - sanitizer builds (see $ITE_BUILD/check-sanitizer-builds.log)"
		count 0 1
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
