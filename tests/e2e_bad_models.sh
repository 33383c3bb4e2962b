#!/usr/bin/env bash
# e2e_bad_models.sh — issue 7's bad model files through the real binaries: each
# malformed-file class is rejected by `hstprof model info` (and a few by
# `hstprof run`) with exit status 1, exactly one line on stderr naming the
# file and the class (spec 9.4), nothing on stdout, and — for the ASan+UBSan
# binary — no sanitizer report (a report is more stderr and another status).
# NaN/Inf weights warn in one line and load; --strict-weights rejects them.
# A 2 GiB sparse file fails without being read (in well under the time limit).
#
# The files are the fuzzer's committed seeds (tests/fuzz/corpus/safetensors,
# written by tests/fuzz/make_seeds.py) plus a few made here. HSTPROF and
# HSTPROF_ASAN name the binaries (default ./hstprof, build-asan/hstprof; a
# missing ASan binary is skipped). One line per check; exit 0 when all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"
SEEDS=$SRC/tests/fuzz/corpus/safetensors

# run BIN ARGS...: status, stdout and stderr into $status, $WORK/out, $WORK/err.
run() {
    timeout 120 "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
    status=$?
}

lines() { wc -l <"$1" | tr -d ' '; }

# expect_rejected LABEL PREFIX CLASS: after run, status 1, stdout empty, one
# stderr line starting with "PREFIX: CLASS: ".
expect_rejected() {
    local label=$1 prefix=$2 class=$3
    local first
    first=$(head -n 1 "$WORK/err")
    if [ "$status" -eq 1 ] && [ "$(lines "$WORK/err")" -eq 1 ] && [ ! -s "$WORK/out" ] &&
        [[ "$first" == "$prefix: $class: "* ]]; then
        pass "$label: exit 1, one line: ${first:0:110}"
    else
        fail "$label: expected exit 1 and one line \"$prefix: $class: ...\"; got exit $status," \
            "$(lines "$WORK/err") stderr lines, $(wc -c <"$WORK/out") stdout bytes; stderr starts: ${first:0:200}"
        sed 's/^/      | /' "$WORK/err" | head -n 20
    fi
}

# seed file -> the class of spec 9.4 it must be rejected with
CLASSES=(
    "empty:truncated"
    "seven-bytes:truncated"
    "header-length-beyond-file:truncated"
    "header-too-large:header too large"
    "header-not-json:bad header"
    "header-array:bad header"
    "header-not-utf8:bad header"
    "duplicate-key:bad header"
    "entry-extra-key:bad header"
    "negative-shape:bad header"
    "metadata-not-strings:bad header"
    "header-empty-object:bad metadata"
    "metadata-absent:bad metadata"
    "metadata-unknown-arch:bad metadata"
    "metadata-preset-mismatch:bad metadata"
    "metadata-huge-model:bad metadata"
    "unknown-dtype:unsupported dtype"
    "i64-weight:unsupported dtype"
    "offsets-overlap:bad offsets"
    "offsets-begin-after-end:bad offsets"
    "offsets-not-integers:bad offsets"
    "offsets-size-mismatch:bad offsets"
    "trailing-unused-bytes:bad offsets"
    "offsets-past-data:truncated"
    "data-cut-short:truncated"
    "missing-tensor:missing tensor"
    "unexpected-tensor:unexpected tensor"
    "wrong-shape:wrong shape"
    "huge-shape:wrong shape"
    "metadata-contradicts-shapes:wrong shape"
    "bad-spine:bad spine"
)

# Files made here rather than committed: a 2 GiB sparse file (a valid model
# followed by holes: "unused bytes at the end", decided from the header and
# the file size), and a preset's file with one shape changed.
make_files() {
    local bin=$1
    cp "$SEEDS/tiny-v4.safetensors" "$WORK/sparse-2gib.safetensors"
    truncate -s 2G "$WORK/sparse-2gib.safetensors"
    run "$bin" model init --preset hst-v4 -o "$WORK/hst-v4.safetensors"
    if [ "$status" -ne 0 ]; then
        fail "model init --preset hst-v4 failed (exit $status): $(head -n 1 "$WORK/err")"
        return
    fi
    # Same length, so the header length stays right: [5000,128] -> [5000,127].
    perl -0777 -pe 's/("token_embedding\.weight":\{"dtype":"F32","shape":\[5000,)128\]/${1}127]/' \
        "$WORK/hst-v4.safetensors" >"$WORK/preset-wrong-shape.safetensors"
    # A NaN (f32 0x7fc00000) over the first weight of the first tensor.
    local header_len
    header_len=$(od -An -tu8 -N8 "$WORK/hst-v4.safetensors" | tr -d ' ')
    cp "$WORK/hst-v4.safetensors" "$WORK/preset-nan.safetensors"
    printf '\x00\x00\xc0\x7f' | dd of="$WORK/preset-nan.safetensors" bs=1 seek=$((8 + header_len)) conv=notrunc status=none
}

