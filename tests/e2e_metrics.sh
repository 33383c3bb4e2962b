#!/usr/bin/env bash
# e2e_metrics.sh — the Prometheus outputs for real: `promtool check metrics`
# on the textfile-collector file and on the HTTP endpoint of `run --duration`
# and of the dashboard (both binaries); the flags' checks (loopback only
# unless --metrics-allow-remote, --duration for the endpoint, a port in use);
# then a real Prometheus server (Debian's prometheus package) started on
# 127.0.0.1 with a private configuration and data directory in WORK,
# scraping hstprof every second, whose HTTP API must show the token counter
# increasing with the run's labels. Ports: hstprof takes any free one (port
# 0) and says which; Prometheus' is tried until one is free. Everything
# started here is stopped here. One line per check; exit 0 when all passed.
set -u
. "$(dirname "$0")/lib/e2e.sh"

for tool in promtool prometheus curl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "$tool is not installed (make test installs the Debian packages prometheus, curl and jq)"
        e2e_finish
    fi
done

PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -s TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
e2e_at_exit stop_all

# wait_until SECONDS CMD...: polls CMD every 0.1 s; the seconds only bound a hang.
wait_until() {
    local limit=$(($1 * 10)) i
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

url_in() { grep -o 'http://[^ ]*/metrics' "$1" 2>/dev/null | head -n 1; }
has_url() { [ -n "$(url_in "$1")" ]; }
tokens_in() { # the token counter's value in an exposition (0 when absent)
    awk '/^hstprof_tokens_generated_total\{/ {print $2; found=1} END {if (!found) print 0}' "$1" | head -n 1
}
# Scrapes url into file; curl's complaint, if any, goes to file.curl (a
# failed wait then says what the endpoint did instead of only "no tokens").
scraped_tokens() { curl -fsS --max-time 10 "$1" >"$2" 2>"$2.curl" && [ "$(tokens_in "$2")" -gt 0 ]; }
# After a wait for tokens that timed out: what curl said, and the server's stderr.
explain_scrape() { # file, server's stderr
    [ "$(tokens_in "$1")" -gt 0 ] && return
    echo "   no tokens scraped: curl said '$(head -c 300 "$1.curl")', $(wc -c <"$1") bytes;" \
        "the server's stderr: '$(tail -c 300 "$2" | tr '\n' ' ')'"
}

check_exposition() { # label, file
    local out
    out=$(promtool check metrics <"$2" 2>&1)
    check "$1: promtool check metrics passes${out:+ ($out)}" $([ -z "$out" ] && promtool check metrics <"$2" >/dev/null 2>&1; echo $?)
    check "$1: the token counter has the run's labels ($(grep -m1 '^hstprof_tokens_generated_total' "$2" | head -c 200))" \
        $(grep -Eq '^hstprof_tokens_generated_total\{model="hst-v4",mode="causal",precision="f32",kernel="[a-z0-9]+",threads="1",affinity="none",host="[^"]+"\} [1-9]' "$2"; echo $?)
    check "$1: a latency histogram in seconds" $(grep -q '^hstprof_token_latency_seconds_bucket{.*le="+Inf"}' "$2"; echo $?)
}

for bin in "$HSTPROF" ${HSTPROF_ASAN:+"$HSTPROF_ASAN"}; do
    echo "-- $bin"
    # ---- the textfile-collector file of a short soak run
    rm -f "$WORK/run.prom"
    "$bin" run --duration 2 --threads 1 -q --metrics-file "$WORK/run.prom" 2>"$WORK/err"
    check "run --metrics-file: exit 0 ($(head -c 200 "$WORK/err"))" $?
    check_exposition "run --metrics-file" "$WORK/run.prom"
    check "run --metrics-file: no temporary file left" $([ -z "$(ls "$WORK" | grep '\.tmp')" ]; echo $?)

    # ---- the endpoint of a soak run, then Ctrl-C
    "$bin" run --duration 300 --threads 1 -q --metrics-listen 127.0.0.1:0 2>"$WORK/err-listen" &
    pid=$!
    PIDS+=("$pid")
    wait_until 60 has_url "$WORK/err-listen"
    url=$(url_in "$WORK/err-listen")
    check "run --metrics-listen 127.0.0.1:0: says where ($url)" $([ -n "$url" ]; echo $?)
    wait_until 120 scraped_tokens "$url" "$WORK/scrape.txt"
    explain_scrape "$WORK/scrape.txt" "$WORK/err-listen"
    check_exposition "run --metrics-listen" "$WORK/scrape.txt"
    check "the endpoint answers 404 elsewhere" \
        $([ "$(curl -s -o "$WORK/other.body" -w '%{http_code}' "${url%/metrics}/other")" = 404 ]; echo $?)
    # a second server on the same port: one line, exit 1, before any work
    port=${url##*:}
    port=${port%%/*}
    "$bin" run --duration 5 --threads 1 -q --metrics-listen "127.0.0.1:$port" 2>"$WORK/err-busy"
    status=$?
    check "a port in use: exit 1 (got $status)" $([ "$status" -eq 1 ]; echo $?)
    check "a port in use: one line naming the cause" \
        $([ "$(wc -l <"$WORK/err-busy")" -eq 1 ] && grep -q "Address already in use" "$WORK/err-busy"; echo $?)
    kill -s INT "$pid"
    wait "$pid"
    status=$?
    check "run --metrics-listen: Ctrl-C exits 130 (got $status)" $([ "$status" -eq 130 ]; echo $?)

    # ---- the dashboard's endpoint and file (a screen dump: no terminal needed)
    rm -f "$WORK/dash.prom"
    "$bin" dashboard --screen-dump 300 --no-ceilings --threads 1 --metrics-listen :0 \
        --metrics-file "$WORK/dash.prom" >"$WORK/dump.txt" 2>"$WORK/err-dash" &
    pid=$!
    PIDS+=("$pid")
    wait_until 60 has_url "$WORK/err-dash"
    url=$(url_in "$WORK/err-dash")
    wait_until 120 scraped_tokens "$url" "$WORK/dash-scrape.txt"
    explain_scrape "$WORK/dash-scrape.txt" "$WORK/err-dash"
    check_exposition "dashboard --metrics-listen" "$WORK/dash-scrape.txt"
    wait_until 60 test -s "$WORK/dash.prom"
    check_exposition "dashboard --metrics-file" "$WORK/dash.prom"
    kill -s TERM "$pid"
    wait "$pid"

    # ---- the flags' checks, before any work
    expect_2() { # label, args...
        local label=$1 status
        shift
        "$bin" "$@" 2>"$WORK/err-flag" >/dev/null
        status=$?
        check "$label: exit 2, one line (got $status: $(head -c 160 "$WORK/err-flag"))" \
            $([ "$status" -eq 2 ] && [ "$(wc -l <"$WORK/err-flag")" -eq 1 ]; echo $?)
    }
    expect_2 "a non-loopback address without --metrics-allow-remote" run --duration 1 --metrics-listen 0.0.0.0:0
    check "  ... says how to allow it" $(grep -q -- "--metrics-allow-remote" "$WORK/err-flag"; echo $?)
    expect_2 "--metrics-listen without --duration" run -n 8 --metrics-listen 127.0.0.1:0
    expect_2 "--metrics-allow-remote alone" run --duration 1 --metrics-allow-remote
    expect_2 "a malformed address" dashboard --metrics-listen 127.0.0.1
    expect_2 "--metrics-file in a missing directory" run -n 8 --metrics-file "$WORK/missing/x.prom"
done

# ---- a real Prometheus server scraping a soak run every second ------------------------------------
"$HSTPROF" run --duration 600 --threads 1 -q --metrics-listen 127.0.0.1:0 2>"$WORK/err-prom-target" &
target=$!
PIDS+=("$target")
wait_until 60 has_url "$WORK/err-prom-target"
url=$(url_in "$WORK/err-prom-target")
hostport=${url#http://}
hostport=${hostport%/metrics}
mkdir -p "$WORK/prometheus"
cat >"$WORK/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: hstprof
    scrape_interval: 1s
    static_configs:
      - targets: ["$hostport"]
EOF
prom_ready() { curl -fs "http://127.0.0.1:$1/-/ready" >/dev/null; }
prom_port=""
for attempt in $(seq 20); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    rm -rf "$WORK/prometheus/data"
    prometheus --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/prometheus/data" \
        --web.listen-address="127.0.0.1:$p" >"$WORK/prometheus/log" 2>&1 &
    prom=$!
    PIDS+=("$prom")
    # ready, or gone (the port was taken): either ends the wait
    wait_until 60 eval "prom_ready $p || ! kill -0 $prom 2>/dev/null"
    if prom_ready "$p"; then prom_port=$p; break; fi
    wait "$prom" 2>/dev/null
done
check "a Prometheus server started on 127.0.0.1:${prom_port:-?} (private config and data in WORK)" \
    $([ -n "$prom_port" ]; echo $?)

query() { # the token counter as Prometheus has it: "value labels-as-json"
    curl -fs "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=hstprof_tokens_generated_total' |
        jq -c -r '.data.result[0] | select(. != null) | "\(.value[1]) \(.metric | tojson)"'
}
first=""
second=""
increased() {
    local now
    now=$(query) || return 1
    [ -n "$now" ] || return 1
    if [ -z "$first" ]; then first=$now; return 1; fi
    second=$now
    awk -v a="${first%% *}" -v b="${second%% *}" 'BEGIN { exit !(b > a) }'
}
[ -n "$prom_port" ] && wait_until 120 increased
check "Prometheus scraped the token counter: ${first%% *} then ${second%% *}, increasing" \
    $([ -n "$second" ] && awk -v a="${first%% *}" -v b="${second%% *}" 'BEGIN { exit !(b > a) }'; echo $?)
labels=${second#* }
want_host=$(hostname)
check "... with the run's labels ($labels)" $(echo "$labels" | jq -e --arg host "$want_host" \
    '.job == "hstprof" and .model == "hst-v4" and .mode == "causal" and .precision == "f32" and .threads == "1"
     and .affinity == "none" and (.kernel | length > 0) and .host == $host' >/dev/null 2>&1; echo $?)
up=$(curl -fs "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=up{job="hstprof"}' | jq -r '.data.result[0].value[1]')
check "Prometheus sees the target up (up = $up)" $([ "$up" = 1 ]; echo $?)
e2e_finish
