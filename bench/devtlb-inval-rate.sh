#!/usr/bin/env bash
# Device-TLB invalidations per second, stock QEMU against ite-lab's QEMU
# (figures; the only verdict is that every round must complete). "Stock"
# is the same pinned Debian source built without ite-lab's overlay and
# with only the upstream fixes of its series (build-qemu.sh --stock,
# qemu-patches/stock-series).
# The guest reads a virtio-rng through the IOMMU in strict mode: one map,
# one unmap and so one device-TLB invalidation per 64-byte read
# (bench/scenarios/devtlb-rate.scenario). The rate is the guest's clock
# around the reads, the same on both QEMUs, and neither writes a trace:
# the scenario leaves out the harness's timeline events (timeline = off),
# which only ite-lab's QEMU has. Each QEMU runs ROUNDS times
# (default 5), alternating; the medians are compared (TCG timing is noisy:
# rounds of one QEMU spread by 15% and more on these machines, and by far
# more when the host's load average exceeds its CPUs, which the last line
# says: a ratio measured so cannot tell 5% apart; run it on a quiet host).
#
#   bench/devtlb-inval-rate.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/lib.sh"

rounds=${1:-5}
# The rate is wall-clock: on a host busier than its CPUs it says more about
# the load than about QEMU, so the figures come with the load they met.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$ITE_TOP/scripts/build/build-qemu.sh" --stock
stock=$ITE_BUILD/qemu-stock/build/qemu-system-x86_64
ite=$ITE_BUILD/qemu/build/qemu-system-x86_64
out=$ITE_BUILD/bench/devtlb-rate
mkdir -p "$out"

# reads/s of the timed dd in one run's agent transcript: the step prints
# the guest's /proc/uptime before and after 30000 reads
rate() {
	local log=$1/devtlb-rate.legacy.patched/agent.log
	grep -E '^< [0-9]+ \| [0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' "$log" | tail -n2 |
		awk '{ t[NR] = $4 } END { printf "%.0f\n", 30000 / (t[2] - t[1]) }'
}

stock_rates=() ite_rates=() failed=()
for i in $(seq "$rounds"); do
	for which in stock ite; do
		q=$stock
		[ "$which" = ite ] && q=$ite
		rm -rf "$out/$which-$i"
		if ! "$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --scenarios "$ITE_TOP/bench/scenarios" \
			--kernel=patched -g bench --qemu "$q" --results "$out/$which-$i" >/dev/null; then
			log "round $i: $which failed (see $out/$which-$i)"
			failed+=("$which-$i")
			continue
		fi
		r=$(rate "$out/$which-$i")
		log "round $i: $which $r invalidations/s"
		if [ "$which" = stock ]; then stock_rates+=("$r"); else ite_rates+=("$r"); fi
	done
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# A failed round is a finding, not noise: it is counted, named, and fails
# the bench once the figures of the others are out.
printf 'devtlb-inval-rate: %d rounds of %d failed%s\n' "${#failed[@]}" $((2 * rounds)) \
	"${failed[*]:+ (${failed[*]})}"
printf 'devtlb-inval-rate: host load average %s before, %s after, %s CPUs\n' \
	"$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
if [ ${#stock_rates[@]} -eq 0 ] || [ ${#ite_rates[@]} -eq 0 ]; then
	die "no round completed on one of the QEMUs"
fi
ms=$(median "${stock_rates[@]}")
mi=$(median "${ite_rates[@]}")
printf 'devtlb-inval-rate: stock median %d/s (%s), ite-lab median %d/s (%s), ratio %s (goal >= 0.95)\n' \
	"$ms" "${stock_rates[*]}" "$mi" "${ite_rates[*]}" \
	"$(awk -v a="$mi" -v b="$ms" 'BEGIN { printf "%.3f", a / b }')"
[ ${#failed[@]} -eq 0 ] || exit 1
