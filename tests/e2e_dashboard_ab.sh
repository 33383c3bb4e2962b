#!/usr/bin/env bash
# e2e_dashboard_ab.sh — the dashboard's setting keys and A/B comparison
# driven for real under tmux: M switches the mode (header, segment row and
# snapshot say which ran), k and w change kernel and precision; an A/B of
# threads 1 vs 2 runs, Tab shows side B's settings in the header, keys that
# cannot apply during it say so, c asks what to keep and keeps side B; the
# verdict is in the snapshot's JSON, CSV and Markdown after the stop, and r
# clears it. One line per check; exit 0 when every check passed.
#
# HSTPROF names the binary (default ./hstprof). Everything waits by polling
# with a time limit, never with a long fixed sleep.
set -u
. "$(dirname "$0")/lib/e2e.sh"
. "$SRC/tests/lib/tmux.sh"

# The newest snapshot's file with SUFFIX (.json, .csv, .md), once it is there.
newest_snapshot() {
    local suffix=$1 f
    f=$(ls -t "$WORK"/hstprof-snapshot-*"$suffix" 2>/dev/null | grep -v '\.trace\.json$' | head -1)
    echo "$f"
}

# snapshot N: presses s and waits for the Nth snapshot's files.
snapshot() {
    local want=$1 n deadline=$((SECONDS + 15))
    "${TMUX_CMD[@]}" send-keys -t ab s
    while [ $SECONDS -lt $deadline ]; do
        n=$(ls "$WORK"/hstprof-snapshot-*.md 2>/dev/null | wc -l)
        if [ "$n" -ge "$want" ] && [ -s "$(newest_snapshot .json)" ]; then return 0; fi
        sleep 0.2
    done
    return 1
}

# The number of the segment the header shows.
segment_shown() { screen_of ab | sed -n 's/.*segment #\([0-9]*\).*/\1/p' | head -1; }

tmux_start ab TERM=xterm-256color -- "\"$HSTPROF\" dashboard --threads 1 --no-ceilings"
if wait_for ab "mode causal" 20 && wait_for ab "state RUNNING" 20; then
    pass "the dashboard runs in causal mode"
else
    fail "the dashboard did not start: $(screen_of ab | head -3)"
fi

# ---- M: the mode at a token boundary, a new segment ----------------------------------------
"${TMUX_CMD[@]}" send-keys -t ab M
if wait_for ab "mode parity" 15 && wait_for ab "segment #1" 10 && wait_for ab "\*#1 .* tok/s .* parity 1T none" 10; then
    pass "M switches to parity: header, a new segment #1 whose row says parity"
else
    fail "M did not switch the mode: $(screen_of ab | head -3)"
fi
if snapshot 1 && jq -e '.mode == "parity" and ([.runs[] | .mode] | index("causal") != null and index("parity") != null)' \
    "$(newest_snapshot .json)" >/dev/null; then
    pass "the snapshot says parity for the running segment and each run its own mode"
else
    fail "the snapshot does not say which mode each segment ran"
fi
"${TMUX_CMD[@]}" send-keys -t ab M
wait_for ab "mode causal" 15 || fail "M did not switch back to causal"

# ---- k and w: kernel and precision from the keyboard ---------------------------------------------
"${TMUX_CMD[@]}" send-keys -t ab w
if wait_for ab "hstprof  hst-v4 bf16 " 30; then pass "w changes the precision to bf16"; else fail "w did not change the precision: $(screen_of ab | head -1)"; fi
"${TMUX_CMD[@]}" send-keys -t ab w w
if wait_for ab "hstprof  hst-v4 f32 " 30; then pass "w cycles back to f32"; else fail "w did not cycle back to f32"; fi
# k until the portable kernel runs (1 to 3 presses, as this CPU allows),
# each press landing in a new segment before the next.
for _ in 1 2 3; do
    seg=$(segment_shown)
    "${TMUX_CMD[@]}" send-keys -t ab k
    wait_for ab "segment #$((seg + 1))( |$)" 30 || break
    screen_of ab | grep -q "kernel portable" && break
done
if screen_of ab | grep -q "kernel portable"; then pass "k reaches the portable kernel"; else fail "k never showed kernel portable"; fi
"${TMUX_CMD[@]}" send-keys -t ab k
if wait_for ab "kernel (avx512|avx2)  " 15; then pass "k goes round to auto (a SIMD kernel in use)"; else fail "k did not go back to auto"; fi

