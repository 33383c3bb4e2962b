/* runner.h — the measured generation loop (to be folded into probes/probes.h). */
#ifndef HSTPROF_RUNNER_H
#define HSTPROF_RUNNER_H

#include "engine/hst.h"
#include "probes/probes.h"
#include "probes/stats.h"
#include <jansson.h>
#include <stdio.h>

typedef struct {
    const char *model;    /* preset or file */
    uint64_t seed;
    int threads;
    const char *kernel;   /* auto|avx512|avx2|portable */
    const int *prompt;
    int n_prompt;
    int n_tokens;
    float temperature;    /* <= 0: greedy */
    int top_k;
    int keep_prefill_logits;
    int progress;         /* live one-line progress on stderr (when a terminal) */
    const char *affinity; /* none|compact|scatter|LIST */
    const char *events;   /* counter events; NULL = the default set, "none" = no counters */
    int no_probes;        /* 1: no counters, no memory sampling (overhead baseline) */
} run_request;

typedef struct {
    hst_model *model;
    hst_pool *pool;
    hst_session *session;
    hst_config config;
    hst_counts counts;
    char model_name[256], preset[32], source[512], kernel[16];
    int threads;
    int prompt_len;
    int kept_all_logits;
    double prefill_ms, prefill_tok_per_s, prefill_gflops_per_s;
    int decode_steps;
    double decode_ms, decode_tok_per_s, decode_gflops_per_s;
    double ttft_ms;
    double *latencies_ms; /* [decode_steps] */
    sample_summary latency;
    int *generated;
    int n_generated;
    float *prefill_logits; /* [prompt_len, vocab] when kept */
    double peak_rss_bytes, kv_cache_bytes;
    /* probes */
    probes_topo *topo;
    probes_affinity *affinity;
    probes_counters *counters;
    char affinity_policy[32];
    char counters_summary[256];
    int have_counters;
    probes_counter_window prefill_counters, decode_counters;
    int have_memory;
    probes_memory_report memory;
    probes_ceilings ceilings;
    int have_ceilings;
    char ceilings_why[200];
    probes_roofline prefill_roofline, decode_roofline;
    uint64_t quality_hash;
    int quality_tokens[HST_QUALITY_TOKENS];
} run_result;

/* --kernel NAME: selects it, writes the kernel in use to chosen. 0 ok, 2 bad
 * name or unsupported ISA (one line printed). */
int runner_select_kernel(const char *name, char *chosen, size_t size);

/* Loads the model and creates the pool and session. 0 ok; 1 run-time error,
 * 2 bad settings (one line printed on stderr either way). */
int runner_prepare(const run_request *req, run_result *res);
/* Prefill + generation + quality hash. Same return convention. */
int runner_generate(const run_request *req, run_result *res);
void runner_release(run_result *res);
json_t *runner_result_json(const run_result *res);
/* Affinity, counters (prefill and decode windows), memory window, roofline. */
json_t *runner_probes_json(const run_result *res);
void runner_print_probes(FILE *f, const run_result *res);

#endif
