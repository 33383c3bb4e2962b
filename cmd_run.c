/* cmd_run.c — `hstprof run`: prefill a prompt, generate N tokens, and
 * summarise what happened (rates, time to first token, real per-token
 * latency percentiles, memory, quality hash). */
#include "commands.h"
#include "engine/hst.h"
#include "exports/atomic.h"
#include "exports/exports.h"
#include "probes/json.h"
#include "probes/runner.h"
#include "probes/topo.h"
#include "profiles/profiles.h"
#include "exports/serve/serve.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROMPT 8192
#define DEFAULT_PROMPT "The harmonic spine carries the lattice."

typedef struct {
    settings_flags set; /* model, seed, threads, affinity, kernel, precision, mode, events, profile; tokens, sampling */
    char prompt[4 * MAX_PROMPT];
    char prompt_tokens[8 * MAX_PROMPT];
    int greedy;
    int print_tokens;
    char dump_logits[1024];
    char format[16];
    int no_probes;
    int strict_weights;
    int progress;
    int quiet;
    int shared_pus; /* --oversubscribe let threads share PUs */
    int seen_prompt, seen_prompt_tokens, seen_temperature, seen_top_k, seen_tokens;
    double duration_s; /* a soak run */
    int seen_log, seen_trace, seen_dump_logits; /* an empty FILE is an error, not "none" */
    opt_string_list exports; /* --export, as often as given: written together */
    char export_format_name[16], log_path[1024], title[256], change[1024], trace_path[1024];
    export_format export_fmt[OPT_LIST_MAX];
    cmd_metrics_flags metrics; /* --metrics-listen, --metrics-allow-remote, --metrics-file */
} run_flags;

static int check_one_line(const char *flag, const char *text)
{
    if (!strpbrk(text, "\r\n"))
        return 0;
    fprintf(stderr, "hstprof run: %s must be one line\n", flag);
    return -1;
}

/* The format of each --export: --export-format for a single one, else its extension. */
static int check_export_formats(run_flags *f)
{
    const opt_string_list *x = &f->exports;
    if (f->export_format_name[0] && x->n == 0) {
        fprintf(stderr, "hstprof run: --export-format needs --export FILE\n");
        return -1;
    }
    if (f->export_format_name[0] && x->n > 1) {
        fprintf(stderr, "hstprof run: --export-format applies to a single --export; name each of the %d files .md, "
                        ".csv or .json\n", x->n);
        return -1;
    }
    if (f->export_format_name[0] && export_format_from_name(f->export_format_name, &f->export_fmt[0]) != 0) {
        fprintf(stderr, "hstprof run: --export-format must be md, csv or json, got '%s'\n", f->export_format_name);
        return -1;
    }
    for (int i = 0; i < x->n && !f->export_format_name[0]; i++)
        if (x->items[i][0] && export_format_from_path(x->items[i], &f->export_fmt[i]) != 0) { /* "": said below */
            fprintf(stderr, "hstprof run: --export %s: name a .md, .csv or .json file, or give --export-format "
                            "md|csv|json\n", x->items[i]);
            return -1;
        }
    return 0;
}

static int check_export_flags(run_flags *f)
{
    if (check_export_formats(f) != 0)
        return -1;
    if (f->log_path[0] && !f->title[0]) {
        fprintf(stderr, "hstprof run: --log needs --title (entries with the same title are grouped)\n");
        return -1;
    }
    if (!f->log_path[0] && !f->seen_log && (f->title[0] || f->change[0])) {
        fprintf(stderr, "hstprof run: --%s needs --log FILE\n", f->title[0] ? "title" : "change");
        return -1;
    }
    return check_one_line("--title", f->title) || check_one_line("--change", f->change) ? -1 : 0;
}

typedef struct {
    const char *flag, *path;
} output_file;

