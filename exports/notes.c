/* notes.c — performance notes: the published notes' sections, every figure
 * read from the snapshot. A figure the snapshot lacks is written
 * "unavailable: <reason>", with the reason recorded beside it, never as 0. */
#include "exports/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 4096

/* ---- figures ------------------------------------------------------------------ */

/* The figure at path, scaled and formatted, or "unavailable: <why>". 1 when available. */
static int figure(const json_t *root, const char *path, double scale, const char *fmt, char *buf, size_t size)
{
    double v;
    char why[EX_WHY_MAX];
    if (!ex_number(root, path, &v, why, sizeof why)) {
        snprintf(buf, size, "unavailable: %s", why);
        return 0;
    }
    snprintf(buf, size, fmt, v * scale);
    return 1;
}

/* "- label: **figure**" or "- label: unavailable: why". */
static void bullet(FILE *f, const char *label, const json_t *root, const char *path, double scale, const char *fmt)
{
    char buf[512];
    int ok = figure(root, path, scale, fmt, buf, sizeof buf);
    fprintf(f, "- %s: %s%s%s\n", label, ok ? "**" : "", buf, ok ? "**" : "");
}

/* "- label: **a / b**", each half on its own when unavailable. */
static void bullet_pair(FILE *f, const char *label, const json_t *root, const char *path_a, const char *path_b,
                        double scale, const char *fmt)
{
    char a[512], b[512];
    int ok_a = figure(root, path_a, scale, fmt, a, sizeof a);
    int ok_b = figure(root, path_b, scale, fmt, b, sizeof b);
    if (ok_a && ok_b)
        fprintf(f, "- %s: **%s / %s**\n", label, a, b);
    else
        fprintf(f, "- %s: %s%s%s / %s%s%s\n", label, ok_a ? "**" : "", a, ok_a ? "**" : "", ok_b ? "**" : "", b,
                ok_b ? "**" : "");
}

static void bullet_text(FILE *f, const char *label, const json_t *root, const char *path)
{
    const json_t *v = ex_path(root, path);
    char why[EX_WHY_MAX];
    double unused;
    if (json_is_string(v) && *json_string_value(v)) {
        fprintf(f, "- %s: **", label);
        ex_md_inline(f, json_string_value(v));
        fputs("**\n", f);
    }
    else if (json_is_number(v))
        fprintf(f, "- %s: **%.12g**\n", label, json_number_value(v));
    else if (json_is_string(v))
        fprintf(f, "- %s: unavailable: empty in this snapshot\n", label);
    else if (!ex_number(root, path, &unused, why, sizeof why))
        fprintf(f, "- %s: unavailable: %s\n", label, why);
}

/* ---- runs ------------------------------------------------------------------------- */

/* runs[] when the snapshot has it (several runs, dashboard segments), else the snapshot itself. */
static size_t collect_rows(const json_t *snap, const json_t **rows)
{
    const json_t *runs = json_object_get(snap, "runs");
    if (!json_is_array(runs) || json_array_size(runs) == 0) {
        rows[0] = snap;
        return 1;
    }
    size_t i, n = 0;
    const json_t *r;
    json_array_foreach(runs, i, r)
    {
        if (n < MAX_ROWS)
            rows[n++] = r;
    }
    return n;
}

/* Σ over rows of path; 0 with why when any row lacks it (a partial sum would mislead). */
static int sum_rows(const json_t *const *rows, size_t n, const char *path, double *sum, char *why, size_t why_size)
{
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (!ex_number(rows[i], path, &v, why, why_size))
            return 0;
        *sum += v;
    }
    return 1;
}

/* Tokens per second of a row over its whole wall time (prefill + decode). */
static int row_true_tps(const json_t *row, double *tps, char *why, size_t why_size)
{
    double tokens, wall_ms;
    if (!ex_number(row, "tokens_generated", &tokens, why, why_size) || !ex_number(row, "wall_ms", &wall_ms, why, why_size))
        return 0;
    if (tokens <= 0 || wall_ms <= 0) {
        snprintf(why, why_size, tokens <= 0 ? "no token generated" : "no wall time recorded");
        return 0;
    }
    *tps = tokens / (wall_ms / 1e3);
    return 1;
}

