/* cmd_run.c — `hstprof run`: prefill a prompt, generate N tokens, and
 * summarise what happened (rates, time to first token, real per-token
 * latency percentiles, memory, quality hash). */
#include "engine/hst.h"
#include "exports/exports.h"
#include "probes/runner.h"
#include "profiles/profiles.h"
#include "probes/stats.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROMPT 8192
#define DEFAULT_PROMPT "The harmonic spine carries the lattice."

typedef struct {
    char model[1024];
    uint64_t seed;
    int threads;
    char prompt[4 * MAX_PROMPT];
    char prompt_tokens[8 * MAX_PROMPT];
    int n_tokens;
    int greedy;
    double temperature;
    int top_k;
    int print_tokens;
    char dump_logits[1024];
    char format[16];
    char kernel[16];
    char affinity[256];
    char events[1024];
    int no_probes;
    int progress;
    int quiet;
    int seen_prompt, seen_prompt_tokens, seen_temperature, seen_top_k;
} run_flags;

static int parse_flags(int argc, char **argv, run_flags *f)
{
    const opt_spec opts[] = {
        {"model", 'm', OPT_STRING, f->model, sizeof f->model, 0, 0, "PRESET|FILE", "model preset or safetensors file (default hst-v4)", NULL},
        {"seed", 0, OPT_U64, &f->seed, 0, 0, 0, "N", "seed of the random weights and of sampling (default 0)", NULL},
        {"threads", 't', OPT_INT, &f->threads, 0, 1, 1024, "N", "engine threads (default: every PU)", NULL},
        {"prompt", 'p', OPT_STRING, f->prompt, sizeof f->prompt, 0, 0, "TEXT", "prompt text; its UTF-8 bytes are the ids 0..255", &f->seen_prompt},
        {"prompt-tokens", 0, OPT_STRING, f->prompt_tokens, sizeof f->prompt_tokens, 0, 0, "1,2,3", "prompt as token ids", &f->seen_prompt_tokens},
        {"tokens", 'n', OPT_INT, &f->n_tokens, 0, 0, 1 << 20, "N", "tokens to generate (default 128; 0 only prefills)", NULL},
        {"greedy", 0, OPT_FLAG, &f->greedy, 0, 0, 0, NULL, "arg-max decoding (the default)", NULL},
        {"temperature", 0, OPT_FLOAT, &f->temperature, 0, 1e-6, 1e6, "T", "sample at temperature T", &f->seen_temperature},
        {"top-k", 0, OPT_INT, &f->top_k, 0, 1, 1 << 30, "K", "sample among the K most likely tokens", &f->seen_top_k},
        {"print-tokens", 0, OPT_FLAG, &f->print_tokens, 0, 0, 0, NULL, "print the generated ids on one line, comma-separated", NULL},
        {"dump-logits", 0, OPT_STRING, f->dump_logits, sizeof f->dump_logits, 0, 0, "FILE", "write prefill logits as raw little-endian float32 [prompt_len, vocab]", NULL},
        {"format", 0, OPT_STRING, f->format, sizeof f->format, 0, 0, "text|json", "summary format (default text)", NULL},
        {"kernel", 0, OPT_STRING, f->kernel, sizeof f->kernel, 0, 0, "auto|avx512|avx2|portable", "matmul kernel (default auto)", NULL},
        {"affinity", 0, OPT_STRING, f->affinity, sizeof f->affinity, 0, 0, "none|compact|scatter|LIST", "place the engine's threads (default none)", NULL},
        {"events", 'e', OPT_STRING, f->events, sizeof f->events, 0, 0, "LIST|none", "counter events, e.g. cycles,instructions,task-clock (default set when empty)", NULL},
        {"no-probes", 0, OPT_FLAG, &f->no_probes, 0, 0, 0, NULL, "no counters and no memory sampling (overhead baseline)", NULL},
        {"progress", 0, OPT_FLAG, &f->progress, 0, 0, 0, NULL, "live one-line progress on stderr", NULL},
        {"quiet", 'q', OPT_FLAG, &f->quiet, 0, 0, 0, NULL, "no summary (with --print-tokens: the ids only)", NULL},
    };
    const opt_table t = {
        "hstprof run",
        "hstprof run [--model PRESET|FILE] [--seed N] [--threads N] [--prompt TEXT | --prompt-tokens 1,2,3] [-n N] "
        "[--greedy | --temperature T --top-k K] [--print-tokens] [--dump-logits FILE]",
        "Prefills the prompt, then generates N tokens one at a time through the KV cache, and prints prefill and\n"
        "decode tokens/s, time to first token, per-token latency percentiles, peak RSS and the quality hash.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    int rc = args_parse(&t, argc, argv, 1, NULL, NULL);
    if (rc != ARGS_OK)
        return rc;
    if (f->seen_prompt && f->seen_prompt_tokens) {
        fprintf(stderr, "hstprof run: give --prompt or --prompt-tokens, not both\n");
        return ARGS_ERROR;
    }
    if (f->greedy && (f->seen_temperature || f->seen_top_k)) {
        fprintf(stderr, "hstprof run: --greedy cannot be combined with --temperature or --top-k\n");
        return ARGS_ERROR;
    }
    if (f->seen_top_k && !f->seen_temperature) {
        fprintf(stderr, "hstprof run: --top-k needs --temperature\n");
        return ARGS_ERROR;
    }
    if (strcmp(f->format, "text") != 0 && strcmp(f->format, "json") != 0) {
        fprintf(stderr, "hstprof run: --format must be text or json, got '%s'\n", f->format);
        return ARGS_ERROR;
    }
    return ARGS_OK;
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
    const char *text = f->seen_prompt ? f->prompt : DEFAULT_PROMPT;
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

static void print_text_summary(const run_flags *f, const run_result *r)
{
    const hst_config *c = &r->config;
    printf("model       %s (%s), %.2fM params (%.2fM next-token), %s\n", r->model_name, r->preset,
           r->counts.params_total / 1e6, r->counts.params_next_token / 1e6, r->source);
    printf("engine      %d thread%s, kernel %s, max_seq_len %d, vocab %d\n", r->threads, r->threads == 1 ? "" : "s",
           r->kernel, c->max_seq_len, c->vocab_size);
    printf("prefill     %d tokens in %.3f ms = %.1f tok/s (%.2f GFLOP/s)\n", r->prompt_len, r->prefill_ms,
           r->prefill_tok_per_s, r->prefill_gflops_per_s);
    if (r->decode_steps > 0)
        printf("decode      %d tokens in %.3f ms = %.1f tok/s (%.2f GFLOP/s)\n", r->decode_steps, r->decode_ms,
               r->decode_tok_per_s, r->decode_gflops_per_s);
    else
        printf("decode      n/a (%s)\n", f->n_tokens == 0 ? "-n 0: prefill only" : "one token comes from the prefill");
    if (f->n_tokens > 0)
        printf("ttft        %.3f ms (prefill + first sample)\n", r->ttft_ms);
    if (r->latency.n > 0)
        printf("latency     p50 %.3f ms, p95 %.3f ms, p99 %.3f ms per token (min %.3f, max %.3f, %zu samples)\n",
               r->latency.p50, r->latency.p95, r->latency.p99, r->latency.min, r->latency.max, r->latency.n);
    printf("memory      peak RSS %.1f MB, KV cache %.2f MB\n", r->peak_rss_bytes / 1e6, r->kv_cache_bytes / 1e6);
    printf("quality     hash %016llx (32 greedy tokens after a fixed prompt)\n", (unsigned long long)r->quality_hash);
    runner_print_probes(stdout, r);
}

static void print_json_summary(const run_result *r)
{
    json_t *o = runner_result_json(r);
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

int probes_cmd_run(int argc, char **argv)
{
    run_flags *f = calloc(1, sizeof *f);
    static int ids[MAX_PROMPT];
    if (!f) {
        fprintf(stderr, "hstprof run: out of memory\n");
        return 1;
    }
    snprintf(f->model, sizeof f->model, "%s", HST_DEFAULT_PRESET);
    snprintf(f->format, sizeof f->format, "text");
    snprintf(f->kernel, sizeof f->kernel, "auto");
    f->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    f->n_tokens = 128;
    int rc = parse_flags(argc, argv, f);
    if (rc != ARGS_OK) {
        free(f);
        return rc == ARGS_HELP ? 0 : 2;
    }
    run_request req = {0};
    req.model = f->model;
    req.seed = f->seed;
    req.threads = f->threads;
    req.kernel = f->kernel;
    req.n_tokens = f->n_tokens;
    req.temperature = f->seen_temperature ? (float)f->temperature : 0.0f;
    req.top_k = f->top_k;
    req.keep_prefill_logits = f->dump_logits[0] != '\0';
    req.progress = f->progress;
    req.affinity = f->affinity[0] ? f->affinity : "none";
    req.events = f->events[0] ? f->events : NULL;
    req.no_probes = f->no_probes;
    run_result res;
    rc = runner_prepare(&req, &res);
    if (rc == 0 && build_prompt(f, res.config.vocab_size, ids, &req.n_prompt) != 0)
        rc = 2;
    req.prompt = ids;
    if (rc == 0)
        rc = runner_generate(&req, &res);
    if (rc == 0 && f->dump_logits[0] && write_logits(f->dump_logits, &res) != 0)
        rc = 1;
    if (rc == 0) {
        if (f->print_tokens) {
            for (int i = 0; i < res.n_generated; i++)
                printf("%s%d", i ? "," : "", res.generated[i]);
            printf("\n");
        }
        if (!f->quiet) {
            if (strcmp(f->format, "json") == 0)
                print_json_summary(&res);
            else
                print_text_summary(f, &res);
        }
    }
    runner_release(&res);
    free(f);
    return rc;
}
