#!/usr/bin/env bash
# e2e_snapshot_full_disk.sh — the dashboard's snapshot key (s) on a full disk
# (issue 7, faults), driven under tmux: the status line shows one message
# naming the file and the cause, the dashboard keeps running (it pauses and
# resumes, a later snapshot with room again works), q still quits with exit
# status 0 and the terminal restored, an earlier snapshot is byte-identical
# and no temporary is left.
#
# The full disk two ways: a file-size limit on the dashboard (`ulimit -f 0`:
# "File too large"), and, when root, a small tmpfs as its working directory,
# filled up while it runs ("No space left on device"). Through both binaries
# (HSTPROF, HSTPROF_ASAN). One line per check; exit 0 when all passed.
set -u
unset TMUX # a private server even when run from inside tmux
WORK=$(mktemp -d)
SOCKET="hstprof-snapfull-$$"
TMUX_CMD=(tmux -L "$SOCKET" -f /dev/null)
mnt=""
failed=0

cleanup() {
    "${TMUX_CMD[@]}" kill-server >/dev/null 2>&1
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCKET"
    if [ -n "$mnt" ]; then unmount "$mnt"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The dashboard may take a moment to let go of the directory after it quits.
unmount() {
    for _ in $(seq 50); do
        umount "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    umount "$1"
}

check() { # name, condition-as-exit-status
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; failed=1; fi
}

if ! command -v tmux >/dev/null 2>&1; then
    echo "FAIL tmux is not installed (make deps-test installs it)"
    exit 1
fi

# start NAME DIR LIMIT: the dashboard in DIR (its snapshot directory) under
# `ulimit -f LIMIT`, in a 140x45 session; afterwards the wrapper records the
# exit status (outside DIR) and shows a marker line.
start() {
    local name=$1 cwd=$2 limit=$3
    rm -f "$WORK/$name.exit"
    # Only hstprof works in DIR, so that nothing holds a tmpfs there once it quits.
    "${TMUX_CMD[@]}" new-session -d -s "$name" -x 140 -y 45 -c "$WORK" \
        "env TERM=xterm-256color XDG_CACHE_HOME='$WORK/cache' sh -c '(cd \"$cwd\" && ulimit -f $limit && exec \"$bin\" dashboard --threads 1 --no-ceilings --no-counters); echo EXIT=\$? > \"$WORK/$name.exit\"; echo SHELL-IS-BACK; sleep 120'"
}

screen_of() { "${TMUX_CMD[@]}" capture-pane -p -t "$1" 2>/dev/null; }

# wait_for NAME PATTERN [SECONDS]: polls the pane until grep -E finds PATTERN.
wait_for() {
    local name=$1 pattern=$2 limit=${3:-20}
    local deadline=$((SECONDS + limit))
    while [ $SECONDS -lt $deadline ]; do
        screen_of "$name" | grep -Eq -- "$pattern" && return 0
        sleep 0.2
    done
    return 1
}

exit_status() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        if [ -s "$WORK/$1.exit" ]; then
            sed -n 's/^EXIT=//p' "$WORK/$1.exit"
            return
        fi
        sleep 0.2
    done
    echo none
}

# Files of DIR as "name size" lines, and a copy of each to compare with later.
keep_earlier() {
    rm -rf "$WORK/earlier" && mkdir "$WORK/earlier"
    cp -p "$1"/hstprof-snapshot-* "$WORK/earlier/"
}