static void row_label(const json_t *row, size_t index, char *buf, size_t size)
{
    const char *label = ex_string(row, "label", NULL);
    if (label) {
        snprintf(buf, size, "%s", label);
        return;
    }
    double threads;
    char why[EX_WHY_MAX], model[400];
    const char *mode = ex_string(row, "mode", NULL);
    snprintf(model, sizeof model, "%s%s%s%s", ex_string(row, "model", "model unknown"), mode ? " (" : "",
             mode ? mode : "", mode ? ")" : "");
    int n = ex_number(row, "threads", &threads, why, sizeof why)
                ? snprintf(buf, size, "%s, %.0f thread%s, run %zu", model, threads, threads == 1 ? "" : "s", index + 1)
                : snprintf(buf, size, "%s, run %zu", model, index + 1);
    if (n < 0) /* a label: cut when long */
        buf[0] = '\0';
}

/* ---- sections ------------------------------------------------------------------------ */

static void header(FILE *f, const json_t *snap, const json_t *const *rows, size_t n)
{
    fprintf(f, "# Performance Notes\n\n");
    const char *date = ex_string(snap, "date", NULL);
    if (date)
        fprintf(f, "_Last updated: **%s**_\n\n", date);
    else
        fprintf(f, "_Last updated: unavailable: no date in the snapshot_\n\n");
    ex_md_interrupted(f, snap);
    size_t best = 0;
    double best_tps = -1;
    char why[EX_WHY_MAX] = "no runs";
    for (size_t i = 0; i < n; i++) {
        double tps;
        if (row_true_tps(rows[i], &tps, why, sizeof why) && tps > best_tps) {
            best_tps = tps;
            best = i;
        }
    }
    if (best_tps < 0) {
        fprintf(f, "**Best true TPS:** unavailable: %s.\n\n", why);
        return;
    }
    char label[256];
    row_label(rows[best], best, label, sizeof label);
    fputs("**Best true TPS:** **", f);
    ex_md_inline(f, label);
    fprintf(f, " — %.3f**.\n\n", best_tps);
}

/* "- label: **N tokens in X ms = Y tok/s**" from sums over the rows. */
static void rate_bullet(FILE *f, const char *label, const char *phase, const json_t *const *rows, size_t n,
                        const char *tokens_path, const char *ms_path)
{
    double tokens, ms;
    char why[EX_WHY_MAX];
    if (!sum_rows(rows, n, tokens_path, &tokens, why, sizeof why) || !sum_rows(rows, n, ms_path, &ms, why, sizeof why)) {
        fprintf(f, "- %s: unavailable: %s\n", label, why);
        return;
    }
    if (tokens <= 0 || ms <= 0) {
        fprintf(f, "- %s: unavailable: no %s steps in this run\n", label, phase);
        return;
    }
    fprintf(f, "- %s: **%.0f tokens in %.3f ms = %.3f tok/s**\n", label, tokens, ms, tokens / (ms / 1e3));
}

static void summary(FILE *f, const json_t *const *rows, size_t n)
{
    fprintf(f, "## Summary\n\n");
    fprintf(f, "- Runs: **%zu**\n", n);
    double tokens = 0, wall_ms = 0;
    char why[EX_WHY_MAX];
    int have_tokens = sum_rows(rows, n, "tokens_generated", &tokens, why, sizeof why);
    if (have_tokens)
        fprintf(f, "- Tokens generated (Σ): **%.0f**\n", tokens);
    else
        fprintf(f, "- Tokens generated (Σ): unavailable: %s\n", why);
    int have_wall = sum_rows(rows, n, "wall_ms", &wall_ms, why, sizeof why);
    if (have_wall)
        fprintf(f, "- Wall time (Σ, prefill + generation): **%.6g s**\n", wall_ms / 1e3);
    else
        fprintf(f, "- Wall time (Σ, prefill + generation): unavailable: %s\n", why);
    if (have_tokens && have_wall && tokens > 0 && wall_ms > 0)
        fprintf(f, "- True TPS (Σ tokens / Σ time): **%.3f**\n", tokens / (wall_ms / 1e3));
    else
        fprintf(f, "- True TPS (Σ tokens / Σ time): unavailable: %s\n",
                !have_tokens || !have_wall ? why : tokens <= 0 ? "no token generated" : "no wall time recorded");
    rate_bullet(f, "Prefill", "prefill", rows, n, "prompt_tokens", "prefill_ms");
    rate_bullet(f, "Decode (one token per forward)", "decode", rows, n, "decode_tokens", "decode_ms");
    fprintf(f, "\n");
}

