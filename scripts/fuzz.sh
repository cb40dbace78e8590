#!/usr/bin/env bash
# Fuzz ite-lab's QEMU where the guest controls the input: QEMU's own
# generic-fuzz target (tests/qtest/fuzz/generic_fuzz.c, libFuzzer) on
# qemu-fuzz-x86_64, built with ASan and UBSan by scripts/build/build-qemu.sh
# --fuzz. See docs/robustness.md.
#
#   scripts/fuzz.sh TARGET [SECONDS]    fuzz TARGET for SECONDS (default:
#                                       ITE_FUZZ_SECONDS, or 60)
#   scripts/fuzz.sh all [SECONDS]       each target in turn, SECONDS each
#   scripts/fuzz.sh --list              the targets and what they cover
#   scripts/fuzz.sh --env TARGET        the target's environment, for a shell
#   scripts/fuzz.sh --repro TARGET FILE run one input again (a crash artifact)
#
# The corpus grows in $ITE_BUILD/fuzz/TARGET/corpus (seeded by
# scripts/build/fuzz-seeds.py) and is reused by the next run; findings are
# kept in $ITE_BUILD/fuzz/TARGET/artifacts, the run's output in
# $ITE_BUILD/fuzz/TARGET/fuzz.log. Prints TAP, a test per target
# (executions, coverage), and exits non-zero when a target crashed, leaked,
# timed out on an input (-timeout, ITE_FUZZ_TIMEOUT seconds) or printed any
# sanitizer report, naming the input and how to reproduce it (on stderr, as
# comments: what meson shows of a failed test). ITE_FUZZ_BUILD=0: do not
# (re)build qemu-fuzz-x86_64 first, and stop if it is not built. "fuzz.sh
# all" is a test of meson's suite 'sanitizers', with ITE_FUZZ_BUILD=0.
set -uo pipefail
. "$(dirname "$0")/lib/lib.sh"
. "$ITE_TOP/scripts/lib/sanitizers.sh"

bin=$ITE_BUILD/qemu-fuzz/build/qemu-fuzz-x86_64
timeout_s=${ITE_FUZZ_TIMEOUT:-25}

# The targets: QEMU's command line (QEMU_FUZZ_ARGS; generic-fuzz adds
# -machine accel=qtest -m 512M) and the objects and MemoryRegions whose
# MMIO/PIO, PCI config space and DMA it fuzzes (QEMU_FUZZ_OBJECTS, globs
# matched against QOM type names and MemoryRegion names). The endpoints sit
# on pcie.0 because generic-fuzz reaches config space through 0xcf8/0xcfc on
# bus 0 only. "mch" and the ECAM window (pcie-mmcfg-mmio) are there so that
# an input can enable ECAM (MCH PCIEXBAR) and reach extended config space:
# the ATS capability at 0x100.
ATD_DEVS="-device ats-testdev,id=dut0,addr=04.0"
ATD_DEVS+=" -device ats-testdev,id=dut1,addr=05.0,inval-delay-ms=5,atc-size=2"
ATD_DEVS+=" -device ats-testdev,id=dut2,addr=06.0,drop-inval=on"
ATD_DEVS+=" -device ats-testdev,id=dut3,addr=07.0,inval-error=on,verify-atc=off"
target_env() { # target_env TARGET: sets args, objects, what
	case $1 in
	ats-testdev)
		args="-M q35 -nodefaults -device ats-testdev,id=dut0,addr=04.0"
		args+=" -device ats-testdev,id=dut1,addr=05.0,atc-size=1,verify-atc=off"
		objects="mch pcie-mmcfg-mmio* ats-testdev"
		what="ats-testdev without an IOMMU: BAR0 registers and DMA engine, config space, ATS enable (ECAM)"
		;;
	vtd-iq)
		args="-M q35 -nodefaults -device intel-iommu,device-iotlb=on,devtlb-timeout-ms=10 $ATD_DEVS"
		objects="mch pcie-mmcfg-mmio* intel-iommu ats-testdev"
		what="intel-iommu (legacy mode) registers and invalidation queue (descriptors from DMA: device-TLB, wait, ...), ITE/ICE and their clearing, with four ats-testdev (prompt, slow, silent, wrong tag)"
		;;
	vtd-iq-sm)
		args="-M q35 -nodefaults -device intel-iommu,device-iotlb=on,x-scalable-mode=on,devtlb-timeout-ms=10 $ATD_DEVS"
		objects="mch pcie-mmcfg-mmio* intel-iommu ats-testdev"
		what="the same in scalable mode (256-bit descriptors, PASID-based device-TLB invalidation)"
		;;
	*) return 1 ;;
	esac
}
TARGETS="ats-testdev vtd-iq vtd-iq-sm"