/* Every file the run was asked to write (a FILE given empty is listed: it is an error). */
static int list_outputs(const run_flags *f, output_file *out)
{
    int n = 0;
    for (int i = 0; i < f->exports.n; i++)
        out[n++] = (output_file){"--export", f->exports.items[i]};
    if (f->seen_log || f->log_path[0])
        out[n++] = (output_file){"--log", f->log_path};
    if (f->seen_trace || f->trace_path[0])
        out[n++] = (output_file){"--trace", f->trace_path};
    if (f->seen_dump_logits || f->dump_logits[0])
        out[n++] = (output_file){"--dump-logits", f->dump_logits};
    if (f->metrics.seen_file || f->metrics.file[0])
        out[n++] = (output_file){"--metrics-file", f->metrics.file};
    return n;
}

/* Two outputs naming one file would overwrite each other in the group write.
 * Compared through symbolic links and their directories, so that ./a.md,
 * a.md and a link to it are one. */
static void resolved_path(const char *path, char *out, size_t len)
{
    char file[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    if (export_target_check(path, file, sizeof file, NULL, 0) != EXPORT_TARGET_FILE) /* a stream: as named */
        snprintf(file, sizeof file, "%s", path);
    const char *slash = strrchr(file, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - file) + (slash == file) : 1, slash ? file : ".");
    if (realpath(dir, real))
        snprintf(out, len, "%s/%s", real, slash ? slash + 1 : file);
    else
        snprintf(out, len, "%s", file);
}

static int check_distinct_outputs(const output_file *outputs, int n, char *why, size_t len)
{
    char a[2 * PATH_MAX + 2], b[2 * PATH_MAX + 2];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (strcmp(outputs[i].path, "-") == 0 && strcmp(outputs[j].path, "-") == 0) {
                snprintf(why, len, "%s - and %s -: one output at most goes to standard output", outputs[i].flag,
                         outputs[j].flag);
                return -1;
            }
            resolved_path(outputs[i].path, a, sizeof a);
            resolved_path(outputs[j].path, b, sizeof b);
            if (strcmp(a, b) == 0) {
                snprintf(why, len, "%s %s and %s %s name the same file; give each output its own", outputs[i].flag,
                         outputs[i].path, outputs[j].flag, outputs[j].path);
                return -1;
            }
        }
    return 0;
}

/* Placement and output files are checked before the model loads, so that
 * a mistake costs milliseconds, not a whole run. */
static int check_placement_and_outputs(run_flags *f)
{
    char why[2400];
    if (cmd_check_placement("run", &f->set, f->set.s.threads, &f->shared_pus) != 0)
        return -1;
    int rc = 0;
    output_file outputs[OPT_LIST_MAX + 4];
    int n = list_outputs(f, outputs);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = args_check_output_path(outputs[i].flag, outputs[i].path, why, sizeof why);
    if (rc == 0)
        rc = check_distinct_outputs(outputs, n, why, sizeof why);
    for (int i = 0; rc == 0 && i < f->exports.n; i++) /* an existing CSV gets rows: the same columns */
        if (f->export_fmt[i] == EXPORT_CSV)
            rc = export_csv_check_appendable(f->exports.items[i], why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "hstprof run: %s\n", why);
    for (int i = 0; rc == 0 && i < n; i++)
        if (strcmp(outputs[i].path, "-") == 0) { /* it takes the summary's place */
            if (f->print_tokens) {
                fprintf(stderr, "hstprof run: %s - and --print-tokens both write to standard output; name a file "
                                "for one of them\n", outputs[i].flag);
                return -1;
            }
            f->quiet = 1;
        }
    return rc;
}

/* The run as one JSON object: every export renders from it. */
static json_t *run_snapshot(const run_flags *f, const run_result *r)
{
    json_t *o = runner_result_json(r);
    if (o)
        json_object_set_new(o, "profile", json_string(f->set.s.name));
    if (o) /* --oversubscribe let threads share PUs */
        json_object_set_new(o, "oversubscribed", json_boolean(f->shared_pus));
    return o;
}

/* Renders every requested file, then writes them together: either all
 * appear or none changes. 0, or 1 with one line on stderr. */
