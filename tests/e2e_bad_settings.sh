#!/usr/bin/env bash
# Issue 7, bad settings, through the real binary (release, then ASan+UBSan):
# threads 0, negative or above the PUs, affinity lists naming PUs that do not
# exist, modes that are none (or a list where one mode runs), sequences longer than max_seq_len, prompt tokens outside the
# vocabulary, unreadable and malformed profiles, output files in missing or
# read-only directories, and the dashboard's start-up settings. Each case:
# the exit status, exactly one line on stderr matching a pattern, no
# sanitizer report, and no file left behind. Run by run_all.sh with HSTPROF
# (and HSTPROF_ASAN) set; one "ok"/"FAIL" line per check; exit 0 = all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"
ro="$WORK/ro"
mounted=0 # 1: a read-only tmpfs on $ro (unmounted on exit), 2: $ro is chmod 555
e2e_at_exit '[ "$mounted" -eq 1 ] && umount "$ro" 2>/dev/null'

allowed=$(nproc)             # the PUs this process may use (its affinity)
over=$((allowed + 1))        # one thread too many
bad_pu=999                   # no machine here has it
out="$WORK/out"              # bad settings aimed here must leave it empty
mkdir -p "$out" "$WORK/adir.ini"

# Profiles, one per problem.
p="$WORK/p"
mkdir -p "$p"
printf 'threads = %d\n' "$over" >"$p/over.ini"
printf 'thread = 2\n' >"$p/badkey.ini"
printf 'threads = two\n' >"$p/badval.ini"
printf 'threads = -1\n' >"$p/negative.ini"
printf 'threads = 1\nthreads = 2\n' >"$p/duplicate.ini"
printf 'affinity = 0,%d\n' "$bad_pu" >"$p/badaffinity.ini"
printf 'mode = fast\n' >"$p/badmode.ini"
printf 'mode = parity,causal\n' >"$p/twomodes.ini"
printf 'threads = 1\x00\x01\x02\xff\n' >"$p/binary.ini"
head -c 1100000 /dev/zero | tr '\0' 'a' | sed 's/^/prompt = /' >"$p/huge.ini"
{ printf 'prompt = '; head -c 600000 /dev/zero | tr '\0' 'a'; echo; } >"$p/hugeline.ini"
mkfifo "$p/fifo.ini"
printf 'model = moved.safetensors\nmodels = moved.safetensors\n' >"$p/gone.ini"
printf 'not a model' >"$WORK/garbage.safetensors"

# Read-only directory: root writes through permission bits, so a read-only
# mount when root; chmod 555 otherwise.
mkdir -p "$ro"
if [ "$(id -u)" -eq 0 ]; then
    mount -t tmpfs -o ro,size=64k tmpfs "$ro" 2>/dev/null && mounted=1
    ro_why="cannot mount a read-only tmpfs here"
else
    chmod 555 "$ro" && mounted=2
    ro_why="chmod 555 failed"
fi

# expect STATUS PATTERN ARGS...: one case through $bin (after $LAUNCH, e.g. taskset).
expect() {
    local want=$1 pattern=$2
    shift 2
    local err="$WORK/err" status
    # shellcheck disable=SC2086 # LAUNCH is words on purpose
    timeout 60 ${LAUNCH:-} "$bin" "$@" >"$WORK/stdout" 2>"$err" </dev/null
    status=$?
    local name="${LAUNCH:+$LAUNCH }$(basename "$bin") $*"
    name=${name:0:110}
    local lines
    lines=$(wc -l <"$err")
    if grep -qE 'Sanitizer|runtime error:' "$err"; then
        fail "$name: sanitizer report"
        sed 's/^/      | /' "$err" | head -n 20
    elif [ "$status" -ne "$want" ] || [ "$lines" -ne 1 ] || ! grep -qE -- "$pattern" "$err"; then
        fail "$name: exit $status (want $want), $lines line(s): $(head -c 300 "$err")"
    else
        pass "$name"
    fi
}

