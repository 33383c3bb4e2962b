#!/usr/bin/env bash
# e2e_dashboard.sh — the dashboard driven for real under tmux: start and see
# every panel, change threads with + and see the header follow, snapshot
# with s and find the files (they say which mode ran), choose hst-v8 and
# hst-chaos in the model dialog (which lists all nine presets, opens on the
# running one, takes typing at once and reports a failed load), resize below
# the minimum and back, quit with q (exit status 0, terminal restored),
# TERM=screen and TERM=linux, NO_COLOR, Ctrl-C, SIGTERM and a crash (SIGSEGV)
# leaving the terminal restored, a first start without cached ceilings
# (tokens at once, the ceilings in steps, q cutting them short without
# caching), and --screen-dump. One line per check; exit 0 when every check
# passed.
#
# HSTPROF names the binary (default ./hstprof). Everything waits by polling
# with a time limit, never with a long fixed sleep.
set -u
. "$(dirname "$0")/lib/e2e.sh"
. "$SRC/tests/lib/tmux.sh"

# start NAME ENV... -- ARGS...: runs hstprof ARGS in a new 140x45 session;
# the wrapper records the exit status and then shows a marker line, so that a
# restored terminal is visible in the pane. The wrapper survives Ctrl-C
# (trap : INT is reset to the default in hstprof by exec) to report it.
start() {
    local name=$1; shift
    local envs=() args="" a
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    for a in "$@"; do args="$args \"$a\""; done
    tmux_start "$name" "${envs[@]}" -- "trap : INT; \"$HSTPROF\"$args"
}

descendants() {
    local p
    for p in $(pgrep -P "$1"); do
        echo "$p"
        descendants "$p"
    done
}

# The hstprof process of a session: the descendant of the pane named hstprof.
hstprof_pid() {
    local root p
    root=$("${TMUX_CMD[@]}" display-message -p -t "$1" '#{pane_pid}')
    for p in $root $(descendants "$root"); do
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "hstprof" ]; then
            echo "$p"
            return
        fi
    done
}

TITLES=("hstprof" "Throughput" "Per-layer timers" "Counters" "Bandwidth & compute" "Memory" "Topology" "A/B compare" "Segments" "Generated text")

check_titles() {
    local name=$1 label=$2 missing=""
    wait_for "$name" "Generated text" 20 || true
    for t in "${TITLES[@]}"; do
        wait_for "$name" "$t" 5 || missing="$missing [$t]"
    done
    if [ -z "$missing" ]; then pass "$label: every panel title is on screen"; else fail "$label: missing titles:$missing"; fi
}

# check_restored NAME LABEL EXPECTED_EXIT
check_restored() {
    local name=$1 label=$2 expected=$3 status
    status=$(exit_status "$name")
    if [ "$status" = "$expected" ]; then pass "$label: exit status $status"; else fail "$label: exit status $status, expected $expected"; fi
    if terminal_restored "$name"; then
        pass "$label: terminal restored (alternate screen off, shell output visible)"
    else
        fail "$label: terminal not restored (alternate_on=$(alternate_on "$name"))"
    fi
}

# ---- the main session: xterm-256color --------------------------------------------
start main TERM=xterm-256color -- dashboard --threads 1 --oversubscribe
check_titles main "xterm-256color"
if wait_for main "threads 1/" 10; then pass "header shows threads 1"; else fail "header does not show threads 1"; fi
"${TMUX_CMD[@]}" send-keys -t main +
if wait_for main "threads 2/" 15; then pass "+ changes the header to threads 2"; else fail "+ did not change the header to threads 2"; fi
if wait_for main "segment #1" 10; then pass "the thread change started segment #1"; else fail "no new segment after +"; fi
if "${TMUX_CMD[@]}" capture-pane -p -e -t main | grep -Eq $'\e\\[[0-9;]*3[0-7]m|\e\\[[0-9;]*38;5'; then
    pass "colours are used on xterm-256color"
else
    fail "no colour escape sequences on xterm-256color"
fi

"${TMUX_CMD[@]}" send-keys -t main s
if wait_for_file "$WORK/hstprof-snapshot-*.md" 10 && wait_for_file "$WORK/hstprof-snapshot-*.csv" 5 &&
    wait_for_file "$WORK/hstprof-snapshot-*.json" 5; then
    pass "s wrote the snapshot's .md, .csv and .json in the working directory"
else
    fail "s did not write the snapshot files ($(ls "$WORK"))"
fi
if wait_for main "snapshot: .*hstprof-snapshot-" 5; then pass "the status line names the snapshot files"; else fail "no snapshot file names on the status line"; fi
if grep -q '"tool": "hstprof dashboard"' "$WORK"/hstprof-snapshot-*.json 2>/dev/null; then
    pass "the snapshot JSON is the dashboard's"
else
    fail "the snapshot JSON lacks tool=hstprof dashboard"
fi
if grep -q '"mode": "causal"' "$WORK"/hstprof-snapshot-*.json 2>/dev/null &&
    grep -q -- '- Mode: \*\*causal (same as parity for v4)\*\*' "$WORK"/hstprof-snapshot-*.md 2>/dev/null; then
    pass "the snapshot says which mode ran (JSON and Markdown)"
