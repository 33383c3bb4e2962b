/* cmd_bench.c — `hstprof bench`: for each model x mode x thread count,
 * prefill throughput at each sequence length (rows ppS) and generation
 * throughput (a row tgN: N tokens decoded one at a time after a short
 * prompt), as min/median/mean/max/stddev over timed runs, as llama-bench
 * reports pp512 and tg128; into one JSON report that exports/ renders as
 * Markdown, CSV or JSON. Rows of a preset the published benchmark timed
 * carry its figure to compare with. */
#include "commands.h"
#include "engine/hst.h"
#include "exports/atomic.h"
#include "exports/exports.h"
#include "probes/json.h"
#include "probes/session.h"
#include "probes/stats.h"
#include "profiles/profiles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 32
/* The prompt before a generation row's tokens: short, as llama-bench's tg
 * rows start from an almost empty context, so the row measures decoding. */
#define TG_PROMPT 16

typedef struct {
    settings_flags set; /* seed, affinity, kernel, precision, mode, events, profile; models, seq, gen, warmup, runs */
    int seen_gen;       /* --gen given: a count the model cannot take is an error, not capped */
    hst_mode modes[HST_MODE_COUNT];
    int n_modes;
    char threads[256];  /* a list, unlike the other commands' --threads */
    int seen_thread_list, seen_models;
    char format[16];
    char output[1024];
    int no_probes;
    int seqs[MAX_LIST], n_seqs;
    int thread_counts[MAX_LIST], n_threads;
    char *model_names[MAX_LIST];
    int n_models;
    char model_buf[2048];
    export_format fmt;
    char kernel_in_use[16]; /* what --kernel resolves to on this CPU */
    int shared_pus;         /* --oversubscribe let threads share PUs */
} bench_flags;

/* Every thread count against the PUs, the affinity against this machine and
 * -o against the file system, before any model is built. */