# A setting that is only bad on this machine needs a second PU to be tested.
matrix() {
    local over_msg="this machine has $allowed PUs?|of this machine's [0-9]+ PUs"
    # -- threads: 0, negative, above the PUs (and the flag that allows it)
    expect 2 "--threads" run --threads 0 -n 2
    expect 2 "--threads" run --threads -1 -n 2
    expect 2 "--threads $over: ($over_msg).*add --oversubscribe" run --threads "$over" -n 2
    expect 2 "--threads $over: " bench --threads "1,$over" --seq 8 --runs 1 --warmup 0
    expect 2 "--threads $over: .*ceilings are measured with one thread per PU" ceilings --threads "$over"
    expect 2 "--threads" bench --threads 0 --seq 8
    expect 2 "--threads" bench --threads 1,-1 --seq 8
    expect 2 "--threads $over: " layerbench --threads "$over" --seq 8
    expect 2 "--threads" layerbench --threads 0 --seq 8
    expect 2 "--threads $over: .*--oversubscribe" dashboard --threads "$over" --screen-dump 1
    expect 2 "--threads" dashboard --threads 0 --screen-dump 1
    expect 2 "--threads" dashboard --threads -2 --screen-dump 1
    expect 2 "--threads" topo --threads 0
    expect 2 "--threads" ceilings --threads -1
    expect 2 "over.ini:1: threads = $over: .*--oversubscribe" run -p "$p/over.ini" -n 2
    expect 2 "over.ini:1: threads = $over: " bench -p "$p/over.ini" --seq 8
    expect 2 "over.ini:1: threads = $over: " dashboard -p "$p/over.ini" --screen-dump 1
    if [ "$allowed" -ge 2 ]; then
        expect 2 "--affinity 0 places them on 1 PU" run --threads 2 --affinity 0 -n 2
        if command -v taskset >/dev/null 2>&1; then
            LAUNCH="taskset -c 0" expect 2 "only 1 of this machine's [0-9]+ PUs is allowed to this process" \
                run --threads 2 -n 2
            # compact and scatter place threads only on the PUs taskset gave the process
            for policy in compact scatter; do
                taskset -c 1 "$bin" run --threads 1 --affinity "$policy" -n 2 >"$WORK/stdout" 2>"$WORK/err"
                if grep -q "^affinity    $policy: thread 0 -> PU 1\$" "$WORK/stdout"; then
                    pass "taskset -c 1 $(basename "$bin") run --affinity $policy binds to PU 1"
                else
                    fail "taskset -c 1 run --affinity $policy: $(grep '^affinity' "$WORK/stdout") $(head -c 200 "$WORK/err")"
                fi
            done
        fi
    fi
    # -- affinity
    expect 2 "--affinity 0,$bad_pu: PU $bad_pu does not exist" run --affinity "0,$bad_pu" --threads 1 -n 2
    expect 2 "runs backwards" run --affinity 5-3 -n 2
    expect 2 "--affinity is empty" run --affinity '' -n 2
    expect 2 "unknown policy 'sideways'" run --affinity sideways -n 2
    expect 2 "PU $bad_pu does not exist" bench --affinity "$bad_pu" --seq 8
    expect 2 "--affinity is empty" bench --affinity '' --seq 8
    expect 2 "PU $bad_pu does not exist" dashboard --affinity "0,$bad_pu" --threads 1 --screen-dump 1
    expect 2 "--affinity is empty" dashboard --affinity '' --screen-dump 1
    expect 2 "PU $bad_pu does not exist" topo --affinity "0,$bad_pu"
    expect 2 "badaffinity.ini:1: affinity = 0,$bad_pu: PU $bad_pu" run -p "$p/badaffinity.ini" --threads 1 -n 2
    # -- sequences longer than max_seq_len
    expect 2 "max_seq_len 512" run -n 100000
    expect 2 "max_seq_len 512" run --prompt-tokens "$(seq -s, 1 600)" -n 1
    expect 2 "--seq 1024 exceeds max_seq_len 512" bench --seq 1024
    expect 2 "outside 1..8192" bench --seq 100000
    expect 2 "outside 1..16384" layerbench --seq 100000
    # -- modes: a name that is none, a list where one mode runs, a mode named twice
    expect 2 "--mode must be causal or parity, got 'fast'" run --mode fast -n 2
    expect 2 "--mode takes one mode here" run --mode parity,causal -n 2
    expect 2 "--mode names parity twice" bench --mode parity,parity --seq 8
    expect 2 "--mode must be causal or parity, got 'Causal'" bench --mode Causal --seq 8
    expect 2 "--mode must be causal or parity" dashboard --mode fast --screen-dump 1
    expect 2 "badmode.ini:1: mode must be causal or parity, got 'fast'" bench -p "$p/badmode.ini" --seq 8
    expect 2 "profile twomodes: mode takes one mode here" dashboard -p "$p/twomodes.ini" --screen-dump 1
    expect 2 "--gen 512 after a 16-token prompt needs 528 positions" bench --gen 512 --seq 8
    # -- prompt tokens outside the vocabulary, or not a list
    expect 2 "99999 is outside 0\.\.4999" run --prompt-tokens 0,99999 -n 2
    expect 2 "-5 is outside 0\.\.4999" run --prompt-tokens -5,1 -n 2
    expect 2 "not a comma-separated list" run --prompt-tokens 1,,2 -n 2
    expect 2 "not a comma-separated list" run --prompt-tokens 1,x -n 2
    expect 2 "empty list" run --prompt-tokens '' -n 2
    # -- unreadable and malformed profiles
    expect 2 "nonexistent.ini: cannot read profile: No such file" run -p /root/nonexistent.ini -n 2
    expect 2 "adir.ini: cannot read profile: not a regular file" run -p "$WORK/adir.ini" -n 2
    expect 2 "fifo.ini: cannot read profile: not a regular file" run -p "$p/fifo.ini" -n 2
    expect 2 "badkey.ini:1: unknown key 'thread' \(did you mean 'threads'\?\)" run -p "$p/badkey.ini" -n 2
    expect 2 "badval.ini:1: threads expects a whole number" run -p "$p/badval.ini" -n 2
    expect 2 "negative.ini:1: threads expects a whole number from 0" run -p "$p/negative.ini" -n 2
    expect 2 "duplicate.ini:2: 'threads' is set twice" run -p "$p/duplicate.ini" -n 2
    expect 2 "binary.ini:1: contains a NUL byte" run -p "$p/binary.ini" -n 2
    expect 2 "huge.ini: larger than" run -p "$p/huge.ini" -n 2
    expect 2 "hugeline.ini:1: prompt is too long" run -p "$p/hugeline.ini" -n 2
    expect 2 "badkey.ini:1: unknown key" bench -p "$p/badkey.ini"
    expect 2 "adir.ini: cannot read profile" dashboard -p "$WORK/adir.ini" --screen-dump 1
    # -- output files: a missing directory, a file as directory, a directory as file
    expect 2 "--export /nonexistent/dir/x.md: directory /nonexistent/dir does not exist" \
        run --export /nonexistent/dir/x.md -n 2
    expect 2 "--log .*does not exist" run --log /nonexistent/dir/B.md --title t -n 2
    expect 2 "--trace .*does not exist" run --trace /nonexistent/dir/t.csv -n 2
    expect 2 "--dump-logits .*does not exist" run --dump-logits /nonexistent/dir/l.f32 -n 2
    expect 2 "--dump-logits .*is a directory" run --dump-logits "$out" -n 2
    echo "a regular file" >"$WORK/plain-file" # private: never a system path as a writer's target
    expect 2 "plain-file is not a directory" run --export "$WORK/plain-file/x.md" -n 2
    expect 2 "--export: the file name is empty" run --export '' -n 2
    expect 2 "--log: the file name is empty" run --log '' --title t -n 2
    expect 2 "--trace: the file name is empty" run --trace '' -n 2
    expect 2 "--dump-logits: the file name is empty" run --dump-logits '' -n 2
    expect 2 "--export .*name a .md, .csv or .json" run --export "$out/notes.txt" -n 2
    expect 2 "--output /nonexistent/x.md: directory /nonexistent does not exist" bench -o /nonexistent/x.md --seq 8
    expect 2 "--output .*does not exist" layerbench -o /nonexistent/x.md --seq 8
    expect 2 "--output .*does not exist" model init --preset hst-v4 -o /nonexistent/x.safetensors
    expect 2 "--output .*is a directory" model init --preset hst-v4 -o "$out"
    if [ "$mounted" -ne 0 ]; then
        local ro_msg="read-only file system|cannot write in directory"
        expect 2 "$ro_msg" run --export "$ro/x.md" -n 2
        expect 2 "$ro_msg" run --trace "$ro/t.csv" -n 2
        expect 2 "$ro_msg" bench -o "$ro/x.md" --seq 8
        expect 2 "$ro_msg" layerbench -o "$ro/x.md" --seq 8
        expect 2 "$ro_msg" model init --preset hst-v4 -o "$ro/x.safetensors"
    else
        echo "skip read-only directory cases: $ro_why"
    fi
    # -- the dashboard's other start-up settings
    expect 2 "unknown model" dashboard --model no-such-model --screen-dump 1
    expect 1 "garbage.safetensors: " dashboard --model "$WORK/garbage.safetensors" --screen-dump 1
    expect 2 "--size must be COLSxROWS" dashboard --size 10x10junk --screen-dump 1
    expect 2 "--size must be COLSxROWS" dashboard --size ' 10x10' --screen-dump 1
    expect 2 "--size must be COLSxROWS" dashboard --size 0x10 --screen-dump 1
    expect 2 "--size must be COLSxROWS" dashboard --size 10x --screen-dump 1
    expect 2 "--size applies to --screen-dump only" dashboard --size 100x30
    # -- a bench whose second model names nothing fails before the first is measured
    expect 2 "nope.safetensors: unknown model" bench --models "hst-v4,$WORK/nope.safetensors" --seq 8 --runs 100000
    # -- one rule for models: naming nothing is a bad value (2) everywhere, a
    #    file that does not load a run-time error (1) everywhere
    expect 2 "^hstprof run: --model .*nope.safetensors: unknown model" run --model "$WORK/nope.safetensors" -n 2
    expect 2 "^hstprof model info: .*nope.safetensors: unknown model" model info "$WORK/nope.safetensors"
    expect 1 "^hstprof run: .*garbage.safetensors: " run --model "$WORK/garbage.safetensors" -n 2
    expect 1 "^hstprof bench: .*garbage.safetensors: " bench --models "$WORK/garbage.safetensors" --seq 8
    expect 1 "^hstprof model info: .*garbage.safetensors: " model info "$WORK/garbage.safetensors"
    # -- a profile whose model is missing names its line, from every command
    expect 2 "gone.ini:1: model = $p/moved.safetensors: unknown model" run -p "$p/gone.ini" -n 2
    expect 2 "gone.ini:1: model = $p/moved.safetensors: unknown model" dashboard -p "$p/gone.ini" --screen-dump 1
    expect 2 "gone.ini:2: models entry $p/moved.safetensors: unknown model" bench -p "$p/gone.ini" --seq 8
}

