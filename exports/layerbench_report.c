/* layerbench_report.c — `hstprof layerbench` rendered as Markdown, CSV or
 * JSON from the one report object, in the shape of the fused-layer
 * benchmark table (seeds/004): an Item/Value table of hyper-parameters, a
 * latency table and a PEAK memory table, one row per sequence length. */
#include "exports/exports.h"
#include "exports/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run of variant at seq_len S, NULL when absent. */
static const json_t *find_run(const json_t *report, int S, const char *variant)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(report, "runs"), i, r)
    {
        if ((int)ex_num(r, "seq_len") == S && strcmp(ex_str(r, "variant"), variant) == 0)
            return r;
    }
    return NULL;
}

/* "1K" for multiples of 1024 (the seed's labels), the number otherwise. */
static void seq_label(char *buf, size_t size, int S)
{
    if (S >= 1024 && S % 1024 == 0)
        snprintf(buf, size, "%dK", S / 1024);
    else
        snprintf(buf, size, "%d", S);
}

static void md_hyper_params(FILE *f, const json_t *report)
{
    const json_t *s = json_object_get(report, "settings");
    fprintf(f, "# Fused HST PreBlock benchmark\n\n");
    fprintf(f, "_%s, %s, %s; engine kernel %s._\n\n", ex_str(report, "tool"), ex_str(report, "date"),
            ex_str(report, "machine"), ex_str(report, "kernel"));
    fprintf(f, "One HST PreBlock (spec 4.2: LN, QKV, causal attention, out-projection + residual, LN, FFN with "
               "ReLU + residual) per run. Other hyper-params are as followed:\n\n");
    fprintf(f, "| Item          | Value |\n| ------------- | ----- |\n");
    fprintf(f, "| Batchsize     | %d |\n", (int)ex_num(s, "batch"));
    fprintf(f, "| dim per head  | %d |\n", (int)ex_num(s, "head_dim"));
    fprintf(f, "| num_heads     | %d |\n", (int)ex_num(s, "n_heads"));
    fprintf(f, "| embedding dim | %d |\n", (int)ex_num(s, "d_model"));
    fprintf(f, "| FFN dim       | %d |\n", (int)ex_num(s, "ffn_dim"));
    fprintf(f, "| threads       | %d (optimized; the baseline runs on one) |\n", (int)ex_num(s, "threads"));
    fprintf(f, "| runs          | median of %d, after %d warm-up, variants interleaved |\n\n", (int)ex_num(s, "runs"),
            (int)ex_num(s, "warmup"));
}

static void md_latency(FILE *f, const json_t *report)
{
    size_t i;
    json_t *seq;
    fprintf(f, "## latency\n\n");
    fprintf(f, "| seqlen | Baseline (ms) | Optimized (ms) | Speed-up | Baseline w/o alloc (ms) | "
               "Optimized w/o alloc (ms) | Optimized GFLOP/s |\n");
    fprintf(f, "| ------ | ------------- | -------------- | -------- | ----------------------- | "
               "------------------------ | ----------------- |\n");
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, seq)
    {
        int S = (int)json_integer_value(seq);
        const json_t *b = find_run(report, S, "baseline"), *o = find_run(report, S, "optimized");
        if (!b || !o)
            continue;
        char label[16];
        seq_label(label, sizeof label, S);
        double tb = ex_num(b, "latency_ms_median"), to = ex_num(o, "latency_ms_median");
        fprintf(f, "| %s | %.2f | %.2f | %.1fx | %.2f | %.2f | %.1f |\n", label, tb, to, tb / to,
                ex_num(b, "compute_ms_median"), ex_num(o, "compute_ms_median"), ex_num(o, "gflops_per_s"));
    }
    fprintf(f, "\nMedian wall time of one forward of the block, from its first allocation to its last free "
               "(each run maps fresh memory, so the memory window sees it); the w/o alloc columns leave out "
               "the time spent allocating, first touching and releasing buffers. GFLOP/s: the block's useful "
               "FLOPs (spec 11: 24D^2 S + 4D sum(t+1)) over the full latency.\n\n");
}

static void md_memory(FILE *f, const json_t *report)
{
    size_t i;
    json_t *seq;
    fprintf(f, "## PEAK memory\n\n");
    fprintf(f, "| seqlen | Baseline (MB) | Optimized (MB) | Baseline scores [nh,S,S] (MB) | Engine workspace (MB) |\n");
    fprintf(f, "| ------ | ------------- | -------------- | ----------------------------- | --------------------- |\n");
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, seq)
    {
        int S = (int)json_integer_value(seq);
        const json_t *b = find_run(report, S, "baseline"), *o = find_run(report, S, "optimized");
        if (!b || !o)
            continue;
        char label[16];
        seq_label(label, sizeof label, S);
        fprintf(f, "| %s | %.1f | %.1f | %.1f | %.1f |\n", label, ex_num(b, "peak_mb"), ex_num(o, "peak_mb"),
                ex_num(b, "scores_mb"), ex_num(o, "workspace_mb"));
    }
    fprintf(f, "\nMeasured: %s. The last two columns are what each design predicts for its largest "
               "buffers.\n\n", ex_str(report, "memory_method"));
}

static void md_agreement(FILE *f, const json_t *report)
{
    size_t i;
    json_t *seq;
    fprintf(f, "## agreement\n\n| seqlen | max abs diff | max abs diff / max abs output |\n"
               "| ------ | ------------ | ----------------------------- |\n");
    json_array_foreach(json_object_get(json_object_get(report, "settings"), "seq"), i, seq)
    {
        int S = (int)json_integer_value(seq);
        const json_t *o = find_run(report, S, "optimized");
        char label[16];
        seq_label(label, sizeof label, S);
        if (o)
            fprintf(f, "| %s | %.3g | %.3g |\n", label, ex_num(o, "max_abs_diff"), ex_num(o, "max_rel_diff"));
    }
    fprintf(f, "\nBoth variants compute the same block on the same input; the relative difference must stay "
               "below %g.\n\n- **Baseline**: %s.\n- **Optimized**: %s.\n",
            ex_num(report, "agreement_tolerance"), ex_str(report, "baseline"), ex_str(report, "optimized"));
}

static const char *const csv_columns[] = {
    "seq_len", "variant", "latency_ms_median", "latency_ms_min", "latency_ms_max", "peak_mb", "gflops_per_s",
    "max_abs_diff", "max_rel_diff", "threads", "d_model", "n_heads", "kernel",
};

static void csv_value(FILE *f, const json_t *run, const json_t *report, const char *col)
{
    const json_t *settings = json_object_get(report, "settings");
    json_t *v = json_object_get(run, col);
    if (!v)
        v = json_object_get(settings, col);
    if (!v)
        v = json_object_get(report, col);
    ex_csv_json_value(f, v);
}

static void render_markdown(FILE *f, const json_t *report)
{
    md_hyper_params(f, report);
    md_latency(f, report);
    md_memory(f, report);
    md_agreement(f, report);
}

char *export_layerbench_render(const json_t *report, export_format fmt)
{
    return ex_render_report(report, fmt, render_markdown, csv_columns, sizeof csv_columns / sizeof csv_columns[0],
                            csv_value);
}
