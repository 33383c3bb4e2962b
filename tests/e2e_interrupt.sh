#!/usr/bin/env bash
# SIGINT, SIGTERM and SIGHUP during `hstprof bench -o FILE` and `hstprof run`
# with its exports: the command stops at the next run or token boundary and
# exits 128 + signal with one line on stderr. bench, and run on SIGTERM or
# SIGHUP, leave neither a report nor a temporary file behind, and an earlier
# log stays as it was; run on SIGINT (Ctrl-C) prints and exports the
# statistics so far, marked "interrupted after N s". Run by run_all.sh with
# HSTPROF set; prints one line per check; exit status 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

# Until the process has used 0.2 s of CPU: the model is built and the engine
# computing (a bound of 5 s only stops a hang).
wait_busy() { # pid
    for _ in $(seq 100); do
        [ "$(awk '{print $14}' "/proc/$1/stat" 2>/dev/null || echo 0)" -gt 20 ] && break
        sleep 0.05
    done
}

interrupt_bench() { # signal name, expected status
    local sig=$1 want=$2 out="$WORK/bench-$1.md"
    # Long enough to still be running when the signal arrives (seconds, not ms).
    "$bin" bench --seq 512 --warmup 0 --runs 100000 --threads 1 -o "$out" 2>"$WORK/err-$sig" &
    local pid=$!
    wait_busy "$pid"
    kill -s "$sig" "$pid"
    wait "$pid"
    local status=$?
    check "bench: $sig exits $want (got $status)" $([ "$status" -eq "$want" ]; echo $?)
    check "bench: $sig prints one line naming it" \
        $([ "$(wc -l <"$WORK/err-$sig")" -eq 1 ] && grep -q "interrupted by SIG$sig" "$WORK/err-$sig"; echo $?)
    check "bench: $sig leaves no report" $([ ! -e "$out" ]; echo $?)
    check "bench: $sig leaves no temporary file" $([ -z "$(ls "$WORK" | grep '\.tmp\.')" ]; echo $?)
}

# Starts a soak run with an export and a log, signals it once it generates,
# and waits; $status is its exit status.
signal_run() { # signal name
    local sig=$1
    printf 'earlier entries\n' >"$WORK/LOG.md"
    rm -f "$WORK/run-$sig.md" "$WORK/run-$sig.json"
    "$bin" run --duration 60 --threads 1 --format json --export "$WORK/run-$sig.md" --log "$WORK/LOG.md" --title t \
        >"$WORK/out-run-$sig" 2>"$WORK/err-run-$sig" &
    local pid=$!
    wait_busy "$pid"
    kill -s "$sig" "$pid"
    wait "$pid"
    status=$?
}

interrupt_run() { # signal name, expected status: nothing written
    local sig=$1 want=$2
    signal_run "$sig"
    check "run: $sig exits $want (got $status)" $([ "$status" -eq "$want" ]; echo $?)
    check "run: $sig prints one line naming it" \
        $([ "$(wc -l <"$WORK/err-run-$sig")" -eq 1 ] && grep -q "interrupted by SIG$sig" "$WORK/err-run-$sig"; echo $?)
    check "run: $sig leaves no export" $([ ! -e "$WORK/run-$sig.md" ]; echo $?)
    check "run: $sig prints no summary" $([ ! -s "$WORK/out-run-$sig" ]; echo $?)
    check "run: $sig leaves the log as it was" $([ "$(cat "$WORK/LOG.md")" = "earlier entries" ]; echo $?)
    check "run: $sig leaves no temporary file" $([ -z "$(ls "$WORK" | grep '\.tmp\.')" ]; echo $?)
}

# Ctrl-C keeps the statistics so far: summary, export and log entry, each
# marked, then exit 130.
interrupt_run_keeps() {
    signal_run INT
    check "run: INT exits 130 (got $status)" $([ "$status" -eq 130 ]; echo $?)
    check "run: INT prints one line saying what was kept" \
        $([ "$(wc -l <"$WORK/err-run-INT")" -eq 1 ] &&
            grep -q "interrupted by SIGINT after [0-9.]* s; the statistics so far are printed and exported" \
                "$WORK/err-run-INT"; echo $?)
    check "run: INT prints the JSON summary, marked" \
        $(grep -q '"interrupted": true' "$WORK/out-run-INT" && grep -q '"interrupted_after_s"' "$WORK/out-run-INT" &&
            grep -q '"decode_tok_per_s": [0-9]' "$WORK/out-run-INT"; echo $?)
    check "run: INT writes the export, marked" \
        $(grep -q '^\*\*Interrupted after [0-9.]* s\*\*' "$WORK/run-INT.md"; echo $?)
    check "run: INT appends the log entry, marked" \
        $([ "$(head -n 1 "$WORK/LOG.md")" = "earlier entries" ] && grep -q '^\*\*Interrupted after' "$WORK/LOG.md"; echo $?)
    check "run: INT leaves no temporary file" $([ -z "$(ls "$WORK" | grep '\.tmp\.')" ]; echo $?)
}

# The release binary, then the ASan+UBSan one when run_all.sh provides it.
for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    interrupt_bench INT 130
    interrupt_bench TERM 143
    interrupt_bench HUP 129
    interrupt_run_keeps
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