# The flag that allows oversubscription, and the reports that then say so.
allowed_cases() {
    if "$bin" run --threads "$over" --oversubscribe -n 2 >"$WORK/stdout" 2>"$WORK/err" &&
        grep -q "oversubscribed (--oversubscribe)" "$WORK/stdout"; then
        pass "$(basename "$bin") run --threads $over --oversubscribe runs and says the threads share PUs"
    else
        fail "$(basename "$bin") run --threads $over --oversubscribe: $(head -c 300 "$WORK/err")"
    fi
    if "$bin" bench --threads "$over" --oversubscribe --seq 8 --runs 1 --warmup 0 >"$WORK/stdout" 2>"$WORK/err" &&
        grep -q "oversubscribed: threads share PUs" "$WORK/stdout"; then
        pass "$(basename "$bin") bench --oversubscribe: the report says the threads share PUs"
    else
        fail "$(basename "$bin") bench --oversubscribe: $(head -c 300 "$WORK/err")"
    fi
    if "$bin" run -p "$p/over.ini" --oversubscribe -n 2 -q 2>"$WORK/err"; then
        pass "$(basename "$bin") a profile's threads above the PUs run with --oversubscribe"
    else
        fail "$(basename "$bin") run -p over.ini --oversubscribe: $(head -c 300 "$WORK/err")"
    fi
}

