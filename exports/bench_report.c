/* bench_report.c — `hstprof bench` rendered as Markdown, CSV or JSON from the
 * one report object. The Markdown follows the published benchmark report's
 * sections for the prefill rows, adds llama-bench's table of prefill (ppS)
 * and generation (tgN) rows, and compares the rows the report has with its
 * figures; every figure comes from the object, none is computed twice. */
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

/* A prefill row; rows of reports from before generation rows are all prefill. */
static int is_prefill(const json_t *run)
{
    return strcmp(ex_string(run, "phase", "prefill"), "prefill") == 0;
}

/* How a row names its model and mode: the report's label and the mode's. */
static const char *label_of(const json_t *run)
{
    return ex_string(run, "label", ex_str(run, "model"));
}

static const char *mode_of(const json_t *run)
{
    return ex_string(run, "mode_label", ex_string(run, "mode", "not recorded"));
}

/* Mean and best of the per-sequence median TPS of one model in one mode at one thread count. */
static void model_tps(const json_t *report, const char *model, const char *mode, int threads, double *avg,
                      double *best)
{
    size_t i;
    json_t *r;
    double sum = 0;
    int n = 0;
    *best = 0;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (strcmp(ex_str(r, "model"), model) != 0 || strcmp(ex_str(r, "mode"), mode) != 0 ||
            (int)ex_num(r, "threads") != threads || !is_prefill(r))
            continue;
        double tps = ex_num(r, "tps_median");
        sum += tps;
        n++;
        if (tps > *best)
            *best = tps;
    }
    *avg = n ? sum / n : 0;
}

/* The first row of model in mode (for its mode label), or NULL when it has none. */
static const json_t *first_row(const json_t *report, const char *model, const char *mode)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (strcmp(ex_str(r, "model"), model) == 0 && strcmp(ex_str(r, "mode"), mode) == 0)
            return r;
    }
    return NULL;
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
    char warmup[64];
    if (ex_num(s, "warmup_min_s") > 0)
        snprintf(warmup, sizeof warmup, "%d+ warm-up runs (at least %.1f s)", (int)ex_num(s, "warmup"),
                 ex_num(s, "warmup_min_s"));
    else
        snprintf(warmup, sizeof warmup, "%d warm-up", (int)ex_num(s, "warmup"));
    fprintf(f, "# HST Model TPS Benchmark Report\n\n");
    fprintf(f, "_%s, %s. Prefill throughput (tokens/s = seq_len / forward time), batch 1, "
               "logits for every row; %s and %d timed runs per cell; kernel %s; weights %s; %s._\n\n",
            ex_str(report, "tool"), ex_str(report, "date"), warmup, (int)ex_num(s, "runs"), ex_str(report, "kernel"),
            precision_of(report), ex_str(report, "machine"));
    fputs("_Mode: ", f);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(s, "modes"), i, m)
    {
        fprintf(f, "%s%s", i ? " and " : "", json_string_value(m) ? json_string_value(m) : "?");
    }
    if (json_array_size(json_object_get(s, "modes")) == 0)
        fputs("not recorded", f);
    fputs(". Parity is the originals' computation over the window (what the published report timed); causal is "
          "the causal rewrite with an incremental decode. For Cores A and B (hst-v3 to hst-v6.1) the two are one "
          "computation._\n\n", f);
}