else
    fail "the snapshot does not say which mode ran"
fi
if xmllint --noout "$WORK"/hstprof-snapshot-*-latency.svg "$WORK"/hstprof-snapshot-*-throughput.svg 2>/dev/null &&
    jq -e '[.traceEvents[] | select(.name == "forward")] | length > 0' "$WORK"/hstprof-snapshot-*.trace.json >/dev/null 2>&1; then
    pass "s also wrote the plots (well-formed SVG) and the shown segment's trace (trace events)"
else
    fail "the snapshot's plots or trace are missing or malformed ($(ls "$WORK" | grep snapshot | tr '\n' ' '))"
fi

"${TMUX_CMD[@]}" send-keys -t main '?'
if wait_for main "hstprof keys" 5; then pass "? opens the help"; else fail "? did not open the help"; fi
"${TMUX_CMD[@]}" send-keys -t main x
help_closed=0
for _ in $(seq 25); do
    screen_of main | grep -q "hstprof keys" || { help_closed=1; break; }
    sleep 0.2
done
if [ $help_closed = 1 ] && wait_for main "Throughput" 2; then pass "any key closes the help"; else fail "the help did not close"; fi

"${TMUX_CMD[@]}" send-keys -t main Space
if wait_for main "state PAUSED" 5; then pass "space pauses"; else fail "space did not pause"; fi
"${TMUX_CMD[@]}" send-keys -t main Space
if wait_for main "state RUNNING" 5; then pass "space resumes"; else fail "space did not resume"; fi

"${TMUX_CMD[@]}" send-keys -t main c
if wait_for main "A/B compare: Enter starts" 5; then pass "c opens the A/B chooser"; else fail "c did not open the A/B chooser"; fi
"${TMUX_CMD[@]}" send-keys -t main Enter
if wait_for main "threads 1 vs 2, 32 tok/round" 10 &&
    wait_for main "(faster \(95% CI [0-9.]+-[0-9.]+\)|no significant difference yet)" 15; then
    pass "A/B threads 1 vs 2 runs and gives a verdict"
else
    fail "A/B did not start or gave no verdict"
fi
"${TMUX_CMD[@]}" send-keys -t main c
wait_for main "stop the A/B comparison: Enter stops" 5 || true
"${TMUX_CMD[@]}" send-keys -t main Enter # back to the setting from before (tests/e2e_dashboard_ab.sh keeps B)
if wait_for main "stopped, kept before" 10 && wait_for main "threads 2/" 5; then
    pass "c stops the A/B comparison (Enter: back to the 2 threads from before)"
else
    fail "c did not stop A/B"
fi

# ---- the model dialog: every preset, and switching to a stage-2 one -------------------------
"${TMUX_CMD[@]}" send-keys -t main m
if wait_for main "model: Enter loads" 5; then pass "m opens the model dialog"; else fail "m did not open the model dialog"; fi
missing=""
for p in hst-v3 hst-v4 hst-v5.2 hst-v6 hst-v6.1 hst-v7.0 hst-chaos hst-v7.1 hst-v8; do
    wait_for main " $p \(random weights\)" 2 || missing="$missing $p"
done
if [ -z "$missing" ]; then pass "the model dialog lists all nine presets"; else fail "the model dialog lacks:$missing"; fi
for _ in $(seq 12); do "${TMUX_CMD[@]}" send-keys -t main Up; done # the first line, wherever the cursor started
for _ in $(seq 8); do "${TMUX_CMD[@]}" send-keys -t main Down; done # hst-v8, the ninth
"${TMUX_CMD[@]}" send-keys -t main Enter
if wait_for main "hstprof  hst-v8 f32 \(24\.2M params\)" 60 && wait_for main "HSTv8Crystalline" 5 &&
    wait_for main "mode causal  " 5; then
    pass "choosing hst-v8 in the dialog loads it (header: hst-v8, HSTv8Crystalline, causal)"
else
    fail "choosing hst-v8 did not load it: $(screen_of main | head -2)"
fi
"${TMUX_CMD[@]}" send-keys -t main m
wait_for main "model: Enter loads" 5 || true
for _ in $(seq 12); do "${TMUX_CMD[@]}" send-keys -t main Up; done
"${TMUX_CMD[@]}" send-keys -t main Down Down Down Down Down Down Enter # hst-chaos, the seventh
if wait_for main "hstprof  hst-chaos f32 \(21\.2M params\)" 60 && wait_for main "generation [0-9]+, pos" 10; then
    pass "choosing hst-chaos loads it and generates"
else
    fail "choosing hst-chaos did not load it: $(screen_of main | head -2)"
fi

# The dialog's cursor starts on the running model (it started on hst-v3), keys
# typed at once go to the file line (they were dropped until the cursor got
# there), and a failed load replaces "loading model" on the status line.
"${TMUX_CMD[@]}" send-keys -t main m
wait_for main "model: Enter loads" 5 || true
if "${TMUX_CMD[@]}" capture-pane -p -e -t main | grep -F '* hst-chaos (random' | grep -Eq $'\e\\[([0-9]+;)*7(;[0-9]+)*m[*] hst-chaos'; then
    pass "the model dialog opens with the cursor on the running model"
