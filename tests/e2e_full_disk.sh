#!/usr/bin/env bash
# e2e_full_disk.sh — every writer of hstprof on a full disk (issue 7, faults):
# run --export (md, csv, json), run --log (rewriting an existing
# BENCHMARKS.md), run --trace, run --dump-logits, all of them at once,
# bench -o, layerbench -o, model init -o and the ceilings cache. Each must
# exit 1 with one line on stderr naming the file and the cause, leave every
# earlier file byte-identical, and leave no temporary behind.
#
# The full disk two ways: a file-size limit (`ulimit -f`; "File too large"),
# which needs no privilege, and, when root, a small tmpfs filled up first
# ("No space left on device"). Through both binaries (HSTPROF, HSTPROF_ASAN).
# One line per check; exit status 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"
. "$SRC/tests/lib/full_disk.sh"

# refused LABEL LIMIT CAUSE TARGETS COMMAND...: runs COMMAND under
# `ulimit -f LIMIT` (KiB, or unlimited) and checks what a failed export must
# do. TARGETS: the files it writes, comma-separated; the message names one.
# stderr goes through a pipe, which no file-size limit applies to.
refused() {
    local label=$1 limit=$2 cause=$3 targets=$4
    shift 4
    local t list saved="$WORK/saved"
    IFS=, read -ra list <<<"$targets"
    rm -rf "$saved" && mkdir "$saved"
    for t in "${list[@]}"; do
        if [ -e "$t" ]; then cp -p "$t" "$saved/$(basename "$t")"; fi
    done
    (ulimit -f "$limit" && exec "$@" 2>&1 >/dev/null) | cat >"$WORK/err"
    local status=${PIPESTATUS[0]}
    check "$label: exits 1 (got $status)" $([ "$status" -eq 1 ]; echo $?)
    local named=1
    for t in "${list[@]}"; do grep -qF "$t: cannot write: $cause" "$WORK/err" && named=0; done
    check "$label: one line naming the file and '$cause' ($(head -c 200 "$WORK/err"))" \
        $([ "$(wc -l <"$WORK/err")" -eq 1 ] && [ $named -eq 0 ]; echo $?)
    local same=0
    for t in "${list[@]}"; do
        if [ -e "$saved/$(basename "$t")" ]; then
            cmp -s "$t" "$saved/$(basename "$t")" || same=1
        elif [ -e "$t" ]; then
            same=1
        fi
    done
    check "$label: every earlier file byte-identical, no new one" $same
    check "$label: no temporary file left" $([ -z "$(find "$work" -name '*.tmp.*')" ]; echo $?)
}

# The ceilings cache, measured once: its file name is this machine's key.
XDG_CACHE_HOME="$WORK/cache-seed" "$HSTPROF" ceilings --threads 1 >/dev/null 2>&1
cache_name=$(cd "$WORK/cache-seed/hstprof" 2>/dev/null && ls ceilings-*.json | head -n 1)
check "the ceilings cache is measured to start from ($cache_name)" $([ -n "$cache_name" ]; echo $?)

# earlier_files DIR: the files a user had before the disk filled up: a real
# report, log and trace, a ceilings cache, and stand-ins for the rest.
earlier_files() {
    local w=$1
    mkdir -p "$w/cache"
    cp -r "$WORK/cache-seed/hstprof" "$w/cache/"
    XDG_CACHE_HOME="$w/cache" "$bin" run -n 4 --threads 1 --export "$w/run.md" --log "$w/BENCHMARKS.md" \
        --title earlier --trace "$w/trace.csv" >/dev/null 2>&1
    for f in run.csv run.json logits.bin bench.md layerbench.md model.safetensors; do
        echo "an earlier $f" >"$w/$f"
    done
}

