/* runner.c — prefill, then token-by-token generation, timing every step.
 * Nothing here allocates per token: buffers are sized before the loop. */
#include "probes/json.h"
#include "probes/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMORY_SAMPLE_NS 20000000ull /* 50 memory samples a second at most */

/* One line for a session that did not open, naming the flag behind the part
 * that failed. */
static void report_session_error(const probes_session *s, const char *err)
{
    char line[1200];
    probes_session_error_line(s, err, line, sizeof line);
    fprintf(stderr, "hstprof run: %s\n", line);
}

int runner_prepare(const run_request *req, run_result *res)
{
    memset(res, 0, sizeof *res);
    runner_note_request(req, res);
    probes_session_settings st = req->session;
    const int events_none = st.events && strcmp(st.events, "none") == 0;
    if (req->no_probes || events_none)
        st.counters_off = req->no_probes ? "counters off (--no-probes)" : "counters off (--events none)";
    st.load_ceilings = 1;
    char err[1024];
    int rc = probes_session_open(&st, &res->measured, err, sizeof err);
    if (rc != 0) {
        report_session_error(&res->measured, err);
        return rc;
    }
    const probes_session *m = &res->measured;
    if (m->warning[0])
        fprintf(stderr, "hstprof run: warning: %s (--strict-weights rejects such a file)\n", m->warning);
    res->session = m->session;
    res->config = *hst_model_config(m->model);
    res->counts = hst_model_counts(m->model);
    snprintf(res->kernel, sizeof res->kernel, "%s", hst_kernel_name(m->kernel));
    res->mode = hst_session_mode(m->session);
    probes_mode_label(res->config.arch, res->mode, res->mode_label, sizeof res->mode_label);
    snprintf(res->model_name, sizeof res->model_name, "%s", st.model);
    snprintf(res->preset, sizeof res->preset, "%s", hst_model_preset(m->model));
    snprintf(res->source, sizeof res->source, "%s", hst_model_source(m->model));
    snprintf(res->counters_summary, sizeof res->counters_summary, "%s", m->counters_summary);
    res->have_counters = m->counters != NULL;
    res->threads = st.threads;
    res->kv_cache_bytes = (double)hst_session_kv_bytes(res->session);
    return 0;
}

static double peak_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024.0;
}

static int soak_run(const run_request *req)
{
    return req->duration_s > 0;
}

/* On a terminal one line redrawn in place ten times a second; elsewhere (a
 * file, a pipe, a CI log) plain lines, one every 5 s and the last, with no
 * control sequence. */
static void show_progress(const run_request *req, const run_result *res, uint64_t *last_ns, int final)
{
    const int terminal = req->progress == RUN_PROGRESS_TERMINAL;
    const uint64_t interval_ns = terminal ? 100000000ull : 5000000000ull;
    uint64_t now = hst_now_ns();
    if (req->progress == RUN_PROGRESS_OFF || (!final && now - *last_ns < interval_ns))
        return;
    if (*last_ns == 0 && !terminal && !final) { /* the first line after 5 s, not at the first token */
        *last_ns = now;
        return;
    }
    *last_ns = now;
    const char *start = terminal ? "\r\033[K" : "", *end = terminal && !final ? "" : "\n";
    double rate = res->decode_ms > 0 ? (double)res->decode_steps / (res->decode_ms / 1e3) : 0;
    if (soak_run(req))
        fprintf(stderr, "%s[%s] generated %lld tokens in %llu cycles, %.0f tok/s decode, %.0f of %.0f s%s", start,
                res->model_name, (long long)res->tokens_total, (unsigned long long)res->soak.cycles, rate,
                (double)(now - res->wall_start_ns) / 1e9, req->duration_s, end);
    else
        fprintf(stderr, "%s[%s] generated %lld/%d tokens, %.0f tok/s decode, ttft %.2f ms%s", start, res->model_name,
                (long long)res->tokens_total, req->n_tokens, rate, res->ttft_ms, end);
    fflush(stderr);
}