static int check_placement_and_output(bench_flags *f)
{
    char why[2400];
    for (int i = 0; i < f->n_threads; i++)
        if (cmd_check_placement("bench", &f->set, f->thread_counts[i], &f->shared_pus) != 0)
            return -1;
    if (f->output[0] && args_check_output_path("--output", f->output, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof bench: %s\n", why);
        return -1;
    }
    return 0;
}

static int parse_lists(bench_flags *f)
{
    char err[160];
    f->n_seqs = args_parse_int_list(f->set.s.seq, f->seqs, MAX_LIST, 1, 8192, err, sizeof err);
    if (f->n_seqs < 0) {
        fprintf(stderr, "hstprof bench: --seq: %s\n", err);
        return -1;
    }
    f->n_threads = args_parse_int_list(f->threads, f->thread_counts, MAX_LIST, 1, 1024, err, sizeof err);
    if (f->n_threads < 0) {
        fprintf(stderr, "hstprof bench: --threads: %s\n", err);
        return -1;
    }
    if (check_placement_and_output(f) != 0)
        return -1;
    const hst_settings *st = &f->set.s;
    if (strcmp(st->models, "all") == 0) {
        f->n_models = 0;
        for (int i = 0; i < hst_preset_count() && f->n_models < MAX_LIST; i++) {
            hst_config cfg;
            /* "all" is every preset this build can run. */
            if (hst_preset_config(hst_preset_name(i), &cfg) == 0 && hst_arch_implemented(cfg.arch))
                f->model_names[f->n_models++] = (char *)hst_preset_name(i);
        }
    } else {
        snprintf(f->model_buf, sizeof f->model_buf, "%s", st->models);
        f->n_models = args_split_list(f->model_buf, f->model_names, MAX_LIST);
    }
    if (f->n_models == 0) {
        fprintf(stderr, "hstprof bench: --models is empty\n");
        return -1;
    }
    if (export_format_from_name(f->format, &f->fmt) != 0) {
        fprintf(stderr, "hstprof bench: --format must be md, csv or json, got '%s'\n", f->format);
        return -1;
    }
    hst_kernel kernel;
    if (cmd_check_engine_settings("bench", st->kernel, st->precision, &kernel) != 0)
        return -1;
    if ((f->n_modes = cmd_check_modes("bench", &f->set, f->modes, HST_MODE_COUNT)) < 0)
        return -1;
    snprintf(f->kernel_in_use, sizeof f->kernel_in_use, "%s", hst_kernel_name(kernel));
    return 0;
}

/* The thread counts: --threads LIST, else the profile's count, else every PU. */
static void thread_list(bench_flags *f)
{
    hst_settings *st = &f->set.s;
    if (f->seen_thread_list) {
        f->set.seen_threads = 1; /* what the placement check names */
        st->threads_from[0] = '\0';
        return;
    }
    cmd_default_threads(st);
    snprintf(f->threads, sizeof f->threads, "%d", st->threads);
}

static int parse_flags(int argc, char **argv, bench_flags *f)
{
    const opt_spec opts[] = {
        {"models", 0, OPT_STRING, f->set.s.models, sizeof f->set.s.models, 0, 0, "LIST|all", "presets or files, comma-separated, or all (default hst-v4)", &f->seen_models},
        {"seq", 0, OPT_STRING, f->set.s.seq, sizeof f->set.s.seq, 0, 0, "128,256,512", "prefill rows ppS: sequence lengths (default 128,256,512)", NULL},
        {"gen", 0, OPT_INT, &f->set.s.gen, 0, 0, 1 << 20, "N", "generation row tgN: tokens decoded one at a time after a 16-token prompt (default 128, capped to the model's context; 0: no generation row)", &f->seen_gen},
        settings_option(&f->set, "modes"),
        {"warmup", 0, OPT_INT, &f->set.s.warmup, 0, 0, 1000, "N", "untimed runs per cell, and more until 0.1 s has passed (default 2; 0: none)", NULL},
        {"runs", 0, OPT_INT, &f->set.s.runs, 0, 1, 100000, "N", "timed runs per cell (default 5)", NULL},
        {"threads", 't', OPT_STRING, f->threads, sizeof f->threads, 0, 0, "LIST", "thread counts (default: every PU)", &f->seen_thread_list},
        settings_option(&f->set, "oversubscribe"),
        {"format", 0, OPT_STRING, f->format, sizeof f->format, 0, 0, "md|csv|json", "report format (default md)", NULL},
        {"output", 'o', OPT_STRING, f->output, sizeof f->output, 0, 0, "FILE", "write the report to FILE (atomically; -: standard output, the default); Markdown comes with FILE.svg, its plot", NULL},
        settings_option(&f->set, "kernel"),
        settings_option(&f->set, "seed"),
        settings_option(&f->set, "affinity"),
        settings_option(&f->set, "events"),
        {"no-probes", 0, OPT_FLAG, &f->no_probes, 0, 0, 0, NULL, "no counters and no memory sampling", NULL},
        settings_option(&f->set, "profile"),
        settings_option(&f->set, "precision"),
    };
    const opt_table t = {
        "hstprof bench",
        "hstprof bench [-p PROFILE] [--models LIST|all] [--mode causal|parity|parity,causal] [--seq 128,256,512] [--gen 128] "
        "[--warmup 2] [--runs 5] [--threads LIST [--oversubscribe]] [--format md|csv|json] [-o FILE]",
        "For every model x mode x thread count, measures prefill throughput at each sequence length (rows pp128,\n"
        "pp256, ...: tokens/s = S / forward time, batch 1, logits for every row) and generation throughput (row\n"
        "tg128: 128 tokens decoded one at a time after a 16-token prompt whose prefill is not timed; tokens/s =\n"
        "N / decode time), with median, mean, stddev, min and max over the timed runs (llama-bench's pp512/tg128).\n"
        "--mode causal is the default; parity runs hst-v7.0, hst-chaos, hst-v7.1 and hst-v8 as the originals\n"
        "compute (the published benchmark timed parity; its decode recomputes the window, so parity tg rows are\n"
        "slow); parity,causal gives a row of each. For the other presets both modes are one computation. Rows of\n"
        "the presets the published benchmark timed, at its lengths 128, 256, 512, carry its tokens/s to compare.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    int rc = settings_parse(&t, argc, argv, &f->set);
    if (rc != ARGS_OK)
        return rc;
    thread_list(f);
    if (f->seen_models) /* the flag, not the profile's line, names a missing model */
        f->set.s.models_from[0] = '\0';
    return parse_lists(f) == 0 ? ARGS_OK : ARGS_ERROR;
}

/* Deterministic prompt ids spread over the vocabulary. */
static void fill_prompt(int *ids, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 7919u + 13u) % (uint64_t)vocab);
}

