/* notes.c — performance notes: the published notes' sections, every figure
 * read from the snapshot, with its unit and the window it covers (the run,
 * or the dashboard segment on screen, or a sum that says over what). A
 * figure the snapshot lacks is written "n/a[k]", never 0; reason k is
 * stated once, in the Unavailable list at the end. */
#include "exports/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 4096
#define MODEL_CELL_MAX 40 /* a model file's name past this is cut: rows stay readable */

typedef struct {
    FILE *f;
    const json_t *snap;
    const json_t **rows;
    size_t n;
    ex_why_list why;
    char window[512]; /* what the figures after the Summary cover */
} notes;

/* ---- figures ------------------------------------------------------------------ */

/* The figure at path, scaled and formatted, or "n/a[k]". 1 when available. */
static int figure(notes *nt, const json_t *root, const char *path, double scale, const char *fmt, char *buf,
                  size_t size)
{
    double v;
    char why[EX_WHY_MAX];
    if (!ex_number(root, path, &v, why, sizeof why)) {
        ex_na_text(&nt->why, why, buf, size);
        return 0;
    }
    snprintf(buf, size, fmt, v * scale);
    return 1;
}

/* "- label: **figure**" or "- label: n/a[k]". */
static void bullet(notes *nt, const char *label, const json_t *root, const char *path, double scale, const char *fmt)
{
    char buf[512];
    int ok = figure(nt, root, path, scale, fmt, buf, sizeof buf);
    fprintf(nt->f, "- %s: %s%s%s\n", label, ok ? "**" : "", buf, ok ? "**" : "");
}

/* "- label: **a / b**", each half on its own when unavailable. */
static void bullet_pair(notes *nt, const char *label, const json_t *root, const char *path_a, const char *path_b,
                        double scale, const char *fmt)
{
    char a[512], b[512];
    int ok_a = figure(nt, root, path_a, scale, fmt, a, sizeof a);
    int ok_b = figure(nt, root, path_b, scale, fmt, b, sizeof b);
    if (ok_a && ok_b)
        fprintf(nt->f, "- %s: **%s / %s**\n", label, a, b);
    else
        fprintf(nt->f, "- %s: %s%s%s / %s%s%s\n", label, ok_a ? "**" : "", a, ok_a ? "**" : "", ok_b ? "**" : "", b,
                ok_b ? "**" : "");
}

static void bullet_na(notes *nt, const char *label, const char *why)
{
    fprintf(nt->f, "- %s: ", label);
    ex_md_na(nt->f, &nt->why, why);
    fputc('\n', nt->f);
}

static void bullet_text(notes *nt, const char *label, const json_t *root, const char *path)
{
    const json_t *v = ex_path(root, path);
    char why[EX_WHY_MAX];
    double unused;
    if (json_is_string(v) && *json_string_value(v)) {
        fprintf(nt->f, "- %s: **", label);
        ex_md_inline(nt->f, json_string_value(v));
        fputs("**\n", nt->f);
    } else if (json_is_string(v)) {
        bullet_na(nt, label, "empty in this snapshot");
    } else if (!ex_number(root, path, &unused, why, sizeof why)) {
        bullet_na(nt, label, why);
    }
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

/* "hst-v4, causal, f32, kernel avx2, 2 threads, affinity compact": the
 * settings a row ran with (those it records); the model only with_model. */
static void describe_setting(const json_t *row, const json_t *snap, int with_model, char *buf, size_t size)
{
    double threads;
    char why[EX_WHY_MAX], th[48] = "";
    if (ex_number(row, "threads", &threads, why, sizeof why))
        snprintf(th, sizeof th, ", %.0f thread%s", threads, threads == 1 ? "" : "s");
    const char *precision = ex_string(row, "precision", row == snap ? NULL : ex_string(snap, "precision", NULL));
    const char *kernel = ex_string(row, "kernel", NULL), *affinity = ex_string(row, "affinity", NULL);
    int n = snprintf(buf, size, "%s%s%s%s%s%s%s%s%s%s", with_model ? ex_string(row, "model", "model unknown") : "",
                     with_model ? ", " : "", ex_string(row, "mode", "mode unknown"), precision ? ", " : "", precision ? precision : "",
                     kernel ? ", kernel " : "", kernel ? kernel : "", th, affinity ? ", affinity " : "",
                     affinity ? affinity : "");
    if (n < 0)
        buf[0] = '\0';
}

/* The run, or the segment on screen: what the figures after the Summary cover. */
static void describe_window(notes *nt)
{
    char setting[400], id[32];
    describe_setting(nt->snap, nt->snap, 1, setting, sizeof setting);
    if (json_is_integer(json_object_get(nt->snap, "segment"))) {
        ex_segment_id(nt->snap, 0, id, sizeof id);
        snprintf(nt->window, sizeof nt->window, "segment %s, the one on screen (%s)", id, setting);
    } else {
        snprintf(nt->window, sizeof nt->window, "the run (%s)", setting);
    }
}

/* The ids of the rows of one model: "#0, #1" or "1, 2". */
static void model_ids(const notes *nt, const char *model, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nt->n && len + 16 < size; i++) {
        if (strcmp(ex_string(nt->rows[i], "model", ""), model) != 0)
            continue;
        char id[32];
        ex_segment_id(nt->rows[i], i, id, sizeof id);
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", id);
    }
}

