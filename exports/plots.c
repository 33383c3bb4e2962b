/* plots.c — the reports' pictures as SVG, from the same JSON objects the
 * reports render from: the bench report's tokens/s against sequence length
 * (a line per model, a panel per thread count), and a run's or snapshot's
 * per-token latency distribution (log-scaled, p50/p95/p99 marked) and
 * tokens/s over time (setting changes marked). Same data, same bytes. */
#include "exports/internal.h"
#include "exports/svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_W 380
#define PANEL_H 300
#define LEFT 78
#define TOP 74
#define BOTTOM 58
#define LEGEND_W 190
#define MAX_PANELS 8

/* ---- the bench report: tokens/s against sequence length -------------------------------------- */

static double bench_max_tps(const json_t *report)
{
    double top = 0;
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (ex_num(r, "tps_median") > top)
            top = ex_num(r, "tps_median");
    }
    return top;
}

static void seq_range(const json_t *report, double *lo, double *hi)
{
    size_t i;
    const json_t *s;
    *lo = INFINITY, *hi = 0;
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, s)
    {
        double v = json_number_value(s);
        *lo = v < *lo ? v : *lo;
        *hi = v > *hi ? v : *hi;
    }
    if (!isfinite(*lo))
        *lo = 1, *hi = 2;
}

/* Past the palette's colours, lines are dashed and points square. */
static void marker(FILE *f, double x, double y, int series)
{
    int colour = series % SVG_SERIES_COLOURS;
    if (series / SVG_SERIES_COLOURS % 2)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" class=\"p%d\"/>\n", x - 3.5, y - 3.5, colour);
    else
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" class=\"p%d\"/>\n", x, y, colour);
}

static const char *dash_of(int series)
{
    return series / SVG_SERIES_COLOURS % 2 ? " dash" : "";
}

/* One model's line in one panel: its runs at this thread count, by sequence length. */
static void model_line(FILE *f, const json_t *report, const char *model, int threads, int series, const svg_scale *x,
                       const svg_scale *y)
{
    size_t i, j;
    const json_t *s, *r;
    char points[8192] = "";
    size_t used = 0;
    fprintf(f, "<g>\n");
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, s)
    {
        json_array_foreach(json_object_get(report, "runs"), j, r)
        {
            if (strcmp(ex_str(r, "model"), model) != 0 || (threads > 0 && (int)ex_num(r, "threads") != threads) ||
                ex_num(r, "seq_len") != json_number_value(s) || !isfinite(ex_num(r, "tps_median")))
                continue;
            double px = svg_px(x, json_number_value(s)), py = svg_px(y, ex_num(r, "tps_median"));
            int n = snprintf(points + used, sizeof points - used, "%s%.1f,%.1f", used ? " " : "", px, py);
            if (n > 0 && (size_t)n < sizeof points - used)
                used += (size_t)n;
            marker(f, px, py, series);
        }
    }
    if (used)
        fprintf(f, "<polyline class=\"line l%d%s\" points=\"%s\"/>\n", series % SVG_SERIES_COLOURS, dash_of(series),
                points);
    fprintf(f, "</g>\n");
}

static void legend_entry(FILE *f, double x, double y, int series, const char *text)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"line l%d%s\"/>\n", x, y - 4, x + 22,
            y - 4, series % SVG_SERIES_COLOURS, dash_of(series));
    marker(f, x + 11, y - 4, series);
    svg_text(f, x + 28, y, "start", "fg", 0, text);
}

/* The sequence lengths are the x ticks; the axis reaches a little past them. */
static void bench_panel(FILE *f, const json_t *report, int threads, double x0, const svg_scale *y_shared)
{
    double seq[64], lo, hi;
    int n_seq = 0;
    size_t i;
    const json_t *m, *v;
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, v)
    {
        if (n_seq < 64)
            seq[n_seq++] = json_number_value(v);
    }
    seq_range(report, &lo, &hi);
    svg_scale x = {SVG_LOG2, lo / 1.25, hi * 1.25, x0 + LEFT, x0 + LEFT + PANEL_W, seq, n_seq}, y = *y_shared;
    svg_axes(f, &x, &y, "sequence length (tokens, log scale)", "prefill tokens/s");
    char title[64];
    snprintf(title, sizeof title, "%d thread%s", threads, threads == 1 ? "" : "s");
    if (threads > 0) /* a report without thread counts (the published one) has one untitled panel */
        svg_text(f, x0 + LEFT + PANEL_W / 2.0, TOP - 8, "middle", "fg", 0, title);
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        model_line(f, report, ex_str(m, "name"), threads, (int)i, &x, &y);
    }
}

