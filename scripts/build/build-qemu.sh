#!/usr/bin/env bash
# Build ite-lab's QEMU: Debian's qemu source (dpkg-source -x, so Debian's
# own patches apply), hw/ overlaid on the tree, qemu-patches/series applied,
# for QEMU_TARGETS (sources.sh). Also gathers the firmware the guest boots with.
#
#   scripts/build/build-qemu.sh [--stock | --asan | --fuzz]
#
# --stock builds the same pinned source without ite-lab's overlay and with
# only the upstream fixes of its series, qemu-patches/stock-series (for
# comparisons in bench/), in $ITE_BUILD/qemu-stock.
# --asan builds ite-lab's QEMU with clang, AddressSanitizer (and so
# LeakSanitizer) and UndefinedBehaviorSanitizer, in $ITE_BUILD/qemu-asan.
# --fuzz builds QEMU's libFuzzer binary, qemu-fuzz-x86_64 (generic-fuzz),
# with the same sanitizers and no TCG, in $ITE_BUILD/qemu-fuzz.
# See docs/robustness.md for both.
#
# Output: $ITE_BUILD/qemu/build/qemu-system-{x86_64,aarch64} and
# $ITE_BUILD/firmware/ (--asan: $ITE_BUILD/qemu-asan/build/, the same
# binaries; --stock: qemu-stock/build/qemu-system-x86_64 only, for bench/;
# --fuzz: $ITE_BUILD/qemu-fuzz/build/qemu-fuzz-x86_64).
set -euo pipefail
. "$(dirname "$0")/../lib/lib.sh"
. "$ITE_TOP/scripts/lib/tree.sh"
. "$ITE_TOP/scripts/lib/sources.sh"

flavour=qemu
case "${1:-}" in
"") ;;
--stock) flavour=qemu-stock ;;
--asan) flavour=qemu-asan ;;
--fuzz) flavour=qemu-fuzz ;;
*) die "usage: $0 [--stock | --asan | --fuzz]" ;;
esac

# What the sanitizer flavours add to the configuration, and what they build.
targets=()
for t in "${QEMU_TARGETS[@]}"; do targets+=("qemu-system-$t"); done
flavour_args=()
case $flavour in
qemu-asan)
	need clang clang
	flavour_args=(--cc=clang --cxx=clang++ --enable-asan --enable-ubsan)
	;;
qemu-stock)
	targets=(qemu-system-x86_64)
	;;
qemu-fuzz)
	need clang clang
	flavour_args=(--cc=clang --cxx=clang++ --enable-fuzzing --enable-asan --enable-ubsan --disable-tcg)
	targets=(qemu-fuzz-x86_64)
	;;
esac

need ninja ninja-build
need patch patch
[ -x "$ITE_PYTHON" ] || die "$ITE_PYTHON not found; install the Debian package 'python3'"
"$ITE_PYTHON" -c 'import pycotap' 2>/dev/null ||
	die "python3-pycotap missing for $ITE_PYTHON (bookworm: from bookworm-backports; scripts/install-deps.sh)"
if ! command -v meson >/dev/null || ! dpkg --compare-versions "$(meson --version)" ge 1.5; then
	die "meson >= 1.5 required (bookworm: from bookworm-backports; scripts/install-deps.sh)"
fi

load_versions

top=$ITE_BUILD/$flavour
# QEMU's configure names the compiler "cc", resolved through PATH at build
# time: Debian's ccache links put ccache in front of it. Paths relative to
# the build keep hits across checkouts in different directories.
need ccache ccache
export PATH=/usr/lib/ccache:$PATH CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1
src=$top/src
bld=$top/build
mkdir -p "$top"

# Extract the pristine tree once per Debian version.
if ! stamp_ok "$src/.ite-lab/base" "$QEMU_DSC"; then
	log "qemu: extracting $QEMU_DSC"
	rm -rf "$src" "$bld"
	extract_qemu "$src"
	mkdir -p "$src/.ite-lab"
	echo "$QEMU_DSC" >"$src/.ite-lab/base"
fi

# Stock QEMU carries only the fixes upstream needs whatever ite-lab adds
# (qemu-patches/stock-series): without them its guests hang now and then.
series=series
[ "$flavour" = qemu-stock ] && series=stock-series
tree_apply_series "$src" "$ITE_TOP/qemu-patches" "$series" || {
	log "qemu: re-extracting the tree"
	rm -rf "$src"
	exec "$0" "$@"
}
[ "$flavour" = qemu-stock ] || tree_overlay "$src" "$ITE_TOP/hw"

# Configured again when the configuration changed (a target added): QEMU's
# build reruns configure only for its own inputs, not for new arguments.
args=$(printf '%s\n' "${QEMU_CONFIGURE_ARGS[@]}" "${flavour_args[@]}")
if [ ! -f "$bld/build.ninja" ] || [ "$(cat "$bld/.ite-configure-args" 2>/dev/null)" != "$args" ]; then
	log "qemu: configuring ($flavour)"
	rm -f "$bld/.ite-configure-args"
	mkdir -p "$bld"
	# Trimmed to what the lab needs (QEMU_CONFIGURE_ARGS, sources.sh): one
	# target, no optional libraries, no docs. KVM stays built in (the
	# harness uses it only when asked).
	(cd "$bld" && "$src/configure" "${QEMU_CONFIGURE_ARGS[@]}" "${flavour_args[@]}" \
		>"$top/configure.log" 2>&1) || {
		tail -n 30 "$top/configure.log" >&2
		rm -f "$bld/build.ninja"
		die "qemu configure failed; full log: $top/configure.log"
	}
	printf '%s\n' "$args" >"$bld/.ite-configure-args"
fi

log "qemu: building ($flavour, -j$ITE_JOBS)"
ninja -C "$bld" -j "$ITE_JOBS" "${targets[@]}" >"$top/build.log" 2>&1 || {
	grep -E 'error|FAILED' "$top/build.log" | head -n 30 >&2
	die "qemu build failed; full log: $top/build.log"
}

if [ "$flavour" = qemu ]; then
	"$ITE_TOP/scripts/build/build-firmware.sh"
	cp "$ITE_CACHE/versions.env" "$ITE_BUILD/versions.env"
elif [ "$flavour" != qemu-stock ]; then
	# Run from its build tree (qtests, the fuzzer), QEMU looks for firmware
	# in qemu-bundle/: link what the qemu target gathered.
	[ -f "$ITE_BUILD/firmware/bios-256k.bin" ] ||
		die "no firmware in $ITE_BUILD/firmware: build the qemu target first (ninja -C $ITE_BUILD qemu)"
	bundle=$bld/qemu-bundle/usr/local/share/qemu
	mkdir -p "$bundle"
	for f in "$ITE_BUILD"/firmware/*.bin "$ITE_BUILD"/firmware/*.rom; do
		ln -sf "$f" "$bundle/"
	done
fi
log "qemu: ${targets[*]} in $bld"
