/* bench_report.c — `hstprof bench` rendered as Markdown, CSV or JSON from the
 * one report object. The Markdown follows the published benchmark report's
 * sections; every figure comes from the object, none is computed twice. */
#include "exports/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const json_t *find_model(const json_t *report, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        if (strcmp(ex_str(m, "name"), name) == 0)
            return m;
    }
    return NULL;
}

/* Mean and best of the per-sequence median TPS of one model at one thread count. */
static void model_tps(const json_t *report, const char *model, int threads, double *avg, double *best)
{
    size_t i;
    json_t *r;
    double sum = 0;
    int n = 0;
    *best = 0;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (strcmp(ex_str(r, "model"), model) != 0 || (int)ex_num(r, "threads") != threads)
            continue;
        double tps = ex_num(r, "tps_median");
        sum += tps;
        n++;
        if (tps > *best)
            *best = tps;
    }
    *avg = n ? sum / n : 0;
}

/* Weight precision of the run; reports from before it are f32. */
static const char *precision_of(const json_t *report)
{
    const char *p = ex_str(report, "precision");
    return *p ? p : "f32";
}

static void md_header(FILE *f, const json_t *report)
{
    const json_t *s = json_object_get(report, "settings");
    fprintf(f, "# HST Model TPS Benchmark Report\n\n");
    fprintf(f, "_%s, %s. Prefill throughput (tokens/s = seq_len / forward time), batch 1, "
               "logits for every row; %d warm-up and %d timed runs per cell; kernel %s; weights %s; %s._\n\n",
            ex_str(report, "tool"), ex_str(report, "date"), (int)ex_num(s, "warmup"), (int)ex_num(s, "runs"),
            ex_str(report, "kernel"), precision_of(report), ex_str(report, "machine"));
}

static void md_overall(FILE *f, const json_t *report)
{
    fprintf(f, "## Overall Summary\n\n");
    fprintf(f, "| Model | Class | Params (M) | Next-token params (M) | Threads | Avg TPS | Best TPS |\n");
    fprintf(f, "|-------|-------|------------|-----------------------|---------|---------|----------|\n");
    size_t i, j;
    json_t *m, *t;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        json_array_foreach(json_object_get(json_object_get(report, "settings"), "threads"), j, t)
        {
            double avg, best;
            model_tps(report, ex_str(m, "name"), (int)json_integer_value(t), &avg, &best);
            fprintf(f, "| %s | %s | %.2f | %.2f | %d | %.2f | %.2f |\n", ex_str(m, "name"), ex_str(m, "class"),
                    ex_num(m, "params_total") / 1e6, ex_num(m, "params_next_token") / 1e6, (int)json_integer_value(t),
                    avg, best);
        }
    }
    fprintf(f, "\n");
}

static void md_details_by_seq(FILE *f, const json_t *report)
{
    fprintf(f, "## Detailed Results by Sequence Length\n\n");
    size_t i, j;
    json_t *seq, *r;
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, seq)
    {
        int S = (int)json_integer_value(seq);
        fprintf(f, "### Sequence Length: %d\n\n", S);
        fprintf(f, "| Model | Threads | TPS | Time (ms) | Min (ms) | Max (ms) | TPS mean | TPS stddev | "
                   "MFLOP/token | GFLOP/s |\n");
        fprintf(f, "|-------|---------|-----|-----------|----------|----------|----------|------------|"
                   "-------------|---------|\n");
        json_array_foreach(json_object_get(report, "runs"), j, r)
        {
            if ((int)ex_num(r, "seq_len") != S)
                continue;
            fprintf(f, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.2f |\n", ex_str(r, "model"),
                    (int)ex_num(r, "threads"), ex_num(r, "tps_median"), ex_num(r, "time_ms_median"), ex_num(r, "time_ms_min"),
                    ex_num(r, "time_ms_max"), ex_num(r, "tps_mean"), ex_num(r, "tps_stddev"), ex_num(r, "flops_per_token") / 1e6,
                    ex_num(r, "gflops_per_s"));
        }
        fprintf(f, "\n");
    }
}

