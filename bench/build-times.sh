#!/usr/bin/env bash
# Print ite-lab's build times (figures only; nothing is asserted):
#   cold:        QEMU + the four kernels (the 6.12 pair, the mainline pair)
#                from freshly unpacked sources, with the
#                download cache warm (ccache is used as it is: pass
#                --no-ccache for a truly cold compile)
#   incremental: touch one kernel patch, rebuild the patched kernel and run
#                one scenario on it
# Uses its own build directory (build-bench/), so build/ is left alone.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"

if [ "${1:-}" = --no-ccache ]; then
	export CCACHE_DISABLE=1
fi
bench=$ITE_TOP/build-bench
export ITE_BUILD=$bench

secs() { local s=$SECONDS; "$@" >/dev/null; echo $((SECONDS - s)); }

"$ITE_TOP/scripts/fetch-sources.sh"
rm -rf "$bench"
meson setup "$bench" "$ITE_TOP" >/dev/null
cold_qemu=$(secs ninja -C "$bench" qemu)
cold_unpatched=$(secs ninja -C "$bench" kernel-unpatched)
cold_patched=$(secs ninja -C "$bench" kernel-patched)
cold_mainline_base=$(secs ninja -C "$bench" kernel-mainline-base)
cold_mainline=$(secs ninja -C "$bench" kernel-mainline)
cold_rest=$(secs ninja -C "$bench")

# Editing a patch rewrites the files it touches; do that to the bench's
# patched tree (the same mtime change an edit causes), so the real series
# is left alone. With an empty series, a file the series is about stands in.
mapfile -t files < <(series_files "$ITE_TOP/kernel-patches/6.12" | xargs -r sed -n 's|^+++ b/||p' | sort -u)
[ ${#files[@]} -gt 0 ] || files=(drivers/iommu/intel/dmar.c)
(cd "$bench/linux/patched/src" && touch "${files[@]}")
start=$SECONDS
ninja -C "$bench" kernel-patched >/dev/null
incr_build=$((SECONDS - start))
"$ITE_TOP/run-tests.sh" --build "$bench" --kernel=patched device-del-idle >/dev/null || true
incr_total=$((SECONDS - start))

printf 'build-times: cold qemu %ds, kernel-unpatched %ds, kernel-patched %ds, kernel-mainline-base %ds, kernel-mainline %ds, rest %ds, total %ds\n' \
	"$cold_qemu" "$cold_unpatched" "$cold_patched" "$cold_mainline_base" "$cold_mainline" "$cold_rest" \
	$((cold_qemu + cold_unpatched + cold_patched + cold_mainline_base + cold_mainline + cold_rest))
printf 'build-times: incremental (%d file(s) of the series touched): rebuild %ds, rebuild + one scenario %ds\n' \
	"${#files[@]}" "$incr_build" "$incr_total"
