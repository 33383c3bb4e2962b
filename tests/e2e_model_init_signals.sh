#!/usr/bin/env bash
# e2e_model_init_signals.sh — `hstprof model init -o FILE` stopped by a
# signal while it writes its 67 MB (hst-v6.1): SIGINT, SIGTERM and SIGHUP
# stop it between tensors (exit 128 + signal, one line on stderr), SIGKILL
# cannot be handled at all. Either way the earlier FILE is byte-identical
# (or, if the signal came after the last byte, FILE is the complete new
# model), never partial, and no temporary is left: the data go to an
# anonymous O_TMPFILE file until they are complete. Each signal a few times,
# at different moments of the write. Run by run_all.sh with HSTPROF (and
# HSTPROF_ASAN); one line per check; exit status 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

work="$WORK/work"
mkdir -p "$work"
"$HSTPROF" model init --preset hst-v3 -o "$WORK/old.safetensors" >/dev/null
"$HSTPROF" model init --preset hst-v6.1 -o "$WORK/new.safetensors" >/dev/null
check "the earlier model and the complete new one are made" \
    $([ -s "$WORK/old.safetensors" ] && [ -s "$WORK/new.safetensors" ]; echo $?)
target="$work/model.safetensors"

# Polls (bounded) until the process holds a file open in $work: it is writing.
wait_until_writing() {
    local pid=$1
    for _ in $(seq 3000); do
        ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "$work/" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
    done
    return 1
}

# interrupt SIG STATUS DELAY: one attempt; sets mid_write=1 when the signal
# stopped the write (the expected status and FILE as it was).
interrupt() {
    local sig=$1 want=$2 delay=$3 label="$1 after ${3}s"
    cp "$WORK/old.safetensors" "$target"
    "$bin" model init --preset hst-v6.1 -o "$target" >/dev/null 2>"$WORK/err" &
    local pid=$!
    local writing=no
    wait_until_writing "$pid" && writing=yes
    sleep "$delay"
    kill -s "$sig" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # (no "Killed" from the shell)
    local status=$?
    # 0: the signal came after the process had finished.
    check "$label: exits $want (or 0, finished first) (got $status, caught writing: $writing)" \
        $([ "$status" -eq "$want" ] || [ "$status" -eq 0 ]; echo $?)
    if [ "$sig" != KILL ] && [ "$status" -eq "$want" ]; then
        check "$label: one line: interrupted by SIG$sig ($(head -c 160 "$WORK/err"))" \
            $([ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "^hstprof model init: interrupted by SIG$sig" "$WORK/err"; echo $?)
    fi
    local state=partial
    if cmp -s "$target" "$WORK/old.safetensors"; then
        state=earlier
    elif cmp -s "$target" "$WORK/new.safetensors"; then
        state=complete
    fi
    check "$label: FILE is the earlier one or the complete new one (it is: $state)" \
        $([ "$state" != partial ]; echo $?)
    check "$label: nothing else in the directory ($(ls "$work" | tr '\n' ' '))" \
        $([ "$(ls -A "$work")" = "model.safetensors" ]; echo $?)
    if [ "$status" -eq "$want" ] && [ "$state" = earlier ]; then mid_write=1; fi
}

for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    for pair in INT:130 TERM:143 HUP:129 KILL:137; do
        sig=${pair%:*}
        mid_write=0
        for delay in 0 0.01 0.03 0.1; do
            interrupt "$sig" "${pair#*:}" "$delay"
        done
        check "SIG$sig stopped at least one write part way, leaving FILE as it was" $([ $mid_write -eq 1 ]; echo $?)
    done
done
e2e_finish