static int check_lengths(const run_request *req, const run_result *res)
{
    const hst_config *c = &res->config;
    if (soak_run(req)) { /* the context restarts when full: the prompt only needs room for one step */
        char why[600];
        if (probes_prompt_room(req->n_prompt, res->model_name, c->max_seq_len, why, sizeof why) == 0)
            return 0;
        fprintf(stderr, "hstprof run: --duration: %s\n", why);
        return 2;
    }
    /* The last generated token is not fed back, so n tokens need n - 1 positions. */
    long need = (long)req->n_prompt + (req->n_tokens > 0 ? req->n_tokens - 1 : 0);
    if (need > c->max_seq_len) {
        fprintf(stderr, "hstprof run: prompt (%d tokens) + %d generated tokens need %ld positions; %s has "
                        "max_seq_len %d\n", req->n_prompt, req->n_tokens, need, res->model_name, c->max_seq_len);
        return 2;
    }
    return 0;
}

/* A soak run keeps one cycle of tokens (twice: the first, to compare) and
 * a histogram; a counted run keeps every token and latency. */
static int allocate_buffers(const run_request *req, run_result *res, float **logits)
{
    const int V = res->config.vocab_size;
    size_t rows = req->keep_prefill_logits ? (size_t)req->n_prompt : 1;
    *logits = malloc((size_t)V * sizeof **logits);
    res->prefill_logits = malloc(rows * V * sizeof(float));
    int ok = *logits && res->prefill_logits;
    if (soak_run(req)) {
        size_t cycle = (size_t)res->config.max_seq_len + 1;
        res->generated = malloc(cycle * sizeof(int));
        res->soak.first_cycle = malloc(cycle * sizeof(int));
        ok = ok && res->generated && res->soak.first_cycle;
    } else {
        res->generated = malloc(((size_t)req->n_tokens + 1) * sizeof(int));
        res->latencies_ms = malloc(((size_t)req->n_tokens + 1) * sizeof(double));
        ok = ok && res->generated && res->latencies_ms;
    }
    if (!ok) {
        fprintf(stderr, "hstprof run: out of memory for %d tokens\n", req->n_tokens);
        return 1;
    }
    return 0;
}

/* ---- soak runs (--duration) ----------------------------------------------------- */

static void soak_begin(const run_request *req, run_result *res)
{
    run_soak *k = &res->soak;
    k->active = 1;
    k->duration_s = req->duration_s;
    k->cycles = 1;
    k->cycles_identical = req->temperature > 0 ? -1 : 1; /* sampled cycles differ by design */
    k->rss_interval_s = req->duration_s / (RUN_RSS_POINTS - 20); /* headroom: halving is for overruns */
    k->warmup_s = req->duration_s * 0.1 < 60 ? req->duration_s * 0.1 : 60;
    /* -n may end the run long before --duration: its tokens set the scale too. */
    if (req->n_tokens > 0) {
        k->rss_interval_tokens = req->n_tokens / (RUN_RSS_POINTS - 20) > 0 ? req->n_tokens / (RUN_RSS_POINTS - 20) : 1;
        k->warmup_tokens = req->n_tokens / 10;
    }
}

/* The timeline keeps at most RUN_RSS_POINTS points: when full, every other
 * point goes and the spacing doubles, so an hour costs what a minute does. */
