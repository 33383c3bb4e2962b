#!/usr/bin/env bash
# e2e_plots.sh — the SVG plots and the JSON trace as the commands write
# them, parsed back: xmllint (libxml2) on the committed examples and on the
# plots of `run --export notes.md`, `bench -o report.md` and a prefill-only
# run (a plot that says why it has no data); the Markdown shows the plots
# beside it; `run --trace FILE.json` is JSON with trace events (jq). The
# structure of plots and traces is checked in test_plots and
# test_trace_events. Both binaries; one line per check; exit 0 when all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

for tool in xmllint jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "$tool is not installed (make test installs the Debian packages libxml2-utils and jq)"
        e2e_finish
    fi
done

well_formed() { # label, files...
    local label=$1 out
    shift
    out=$(xmllint --noout "$@" 2>&1)
    check "$label: well-formed XML (xmllint)${out:+: $out}" $([ -z "$out" ]; echo $?)
}

for f in "$SRC"/exports/examples/*.svg; do
    well_formed "example $(basename "$f")" "$f"
done

for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    dir=$(mktemp -d "$WORK/out-XXXXXX")
    "$bin" run -n 48 --threads 1 -q --export "$dir/notes.md" --trace "$dir/trace.json" 2>"$WORK/err"
    check "run --export notes.md --trace trace.json: exit 0 ($(head -c 200 "$WORK/err"))" $?
    check "the notes' plots are beside them" $([ -s "$dir/notes-latency.svg" ] && [ -s "$dir/notes-throughput.svg" ]; echo $?)
    well_formed "notes-latency.svg" "$dir/notes-latency.svg"
    well_formed "notes-throughput.svg" "$dir/notes-throughput.svg"
    check "the notes show both plots" $(grep -q '](notes-latency.svg)' "$dir/notes.md" &&
        grep -q '](notes-throughput.svg)' "$dir/notes.md"; echo $?)
    check "the latency plot marks p50, p95 and p99" $(grep -q '>p50 ' "$dir/notes-latency.svg" &&
        grep -q '>p95 ' "$dir/notes-latency.svg" && grep -q '>p99 ' "$dir/notes-latency.svg"; echo $?)
    check "trace.json: trace events with a forward slice per call (jq)" \
        $(jq -e '[.traceEvents[] | select(.name == "forward" and .ph == "X")] | length == 48' "$dir/trace.json" >/dev/null; echo $?)

    "$bin" bench --models hst-v4,hst-v6.1 --seq 16,32 --threads 1 --warmup 0 --runs 1 -o "$dir/report.md" 2>"$WORK/err"
    check "bench -o report.md: exit 0 ($(head -c 200 "$WORK/err"))" $?
    well_formed "report.svg" "$dir/report.svg"
    check "the report shows its plot" $(grep -q '](report.svg)' "$dir/report.md"; echo $?)
    check "a line per model" $([ "$(grep -c '<polyline' "$dir/report.svg")" -eq 2 ]; echo $?)
    "$bin" bench --models hst-v4 --seq 16 --threads 1 --warmup 0 --runs 1 --format csv -o "$dir/report.csv" 2>/dev/null
    check "bench -o report.csv: no plot (CSV has no place to show it)" $([ ! -e "$dir/report.svg.csv" ] &&
        [ "$(ls "$dir" | grep -c '\.svg$')" -eq 3 ]; echo $?)

    "$bin" run -n 0 --threads 1 -q --export "$dir/prefill.md" 2>/dev/null
    well_formed "a prefill-only run's plots" "$dir/prefill-latency.svg" "$dir/prefill-throughput.svg"
    check "a plot without data says why" $(grep -q '>unavailable: prefill only (-n 0)<' "$dir/prefill-latency.svg"; echo $?)
    check "no temporary file left" $([ -z "$(ls "$dir" | grep '\.tmp')" ]; echo $?)
done
e2e_finish
