# shellcheck shell=bash
# tests/lib/full_disk.sh — a full disk for the end-to-end scripts, when root:
# a small tmpfs, filled up. Sourced after lib/e2e.sh (it uses e2e_at_exit).
#
#   tmpfs_usable          0 when a tmpfs can be mounted here; otherwise prints
#                         a "skip" line saying why and returns 1
#   tmpfs_mount DIR       a TMPFS_SIZE (256 KiB) tmpfs on DIR; at most one at a
#                         time, unmounted on exit if it still is
#   tmpfs_unmount DIR     unmounts it, retrying for up to 5 s
#   fill DIR [LEAVE]      fills DIR's filesystem with DIR/filler, leaving LEAVE
#                         bytes free

TMPFS_SIZE=256k
TMPFS_MOUNTED="" # the tmpfs mounted now

tmpfs_at_exit() { [ -z "$TMPFS_MOUNTED" ] || tmpfs_unmount "$TMPFS_MOUNTED"; }
e2e_at_exit tmpfs_at_exit

tmpfs_usable() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skip the full tmpfs: not root (mounting one needs root); the file-size limit still runs"
        return 1
    fi
    mkdir -p "$WORK/probe-mount"
    if ! mount -t tmpfs -o size=$TMPFS_SIZE tmpfs "$WORK/probe-mount" 2>"$WORK/mount-err"; then
        echo "skip the full tmpfs: mount failed: $(head -n 1 "$WORK/mount-err")"
        return 1
    fi
    umount "$WORK/probe-mount"
}

tmpfs_mount() { mount -t tmpfs -o size=$TMPFS_SIZE tmpfs "$1" && TMPFS_MOUNTED=$1; }

# A program may take a moment to let go of the directory after it quits.
tmpfs_unmount() {
    for _ in $(seq 50); do
        umount "$1" 2>/dev/null && { TMPFS_MOUNTED=""; return 0; }
        sleep 0.1
    done
    umount "$1" && TMPFS_MOUNTED=""
}

# fill DIR [LEAVE_BYTES]: fills the filesystem of DIR, leaving LEAVE_BYTES free.
fill() {
    dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null
    if [ -n "${2:-}" ]; then truncate -s "-$2" "$1/filler"; fi
}