static void soak_sample_rss(run_soak *k, double t_s, int64_t tokens, double rss, int final)
{
    int time_due = k->rss_points == 0 || t_s >= k->rss_t_s[k->rss_points - 1] + k->rss_interval_s;
    int tokens_due = k->rss_interval_tokens > 0 && tokens >= k->rss_last_tokens + k->rss_interval_tokens;
    if (!final && !time_due && !tokens_due)
        return;
    if (k->rss_points == RUN_RSS_POINTS) {
        for (int i = 0; i < RUN_RSS_POINTS / 2; i++) {
            k->rss_t_s[i] = k->rss_t_s[2 * i];
            k->rss_bytes[i] = k->rss_bytes[2 * i];
        }
        k->rss_points = RUN_RSS_POINTS / 2;
        k->rss_interval_s *= 2;
        k->rss_interval_tokens *= 2;
    }
    k->rss_t_s[k->rss_points] = t_s;
    k->rss_bytes[k->rss_points++] = rss;
    k->rss_last_tokens = tokens;
    k->rss_end_bytes = rss;
    /* The first cycle touches every KV-cache position: RSS may grow until it ends. */
    int past_tenth = t_s >= k->warmup_s || (k->warmup_tokens > 0 && tokens >= k->warmup_tokens);
    if (k->rss_after_warmup_bytes == 0 && past_tenth && k->cycles >= 2) {
        k->rss_after_warmup_bytes = rss;
        k->warmup_s = t_s;
    }
    if (k->rss_after_warmup_bytes > 0 && rss > k->rss_max_after_warmup_bytes)
        k->rss_max_after_warmup_bytes = rss;
}

static void soak_rss(run_result *res, probes_memory_window *w, int final)
{
    probes_memory_sample(w);
    if (w->rss_ok)
        soak_sample_rss(&res->soak, (double)(hst_now_ns() - res->wall_start_ns) / 1e9, res->tokens_total,
                        (double)w->rss_bytes, final);
}

/* Greedy cycles all start from the same prompt, so each must repeat the first. */
static void soak_compare_cycle(run_result *res)
{
    run_soak *k = &res->soak;
    if (k->cycles_identical < 0)
        return;
    if (k->cycles == 1) {
        memcpy(k->first_cycle, res->generated, (size_t)res->n_generated * sizeof(int));
        k->first_cycle_len = res->n_generated;
        return;
    }
    k->cycles_compared++;
    if (k->first_cycle_len != res->n_generated ||
        memcmp(k->first_cycle, res->generated, (size_t)res->n_generated * sizeof(int)) != 0)
        k->cycles_identical = 0;
}

/* The context is full: start again from the prompt (timed apart from decode). */
static int soak_restart(const run_request *req, run_result *res, hst_sampler *smp, float *logits, hst_error *err)
{
    soak_compare_cycle(res);
    hst_session_reset(res->session);
    uint64_t t0 = hst_now_ns();
    if (hst_forward(res->session, req->prompt, req->n_prompt, logits, 0, err) != 0)
        return -1;
    res->generated[0] = hst_sample(smp, logits, res->config.vocab_size);
    res->soak.restart_prefill_ms += (double)(hst_now_ns() - t0) / 1e6;
    res->n_generated = 1;
    res->tokens_total++;
    res->soak.cycles++;
    return 0;
}

static void record_latency(run_result *res, uint64_t ns)
{
    double ms = (double)ns / 1e6;
    if (res->soak.active) {
        run_soak *k = &res->soak;
        live_hist_add(&k->latency_ns, (double)ns);
        double delta = (double)ns - k->latency_mean_ns; /* Welford: no per-token storage */
        k->latency_mean_ns += delta / (double)k->latency_ns.n;
        k->latency_m2 += delta * ((double)ns - k->latency_mean_ns);
    } else {
        res->latencies_ms[res->decode_steps] = ms;
    }
    res->decode_steps++;
    res->decode_ms += ms;
}

static int more_tokens(const run_request *req, const run_result *res, uint64_t now_ns)
{
    if (req->n_tokens > 0 && res->tokens_total >= req->n_tokens)
        return 0;
    return !soak_run(req) || (double)(now_ns - res->wall_start_ns) / 1e9 < req->duration_s;
}