static int write_exports(const run_flags *f, const run_result *r)
{
    if (!f->exports.n && !f->log_path[0] && !f->trace_path[0])
        return 0;
    /* Each Markdown export comes with its two plots. */
    enum { MAX_FILES = OPT_LIST_MAX * EXPORT_NOTES_FILES + 2 };
    _Static_assert(MAX_FILES <= EXPORT_MAX_FILES, "every file of a run is written in one group");
    const char *paths[MAX_FILES];
    char *texts[MAX_FILES] = {NULL};
    size_t lens[MAX_FILES];
    int n = 0, rc = 0;
    char err[1024] = "out of memory rendering the exports";
    char(*notes_paths)[EXPORT_NOTES_FILES][1024] = calloc(OPT_LIST_MAX, sizeof *notes_paths);
    json_t *snap = run_snapshot(f, r);
    if (!notes_paths || !snap || export_snapshot_complete(snap) != 0 ||
        json_object_set_new(snap, "system", probes_system_json()) != 0)
        rc = -1;
    for (int i = 0; rc == 0 && i < f->exports.n; i++) {
        if (f->export_fmt[i] == EXPORT_MD) {
            rc = export_notes_files(snap, f->exports.items[i], notes_paths[i], &texts[n], err, sizeof err);
            for (int k = 0; rc == 0 && k < EXPORT_NOTES_FILES; k++)
                paths[n++] = notes_paths[i][k];
            continue;
        }
        paths[n] = f->exports.items[i];
        texts[n] = f->export_fmt[i] == EXPORT_CSV ? export_csv_prepare(paths[n], snap, err, sizeof err)
                                                  : export_snapshot_render(snap, f->export_fmt[i]);
        rc = texts[n++] ? 0 : -1;
    }
    if (rc == 0 && f->log_path[0]) {
        paths[n] = f->log_path;
        rc = (texts[n++] = export_log_prepare(f->log_path, snap, f->title, f->change, err, sizeof err)) ? 0 : -1;
    }
    if (rc == 0 && f->trace_path[0]) {
        json_t *trace = runner_trace_json(r);
        paths[n] = f->trace_path;
        rc = trace && (texts[n++] = export_trace_is_json(f->trace_path) ? export_trace_events_render(trace)
                                                                          : export_trace_render(trace))
                 ? 0
                 : -1;
        json_decref(trace);
    }
    for (int i = 0; rc == 0 && i < n; i++)
        lens[i] = strlen(texts[i]);
    if (rc == 0)
        rc = export_write_atomic_files(n, paths, (const char *const *)texts, lens, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "hstprof run: %s\n", err);
    for (int i = 0; i < n; i++)
        free(texts[i]);
    free(notes_paths);
    json_decref(snap);
    return rc == 0 ? 0 : 1;
}