typedef struct {
    hst_model *model;     /* shared by the sessions of every mode and thread count */
    const char *name;
    char label[160];      /* as rows name it: the published report's name when it has the row */
    int gen, gen_prompt;  /* the generation row: tokens and the prompt before them (gen 0: none) */
    float *logits;
    int *ids;
} bench_model;

/* The measured session of one model in one mode at one thread count. */
static int open_session(const bench_model *bm, hst_mode mode, int threads, const bench_flags *f,
                        const probes_topo *topo, probes_session *s)
{
    const int counters_off = f->no_probes || strcmp(f->set.s.events, "none") == 0;
    const probes_session_settings st = {
        .shared_model = bm->model, .kernel = f->set.s.kernel, .mode = hst_mode_name(mode), .threads = threads,
        .affinity = f->set.s.affinity[0] ? f->set.s.affinity : "none", .topo = topo, .events = f->set.s.events,
        .counters_off = counters_off ? "counters off" : NULL, .load_ceilings = 1};
    char err[1024];
    int rc = probes_session_open(&st, s, err, sizeof err);
    if (rc != 0) {
        char line[1200];
        probes_session_error_line(s, err, line, sizeof line);
        fprintf(stderr, "hstprof bench: %s\n", line);
    }
    return rc;
}

/* What one cell measures: a prefill of seq_len tokens (gen 0), or gen
 * tokens decoded one at a time after a prompt of seq_len tokens. */
typedef struct {
    int seq_len, gen;
} bench_test;

/* One timed repetition of a generation row: the prompt's prefill untimed,
 * then gen decode steps, each feeding the last token chosen (greedy). */
static int time_generation(const bench_model *bm, probes_session *s, const bench_test *t, double *ms, hst_error *err)
{
    const int vocab = hst_session_config(s->session)->vocab_size;
    if (hst_forward(s->session, bm->ids, t->seq_len, bm->logits, 0, err) != 0)
        return -1;
    int token = hst_argmax(bm->logits, vocab);
    uint64_t t0 = hst_now_ns();
    for (int i = 0; i < t->gen && !cmd_interrupted(); i++) { /* parity steps are slow: stop at the next one */
        if (hst_forward(s->session, &token, 1, bm->logits, 0, err) != 0)
            return -1;
        token = hst_argmax(bm->logits, vocab);
    }
    *ms = (double)(hst_now_ns() - t0) / 1e6;
    return 0;
}

/* One run of a cell; its time in *run_ms (a generation row: the decode steps). */
static int run_cell_once(const bench_model *bm, probes_session *s, const bench_test *t, double *run_ms)
{
    hst_error err = {{0}};
    hst_session_reset(s->session);
    uint64_t t0 = hst_now_ns();
    int rc = t->gen > 0 ? time_generation(bm, s, t, run_ms, &err)
                        : hst_forward(s->session, bm->ids, t->seq_len, bm->logits, 1, &err);
    if (rc != 0) {
        fprintf(stderr, "hstprof bench: %s: %s\n", bm->name, err.msg);
        return -1;
    }
    if (t->gen == 0)
        *run_ms = (double)(hst_now_ns() - t0) / 1e6;
    return 0;
}