static void latency(FILE *f, const json_t *snap)
{
    fprintf(f, "## Latency\n\n");
    fprintf(f, "_Per decode token (one forward through the KV cache plus sampling), over every step of the run._\n\n");
    bullet(f, "Samples", snap, "latency.samples", 1, "%.0f decode steps");
    bullet(f, "Time to first token (prefill + first sample)", snap, "ttft_ms", 1, "%.3f ms");
    bullet(f, "p50", snap, "latency.p50_ms", 1, "%.3f ms");
    bullet(f, "p95", snap, "latency.p95_ms", 1, "%.3f ms");
    bullet(f, "p99", snap, "latency.p99_ms", 1, "%.3f ms");
    bullet_pair(f, "min / max", snap, "latency.min_ms", "latency.max_ms", 1, "%.3f ms");
    bullet(f, "mean", snap, "latency.mean_ms", 1, "%.3f ms");
    fprintf(f, "\n");
    if (*ex_string(snap, "plots.latency", ""))
        ex_md_image(f, "Per-token decode latency distribution", ex_string(snap, "plots.latency", ""));
    if (*ex_string(snap, "plots.throughput", ""))
        ex_md_image(f, "Decode tokens/s over time", ex_string(snap, "plots.throughput", ""));
}

/* Only for `run --duration`: how the long run held up. */
static void soak(FILE *f, const json_t *snap)
{
    if (!json_is_object(json_object_get(snap, "soak")))
        return;
    fprintf(f, "## Soak Run\n\n");
    fprintf(f, "_`run --duration`: the context restarts from the prompt whenever it is full (a cycle); latency "
               "percentiles come from a log-bucketed histogram (within 0.5%%), so memory does not grow with the "
               "run._\n\n");
    bullet_pair(f, "Elapsed / requested", snap, "soak.elapsed_s", "soak.duration_s", 1, "%.1f s");
    bullet(f, "Cycles", snap, "soak.cycles", 1, "%.0f");
    bullet(f, "Prompt re-prefills (not in decode)", snap, "soak.restart_prefill_ms", 1, "%.1f ms");
    const json_t *same = ex_path(snap, "soak.cycles_identical");
    if (json_is_boolean(same))
        fprintf(f, "- Greedy cycles repeat the first: **%s**\n", json_is_true(same) ? "yes" : "NO");
    bullet(f, "Warm-up (excluded from the growth)", snap, "soak.warmup_s", 1, "%.1f s");
    bullet(f, "RSS after warm-up", snap, "soak.rss_after_warmup_bytes", 1e-6, "%.3f MB");
    bullet(f, "RSS growth after warm-up (highest - first)", snap, "soak.rss_growth_after_warmup_bytes", 1e-3,
           "%.0f KB");
    bullet(f, "RSS at the end", snap, "soak.rss_end_bytes", 1e-6, "%.3f MB");
    bullet(f, "Statistics kept (bytes, whatever the length)", snap, "soak.statistics_bytes", 1, "%.0f");
    fprintf(f, "\n");
}