usage() {
	sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

# run_env TARGET: the environment of the fuzzer for TARGET, one per line.
run_env() {
	target_env "$1" || die "unknown target '$1' (scripts/fuzz.sh --list)"
	printf '%s\n' "QEMU_FUZZ_ARGS=$args" "QEMU_FUZZ_OBJECTS=$objects" \
		"ASAN_OPTIONS=$ASAN_OPTIONS" "UBSAN_OPTIONS=$UBSAN_OPTIONS" "LSAN_OPTIONS=$LSAN_OPTIONS"
}

# shell_env TARGET: run_env quoted for a shell.
shell_env() {
	local kv
	while read -r kv; do printf '%s=%q ' "${kv%%=*}" "${kv#*=}"; done < <(run_env "$1")
}

build() {
	if [ "${ITE_FUZZ_BUILD:-1}" = 0 ]; then
		[ -x "$bin" ] || die "$bin is not built (ninja -C $ITE_BUILD qemu-fuzz)"
		return 0
	fi
	"$ITE_TOP/scripts/build/build-qemu.sh" --fuzz || die "building $bin failed"
}

# fuzz N TARGET SECONDS: one bounded run, TAP test N. 0 when it found nothing.
fuzz() {
	local n=$1 t=$2 secs=$3 dir=$ITE_BUILD/fuzz/$2 rc found art start took runs rate cov units stats
	local -a env
	target_env "$t"
	mapfile -t env < <(run_env "$t")
	rm -rf "$dir/seeds"
	mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/seeds"
	"$ITE_PYTHON" "$ITE_TOP/scripts/build/fuzz-seeds.py" "$t" "$dir/seeds" ||
		die "writing the seeds of $t failed"
	log "fuzz: $t for ${secs}s ($what)"
	# Findings of earlier runs stay, but only this run's count.
	touch "$dir/.start"
	start=$(date +%s)
	(cd "$dir" && env "${env[@]}" "$bin" --fuzz-target=generic-fuzz \
		-max_total_time="$secs" -timeout="$timeout_s" -rss_limit_mb=4096 \
		-max_len=4096 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
		"$dir/corpus" "$dir/seeds") >"$dir/fuzz.log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	# (slow-unit-* files are kept, but are no failure)
	found=$(find "$dir/artifacts" -maxdepth 1 -type f -newer "$dir/.start" ! -name '*.*' \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -n1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/fuzz.log" | tail -n1)
	units=$(find "$dir/corpus" -type f | wc -l)
	stats="${runs:-?} executions in ${took}s (${rate:-?}/s), ${cov:-no coverage yet}, corpus $units"
	if [ "$rc" -eq 0 ] && [ -z "$found" ] && ! grep -qE "$ITE_SANITIZER_RE" "$dir/fuzz.log"; then
		echo "ok $n - fuzz $t: $stats"
		return 0
	fi
	echo "not ok $n - fuzz $t: FOUND SOMETHING (exit status $rc): $stats; log: $dir/fuzz.log"
	{
		echo "# fuzz $t: FOUND SOMETHING (exit status $rc); log: $dir/fuzz.log"
		grep -E -m 3 -A 20 "$ITE_SANITIZER_RE|ERROR: libFuzzer|Assertion|deadly signal|ALARM" \
			"$dir/fuzz.log" | head -n 40 | sed 's/^/#   /'
		for art in $found; do
			echo "#   artifact: $art"
			echo "#   reproduce: scripts/fuzz.sh --repro $t $art"
		done
	} >&2
	return 1
}

# repro TARGET FILE: run one input again, then write it as a qtest trace
# (FILE.qtest) that qemu-system-x86_64 -qtest stdio replays, and as a C
# reproducer (FILE.c) to start a regression qtest from.
repro() {
	local t=$1 file=$2 scripts=$ITE_BUILD/qemu-fuzz/src/scripts/oss-fuzz
	local -a env
	[ -f "$file" ] || die "no such input: $file"
	target_env "$t" || die "unknown target '$t' (scripts/fuzz.sh --list)"
	mapfile -t env < <(run_env "$t")
	echo "# $(shell_env "$t")$bin --fuzz-target=generic-fuzz $file"
	env "${env[@]}" "$bin" --fuzz-target=generic-fuzz "$file"
	echo "# exit status $?"
	# The serialized qtest log; with QTEST_LOG the fuzzer's qtest server
	# also prints a GLib warning per command, which goes.
	env "${env[@]}" FUZZ_SERIALIZE_QTEST=1 QTEST_LOG=1 "$bin" --fuzz-target=generic-fuzz "$file" 2>&1 >/dev/null |
		awk '{ sub(/[^ ]*: GLib: g_timer_elapsed: assertion .timer != NULL. failed/, "") }
			/^\[DMA\] *$/ { dma = $0; next }
			{ if (dma != "") { print dma $0; dma = "" } else if (length($0)) print }' >"$file.log"
	"$ITE_PYTHON" "$scripts/reorder_fuzzer_qtest_trace.py" "$file.log" >"$file.qtest" ||
		die "could not turn $file.log into a qtest trace"
	QEMU_PATH=$ITE_BUILD/qemu-asan/build/qemu-system-x86_64 QEMU_ARGS="-display none -machine accel=qtest -m 512M $args" \
		"$ITE_PYTHON" "$scripts/output_reproducer.py" -c "$file.qtest" >"$file.c" 2>/dev/null || rm -f "$file.c"
	echo "# qtest trace: $file.qtest ($(wc -l <"$file.qtest") commands); replay it with"
	echo "#   $ITE_BUILD/qemu-asan/build/qemu-system-x86_64 -display none -machine accel=qtest -m 512M $args -qtest stdio < $file.qtest"
	[ -f "$file.c" ] && echo "# C reproducer for a qtest: $file.c"
	return 0
}

case "${1:-}" in
--list)
	for t in $TARGETS; do
		target_env "$t"
		printf '%-12s %s\n' "$t" "$what"
	done
	exit 0
	;;
--env) [ $# -eq 2 ] || usage; run_env "$2"; exit ;;
--repro) [ $# -eq 3 ] || usage; build; repro "$2" "$3"; exit ;;
"" | -*) usage ;;
esac

secs=${2:-${ITE_FUZZ_SECONDS:-60}}
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive number, not '$secs'"
if [ "$1" = all ]; then
	targets=$TARGETS
else
	target_env "$1" || die "unknown target '$1' (scripts/fuzz.sh --list)"
	targets=$1
fi
build
read -r -a run <<<"$targets"
echo "TAP version 13"
echo "1..${#run[@]}"
n=0 bad=0
for t in "${run[@]}"; do
	n=$((n + 1))
	fuzz "$n" "$t" "$secs" || bad=$((bad + 1))
done
[ "$bad" -eq 0 ]
