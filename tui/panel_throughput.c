/* panel_throughput.c — decode and prefill tokens/s (now, smoothed, over the
 * segment), a history chart, time to first token and per-token latency
 * percentiles, all of the shown segment only. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>

static double history_max(const live_segment_stats *s)
{
    double max = 0;
    for (int i = 0; i < s->history_len; i++)
        if (isfinite(s->history_tok_per_s[i]) && s->history_tok_per_s[i] > max)
            max = s->history_tok_per_s[i];
    return max;
}

/* x, or NaN (shown as FIG_NONE) while there is nothing it could be computed from. */
static double known(int exists, double x)
{
    return exists ? x : NAN;
}

static void rates_rows(const struct draw_ctx *c, struct rect r, int y)
{
    const live_segment_stats *s = &c->view->current;
    int decoded = c->view->has_current && s->decode_tokens > 0, prefilled = c->view->has_current && s->prefills > 0;
    char now[32], smooth[32], seg[32], last[32], mean[32];
    fmt_tok_rate(now, sizeof now, known(decoded, s->decode_tok_per_s_now));
    fmt_tok_rate(smooth, sizeof smooth, known(decoded, s->decode_tok_per_s_smoothed));
    fmt_tok_rate(seg, sizeof seg, known(decoded, s->decode_tok_per_s));
    int x = r.x + draw_text(c, y, r.x, r.w, ROLE_LABEL, "decode  ");
    x += draw_textf(c, y, x, r.x + r.w - x, ROLE_VALUE, "%s tok/s", now);
    draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "  smoothed %s  segment %s", smooth, seg);
    fmt_tok_rate(last, sizeof last, known(prefilled, s->prefill_tok_per_s_last));
    fmt_tok_rate(mean, sizeof mean, known(prefilled, s->prefill_tok_per_s));
    x = r.x + draw_text(c, y + 1, r.x, r.w, ROLE_LABEL, "prefill ");
    x += draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_VALUE, "%s tok/s", last);
    if (prefilled)
        draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_NORMAL, "  mean %s (%d-token prompt x%llu)", mean,
                   s->info.prompt_tokens, (unsigned long long)s->prefills);
    else
        draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_NORMAL, "  mean %s", mean);
}

static void latency_rows(const struct draw_ctx *c, struct rect r, int y)
{
    const live_segment_stats *s = &c->view->current;
    int prefilled = c->view->has_current && s->ttft_count > 0, decoded = c->view->has_current && s->decode_tokens > 0;
    char a[32], b[32], d[32];
    fmt_ms(a, sizeof a, known(prefilled, s->ttft_ms_last));
    fmt_ms(b, sizeof b, known(prefilled, s->ttft_ms_median));
    int x = r.x + draw_text(c, y, r.x, r.w, ROLE_LABEL, "TTFT    ");
    x += draw_text(c, y, x, r.x + r.w - x, ROLE_VALUE, a);
    if (prefilled)
        draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "  median %s of %d", b, s->ttft_count < 64 ? s->ttft_count : 64);
    else
        draw_textf(c, y, x, r.x + r.w - x, ROLE_NORMAL, "  median %s", b);
    fmt_ms(a, sizeof a, known(decoded, s->latency_p50_ms));
    fmt_ms(b, sizeof b, known(decoded, s->latency_p95_ms));
    fmt_ms(d, sizeof d, known(decoded, s->latency_p99_ms));
    x = r.x + draw_text(c, y + 1, r.x, r.w, ROLE_LABEL, "latency ");
    if (r.x + r.w - x >= 40)
        draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_VALUE, "p50 %s  p95 %s  p99 %s", a, b, d);
    else
        draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_VALUE, "p50/95/99 %s/%s/%s", a, b, d);
}

static void throughput_draw(const struct draw_ctx *c, struct rect r)
{
    const live_segment_stats *s = &c->view->current;
    char right[64];
    if (c->view->has_current)
        snprintf(right, sizeof right, "%llu decode tokens", (unsigned long long)s->decode_tokens);
    else
        snprintf(right, sizeof right, FIG_NONE " decode tokens");
    draw_title(c, r, "Throughput", right);
    if (r.h < 2)
        return;
    rates_rows(c, r, r.y + 1);
    int chart_rows = r.h - 5;
    if (chart_rows > 0) {
        double max = history_max(s);
        char label[32];
        fmt_tok_rate(label, sizeof label, known(s->history_len > 0, max));
        int lw = 1 + draw_text(c, r.y + 3, r.x, 7, ROLE_DIM, label);
        lw = lw < 8 ? 8 : lw;
        draw_text(c, r.y + 3 + chart_rows - 1, r.x, 8, ROLE_DIM, chart_rows > 1 && s->history_len > 0 ? "0" : "");
        draw_sparkline(c, r.y + 3, r.x + lw, r.w - lw, chart_rows, s->history_tok_per_s, s->history_len, max);
    }
    if (r.h >= 5)
        latency_rows(c, r, r.y + r.h - 2);
}

const struct panel panel_throughput = {
    .title = "Throughput",
    .place = {.area = AREA_LEFT, .min_rows = 5, .max_rows = 9},
    .draw = throughput_draw,
};
