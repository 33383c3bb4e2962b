#!/usr/bin/env bash
# SIGINT, SIGTERM and SIGHUP during `hstprof bench -o FILE` and `hstprof run`
# with its exports: the command stops at the next run or token boundary,
# exits 128 + signal with one line on stderr, and leaves neither a report nor
# a temporary file behind; an earlier log stays as it was. Run by run_all.sh with
# HSTPROF set; prints one line per check; exit status 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

interrupt_bench() { # signal name, expected status
    local sig=$1 want=$2 out="$WORK/bench-$1.md"
    # Long enough to still be running when the signal arrives (seconds, not ms).
    "$bin" bench --seq 512 --warmup 0 --runs 100000 --threads 1 -o "$out" 2>"$WORK/err-$sig" &
    local pid=$!
    # Wait until the engine is measuring: its first run needs the model built.
    for _ in $(seq 100); do
        [ "$(awk '{print $14}' /proc/$pid/stat 2>/dev/null || echo 0)" -gt 20 ] && break
        sleep 0.05
    done
    kill -s "$sig" "$pid"
    wait "$pid"
    local status=$?
    check "bench: $sig exits $want (got $status)" $([ "$status" -eq "$want" ]; echo $?)
    check "bench: $sig prints one line naming it" \
        $([ "$(wc -l <"$WORK/err-$sig")" -eq 1 ] && grep -q "interrupted by SIG$sig" "$WORK/err-$sig"; echo $?)
    check "bench: $sig leaves no report" $([ ! -e "$out" ]; echo $?)
    check "bench: $sig leaves no temporary file" $([ -z "$(ls "$WORK" | grep '\.tmp\.')" ]; echo $?)
}

interrupt_run() { # signal name, expected status
    local sig=$1 want=$2
    printf 'earlier entries\n' >"$WORK/LOG.md"
    "$bin" run --duration 60 --threads 1 -q --export "$WORK/run-$sig.md" --log "$WORK/LOG.md" --title t \
        2>"$WORK/err-run-$sig" &
    local pid=$!
    sleep 1
    kill -s "$sig" "$pid"
    wait "$pid"
    local status=$?
    check "run: $sig exits $want (got $status)" $([ "$status" -eq "$want" ]; echo $?)
    check "run: $sig prints one line naming it" \
        $([ "$(wc -l <"$WORK/err-run-$sig")" -eq 1 ] && grep -q "interrupted by SIG$sig" "$WORK/err-run-$sig"; echo $?)
    check "run: $sig leaves no export" $([ ! -e "$WORK/run-$sig.md" ]; echo $?)
    check "run: $sig leaves the log as it was" $([ "$(cat "$WORK/LOG.md")" = "earlier entries" ]; echo $?)
    check "run: $sig leaves no temporary file" $([ -z "$(ls "$WORK" | grep '\.tmp\.')" ]; echo $?)
}

# The release binary, then the ASan+UBSan one when run_all.sh provides it.
for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    interrupt_bench INT 130
    interrupt_bench TERM 143
    interrupt_bench HUP 129
    interrupt_run INT 130
    interrupt_run TERM 143
    interrupt_run HUP 129
    # Under nohup (SIGHUP ignored at start) a hangup does not stop a soak run; SIGTERM still does.
    (trap '' HUP; exec "$bin" run --duration 60 --threads 1 -q) 2>"$WORK/err-nohup" &
    pid=$!
    sleep 1
    kill -s HUP "$pid"
    sleep 0.5
    check "run: SIGHUP ignored under nohup" $(kill -0 "$pid" 2>/dev/null; echo $?)
    kill -s TERM "$pid"
    wait "$pid"
    status=$?
    check "run: then SIGTERM exits 143 (got $status)" $([ "$status" -eq 143 ]; echo $?)
    # A report that was finished is whole: a short bench completes normally.
    rm -f "$WORK/done.md"
    "$bin" bench --seq 16 --warmup 0 --runs 2 -o "$WORK/done.md" 2>/dev/null
    check "a finished bench report is complete" $(grep -q '## Model Details' "$WORK/done.md"; echo $?)
done
e2e_finish