/* A cell's warm-up: its --warmup runs, then more until WARMUP_MIN_NS have
 * passed (none with --warmup 0). Two warm-up runs of a 4 ms prefill are 8 ms:
 * the first cells of a process then came out 1-2% slow (hst-v4 pp128, six
 * processes each way: 1 thread 30,400-31,500 tokens/s against 31,100-32,900
 * after 25 warm-up runs, 2 threads 56,000-58,000 against 57,300-58,600), the
 * clock, the caches and the pool's threads not yet settled. */
#define WARMUP_MIN_NS 100000000ull
#define WARMUP_MAX_RUNS 1000

/* Warms the cell up; returns the runs it took (-1: interrupted or failed). */
static int warm_cell(const bench_model *bm, probes_session *s, const bench_test *t, const bench_flags *f)
{
    const uint64_t start = hst_now_ns();
    int runs = 0;
    while (runs < f->set.s.warmup ||
           (f->set.s.warmup > 0 && runs < WARMUP_MAX_RUNS && hst_now_ns() - start < WARMUP_MIN_NS)) {
        double run_ms;
        if (cmd_interrupted() || run_cell_once(bm, s, t, &run_ms) != 0)
            return -1; /* an interruption is reported once, by cmd_bench */
        runs++;
    }
    return runs;
}

/* The timed runs of one cell, in one measured window (from the first timed
 * run; a generation row's window holds its prompts' prefills too). */
static int time_cell(const bench_model *bm, probes_session *s, const bench_test *t, const bench_flags *f, double *ms,
                     probes_window *w)
{
    probes_window_begin(s, w, !f->no_probes);
    for (int r = 0; r < f->set.s.runs; r++) {
        if (cmd_interrupted() || run_cell_once(bm, s, t, &ms[r]) != 0)
            return -1;
        if (!f->no_probes)
            probes_memory_sample(&w->memory);
    }
    probes_window_end(s, w);
    return 0;
}

/* Spec 11's FLOPs and bytes of one run of the cell in mode: a prefill of
 * seq_len tokens, or the decode steps at positions seq_len .. seq_len+gen-1. */
static void cell_work(const hst_config *c, hst_mode mode, const bench_test *t, double *flops, double *bytes)
{
    if (t->gen == 0) {
        *flops = hst_flops_prefill_per_token(c, mode, t->seq_len) * t->seq_len;
        *bytes = hst_bytes_prefill(c, mode, t->seq_len);
        return;
    }
    *flops = *bytes = 0;
    for (int i = 0; i < t->gen; i++) {
        *flops += hst_flops_decode(c, mode, t->seq_len + i);
        *bytes += hst_bytes_decode(c, mode, t->seq_len + i);
    }
}

/* Spec 11 counts f32 weights; the session counts them at the precision they
 * are stored in (bf16, int8). The share of its last call, the cell's last
 * forward, scales the cell's bytes to what the stored weights read. */
static double bytes_stored_share(const hst_session *session, const bench_test *t)
{
    const hst_config *c = hst_session_config(session);
    hst_mode mode = hst_session_mode(session);
    double f32 = t->gen ? hst_bytes_decode(c, mode, t->seq_len + t->gen - 1) : hst_bytes_prefill(c, mode, t->seq_len);
    double stored = hst_session_last_bytes(session);
    return f32 > 0 && stored > 0 ? stored / f32 : 1.0;
}

