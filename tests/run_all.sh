#!/usr/bin/env bash
# Runs every test of `make test`: the cmocka binaries given as arguments (the
# release build, then the ASan+UBSan build, each against the matching
# hstprof binary), the end-to-end scripts tests/e2e_*.sh, the engine path
# under valgrind, cppcheck and clang-tidy (the last three when installed).
# Prints one line per suite and closes with "N passed, M failed" (test cases).
set -u
cd "$(dirname "$0")/.."
release_bin=${HSTPROF:-./hstprof}
asan_bin=${HSTPROF_ASAN:-build-asan/hstprof}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export CMOCKA_MESSAGE_OUTPUT=stdout
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
passed=0
failed=0
failures=()

# One suite: counts cmocka's cases when it reports them, else the suite as one case.
run_suite() {
    local name=$1; shift
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    local start=$SECONDS
    timeout 600 "$@" >"$log" 2>&1
    local rc=$?
    local ok bad
    ok=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | tail -n 1)
    bad=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | tail -n 1)
    # The end-to-end scripts close with "N checks, M failed" (tests/lib/e2e.sh).
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
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$bad" -gt 0 ]; then
        failures+=("$name")
        printf 'FAIL  %-44s %3d passed %3d failed  (%ds, exit %d)\n' "$name" "$ok" "$bad" $((SECONDS - start)) "$rc"
        sed 's/^/      | /' "$log" | grep -v '^      | \[ RUN \|^      | \[       OK' | tail -n 40
    else
        printf 'ok    %-44s %3d passed  (%ds)\n' "$name" "$ok" $((SECONDS - start))
    fi
}

for t in "$@"; do
    case "$t" in
        build-asan/*) HSTPROF="$asan_bin" run_suite "$t" env HSTPROF="$asan_bin" "$t" ;;
        *) run_suite "$t" env HSTPROF="$release_bin" "$t" ;;
    esac
done

for e in tests/e2e_*.sh; do
    [ -e "$e" ] || continue
    run_suite "$e" env HSTPROF="$release_bin" HSTPROF_ASAN="$asan_bin" bash "$e"
done

# valgrind (issue 7): the engine path once under memcheck, on the release
# binary (valgrind cannot run an ASan binary). Definite leaks are errors;
# memory still reachable at exit is not. No suppressions are needed.
if command -v valgrind >/dev/null 2>&1; then
    memcheck=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
    run_suite "valgrind run -n 16 --threads 2 --oversubscribe" "${memcheck[@]}" "$release_bin" run -n 16 --threads 2 --oversubscribe --prompt-tokens 1,2,3
    run_suite "valgrind model info tiny-v4" "${memcheck[@]}" "$release_bin" model info tests/golden/tiny-v4.safetensors
fi

if command -v cppcheck >/dev/null 2>&1; then
    run_suite "cppcheck" make --no-print-directory lint
fi

# clang-tidy (issue 7): the checks .clang-tidy names, over every source file.
if command -v clang-tidy >/dev/null 2>&1; then
    run_suite "clang-tidy" make --no-print-directory -j"$(nproc)" tidy
else
    echo "skip  clang-tidy: not installed (Debian package clang-tidy)"
fi

echo
if [ "${#failures[@]}" -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