char *export_bench_plot_svg(const json_t *report)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    const json_t *threads = json_object_get(json_object_get(report, "settings"), "threads");
    int panels = (int)json_array_size(threads);
    panels = panels < 1 ? 1 : panels > MAX_PANELS ? MAX_PANELS : panels;
    int width = panels * (LEFT + PANEL_W + 20) + LEGEND_W, height = TOP + PANEL_H + BOTTOM;
    const json_t *models = json_object_get(report, "models");
    if ((int)json_array_size(models) * 20 + TOP + 20 > height)
        height = (int)json_array_size(models) * 20 + TOP + 20;
    svg_begin(t.f, width, height, "Prefill tokens/s against sequence length");
    char subtitle[400];
    snprintf(subtitle, sizeof subtitle, "median of %d timed runs per point; kernel %s, weights %s; %.120s",
             (int)ex_num(json_object_get(report, "settings"), "runs"), ex_str(report, "kernel"),
             *ex_str(report, "precision") ? ex_str(report, "precision") : "f32", ex_str(report, "machine"));
    svg_text(t.f, 16, 24, "start", "title", 0, "Prefill tokens/s against sequence length");
    svg_text(t.f, 16, 42, "start", "muted", 0, subtitle);
    svg_scale y = {SVG_LINEAR, 0, 0, TOP + PANEL_H, TOP, NULL, 0};
    svg_nice(&y, 0, bench_max_tps(report));
    for (int p = 0; p < panels; p++) {
        const json_t *n = json_array_get(threads, (size_t)p);
        bench_panel(t.f, report, n ? (int)json_integer_value(n) : 0, p * (LEFT + PANEL_W + 20.0), &y);
    }
    double lx = panels * (LEFT + PANEL_W + 20.0) + 10;
    size_t i;
    const json_t *m;
    json_array_foreach(models, i, m)
    {
        legend_entry(t.f, lx, TOP + 14 + 20.0 * (double)i, (int)i, ex_str(m, "name"));
    }
    svg_end(t.f);
    return ex_text_close(&t);
}

/* ---- the latency distribution --------------------------------------------------------------- */

#define LAT_W 640
#define LAT_H 300
#define MAX_BINS 40

typedef struct {
    int n;
    double lo_ms[MAX_BINS], hi_ms[MAX_BINS], count[MAX_BINS];
    double total, top;
} bins;

/* The log-bucketed histogram (snapshot["latency_histogram"]) regrouped into
 * at most MAX_BINS bars of equal width on the log axis. 0, or -1 when empty. */
static int latency_bins(const json_t *h, bins *out)
{
    const json_t *counts = json_object_get(h, "counts");
    double lowest = ex_num(h, "lowest_ns"), growth = ex_num(h, "growth"), first = ex_num(h, "first_bucket");
    size_t n = json_array_size(counts);
    memset(out, 0, sizeof *out);
    if (n == 0 || !(lowest > 0) || !(growth > 1) || !(first >= 0))
        return -1;
    size_t group = (n + MAX_BINS - 1) / MAX_BINS;
    for (size_t b = 0; b < n; b++) {
        size_t k = b / group;
        double c = json_number_value(json_array_get(counts, b));
        if ((int)k >= out->n) {
            out->n = (int)k + 1;
            out->lo_ms[k] = lowest * pow(growth, first + (double)b) / 1e6;
        }
        out->hi_ms[k] = lowest * pow(growth, first + (double)b + 1) / 1e6;
        out->count[k] += c;
        out->total += c;
    }
    for (int k = 0; k < out->n; k++)
        out->top = out->count[k] > out->top ? out->count[k] : out->top;
    return out->total > 0 ? 0 : -1;
}