/* Counters, memory and the roofline point of one cell: one window. */
static void add_cell_probes(json_t *cell, const probes_session *s, const bench_test *t, const double *ms, int runs,
                            probes_window *w)
{
    double total_ms = 0, flops, bytes;
    for (int i = 0; i < runs; i++)
        total_ms += ms[i];
    cell_work(hst_session_config(s->session), hst_session_mode(s->session), t, &flops, &bytes);
    bytes *= bytes_stored_share(s->session, t);
    probes_window_report *rep = malloc(sizeof *rep);
    if (!rep)
        return;
    /* The working set the roofline places: a prefill's bytes, or one decode step's. */
    const double working_set = t->gen ? bytes / t->gen : bytes;
    probes_window_report_of(s, w, (double)hst_session_kv_bytes(s->session), bytes * runs, flops * runs,
                            (uint64_t)(total_ms * 1e6), working_set, rep);
    const char *phase = t->gen ? "decode" : "prefill";
    const probes_counter_window *windows[] = {&rep->counters}; /* a cell is one window */
    json_object_set_new(cell, "counters",
                        probes_counters_json(s->counters ? probes_counters_summary(s->counters) : s->counters_summary,
                                             rep->have_counters, &phase, windows));
    json_object_set_new(cell, "memory", rep->have_memory ? probes_memory_report_json(&rep->memory) : json_null());
    json_object_set_new(cell, "roofline", probes_roofline_json(&rep->roofline));
    free(rep);
}

/* The published benchmark's figure for a prefill row it has: its
 * computation is the parity one (spec 12.C.9, 12.D.0), which is every mode
 * of Cores A and B. */
static void add_report_figure(json_t *cell, const hst_model *m, hst_mode mode, const bench_test *t)
{
    double tps = t->gen ? NAN : export_seed_report_tps(export_seed_report_find(hst_model_preset(m)), t->seq_len);
    if (isnan(tps))
        return;
    json_object_set_new(cell, "report_tps", json_real(tps));
    int comparable = mode == HST_MODE_PARITY || !hst_arch_modes_differ(hst_model_config(m)->arch);
    json_object_set_new(cell, "report_comparable", json_boolean(comparable));
    if (!comparable)
        json_object_set_new(cell, "report_why_not",
                            json_string("the report timed the parity computation; causal mode is a different one"));
}

static json_t *cell_json(const bench_model *bm, hst_mode mode, const bench_test *t, int threads, const double *ms,
                         int runs)
{
    const int tokens = t->gen ? t->gen : t->seq_len;
    double *tps = malloc((size_t)runs * sizeof *tps);
    json_t *samples = json_array();
    if (!tps || !samples) {
        free(tps);
        json_decref(samples);
        return NULL;
    }
    for (int i = 0; i < runs; i++) {
        tps[i] = tokens / (ms[i] / 1e3);
        json_array_append_new(samples, json_real(ms[i]));
    }
    sample_summary ts, m;
    stats_summarize(tps, (size_t)runs, &ts);
    stats_summarize(ms, (size_t)runs, &m);
    free(tps);
    double flops, bytes;
    cell_work(hst_model_config(bm->model), mode, t, &flops, &bytes);
    flops /= tokens;
    char test[32], mode_label[64];
    snprintf(test, sizeof test, "%s%d", t->gen ? "tg" : "pp", tokens);
    probes_mode_label(hst_model_config(bm->model)->arch, mode, mode_label, sizeof mode_label);
    json_t *cell = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:i, s:i}", "model", bm->name, "label",
                             bm->label, "mode", hst_mode_name(mode), "mode_label", mode_label, "test", test, "phase",
                             t->gen ? "decode" : "prefill", "n_prompt", t->seq_len, "n_gen", t->gen, "seq_len",
                             t->gen ? json_null() : json_integer(t->seq_len), "threads", threads, "runs", runs);
    json_t *figures = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o}", "tps_median",
                                ts.median, "tps_mean", ts.mean, "tps_min", ts.min, "tps_max", ts.max, "tps_stddev",
                                ts.stddev, "time_ms_median", m.median, "time_ms_mean", m.mean, "time_ms_min", m.min,
                                "time_ms_max", m.max, "flops_per_token", flops, "gflops_per_s",
                                flops * ts.median / 1e9, "samples_ms", samples);
    if (cell && figures)
        json_object_update(cell, figures);
    json_decref(figures);
    if (cell && t->gen)
        json_object_set_new(cell, "seq_len_why_not", json_string("a generation row: n_prompt, then n_gen decode steps"));
    if (cell)
        add_report_figure(cell, bm->model, mode, t);
    return cell;
}