static void roofline_bullets(FILE *f, const json_t *snap, const char *phase)
{
    char path[96], label[96];
    snprintf(label, sizeof label, "Effective bandwidth (%s, spec 11 bytes / time)", phase);
    snprintf(path, sizeof path, "roofline.%s.achieved_bytes_per_s", phase);
    bullet(f, label, snap, path, 1e-9, "%.3f GB/s");
    snprintf(label, sizeof label, "Working set of a step (%s: weights + KV read)", phase);
    snprintf(path, sizeof path, "roofline.%s.working_set_bytes", phase);
    bullet(f, label, snap, path, 1e-6, "%.3f MB");
    snprintf(label, sizeof label, "Memory level it fits in (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.level", phase);
    bullet_text(f, label, snap, path);
    snprintf(label, sizeof label, "Read ceiling of that level (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.level_read_bytes_per_s", phase);
    bullet(f, label, snap, path, 1e-9, "%.3f GB/s");
    snprintf(label, sizeof label, "Share of that read ceiling (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.bandwidth_pct", phase);
    bullet(f, label, snap, path, 1, "%.1f %%");
    snprintf(label, sizeof label, "Compute (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.achieved_flops_per_s", phase);
    bullet(f, label, snap, path, 1e-9, "%.3f GFLOP/s");
    snprintf(label, sizeof label, "Share of the FMA peak (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.fma_pct", phase);
    bullet(f, label, snap, path, 1, "%.1f %%");
    snprintf(path, sizeof path, "roofline.%s.bound", phase);
    snprintf(label, sizeof label, "Bound (%s)", phase);
    bullet_text(f, label, snap, path);
}

static void spatial(FILE *f, const json_t *snap)
{
    fprintf(f, "## Spatial Complexity (Memory & Cache)\n\n");
    bullet(f, "RSS peak (sampled in the run window)", snap, "memory.rss_peak_bytes", 1e-6, "%.3f MB");
    bullet(f, "RSS peak (run summary)", snap, "peak_rss_bytes", 1e-6, "%.3f MB");
    bullet(f, "PSS peak", snap, "memory.pss_peak_bytes", 1e-6, "%.3f MB");
    bullet(f, "VMS peak", snap, "memory.vms_peak_bytes", 1e-6, "%.3f MB");
    bullet_pair(f, "Page faults (minor / major, in the window)", snap, "memory.minor_faults", "memory.major_faults", 1,
                "%.0f");
    bullet_pair(f, "Swap I/O (in / out, system-wide)", snap, "memory.swap_in_bytes_system",
                "memory.swap_out_bytes_system", 1e-6, "%.3f MB");
    bullet(f, "KV cache", snap, "kv_cache_bytes", 1e-6, "%.3f MB");
    bullet(f, "Weights in memory", snap, "weight_bytes", 1e-6, "%.3f MB");
    bullet(f, "Bytes per token (decode, spec 11: weights + KV read)", snap, "decode_bytes_per_token", 1e-6,
           "%.3f MB/token");
    roofline_bullets(f, snap, "decode");
    roofline_bullets(f, snap, "prefill");
    fprintf(f, "\n");
}

/* One cell: the event's scaled value, or why it is unavailable (missing:
 * why the whole window is). */
static void counter_cell(FILE *f, const json_t *event, const char *key, double scale, const char *fmt,
                         const char *missing)
{
    char buf[512];
    if (!event) {
        fputs(" unavailable: ", f);
        ex_md_cell(f, missing);
        fputs(" |", f);
        return;
    }
    figure(event, key, scale, fmt, buf, sizeof buf);
    fputc(' ', f);
    ex_md_cell(f, buf);
    fputs(" |", f);
}

static const json_t *event_named(const json_t *window, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(window, "events"), i, e)
    {
        if (strcmp(ex_string(e, "name", ""), name) == 0)
            return e;
    }
    return NULL;
}

