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
. "$(dirname "$0")/lib/e2e.sh"
. "$SRC/tests/lib/tmux.sh"
. "$SRC/tests/lib/full_disk.sh"
# A snapshot is several files (Markdown, CSV, JSON, two plots and the shown
# segment's trace, up to a few MiB): room for one, then filled.
TMPFS_SIZE=16m

# start NAME DIR LIMIT: the dashboard in DIR (its snapshot directory) under
# `ulimit -f LIMIT`; afterwards the wrapper records the exit status (outside
# DIR) and shows a marker line. Only hstprof works in DIR, so that nothing
# holds a tmpfs there once it quits.
start() {
    local name=$1 cwd=$2 limit=$3
    tmux_start "$name" TERM=xterm-256color "XDG_CACHE_HOME=$WORK/cache" -- \
        "(cd \"$cwd\" && ulimit -f $limit && exec \"$bin\" dashboard --threads 1 --no-ceilings --no-counters)"
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
    check "$name: terminal restored" $(terminal_restored "$name"; echo $?)
}

can_mount=""
tmpfs_usable && can_mount=1

n=0
for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
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
    tmpfs_mount "$dir"
    start "tmpfs-$n" "$dir" unlimited
    check "tmpfs-$n: the dashboard is up" $(wait_for "tmpfs-$n" "state RUNNING" 30; echo $?)
    "${TMUX_CMD[@]}" send-keys -t "tmpfs-$n" s
    check "tmpfs-$n: with room, s writes a snapshot" $(wait_for "tmpfs-$n" "snapshot: [^ ]*hstprof-snapshot-" 10; echo $?)
    keep_earlier "$dir"
    fill "$dir"
    snapshot_fails "tmpfs-$n" "$dir" "No space left on device"
    rm -f "$dir/filler"
    "${TMUX_CMD[@]}" send-keys -t "tmpfs-$n" s
    check "tmpfs-$n: with room again, s writes a snapshot" \
        $(wait_for "tmpfs-$n" "snapshot: [^ ]*hstprof-snapshot-" 10 &&
            [ "$(ls "$dir" | grep -c '^hstprof-snapshot-[0-9-]*\.json$')" -eq 2 ]
        echo $?)
    quits_cleanly "tmpfs-$n"
    tmpfs_unmount "$dir"
done
e2e_finish