earlier_unchanged() {
    local f
    for f in "$WORK/earlier"/*; do
        cmp -s "$f" "$1/$(basename "$f")" || return 1
    done
    return 0
}

# snapshot_fails NAME DIR CAUSE: s on a full disk, and what must follow.
snapshot_fails() {
    local name=$1 cwd=$2 cause=$3
    local before
    before=$(ls "$cwd" | grep -c '^hstprof-snapshot-')
    "${TMUX_CMD[@]}" send-keys -t "$name" s
    local line="snapshot failed: [^ ]*hstprof-snapshot-[^ ]*: cannot write: $cause"
    wait_for "$name" "$line" 10
    check "$name: s shows one line naming the file and '$cause' ($(screen_of "$name" | grep -o 'snapshot failed.*' | head -c 150))" \
        $(screen_of "$name" | grep -Eq -- "$line"; echo $?)
    check "$name: the earlier snapshot is byte-identical" $(earlier_unchanged "$cwd"; echo $?)
    check "$name: no new snapshot file" $([ "$(ls "$cwd" | grep -c '^hstprof-snapshot-')" -eq "$before" ]; echo $?)
    check "$name: no temporary file left" $([ -z "$(find "$cwd" -name '*.tmp.*')" ]; echo $?)
    "${TMUX_CMD[@]}" send-keys -t "$name" Space
    wait_for "$name" "state PAUSED" 10
    "${TMUX_CMD[@]}" send-keys -t "$name" Space
    check "$name: the dashboard keeps running (pauses and resumes)" \
        $(wait_for "$name" "state RUNNING" 10; echo $?)
}

quits_cleanly() {
    local name=$1 status
    "${TMUX_CMD[@]}" send-keys -t "$name" q
    status=$(exit_status "$name")
    check "$name: q quits with exit status 0 (got $status)" $([ "$status" = 0 ]; echo $?)
    check "$name: terminal restored" \
        $(wait_for "$name" "SHELL-IS-BACK" 5 &&
            [ "$("${TMUX_CMD[@]}" display-message -p -t "$name" '#{alternate_on}')" = 0 ]
        echo $?)
}

can_mount=""
if [ "$(id -u)" -ne 0 ]; then
    echo "skip the full tmpfs: not root (mounting one needs root); the file-size limit still runs"
else
    mkdir -p "$WORK/probe-mount"
    if mount -t tmpfs -o size=256k tmpfs "$WORK/probe-mount" 2>"$WORK/mount-err"; then
        umount "$WORK/probe-mount"
        can_mount=1
    else
        echo "skip the full tmpfs: mount failed: $(head -n 1 "$WORK/mount-err")"
    fi
fi

n=0
for bin in "$(realpath "${HSTPROF:-./hstprof}")" ${HSTPROF_ASAN:+"$(realpath "$HSTPROF_ASAN")"}; do
    n=$((n + 1))
    echo "-- $bin"
    # A file-size limit: an earlier snapshot (any content) sits in the directory.
    dir="$WORK/limit-$n"
    mkdir -p "$dir"
    for ext in md csv json; do echo "an earlier snapshot" >"$dir/hstprof-snapshot-20240101-000000.$ext"; done
    keep_earlier "$dir"
    start "limit-$n" "$dir" 0
    check "limit-$n: the dashboard is up" $(wait_for "limit-$n" "state RUNNING" 30; echo $?)
    snapshot_fails "limit-$n" "$dir" "File too large"
    quits_cleanly "limit-$n"

    [ -n "$can_mount" ] || continue
    # A tmpfs that fills up while the dashboard runs.
    dir="$WORK/tmpfs-$n"
    mkdir -p "$dir"
    mount -t tmpfs -o size=256k tmpfs "$dir" && mnt=$dir
    start "tmpfs-$n" "$dir" unlimited
    check "tmpfs-$n: the dashboard is up" $(wait_for "tmpfs-$n" "state RUNNING" 30; echo $?)
    "${TMUX_CMD[@]}" send-keys -t "tmpfs-$n" s
    check "tmpfs-$n: with room, s writes a snapshot" $(wait_for "tmpfs-$n" "snapshot: [^ ]*hstprof-snapshot-" 10; echo $?)
    keep_earlier "$dir"
    dd if=/dev/zero of="$dir/filler" bs=64k 2>/dev/null
    snapshot_fails "tmpfs-$n" "$dir" "No space left on device"
    rm -f "$dir/filler"
    "${TMUX_CMD[@]}" send-keys -t "tmpfs-$n" s
    check "tmpfs-$n: with room again, s writes a snapshot" \
        $(wait_for "tmpfs-$n" "snapshot: [^ ]*hstprof-snapshot-" 10 &&
            [ "$(ls "$dir" | grep -c '^hstprof-snapshot-.*\.json$')" -eq 2 ]
        echo $?)
    quits_cleanly "tmpfs-$n"
    unmount "$dir" && mnt=""
done
exit $failed
