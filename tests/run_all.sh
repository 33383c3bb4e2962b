#!/usr/bin/env bash
# tests/run_all.sh [--e2e] [--tools] [TEST_BINARY...] — the suites of
# `make check` and `make test`:
#   TEST_BINARY...  cmocka binaries: build/tests/* run against $HSTPROF (the
#                   release binary), build-asan/tests/* against $HSTPROF_ASAN
#   --e2e           the end-to-end scripts tests/e2e_*.sh (both binaries)
#   --tools         the engine path under valgrind, cppcheck and clang-tidy
#                   (each when installed)
# Suites run in parallel, HSTPROF_TEST_JOBS at a time (default: the cores + 1,
# since several suites mostly wait on the binary they drive), the longest
# first. Each runs in its own temporary directory, which is its working
# directory, HOME, XDG_CACHE_HOME, XDG_CONFIG_HOME and TMPDIR, all removed at
# the end: no suite sees another's files or the user's. One line per suite
# as it ends, then the output of the failed ones, then "N passed, M failed"
# (test cases).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
absolute() { case $1 in /*) echo "$1" ;; *) echo "$src/$1" ;; esac; }
release_bin=$(absolute "${HSTPROF:-hstprof}")
asan_bin=$(absolute "${HSTPROF_ASAN:-build-asan/hstprof}")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export CMOCKA_MESSAGE_OUTPUT=stdout
jobs=${HSTPROF_TEST_JOBS:-$(($(nproc) + 1))}

e2e=0
tools=0
binaries=()
for a in "$@"; do
    case "$a" in
        --e2e) e2e=1 ;;
        --tools) tools=1 ;;
        *) binaries+=("$a") ;;
    esac
done

root=$(mktemp -d "${TMPDIR:-/tmp}/hstprof-XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root" # a test drops privileges to check a permission inside

# ---- the list of suites: a name, where it runs, its command ------------------------------
names=()
places=() # "private": its own temporary directory; "source": the repository (the linters)
commands=()
add() { # NAME PLACE CMD...
    names+=("$1")
    places+=("$2")
    shift 2
    commands+=("$(printf '%q ' "$@")")
}

# Roughly the longest first, so that the last to start are short ones.
if [ $tools -eq 1 ]; then
    if command -v clang-tidy >/dev/null 2>&1; then
        add "clang-tidy" source make --no-print-directory -j"$(nproc)" tidy
    else
        echo "skip  clang-tidy: not installed (Debian package clang-tidy)"
    fi
fi
if [ $e2e -eq 1 ]; then
    for e in tests/e2e_*.sh; do
        [ -e "$e" ] && add "$e" private env HSTPROF="$release_bin" HSTPROF_ASAN="$asan_bin" bash "$src/$e"
    done
fi
for t in "${binaries[@]}"; do
    case "$t" in build-asan/*) add "$t" private env HSTPROF="$asan_bin" "$(absolute "$t")" ;; esac
done
for t in "${binaries[@]}"; do
    case "$t" in build-asan/*) ;; *) add "$t" private env HSTPROF="$release_bin" "$(absolute "$t")" ;; esac
done
if [ $tools -eq 1 ]; then
    # valgrind (issue 7): the engine path once under memcheck, on the release
    # binary (valgrind cannot run an ASan binary). Definite leaks are errors;
    # memory still reachable at exit is not. No suppressions are needed.
    if command -v valgrind >/dev/null 2>&1; then
        memcheck=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
        add "valgrind run -n 16 --threads 2 --oversubscribe" private "${memcheck[@]}" "$release_bin" run -n 16 \
            --threads 2 --oversubscribe --prompt-tokens 1,2,3
        add "valgrind model info tiny-v4" private "${memcheck[@]}" "$release_bin" model info \
            "$src/tests/golden/tiny-v4.safetensors"
    fi
    if command -v cppcheck >/dev/null 2>&1; then
        add "cppcheck" source make --no-print-directory lint
    fi
fi

# ---- one suite ------------------------------------------------------------------------------
# Counts cmocka's cases when it reports them, the end-to-end scripts' "N
# checks, M failed", else the suite as one case. Writes "ok bad" to $root/resultI.
run_suite() {
    local i=$1 start=$SECONDS
    local log="$root/log$1" run="$root/s$1"
    mkdir -p "$run/home/.cache" "$run/home/.config" "$run/tmp"
    chmod 755 "$run"
    if [ "${places[$i]}" = source ]; then
        (cd "$src" && eval "timeout 900 ${commands[$i]}") >"$log" 2>&1
    else
        (cd "$run" && export HOME="$run/home" XDG_CACHE_HOME="$run/home/.cache" \
            XDG_CONFIG_HOME="$run/home/.config" TMPDIR="$run/tmp" HSTPROF_TEST_DIR="$run" \
            HSTPROF_SOURCE_DIR="$src" && eval "timeout 600 ${commands[$i]}") >"$log" 2>&1 </dev/null
    fi
    local rc=$? ok bad cpu
    # CPU time of the suite and everything it started (user + system), from
    # this subshell's children (times in a $(...) would see its own).
    times >"$root/times$i"
    cpu=$(tail -n 1 "$root/times$i" | awk '{ n = 0; for (i = 1; i <= NF; i++) { split($i, t, "m"); n += t[1] * 60 + t[2] } printf "%.0f", n }')
    ok=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | tail -n 1)
    bad=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | tail -n 1)
    if [ -z "$ok" ] && [ -z "$bad" ]; then
        local checks
        checks=$(sed -n 's/^\([0-9]*\) checks, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
        if [ -n "$checks" ]; then
            bad=${checks#* }
            ok=$((${checks% *} - bad))
        fi
    fi
    ok=${ok:-0}
    bad=${bad:-0}
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then ok=1; fi
    echo "$ok $bad" >"$root/result$i"
    if [ "$bad" -gt 0 ]; then
        printf 'FAIL  %-48s %3d passed %3d failed  (%ds, %ss CPU, exit %d)\n' "${names[$i]}" "$ok" "$bad" \
            $((SECONDS - start)) "$cpu" "$rc"
    else
        printf 'ok    %-48s %3d passed  (%ds, %ss CPU)\n' "${names[$i]}" "$ok" $((SECONDS - start)) "$cpu"
    fi
    rm -rf "$run"
}

# The longest first (seconds each on 2 cores, measured), so that the last
# to start are short ones; the rest keep the order above.
rank() {
    case "$1" in
        "valgrind run"*) echo 1 ;;
        tests/e2e_full_disk.sh) echo 2 ;;
        build-asan/tests/test_engine) echo 3 ;;
        cppcheck) echo 4 ;;
        build-asan/tests/test_soak | build-asan/tests/test_cli | build-asan/tests/test_precision) echo 5 ;;
        tests/e2e_model_init_signals.sh | tests/e2e_interrupt.sh | tests/e2e_bad_settings.sh) echo 6 ;;
        build/tests/test_engine | build/tests/test_cli | build/tests/test_precision | build/tests/test_soak) echo 7 ;;
        *) echo 9 ;;
    esac
}
order=$(for i in "${!names[@]}"; do echo "$(rank "${names[$i]}") $i"; done | sort -n -k1,1 -s | cut -d' ' -f2)

echo "${#names[@]} suites, $jobs at a time"
running=0
for i in $order; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_suite "$i" &
    running=$((running + 1))
done
wait

# ---- the summary --------------------------------------------------------------------------
passed=0
failed=0
failures=()
for i in "${!names[@]}"; do
    read -r ok bad <"$root/result$i" 2>/dev/null || { ok=0; bad=1; }
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$bad" -gt 0 ]; then
        failures+=("${names[$i]}")
        echo
        echo "---- ${names[$i]}"
        sed 's/^/      | /' "$root/log$i" | grep -v '^      | \[ RUN \|^      | \[       OK' | tail -n 40
    fi
done
echo
if [ "${#failures[@]}" -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "suites took ${SECONDS}s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