static void md_overall(FILE *f, const json_t *report)
{
    fprintf(f, "## Overall Summary\n\n");
    fprintf(f, "| Model | Class | Mode | Params (M) | Next-token params (M) | Threads | Avg TPS | Best TPS |\n");
    fprintf(f, "|-------|-------|------|------------|-----------------------|---------|---------|----------|\n");
    const json_t *settings = json_object_get(report, "settings");
    size_t i, j, k;
    json_t *m, *t, *mode;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        json_array_foreach(json_object_get(settings, "modes"), k, mode)
        {
            const json_t *row = first_row(report, ex_str(m, "name"), json_string_value(mode));
            json_array_foreach(json_object_get(settings, "threads"), j, t)
            {
                double avg, best;
                model_tps(report, ex_str(m, "name"), json_string_value(mode), (int)json_integer_value(t), &avg, &best);
                fprintf(f, "| ");
                ex_md_cell(f, ex_string(m, "label", ex_str(m, "name")));
                fprintf(f, " | %s | %s | %.2f | %.2f | %d | %.2f | %.2f |\n", ex_str(m, "class"),
                        row ? mode_of(row) : json_string_value(mode), ex_num(m, "params_total") / 1e6,
                        ex_num(m, "params_next_token") / 1e6, (int)json_integer_value(t), avg, best);
            }
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
        fprintf(f, "| Model | Mode | Threads | TPS | Time (ms) | Min (ms) | Max (ms) | TPS mean | TPS stddev | "
                   "MFLOP/token | GFLOP/s |\n");
        fprintf(f, "|-------|------|---------|-----|-----------|----------|----------|----------|------------|"
                   "-------------|---------|\n");
        json_array_foreach(json_object_get(report, "runs"), j, r)
        {
            if (!is_prefill(r) || (int)ex_num(r, "seq_len") != S)
                continue;
            fprintf(f, "| ");
            ex_md_cell(f, label_of(r));
            fprintf(f, " | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.2f |\n", mode_of(r),
                    (int)ex_num(r, "threads"), ex_num(r, "tps_median"), ex_num(r, "time_ms_median"),
                    ex_num(r, "time_ms_min"), ex_num(r, "time_ms_max"), ex_num(r, "tps_mean"),
                    ex_num(r, "tps_stddev"), ex_num(r, "flops_per_token") / 1e6, ex_num(r, "gflops_per_s"));
        }
        fprintf(f, "\n");
    }
}

/* llama-bench's table: one row per test, t/s as mean ± standard deviation. */
static void md_tests(FILE *f, const json_t *report)
{
    const json_t *s = json_object_get(report, "settings");
    fprintf(f, "## Prefill and Generation\n\n");
    fprintf(f, "ppS: a prefill of S tokens, tokens/s = S / time. tgN: N tokens decoded one at a time after a "
               "%d-token prompt whose prefill is not timed, tokens/s = N / time (in parity mode each step "
               "recomputes the window). t/s: mean ± standard deviation over %d timed runs.\n\n",
            (int)ex_num(s, "gen_prompt"), (int)ex_num(s, "runs"));
    fprintf(f, "| model | mode | params | threads | test | t/s | median t/s | MFLOP/token |\n");
    fprintf(f, "|-------|------|-------:|--------:|-----:|----:|-----------:|------------:|\n");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        const json_t *m = find_model(report, ex_str(r, "model"));
        char test[32];
        snprintf(test, sizeof test, "pp%d", (int)ex_num(r, "seq_len"));
        fprintf(f, "| ");
        ex_md_cell(f, label_of(r));
        fprintf(f, " | %s | %.2f M | %d | %s | %.2f ± %.2f | %.2f | %.3f |\n", mode_of(r),
                m ? ex_num(m, "params_total") / 1e6 : NAN, (int)ex_num(r, "threads"), ex_string(r, "test", test),
                ex_num(r, "tps_mean"), ex_num(r, "tps_stddev"), ex_num(r, "tps_median"),
                ex_num(r, "flops_per_token") / 1e6);
    }
    fprintf(f, "\n");
}

/* Each prefill row the published report has, against its figure. */
static void md_report_comparison(FILE *f, const json_t *report)
{
    size_t i, compared = 0, other = 0;
    json_t *r;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (!json_is_number(json_object_get(r, "report_tps")))
            continue;
        if (json_is_true(json_object_get(r, "report_comparable")))
            compared++;
        else
            other++;
    }
    if (compared + other == 0)
        return;
    fprintf(f, "## Compared with the Published Report\n\n");
    fprintf(f, "The published report timed the original PyTorch modules on another machine (one it does not "
               "describe), one forward call of S tokens per timing, batch 1, random weights. A ratio compares two "
               "implementations on two machines, not the models; the engine's parity rows are the computation the "
               "report timed.\n\n");
    if (compared > 0) {
        fprintf(f, "| Model | Mode | Threads | S | Report (tok/s) | Here (tok/s, median) | Here / report |\n");
        fprintf(f, "|-------|------|--------:|--:|---------------:|---------------------:|--------------:|\n");
    }
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if (!json_is_number(json_object_get(r, "report_tps")) || !json_is_true(json_object_get(r, "report_comparable")))
            continue;
        double was = ex_num(r, "report_tps"), now = ex_num(r, "tps_median");
        fprintf(f, "| ");
        ex_md_cell(f, label_of(r));
        fprintf(f, " | %s | %d | %d | %.2f | %.2f | %.2f |\n", mode_of(r), (int)ex_num(r, "threads"),
                (int)ex_num(r, "seq_len"), was, now, now / was);
    }
    if (compared > 0)
        fprintf(f, "\n");
    if (other > 0)
        fprintf(f, "%zu causal row%s of hst-v7.0, hst-chaos or hst-v7.1 %s not compared: the report timed the parity "
                   "computation (run with --mode parity, as `-p seed-benchmark` does).\n\n",
                other, other == 1 ? "" : "s", other == 1 ? "is" : "are");
}