/* Feeds the last token at the next position and samples the one after it. */
static int decode_step(run_result *res, hst_sampler *smp, float *logits, hst_error *err)
{
    const hst_config *c = &res->config;
    int pos = hst_session_pos(res->session), i = res->n_generated;
    runner_step_times times = {.start_ns = hst_now_ns()};
    if (hst_forward(res->session, &res->generated[i - 1], 1, logits, 0, err) != 0)
        return -1;
    times.forward_end_ns = hst_now_ns();
    res->generated[i] = hst_sample(smp, logits, c->vocab_size);
    times.end_ns = hst_now_ns();
    record_latency(res, times.end_ns - times.start_ns);
    rate_series_add(&res->throughput, (double)(times.end_ns - res->wall_start_ns) / 1e9,
                    (double)(times.end_ns - times.start_ns) / 1e9);
    if (res->metrics)
        runner_metrics_latency(res, times.end_ns - times.start_ns);
    res->decode_flops += hst_flops_decode(c, hst_session_mode(res->session), pos);
    res->decode_bytes += hst_session_last_bytes(res->session);
    res->n_generated = i + 1;
    res->tokens_total++;
    if (res->trace.enabled)
        runner_trace_decode(res, i, &times);
    return 0;
}

static int decode_loop(const run_request *req, run_result *res, hst_sampler *smp, float *logits,
                       probes_memory_window *mw, probes_memory_window *soak_mw)
{
    hst_error err = {{0}};
    uint64_t last_progress = 0, last_memory_sample = hst_now_ns();
    if (res->n_generated == 0) /* -n 0: prefill only */
        return 0;
    for (uint64_t now = hst_now_ns(); more_tokens(req, res, now); now = hst_now_ns()) {
        if (req->interrupted && req->interrupted()) { /* the figures so far are kept */
            res->interrupted = 1;
            break;
        }
        int full = hst_session_pos(res->session) >= res->config.max_seq_len;
        if (full && !res->soak.active) { /* check_lengths rules this out; never restart a counted run */
            fprintf(stderr, "hstprof run: the context is full (max_seq_len %d)\n", res->config.max_seq_len);
            return 1;
        }
        if ((full ? soak_restart(req, res, smp, logits, &err) : decode_step(res, smp, logits, &err)) != 0) {
            fprintf(stderr, "hstprof run: %s\n", err.msg);
            return 1;
        }
        /* A /proc read costs tens of µs here: sample by time, not per token. */
        if (mw && now - last_memory_sample >= MEMORY_SAMPLE_NS) {
            probes_memory_sample(mw);
            last_memory_sample = now;
            if (mw->rss_ok)
                runner_trace_rss(res, now, (double)mw->rss_bytes);
        }
        if (soak_mw)
            soak_rss(res, soak_mw, 0);
        runner_metrics_tick(res, mw, now, 0);
        show_progress(req, res, &last_progress, 0);
    }
    if (soak_mw)
        soak_rss(res, soak_mw, 1);
    if (res->decode_steps > 0)
        show_progress(req, res, &last_progress, 1);
    return 0;
}

/* The histogram's view of the latencies, in the exact summary's units (ms). */
static void soak_latency_summary(const run_soak *k, sample_summary *out)
{
    const live_histogram *h = &k->latency_ns;
    memset(out, 0, sizeof *out);
    out->n = (size_t)h->n;
    out->min = h->min_ns / 1e6;
    out->max = h->max_ns / 1e6;
    out->mean = h->sum_ns / (double)h->n / 1e6;
    out->stddev = h->n > 1 ? sqrt(k->latency_m2 / (double)(h->n - 1)) / 1e6 : 0;
    out->p50 = out->median = live_hist_percentile(h, 50) / 1e6;
    out->p95 = live_hist_percentile(h, 95) / 1e6;
    out->p99 = live_hist_percentile(h, 99) / 1e6;
}