/* Index of the first row of each model, in order: the Summary's groups. */
static size_t model_groups(const notes *nt, size_t *first)
{
    size_t groups = 0;
    for (size_t i = 0; i < nt->n; i++) {
        const char *model = ex_string(nt->rows[i], "model", "");
        size_t g = 0;
        while (g < groups && strcmp(ex_string(nt->rows[first[g]], "model", ""), model) != 0)
            g++;
        if (g == groups)
            first[groups++] = i;
    }
    return groups;
}

/* ---- header ------------------------------------------------------------------------ */

/* The best true TPS of each model: rows of different models are never compared. */
static void best_tps(notes *nt, const size_t *first, size_t groups)
{
    fprintf(nt->f, "**Best true TPS** (tokens generated / wall time, prefill + decode; per model):\n\n");
    for (size_t g = 0; g < groups; g++) {
        const char *model = ex_string(nt->rows[first[g]], "model", "");
        size_t best = 0;
        double best_tps = -1, tokens = 0, wall_ms = 0;
        char why[EX_WHY_MAX] = "no runs";
        for (size_t i = 0; i < nt->n; i++) {
            double tps;
            if (strcmp(ex_string(nt->rows[i], "model", ""), model) == 0 &&
                row_true_tps(nt->rows[i], &tps, why, sizeof why) && tps > best_tps) {
                best_tps = tps;
                best = i;
            }
        }
        fputs("- ", nt->f);
        ex_md_inline(nt->f, *model ? model : "model unknown");
        if (best_tps < 0) {
            fputs(": ", nt->f);
            ex_md_na(nt->f, &nt->why, why);
            fputc('\n', nt->f);
            continue;
        }
        char id[32], setting[400];
        ex_segment_id(nt->rows[best], best, id, sizeof id);
        describe_setting(nt->rows[best], nt->snap, 0, setting, sizeof setting);
        ex_number(nt->rows[best], "tokens_generated", &tokens, why, sizeof why);
        ex_number(nt->rows[best], "wall_ms", &wall_ms, why, sizeof why);
        const char *where = nt->rows[best] == nt->snap                                  ? "the run"
                            : json_is_integer(json_object_get(nt->rows[best], "segment")) ? "segment "
                                                                                           : "run ";
        fprintf(nt->f, ": **%.1f tok/s** in %s%s (", best_tps, where, nt->rows[best] == nt->snap ? "" : id);
        ex_md_inline(nt->f, setting);
        fprintf(nt->f, "): %.0f tokens in %.3f ms\n", tokens, wall_ms);
    }
    fputc('\n', nt->f);
}

static void header(notes *nt, const size_t *first, size_t groups)
{
    fprintf(nt->f, "# Performance Notes\n\n");
    const char *date = ex_string(nt->snap, "date", NULL);
    if (date)
        fprintf(nt->f, "_Last updated: **%s**_\n\n", date);
    else {
        fputs("_Last updated: ", nt->f);
        ex_md_na(nt->f, &nt->why, "no date in the snapshot");
        fputs("_\n\n", nt->f);
    }
    ex_md_interrupted(nt->f, nt->snap);
    fputs("_The Summary and Comparative Runs cover every run kept; Latency, Spatial Complexity and Counters "
          "cover ", nt->f);
    ex_md_inline(nt->f, nt->window);
    fputs("._\n\n", nt->f);
    best_tps(nt, first, groups);
}

/* ---- summary ------------------------------------------------------------------------ */

/* Σ over the rows of one model of path; 0 with why when any lacks it (a partial sum would mislead). */
static int sum_model(const notes *nt, const char *model, const char *path, double *sum, char *why, size_t why_size)
{
    *sum = 0;
    for (size_t i = 0; i < nt->n; i++) {
        double v;
        if (strcmp(ex_string(nt->rows[i], "model", ""), model) != 0)
            continue;
        if (!ex_number(nt->rows[i], path, &v, why, why_size))
            return 0;
        *sum += v;
    }
    return 1;
}