static void md_insights(FILE *f, const json_t *report)
{
    const char *best_name = NULL, *eff_name = NULL, *large_name = NULL, *best_mode = "", *eff_mode = "";
    double best_avg = -1, best_eff = -1, largest = -1;
    const json_t *settings = json_object_get(report, "settings");
    size_t i, j, k;
    json_t *m, *t, *mode;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        double params_m = ex_num(m, "params_total") / 1e6;
        const char *label = ex_string(m, "label", ex_str(m, "name"));
        if (params_m > largest) {
            largest = params_m;
            large_name = label;
        }
        json_array_foreach(json_object_get(settings, "modes"), k, mode)
        {
            json_array_foreach(json_object_get(settings, "threads"), j, t)
            {
                double avg, best;
                model_tps(report, ex_str(m, "name"), json_string_value(mode), (int)json_integer_value(t), &avg, &best);
                if (avg > best_avg) {
                    best_avg = avg;
                    best_name = label;
                    best_mode = json_string_value(mode);
                }
                if (params_m > 0 && avg / params_m > best_eff) {
                    best_eff = avg / params_m;
                    eff_name = label;
                    eff_mode = json_string_value(mode);
                }
            }
        }
    }
    fprintf(f, "## Performance Insights\n\n");
    if (best_name) {
        fprintf(f, "- **Best Average TPS**: %s, %s mode (%.2f tokens/sec)\n", best_name, best_mode, best_avg);
        fprintf(f, "- **Most Efficient**: %s, %s mode (%.2f TPS per M params)\n", eff_name, eff_mode, best_eff);
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
        fputs("### ", f);
        ex_md_inline(f, ex_string(m, "label", ex_str(m, "name")));
        fputs("\n\n", f);
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
            if (is_prefill(r))
                fprintf(f, "  - seq_len=%d, %s mode, threads=%d: %.2f TPS, %.2fms, %.3f MFLOP/token, %.2f GFLOP/s\n",
                        (int)ex_num(r, "seq_len"), ex_str(r, "mode"), (int)ex_num(r, "threads"),
                        ex_num(r, "tps_median"), ex_num(r, "time_ms_median"), ex_num(r, "flops_per_token") / 1e6,
                        ex_num(r, "gflops_per_s"));
            else
                fprintf(f, "  - %s after %d prompt tokens, %s mode, threads=%d: %.2f tok/s, %.2fms, %.3f "
                           "MFLOP/token, %.2f GFLOP/s\n",
                        ex_str(r, "test"), (int)ex_num(r, "n_prompt"), ex_str(r, "mode"), (int)ex_num(r, "threads"),
                        ex_num(r, "tps_median"), ex_num(r, "time_ms_median"), ex_num(r, "flops_per_token") / 1e6,
                        ex_num(r, "gflops_per_s"));
        }
        fprintf(f, "\n");
    }
}

static const char *const csv_columns[] = {
    "model", "label", "mode", "test", "phase", "n_prompt", "n_gen", "seq_len", "threads", "runs", "tps_median",
    "tps_mean", "tps_min", "tps_max", "tps_stddev", "time_ms_median", "time_ms_min", "time_ms_max",
    "flops_per_token", "gflops_per_s", "params_total", "params_next_token", "kernel", "precision", "report_tps",
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
    md_tests(f, report);
    md_report_comparison(f, report);
    md_insights(f, report);
    md_model_details(f, report);
}

char *export_bench_render(const json_t *report, export_format fmt)
{
    return ex_render_report(report, fmt, render_markdown, csv_columns, sizeof csv_columns / sizeof csv_columns[0],
                            csv_value);
}