static void counter_table(FILE *f, const json_t *prefill, const json_t *decode, const char *decode_why)
{
    fprintf(f, "| Event | Backend | Prefill | Decode | Decode running share |\n");
    fprintf(f, "|-------|---------|--------:|-------:|---------------------:|\n");
    const json_t *listed = decode ? decode : prefill;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(listed, "events"), i, e)
    {
        const char *name = ex_string(e, "name", "?");
        fputs("| ", f);
        ex_md_cell(f, name);
        fputs(" | ", f);
        ex_md_cell(f, ex_string(e, "backend", ""));
        fputs(" |", f);
        counter_cell(f, event_named(prefill, name), "value", 1, "%.0f", "not in this window");
        counter_cell(f, event_named(decode, name), "value", 1, "%.0f", decode_why);
        counter_cell(f, event_named(decode, name), "running_share", 100, "%.1f %%", decode_why);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void derived_table(FILE *f, const json_t *prefill, const json_t *decode, const char *decode_why)
{
    const json_t *listed = json_object_get(decode ? decode : prefill, "derived");
    if (json_object_size(listed) == 0)
        return;
    fprintf(f, "| Derived metric | Prefill | Decode |\n");
    fprintf(f, "|----------------|--------:|-------:|\n");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)listed, key, v)
    {
        if (strlen(key) > 8 && strcmp(key + strlen(key) - 8, "_why_not") == 0)
            continue;
        fputs("| ", f);
        ex_md_cell(f, key);
        fputs(" |", f);
        counter_cell(f, json_object_get(prefill, "derived"), key, 1, "%.4g", "not in this window");
        counter_cell(f, json_object_get(decode, "derived"), key, 1, "%.4g", decode_why);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void counters(FILE *f, const json_t *snap)
{
    fprintf(f, "## Counters\n\n");
    const json_t *c = json_object_get(snap, "counters");
    const char *summary = ex_string(c, "summary", NULL);
    const json_t *prefill = json_object_get(c, "prefill"), *decode = json_object_get(c, "decode");
    if (!json_is_object(prefill) && !json_is_object(decode)) {
        fprintf(f, "Counters: unavailable: %s\n\n", summary ? summary : "not recorded in this snapshot");
        return;
    }
    if (summary)
        fprintf(f, "_%s_\n\n", summary);
    const char *decode_why = ex_string(c, "decode_why_not", "not in this window");
    counter_table(f, json_is_object(prefill) ? prefill : NULL, json_is_object(decode) ? decode : NULL, decode_why);
    derived_table(f, json_is_object(prefill) ? prefill : NULL, json_is_object(decode) ? decode : NULL, decode_why);
}

static void placement(FILE *f, const json_t *snap)
{
    const json_t *threads = json_object_get(snap, "threads_placement");
    if (!json_is_array(threads) || json_array_size(threads) == 0) {
        fprintf(f, "- Placement: unavailable: not recorded in this snapshot\n");
        return;
    }
    fprintf(f, "- Placement: **");
    size_t i;
    const json_t *t;
    json_array_foreach(threads, i, t)
    {
        long long pu = json_integer_value(json_object_get(t, "bound_pu"));
        fprintf(f, "%sthread %lld ", i ? ", " : "", (long long)json_integer_value(json_object_get(t, "index")));
        if (pu >= 0)
            fprintf(f, "→ PU %lld", pu);
        else
            fprintf(f, "unbound");
        fprintf(f, " (last on CPU %lld, %lld migrations)", (long long)json_integer_value(json_object_get(t, "last_cpu")),
                (long long)json_integer_value(json_object_get(t, "migrations")));
    }
    fprintf(f, "**\n");
}

static void sampling(FILE *f, const json_t *snap)
{
    double temperature, top_k;
    char why[EX_WHY_MAX];
    if (!ex_number(snap, "temperature", &temperature, why, sizeof why)) {
        fprintf(f, "- Sampling: unavailable: %s\n", why);
        return;
    }
    if (temperature <= 0)
        fprintf(f, "- Sampling: **greedy (arg-max)**\n");
    else if (ex_number(snap, "top_k", &top_k, why, sizeof why) && top_k > 0)
        fprintf(f, "- Sampling: **temperature %g, top-k %.0f**\n", temperature, top_k);
    else
        fprintf(f, "- Sampling: **temperature %g, whole vocabulary**\n", temperature);
}

static void parameters(FILE *f, const json_t *snap)
{
    fprintf(f, "## Run Parameters & Conditions\n\n");
    const char *profile = ex_string(snap, "profile", "");
    fputs("- Profile: **", f);
    ex_md_inline(f, *profile ? profile : "none (defaults and flags)");
    fputs("**\n", f);
    bullet(f, "Threads", snap, "threads", 1, "%.0f");
    bullet_text(f, "Affinity", snap, "affinity");
    placement(f, snap);
    bullet_text(f, "Precision", snap, "precision");
    bullet_text(f, "Mode", snap, json_is_string(json_object_get(snap, "mode_label")) ? "mode_label" : "mode");
    bullet(f, "Batch", snap, "batch", 1, "%.0f");
    bullet_text(f, "Kernel", snap, "kernel");
    bullet_text(f, "Model file", snap, "source");
    bullet(f, "Seed", snap, "seed", 1, "%.0f");
    bullet(f, "Prompt tokens", snap, "prompt_tokens", 1, "%.0f");
    bullet(f, "Max new tokens", snap, "tokens_requested", 1, "%.0f");
    sampling(f, snap);
    const json_t *events = json_object_get(snap, "events_requested");
    if (json_is_string(events)) {
        fputs("- Events: **", f);
        ex_md_inline(f, *json_string_value(events) ? json_string_value(events) : "the default set");
        fputs("**\n", f);
    } else
        fprintf(f, "- Events: unavailable: not recorded in this snapshot\n");
    fprintf(f, "\n");
}

static void caches(FILE *f, const json_t *snap)
{
    const json_t *list = ex_path(snap, "system.caches");
    if (!json_is_array(list)) {
        char why[EX_WHY_MAX];
        double unused;
        ex_number(snap, "system.caches", &unused, why, sizeof why);
        fprintf(f, "- Caches: unavailable: %s\n", why);
        return;
    }
    fprintf(f, "- Caches (one instance each, as CPU 0 sees them): **");
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c)
    {
        fprintf(f, "%sL%lld %s %.0f KiB", i ? ", " : "", (long long)json_integer_value(json_object_get(c, "level")),
                ex_string(c, "type", "?"), json_number_value(json_object_get(c, "size_bytes")) / 1024.0);
    }
    fprintf(f, "**\n");
}