# On a terminal, a bad start-up setting leaves the screen alone: the one line
# and no escape sequence (curses never started).
terminal_cases() {
    command -v script >/dev/null 2>&1 || { echo "skip terminal cases: no script(1)"; return; }
    local args
    for args in "--threads $over" "--affinity 0,$bad_pu --threads 1" "-p $p/badkey.ini"; do
        TERM=xterm-256color script -qec "$bin $args" "$WORK/typescript" >"$WORK/tty" 2>&1 </dev/null
        local status=$?
        if [ "$status" -eq 2 ] && ! grep -q $'\e' "$WORK/tty" && [ "$(grep -c . "$WORK/tty")" -eq 1 ]; then
            pass "$(basename "$bin") $args on a terminal: exit 2, one line, terminal untouched"
        else
            fail "$(basename "$bin") $args on a terminal: exit $status, $(od -c "$WORK/tty" | head -n 3)"
        fi
    done
    # A dump smaller than the dashboard can draw is refused, not printed as a
    # request to enlarge the terminal with exit 0.
    expect 2 "--screen-dump at 30x8: the dashboard needs at least [0-9]+x[0-9]+" \
        dashboard --threads 1 --screen-dump 0.3 --size 30x8
}

for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    matrix
    allowed_cases
    terminal_cases
done
leftovers=$(ls -A "$out"; [ -e /nonexistent ] && echo /nonexistent)
if [ -z "$leftovers" ]; then pass "no bad setting left a file behind"; else fail "files left behind: $leftovers"; fi
e2e_finish
