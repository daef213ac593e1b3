#!/usr/bin/env bash
# Makes (once) and enters a Debian trixie chroot with Wine 10, which runs the
# Windows builds for `make test-windows`. Debian bookworm's Wine 8 cannot start
# Go >= 1.22 programs (they need ProcessPrng from bcryptprimitives.dll).
#
#   scripts/wine/chroot.sh setup          make the chroot if it is not there
#   scripts/wine/chroot.sh run CMD...     run CMD inside it, with /proc, /dev,
#                                         /sys, /tmp and the repository
#                                         mounted at their own paths, in the
#                                         folder WINE_CWD (default /); CMD may
#                                         start with VAR=value settings
#
# WINE_CHROOT names the folder (default: ~/.cache/ica-mcp-proxy/trixie-wine).
# Host paths under /tmp and the repository are the same inside, so Wine sees
# them as Z:\tmp\... and Z:\<repository>\...
set -euo pipefail

ROOT=${WINE_CHROOT:-$HOME/.cache/ica-mcp-proxy/trixie-wine}
WORK=$(cd "$(dirname "$0")/../.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "chroot.sh: making and entering the Wine chroot needs root (debootstrap, mount, chroot)" >&2
		exit 1
	fi
}

setup() {
	need_root
	if [ -x "$ROOT/usr/bin/wine" ] && [ -f "$ROOT/.ica-ready" ]; then
		return 0
	fi
	if ! command -v debootstrap >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	fi
	mkdir -p "$ROOT"
	if [ ! -x "$ROOT/bin/sh" ]; then
		debootstrap --variant=minbase trixie "$ROOT" "$MIRROR"
	fi
	mounts
	chroot "$ROOT" /bin/sh -c '
		set -e
		dpkg --add-architecture i386
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wine64 wine ca-certificates >/dev/null
	'
	# First start makes the prefix (about 20 s); later runs reuse it.
	chroot "$ROOT" /usr/bin/env HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine wineboot --init >/dev/null 2>&1 || true
	touch "$ROOT/.ica-ready"
}

# mounts binds what Wine and the tests need; each only once.
mounts() {
	mkdir -p "$ROOT/proc" "$ROOT/dev" "$ROOT/sys" "$ROOT/tmp"
	mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
	mountpoint -q "$ROOT/dev" || mount --rbind /dev "$ROOT/dev"
	mountpoint -q "$ROOT/sys" || mount --rbind /sys "$ROOT/sys"
	mountpoint -q "$ROOT/tmp" || mount --bind /tmp "$ROOT/tmp"
	mkdir -p "$ROOT$WORK"
	# A checkout under /tmp is seen through /tmp's mount already; another
	# mount on it would keep its folder busy (not removable) on the host.
	case "$WORK/" in
	/tmp/*) ;;
	*) mountpoint -q "$ROOT$WORK" || mount --bind "$WORK" "$ROOT$WORK" ;;
	esac
}

case "${1:-}" in
setup)
	setup
	;;
run)
	shift
	need_root
	setup
	mounts
	# Wine makes each file's access list from its unix mode: with the
	# usual umask 022 every file would be readable by Everyone, and the
	# proxy would rightly refuse its token store.
	umask 077
	exec chroot "$ROOT" /usr/bin/env -i -C "${WINE_CWD:-/}" PATH=/usr/local/bin:/usr/bin:/bin HOME=/root WINEDEBUG=-all WINEPREFIX=/root/.wine "$@"
	;;
*)
	echo "usage: $0 setup | run CMD..." >&2
	exit 2
	;;
esac
