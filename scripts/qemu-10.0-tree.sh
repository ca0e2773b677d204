#!/usr/bin/env bash
# QEMU 10.0 beside the host's 7.2, without touching the host's packages: a Debian 13 (trixie) tree built once with
# debootstrap, QEMU installed inside it, and a wrapper that runs the tree's qemu-system-x86_64 through chroot.
# Idempotent: a second run checks and repairs (the /tmp bind mount) in well under a second.
# Prints the wrapper's path as its last line of stdout; progress goes to stderr.
#
# Usage: scripts/qemu-10.0-tree.sh [DIR]   (DIR: $QMPKIT_QEMU10_TREE, else /var/cache/qmpkit/debian-13)
# Needs root (debootstrap, chroot, mount). Never adds trixie to the host's apt sources: its libc would replace
# the host's.
set -euo pipefail

tree=${1:-${QMPKIT_QEMU10_TREE:-/var/cache/qmpkit/debian-13}}
mirror=${QMPKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
wrapper="$(dirname "$tree")/qemu-system-x86_64-10.0"
stamp="$tree/.qmpkit-tree-ready"
log() { echo "qemu-10.0-tree: $*" >&2; }

case "$tree" in
/tmp | /tmp/*)
  # /tmp is bind-mounted into the tree: a tree under /tmp would contain itself.
  log "the tree must live outside /tmp (got $tree)"
  exit 2
  ;;
esac

if [ ! -f "$stamp" ]; then
  started=$(date +%s)
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # A half-built tree (an interrupted run) is discarded rather than trusted.
  if [ -d "$tree" ]; then
    mountpoint -q "$tree/tmp" && umount "$tree/tmp"
    mountpoint -q "$tree/dev/pts" && umount "$tree/dev/pts"
    mountpoint -q "$tree/proc" && umount "$tree/proc"
    grep -qs " $tree/dev/kvm " /proc/mounts && umount "$tree/dev/kvm"
    rm -rf --one-file-system "$tree"
  fi
  mkdir -p "$(dirname "$tree")"
  log "debootstrap trixie into $tree"
  debootstrap --variant=minbase trixie "$tree" "$mirror" >"$tree.debootstrap.log" 2>&1 || {
    tail -n 20 "$tree.debootstrap.log" >&2
    exit 1
  }
  log "installing qemu-system-x86 and qemu-utils in the tree"
  # qemu-utils brings the tree's own qemu-img, so images are created by the same generation that opens them.
  chroot "$tree" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-system-x86 qemu-utils >"$tree.apt.log" 2>&1 || {
    tail -n 20 "$tree.apt.log" >&2
    exit 1
  }
  chroot "$tree" apt-get clean
  chroot "$tree" qemu-system-x86_64 -version | head -n 1 >"$stamp"
  log "built in $(($(date +%s) - started)) s: $(cat "$stamp")"
fi

# A socket path under /tmp then means the same file inside and outside the tree; the host's ptys are needed for
# `-chardev pty` (libvirt's serial consoles); /proc names a signal's sender in QEMU's "terminating on signal"
# line; /dev/kvm, where the host has it, lets `accel=kvm` work as for the host's QEMU (libvirt caches its probe
# per KVM availability and re-probes at every call when they disagree).
mount_tree() {
  mountpoint -q "$tree/tmp" || mount --bind /tmp "$tree/tmp" || return 1
  mountpoint -q "$tree/dev/pts" || mount --bind /dev/pts "$tree/dev/pts" || return 1
  mountpoint -q "$tree/proc" || mount -t proc proc "$tree/proc" || return 1
  if [ -c /dev/kvm ] && ! grep -qs " $tree/dev/kvm " /proc/mounts; then
    touch "$tree/dev/kvm" && mount --bind /dev/kvm "$tree/dev/kvm" || return 1
  fi
}
mount_tree

# The wrapper re-checks the mount (a reboot drops it) and execs chroot, which execs QEMU: the pid a caller
# gets is QEMU's own, so killing it by pid works.
cat >"$wrapper.new" <<EOF
#!/bin/sh
# QEMU 10.0 from the Debian 13 tree at $tree (made by qmpkit's scripts/qemu-10.0-tree.sh).
# Paths given to QEMU are resolved inside the tree; only /tmp is shared with the host.
mountpoint -q "$tree/tmp" || mount --bind /tmp "$tree/tmp" || exit 1
mountpoint -q "$tree/dev/pts" || mount --bind /dev/pts "$tree/dev/pts" || exit 1
mountpoint -q "$tree/proc" || mount -t proc proc "$tree/proc" || exit 1
if [ -c /dev/kvm ] && ! grep -qs " $tree/dev/kvm " /proc/mounts; then
  touch "$tree/dev/kvm" && mount --bind /dev/kvm "$tree/dev/kvm" || exit 1
fi
exec chroot "$tree" /usr/bin/qemu-system-x86_64 "\$@"
EOF
chmod 755 "$wrapper.new"
mv "$wrapper.new" "$wrapper"
for tool in qemu-img; do
  sed -e "s#/usr/bin/qemu-system-x86_64#/usr/bin/$tool#" -e "s#QEMU 10.0 from#$tool (QEMU 10.0) from#" \
    "$wrapper" >"$(dirname "$tree")/$tool-10.0.new"
  chmod 755 "$(dirname "$tree")/$tool-10.0.new"
  mv "$(dirname "$tree")/$tool-10.0.new" "$(dirname "$tree")/$tool-10.0"
done
echo "$wrapper"
