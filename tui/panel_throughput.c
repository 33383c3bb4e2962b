/* panel_throughput.c — decode and prefill tokens/s (now, smoothed, over the
 * segment), a history chart, time to first token and per-token latency
 * percentiles, all of the shown segment only. */
#include "tui/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The chart's scale: the 95th percentile of the points it shows, so one
 * outlier (the first tokens, a hiccup) does not flatten the rest; points
 * above it are drawn clipped and marked. */
static double robust_max(const double *values, int n)
{
    double sorted[LIVE_HISTORY];
    int k = 0;
    for (int i = 0; i < n && k < LIVE_HISTORY; i++)
        if (isfinite(values[i]) && values[i] > 0)
            sorted[k++] = values[i];
    if (k == 0)
        return 0;
    qsort(sorted, (size_t)k, sizeof sorted[0], compare_doubles);
    return sorted[(int)ceil(0.95 * k) - 1]; /* nearest rank */
}

/* Wall time the shown points cover: from the end of the point before the
 * first shown (a point is LIVE_HISTORY_NS long at least) to the last. */
static double shown_span_s(const live_segment_stats *s, int first)
{
    if (s->history_len <= first)
        return 0;
    uint64_t end = s->history_end_ns[s->history_len - 1];
    uint64_t start = first > 0 ? s->history_end_ns[first - 1] : s->history_end_ns[first] - LIVE_HISTORY_NS;
    return (double)(end - start) * 1e-9;
}

static void fmt_span(char *buf, size_t len, double seconds)
{
    if (seconds < 120)
        snprintf(buf, len, "%.0f s", seconds);
    else
        snprintf(buf, len, "%.0f min", seconds / 60);
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
    char field[64];
    snprintf(field, sizeof field, "%s tok/s", now);
    int x = r.x + draw_labeled(c, y, r.x, r.w, "decode  ", ROLE_VALUE, field);
    x += draw_labeled(c, y, x, r.x + r.w - x, "  smoothed ", ROLE_NORMAL, smooth);
    draw_labeled(c, y, x, r.x + r.w - x, "  segment ", ROLE_NORMAL, seg);
    fmt_tok_rate(last, sizeof last, known(prefilled, s->prefill_tok_per_s_last));
    fmt_tok_rate(mean, sizeof mean, known(prefilled, s->prefill_tok_per_s));
    snprintf(field, sizeof field, "%s tok/s", last);
    x = r.x + draw_labeled(c, y + 1, r.x, r.w, "prefill ", ROLE_VALUE, field);
    x += draw_labeled(c, y + 1, x, r.x + r.w - x, "  mean ", ROLE_NORMAL, mean);
    if (prefilled)
        draw_textf(c, y + 1, x, r.x + r.w - x, ROLE_NORMAL, " (%d-token prompt x%llu)", s->info.prompt_tokens,
                   (unsigned long long)s->prefills);
}

/* p50, p95 and p99 in one unit, or FIG_NONE. */
static void fmt_percentiles(char *buf, size_t len, const live_segment_stats *s, int decoded)
{
    if (!decoded) {
        snprintf(buf, len, "%s/%s/%s", FIG_NONE, FIG_NONE, FIG_NONE);
        return;
    }
    double scale = s->latency_p99_ms >= 1000 ? 1e-3 : s->latency_p50_ms < 0.1 ? 1e3 : 1;
    const char *unit = scale < 1 ? "s" : scale > 1 ? "us" : "ms";
    snprintf(buf, len, "%.3g/%.3g/%.3g %s", s->latency_p50_ms * scale, s->latency_p95_ms * scale,
             s->latency_p99_ms * scale, unit);
}

