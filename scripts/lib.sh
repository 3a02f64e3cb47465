# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers shared by the kvhost scripts.  Source, do not run.

KVHOST_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KVHOST_CACHE="${KVHOST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvhost}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Newest installed Debian 6.1 amd64 headers, e.g. "6.1.0-41-amd64".
stock_kver()
{
	ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null |
		sed 's|.*/linux-headers-||' | sort -t- -k2,2n | tail -n1
}

stock_dir() { echo "$KVHOST_CACHE/stock/$1"; }

# Version of the installed linux-source-6.1 package, e.g. "6.1.192-2".
source_version()
{
	dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null
}

source_dir() { echo "$KVHOST_CACHE/src/linux-source-$(source_version)"; }

# The debug kernel's cache directory: keyed by the source version and the
# config fragment, so a change to either rebuilds it.
debug_dir()
{
	local key

	key="$({ source_version; cat "$KVHOST_ROOT/scripts/debug.config"; } |
		sha256sum | cut -c1-16)"
	echo "$KVHOST_CACHE/debug/$key"
}

# Resolve a kernel flavour ("stock" or "debug") into the variables the
# scripts need:
#   KVH_KVER    kernel release
#   KVH_KIMG    bootable image
#   KVH_MODROOT directory holding lib/modules/$KVH_KVER
#   KVH_KDIR    tree to build external modules against
kernel_resolve()
{
	local d

	case "$1" in
	stock)
		KVH_KVER="$(stock_kver)"
		[ -n "$KVH_KVER" ] || die "no Debian 6.1 headers: run scripts/deps"
		d="$(stock_dir "$KVH_KVER")"
		KVH_KIMG="$d/boot/vmlinuz-$KVH_KVER"
		KVH_MODROOT="$d"
		KVH_KDIR="/usr/src/linux-headers-$KVH_KVER"
		;;
	debug)
		d="$(debug_dir)"
		[ -f "$d/.done" ] ||
			die "no debug kernel: run scripts/debug-kernel"
		KVH_KVER="$(cat "$d/kernelrelease")"
		KVH_KIMG="$d/bzImage"
		KVH_MODROOT="$d"
		KVH_KDIR="$d/build"
		;;
	*)
		die "unknown kernel flavour '$1' (stock or debug)"
		;;
	esac
	[ -f "$KVH_KIMG" ] || die "missing $KVH_KIMG: run scripts/deps"
}

# Build kvhost.ko (and kvhost_test.ko where the kernel has KUnit) for a
# flavour in a private copy of the sources, so builds for different kernels
# never share objects.  Prints the directory holding the .ko files.
build_module()
{
	local flavour="$1" out

	kernel_resolve "$flavour"
	# Keyed by kernel tree and checkout: two clones never share objects.
	out="$KVHOST_CACHE/build/$KVH_KVER-$(echo "$KVH_KDIR $KVHOST_ROOT" |
		sha256sum | cut -c1-8)"
	mkdir -p "$out"
	# One build per tree at a time: parallel scripts/vm runs share it.
	exec 9>"$out.lock"
	flock 9
	rsync -a --delete --exclude='*.o' --exclude='*.ko' \
		--exclude='*.cmd' --exclude='*.mod*' --exclude='.*' \
		"$KVHOST_ROOT/Kbuild" "$KVHOST_ROOT/drivers" \
		"$KVHOST_ROOT/include" "$KVHOST_ROOT/uapi" "$out/src/" >&2
	make -s -C "$KVH_KDIR" M="$out/src" W=1 CONFIG_DEBUG_INFO_BTF_MODULES= \
		modules >&2 ||
		die "module build for $KVH_KVER failed"
	exec 9>&-
	echo "$out/src/drivers/kvhost"
}