/* "- label: **N tokens in X ms = Y tok/s**" from sums over one model's rows. */
static void rate_bullet(notes *nt, const char *label, const char *phase, const char *model, const char *tokens_path,
                        const char *ms_path)
{
    double tokens, ms;
    char why[EX_WHY_MAX];
    if (!sum_model(nt, model, tokens_path, &tokens, why, sizeof why) ||
        !sum_model(nt, model, ms_path, &ms, why, sizeof why)) {
        bullet_na(nt, label, why);
        return;
    }
    if (tokens <= 0 || ms <= 0) {
        snprintf(why, sizeof why, "no %s steps in this run", phase);
        bullet_na(nt, label, why);
        return;
    }
    fprintf(nt->f, "- %s: **%.0f tokens in %.3f ms = %.1f tok/s**\n", label, tokens, ms, tokens / (ms / 1e3));
}

static void summary_of_model(notes *nt, const char *model, int with_heading)
{
    char ids[1024], why[EX_WHY_MAX];
    model_ids(nt, model, ids, sizeof ids);
    if (with_heading) {
        fputs("### ", nt->f);
        ex_md_inline(nt->f, *model ? model : "model unknown");
        fputs("\n\n", nt->f);
    }
    size_t runs = 0;
    for (size_t i = 0; i < nt->n; i++)
        runs += strcmp(ex_string(nt->rows[i], "model", ""), model) == 0;
    if (nt->rows[0] == nt->snap) /* the snapshot is the one run */
        fprintf(nt->f, "- Runs: **1**\n");
    else {
        fprintf(nt->f, "- Runs: **%zu** (", runs);
        ex_md_inline(nt->f, ids);
        fputs(")\n", nt->f);
    }
    double tokens = 0, wall_ms = 0;
    int have_tokens = sum_model(nt, model, "tokens_generated", &tokens, why, sizeof why);
    if (have_tokens)
        fprintf(nt->f, "- Tokens generated (Σ): **%.0f tokens**\n", tokens);
    else
        bullet_na(nt, "Tokens generated (Σ)", why);
    int have_wall = sum_model(nt, model, "wall_ms", &wall_ms, why, sizeof why);
    if (have_wall)
        fprintf(nt->f, "- Wall time (Σ, prefill + decode): **%.3f ms**\n", wall_ms);
    else
        bullet_na(nt, "Wall time (Σ, prefill + decode)", why);
    if (have_tokens && have_wall && tokens > 0 && wall_ms > 0)
        fprintf(nt->f, "- True TPS (Σ tokens / Σ wall time): **%.1f tok/s**\n", tokens / (wall_ms / 1e3));
    else
        bullet_na(nt, "True TPS (Σ tokens / Σ wall time)",
                  !have_tokens || !have_wall ? why : tokens <= 0 ? "no token generated" : "no wall time recorded");
    rate_bullet(nt, "Prefill (Σ)", "prefill", model, "prompt_tokens", "prefill_ms");
    rate_bullet(nt, "Decode (Σ, one token per forward)", "decode", model, "decode_tokens", "decode_ms");
    fputc('\n', nt->f);
}

static void summary(notes *nt, const size_t *first, size_t groups)
{
    fprintf(nt->f, "## Summary\n\n");
    fprintf(nt->f, "_Sums over the runs of each model (never across models)._\n\n");
    for (size_t g = 0; g < groups; g++)
        summary_of_model(nt, ex_string(nt->rows[first[g]], "model", ""), groups > 1);
}

/* ---- latency, soak, memory ---------------------------------------------------------------- */

static void latency(notes *nt)
{
    const json_t *snap = nt->snap;
    fprintf(nt->f, "## Latency\n\n");
    fputs("_Per decode token (one forward through the KV cache plus sampling), over every decode step of ", nt->f);
    ex_md_inline(nt->f, nt->window);
    fputs("._\n\n", nt->f);
    bullet(nt, "Samples", snap, "latency.samples", 1, "%.0f decode steps");
    bullet(nt, "Time to first token (prefill + first sample)", snap, "ttft_ms", 1, "%.3f ms");
    bullet(nt, "p50", snap, "latency.p50_ms", 1, "%.3f ms");
    bullet(nt, "p95", snap, "latency.p95_ms", 1, "%.3f ms");
    bullet(nt, "p99", snap, "latency.p99_ms", 1, "%.3f ms");
    bullet_pair(nt, "min / max", snap, "latency.min_ms", "latency.max_ms", 1, "%.3f ms");
    bullet(nt, "mean", snap, "latency.mean_ms", 1, "%.3f ms");
    fprintf(nt->f, "\n");
    if (*ex_string(snap, "plots.latency", ""))
        ex_md_image(nt->f, "Per-token decode latency distribution", ex_string(snap, "plots.latency", ""));
    if (*ex_string(snap, "plots.throughput", ""))
        ex_md_image(nt->f, "Decode tokens/s over time", ex_string(snap, "plots.throughput", ""));
}

