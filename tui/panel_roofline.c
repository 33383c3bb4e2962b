/* panel_roofline.c — achieved bandwidth and compute of decode tokens over
 * the last second (spec 11 bytes and FLOPs per token), against this
 * machine's measured ceilings: the read ceiling of the memory level a
 * token's working set fits in, the FMA peak, the engine's own matmul; and
 * which roof bounds the work. A share is never above 100%: when a ceiling
 * does not apply the panel says why instead. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>

static void pct_bar_row(const struct draw_ctx *c, struct rect r, int y, const char *label, const char *achieved,
                        const probes_metric *pct, const char *of, const char *of_figure)
{
    int x = r.x + draw_textf(c, y, r.x, r.w, ROLE_LABEL, "%-10s", label);
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_VALUE, "%-14s", achieved);
    if (!pct->valid) {
        draw_message(c, y, x, r.x + r.w - x, ROLE_DIM, pct->why_not);
        return;
    }
    int bar_w = (r.x + r.w - x) / 4;
    if (bar_w >= 4) {
        draw_bar(c, y, x, bar_w, pct->value / 100, ROLE_BAR);
        x += bar_w;
    }
    /* "of L3 read 95.5 GB/s", else "of L3 read": the ceiling's name stays with its share */
    char share[160];
    snprintf(share, sizeof share, " %5.1f%% of %s %s\n %5.1f%% of %s", pct->value, of, of_figure, pct->value, of);
    draw_first_fit(c, y, x, r.x + r.w - x, ROLE_NORMAL, share);
}

/* The decode figures the panel shows: the last second, else the segment. */
typedef struct {
    double ns, bytes, flops, tokens;
    int recent;
} decode_window;

static decode_window decode_window_of(const live_segment_stats *s)
{
    int recent = s->recent_decode_ns > 0;
    return (decode_window){.ns = recent ? s->recent_decode_ns : (double)s->decode_ns,
                           .bytes = recent ? s->recent_decode_bytes : s->decode_bytes,
                           .flops = recent ? s->recent_decode_flops : s->decode_flops,
                           .tokens = recent ? s->recent_decode_tokens : (double)s->decode_tokens,
                           .recent = recent};
}

static void roofline_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    const live_segment_stats *s = &v->current;
    decode_window d = decode_window_of(s);
    draw_title(c, r, "Bandwidth & compute", d.recent ? "decode, last second\nlast second" : "decode, segment\nsegment");
    if (r.h < 2)
        return;
    if (d.ns <= 0) {
        draw_text(c, r.y + 1, r.x, r.w, ROLE_DIM, "waiting for decode tokens...");
        return;
    }
    char bw[32], fl[32], of_bw[48], of_fl[48], rate[32];
    fmt_rate(bw, sizeof bw, d.bytes / (d.ns * 1e-9), "B/s");
    fmt_rate(fl, sizeof fl, d.flops / (d.ns * 1e-9), "FLOP/s");
    if (!v->ceilings_ok) {
        draw_textf(c, r.y + 1, r.x, r.w, ROLE_VALUE, "%s  %s", bw, fl);
        char why[sizeof v->ceilings_state + 16];
        snprintf(why, sizeof why, "ceilings: %s", v->ceilings_state);
        draw_wrapped(c, (struct rect){r.y + 2, r.x, r.h - 2, r.w}, ROLE_DIM, why);
        return;
    }
    int threads = s->info.threads > 0 ? s->info.threads : 1;
    double working_set = d.tokens > 0 ? d.bytes / d.tokens : 0;
    probes_roofline rf = probes_roofline_point(&v->ceilings, threads, d.bytes, d.flops, (uint64_t)d.ns, working_set);
    const probes_ceiling_row *row = NULL;
    for (int i = 0; i < v->ceilings.n_rows; i++)
        if (v->ceilings.rows[i].threads == rf.ceiling_threads)
            row = &v->ceilings.rows[i];
    fmt_rate(rate, sizeof rate, rf.level_read_bytes_per_s.valid ? rf.level_read_bytes_per_s.value : NAN, "B/s");
    snprintf(of_bw, sizeof of_bw, "%s read", rf.level);
    fmt_rate(of_fl, sizeof of_fl, row && row->fma_flops_per_s.valid ? row->fma_flops_per_s.value : NAN, "FLOP/s");
    /* No share: the reason is long, so it gets the rows below compute. */
    int why_below = !rf.bandwidth_pct.valid && r.h > 4;
    probes_metric no_share = probes_metric_invalid("no share of a read ceiling (why below)");
    pct_bar_row(c, r, r.y + 1, "bandwidth", bw, why_below ? &no_share : &rf.bandwidth_pct, of_bw, rate);
    if (r.h > 2)
        pct_bar_row(c, r, r.y + 2, "compute", fl, &rf.fma_pct, "FMA peak", of_fl);
    char line[600];
    if (why_below) {
        draw_wrapped(c, (struct rect){r.y + 3, r.x, r.h - 3 - (r.h > 5), r.w}, ROLE_DIM, rf.bandwidth_pct.why_not);
    } else if (r.h > 3 && rf.matmul_pct.valid) {
        snprintf(line, sizeof line, "%-10s%.1f%% of the engine's own matmul peak\n%-10s%.1f%% of own matmul peak", "",
                 rf.matmul_pct.value, "", rf.matmul_pct.value);
        draw_first_fit(c, r.y + 3, r.x, r.w, ROLE_NORMAL, line);
    }
    if (why_below)
        ; /* the reason took these rows */
    else if (r.h > 4 && rf.roofline_pct.valid) {
        double ai = rf.arithmetic_intensity_flops_per_byte.value;
        snprintf(line, sizeof line, "%-10s%.2f FLOP/B: %s-bound, at %.1f%% of its roof\n%-10s%.2f FLOP/B: %s-bound",
                 "intensity", ai, rf.bound, rf.roofline_pct.value, "intensity", ai, rf.bound);
        draw_first_fit(c, r.y + 4, r.x, r.w, ROLE_NORMAL, line);
    } else if (r.h > 4) {
        snprintf(line, sizeof line, "%-10sroof: %s", "intensity", rf.roofline_pct.why_not);
        draw_message(c, r.y + 4, r.x, r.w, ROLE_DIM, line);
    }
    if (r.h > 5) {
        char set[32];
        fmt_bytes(set, sizeof set, rf.working_set_bytes > 0 ? rf.working_set_bytes : NAN);
        snprintf(line, sizeof line, "%s%s%s/token; ceilings %s (%d thread%s, %s)\n%s%s%s/token", rf.level,
                 rf.level[0] ? "-resident: " : "", set, v->ceilings_state, rf.ceiling_threads,
                 rf.ceiling_threads == 1 ? "" : "s", v->ceilings.fma_isa, rf.level, rf.level[0] ? "-resident: " : "",
                 set);
        draw_first_fit(c, r.y + 5, r.x, r.w, ROLE_DIM, line);
    }
}

const struct panel panel_roofline = {
    .title = "Bandwidth & compute",
    .place = {.area = AREA_RIGHT, .min_rows = 3, .max_rows = 6},
    .draw = roofline_draw,
};