static json_t *model_json(const bench_model *bm)
{
    const hst_config *c = hst_model_config(bm->model);
    hst_counts k = hst_model_counts(bm->model);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b}", "name",
                          bm->name, "label", bm->label, "preset", hst_model_preset(bm->model), "class",
                          hst_arch_class(c->arch), "arch", hst_arch_name(c->arch), "params_total",
                          (json_int_t)k.params_total, "params_next_token", (json_int_t)k.params_next_token, "n_layers",
                          c->n_layers, "d_model", c->d_model, "n_heads", c->n_heads, "vocab_size", c->vocab_size,
                          "max_seq_len", c->max_seq_len, "horizon", c->horizon, "source", hst_model_source(bm->model),
                          "modes_differ", hst_arch_modes_differ(c->arch));
    if (o && bm->gen > 0)
        json_object_set_new(o, "gen", json_integer(bm->gen));
    return o;
}

/* The generation row's prompt and length for a model of cfg: the default
 * count is capped to the context, a count given with --gen is not. 0, or 2
 * after one line. */
static int plan_generation(const bench_flags *f, const char *name, const hst_config *cfg, int *gen, int *prompt)
{
    *prompt = TG_PROMPT < cfg->max_seq_len ? TG_PROMPT : cfg->max_seq_len - 1;
    *gen = f->set.s.gen;
    if (*gen <= 0 || *prompt < 1) {
        *gen = 0;
        return 0;
    }
    if (*prompt + *gen <= cfg->max_seq_len)
        return 0;
    if (!f->seen_gen) {
        *gen = cfg->max_seq_len - *prompt;
        return 0;
    }
    fprintf(stderr, "hstprof bench: --gen %d after a %d-token prompt needs %d positions; %s has max_seq_len %d\n",
            *gen, *prompt, *prompt + *gen, name, cfg->max_seq_len);
    return 2;
}

/* Every model's max_seq_len against --seq and --gen before the first cell
 * runs, so a length the last model cannot take fails at once, not after the
 * others were measured. A preset's comes from its configuration; a file is
 * loaded once here, which also reports a file that does not load up front.
 * 0 ok, 2 a length too long or a model that does not exist, 1 one that does not load. */
static int check_models(const bench_flags *f)
{
    char how[1200];
    snprintf(how, sizeof how, "%s%s", f->set.s.models_from, f->set.s.models_from[0] ? ": models entry" : "--models");
    for (int m = 0; m < f->n_models; m++) {
        const char *name = f->model_names[m];
        hst_config cfg;
        if (cmd_check_model("bench", name, how) != 0)
            return 2;
        if (hst_preset_config(name, &cfg) != 0) {
            hst_error err = {{0}};
            hst_model *model = hst_model_open(name, f->set.s.seed, &err);
            if (!model) {
                fprintf(stderr, "hstprof bench: %s\n", err.msg);
                return 1;
            }
            cfg = *hst_model_config(model);
            hst_model_free(model);
        }
        for (int i = 0; i < f->n_seqs; i++)
            if (f->seqs[i] > cfg.max_seq_len) {
                fprintf(stderr, "hstprof bench: --seq %d exceeds max_seq_len %d of %s\n", f->seqs[i], cfg.max_seq_len,
                        name);
                return 2;
            }
        int gen, prompt;
        if (plan_generation(f, name, &cfg, &gen, &prompt) != 0)
            return 2;
    }
    return 0;
}