# every_writer SMALL CAUSE: each writer, with the file-size limit SMALL (KiB)
# where a limit is used ("unlimited" on the full tmpfs), must fail with CAUSE.
every_writer() {
    local small=$1 zero=$1 big=$1 cause=$2
    if [ "$small" != unlimited ]; then zero=0; big=64; fi
    export XDG_CACHE_HOME="$work/cache"
    local run=("$bin" run -n 4 --threads 1)
    refused "run --export md" "$small" "$cause" "$work/run.md" "${run[@]}" --export "$work/run.md"
    refused "run --export csv" "$small" "$cause" "$work/run.csv" "${run[@]}" --export "$work/run.csv"
    refused "run --export json" "$small" "$cause" "$work/run.json" "${run[@]}" --export "$work/run.json"
    refused "run --log BENCHMARKS.md (rewrite)" "$small" "$cause" "$work/BENCHMARKS.md" \
        "${run[@]}" --log "$work/BENCHMARKS.md" --title later
    refused "run --trace" "$zero" "$cause" "$work/trace.csv" "${run[@]}" --trace "$work/trace.csv"
    refused "run --export --log --trace at once" "$small" "$cause" \
        "$work/run.md,$work/BENCHMARKS.md,$work/trace.csv" "${run[@]}" --export "$work/run.md" \
        --log "$work/BENCHMARKS.md" --title later --trace "$work/trace.csv"
    refused "run --export md, csv and json at once" "$small" "$cause" "$work/run.md,$work/run.csv,$work/run.json" \
        "${run[@]}" --export "$work/run.md" --export "$work/run.csv" --export "$work/run.json"
    refused "run --dump-logits" "$small" "$cause" "$work/logits.bin" "${run[@]}" --dump-logits "$work/logits.bin"
    refused "bench -o" "$small" "$cause" "$work/bench.md" \
        "$bin" bench --seq 16 --runs 1 --warmup 0 --threads 1 -o "$work/bench.md"
    refused "layerbench -o" "$small" "$cause" "$work/layerbench.md" \
        "$bin" layerbench --seq 16 --runs 1 --warmup 0 -o "$work/layerbench.md"
    refused "model init -o" "$big" "$cause" "$work/model.safetensors" \
        "$bin" model init --preset hst-v4 -o "$work/model.safetensors"
    refused "ceilings (its cache)" "$zero" "$cause" "$work/cache/hstprof/$cache_name" \
        "$bin" ceilings --threads 1
    unset XDG_CACHE_HOME
}

can_mount=""
tmpfs_usable && can_mount=1

n=0
for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin: a file-size limit (ulimit -f)"
    n=$((n + 1))
    work="$WORK/limit-$n"
    mkdir -p "$work"
    earlier_files "$work"
    every_writer 1 "File too large"

    [ -n "$can_mount" ] || continue
    echo "-- $bin: a full tmpfs"
    work="$WORK/tmpfs-$n"
    mkdir -p "$work"
    tmpfs_mount "$work"
    earlier_files "$work"
    # Two pages free: the report (6 KiB) fits, a file after it (its plots or the
    # log) does not, so the report, written first, must not have replaced run.md either.
    fill "$work" 8192
    refused "tmpfs, one page short: run --export --log" unlimited "No space left on device" \
        "$work/run.md,$work/run-latency.svg,$work/run-throughput.svg,$work/BENCHMARKS.md" "$bin" run -n 4 --threads 1 \
        --export "$work/run.md" --log "$work/BENCHMARKS.md" --title later
    check "tmpfs: the report fitted, a later file did not" \
        $(grep -q "cannot write" "$WORK/err" && ! grep -q "run.md: cannot write" "$WORK/err"; echo $?)
    # The same with three exports: the Markdown (6 KiB) fits, a file after it does not.
    refused "tmpfs, one page short: run --export md --export csv --export json" unlimited "No space left on device" \
        "$work/run.md,$work/run-latency.svg,$work/run-throughput.svg,$work/run.csv,$work/run.json" "$bin" run -n 4 \
        --threads 1 --export "$work/run.md" --export "$work/run.csv" --export "$work/run.json"
    check "tmpfs: the Markdown export fitted, a later file did not" \
        $(grep -q "cannot write" "$WORK/err" && ! grep -q "run.md: cannot write" "$WORK/err"; echo $?)
    fill "$work"
    check "tmpfs: the filesystem is full" $([ "$(df --output=avail "$work" | tail -n 1)" -eq 0 ]; echo $?)
    every_writer unlimited "No space left on device"
    # Room again: the same run writes everything.
    rm -f "$work/filler"
    XDG_CACHE_HOME="$work/cache" "$bin" run -n 4 --threads 1 --export "$work/run.md" \
        --log "$work/BENCHMARKS.md" --title later >/dev/null 2>&1
    check "tmpfs: with room again the log gets its second entry" \
        $([ "$(grep -c '^### ' "$work/BENCHMARKS.md")" -eq 2 ]; echo $?)
    tmpfs_unmount "$work"
done
e2e_finish