static void model_config(FILE *f, const json_t *snap)
{
    const json_t *c = json_object_get(snap, "config");
    if (!json_is_object(c)) {
        fprintf(f, "- Config: unavailable: not recorded in this snapshot\n");
        return;
    }
    fprintf(f, "- Config: **arch=%s, d_model=%lld, n_layers=%lld, n_heads=%lld, vocab_size=%lld, max_seq_len=%lld, "
               "horizon=%lld**\n",
            ex_string(c, "arch", "?"), (long long)json_integer_value(json_object_get(c, "d_model")),
            (long long)json_integer_value(json_object_get(c, "n_layers")),
            (long long)json_integer_value(json_object_get(c, "n_heads")),
            (long long)json_integer_value(json_object_get(c, "vocab_size")),
            (long long)json_integer_value(json_object_get(c, "max_seq_len")),
            (long long)json_integer_value(json_object_get(c, "horizon")));
}

static void system_info(FILE *f, const json_t *snap)
{
    fprintf(f, "## System & Model Info\n\n");
    bullet_text(f, "CPU", snap, "system.cpu_model");
    bullet_pair(f, "Cores / PUs (hwloc)", snap, "system.cores", "system.pus", 1, "%.0f");
    caches(f, snap);
    bullet(f, "L3 total (hwloc)", snap, "system.l3_total_bytes", 1.0 / (1024 * 1024), "%.1f MiB");
    bullet(f, "RAM (MemTotal)", snap, "system.mem_total_bytes", 1e-9, "%.3f GB");
    bullet_text(f, "OS", snap, "system.os");
    bullet_text(f, "Kernel", snap, "system.kernel");
    bullet_text(f, "Compiler", snap, "system.compiler");
    bullet_text(f, "Git commit", snap, "system.git_commit");
    bullet_text(f, "Model", snap, "model");
    bullet_text(f, "Preset", snap, "preset");
    model_config(f, snap);
    bullet_pair(f, "Parameters (as the original counted / read per next token)", snap, "params_total",
                "params_next_token", 1, "%.0f");
    bullet(f, "Load time", snap, "load_ms", 1, "%.3f ms");
    bullet_text(f, "Quality hash (32 greedy tokens after a fixed prompt)", snap, "quality_hash");
    fprintf(f, "\n");
}