static void latency_rows(const struct draw_ctx *c, struct rect r, int y)
{
    const live_segment_stats *s = &c->view->current;
    int prefilled = c->view->has_current && s->ttft_count > 0, decoded = c->view->has_current && s->decode_tokens > 0;
    char a[32], b[32], d[32], all[64], fields[400];
    fmt_ms(a, sizeof a, known(prefilled, s->ttft_ms_last));
    fmt_ms(b, sizeof b, known(prefilled, s->ttft_ms_median));
    int x = r.x + draw_labeled(c, y, r.x, r.w, "TTFT    ", ROLE_VALUE, a);
    if (prefilled)
        snprintf(fields, sizeof fields, "  median %s of %d\n  median %s", b, s->ttft_count < 64 ? s->ttft_count : 64, b);
    else
        snprintf(fields, sizeof fields, "  median %s", b);
    draw_first_fit(c, y, x, r.x + r.w - x, ROLE_NORMAL, fields);
    fmt_ms(a, sizeof a, known(decoded, s->latency_p50_ms));
    fmt_ms(b, sizeof b, known(decoded, s->latency_p95_ms));
    fmt_ms(d, sizeof d, known(decoded, s->latency_p99_ms));
    fmt_percentiles(all, sizeof all, s, decoded);
    x = r.x + draw_text(c, y + 1, r.x, r.w, ROLE_LABEL, "latency ");
    snprintf(fields, sizeof fields, "p50 %s  p95 %s  p99 %s\np50/95/99 %s\np99 %s", a, b, d, all, d);
    draw_first_fit(c, y + 1, x, r.x + r.w - x, ROLE_VALUE, fields);
}

static void chart(const struct draw_ctx *c, struct rect r, int y, int rows)
{
    const live_segment_stats *s = &c->view->current;
    const int label_w = 8, chart_w = r.w - label_w;
    if (chart_w <= 0)
        return;
    int first = s->history_len > chart_w ? s->history_len - chart_w : 0;
    double max = robust_max(s->history_tok_per_s + first, s->history_len - first);
    char label[32];
    fmt_tok_rate(label, sizeof label, known(s->history_len > 0, max));
    draw_text(c, y, r.x, label_w - 1, ROLE_DIM, label);
    if (rows > 2 && s->history_len > 0)
        draw_text(c, y + 1, r.x, label_w - 1, ROLE_DIM, "tok/s");
    if (rows > 1 && s->history_len > 0)
        draw_text(c, y + rows - 1, r.x, label_w - 1, ROLE_DIM, "0");
    draw_sparkline(c, y, r.x + label_w, chart_w, rows, s->history_tok_per_s, s->history_len, max);
}

/* "chart: last 60 s, 1234 decode tokens", the span alone when narrow. */
static void throughput_title(const struct draw_ctx *c, struct rect r)
{
    const live_segment_stats *s = &c->view->current;
    char tokens[32], span[32], right[320];
    if (c->view->has_current)
        snprintf(tokens, sizeof tokens, "%llu", (unsigned long long)s->decode_tokens);
    else
        snprintf(tokens, sizeof tokens, FIG_NONE);
    int chart_w = r.w - 8, first = s->history_len > chart_w ? s->history_len - chart_w : 0;
    if (r.h > 5 && s->history_len > 0) {
        fmt_span(span, sizeof span, shown_span_s(s, first));
        snprintf(right, sizeof right, "chart: last %s, %s decode tokens\nchart: last %s", span, tokens, span);
    } else
        snprintf(right, sizeof right, "%s decode tokens\n%s tokens", tokens, tokens);
    draw_title(c, r, "Throughput", right);
}

static void throughput_draw(const struct draw_ctx *c, struct rect r)
{
    throughput_title(c, r);
    if (r.h < 2)
        return;
    rates_rows(c, r, r.y + 1);
    if (r.h > 5)
        chart(c, r, r.y + 3, r.h - 5);
    if (r.h >= 5)
        latency_rows(c, r, r.y + r.h - 2);
}

const struct panel panel_throughput = {
    .title = "Throughput",
    .place = {.area = AREA_LEFT, .min_rows = 5, .max_rows = 9},
    .draw = throughput_draw,
};