check_binary() {
    local which=$1 bin=$2
    for entry in "${CLASSES[@]}"; do
        local name=${entry%%:*} class=${entry#*:}
        run "$bin" model info "$SEEDS/$name"
        expect_rejected "$which model info $name" "hstprof model info: $SEEDS/$name" "$class"
    done

    make_files "$bin"
    local start=$SECONDS
    run "$bin" model info "$WORK/sparse-2gib.safetensors"
    expect_rejected "$which model info sparse-2gib ($((SECONDS - start)) s)" \
        "hstprof model info: $WORK/sparse-2gib.safetensors" "bad offsets"
    run "$bin" model info "$WORK/preset-wrong-shape.safetensors"
    expect_rejected "$which model info preset-wrong-shape" \
        "hstprof model info: $WORK/preset-wrong-shape.safetensors" "wrong shape"

    # The commands that run a model report the same line, prefixed with the command.
    for entry in "data-cut-short:truncated" "header-not-json:bad header" "offsets-overlap:bad offsets"; do
        local name=${entry%%:*} class=${entry#*:}
        run "$bin" run --model "$SEEDS/$name" -n 1 --threads 1 --no-probes
        expect_rejected "$which run $name" "hstprof run: $SEEDS/$name" "$class"
    done

    # NaN/Inf weights: a one-line warning by default, a one-line error under --strict-weights.
    local warning="hstprof model info: warning: $SEEDS/nan-weight: non-finite weights: 1 NaN/Inf values, the first in tensor token_embedding.weight (--strict-weights rejects such a file)"
    run "$bin" model info "$SEEDS/nan-weight"
    if [ "$status" -eq 0 ] && [ "$(lines "$WORK/err")" -eq 1 ] && [ "$(cat "$WORK/err")" = "$warning" ] &&
        grep -q '^preset' "$WORK/out"; then
        pass "$which model info nan-weight: exit 0, one warning line"
    else
        fail "$which model info nan-weight: expected exit 0 and the line \"$warning\"; got exit $status: $(head -c 300 "$WORK/err")"
    fi
    for name in nan-weight inf-weight; do
        run "$bin" model info --strict-weights "$SEEDS/$name"
        expect_rejected "$which model info --strict-weights $name" "hstprof model info: $SEEDS/$name" \
            "non-finite weights"
    done
    if [ -f "$WORK/preset-nan.safetensors" ]; then
        run "$bin" run --model "$WORK/preset-nan.safetensors" --prompt-tokens 1,2,3 -n 2 --threads 1 --no-probes -q
        if [ "$status" -eq 0 ] && [ "$(grep -c 'warning: .*non-finite weights: 1 NaN/Inf values' "$WORK/err")" -eq 1 ]; then
            pass "$which run preset-nan: exit 0, one warning line"
        else
            fail "$which run preset-nan: expected exit 0 and one warning line; got exit $status: $(head -c 300 "$WORK/err")"
        fi
        run "$bin" run --strict-weights --model "$WORK/preset-nan.safetensors" --prompt-tokens 1,2,3 -n 2 --threads 1 --no-probes -q
        expect_rejected "$which run --strict-weights preset-nan" "hstprof run: $WORK/preset-nan.safetensors" \
            "non-finite weights"
    fi
    # The valid seeds still load, strict or not (the checks above can tell a
    # rejection from a crash, these tell the checks from "reject everything").
    for name in tiny-v4.safetensors tiny-v61-extras.safetensors offsets-permuted-valid; do
        run "$bin" model info --strict-weights "$SEEDS/$name"
        if [ "$status" -eq 0 ] && [ ! -s "$WORK/err" ]; then
            pass "$which model info --strict-weights $name: loads"
        else
            fail "$which model info --strict-weights $name: exit $status: $(head -c 300 "$WORK/err")"
        fi
    done
}

check_binary release "$HSTPROF"
if [ -x "${HSTPROF_ASAN:-$SRC/build-asan/hstprof}" ]; then
    check_binary asan "${HSTPROF_ASAN:-$SRC/build-asan/hstprof}"
else
    echo "skip  asan: no ${HSTPROF_ASAN:-$SRC/build-asan/hstprof}"
fi
e2e_finish
