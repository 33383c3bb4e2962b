#!/usr/bin/env bash
# tests/bench_contend.sh — the engine on 1 and 2 threads while one other
# CPU-bound process runs (a busy shell loop this script starts and stops),
# and the same without it: prefill and decode tokens/s, medians of
# interleaved runs, the 2-thread/1-thread ratio and how the pool used its
# threads (run's "thread_contention"). A benchmark, not a test: it prints
# figures and exits 0 whatever they are (run by `make bench`).
#
#   ROUNDS=7 MODEL=hst-v4 PRECISION=f32 PROMPT=256 TOKENS=256 tests/bench_contend.sh
#
# On a machine with as many PUs as engine threads the competitor takes one
# of them: two threads then share one PU with it unless the pool notices.
set -u
HSTPROF=$(realpath "${HSTPROF:-./hstprof}")
ROUNDS=${ROUNDS:-7}
MODEL=${MODEL:-hst-v4}
PRECISION=${PRECISION:-f32}
PROMPT=${PROMPT:-256}
TOKENS=${TOKENS:-256}

WORK=$(mktemp -d)
HOG=
cleanup() {
    if [ -n "$HOG" ]; then kill "$HOG" 2>/dev/null; wait "$HOG" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache" XDG_CONFIG_HOME="$WORK/config"
mkdir -p "$HOME"
cd "$WORK" || exit 1

ids=$(seq 0 $((PROMPT - 1)) | awk '{printf "%s%d", (NR > 1 ? "," : ""), ($1 * 37) % 256}')

# One run: "prefill_tok_per_s decode_tok_per_s share_on_one_thread". The
# JSON goes to a file and is read after the run: a reader started beside it
# (python's start-up) would be a competitor in the "quiet" condition.
run_once() {
    "$HSTPROF" run -m "$MODEL" --precision "$PRECISION" -t "$1" --prompt-tokens "$ids" -n "$TOKENS" \
        --no-probes --format json >"$WORK/run.json" 2>/dev/null || return 1
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
c = d.get("thread_contention", {}).get("share_on_one_thread")
print(d["prefill_tok_per_s"], d["decode_tok_per_s"], 0 if c is None else c)' "$WORK/run.json"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : "nan")}'; }

# Interleaves 1- and 2-thread runs; prints the table rows for one condition.
measure() {
    local label=$1 r t
    : >"$WORK/t1" && : >"$WORK/t2"
    for r in $(seq "$ROUNDS"); do
        for t in 1 2; do run_once "$t" >>"$WORK/t$t" || echo "nan nan 0" >>"$WORK/t$t"; done
    done
    local p1 p2 d1 d2 s2
    p1=$(cut -d' ' -f1 "$WORK/t1" | median); p2=$(cut -d' ' -f1 "$WORK/t2" | median)
    d1=$(cut -d' ' -f2 "$WORK/t1" | median); d2=$(cut -d' ' -f2 "$WORK/t2" | median)
    s2=$(cut -d' ' -f3 "$WORK/t2" | median)
    awk -v l="$label" -v p1="$p1" -v p2="$p2" -v d1="$d1" -v d2="$d2" -v s2="$s2" 'BEGIN {
        printf "| %-16s | prefill | %10.0f | %10.0f | %5.2fx | %s |\n", l, p1, p2, p2 / p1, (p2 >= 0.9 * p1 ? "ok" : "SLOWER")
        printf "| %-16s | decode  | %10.0f | %10.0f | %5.2fx | %s |\n", l, d1, d2, d2 / d1, (d2 >= 0.9 * d1 ? "ok" : "SLOWER")
        printf "| %-16s | 2 threads: %.0f%% of the jobs on one thread (median) |\n", l, 100 * s2 }'
}

echo "# $MODEL $PRECISION, prompt $PROMPT, $TOKENS tokens, $ROUNDS interleaved rounds, $(nproc) PUs"
echo
echo "| condition        | phase   | 1 thread/s | 2 threads/s | 2T/1T | within 10% |"
echo "|------------------|---------|------------|-------------|-------|------------|"
measure "quiet"
# The competitor: a CPU-bound loop, bounded in time so it stops by itself.
timeout 3600 sh -c 'while :; do :; done' &
HOG=$!
measure "1 competitor"
exit 0