static void percentile_mark(FILE *f, const json_t *snap, const char *key, const char *name, int k, const svg_scale *x,
                            const svg_scale *y)
{
    char path[64], why[EX_WHY_MAX], text[64], cls[8];
    double ms;
    snprintf(path, sizeof path, "latency.%s", key);
    if (!ex_number(snap, path, &ms, why, sizeof why) || !(ms >= x->lo && ms <= x->hi))
        return;
    double px = svg_px(x, ms);
    snprintf(cls, sizeof cls, "m%d", k);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\" stroke-width=\"2\"/>\n", px, y->px_lo,
            px, y->px_hi - 4 - 14.0 * k, cls);
    snprintf(text, sizeof text, "%s %.3f ms", name, ms);
    snprintf(cls, sizeof cls, "t%d", k);
    svg_text(f, px + 4, y->px_hi - 8 - 14.0 * k, "start", cls, 0, text);
}

char *export_latency_plot_svg(const json_t *snapshot)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    bins b;
    int have = latency_bins(json_object_get(snapshot, "latency_histogram"), &b) == 0;
    int width = LEFT + LAT_W + 40, height = TOP + 44 + LAT_H + BOTTOM;
    svg_begin(t.f, width, height, "Per-token decode latency");
    svg_text(t.f, 16, 24, "start", "title", 0, "Per-token decode latency");
    char subtitle[400], why[EX_WHY_MAX];
    snprintf(subtitle, sizeof subtitle, "%s; %.0f decode steps (one forward through the KV cache plus sampling)",
             ex_string(snapshot, "model", ""), b.total);
    svg_text(t.f, 16, 42, "start", "muted", 0, subtitle);
    svg_scale x = {SVG_LOG10, 0, 0, LEFT, LEFT + LAT_W, NULL, 0}, y = {SVG_LINEAR, 0, 0, TOP + 44 + LAT_H, TOP + 44, NULL, 0};
    if (!have) {
        double unused;
        if (ex_number(snapshot, "latency.p50_ms", &unused, why, sizeof why))
            snprintf(why, sizeof why, "no latency histogram in this snapshot");
        svg_unavailable(t.f, width / 2.0, height / 2.0, why);
        svg_end(t.f);
        return ex_text_close(&t);
    }
    svg_nice(&x, b.lo_ms[0], b.hi_ms[b.n - 1]);
    svg_nice(&y, 0, b.top);
    svg_axes(t.f, &x, &y, "latency per token (ms, log scale)", "decode steps");
    for (int k = 0; k < b.n; k++) {
        double x1 = svg_px(&x, b.lo_ms[k]), x2 = svg_px(&x, b.hi_ms[k]), top = svg_px(&y, b.count[k]);
        if (b.count[k] > 0)
            fprintf(t.f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x1, top,
                    x2 - x1 > 1 ? x2 - x1 - 0.5 : 0.5, y.px_lo - top);
    }
    percentile_mark(t.f, snapshot, "p50_ms", "p50", 0, &x, &y);
    percentile_mark(t.f, snapshot, "p95_ms", "p95", 1, &x, &y);
    percentile_mark(t.f, snapshot, "p99_ms", "p99", 2, &x, &y);
    svg_end(t.f);
    return ex_text_close(&t);
}

/* ---- tokens/s over time --------------------------------------------------------------------- */

#define TP_W 640
#define TP_H 300
#define TP_TOP 108

static void timeline_range(const json_t *tl, double *t_max, double *rate_max)
{
    size_t i, k;
    const json_t *s;
    *t_max = 0, *rate_max = 0;
    json_array_foreach(json_object_get(tl, "series"), i, s)
    {
        const json_t *ts = json_object_get(s, "t_s"), *rs = json_object_get(s, "tok_per_s");
        for (k = 0; k < json_array_size(ts); k++) {
            double tv = json_number_value(json_array_get(ts, k)), rv = json_number_value(json_array_get(rs, k));
            *t_max = tv > *t_max ? tv : *t_max;
            *rate_max = rv > *rate_max ? rv : *rate_max;
        }
    }
    size_t c;
    const json_t *ch;
    json_array_foreach(json_object_get(tl, "changes"), c, ch)
    {
        *t_max = ex_num(ch, "t_s") > *t_max ? ex_num(ch, "t_s") : *t_max;
    }
}

