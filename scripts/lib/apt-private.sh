# shellcheck shell=bash
# A private apt configuration, so ite-lab never edits the system's sources.
#
# Two configurations live under $ITE_CACHE/apt:
#   host/    the host's own release plus its backports (bookworm needs
#            meson >= 1.5 and python3-pycotap from there); used to install
#            build dependencies.
#   source/  the suite the trixie packages come from (linux-source-6.12,
#            the firmware and busybox; with updates and security, deb and
#            deb-src); used only to download, never to install, so trixie
#            binaries can never leak onto the host. Its binary indexes are
#            the host's architecture's and arm64's (APT_SOURCE_ARCHES: the
#            arm64 guest's busybox), with no dpkg --add-architecture: apt
#            is told the list, for this configuration only.
#   sid/     sid's (unstable's) deb-src only, for the pinned QEMU and
#            mainline bases (ITE_QEMU_*, ITE_MAINLINE_*): "apt-get source
#            linux" there can only mean sid's. Separate so that nothing of
#            sid ever mixes with trixie.
#
# The archive's address is taken from the system's own apt configuration,
# so ite-lab uses whatever mirror the machine is set up with.
# Source lib.sh before this file.

# apt_mirror LABEL: the repository URI the system uses for archive LABEL
# (Debian or Debian-Security).
apt_mirror() {
	# shellcheck disable=SC2016 # apt's own $(FIELD) syntax, not the shell's
	apt-get indextargets --format '$(LABEL) $(REPO_URI)' 2>/dev/null |
		awk -v l="$1" '$1 == l { print $2; exit }'
}

# The binary architectures of the 'source' configuration: the host's own
# (x86 busybox, firmware) and the arm64 guest's.
apt_source_arches() {
	local native
	native=$(dpkg --print-architecture)
	if [ "$native" = arm64 ]; then echo arm64; else echo "$native,arm64"; fi
}

# apt_private_write NAME: write $ITE_CACHE/apt/NAME/sources.list.
apt_private_write() {
	local name=$1 dir=$ITE_CACHE/apt/$1 main sec codename suite arches
	main=$(apt_mirror Debian)
	sec=$(apt_mirror Debian-Security)
	[ -n "$main" ] || die "no Debian archive in the system's apt sources; cannot download"
	mkdir -p "$dir/lists/partial" "$dir/parts"
	case $name in
	host)
		codename=$(host_codename)
		{
			echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $codename main"
			echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $codename-updates main"
			[ "$codename" = bookworm ] &&
				echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $codename-backports main"
			[ -n "$sec" ] &&
				echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec $codename-security main"
		} >"$dir/sources.list.new"
		;;
	source)
		arches=$(apt_source_arches)
		{
			for suite in "$ITE_LINUX_SUITE" "$ITE_LINUX_SUITE-updates"; do
				echo "deb [arch=$arches signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $suite main"
				echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $suite main"
			done | sort -u
			if [ -n "$sec" ]; then
				echo "deb [arch=$arches signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec $ITE_LINUX_SUITE-security main"
				echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec $ITE_LINUX_SUITE-security main"
			fi
		} >"$dir/sources.list.new"
		;;
	sid)
		for suite in "$ITE_QEMU_SUITE" "$ITE_MAINLINE_SUITE"; do
			echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $main $suite main"
		done | sort -u >"$dir/sources.list.new"
		;;
	*) die "apt_private_write: unknown configuration '$name'" ;;
	esac
	mv "$dir/sources.list.new" "$dir/sources.list"
}

# apt_private [--cache] NAME ARGS...: run apt-get (apt-cache with --cache)
# with configuration NAME.
apt_private() {
	local tool=apt-get name dir arch
	local -a arches=()
	[ "$1" = --cache ] && { tool=apt-cache; shift; }
	name=$1 dir=$ITE_CACHE/apt/$1
	shift
	# 'source' only: the architectures of its indexes (apt adds the native one)
	if [ "$name" = source ]; then
		for arch in $(apt_source_arches | tr , ' '); do
			arches+=(-o "APT::Architectures::=$arch")
		done
	fi
	"$tool" -q \
		-o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts="$dir/parts" \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o APT::Sandbox::User=root \
		"${arches[@]}" "$@"
}

# apt_private_update NAME: refresh NAME's indexes at most once every 12 hours
# (ITE_APT_REFRESH=1 forces it).
apt_private_update() {
	local name=$1 dir=$ITE_CACHE/apt/$1
	apt_private_write "$name"
	if [ "${ITE_APT_REFRESH:-0}" != 1 ] && [ -f "$dir/updated" ] &&
		[ -z "$(find "$dir/updated" -mmin +720)" ] &&
		cmp -s "$dir/sources.list" "$dir/updated"; then
		return 0
	fi
	log "apt: updating the private '$name' indexes"
	apt_private "$name" update >&2 || die "apt-get update failed for the private '$name' configuration"
	cp "$dir/sources.list" "$dir/updated"
}

# apt_fetch NAME KIND PKG...: with configuration NAME, download what
# "apt-get KIND --print-uris PKG..." lists (KIND is "source" or "download")
# into $ITE_CACHE/downloads, check each file against the SHA256 of the
# archive's signed indexes and print the file names. Files already in the
# cache with the right hash are not downloaded again.
apt_fetch() {
	local conf=$1 kind=$2 dest=$ITE_CACHE/downloads uris name hash
	shift 2
	mkdir -p "$dest"
	uris=$(apt_private "$conf" "$kind" --print-uris "$@" 2>/dev/null | grep "^'") ||
		die "apt cannot find '$*' in the private '$conf' configuration ($(apt_suites "$conf")); check the suite names"
	while read -r _ name _ hash; do
		hash=${hash#SHA256:}
		[ ${#hash} -eq 64 ] || die "no SHA256 for $name in the archive index"
		if [ -f "$dest/$name" ] && echo "$hash  $dest/$name" | sha256sum -c --status; then
			echo "$name"
			continue
		fi
		log "downloading $name"
		(cd "$dest" && rm -f "$name" &&
			apt_private "$conf" "$kind" -d "${@}" >&2) ||
			die "download of $* failed"
		echo "$hash  $dest/$name" | sha256sum -c --status ||
			die "$name does not match the archive's SHA256 $hash"
		echo "$name"
	done <<<"$uris"
}

# apt_suites NAME: the suites configuration NAME reads, for messages.
apt_suites() {
	awk '{ print $(NF - 1) }' "$ITE_CACHE/apt/$1/sources.list" 2>/dev/null |
		sort -u | paste -sd' '
}