else
    fail "the model dialog's cursor is not on hst-chaos"
fi
"${TMUX_CMD[@]}" send-keys -t main "no-such-dir/missing.safetensors" Enter
if wait_for main "^model not loaded: missing.safetensors: unknown model" 20 && ! screen_of main | grep -q "loading model"; then
    pass "typing at once names the file; the failed load is an error on the status line"
else
    fail "no load error on the status line: $(screen_of main | tail -1)"
fi

"${TMUX_CMD[@]}" resize-window -t main -x 60 -y 15
if wait_for main "needs at least" 10; then pass "60x15: says the size it needs"; else fail "60x15: no 'needs at least' message"; fi
"${TMUX_CMD[@]}" resize-window -t main -x 140 -y 45
if wait_for main "Throughput" 10 && wait_for main "Generated text" 5; then pass "back to 140x45: the panels return"; else fail "the panels did not return after growing"; fi

"${TMUX_CMD[@]}" send-keys -t main q
check_restored main "q" 0

# ---- other terminals, no arguments (the default command) ----------------------------
for term in screen linux; do
    start "t-$term" TERM=$term -- 
    check_titles "t-$term" "TERM=$term, no arguments"
    "${TMUX_CMD[@]}" send-keys -t "t-$term" F10
    check_restored "t-$term" "TERM=$term F10" 0
done

# ---- NO_COLOR: attributes only ----------------------------------------------------------
start nocolor TERM=xterm-256color NO_COLOR=1 -- dashboard --threads 1
check_titles nocolor "NO_COLOR=1"
if "${TMUX_CMD[@]}" capture-pane -p -e -t nocolor | grep -Eq $'\e\\[[0-9;]*(3[0-7]|4[0-7]|9[0-7]|38;5|48;5)m'; then
    fail "NO_COLOR=1: colour escape sequences on screen"
else
    pass "NO_COLOR=1: no colour, monochrome attributes only"
fi
"${TMUX_CMD[@]}" send-keys -t nocolor q
check_restored nocolor "NO_COLOR q" 0

# ---- signals: Ctrl-C, SIGTERM, a crash -----------------------------------------------------
start ctrlc TERM=xterm-256color -- dashboard --threads 1
wait_for ctrlc "Throughput" 20 || true
"${TMUX_CMD[@]}" send-keys -t ctrlc C-c
check_restored ctrlc "Ctrl-C" 130

# signalled NAME SIGNAL LABEL EXPECTED_EXIT: the running dashboard's process gets SIGNAL.
signalled() {
    local name=$1 sig=$2 pid
    start "$name" TERM=xterm-256color -- dashboard --threads 1
    wait_for "$name" "Throughput" 20 || true
    pid=$(hstprof_pid "$name")
    if [ -n "$pid" ]; then kill -"$sig" "$pid"; fi
    check_restored "$name" "$3" "$4"
}
signalled sigterm TERM "SIGTERM" 143
signalled sighup HUP "SIGHUP" 129
signalled crash SEGV "SIGSEGV (a crash)" 139

# ---- a machine it has never seen: tokens first, then the ceilings in steps; q cuts them short --
mkdir -p "$WORK/cache-first"
start first TERM=xterm-256color "XDG_CACHE_HOME=$WORK/cache-first" -- dashboard --threads 1
if wait_for first "state RUNNING" 20 && wait_for first "ceilings: measuring \(1 of " 20; then
    pass "first start: generating at once, the ceilings still to come"
else
    fail "first start: not generating with the ceilings still to come"
fi
if wait_for first "HELD: measuring ceilings \(1 of " 60; then
    pass "first start: the engine is held for one step of the measurement at a time"
else
    fail "first start: no step of the ceilings measurement seen"
fi
"${TMUX_CMD[@]}" send-keys -t first q
check_restored first "q while measuring ceilings" 0
if [ -z "$(ls -A "$WORK/cache-first")" ]; then
    pass "q while measuring ceilings: a measurement cut short is not cached"
else
    fail "q while measuring ceilings: cached anyway: $(ls -R "$WORK/cache-first")"
fi

# ---- --screen-dump -------------------------------------------------------------------------
dump="$WORK/dump.txt"
"$HSTPROF" dashboard --screen-dump 1 --size 100x30 --threads 1 >"$dump" 2>"$WORK/dump.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$dump")" -eq 30 ]; then pass "--screen-dump 1 --size 100x30: 30 lines, exit 0"; else fail "--screen-dump: exit $rc, $(wc -l <"$dump") lines"; fi
missing=""
for t in "${TITLES[@]}"; do grep -qF -- "$t" "$dump" || missing="$missing [$t]"; done
if [ -z "$missing" ]; then pass "--screen-dump shows every panel title"; else fail "--screen-dump lacks:$missing"; fi
if grep -q $'\e' "$dump"; then fail "--screen-dump output has escape sequences"; else pass "--screen-dump output is plain text"; fi

e2e_finish
