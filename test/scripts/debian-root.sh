#!/usr/bin/env bash
# Run a command with DIR made into a Debian root for scripts/install.sh --root DIR: inside a
# private mount namespace (the mounts vanish with the command), DIR gets this machine's /usr
# read-only, a writable /usr/local of its own (LOCAL), /dev, /proc and a /run tmpfs. DIR's
# /etc, /opt, /var and /tmp are plain folders the caller prepared; nothing of the host
# changes. Used by test/scripts/install.test.ts.
#   unshare --mount --propagation private test/scripts/debian-root.sh DIR LOCAL command...
set -euo pipefail
root=$1 local=$2
shift 2
mount --bind /usr "$root/usr"
mount -o remount,bind,ro "$root/usr"
mount --bind "$local" "$root/usr/local"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/run"
exec "$@"