static void series_line(FILE *f, const json_t *s, int colour, const svg_scale *x, const svg_scale *y)
{
    const json_t *ts = json_object_get(s, "t_s"), *rs = json_object_get(s, "tok_per_s");
    size_t n = json_array_size(ts);
    if (n == 0)
        return;
    fprintf(f, "<polyline class=\"line l%d\" points=\"", colour);
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%s%.1f,%.1f", k ? " " : "", svg_px(x, json_number_value(json_array_get(ts, k))),
                svg_px(y, json_number_value(json_array_get(rs, k))));
    fputs("\"/>\n", f);
    if (n == 1)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" class=\"p%d\"/>\n",
                svg_px(x, json_number_value(json_array_get(ts, 0))), svg_px(y, json_number_value(json_array_get(rs, 0))),
                colour);
}

/* Dashed lines at setting changes, each labelled above the plot in the
 * first of four rows where it does not run into another label. */
#define LABEL_ROWS 4
#define CHAR_W 6.6 /* about a character's width at 12 px */
static void changes(FILE *f, const json_t *tl, const svg_scale *x, const svg_scale *y)
{
    double row_end[LABEL_ROWS] = {0}, row_start[LABEL_ROWS];
    for (int r = 0; r < LABEL_ROWS; r++)
        row_start[r] = 1e9;
    const json_t *list = json_object_get(tl, "changes");
    size_t n = json_array_size(list);
    int *rows = calloc(n ? n : 1, sizeof *rows);
    for (int pass = 0; rows && pass < 2; pass++) /* the lines, then the labels over them */
        for (size_t i = 0; i < n; i++) {
            const json_t *c = json_array_get(list, i);
            double px = svg_px(x, ex_num(c, "t_s"));
            char label[64];
            snprintf(label, sizeof label, "%.56s%s", ex_str(c, "label"), strlen(ex_str(c, "label")) > 56 ? "..." : "");
            double w = CHAR_W * (double)strlen(label);
            int right = px + 3 + w > x->px_hi + 30; /* near the right edge: the label ends at the line */
            double x0 = right ? px - 3 - w : px + 3, x1 = x0 + w;
            if (pass == 0) {
                int r = 0;
                while (r < LABEL_ROWS - 1 && x0 < row_end[r] + 8 && x1 > row_start[r] - 8)
                    r++;
                row_start[r] = x0 < row_start[r] ? x0 : row_start[r];
                row_end[r] = x1 > row_end[r] ? x1 : row_end[r];
                rows[i] = r;
                svg_line(f, px, y->px_lo, px, y->px_hi - 14.0 - 14.0 * r, "chg");
                continue;
            }
            double ty = y->px_hi - 10 - 14.0 * rows[i];
            fprintf(f, "<rect class=\"bg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"13\"/>\n", x0, ty - 10, w);
            svg_text(f, right ? px - 3 : px + 3, ty, right ? "end" : "start", "muted", 0, label);
        }
    free(rows);
}

char *export_throughput_plot_svg(const json_t *snapshot)
{
    ex_text t;
    if (ex_text_open(&t) != 0)
        return NULL;
    const json_t *tl = json_object_get(snapshot, "throughput_timeline");
    int width = LEFT + TP_W + 40, height = TP_TOP + TP_H + BOTTOM;
    svg_begin(t.f, width, height, "Decode tokens/s over time");
    svg_text(t.f, 16, 24, "start", "title", 0, "Decode tokens/s over time");
    svg_text(t.f, 16, 42, "start", "muted", 0,
             *ex_str(tl, "note") ? ex_str(tl, "note") : "tokens over the time spent computing them; dashed: a setting took effect");
    double t_max, rate_max;
    timeline_range(tl, &t_max, &rate_max);
    if (!(rate_max > 0)) {
        svg_unavailable(t.f, width / 2.0, height / 2.0, "no decode tokens in this snapshot");
        svg_end(t.f);
        return ex_text_close(&t);
    }
    svg_scale x = {SVG_LINEAR, 0, 0, LEFT, LEFT + TP_W, NULL, 0}, y = {SVG_LINEAR, 0, 0, TP_TOP + TP_H, TP_TOP, NULL, 0};
    svg_nice(&x, 0, t_max);
    svg_nice(&y, 0, rate_max);
    svg_axes(t.f, &x, &y, "time since start (s)", "decode tokens/s");
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(tl, "series"), i, s)
    {
        series_line(t.f, s, (int)(i % SVG_SERIES_COLOURS), &x, &y);
    }
    changes(t.f, tl, &x, &y);
    svg_end(t.f);
    return ex_text_close(&t);
}