static void finish_figures(run_result *res)
{
    const hst_config *c = &res->config;
    res->prefill_tok_per_s = res->prompt_len / (res->prefill_ms / 1e3);
    /* Spec 11 counts logits for every row; without --dump-logits only the last row's are computed. */
    double prefill_flops = hst_flops_prefill_per_token(c, hst_session_mode(res->session), res->prompt_len) *
                           res->prompt_len;
    if (!res->kept_all_logits)
        prefill_flops -= 2.0 * c->d_model * c->vocab_size * (res->prompt_len - 1);
    res->prefill_gflops_per_s = prefill_flops / (res->prefill_ms / 1e3) / 1e9;
    if (res->decode_steps > 0) {
        res->decode_tok_per_s = (double)res->decode_steps / (res->decode_ms / 1e3);
        res->decode_gflops_per_s = res->decode_flops / (res->decode_ms / 1e3) / 1e9;
        if (res->soak.active)
            soak_latency_summary(&res->soak, &res->latency);
        else
            stats_summarize(res->latencies_ms, (size_t)res->decode_steps, &res->latency);
    }
}

static void finish_probes(run_result *res, const probes_counter_snapshot *snap, probes_memory_window *mw)
{
    probes_counters *counters = res->measured.counters;
    if (res->have_counters) {
        probes_counters_window(counters, &snap[0], &snap[1], &res->prefill_counters);
        probes_counters_window(counters, &snap[1], &snap[2], &res->decode_counters);
        /* As it is now: a group lost mid-run says so. */
        snprintf(res->counters_summary, sizeof res->counters_summary, "%s", probes_counters_summary(counters));
    }
    if (mw) {
        probes_memory_end(mw, res->kv_cache_bytes, &res->memory);
        res->have_memory = 1;
    }
    const probes_ceilings *c = res->measured.have_ceilings ? &res->measured.ceilings : NULL;
    double prefill_flops = res->prefill_gflops_per_s * 1e9 * res->prefill_ms / 1e3;
    res->prefill_roofline = probes_roofline_point(c, res->threads, res->prefill_bytes, prefill_flops,
                                                  (uint64_t)(res->prefill_ms * 1e6), res->prefill_bytes);
    /* A decode step's working set grows with the KV cache: the mean step's. */
    double decode_step_bytes = res->decode_steps > 0 ? res->decode_bytes / (double)res->decode_steps : 0;
    res->decode_roofline = probes_roofline_point(c, res->threads, res->decode_bytes, res->decode_flops,
                                                 (uint64_t)(res->decode_ms * 1e6), decode_step_bytes);
}

static int prefill_and_first_token(const run_request *req, run_result *res, hst_sampler *smp,
                                   runner_step_times *times)
{
    hst_error err = {{0}};
    const int V = res->config.vocab_size;
    uint64_t t0 = times->start_ns = hst_now_ns();
    if (hst_forward(res->session, req->prompt, req->n_prompt, res->prefill_logits, req->keep_prefill_logits,
                    &err) != 0) {
        fprintf(stderr, "hstprof run: %s\n", err.msg);
        return 1;
    }
    times->forward_end_ns = times->end_ns = hst_now_ns();
    res->prefill_ms = (double)(times->forward_end_ns - t0) / 1e6;
    res->prefill_bytes = hst_session_last_bytes(res->session);
    const float *last = res->prefill_logits + (req->keep_prefill_logits ? (size_t)(req->n_prompt - 1) * V : 0);
    if (req->n_tokens > 0 || soak_run(req)) {
        res->generated[0] = hst_sample(smp, last, V);
        res->n_generated = 1;
        res->tokens_total = 1;
        times->end_ns = hst_now_ns();
        res->ttft_ms = (double)(times->end_ns - t0) / 1e6;
    }
    return 0;
}