static int open_bench_model(const char *name, const bench_flags *f, bench_model *bm)
{
    memset(bm, 0, sizeof *bm);
    bm->name = name;
    const probes_session_settings st = {.model = name, .seed = f->set.s.seed, .precision = f->set.s.precision};
    double load_ms;
    probes_session_part failed;
    char err[1024];
    bm->model = probes_session_open_model(&st, &load_ms, NULL, 0, &failed, err, sizeof err);
    if (!bm->model) {
        fprintf(stderr, "hstprof bench: %s\n", err);
        return 1;
    }
    const hst_config *c = hst_model_config(bm->model);
    hst_config preset;
    if (hst_preset_config(name, &preset) == 0) /* a file is named as given */
        export_seed_report_label(name, hst_arch_class(c->arch), bm->label, sizeof bm->label);
    else
        snprintf(bm->label, sizeof bm->label, "%s", name);
    plan_generation(f, name, c, &bm->gen, &bm->gen_prompt); /* checked by check_models */
    bm->ids = malloc((size_t)c->max_seq_len * sizeof *bm->ids);
    bm->logits = malloc((size_t)c->max_seq_len * c->vocab_size * sizeof *bm->logits);
    if (!bm->ids || !bm->logits) {
        fprintf(stderr, "hstprof bench: out of memory for %s\n", name);
        return 1;
    }
    fill_prompt(bm->ids, c->max_seq_len, c->vocab_size);
    return 0;
}

static void close_bench_model(bench_model *bm)
{
    hst_model_free(bm->model);
    free(bm->ids);
    free(bm->logits);
}

/* Every row of one model in one mode at one thread count: the prefill rows,
 * then the generation row. */
static int bench_setting(const bench_model *bm, hst_mode mode, int threads, const bench_flags *f,
                         const probes_topo *topo, json_t *runs)
{
    probes_session s;
    int rc = open_session(bm, mode, threads, f, topo, &s);
    double *ms = malloc((size_t)f->set.s.runs * sizeof *ms);
    probes_window *w = calloc(1, sizeof *w);
    if (rc == 0 && (!ms || !w)) {
        fprintf(stderr, "hstprof bench: out of memory\n");
        rc = 1;
    }
    const int n_tests = f->n_seqs + (bm->gen > 0); /* the prefill rows, then the generation row */
    for (int i = 0; rc == 0 && i < n_tests; i++) {
        const bench_test t = i < f->n_seqs ? (bench_test){f->seqs[i], 0} : (bench_test){bm->gen_prompt, bm->gen};
        int warmup_runs = warm_cell(bm, &s, &t, f);
        if (warmup_runs < 0 || time_cell(bm, &s, &t, f, ms, w) != 0) {
            rc = 1;
            break;
        }
        json_t *cell = cell_json(bm, mode, &t, threads, ms, f->set.s.runs);
        if (cell)
            json_object_set_new(cell, "warmup_runs", json_integer(warmup_runs));
        add_cell_probes(cell, &s, &t, ms, f->set.s.runs, w);
        json_array_append_new(runs, cell);
    }
    free(ms);
    free(w);
    probes_session_close(&s);
    return rc;
}

static json_t *report_header(const bench_flags *f, const char *kernel)
{
    char date[64], machine[160];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    probes_cpu_model(machine, sizeof machine);
    char desc[256];
    snprintf(desc, sizeof desc, "%s, %ld PUs%s", machine, sysconf(_SC_NPROCESSORS_ONLN),
             f->shared_pus ? " (oversubscribed: threads share PUs, --oversubscribe)" : "");
    json_t *seq = json_array(), *thr = json_array(), *modes = json_array();
    for (int i = 0; i < f->n_seqs; i++)
        json_array_append_new(seq, json_integer(f->seqs[i]));
    for (int i = 0; i < f->n_threads; i++)
        json_array_append_new(thr, json_integer(f->thread_counts[i]));
    for (int i = 0; i < f->n_modes; i++)
        json_array_append_new(modes, json_string(hst_mode_name(f->modes[i])));
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:o, s:o, s:i, s:i, s:i, s:f, s:i, s:I}, s:[], s:[]}", "tool",
                     "hstprof bench", "date", date, "kernel", kernel, "machine", desc, "settings", "modes", modes,
                     "seq", seq, "threads", thr, "gen", f->set.s.gen, "gen_prompt", TG_PROMPT, "warmup",
                     f->set.s.warmup, "warmup_min_s", f->set.s.warmup > 0 ? WARMUP_MIN_NS / 1e9 : 0.0, "runs",
                     f->set.s.runs, "seed", (json_int_t)f->set.s.seed, "models", "runs");
}