/* One table cell: the figure or "unavailable: why". A row of runs[] that
 * lacks a figure the whole snapshot has (the dashboard keeps memory per
 * process, not per segment) says so rather than "not recorded". */
static void row_cell(FILE *f, const json_t *row, const json_t *snap, const char *path, double scale, const char *fmt)
{
    char buf[512];
    double unused;
    char why[EX_WHY_MAX];
    if (!figure(row, path, scale, fmt, buf, sizeof buf) && !ex_path(row, path) && row != snap &&
        ex_number(snap, path, &unused, why, sizeof why))
        snprintf(buf, sizeof buf, "unavailable: recorded for the whole snapshot only (see above)");
    fputc(' ', f);
    ex_md_cell(f, buf);
    fputs(" |", f);
}

static void comparative(FILE *f, const json_t *snap, const json_t *const *rows, size_t n)
{
    fprintf(f, "## Comparative Runs\n\n");
    fprintf(f, "| Run | Model | Mode | Threads | Tokens | Wall (ms) | TPS | Prefill tok/s | Decode tok/s | p50 (ms) "
               "| p95 (ms) | p99 (ms) | RSS peak (MB) | PSS peak (MB) | VMS peak (MB) | minflt | majflt |\n");
    fprintf(f, "|----:|:------|:-----|--------:|-------:|----------:|----:|--------------:|-------------:|---------:"
               "|---------:|---------:|--------------:|--------------:|--------------:|-------:|-------:|\n");
    for (size_t i = 0; i < n; i++) {
        const json_t *r = rows[i];
        char tps[512], why[EX_WHY_MAX];
        double v;
        if (row_true_tps(r, &v, why, sizeof why))
            snprintf(tps, sizeof tps, "%.3f", v);
        else
            snprintf(tps, sizeof tps, "unavailable: %s", why);
        fprintf(f, "| %zu | ", i + 1);
        ex_md_cell(f, ex_string(r, "model", "unavailable: not recorded"));
        fputs(" | ", f);
        ex_md_cell(f, ex_string(r, "mode", ex_string(snap, "mode", "unavailable: not recorded")));
        fputs(" |", f);
        row_cell(f, r, snap, "threads", 1, "%.0f");
        row_cell(f, r, snap, "tokens_generated", 1, "%.0f");
        row_cell(f, r, snap, "wall_ms", 1, "%.3f");
        fputc(' ', f);
        ex_md_cell(f, tps);
        fputs(" |", f);
        row_cell(f, r, snap, "prefill_tok_per_s", 1, "%.3f");
        row_cell(f, r, snap, "decode_tok_per_s", 1, "%.3f");
        row_cell(f, r, snap, "latency.p50_ms", 1, "%.3f");
        row_cell(f, r, snap, "latency.p95_ms", 1, "%.3f");
        row_cell(f, r, snap, "latency.p99_ms", 1, "%.3f");
        row_cell(f, r, snap, "memory.rss_peak_bytes", 1e-6, "%.3f");
        row_cell(f, r, snap, "memory.pss_peak_bytes", 1e-6, "%.3f");
        row_cell(f, r, snap, "memory.vms_peak_bytes", 1e-6, "%.3f");
        row_cell(f, r, snap, "memory.minor_faults", 1, "%.0f");
        row_cell(f, r, snap, "memory.major_faults", 1, "%.0f");
        fputc('\n', f);
    }
}

char *export_notes_render(const json_t *snapshot)
{
    const json_t **rows = malloc(MAX_ROWS * sizeof(const json_t *));
    ex_text t;
    if (!rows || ex_text_open(&t) != 0) {
        free(rows);
        return NULL;
    }
    size_t n = collect_rows(snapshot, rows);
    header(t.f, snapshot, rows, n);
    summary(t.f, rows, n);
    latency(t.f, snapshot);
    soak(t.f, snapshot);
    spatial(t.f, snapshot);
    counters(t.f, snapshot);
    parameters(t.f, snapshot);
    system_info(t.f, snapshot);
    comparative(t.f, snapshot, rows, n);
    ex_md_ab_section(t.f, snapshot);
    free(rows);
    return ex_text_close(&t);
}