static void md_insights(FILE *f, const json_t *report)
{
    const char *best_name = NULL, *eff_name = NULL, *large_name = NULL;
    double best_avg = -1, best_eff = -1, largest = -1;
    size_t i, j;
    json_t *m, *t;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        double params_m = ex_num(m, "params_total") / 1e6;
        if (params_m > largest) {
            largest = params_m;
            large_name = ex_str(m, "name");
        }
        json_array_foreach(json_object_get(json_object_get(report, "settings"), "threads"), j, t)
        {
            double avg, best;
            model_tps(report, ex_str(m, "name"), (int)json_integer_value(t), &avg, &best);
            if (avg > best_avg) {
                best_avg = avg;
                best_name = ex_str(m, "name");
            }
            if (params_m > 0 && avg / params_m > best_eff) {
                best_eff = avg / params_m;
                eff_name = ex_str(m, "name");
            }
        }
    }
    fprintf(f, "## Performance Insights\n\n");
    if (best_name) {
        fprintf(f, "- **Best Average TPS**: %s (%.2f tokens/sec)\n", best_name, best_avg);
        fprintf(f, "- **Most Efficient**: %s (%.2f TPS per M params)\n", eff_name, best_eff);
        fprintf(f, "- **Largest Model**: %s (%.2fM parameters)\n", large_name, largest);
    }
    fprintf(f, "\n");
}

static void md_model_details(FILE *f, const json_t *report)
{
    fprintf(f, "## Model Details\n\n");
    size_t i, j;
    json_t *m, *r;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        fprintf(f, "### %s\n\n", ex_str(m, "name"));
        fprintf(f, "- **Class**: %s\n", ex_str(m, "class"));
        fprintf(f, "- **Parameters**: %.2fM (next-token path reads %.2fM; %.0f total, %.0f next-token)\n",
                ex_num(m, "params_total") / 1e6, ex_num(m, "params_next_token") / 1e6, ex_num(m, "params_total"),
                ex_num(m, "params_next_token"));
        fprintf(f, "- **Layers**: %d\n", (int)ex_num(m, "n_layers"));
        fprintf(f, "- **Config**: arch=%s, d_model=%d, n_layers=%d, n_heads=%d, vocab_size=%d, max_seq_len=%d\n",
                ex_str(m, "arch"), (int)ex_num(m, "d_model"), (int)ex_num(m, "n_layers"), (int)ex_num(m, "n_heads"),
                (int)ex_num(m, "vocab_size"), (int)ex_num(m, "max_seq_len"));
        fprintf(f, "- **Weights**: %s\n", ex_str(m, "source"));
        fprintf(f, "- **Performance**:\n");
        json_array_foreach(json_object_get(report, "runs"), j, r)
        {
            if (strcmp(ex_str(r, "model"), ex_str(m, "name")) != 0)
                continue;
            fprintf(f, "  - seq_len=%d, threads=%d: %.2f TPS, %.2fms, %.3f MFLOP/token, %.2f GFLOP/s\n",
                    (int)ex_num(r, "seq_len"), (int)ex_num(r, "threads"), ex_num(r, "tps_median"), ex_num(r, "time_ms_median"),
                    ex_num(r, "flops_per_token") / 1e6, ex_num(r, "gflops_per_s"));
        }
        fprintf(f, "\n");
    }
}

static const char *const csv_columns[] = {
    "model", "seq_len", "threads", "runs", "tps_median", "tps_mean", "tps_min", "tps_max", "tps_stddev",
    "time_ms_median", "time_ms_min", "time_ms_max", "flops_per_token", "gflops_per_s", "params_total",
    "params_next_token", "kernel", "precision",
};

static void csv_value(FILE *f, const json_t *run, const json_t *report, const char *col)
{
    char buf[512];
    if (strcmp(col, "kernel") == 0 || strcmp(col, "precision") == 0) {
        export_csv_field(buf, sizeof buf, strcmp(col, "kernel") == 0 ? ex_str(report, "kernel") : precision_of(report));
        fputs(buf, f);
        return;
    }
    const json_t *src = run;
    if (strncmp(col, "params_", 7) == 0)
        src = find_model(report, ex_str(run, "model"));
    json_t *v = src ? json_object_get(src, col) : NULL;
    ex_csv_json_value(f, v);
}

static void render_markdown(FILE *f, const json_t *report)
{
    md_header(f, report);
    md_overall(f, report);
    if (*ex_str(report, "plot"))
        ex_md_image(f, "Prefill tokens/s against sequence length", ex_str(report, "plot"));
    md_details_by_seq(f, report);
    md_insights(f, report);
    md_model_details(f, report);
}

char *export_bench_render(const json_t *report, export_format fmt)
{
    return ex_render_report(report, fmt, render_markdown, csv_columns, sizeof csv_columns / sizeof csv_columns[0],
                            csv_value);
}