/* Only for `run --duration`: how the long run held up. */
static void soak(notes *nt)
{
    const json_t *snap = nt->snap;
    if (!json_is_object(json_object_get(snap, "soak")))
        return;
    fprintf(nt->f, "## Soak Run\n\n");
    fprintf(nt->f, "_`run --duration`: the context restarts from the prompt whenever it is full (a cycle); latency "
                   "percentiles come from a log-bucketed histogram (within 0.5%%), so memory does not grow with the "
                   "run._\n\n");
    bullet_pair(nt, "Elapsed / requested", snap, "soak.elapsed_s", "soak.duration_s", 1, "%.1f s");
    bullet(nt, "Cycles", snap, "soak.cycles", 1, "%.0f cycles");
    bullet(nt, "Prompt re-prefills (not in decode)", snap, "soak.restart_prefill_ms", 1, "%.1f ms");
    const json_t *same = ex_path(snap, "soak.cycles_identical");
    if (json_is_boolean(same))
        fprintf(nt->f, "- Greedy cycles repeat the first: **%s**\n", json_is_true(same) ? "yes" : "NO");
    bullet(nt, "Warm-up (excluded from the growth)", snap, "soak.warmup_s", 1, "%.1f s");
    bullet(nt, "RSS after warm-up", snap, "soak.rss_after_warmup_bytes", 1e-6, "%.3f MB");
    bullet(nt, "RSS growth after warm-up (highest - first)", snap, "soak.rss_growth_after_warmup_bytes", 1e-3,
           "%.0f KB");
    bullet(nt, "RSS at the end", snap, "soak.rss_end_bytes", 1e-6, "%.3f MB");
    bullet(nt, "Statistics kept (whatever the length)", snap, "soak.statistics_bytes", 1, "%.0f bytes");
    fprintf(nt->f, "\n");
}

static void roofline_bullets(notes *nt, const char *phase)
{
    const json_t *snap = nt->snap;
    char path[96], label[96];
    snprintf(label, sizeof label, "Effective bandwidth (%s, spec 11 bytes / time)", phase);
    snprintf(path, sizeof path, "roofline.%s.achieved_bytes_per_s", phase);
    bullet(nt, label, snap, path, 1e-9, "%.3f GB/s");
    snprintf(label, sizeof label, "Working set of a step (%s: weights + KV read)", phase);
    snprintf(path, sizeof path, "roofline.%s.working_set_bytes", phase);
    bullet(nt, label, snap, path, 1e-6, "%.3f MB");
    snprintf(label, sizeof label, "Memory level it fits in (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.level", phase);
    bullet_text(nt, label, snap, path);
    snprintf(label, sizeof label, "Read ceiling of that level (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.level_read_bytes_per_s", phase);
    bullet(nt, label, snap, path, 1e-9, "%.3f GB/s");
    snprintf(label, sizeof label, "Share of that read ceiling (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.bandwidth_pct", phase);
    bullet(nt, label, snap, path, 1, "%.1f %%");
    snprintf(label, sizeof label, "Compute (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.achieved_flops_per_s", phase);
    bullet(nt, label, snap, path, 1e-9, "%.3f GFLOP/s");
    snprintf(label, sizeof label, "Share of the FMA peak (%s)", phase);
    snprintf(path, sizeof path, "roofline.%s.fma_pct", phase);
    bullet(nt, label, snap, path, 1, "%.1f %%");
    snprintf(path, sizeof path, "roofline.%s.bound", phase);
    snprintf(label, sizeof label, "Bound (%s)", phase);
    bullet_text(nt, label, snap, path);
}

static void spatial(notes *nt)
{
    const json_t *snap = nt->snap;
    double window_ns;
    char why[EX_WHY_MAX];
    fprintf(nt->f, "## Spatial Complexity (Memory & Cache)\n\n");
    fputs("_Memory: the whole process", nt->f);
    if (ex_number(snap, "memory.window_ns", &window_ns, why, sizeof why))
        fprintf(nt->f, ", sampled over %.3f s", window_ns * 1e-9);
    fputs(". Bytes per token and the roofline: ", nt->f);
    ex_md_inline(nt->f, nt->window);
    fputs("._\n\n", nt->f);
    bullet(nt, "RSS peak (sampled in the window)", snap, "memory.rss_peak_bytes", 1e-6, "%.3f MB");
    bullet(nt, "RSS peak (VmHWM, whole run)", snap, "peak_rss_bytes", 1e-6, "%.3f MB");
    bullet(nt, "PSS peak", snap, "memory.pss_peak_bytes", 1e-6, "%.3f MB");
    bullet(nt, "VMS peak", snap, "memory.vms_peak_bytes", 1e-6, "%.3f MB");
    bullet_pair(nt, "Page faults (minor / major, in the window)", snap, "memory.minor_faults", "memory.major_faults", 1,
                "%.0f faults");
    bullet_pair(nt, "Swap I/O (in / out, system-wide)", snap, "memory.swap_in_bytes_system",
                "memory.swap_out_bytes_system", 1e-6, "%.3f MB");
    bullet(nt, "KV cache", snap, "kv_cache_bytes", 1e-6, "%.3f MB");
    bullet(nt, "Weights in memory", snap, "weight_bytes", 1e-6, "%.3f MB");
    bullet(nt, "Bytes per token (decode, spec 11: weights + KV read)", snap, "decode_bytes_per_token", 1e-6,
           "%.3f MB/token");
    roofline_bullets(nt, "decode");
    roofline_bullets(nt, "prefill");
    fprintf(nt->f, "\n");
}