# ---- the A/B: threads 1 vs 2 ------------------------------------------------------------------------
"${TMUX_CMD[@]}" send-keys -t ab c
wait_for ab "A/B compare: Enter starts" 5 || fail "c did not open the A/B chooser"
"${TMUX_CMD[@]}" send-keys -t ab Enter
if wait_for ab "threads 1 vs 2, 32 tok/round" 10 && wait_for ab "B/A [0-9.]+ " 60; then
    pass "A/B threads 1 vs 2 runs and gives a ratio"
else
    fail "A/B did not reach a ratio: $(screen_of ab | grep -A4 'A/B compare')"
fi
if wait_for ab "segment tok/s include" 5; then pass "the A/B panel says what the segment averages include"; else fail "no note on the A/B panel"; fi
"${TMUX_CMD[@]}" send-keys -t ab Tab
if wait_for ab "segment #[0-9]+ \(side B\)" 5 && wait_for ab "threads 2/" 5; then
    pass "Tab: the header shows side B's threads"
else
    fail "Tab: the header does not show side B's settings: $(screen_of ab | head -2)"
fi
"${TMUX_CMD[@]}" send-keys -t ab a
if wait_for ab "affinity: not changed during an A/B comparison" 5; then
    pass "a during the A/B says it changes nothing"
else
    fail "a during the A/B: $(screen_of ab | tail -1)"
fi
"${TMUX_CMD[@]}" send-keys -t ab +
if wait_for ab "threads: not changed during an A/B comparison" 5; then pass "+ during the A/B says so too"; else fail "+ during the A/B: $(screen_of ab | tail -1)"; fi

"${TMUX_CMD[@]}" send-keys -t ab c
if wait_for ab "stop the A/B comparison: Enter stops" 5 && wait_for ab "keep side B +2 threads" 2 &&
    wait_for ab "before = side A 1 thread" 2; then
    pass "c during the A/B asks what to keep (A, B, or the setting from before)"
else
    fail "c during the A/B did not ask what to keep"
fi
"${TMUX_CMD[@]}" send-keys -t ab Up Enter # from "back to before" up to "keep side B"
if wait_for ab "stopped, kept B" 10 && wait_for ab "threads 2/" 10 && wait_for ab "B/A [0-9.]+ " 5; then
    pass "keeping B: threads 2 run on, the verdict stays on the panel"
else
    fail "keeping B: $(screen_of ab | head -2)"
fi

if snapshot 2; then
    json=$(newest_snapshot .json) csv=$(newest_snapshot .csv) md=$(newest_snapshot .md)
    if jq -e '.ab.state == "stopped" and .ab.kept == "B" and .ab.a.threads == 1 and .ab.b.threads == 2 and
              (.ab.ratio_b_over_a | type) == "number" and (.ab.a_median_tok_per_s | type) == "number" and
              .ab.rounds_a >= 6' "$json" >/dev/null; then
        pass "after the stop the snapshot JSON keeps the verdict (both settings, medians, ratio, rounds)"
    else
        fail "the snapshot JSON after the stop: $(jq -c .ab "$json")"
    fi
    verdict=$(jq -r .ab.verdict "$json")
    if head -1 "$csv" | grep -q 'ab\.ratio_b_over_a' && grep -qF -- "$verdict" "$csv"; then
        pass "the snapshot CSV has the A/B columns and the verdict"
    else
        fail "the snapshot CSV lacks the A/B verdict"
    fi
    if grep -q '^## A/B Comparison' "$md" && grep -qF -- "$verdict" "$md" &&
        grep -q -- '- State: \*\*stopped\*\*; kept: \*\*side B\*\*' "$md"; then
        pass "the snapshot Markdown has the A/B section with the verdict"
    else
        fail "the snapshot Markdown lacks the A/B section"
    fi
else
    fail "s after the stop wrote no snapshot"
fi

"${TMUX_CMD[@]}" send-keys -t ab r
if wait_for ab "press c to compare two settings" 10; then pass "r clears the stopped verdict"; else fail "r did not clear the verdict"; fi
if snapshot 3 && jq -e '.ab == null and (.ab_why_not | length) > 0' "$(newest_snapshot .json)" >/dev/null; then
    pass "after r the snapshot has no A/B verdict, and says why"
else
    fail "after r the snapshot still has an A/B object"
fi

"${TMUX_CMD[@]}" send-keys -t ab q
status=$(exit_status ab)
if [ "$status" = 0 ]; then pass "q: exit status 0"; else fail "q: exit status $status"; fi

e2e_finish
