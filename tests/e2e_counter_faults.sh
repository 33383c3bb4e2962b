#!/usr/bin/env bash
# e2e_counter_faults.sh — the dashboard reopening its counters at the fd
# limit (issue 7, point 4), for real under tmux: started with `ulimit -n` as
# low as the dashboard can run with (its 4 software counters just fit on 1
# thread), + to 2 threads reopens them beside the old set, and perf_event_open
# meets EMFILE. The counters panel must say "too many open files (EMFILE)",
# generation must go on, and q must still exit 0. (`hstprof run` with faults
# and at the fd limit: tests/test_counter_faults.c.) One line per check;
# exit 0 when every check passed. HSTPROF and HSTPROF_ASAN name the binaries.
set -u
. "$(dirname "$0")/lib/e2e.sh"
. "$SRC/tests/lib/tmux.sh"

# with_fd_limit LIMIT CMD...: CMD with only fds 0-2 open and RLIMIT_NOFILE at LIMIT.
with_fd_limit() {
    local limit=$1; shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done
        ulimit -n "$limit" && exec "$@"
    )
}

# The lowest limit at which the dashboard runs on 1 thread with its software
# counters counting; 0 when none up to 40. Each try prints the dashboard once
# its counters cover 20 decode tokens (120 s only bound a hang).
lowest_limit() {
    local bin=$1 limit
    for limit in $(seq 6 40); do
        with_fd_limit "$limit" "$bin" dashboard --threads 1 --no-ceilings --size 140x45 \
            --screen-dump 120 --screen-dump-when tokens=20 >"$WORK/dump" 2>/dev/null </dev/null || continue
        if grep -Eq '^task-clock +[0-9]' "$WORK/dump" && ! grep -q 'too many open files' "$WORK/dump"; then
            echo "$limit"
            return
        fi
    done
    echo 0
}

# The decode tokens of the shown segment, from the Throughput panel's title.
tokens_of() { screen_of "$1" | sed -n 's/.* \([0-9][0-9]*\) decode tokens .*/\1/p' | head -n 1; }

# start NAME LIMIT BIN: the dashboard on 1 thread (in a 140x45 session) with
# that fd limit; the exit status goes to $WORK/NAME.exit.
start() {
    local name=$1 limit=$2 bin=$3
    tmux_start "$name" -- "(ulimit -n $limit && exec \"$bin\" dashboard --threads 1 --oversubscribe --no-ceilings)"
}

n=0
for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    bin=$(realpath "$bin")
    n=$((n + 1))
    echo "-- $bin"
    limit=$(lowest_limit "$bin")
    check "the dashboard runs with its 4 software counters under some ulimit -n (lowest: $limit)" \
        $([ "$limit" -gt 0 ]; echo $?)
    [ "$limit" -gt 0 ] || continue
    # The interactive dashboard may need an fd or two more than --screen-dump;
    # a few spare fds still leave the reopen (8 fds beside the old 4) short.
    name=""
    for try in 0 1 2 3; do
        name="d$n-$try"
        start "$name" $((limit + try)) "$bin"
        wait_for "$name" '^task-clock +[0-9]' 20 && break
        "${TMUX_CMD[@]}" kill-session -t "$name" 2>/dev/null
        name=""
    done
    check "1 thread: the software counters count" $([ -n "$name" ]; echo $?)
    [ -n "$name" ] || continue
    "${TMUX_CMD[@]}" send-keys -t "$name" +
    check "+ changes to 2 threads" $(wait_for "$name" "threads 2/" 15; echo $?)
    check "the reopened counters say too many open files (EMFILE)" \
        $(wait_for "$name" '^task-clock +(on thread [0-9]+: )?too many open files \(EMFILE\)' 20; echo $?)
    before=$(tokens_of "$name")
    after=$before
    for _ in $(seq 100); do # until the count moves; 20 s only bound a hang
        after=$(tokens_of "$name")
        [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] && break
        sleep 0.2
    done
    check "generation goes on after the failed reopen (decode tokens $before -> $after)" \
        $([ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; echo $?)
    check "state is RUNNING" $(wait_for "$name" "state RUNNING" 5; echo $?)
    "${TMUX_CMD[@]}" send-keys -t "$name" q
    status=$(exit_status "$name")
    check "q exits 0 (got $status)" $([ "$status" = 0 ]; echo $?)
done
e2e_finish
