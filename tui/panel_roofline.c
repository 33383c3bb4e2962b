/* panel_roofline.c — achieved bandwidth and compute of decode tokens over
 * the last second (spec 11 bytes and FLOPs per token), against this
 * machine's measured ceilings (STREAM triad, FMA peak, the engine's own
 * matmul), and which roof bounds the work. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>

static void pct_bar_row(const struct draw_ctx *c, struct rect r, int y, const char *label, const char *achieved,
                        const probes_metric *pct, const char *of)
{
    int x = r.x + draw_textf(c, y, r.x, r.w, ROLE_LABEL, "%-10s", label);
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_VALUE, "%-14s", achieved);
    if (!pct->valid) {
        draw_text(c, y, x, r.x + r.w - x, ROLE_DIM, pct->why_not);
        return;
    }
    int bar_w = (r.x + r.w - x) / 4;
    if (bar_w >= 4) {
        draw_bar(c, y, x, bar_w, pct->value / 100, ROLE_BAR);
        x += bar_w;
    }
    /* Above 100% of DRAM bandwidth the bytes come from caches: the model's
     * weights fit in the L3, which the triad deliberately does not. */
    draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, " %5.1f%% of %s%s", pct->value, of,
               pct->value > 100 ? " (cache)" : "");
}

static void roofline_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    const live_segment_stats *s = &v->current;
    int recent = s->recent_decode_ns > 0;
    double ns = recent ? s->recent_decode_ns : (double)s->decode_ns;
    double bytes = recent ? s->recent_decode_bytes : s->decode_bytes;
    double flops = recent ? s->recent_decode_flops : s->decode_flops;
    draw_title(c, r, "Bandwidth & compute", recent ? "decode, last second" : "decode, segment");
    if (r.h < 2)
        return;
    if (ns <= 0) {
        draw_text(c, r.y + 1, r.x, r.w, ROLE_DIM, "waiting for decode tokens...");
        return;
    }
    char bw[32], fl[32], of_bw[48], of_fl[48];
    fmt_rate(bw, sizeof bw, bytes / (ns * 1e-9), "B/s");
    fmt_rate(fl, sizeof fl, flops / (ns * 1e-9), "FLOP/s");
    if (!v->ceilings_ok) {
        draw_textf(c, r.y + 1, r.x, r.w, ROLE_VALUE, "%s  %s", bw, fl);
        if (r.h > 2)
            draw_textf(c, r.y + 2, r.x, r.w, ROLE_DIM, "ceilings: %s", v->ceilings_state);
        return;
    }
    int threads = s->info.threads > 0 ? s->info.threads : 1;
    probes_roofline rf = probes_roofline_point(&v->ceilings, threads, bytes, flops, (uint64_t)ns);
    const probes_ceiling_row *row = NULL;
    for (int i = 0; i < v->ceilings.n_rows; i++)
        if (v->ceilings.rows[i].threads == rf.ceiling_threads)
            row = &v->ceilings.rows[i];
    fmt_rate(of_bw, sizeof of_bw, row && row->triad_bytes_per_s.valid ? row->triad_bytes_per_s.value : NAN, "B/s");
    fmt_rate(of_fl, sizeof of_fl, row && row->fma_flops_per_s.valid ? row->fma_flops_per_s.value : NAN, "FLOP/s");
    pct_bar_row(c, r, r.y + 1, "bandwidth", bw, &rf.bandwidth_pct, of_bw);
    if (r.h > 2)
        pct_bar_row(c, r, r.y + 2, "compute", fl, &rf.fma_pct, of_fl);
    if (r.h > 3 && rf.matmul_pct.valid)
        draw_textf(c, r.y + 3, r.x, r.w, ROLE_NORMAL, "%-10s%.1f%% of the engine's own matmul peak", "", rf.matmul_pct.value);
    if (r.h > 4)
        draw_textf(c, r.y + 4, r.x, r.w, ROLE_NORMAL, "%-10s%.2f FLOP/B: %s-bound, at %.1f%% of its roof",
                   "intensity", rf.arithmetic_intensity_flops_per_byte.value, rf.bound,
                   rf.roofline_pct.valid ? rf.roofline_pct.value : 0.0);
    if (r.h > 5)
        draw_textf(c, r.y + 5, r.x, r.w, ROLE_DIM, "ceilings %s for %d thread%s (%s)", v->ceilings_state,
                   rf.ceiling_threads, rf.ceiling_threads == 1 ? "" : "s", v->ceilings.fma_isa);
}

const struct panel panel_roofline = {
    .title = "Bandwidth & compute",
    .place = {.area = AREA_RIGHT, .min_rows = 3, .max_rows = 6},
    .draw = roofline_draw,
};
