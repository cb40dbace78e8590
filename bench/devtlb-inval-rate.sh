#!/usr/bin/env bash
# Device-TLB invalidations per second, stock QEMU against ite-lab's QEMU
# (figures only; nothing is asserted). "Stock" is the same pinned Debian
# source built without ite-lab's series and overlay (build-qemu.sh --stock).
# The guest reads a virtio-rng through the IOMMU in strict mode: one map,
# one unmap and so one device-TLB invalidation per 64-byte read
# (bench/scenarios/devtlb-rate.scenario). Each QEMU runs ROUNDS times
# (default 3), alternating; the best round of each is compared.
#
#   bench/devtlb-inval-rate.sh [ROUNDS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

rounds=${1:-3}
"$ITE_TOP/scripts/build-qemu.sh" --stock
stock=$ITE_BUILD/qemu-stock/build/qemu-system-x86_64
ite=$ITE_BUILD/qemu/build/qemu-system-x86_64
out=$ITE_BUILD/bench/devtlb-rate
mkdir -p "$out"

# reads/s of the timed dd in one run's agent transcript: the step prints
# the guest's /proc/uptime before and after 10000 reads
rate() {
	local log=$1/devtlb-rate.patched/agent.log
	grep -E '^< [0-9]+ \| [0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' "$log" | tail -n2 |
		awk '{ t[NR] = $4 } END { printf "%.0f\n", 10000 / (t[2] - t[1]) }'
}

best_stock=0 best_ite=0
for i in $(seq "$rounds"); do
	for which in stock ite; do
		q=$stock
		[ "$which" = ite ] && q=$ite
		"$ITE_TOP/run-tests.sh" --build "$ITE_BUILD" --scenarios "$ITE_TOP/bench/scenarios" \
			--kernel=patched -g bench --qemu "$q" --results "$out/$which-$i" >/dev/null ||
			die "the $which run failed; see $out/$which-$i"
		r=$(rate "$out/$which-$i")
		log "round $i: $which $r invalidations/s"
		if [ "$which" = stock ] && [ "$r" -gt "$best_stock" ]; then best_stock=$r; fi
		if [ "$which" = ite ] && [ "$r" -gt "$best_ite" ]; then best_ite=$r; fi
	done
done
printf 'devtlb-inval-rate: stock %d/s, ite-lab %d/s, ratio %s (goal >= 0.95)\n' \
	"$best_stock" "$best_ite" "$(awk -v a="$best_ite" -v b="$best_stock" 'BEGIN { printf "%.3f", a / b }')"