int runner_generate(const run_request *req, run_result *res)
{
    int rc = check_lengths(req, res);
    float *logits = NULL;
    if (rc == 0)
        rc = allocate_buffers(req, res, &logits);
    if (rc == 0 && req->trace)
        rc = runner_trace_begin(req, res);
    if (rc == 0 && req->metrics)
        rc = runner_metrics_begin(req, res);
    if (rc != 0) {
        free(logits);
        return rc;
    }
    hst_error err = {{0}};
    hst_sampler smp;
    hst_sampler_init(&smp, req->temperature, req->top_k, req->session.seed);
    res->prompt_len = req->n_prompt;
    rate_series_init(&res->throughput, req->n_tokens / 60); /* about 60 points for a counted run */
    res->kept_all_logits = req->keep_prefill_logits;
    probes_counter_snapshot snap[3];
    probes_memory_window mw_storage = {0}, *mw = req->no_probes ? NULL : &mw_storage;
    probes_memory_window soak_storage = {0}, *soak_mw = soak_run(req) ? &soak_storage : NULL;
    if (mw)
        probes_memory_begin(mw);
    if (soak_mw) {
        soak_begin(req, res);
        probes_memory_begin(soak_mw);
    }
    if (res->have_counters)
        probes_counters_read(res->measured.counters, &snap[0]);
    uint64_t wall_start_ns = res->wall_start_ns = hst_now_ns();
    runner_step_times prefill_times;
    rc = prefill_and_first_token(req, res, &smp, &prefill_times);
    if (rc == 0 && res->have_counters)
        probes_counters_read(res->measured.counters, &snap[1]);
    if (rc == 0 && res->trace.enabled)
        runner_trace_prefill(res, &snap[0], &snap[1], &prefill_times);
    if (rc == 0 && res->trace.enabled && mw) { /* the trace's RSS track starts after the prefill */
        probes_memory_sample(mw);
        if (mw->rss_ok)
            runner_trace_rss(res, hst_now_ns(), (double)mw->rss_bytes);
    }
    if (rc == 0)
        runner_metrics_tick(res, mw, hst_now_ns(), 0);
    if (rc == 0)
        rc = decode_loop(req, res, &smp, logits, mw, soak_mw);
    hst_pool_contention(res->measured.pool, &res->contention);
    if (rc == 0 && !res->interrupted)
        runner_metrics_tick(res, mw, hst_now_ns(), 1);
    res->wall_ms = (double)(hst_now_ns() - wall_start_ns) / 1e6;
    if (rc == 0 && res->have_counters)
        probes_counters_read(res->measured.counters, &snap[2]);
    free(logits);
    if (rc != 0)
        return rc;
    /* Interrupted, the figures still cover the run so far (the caller decides
     * whether to report them); only the quality hash, a run of its own, is not. */
    finish_figures(res);
    finish_probes(res, snap, mw);
    /* The window's peak when sampled; the process's high-water mark otherwise. */
    res->peak_rss_bytes = res->have_memory && res->memory.rss_peak_bytes.valid ? res->memory.rss_peak_bytes.value
                                                                                 : peak_rss_bytes();
    if (res->interrupted || (req->interrupted && req->interrupted())) {
        res->interrupted = 1;
        return 0;
    }
    if (hst_quality_hash(res->session, &res->quality_hash, res->quality_tokens, &err) != 0) {
        fprintf(stderr, "hstprof run: %s\n", err.msg);
        return 1;
    }
    return 0;
}

void runner_release(run_result *res)
{
    probes_session_close(&res->measured);
    free(res->latencies_ms);
    free(res->soak.first_cycle);
    free(res->generated);
    free(res->prefill_logits);
    runner_trace_free(&res->trace);
    runner_metrics_free(res);
    memset(res, 0, sizeof *res);
}