static int parse_flags(int argc, char **argv, run_flags *f)
{
    const opt_spec opts[] = {
        settings_option(&f->set, "model"),
        settings_option(&f->set, "seed"),
        settings_option(&f->set, "threads"),
        settings_option(&f->set, "oversubscribe"),
        settings_option(&f->set, "profile"),
        {"prompt", 0, OPT_STRING, f->prompt, sizeof f->prompt, 0, 0, "TEXT", "prompt text; its UTF-8 bytes are the ids 0..255", &f->seen_prompt},
        {"prompt-tokens", 0, OPT_STRING, f->prompt_tokens, sizeof f->prompt_tokens, 0, 0, "1,2,3", "prompt as token ids", &f->seen_prompt_tokens},
        {"tokens", 'n', OPT_INT, &f->set.s.n_tokens, 0, 0, 1 << 20, "N", "tokens to generate (default 128; 0 only prefills; with --duration 0 = no cap)", &f->seen_tokens},
        {"duration", 0, OPT_FLOAT, &f->duration_s, 0, 0.001, 604800, "SECONDS", "soak run: generate for this long, restarting from the prompt whenever the context is full; statistics stay in bounded memory", NULL},
        {"greedy", 0, OPT_FLAG, &f->greedy, 0, 0, 0, NULL, "arg-max decoding (the default)", NULL},
        {"temperature", 0, OPT_FLOAT, &f->set.s.temperature, 0, 0, 1e6, "T", "sample at temperature T (0: greedy, as a profile's temperature = 0)", &f->seen_temperature},
        {"top-k", 0, OPT_INT, &f->set.s.top_k, 0, 1, 1 << 30, "K", "sample among the K most likely tokens", &f->seen_top_k},
        {"print-tokens", 0, OPT_FLAG, &f->print_tokens, 0, 0, 0, NULL, "print the generated ids on one line, comma-separated", NULL},
        {"dump-logits", 0, OPT_STRING, f->dump_logits, sizeof f->dump_logits, 0, 0, "FILE", "write prefill logits as raw little-endian float32 [prompt_len, vocab] (-: standard output)", &f->seen_dump_logits},
        {"format", 0, OPT_STRING, f->format, sizeof f->format, 0, 0, "text|json", "summary format (default text)", NULL},
        settings_option(&f->set, "kernel"),
        settings_option(&f->set, "precision"),
        settings_option(&f->set, "mode"),
        settings_option(&f->set, "affinity"),
        settings_option(&f->set, "events"),
        {"no-probes", 0, OPT_FLAG, &f->no_probes, 0, 0, 0, NULL, "no counters and no memory sampling (overhead baseline)", NULL},
        {"strict-weights", 0, OPT_FLAG, &f->strict_weights, 0, 0, 0, NULL, "reject a model file holding NaN or Inf weights (exit 1) instead of warning", NULL},
        {"progress", 0, OPT_FLAG, &f->progress, 0, 0, 0, NULL, "progress on stderr: one line redrawn on a terminal, else a plain line every 5 s", NULL},
        {"quiet", 'q', OPT_FLAG, &f->quiet, 0, 0, 0, NULL, "no summary (with --print-tokens: the ids only)", NULL},
        {"export", 0, OPT_STRING_LIST, &f->exports, 0, 0, 0, "FILE", "write the run as performance notes (.md, with FILE-latency.svg and FILE-throughput.svg beside it), a CSV row (.csv; an existing CSV of the same columns gets the row appended) or JSON (.json); repeat for several (written together, all or none); - with --export-format: standard output, instead of the summary", NULL},
        {"export-format", 0, OPT_STRING, f->export_format_name, sizeof f->export_format_name, 0, 0, "md|csv|json", "format of a single --export (default: from its extension)", NULL},
        {"log", 0, OPT_STRING, f->log_path, sizeof f->log_path, 0, 0, "FILE", "append a dated entry to a benchmark log (e.g. BENCHMARKS.md); needs --title", &f->seen_log},
        {"title", 0, OPT_STRING, f->title, sizeof f->title, 0, 0, "TEXT", "--log: heading the entry goes under (same title: before and after together)", NULL},
        {"change", 0, OPT_STRING, f->change, sizeof f->change, 0, 0, "TEXT", "--log: what changed since the last entry", NULL},
        cmd_metrics_option(&f->metrics, "metrics-listen"),
        cmd_metrics_option(&f->metrics, "metrics-allow-remote"),
        cmd_metrics_option(&f->metrics, "metrics-file"),
        {"trace", 0, OPT_STRING, f->trace_path, sizeof f->trace_path, 0, 0, "FILE.csv|FILE.json", "per-token trace: CSV (time, latency, section timings, counter deltas), or for .json a Chrome/Perfetto timeline", &f->seen_trace},
    };
    const opt_table t = {
        "hstprof run",
        "hstprof run [-p PROFILE] [--model PRESET|FILE] [--mode causal|parity] [--seed N] [--threads N] "
        "[--prompt TEXT | --prompt-tokens 1,2,3] "
        "[-n N | --duration SECONDS] [--greedy | --temperature T --top-k K] [--print-tokens] [--dump-logits FILE] [--export FILE] "
        "[--log FILE --title T --change TEXT] [--trace FILE.csv|FILE.json] [--metrics-listen ADDR:PORT] [--metrics-file FILE]",
        "Prefills the prompt, then generates N tokens one at a time through the KV cache, and prints prefill and\n"
        "decode tokens/s, time to first token, per-token latency percentiles, peak RSS and the quality hash.\n"
        "--mode parity runs hst-v7.0, hst-chaos, hst-v7.1 and hst-v8 as the originals compute (every decode step\n"
        "recomputes the window: slow at long contexts); causal, the default, decodes incrementally. For the other\n"
        "presets both modes are one computation.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    int rc = settings_parse(&t, argc, argv, &f->set);
    if (rc != ARGS_OK)
        return rc;
    cmd_default_threads(&f->set.s);
    if (cmd_check_settings_model("run", &f->set.s) != 0 || check_export_flags(f) != 0 ||
        check_placement_and_outputs(f) != 0)
        return ARGS_ERROR;
    if (f->seen_prompt && f->seen_prompt_tokens) {
        fprintf(stderr, "hstprof run: give --prompt or --prompt-tokens, not both\n");
        return ARGS_ERROR;
    }
    if (f->greedy && (f->seen_temperature || f->seen_top_k)) {
        fprintf(stderr, "hstprof run: --greedy cannot be combined with --temperature or --top-k\n");
        return ARGS_ERROR;
    }
    if (f->seen_top_k && !(f->set.s.temperature > 0)) {
        fprintf(stderr, "hstprof run: --top-k needs --temperature above 0 (a temperature of 0 is greedy)\n");
        return ARGS_ERROR;
    }
    if (f->duration_s > 0 && f->trace_path[0]) {
        fprintf(stderr, "hstprof run: --trace keeps a row per token in memory; it cannot be combined with --duration\n");
        return ARGS_ERROR;
    }
    if (f->metrics.listen[0] && !(f->duration_s > 0)) {
        fprintf(stderr, "hstprof run: --metrics-listen serves a run while it lasts: give --duration SECONDS (a "
                        "counted run ends before a scrape; --metrics-file works for any run)\n");
        return ARGS_ERROR;
    }
    if (cmd_check_metrics("run", &f->metrics) != 0)
        return ARGS_ERROR;
    if (f->duration_s > 0 && !f->seen_tokens) /* a profile's or the default count would cut the soak short */
        f->set.s.n_tokens = 0;
    if (strcmp(f->format, "text") != 0 && strcmp(f->format, "json") != 0) {
        fprintf(stderr, "hstprof run: --format must be text or json, got '%s'\n", f->format);
        return ARGS_ERROR;
    }
    hst_mode mode;
    if (cmd_check_modes("run", &f->set, &mode, 1) < 0)
        return ARGS_ERROR;
    return cmd_check_engine_settings("run", f->set.s.kernel, f->set.s.precision, NULL) == 0 ? ARGS_OK : ARGS_ERROR;
}

static int build_prompt(const run_flags *f, int vocab, int *ids, int *n)
{
    if (f->seen_prompt_tokens) {
        char err[128];
        int k = args_parse_int_list(f->prompt_tokens, ids, MAX_PROMPT, 0, vocab - 1, err, sizeof err);
        if (k < 0) {
            fprintf(stderr, "hstprof run: --prompt-tokens: %s (the vocabulary is 0..%d)\n", err, vocab - 1);
            return -1;
        }
        *n = k;
        return 0;
    }
    /* An empty --prompt is an error; an empty profile prompt means the default one. */
    const char *text = f->seen_prompt ? f->prompt : f->set.s.prompt[0] ? f->set.s.prompt : DEFAULT_PROMPT;
    size_t len = strlen(text);
    if (len == 0) {
        fprintf(stderr, "hstprof run: --prompt is empty\n");
        return -1;
    }
    if (vocab < 256) {
        fprintf(stderr, "hstprof run: a text prompt needs a vocabulary of at least 256 ids (this model has %d); "
                        "use --prompt-tokens\n", vocab);
        return -1;
    }
    if (len > MAX_PROMPT) {
        fprintf(stderr, "hstprof run: --prompt is %zu bytes, at most %d\n", len, MAX_PROMPT);
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        ids[i] = (unsigned char)text[i];
    *n = (int)len;
    return 0;
}

static void print_soak_summary(const run_result *r)
{
    const run_soak *k = &r->soak;
    printf("soak        %.1f s of %.1f s, %llu cycles (the context restarts from the prompt when full; "
           "re-prefills %.1f ms, not in decode)\n", r->wall_ms / 1e3, k->duration_s, (unsigned long long)k->cycles,
           k->restart_prefill_ms);
    if (k->rss_after_warmup_bytes > 0)
        printf("            RSS after warm-up (%.0f s) %.1f MB, highest after %.1f MB (+%.0f KB), at the end %.1f MB\n",
               k->warmup_s, k->rss_after_warmup_bytes / 1e6, k->rss_max_after_warmup_bytes / 1e6,
               (k->rss_max_after_warmup_bytes - k->rss_after_warmup_bytes) / 1e3, k->rss_end_bytes / 1e6);
    if (k->cycles_identical >= 0 && k->cycles_compared > 0)
        printf("            greedy cycles %s the first (%llu compared)\n",
               k->cycles_identical ? "all repeat" : "DIFFER from", (unsigned long long)k->cycles_compared);
    printf("            statistics %zu bytes, whatever the length (latency percentiles from a histogram, within 0.5%%)\n",
           sizeof *k);
}

static void print_text_summary(const run_flags *f, const run_result *r)
{
    const hst_config *c = &r->config;
    if (r->interrupted)
        printf("interrupted after %.1f s (Ctrl-C): the figures below cover the run so far; no quality hash\n",
               r->wall_ms / 1e3);
    printf("model       %s (%s), %.2fM params (%.2fM next-token), %s\n", r->model_name, r->preset,
           r->counts.params_total / 1e6, r->counts.params_next_token / 1e6, r->source);
    printf("engine      %d thread%s, kernel %s, precision %s, mode %s, max_seq_len %d, vocab %d\n", r->threads,
           r->threads == 1 ? "" : "s", r->kernel, r->precision, r->mode_label, c->max_seq_len, c->vocab_size);
    if (f->shared_pus)
        printf("            oversubscribed (--oversubscribe): the %d threads share PUs; timings do not show scaling\n",
               r->threads);
    if (r->contention.jobs_solo > 0)
        printf("            contention: %.0f%% of the jobs ran on 1 thread (the threads waited for a core: another "
               "process wants these PUs)\n", 100.0 * (double)r->contention.jobs_solo / (double)r->contention.jobs);
    printf("prefill     %d tokens in %.3f ms = %.1f tok/s (%.2f GFLOP/s)\n", r->prompt_len, r->prefill_ms,
           r->prefill_tok_per_s, r->prefill_gflops_per_s);
    if (r->decode_steps > 0)
        printf("decode      %lld tokens in %.3f ms = %.1f tok/s (%.2f GFLOP/s)\n", (long long)r->decode_steps,
               r->decode_ms, r->decode_tok_per_s, r->decode_gflops_per_s);
    else
        printf("decode      n/a (%s)\n", f->set.s.n_tokens == 0 && !r->soak.active ? "-n 0: prefill only"
                                                                              : "one token comes from the prefill");
    if (r->soak.active)
        print_soak_summary(r);
    if (r->tokens_total > 0)
        printf("ttft        %.3f ms (prefill + first sample)\n", r->ttft_ms);
    if (r->latency.n > 0)
        printf("latency     p50 %.3f ms, p95 %.3f ms, p99 %.3f ms per token (min %.3f, max %.3f, %zu samples)\n",
               r->latency.p50, r->latency.p95, r->latency.p99, r->latency.min, r->latency.max, r->latency.n);
    printf("memory      peak RSS %.1f MB, KV cache %.2f MB\n", r->peak_rss_bytes / 1e6, r->kv_cache_bytes / 1e6);
    if (!r->interrupted)
        printf("quality     hash %016llx (32 greedy tokens after a fixed prompt)\n", (unsigned long long)r->quality_hash);
    runner_print_probes(stdout, r);
}

static void print_json_summary(const run_flags *f, const run_result *r)
{
    json_t *o = run_snapshot(f, r);
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static int write_logits(const char *path, const run_result *r)
{
    char err[512];
    size_t bytes = (size_t)r->prompt_len * r->config.vocab_size * sizeof(float);
    if (export_write_atomic(path, (const char *)r->prefill_logits, bytes, err, sizeof err) != 0) {
        fprintf(stderr, "hstprof run: %s\n", err);
        return -1;
    }
    return 0;
}

/* Parity decode recomputes the window at every step (spec 12.0): said once,
 * before a run that will decode that way. */
static void note_parity_decode(const run_request *req, const run_result *res)
{
    if (res->mode != HST_MODE_PARITY || !hst_arch_modes_differ(res->config.arch) ||
        (req->n_tokens <= 1 && req->duration_s <= 0))
        return;
    fprintf(stderr, "hstprof run: note: parity mode recomputes the whole window at every decode step (the original's "
                    "computation), so decoding slows as the context grows; --mode causal decodes incrementally\n");
}

int cmd_run(int argc, char **argv)
{
    run_flags *f = calloc(1, sizeof *f);
    static int ids[MAX_PROMPT];
    if (!f) {
        fprintf(stderr, "hstprof run: out of memory\n");
        return 1;
    }
    snprintf(f->format, sizeof f->format, "text");
    int rc = parse_flags(argc, argv, f);
    if (rc != ARGS_OK) {
        free(f);
        return rc == ARGS_HELP ? 0 : 2;
    }
    const hst_settings *s = &f->set.s;
    run_request req = {0};
    req.session.model = s->model;
    req.session.seed = s->seed;
    req.session.threads = s->threads;
    req.session.kernel = s->kernel;
    req.session.affinity = s->affinity[0] ? s->affinity : "none";
    req.session.events = s->events[0] ? s->events : NULL;
    req.session.strict_weights = f->strict_weights;
    req.session.precision = s->precision;
    req.session.mode = s->mode;
    req.n_tokens = s->n_tokens;
    /* The temperature comes from the flag or the profile; --greedy overrides both. */
    req.temperature = f->greedy ? 0.0f : (float)s->temperature;
    req.top_k = f->greedy ? 0 : s->top_k;
    req.keep_prefill_logits = f->dump_logits[0] != '\0';
    req.progress = !f->progress ? RUN_PROGRESS_OFF : isatty(STDERR_FILENO) ? RUN_PROGRESS_TERMINAL : RUN_PROGRESS_LINES;
    req.no_probes = f->no_probes;
    req.trace = f->trace_path[0] != '\0';
    req.duration_s = f->duration_s;
    req.interrupted = cmd_interrupted;
    run_result res;
    cmd_interrupt_install();
    probes_metrics_feed *feed = NULL;
    serve_metrics *server = NULL;
    if (cmd_start_metrics("run", &f->metrics, &feed, &server) != 0) {
        free(f);
        return 1;
    }
    req.metrics = feed;
    rc = runner_prepare(&req, &res);
    if (rc == 0 && build_prompt(f, res.config.vocab_size, ids, &req.n_prompt) != 0)
        rc = 2;
    req.prompt = ids;
    if (rc == 0)
        note_parity_decode(&req, &res);
    if (rc == 0)
        rc = runner_generate(&req, &res);
    /* SIGTERM or SIGHUP: before any export, so none is written. Ctrl-C once
     * generating: the run so far is reported and exported, then exit 130. */
    const int keep_so_far = rc == 0 && cmd_interrupted() == SIGINT && res.interrupted;
    if (rc == 0 && cmd_interrupted() && !keep_so_far)
        rc = cmd_interrupt_exit_status("hstprof run");
    /* The metrics file's last version holds the final figures (not after an interruption: nothing more is written). */
    if (cmd_stop_metrics("run", feed, server, rc == 0) != 0 && rc == 0)
        rc = 1;
    if (rc == 0 && f->dump_logits[0] && write_logits(f->dump_logits, &res) != 0)
        rc = 1;
    if (rc == 0 && write_exports(f, &res) != 0)
        rc = 1;
    if (rc == 0) {
        if (f->print_tokens) {
            for (int i = 0; i < res.n_generated; i++)
                printf("%s%d", i ? "," : "", res.generated[i]);
            printf("\n");
        }
        if (!f->quiet) {
            if (strcmp(f->format, "json") == 0)
                print_json_summary(f, &res);
            else
                print_text_summary(f, &res);
        }
    }
    if (rc == 0 && keep_so_far) {
        fflush(stdout);
        fprintf(stderr, "hstprof run: interrupted by SIGINT after %.1f s; the statistics so far are %s\n",
                res.wall_ms / 1e3, f->exports.n || f->log_path[0] ? "printed and exported" : "printed");
        rc = 128 + SIGINT;
    }
    runner_release(&res);
    free(f);
    return rc;
}
