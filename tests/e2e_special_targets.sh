#!/usr/bin/env bash
# Every writer of the real binary (release, then ASan+UBSan) on targets that
# are not regular files, all private nodes in $WORK (never a system path):
# a character device (made with mknod when root) and a FIFO are written as
# streams and stay what they are; "-" is standard output; a symbolic link is
# followed and the file it names gets the data (the link stays a link); a
# FIFO nobody reads fails at once; a socket or a directory is refused before
# any work (exit 2, one line). Run by run_all.sh with HSTPROF set; one
# "ok"/"FAIL" line per check; exit 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

n="$WORK/nodes"
mkdir -p "$n"
have_device=0
if mknod -m 666 "$n/null" c 1 3 2>/dev/null; then have_device=1; else echo "skip character-device cases: mknod needs root"; fi
mkfifo "$n/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$n/sock" 2>/dev/null ||
    echo "skip socket cases: cannot bind a unix socket here"

kind() { stat -c %F "$1" 2>/dev/null || echo missing; }
no_temporaries() { [ -z "$(find "$WORK" -name '*.tmp.*')" ]; }

# run_case NAME WANT_STATUS CMD...: runs CMD (bounded by timeout: a write
# that blocks fails the check instead of the script), $status and $WORK/err set.
run_case() {
    local name=$1 want=$2
    shift 2
    timeout 60 "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
    status=$?
    if grep -qE 'Sanitizer|runtime error:' "$WORK/err"; then
        fail "$name: sanitizer report: $(head -c 300 "$WORK/err")"
        return 1
    fi
    if [ "$status" -ne "$want" ]; then
        fail "$name: exit $status (want $want): $(head -c 300 "$WORK/err")"
        return 1
    fi
    return 0
}

device_cases() {
    [ "$have_device" -eq 1 ] || return
    local w
    for w in "model init --preset hst-v4 -o $n/null" "run -n 4 -q --export $n/null --export-format md" \
        "run -n 4 -q --trace $n/null" "run -n 4 -q --prompt-tokens 1,2 --dump-logits $n/null" \
        "run -n 4 -q --log $n/null --title t" "bench --seq 8 --runs 1 --warmup 0 -o $n/null"; do
        # shellcheck disable=SC2086 # w is words on purpose
        if run_case "$b $w" 0 "$bin" $w; then
            check "$b $w: the device stays a character device" $([ "$(kind "$n/null")" = "character special file" ]; echo $?)
        fi
    done
}

fifo_cases() {
    # Nobody reads: one line at once, the FIFO stays.
    if run_case "$b run --log FIFO without a reader" 1 "$bin" run -n 4 -q --log "$n/fifo" --title x; then
        check "$b run --log FIFO without a reader: one line saying so" \
            $([ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "no process is reading this FIFO" "$WORK/err"; echo $?)
    fi
    # A reader: the log entry arrives whole (a stream gets the entry alone).
    # The reader is this shell, there before hstprof starts: fd 3 holds the
    # FIFO open both ways; fd 4 then reads what is in it, up to the end once
    # fd 3, the last writer, is closed.
    exec 3<>"$n/fifo"
    if run_case "$b run --log FIFO with a reader" 0 "$bin" run -n 4 -q --log "$n/fifo" --title x; then
        exec 4<"$n/fifo"
        exec 3>&-
        cat <&4 >"$WORK/from-fifo"
        exec 4<&-
        check "$b run --log FIFO: the reader got the entry" $(grep -q '^## x$' "$WORK/from-fifo"; echo $?)
    fi
    exec 3>&- 2>/dev/null
    check "$b FIFO stays a FIFO" $([ "$(kind "$n/fifo")" = "fifo" ]; echo $?)
}

symlink_cases() {
    rm -rf "$WORK/logs" "$WORK/BENCHMARKS.md"
    mkdir -p "$WORK/logs"
    echo "old" >"$WORK/logs/t.md"
    ln -s logs/t.md "$WORK/BENCHMARKS.md"
    if run_case "$b run --log through a symlink" 0 "$bin" run -n 4 -q --log "$WORK/BENCHMARKS.md" --title T; then
        check "$b --log symlink: the link stays a link" $([ -L "$WORK/BENCHMARKS.md" ]; echo $?)
        check "$b --log symlink: the file it names has the old text and the entry" \
            $([ "$(head -n 1 "$WORK/logs/t.md")" = "old" ] && grep -q '^## T$' "$WORK/logs/t.md"; echo $?)
    fi
    # The same file through a link and by name is one output, not two.
    if run_case "$b --export FILE --log LINK-TO-FILE" 2 "$bin" run -n 4 -q --export "$WORK/logs/t.md" \
        --log "$WORK/BENCHMARKS.md" --title T; then
        check "$b a link and its file: 'name the same file'" $(grep -q "name the same file" "$WORK/err"; echo $?)
    fi
}

dash_cases() {
    rm -f "$WORK/-"
    if run_case "$b bench -o -" 0 "$bin" bench --seq 8 --runs 1 --warmup 0 -o -; then
        check "$b bench -o -: the report on standard output" $(grep -q '^# HST Model TPS Benchmark Report' "$WORK/out"; echo $?)
    fi
    if run_case "$b run --export - --export-format csv" 0 "$bin" run -n 4 --export - --export-format csv; then
        check "$b run --export -: one CSV header and row, no summary" \
            $([ "$(wc -l <"$WORK/out")" -eq 2 ] && ! grep -q '^prefill ' "$WORK/out"; echo $?)
    fi
    check "$b no file named '-'" $([ ! -e "$WORK/-" ]; echo $?)
}

refused_cases() {
    local w
    for w in "run -n 2 --export $n/sock --export-format md" "run -n 2 --trace $n/sock" "bench --seq 8 -o $n/sock" \
        "model init --preset hst-v4 -o $n/sock" "run -n 2 --log $n --title t"; do
        case $w in *sock*) [ -S "$n/sock" ] || continue ;; esac
        # shellcheck disable=SC2086 # w is words on purpose
        if run_case "$b $w" 2 "$bin" $w; then
            check "$b $w: one line naming what it is" \
                $([ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -qE "is a socket|is a directory" "$WORK/err" &&
                    [ ! -s "$WORK/out" ]; echo $?)
        fi
    done
    [ -S "$n/sock" ] && check "$b the socket stays a socket" $([ "$(kind "$n/sock")" = "socket" ]; echo $?)
}

for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    b=$(basename "$bin")
    echo "-- $bin"
    device_cases
    fifo_cases
    symlink_cases
    dash_cases
    refused_cases
done
check "no temporary file left anywhere" $(no_temporaries; echo $?)
e2e_finish