json_t *runner_result_json(const run_result *r)
{
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)r->quality_hash);
    json_t *tokens = json_array();
    for (int i = 0; i < r->n_generated; i++)
        json_array_append_new(tokens, json_integer(r->generated[i]));
    json_t *lat = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "samples", (json_int_t)r->latency.n,
                            "p50_ms", r->latency.p50, "p95_ms", r->latency.p95, "p99_ms", r->latency.p99,
                            "min_ms", r->latency.min, "max_ms", r->latency.max, "mean_ms", r->latency.mean);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i, s:i, s:i, s:i}, s:I, s:I, s:i, s:s, s:s, "
                     "s:s, s:i, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:s, s:o}",
                     "tool", "hstprof run", "model", r->model_name, "preset", r->preset, "source", r->source,
                     "config", "arch", hst_arch_name(r->config.arch), "vocab_size", r->config.vocab_size, "d_model",
                     r->config.d_model, "n_heads", r->config.n_heads, "n_layers", r->config.n_layers, "max_seq_len",
                     r->config.max_seq_len, "horizon", r->config.horizon,
                     "params_total", (json_int_t)r->counts.params_total, "params_next_token",
                     (json_int_t)r->counts.params_next_token, "threads", r->threads, "kernel", r->kernel, "mode",
                     hst_mode_name(r->mode), "mode_label", r->mode_label,
                     "prompt_tokens", r->prompt_len, "prefill_ms", r->prefill_ms, "prefill_tok_per_s",
                     r->prefill_tok_per_s, "prefill_gflops_per_s", r->prefill_gflops_per_s, "decode_tokens",
                     r->decode_steps, "decode_ms", r->decode_ms, "decode_tok_per_s", r->decode_tok_per_s,
                     "decode_gflops_per_s", r->decode_gflops_per_s, "ttft_ms", r->ttft_ms, "latency", lat,
                     "peak_rss_bytes", r->peak_rss_bytes, "kv_cache_bytes", r->kv_cache_bytes, "quality_hash", hash,
                     "generated", tokens);
    json_t *probes = o ? runner_probes_json(r) : NULL;
    if (probes) {
        json_object_update(o, probes);
        json_decref(probes);
    }
    runner_add_report_fields(o, r);
    return o;
}

/* ---- probes in the summaries ---------------------------------------------- */

json_t *runner_probes_json(const run_result *r)
{
    static const char *const phases[] = {"prefill", "decode"};
    const probes_counter_window *windows[] = {&r->prefill_counters, &r->decode_counters};
    /* No decode step, no decode window: not a window of zeros. */
    int decoded = r->decode_steps > 0;
    json_t *counters = probes_counters_json(r->counters_summary, r->have_counters ? 1 + decoded : 0, phases, windows);
    if (counters && r->have_counters && !decoded)
        probes_json_put_or_why(counters, "decode", NULL, "no decode step in this run");
    const probes_session *m = &r->measured;
    json_t *ceil = m->have_ceilings ? json_pack("{s:s, s:I}", "machine_key", m->ceilings.machine_key,
                                                "measured_unix_s", (json_int_t)m->ceilings.measured_unix_s)
                                    : json_pack("{s:n, s:s}", "machine_key", "machine_key_why_not", m->ceilings_why);
    json_t *threads = json_array();
    for (int i = 0; m->pool && i < r->threads; i++)
        json_array_append_new(threads, json_pack("{s:i, s:i, s:i, s:I}", "index", i, "bound_pu",
                                                 probes_session_thread_pu(m, i), "last_cpu",
                                                 hst_pool_thread_cpu(m->pool, i), "migrations",
                                                 (json_int_t)hst_pool_thread_migrations(m->pool, i)));
    return json_pack("{s:s, s:o, s:o, s:o, s:{s:o, s:o}, s:o}", "affinity", probes_session_affinity_policy(m),
                     "threads_placement",
                     threads, "counters", counters, "memory", r->have_memory ? probes_memory_report_json(&r->memory) : json_null(),
                     "roofline", "prefill", probes_roofline_json(&r->prefill_roofline), "decode",
                     probes_roofline_json(&r->decode_roofline), "ceilings", ceil);
}

static void print_metric(FILE *f, const probes_metric *m, double scale, const char *fmt)
{
    if (m->valid)
        fprintf(f, fmt, m->value * scale);
    else
        fprintf(f, "unavailable (%s)", m->why_not);
}