/* ---- counters ------------------------------------------------------------------------------ */

/* How perf stat shows an event: task-clock and cpu-clock in ms with the CPUs
 * they kept busy over the window, every other event as a count. */
static int is_clock_event(const char *name)
{
    return strcmp(name, "task-clock") == 0 || strcmp(name, "cpu-clock") == 0;
}

static void counter_value_cell(notes *nt, const json_t *window, const json_t *event, const char *missing)
{
    char buf[512];
    fputc(' ', nt->f);
    if (!event) {
        ex_md_na(nt->f, &nt->why, missing);
    } else if (is_clock_event(ex_string(event, "name", ""))) {
        double ns, window_ns;
        char why[EX_WHY_MAX];
        if (!ex_number(event, "value", &ns, why, sizeof why))
            ex_md_na(nt->f, &nt->why, why);
        else if (ex_number(window, "window_ns", &window_ns, why, sizeof why) && window_ns > 0)
            fprintf(nt->f, "%.3f (%.2f CPUs utilized)", ns / 1e6, ns / window_ns);
        else
            fprintf(nt->f, "%.3f", ns / 1e6);
    } else {
        figure(nt, event, "value", 1, "%.0f", buf, sizeof buf);
        ex_md_cell(nt->f, buf);
    }
    fputs(" |", nt->f);
}

static void share_cell(notes *nt, const json_t *event, const char *missing)
{
    char buf[512];
    fputc(' ', nt->f);
    if (!event)
        ex_md_na(nt->f, &nt->why, missing);
    else {
        figure(nt, event, "running_share", 100, "%.1f", buf, sizeof buf);
        ex_md_cell(nt->f, buf);
    }
    fputs(" |", nt->f);
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

static void counter_table(notes *nt, const json_t *prefill, const json_t *decode, const char *decode_why)
{
    FILE *f = nt->f;
    fprintf(f, "| Event | Unit | Prefill | Decode | Decode running share (%%) |\n");
    fprintf(f, "|-------|------|--------:|-------:|-------------------------:|\n");
    const json_t *listed = decode ? decode : prefill;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(listed, "events"), i, e)
    {
        const char *name = ex_string(e, "name", "?");
        fputs("| ", f);
        ex_md_cell(f, name);
        fprintf(f, " | %s |", is_clock_event(name) ? "ms" : "count");
        counter_value_cell(nt, prefill, event_named(prefill, name), "not in this window");
        counter_value_cell(nt, decode, event_named(decode, name), decode_why);
        share_cell(nt, event_named(decode, name), decode_why);
        fputc('\n', f);
    }
    fputc('\n', f);
}

/* The unit of a derived metric (probes/counters.c's derived_specs) and the
 * scale to it. */
static const char *derived_unit(const char *key, double *scale)
{
    size_t len = strlen(key);
    *scale = 1;
    if (strcmp(key, "ipc") == 0)
        return "instructions/cycle";
    if (len > 5 && strcmp(key + len - 5, "_mpki") == 0)
        return "per 1k instructions";
    if (len > 6 && strcmp(key + len - 6, "_ratio") == 0) {
        *scale = 100;
        return "%";
    }
    if (len > 12 && strcmp(key + len - 12, "_bytes_per_s") == 0) {
        *scale = 1e-9;
        return "GB/s";
    }
    return "ratio";
}

static void derived_cell(notes *nt, const json_t *derived, const char *key, double scale, const char *missing)
{
    char buf[512];
    fputc(' ', nt->f);
    if (!derived)
        ex_md_na(nt->f, &nt->why, missing);
    else {
        figure(nt, derived, key, scale, "%.4g", buf, sizeof buf);
        ex_md_cell(nt->f, buf);
    }
    fputs(" |", nt->f);
}

