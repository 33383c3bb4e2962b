# shellcheck shell=bash
# tests/lib/e2e.sh — what every end-to-end script (tests/e2e_*.sh) shares,
# sourced first with `. "$(dirname "$0")/lib/e2e.sh"`, the other lib/ files
# after it as `. "$SRC/tests/lib/tmux.sh"` (this directory is not
# named e2e_*.sh, so run_all.sh does not run it as a test):
#
#   WORK                   a private temporary directory, removed on exit; the
#                          working directory, and HOME, XDG_CACHE_HOME,
#                          XDG_CONFIG_HOME and TMPDIR point inside it, so that
#                          nothing the script or hstprof writes by default
#                          (caches, profiles, snapshots) lands elsewhere
#   SRC                    the repository (absolute), for its files
#   HSTPROF, HSTPROF_ASAN  made absolute (they are relative to the directory
#                          the script was started in)
#   e2e_at_exit CODE       shell code (e.g. a function's name) to run on exit,
#                          before WORK is removed; run in the order registered
#                          (lib/tmux.sh kills its server, lib/full_disk.sh
#                          unmounts its tmpfs)
#   pass NAME / fail NAME  one "ok   NAME" / "FAIL NAME" line, counted
#   check NAME STATUS      pass when STATUS (a condition's exit status) is 0
#   e2e_finish             "N checks, M failed", exit status 0 when all passed
#
# The counts are in $checks and $failures.

checks=0
failures=0
E2E_AT_EXIT=()

pass() { checks=$((checks + 1)); echo "ok   $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $*"; }

check() { # name, condition-as-exit-status
    if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1"; fi
}

e2e_finish() {
    echo "$checks checks, $failures failed"
    [ "$failures" -eq 0 ] && exit 0
    exit 1
}

e2e_at_exit() { E2E_AT_EXIT+=("$1"); }

e2e_cleanup() {
    local code
    for code in "${E2E_AT_EXIT[@]}"; do eval "$code"; done
    rm -rf "$WORK"
}

SRC=$(cd "$(dirname "$0")/.." && pwd)
absolute_from_start() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
HSTPROF=$(absolute_from_start "${HSTPROF:-$SRC/hstprof}")
[ -n "${HSTPROF_ASAN:-}" ] && HSTPROF_ASAN=$(absolute_from_start "$HSTPROF_ASAN")
export HSTPROF HSTPROF_ASAN

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hstprof-e2e-XXXXXX")
trap e2e_cleanup EXIT
chmod 755 "$WORK" # a check may drop privileges
mkdir -p "$WORK/home/.cache" "$WORK/home/.config" "$WORK/tmp"
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/home/.cache" XDG_CONFIG_HOME="$WORK/home/.config" TMPDIR="$WORK/tmp"
cd "$WORK" || exit 1