static void print_counter_window(FILE *f, const char *phase, const probes_counter_window *w)
{
    fprintf(f, "  %-9s", phase);
    int shown = 0;
    for (int i = 0; i < w->n_counters; i++) {
        const probes_counter_value *c = &w->counters[i];
        if (!c->value.valid)
            continue;
        fprintf(f, "%s%s %.0f", shown++ ? ", " : "", c->name, c->value.value);
        if (c->running_share.valid && c->running_share.value < 0.9999)
            fprintf(f, " (%.1f%%)", 100 * c->running_share.value);
    }
    fprintf(f, "%s\n", shown ? "" : "nothing counted");
    for (int i = 0; i < w->n_derived; i++) {
        fprintf(f, "            %-34s ", w->derived[i].label);
        print_metric(f, &w->derived[i].metric, 1, "%.3f");
        fprintf(f, "\n");
    }
}

/* Two lines: the bytes against the read ceiling of their level, the FLOPs
 * against the FMA peak and the roof. */
static void print_roofline(FILE *f, const char *phase, const probes_roofline *r)
{
    char bandwidth[512];
    probes_roofline_bandwidth_text(r, bandwidth, sizeof bandwidth);
    fprintf(f, "  %-9s%s\n           ", phase, bandwidth);
    print_metric(f, &r->achieved_flops_per_s, 1e-9, "%.2f GFLOP/s");
    fprintf(f, " (");
    print_metric(f, &r->fma_pct, 1, "%.0f%% of the FMA peak");
    if (r->roofline_pct.valid)
        fprintf(f, "; %s-bound, at %.0f%% of its roof)\n", r->bound, r->roofline_pct.value);
    else
        fprintf(f, "; roof: %s)\n", r->roofline_pct.why_not);
}

void runner_print_probes(FILE *f, const run_result *r)
{
    const char *policy = probes_session_affinity_policy(&r->measured);
    fprintf(f, "affinity    %s", policy);
    for (int i = 0; i < r->threads && strcmp(policy, "none") != 0; i++)
        fprintf(f, "%s thread %d -> PU %d", i ? "," : ":", i, probes_session_thread_pu(&r->measured, i));
    fprintf(f, "\ncounters    %s\n", r->counters_summary);
    if (r->have_counters) {
        print_counter_window(f, "prefill", &r->prefill_counters);
        if (r->decode_steps > 0)
            print_counter_window(f, "decode", &r->decode_counters);
    }
    if (r->have_memory) {
        const probes_memory_report *m = &r->memory;
        fprintf(f, "memory      RSS ");
        print_metric(f, &m->rss_bytes, 1e-6, "%.1f MB");
        fprintf(f, " (window peak ");
        print_metric(f, &m->rss_peak_bytes, 1e-6, "%.1f MB");
        fprintf(f, "), PSS ");
        print_metric(f, &m->pss_peak_bytes, 1e-6, "%.1f MB peak");
        fprintf(f, ", VMS ");
        print_metric(f, &m->vms_peak_bytes, 1e-6, "%.1f MB peak");
        fprintf(f, "\n            page faults ");
        print_metric(f, &m->minor_faults, 1, "%.0f minor");
        fprintf(f, " / ");
        print_metric(f, &m->major_faults, 1, "%.0f major");
        fprintf(f, ", swap in/out ");
        print_metric(f, &m->swap_in_bytes_system, 1e-6, "%.1f MB");
        fprintf(f, " / ");
        print_metric(f, &m->swap_out_bytes_system, 1e-6, "%.1f MB (system-wide)");
        fprintf(f, "\n");
    }
    fprintf(f, "roofline    %s\n",
            r->measured.have_ceilings ? "against this machine's cached ceilings" : r->measured.ceilings_why);
    print_roofline(f, "prefill", &r->prefill_roofline);
    if (r->decode_steps > 0)
        print_roofline(f, "decode", &r->decode_roofline);
}
