# shellcheck shell=bash
# tests/lib/tmux.sh — driving the dashboard for real under tmux, for the
# end-to-end scripts; sourced after lib/e2e.sh (it uses WORK, fail and
# e2e_at_exit). A private tmux server (its own socket, no configuration),
# killed on exit, even when the script itself runs inside tmux. Without tmux
# the script fails at once.
#
#   TMUX_CMD                         tmux on the private server, as an array
#   TMUX_COLS, TMUX_ROWS             the size of new sessions (140x45)
#   tmux_start NAME ENV... -- CMD    runs sh code CMD in a new session NAME;
#                                    its exit status goes to $WORK/NAME.exit
#   screen_of NAME                   the pane's text
#   wait_for NAME PATTERN [SECONDS]  polls the pane until grep -E finds PATTERN
#   wait_for_file GLOB [SECONDS]     polls until a file matches GLOB
#   exit_status NAME                 CMD's exit status once it ended ("none"
#                                    after 15 s)
#   alternate_on NAME                1 while the pane is in the alternate screen
#   terminal_restored NAME           0 when the pane is back to the shell's
#                                    output with the alternate screen off
#
# Everything waits by polling with a time limit, never with a long fixed sleep.

unset TMUX # a private server even when run from inside tmux
export TMUX_TMPDIR="$WORK" # its socket too
TMUX_SOCKET="hstprof-$(basename "$0" .sh)-$$"
TMUX_CMD=(tmux -L "$TMUX_SOCKET" -f /dev/null)
TMUX_COLS=140
TMUX_ROWS=45

tmux_at_exit() {
    "${TMUX_CMD[@]}" kill-server >/dev/null 2>&1
    rm -f "$TMUX_TMPDIR/tmux-$(id -u)/$TMUX_SOCKET" # the server leaves its socket behind
}
e2e_at_exit tmux_at_exit

if ! command -v tmux >/dev/null 2>&1; then
    fail "tmux is not installed (make deps-test installs it)"
    e2e_finish
fi

# tmux_start NAME ENV... -- CMD: `env ENV... sh -c CMD` in a new session NAME
# of TMUX_COLS x TMUX_ROWS, working directory $WORK. Afterwards the wrapper
# writes CMD's exit status to $WORK/NAME.exit and shows the marker line
# SHELL-IS-BACK (so that a restored terminal is visible in the pane), then
# idles. CMD is sh code, inside single quotes: it must not contain any.
tmux_start() {
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$(printf '%q' "$1")"); shift; done
    shift
    rm -f "$WORK/$name.exit"
    "${TMUX_CMD[@]}" new-session -d -s "$name" -x "$TMUX_COLS" -y "$TMUX_ROWS" -c "$WORK" \
        "env ${envs[*]} sh -c '$1; echo EXIT=\$? > \"$WORK/$name.exit\"; echo SHELL-IS-BACK; sleep 120'"
}

screen_of() { "${TMUX_CMD[@]}" capture-pane -p -t "$1" 2>/dev/null; }

# wait_for NAME PATTERN [SECONDS]: polls the pane until grep -E finds PATTERN.
wait_for() {
    local name=$1 pattern=$2 limit=${3:-20}
    local deadline=$((SECONDS + limit))
    while [ $SECONDS -lt $deadline ]; do
        screen_of "$name" | grep -Eq -- "$pattern" && return 0
        sleep 0.2
    done
    return 1
}

# wait_for_file GLOB [SECONDS]: polls until a file matches GLOB (10 s by default).
wait_for_file() {
    local pattern=$1 limit=${2:-10}
    local deadline=$((SECONDS + limit))
    while [ $SECONDS -lt $deadline ]; do
        compgen -G "$pattern" >/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# The pane's exit record, once the command has ended and written it whole.
exit_status() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        if [ -s "$WORK/$1.exit" ]; then
            sed -n 's/^EXIT=//p' "$WORK/$1.exit"
            return
        fi
        sleep 0.2
    done
    echo none
}

alternate_on() { "${TMUX_CMD[@]}" display-message -p -t "$1" '#{alternate_on}'; }

terminal_restored() { wait_for "$1" "SHELL-IS-BACK" 5 && [ "$(alternate_on "$1")" = 0 ]; }