static void derived_table(notes *nt, const json_t *prefill, const json_t *decode, const char *decode_why)
{
    FILE *f = nt->f;
    const json_t *listed = json_object_get(decode ? decode : prefill, "derived");
    if (json_object_size(listed) == 0)
        return;
    fprintf(f, "| Derived metric | Unit | Prefill | Decode |\n");
    fprintf(f, "|----------------|------|--------:|-------:|\n");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)listed, key, v)
    {
        if (strlen(key) > 8 && strcmp(key + strlen(key) - 8, "_why_not") == 0)
            continue;
        double scale;
        const char *unit = derived_unit(key, &scale);
        fputs("| ", f);
        ex_md_cell(f, key);
        fprintf(f, " | %s |", unit);
        derived_cell(nt, json_object_get(prefill, "derived"), key, scale, "not in this window");
        derived_cell(nt, json_object_get(decode, "derived"), key, scale, decode_why);
        fputc('\n', f);
    }
    fputc('\n', f);
}

static void window_length(FILE *f, const char *phase, const json_t *window)
{
    double ns;
    char why[EX_WHY_MAX];
    if (ex_number(window, "window_ns", &ns, why, sizeof why))
        fprintf(f, "; %s %.3f ms", phase, ns / 1e6);
}

static void counters(notes *nt)
{
    FILE *f = nt->f;
    fprintf(f, "## Counters\n\n");
    const json_t *c = json_object_get(nt->snap, "counters");
    const char *summary = ex_string(c, "summary", NULL);
    const json_t *prefill = json_object_get(c, "prefill"), *decode = json_object_get(c, "decode");
    if (!json_is_object(prefill) && !json_is_object(decode)) {
        fputs("Counters: ", f);
        ex_md_na(f, &nt->why, summary ? summary : "not recorded in this snapshot");
        fputs("\n\n", f);
        return;
    }
    prefill = json_is_object(prefill) ? prefill : NULL;
    decode = json_is_object(decode) ? decode : NULL;
    fputs("_Window: ", f);
    ex_md_inline(f, nt->window);
    window_length(f, "prefill", prefill);
    window_length(f, "decode", decode);
    fputs(" of wall time._", f);
    if (summary) {
        fputs(" _", f);
        ex_md_inline(f, summary);
        fputc('_', f);
    }
    fputs("\n\n", f);
    const char *decode_why = ex_string(c, "decode_why_not", "not in this window");
    counter_table(nt, prefill, decode, decode_why);
    derived_table(nt, prefill, decode, decode_why);
}

/* ---- parameters, system ------------------------------------------------------------------------ */