/* Markdown to a file comes with its plot beside it, the two written together. */
static int emit_with_plot(const bench_flags *f, const json_t *report)
{
    char paths[2][1024], *texts[2], err[1200];
    if (export_bench_files(report, f->output, paths, texts, err, sizeof err) == 0) {
        const char *names[2] = {paths[0], paths[1]}, *data[2] = {texts[0], texts[1]};
        size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
        int rc = export_write_atomic_files(2, names, data, lens, err, sizeof err);
        free(texts[0]);
        free(texts[1]);
        if (rc == 0)
            return 0;
    }
    fprintf(stderr, "hstprof bench: %s\n", err);
    return 1;
}

static int emit(const bench_flags *f, const json_t *report)
{
    if (f->fmt == EXPORT_MD && f->output[0])
        return emit_with_plot(f, report);
    char *text = export_bench_render(report, f->fmt);
    if (!text) {
        fprintf(stderr, "hstprof bench: out of memory rendering the report\n");
        return 1;
    }
    int rc = 0;
    if (f->output[0]) {
        char err[512];
        if (export_write_atomic(f->output, text, strlen(text), err, sizeof err) != 0) {
            fprintf(stderr, "hstprof bench: %s\n", err);
            rc = 1;
        }
    } else {
        fputs(text, stdout);
    }
    free(text);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    bench_flags *f = calloc(1, sizeof *f);
    if (!f)
        return 1;
    snprintf(f->format, sizeof f->format, "md");
    int rc = parse_flags(argc, argv, f);
    if (rc != ARGS_OK) {
        free(f);
        return rc == ARGS_HELP ? 0 : 2;
    }
    if ((rc = check_models(f)) != 0) {
        free(f);
        return rc;
    }
    cmd_interrupt_install();
    json_t *report = report_header(f, f->kernel_in_use);
    json_object_set_new(report, "precision", json_string(f->set.s.precision[0] ? f->set.s.precision : "f32"));
    if (f->set.s.name[0])
        json_object_set_new(json_object_get(report, "settings"), "profile", json_string(f->set.s.name));
    char err[256];
    probes_topo *topo = probes_topo_load(err, sizeof err);
    if (!topo) {
        fprintf(stderr, "hstprof bench: %s\n", err);
        rc = 1;
    }
    for (int m = 0; rc == 0 && m < f->n_models; m++) {
        bench_model bm;
        rc = open_bench_model(f->model_names[m], f, &bm);
        if (rc == 0)
            json_array_append_new(json_object_get(report, "models"), model_json(&bm));
        for (int k = 0; rc == 0 && k < f->n_modes; k++)
            for (int t = 0; rc == 0 && t < f->n_threads; t++)
                rc = bench_setting(&bm, f->modes[k], f->thread_counts[t], f, topo, json_object_get(report, "runs"));
        close_bench_model(&bm);
    }
    probes_topo_free(topo);
    if (cmd_interrupted()) /* nothing partial: the report is written whole or not at all */
        rc = cmd_interrupt_exit_status("hstprof bench");
    if (rc == 0)
        rc = emit(f, report);
    json_decref(report);
    free(f);
    return rc;
}