static void placement(notes *nt)
{
    FILE *f = nt->f;
    const json_t *threads = json_object_get(nt->snap, "threads_placement");
    if (!json_is_array(threads) || json_array_size(threads) == 0) {
        bullet_na(nt, "Placement", "not recorded in this snapshot");
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

static void sampling(notes *nt)
{
    double temperature, top_k;
    char why[EX_WHY_MAX];
    if (!ex_number(nt->snap, "temperature", &temperature, why, sizeof why)) {
        bullet_na(nt, "Sampling", why);
        return;
    }
    if (temperature <= 0)
        fprintf(nt->f, "- Sampling: **greedy (arg-max)**\n");
    else if (ex_number(nt->snap, "top_k", &top_k, why, sizeof why) && top_k > 0)
        fprintf(nt->f, "- Sampling: **temperature %g, top-k %.0f**\n", temperature, top_k);
    else
        fprintf(nt->f, "- Sampling: **temperature %g, whole vocabulary**\n", temperature);
}

static void parameters(notes *nt)
{
    FILE *f = nt->f;
    const json_t *snap = nt->snap;
    fprintf(f, "## Run Parameters & Conditions\n\n");
    fputs("_Settings of ", f);
    ex_md_inline(f, nt->window);
    fputs("._\n\n", f);
    const char *profile = ex_string(snap, "profile", "");
    fputs("- Profile: **", f);
    ex_md_inline(f, *profile ? profile : "none (defaults and flags)");
    fputs("**\n", f);
    bullet(nt, "Threads", snap, "threads", 1, "%.0f threads");
    bullet_text(nt, "Affinity", snap, "affinity");
    placement(nt);
    bullet_text(nt, "Precision", snap, "precision");
    bullet_text(nt, "Mode", snap, json_is_string(json_object_get(snap, "mode_label")) ? "mode_label" : "mode");
    bullet(nt, "Batch", snap, "batch", 1, "%.0f sequence");
    bullet_text(nt, "Kernel", snap, "kernel");
    bullet_text(nt, "Model file", snap, "source");
    bullet(nt, "Seed", snap, "seed", 1, "%.0f");
    bullet(nt, "Prompt", snap, "prompt_tokens", 1, "%.0f tokens");
    bullet(nt, "Max new tokens", snap, "tokens_requested", 1, "%.0f tokens");
    sampling(nt);
    const json_t *events = json_object_get(snap, "events_requested");
    if (json_is_string(events)) {
        fputs("- Events: **", f);
        ex_md_inline(f, *json_string_value(events) ? json_string_value(events) : "the default set");
        fputs("**\n", f);
    } else
        bullet_na(nt, "Events", "not recorded in this snapshot");
    fprintf(f, "\n");
}

static void caches(notes *nt)
{
    FILE *f = nt->f;
    const json_t *list = ex_path(nt->snap, "system.caches");
    if (!json_is_array(list)) {
        char why[EX_WHY_MAX];
        double unused;
        ex_number(nt->snap, "system.caches", &unused, why, sizeof why);
        bullet_na(nt, "Caches", why);
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

static void model_config(notes *nt)
{
    const json_t *c = json_object_get(nt->snap, "config");
    if (!json_is_object(c)) {
        bullet_na(nt, "Config", "not recorded in this snapshot");
        return;
    }
    fprintf(nt->f,
            "- Config: **arch=%s, d_model=%lld, n_layers=%lld, n_heads=%lld, vocab_size=%lld, max_seq_len=%lld, "
            "horizon=%lld**\n",
            ex_string(c, "arch", "?"), (long long)json_integer_value(json_object_get(c, "d_model")),
            (long long)json_integer_value(json_object_get(c, "n_layers")),
            (long long)json_integer_value(json_object_get(c, "n_heads")),
            (long long)json_integer_value(json_object_get(c, "vocab_size")),
            (long long)json_integer_value(json_object_get(c, "max_seq_len")),
            (long long)json_integer_value(json_object_get(c, "horizon")));
}

static void system_info(notes *nt)
{
    const json_t *snap = nt->snap;
    fprintf(nt->f, "## System & Model Info\n\n");
    bullet_text(nt, "CPU", snap, "system.cpu_model");
    bullet(nt, "Cores (hwloc)", snap, "system.cores", 1, "%.0f cores");
    bullet(nt, "PUs (hwloc)", snap, "system.pus", 1, "%.0f PUs");
    caches(nt);
    bullet(nt, "L3 total (hwloc)", snap, "system.l3_total_bytes", 1.0 / (1024 * 1024), "%.1f MiB");
    bullet(nt, "RAM (MemTotal)", snap, "system.mem_total_bytes", 1e-9, "%.3f GB");
    bullet_text(nt, "OS", snap, "system.os");
    bullet_text(nt, "Kernel", snap, "system.kernel");
    bullet_text(nt, "Compiler", snap, "system.compiler");
    bullet_text(nt, "Git commit", snap, "system.git_commit");
    bullet_text(nt, "Model", snap, "model");
    bullet_text(nt, "Preset", snap, "preset");
    model_config(nt);
    bullet(nt, "Parameters (as the original counted)", snap, "params_total", 1, "%.0f parameters");
    bullet(nt, "Parameters read per next token", snap, "params_next_token", 1, "%.0f parameters");
    bullet(nt, "Load time", snap, "load_ms", 1, "%.3f ms");
    bullet_text(nt, "Quality hash (32 greedy tokens after a fixed prompt)", snap, "quality_hash");
    fprintf(nt->f, "\n");
}

/* ---- A/B: ex_md_ab_section (ab_notes.c) ---------------------------------------------------- */

/* ---- comparative runs ---------------------------------------------------------------------------- */

/* One table cell: the row's figure, or n/a[k]. */
static void row_cell(notes *nt, const json_t *row, const char *path, double scale, const char *fmt)
{
    char buf[512];
    figure(nt, row, path, scale, fmt, buf, sizeof buf);
    fputc(' ', nt->f);
    ex_md_cell(nt->f, buf);
    fputs(" |", nt->f);
}

static void text_cell(notes *nt, const char *text, const char *why)
{
    fputc(' ', nt->f);
    if (text && *text)
        ex_md_cell(nt->f, text);
    else
        ex_md_na(nt->f, &nt->why, why);
    fputs(" |", nt->f);
}

/* A model file's name without its directories, cut when long. */
static void model_cell(notes *nt, const json_t *row)
{
    const char *model = ex_string(row, "model", NULL);
    char buf[MODEL_CELL_MAX + 8];
    if (model) {
        const char *slash = strrchr(model, '/');
        const char *name = slash && slash[1] ? slash + 1 : model;
        if (strlen(name) > MODEL_CELL_MAX)
            snprintf(buf, sizeof buf, "%.*s…", MODEL_CELL_MAX - 1, name);
        else
            snprintf(buf, sizeof buf, "%s", name);
        model = buf;
    }
    text_cell(nt, model, "model not recorded");
}

/* Whether any row has its own memory figures (the dashboard's are the whole process's). */
static int rows_have_memory(const notes *nt)
{
    for (size_t i = 0; i < nt->n; i++)
        if (json_is_object(json_object_get(nt->rows[i], "memory")))
            return 1;
    return 0;
}

static void comparative(notes *nt)
{
    FILE *f = nt->f;
    int memory = rows_have_memory(nt);
    fprintf(f, "## Comparative Runs\n\n");
    fprintf(f, "_One row per run kept%s. Tokens: generated (prefill + decode); True TPS: tokens / wall time._\n\n",
            json_is_integer(json_object_get(nt->rows[0], "segment")) ? " (a dashboard segment each, ids as on screen)"
                                                                       : "");
    fprintf(f, "| Run | Model | Mode | Precision | Kernel | Threads | Affinity | A/B | Tokens | Wall (ms) "
               "| True TPS (tok/s) | Prefill (tok/s) | Decode (tok/s) | p50 (ms) | p95 (ms) | p99 (ms) |%s\n",
            memory ? " RSS peak (MB) | Minor faults | Major faults |" : "");
    fprintf(f, "|----:|:------|:-----|:----------|:-------|--------:|:---------|:---|-------:|----------:"
               "|-----------------:|----------------:|---------------:|---------:|---------:|---------:|%s\n",
            memory ? "--------------:|-------------:|-------------:|" : "");
    for (size_t i = 0; i < nt->n; i++) {
        const json_t *r = nt->rows[i];
        char id[32], tps[512], why[EX_WHY_MAX];
        double v;
        ex_segment_id(r, i, id, sizeof id);
        fprintf(f, "| %s |", id);
        model_cell(nt, r);
        text_cell(nt, ex_string(r, "mode", NULL), "mode not recorded");
        text_cell(nt, ex_string(r, "precision", r == nt->snap ? NULL : ex_string(nt->snap, "precision", NULL)),
                  "precision not recorded");
        text_cell(nt, ex_string(r, "kernel", NULL), "kernel not recorded");
        row_cell(nt, r, "threads", 1, "%.0f");
        text_cell(nt, ex_string(r, "affinity", NULL), "affinity not recorded");
        text_cell(nt, ex_string(r, "ab_side", "none"), NULL);
        row_cell(nt, r, "tokens_generated", 1, "%.0f");
        row_cell(nt, r, "wall_ms", 1, "%.3f");
        if (row_true_tps(r, &v, why, sizeof why))
            snprintf(tps, sizeof tps, "%.1f", v);
        else
            ex_na_text(&nt->why, why, tps, sizeof tps);
        text_cell(nt, tps, NULL);
        row_cell(nt, r, "prefill_tok_per_s", 1, "%.1f");
        row_cell(nt, r, "decode_tok_per_s", 1, "%.1f");
        row_cell(nt, r, "latency.p50_ms", 1, "%.3f");
        row_cell(nt, r, "latency.p95_ms", 1, "%.3f");
        row_cell(nt, r, "latency.p99_ms", 1, "%.3f");
        if (memory) {
            row_cell(nt, r, "memory.rss_peak_bytes", 1e-6, "%.1f");
            row_cell(nt, r, "memory.minor_faults", 1, "%.0f");
            row_cell(nt, r, "memory.major_faults", 1, "%.0f");
        }
        fputc('\n', f);
    }
    fputc('\n', f);
    if (!memory && nt->n > 1)
        fputs("_Memory is recorded for the whole process only: see Spatial Complexity._\n\n", f);
}

char *export_notes_render(const json_t *snapshot)
{
    notes *nt = calloc(1, sizeof *nt);
    const json_t **rows = malloc(MAX_ROWS * sizeof(const json_t *));
    size_t *first = malloc(MAX_ROWS * sizeof(size_t));
    ex_text t;
    if (!nt || !rows || !first || ex_text_open(&t) != 0) {
        free(nt);
        free(rows);
        free(first);
        return NULL;
    }
    *nt = (notes){.f = t.f, .snap = snapshot, .rows = rows};
    nt->n = collect_rows(snapshot, rows);
    describe_window(nt);
    size_t groups = model_groups(nt, first);
    header(nt, first, groups);
    summary(nt, first, groups);
    latency(nt);
    soak(nt);
    spatial(nt);
    counters(nt);
    ex_md_ab_section(nt->f, nt->snap, &nt->why);
    parameters(nt);
    system_info(nt);
    comparative(nt);
    ex_md_why_list(t.f, &nt->why, "## Unavailable\n\n_Why a figure marked n/a[k] could not be given._");
    free(nt);
    free(rows);
    free(first);
    return ex_text_close(&t);
}
