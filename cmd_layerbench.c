/* cmd_layerbench.c — `hstprof layerbench`: latency and peak memory of ONE HST
 * PreBlock (spec 4.2), batch 1, at several sequence lengths, for two
 * implementations of the same math:
 *
 *   baseline   plain C written here, the way an eager framework runs the
 *              block: every op writes a new buffer (freed as soon as it is
 *              dead), the attention scores of all heads are materialised as
 *              [nh, S, S] (computed in full, then scaled, masked and
 *              soft-maxed in separate passes), and bias, ReLU and the
 *              residual adds are passes of their own.
 *   optimized  the engine's PreBlock (hst_block_forward: packed-weight
 *              SIMD matmuls with the bias / ReLU / residual fused into the
 *              store, streaming-softmax attention over a K/V cache).
 *
 * Peak memory is the probes' memory window around each measured run: RSS
 * peak in the window minus RSS at the window's start, i.e. what the run's
 * activations (and K/V cache, score matrix) added on top of the process.
 * Weights, inputs and outputs are allocated before the window. The seed
 * shape (seeds/004) is kept: an Item/Value table, a latency table and a
 * PEAK memory table; the report is one JSON object rendered by exports/. */
#include "commands.h"
#include "engine/block.h"
#include "exports/atomic.h"
#include "exports/exports.h"
#include "probes/memory.h"
#include "probes/session.h"
#include "probes/stats.h"
#include "probes/topo.h"
#include "profiles/profiles.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEQS 16
#define MAX_SEQ_LEN 16384
#define AGREEMENT_TOLERANCE 1e-3 /* max |baseline - optimized| / max |baseline| */

/* ---- flags ----------------------------------------------------------------- */

typedef struct {
    char seq[256];
    int seqs[MAX_SEQS], n_seqs;
    int d_model, n_heads, threads, runs, warmup;
    uint64_t seed;
    char kernel[16];
    char format[16];
    char output[1024];
    export_format fmt;
    int oversubscribe, shared_pus; /* --oversubscribe; it let threads share PUs */
} layerbench_flags;

static int check_flags(layerbench_flags *f)
{
    char err[160];
    f->n_seqs = args_parse_int_list(f->seq, f->seqs, MAX_SEQS, 1, MAX_SEQ_LEN, err, sizeof err);
    if (f->n_seqs < 0) {
        fprintf(stderr, "hstprof layerbench: --seq: %s\n", err);
        return ARGS_ERROR;
    }
    if (f->d_model % 4 != 0 || f->d_model % f->n_heads != 0) {
        fprintf(stderr, "hstprof layerbench: --d-model %d must be a multiple of 4 and of --heads %d (spec 3)\n",
                f->d_model, f->n_heads);
        return ARGS_ERROR;
    }
    if (export_format_from_name(f->format, &f->fmt) != 0) {
        fprintf(stderr, "hstprof layerbench: --format must be md, csv or json, got '%s'\n", f->format);
        return ARGS_ERROR;
    }
    /* Before minutes of timing, not after. */
    char what[32], why[2400];
    snprintf(what, sizeof what, "--threads %d", f->threads);
    const probes_placement placement = {f->threads, what, "none", NULL, f->oversubscribe};
    if (probes_check_placement(&placement, &f->shared_pus, why, sizeof why) != 0 ||
        (f->output[0] && args_check_output_path("--output", f->output, why, sizeof why) != 0)) {
        fprintf(stderr, "hstprof layerbench: %s\n", why);
        return ARGS_ERROR;
    }
    return ARGS_OK;
}

static int parse_flags(int argc, char **argv, layerbench_flags *f)
{
    const opt_spec opts[] = {
        {"seq", 0, OPT_STRING, f->seq, sizeof f->seq, 0, 0, "1024,2048,4096,8192", "sequence lengths (default 1024,2048,4096,8192)", NULL},
        {"d-model", 0, OPT_INT, &f->d_model, 0, 4, 4096, "D", "model width (default 128, as hst-v4)", NULL},
        {"heads", 0, OPT_INT, &f->n_heads, 0, 1, 256, "N", "attention heads (default 4, as hst-v4)", NULL},
        {"threads", 't', OPT_INT, &f->threads, 0, 1, 1024, "N", "threads of the optimized variant (default 1: the baseline is single-threaded)", NULL},
        {"oversubscribe", 0, OPT_FLAG, &f->oversubscribe, 0, 0, 0, NULL, "allow more threads than PUs (they share PUs; timings do not scale)", NULL},
        {"runs", 0, OPT_INT, &f->runs, 0, 1, 1000, "N", "timed runs per variant and length; the median is reported (default 3)", NULL},
        {"warmup", 0, OPT_INT, &f->warmup, 0, 0, 100, "N", "untimed runs per variant and length (default 1)", NULL},
        {"seed", 0, OPT_U64, &f->seed, 0, 0, 0, "N", "seed of the random weights and input (default 0)", NULL},
        {"kernel", 0, OPT_STRING, f->kernel, sizeof f->kernel, 0, 0, "auto|avx512|avx2|portable", "engine matmul kernel (default auto)", NULL},
        {"format", 0, OPT_STRING, f->format, sizeof f->format, 0, 0, "md|csv|json", "report format (default md)", NULL},
        {"output", 'o', OPT_STRING, f->output, sizeof f->output, 0, 0, "FILE", "write the report to FILE (atomically; -: standard output, the default)", NULL},
    };
    const opt_table t = {
        "hstprof layerbench",
        "hstprof layerbench [--seq 1024,2048,4096,8192] [--d-model 128] [--heads 4] [--threads N] [--runs 3] "
        "[--warmup 1] [--format md|csv|json] [-o FILE]",
        "Times one HST PreBlock (spec 4.2: LN, QKV, causal attention, out-projection + residual, LN, FFN 4D with\n"
        "ReLU + residual), batch 1, at each sequence length, as a plain-C eager baseline (materialised S x S\n"
        "scores, unfused bias / ReLU / residual passes) and as the engine's fused, streaming path; reports the\n"
        "median latency, the peak memory each run adds (probes' memory window) and checks that both agree.\n"
        "There is no --mode: a PreBlock is causal as written, one computation in both modes (--mode is for\n"
        "run, bench and the dashboard, where it changes hst-v7.0, hst-chaos, hst-v7.1 and hst-v8).",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    int rc = args_parse(&t, argc, argv, 1, NULL, NULL);
    return rc == ARGS_OK ? check_flags(f) : rc;
}

/* ---- the block's weights, shared by both variants ---------------------------------- */

typedef struct {
    int D, nh;
    float *wq, *wk, *wv, *wo, *w1, *b1, *w2, *b2, *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    /* The baseline's layout: W^T ([in, out]), as a BLAS-backed x @ W.T reads it. */
    float *wq_t, *wk_t, *wv_t, *wo_t, *w1_t, *w2_t;
} block_weights;

static float *uniform_floats(uint64_t rng[4], size_t n, double center, double bound)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (float)(center + bound * (2.0 * hst_rng_uniform(rng) - 1.0));
    return p;
}

static float *transposed(const float *W, int N, int K)
{
    float *t = W ? malloc((size_t)N * K * sizeof *t) : NULL;
    for (int n = 0; t && n < N; n++)
        for (int k = 0; k < K; k++)
            t[(size_t)k * N + n] = W[(size_t)n * K + k];
    return t;
}

static void free_weights(block_weights *w)
{
    float *all[] = {w->wq, w->wk, w->wv, w->wo, w->w1, w->b1, w->w2, w->b2, w->ln1_g, w->ln1_b, w->ln2_g, w->ln2_b,
                    w->wq_t, w->wk_t, w->wv_t, w->wo_t, w->w1_t, w->w2_t};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    memset(w, 0, sizeof *w);
}

/* PyTorch's default Linear init bounds (U(+-1/sqrt(fan_in))); norms near 1 and
 * 0 but not exactly, so a swapped gamma/beta would show in the agreement. */
static int make_weights(block_weights *w, int D, int nh, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed);
    size_t DD = (size_t)D * D;
    double in_d = 1.0 / sqrt(D), in_4d = 1.0 / sqrt(4.0 * D);
    w->D = D;
    w->nh = nh;
    w->wq = uniform_floats(rng, DD, 0, in_d);
    w->wk = uniform_floats(rng, DD, 0, in_d);
    w->wv = uniform_floats(rng, DD, 0, in_d);
    w->wo = uniform_floats(rng, DD, 0, in_d);
    w->w1 = uniform_floats(rng, 4 * DD, 0, in_d);
    w->b1 = uniform_floats(rng, 4 * (size_t)D, 0, in_d);
    w->w2 = uniform_floats(rng, 4 * DD, 0, in_4d);
    w->b2 = uniform_floats(rng, (size_t)D, 0, in_4d);
    w->ln1_g = uniform_floats(rng, (size_t)D, 1, 0.1);
    w->ln1_b = uniform_floats(rng, (size_t)D, 0, 0.1);
    w->ln2_g = uniform_floats(rng, (size_t)D, 1, 0.1);
    w->ln2_b = uniform_floats(rng, (size_t)D, 0, 0.1);
    w->wq_t = transposed(w->wq, D, D);
    w->wk_t = transposed(w->wk, D, D);
    w->wv_t = transposed(w->wv, D, D);
    w->wo_t = transposed(w->wo, D, D);
    w->w1_t = transposed(w->w1, 4 * D, D);
    w->w2_t = transposed(w->w2, D, 4 * D);
    return w->ln2_b && w->wq_t && w->wk_t && w->wv_t && w->wo_t && w->w1_t && w->w2_t ? 0 : -1;
}

/* ---- baseline: eager plain C ------------------------------------------------------ */

/* Every op of the baseline samples the memory window once its output exists,
 * so the window's peak sees the largest set of live buffers. The time spent
 * getting memory (malloc, first touch, free) is kept apart, so the report can
 * show the compute alone too. */
typedef struct {
    probes_memory_window *memory;
    uint64_t alloc_ns;
} eager;

/* A new tensor, touched (zeroed) as an eager framework's output buffer is. */
static float *tensor_new(eager *e, size_t n)
{
    uint64_t t0 = hst_now_ns();
    float *p = malloc(n * sizeof *p);
    if (p)
        memset(p, 0, n * sizeof *p);
    e->alloc_ns += hst_now_ns() - t0;
    return p;
}

static void tensor_free(eager *e, float *p)
{
    uint64_t t0 = hst_now_ns();
    free(p);
    e->alloc_ns += hst_now_ns() - t0;
}

static void op_done(eager *e)
{
    probes_memory_sample(e->memory);
}

/* y [S, N] = x [S, K] @ Wt [K, N] (no bias: that is a pass of its own). The
 * k-outer row update vectorises without reassociating any sum. */
static float *linear(eager *e, const float *x, int S, int K, const float *Wt, int N)
{
    float *y = tensor_new(e, (size_t)S * N);
    if (!y)
        return NULL;
    for (int i = 0; i < S; i++) {
        float *yi = y + (size_t)i * N; /* zeroed by tensor_new */
        for (int k = 0; k < K; k++) {
            const float xv = x[(size_t)i * K + k], *w = Wt + (size_t)k * N;
            for (int n = 0; n < N; n++)
                yi[n] += xv * w[n];
        }
    }
    op_done(e);
    return y;
}

static float *layer_norm(eager *e, const float *x, int S, int D, const float *g, const float *b)
{
    float *y = tensor_new(e, (size_t)S * D);
    for (int i = 0; y && i < S; i++) {
        const float *xi = x + (size_t)i * D;
        double sum = 0, var = 0;
        for (int d = 0; d < D; d++)
            sum += xi[d];
        double mean = sum / D;
        for (int d = 0; d < D; d++)
            var += (xi[d] - mean) * (xi[d] - mean);
        float inv = (float)(1.0 / sqrt(var / D + 1e-5)), mu = (float)mean; /* spec 1: biased variance, eps 1e-5 */
        for (int d = 0; d < D; d++)
            y[(size_t)i * D + d] = (xi[d] - mu) * inv * g[d] + b[d];
    }
    if (y)
        op_done(e);
    return y;
}

/* y = x + b (a row vector), y = relu(x), y = x + z: one pass each, new output. */
static float *add_bias(eager *e, const float *x, int S, int N, const float *b)
{
    float *y = tensor_new(e, (size_t)S * N);
    for (size_t i = 0; y && i < (size_t)S * N; i++)
        y[i] = x[i] + b[i % (size_t)N];
    if (y)
        op_done(e);
    return y;
}

static float *relu(eager *e, const float *x, size_t n)
{
    float *y = tensor_new(e, n);
    for (size_t i = 0; y && i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
    if (y)
        op_done(e);
    return y;
}

static void add_into(eager *e, float *out, const float *x, const float *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] + z[i];
    op_done(e);
}

/* scores[h] = q_h k_h^T over all S x S pairs, as a dense batched matmul does
 * (the masked half is computed too); k is transposed first (.contiguous()). */
static float *attention_scores(eager *e, const float *q, const float *k, int S, int D, int nh)
{
    const int hd = D / nh;
    float *kt = tensor_new(e, (size_t)S * D); /* [D][S] */
    float *scores = kt ? tensor_new(e, (size_t)nh * S * S) : NULL;
    if (!scores) {
        tensor_free(e, kt);
        return NULL;
    }
    for (int j = 0; j < S; j++)
        for (int d = 0; d < D; d++)
            kt[(size_t)d * S + j] = k[(size_t)j * D + d];
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < S; i++) {
            float *row = scores + ((size_t)h * S + i) * S; /* zeroed by tensor_new */
            for (int d = 0; d < hd; d++) {
                const float qv = q[(size_t)i * D + h * hd + d], *kd = kt + (size_t)(h * hd + d) * S;
                for (int j = 0; j < S; j++)
                    row[j] += qv * kd[j];
            }
        }
    op_done(e);
    tensor_free(e, kt);
    return scores;
}

/* The three passes an unfused softmax attention makes over [nh, S, S]. */
static void scale_mask_softmax(eager *e, float *scores, int S, int nh, int hd)
{
    const size_t total = (size_t)nh * S * S;
    const float scale = 1.0f / sqrtf((float)hd);
    for (size_t i = 0; i < total; i++)
        scores[i] *= scale;
    for (size_t r = 0; r < (size_t)nh * S; r++) /* causal: key j > query i is masked (spec 4.2) */
        for (int j = (int)(r % (size_t)S) + 1; j < S; j++)
            scores[r * S + j] = -INFINITY;
    for (size_t r = 0; r < (size_t)nh * S; r++) {
        float *row = scores + r * S, mx = -INFINITY;
        double sum = 0;
        for (int j = 0; j < S; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < S; j++)
            sum += (row[j] = expf(row[j] - mx));
        for (int j = 0; j < S; j++)
            row[j] = (float)(row[j] / sum);
    }
    op_done(e);
}

/* out[:, head h] = P_h @ v_h, every key (masked ones have weight 0). */
static float *attention_values(eager *e, const float *p, const float *v, int S, int D, int nh)
{
    const int hd = D / nh;
    float *out = tensor_new(e, (size_t)S * D); /* zeroed: the sums start at 0 */
    if (!out)
        return NULL;
    for (int h = 0; h < nh; h++)
        for (int i = 0; i < S; i++) {
            const float *pi = p + ((size_t)h * S + i) * S;
            float *o = out + (size_t)i * D + h * hd;
            for (int j = 0; j < S; j++) {
                const float pj = pi[j], *vj = v + (size_t)j * D + h * hd;
                for (int d = 0; d < hd; d++)
                    o[d] += pj * vj[d];
            }
        }
    op_done(e);
    return out;
}

/* x1 = x + Wo·attention(LN1(x)): returns x1 (new), NULL when out of memory. */
static float *baseline_attention_half(eager *e, const block_weights *w, const float *x, int S)
{
    const int D = w->D;
    float *a = layer_norm(e, x, S, D, w->ln1_g, w->ln1_b);
    float *q = a ? linear(e, a, S, D, w->wq_t, D) : NULL;
    float *k = q ? linear(e, a, S, D, w->wk_t, D) : NULL;
    float *v = k ? linear(e, a, S, D, w->wv_t, D) : NULL;
    tensor_free(e, a);
    float *scores = v ? attention_scores(e, q, k, S, D, w->nh) : NULL;
    tensor_free(e, q);
    tensor_free(e, k);
    if (scores)
        scale_mask_softmax(e, scores, S, w->nh, D / w->nh);
    float *att = scores ? attention_values(e, scores, v, S, D, w->nh) : NULL;
    tensor_free(e, scores);
    tensor_free(e, v);
    float *proj = att ? linear(e, att, S, D, w->wo_t, D) : NULL;
    tensor_free(e, att);
    float *x1 = proj ? tensor_new(e, (size_t)S * D) : NULL;
    if (x1)
        add_into(e, x1, x, proj, (size_t)S * D);
    tensor_free(e, proj);
    return x1;
}

/* out = x1 + W2·relu(W1·LN2(x1) + b1) + b2. 0 ok, -1 out of memory. */
static int baseline_ffn_half(eager *e, const block_weights *w, const float *x1, int S, float *out)
{
    const int D = w->D;
    float *a = layer_norm(e, x1, S, D, w->ln2_g, w->ln2_b);
    float *h = a ? linear(e, a, S, D, w->w1_t, 4 * D) : NULL;
    tensor_free(e, a);
    float *hb = h ? add_bias(e, h, S, 4 * D, w->b1) : NULL;
    tensor_free(e, h);
    float *hr = hb ? relu(e, hb, (size_t)S * 4 * D) : NULL;
    tensor_free(e, hb);
    float *y = hr ? linear(e, hr, S, 4 * D, w->w2_t, D) : NULL;
    tensor_free(e, hr);
    float *yb = y ? add_bias(e, y, S, D, w->b2) : NULL;
    tensor_free(e, y);
    if (yb)
        add_into(e, out, x1, yb, (size_t)S * D);
    tensor_free(e, yb);
    return yb ? 0 : -1;
}

static int baseline_forward(const block_weights *w, const float *x, int S, float *out, probes_memory_window *mw,
                            uint64_t *alloc_ns)
{
    eager e = {mw, 0};
    float *x1 = baseline_attention_half(&e, w, x, S);
    int rc = x1 ? baseline_ffn_half(&e, w, x1, S, out) : -1;
    tensor_free(&e, x1);
    *alloc_ns = e.alloc_ns;
    return rc;
}

/* ---- optimized: the engine's block ------------------------------------------------- */

/* x [S, D] in place; the workspace (activations + K/V cache) lives only for
 * the call, as the baseline's buffers do, so the window sees it. */
static int optimized_forward(const hst_block *block, hst_pool *pool, float *x, int S, probes_memory_window *mw,
                             double *workspace_bytes, uint64_t *alloc_ns)
{
    hst_error err = {{0}};
    uint64_t t0 = hst_now_ns();
    hst_block_workspace *ws = hst_block_workspace_create(block, S, &err);
    uint64_t t1 = hst_now_ns();
    int rc = ws ? hst_block_forward(block, ws, pool, x, S, &err) : -1;
    probes_memory_sample(mw);
    *workspace_bytes = (double)hst_block_workspace_bytes(ws);
    uint64_t t2 = hst_now_ns();
    hst_block_workspace_free(ws);
    *alloc_ns = (t1 - t0) + (hst_now_ns() - t2);
    if (rc != 0)
        fprintf(stderr, "hstprof layerbench: %s\n", err.msg);
    return rc;
}

/* ---- measuring ----------------------------------------------------------------------- */

enum { BASELINE, OPTIMIZED, N_VARIANTS };
static const char *const variant_names[N_VARIANTS] = {"baseline", "optimized"};

typedef struct {
    const block_weights *weights;
    const hst_block *block;
    hst_pool *pool;
    const float *input; /* [S, D] */
    float *out[N_VARIANTS];
    int S;
    double workspace_bytes; /* the engine's activations + K/V cache at S rows */
} bench_case;

/* One run of a variant: time from the first allocation to the last free,
 * the part of it spent on memory (allocation, first touch, release), and the
 * RSS it added (window peak minus the RSS at the window's start). */
static int measure_run(bench_case *c, int variant, double *ms, double *alloc_ms, double *added_bytes)
{
    probes_memory_window mw;
    probes_memory_report mem;
    const size_t row_bytes = (size_t)c->S * c->weights->D * sizeof(float);
    if (variant == OPTIMIZED)
        memcpy(c->out[OPTIMIZED], c->input, row_bytes); /* in place: the input copy is not the block's work */
    malloc_trim(0);
    probes_memory_begin(&mw);
    uint64_t start_rss = mw.rss_bytes;
    uint64_t t0 = hst_now_ns(), alloc_ns = 0;
    int rc = variant == BASELINE ? baseline_forward(c->weights, c->input, c->S, c->out[BASELINE], &mw, &alloc_ns)
                                 : optimized_forward(c->block, c->pool, c->out[OPTIMIZED], c->S, &mw,
                                                     &c->workspace_bytes, &alloc_ns);
    *ms = (double)(hst_now_ns() - t0) / 1e6;
    *alloc_ms = (double)alloc_ns / 1e6;
    probes_memory_end(&mw, -1, &mem);
    if (rc != 0) {
        if (variant == BASELINE)
            fprintf(stderr, "hstprof layerbench: baseline: out of memory at seq %d\n", c->S);
        return -1;
    }
    *added_bytes = mem.rss_peak_bytes.valid ? mem.rss_peak_bytes.value - (double)start_rss : NAN;
    return 0;
}

/* Both outputs of the last runs: max |baseline - optimized| and that over max |baseline|. */
static void agreement(const bench_case *c, double *max_abs, double *max_rel)
{
    size_t n = (size_t)c->S * c->weights->D;
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)c->out[BASELINE][i] - c->out[OPTIMIZED][i]);
        diff = d > diff ? d : diff;
        scale = fabs(c->out[BASELINE][i]) > scale ? fabs(c->out[BASELINE][i]) : scale;
    }
    *max_abs = diff;
    *max_rel = scale > 0 ? diff / scale : diff;
}

/* Useful FLOPs of the block at S rows from position 0 (spec 11: 24D^2 S + 4D sum(t+1)). */
static double block_flops(int D, int S)
{
    return 24.0 * D * D * S + 4.0 * D * ((double)S * (S + 1) / 2);
}

static json_t *variant_json(const bench_case *c, int variant, const double *ms, const double *alloc_ms,
                            const double *bytes, int runs, double max_abs, double max_rel)
{
    sample_summary t, a, m, compute;
    double *compute_ms = malloc((size_t)runs * sizeof *compute_ms);
    for (int i = 0; compute_ms && i < runs; i++)
        compute_ms[i] = ms[i] - alloc_ms[i];
    stats_summarize(ms, (size_t)runs, &t);
    stats_summarize(alloc_ms, (size_t)runs, &a);
    stats_summarize(bytes, (size_t)runs, &m);
    stats_summarize(compute_ms ? compute_ms : ms, (size_t)runs, &compute);
    free(compute_ms);
    json_t *samples = json_array();
    for (int i = 0; i < runs; i++)
        json_array_append_new(samples, json_real(ms[i]));
    const int D = c->weights->D, nh = c->weights->nh;
    /* The buffer each design is known for, to read the measured peak against:
     * the baseline's [nh, S, S] scores, the engine's whole workspace. */
    double predicted = variant == BASELINE ? (double)nh * c->S * c->S * sizeof(float) : c->workspace_bytes;
    json_t *o = json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:f, s:f, s:f}", "seq_len", c->S, "variant",
                          variant_names[variant], "latency_ms_median", t.median, "latency_ms_min", t.min,
                          "latency_ms_max", t.max, "latency_ms_mean", t.mean, "samples_ms", samples, "peak_mb",
                          m.median / 1e6, "peak_mb_max", m.max / 1e6, "gflops_per_s",
                          block_flops(D, c->S) / (t.median * 1e6), "max_abs_diff", max_abs, "max_rel_diff", max_rel);
    json_object_set_new(o, variant == BASELINE ? "scores_mb" : "workspace_mb", json_real(predicted / 1e6));
    json_object_set_new(o, "alloc_ms_median", json_real(a.median));
    json_object_set_new(o, "compute_ms_median", json_real(compute.median));
    return o;
}

/* Warm-up and timed runs of both variants at one length, interleaved (the
 * order alternates per run) so machine noise hits both alike. */
static json_t *bench_length(bench_case *c, const layerbench_flags *f)
{
    int n = f->runs;
    double *ms = calloc((size_t)N_VARIANTS * n, sizeof *ms), *bytes = calloc((size_t)N_VARIANTS * n, sizeof *bytes);
    double *alloc_ms = calloc((size_t)N_VARIANTS * n, sizeof *alloc_ms);
    json_t *rows = NULL;
    int failed = !ms || !bytes || !alloc_ms;
    for (int r = 0; !failed && r < f->warmup + n; r++)
        for (int i = 0; !failed && i < N_VARIANTS; i++) {
            int v = (r + i) % N_VARIANTS, slot = v * n + (r - f->warmup);
            double t, a, b;
            failed = measure_run(c, v, &t, &a, &b) != 0;
            if (!failed && r >= f->warmup)
                ms[slot] = t, alloc_ms[slot] = a, bytes[slot] = b;
        }
    double max_abs = 0, max_rel = 0;
    if (!failed) {
        agreement(c, &max_abs, &max_rel);
        if (!(max_rel < AGREEMENT_TOLERANCE)) {
            fprintf(stderr, "hstprof layerbench: seq %d: baseline and optimized outputs differ by %.3g (%.3g of the "
                            "largest output; at most %g allowed)\n", c->S, max_abs, max_rel, AGREEMENT_TOLERANCE);
            failed = 1;
        }
    }
    if (!failed) {
        rows = json_array();
        for (int v = 0; v < N_VARIANTS; v++)
            json_array_append_new(rows, variant_json(c, v, ms + v * n, alloc_ms + v * n, bytes + v * n, n, max_abs,
                                                     max_rel));
    }
    free(ms);
    free(alloc_ms);
    free(bytes);
    return rows;
}

static float *random_input(int S, int D, uint64_t seed)
{
    uint64_t rng[4];
    hst_rng_seed(rng, seed ^ 0x9e3779b97f4a7c15ull ^ (uint64_t)S);
    return uniform_floats(rng, (size_t)S * D, 0, 1.0);
}

static int bench_all_lengths(const layerbench_flags *f, const block_weights *w, const hst_block *block, hst_pool *pool,
                             json_t *runs)
{
    for (int i = 0; i < f->n_seqs; i++) {
        bench_case c = {w, block, pool, NULL, {NULL, NULL}, f->seqs[i], 0};
        float *input = random_input(c.S, w->D, f->seed);
        c.input = input;
        c.out[BASELINE] = malloc((size_t)c.S * w->D * sizeof(float));
        c.out[OPTIMIZED] = malloc((size_t)c.S * w->D * sizeof(float));
        json_t *rows = input && c.out[BASELINE] && c.out[OPTIMIZED] ? bench_length(&c, f) : NULL;
        free(input);
        free(c.out[BASELINE]);
        free(c.out[OPTIMIZED]);
        if (!rows)
            return -1;
        json_array_extend(runs, rows);
        json_decref(rows);
    }
    return 0;
}

/* ---- the report ------------------------------------------------------------------------ */

static void cpu_description(char *buf, size_t size, int shared_pus)
{
    char model[160];
    probes_cpu_model(model, sizeof model);
    snprintf(buf, size, "%s, %ld PUs%s", model, sysconf(_SC_NPROCESSORS_ONLN),
             shared_pus ? " (oversubscribed: threads share PUs, --oversubscribe)" : "");
}

static json_t *report_header(const layerbench_flags *f, const char *kernel)
{
    char date[64], machine[256];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    cpu_description(machine, sizeof machine, f->shared_pus);
    json_t *seq = json_array();
    for (int i = 0; i < f->n_seqs; i++)
        json_array_append_new(seq, json_integer(f->seqs[i]));
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:I}, s:s, s:s, s:s, s:f, s:[]}",
        "tool", "hstprof layerbench", "date", date, "machine", machine, "kernel", kernel, "settings", "batch", 1,
        "d_model", f->d_model, "n_heads", f->n_heads, "head_dim", f->d_model / f->n_heads, "ffn_dim",
        4 * f->d_model, "seq", seq, "threads", f->threads, "runs", f->runs, "warmup", f->warmup, "seed",
        (json_int_t)f->seed, "baseline",
        "plain C, eager: a new buffer per op (freed when dead), [nh, S, S] scores computed in full then scaled, "
        "masked and soft-maxed in separate passes, bias / ReLU / residual as separate passes; compiler-"
        "vectorised loops, one thread",
        "optimized",
        "the engine's PreBlock (hst_block_forward): packed SIMD matmuls with bias / ReLU / residual fused into "
        "the store, streaming-softmax causal attention over a K/V cache (no S x S buffer)",
        "memory_method",
        "probes memory window around each run: RSS peak in the window (sampled after every op of the baseline "
        "and after the engine's forward) minus RSS at the window's start; weights, input and output are "
        "allocated before the window, small buffers come from mmap so that freeing returns them",
        "agreement_tolerance", AGREEMENT_TOLERANCE, "runs");
}

static int emit(const layerbench_flags *f, const json_t *report)
{
    char *text = export_layerbench_render(report, f->fmt);
    if (!text) {
        fprintf(stderr, "hstprof layerbench: out of memory rendering the report\n");
        return 1;
    }
    int rc = 0;
    char err[512];
    if (f->output[0] && export_write_atomic(f->output, text, strlen(text), err, sizeof err) != 0) {
        fprintf(stderr, "hstprof layerbench: %s\n", err);
        rc = 1;
    } else if (!f->output[0]) {
        fputs(text, stdout);
    }
    free(text);
    return rc;
}

/* The measured session of the optimized variant: no model, a pool and a kernel. */
static int open_session(const layerbench_flags *f, probes_session *s)
{
    const probes_session_settings st = {.kernel = f->kernel, .threads = f->threads, .counters_off = "counters off"};
    char err[1024];
    int rc = probes_session_open(&st, s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "hstprof layerbench: %s\n", err);
    else
        hst_kernel_use(s->kernel); /* the block runs on this thread's kernel */
    return rc;
}

static int run_layerbench(const layerbench_flags *f, json_t *report)
{
    block_weights w;
    memset(&w, 0, sizeof w);
    hst_error err = {{0}};
    hst_block *block = NULL;
    probes_session s;
    int rc = make_weights(&w, f->d_model, f->n_heads, f->seed) == 0 ? 0 : 1;
    if (rc == 0) {
        const hst_block_weights bw = {w.wq, w.wk, w.wv, w.wo, w.w1, w.b1, w.w2, w.b2, w.ln1_g, w.ln1_b, w.ln2_g, w.ln2_b};
        block = hst_block_create(&bw, f->d_model, f->n_heads, &err);
        rc = block ? 0 : 1;
    }
    if (rc != 0)
        fprintf(stderr, "hstprof layerbench: %s\n", err.msg[0] ? err.msg : "out of memory for the weights");
    if (rc == 0 && (rc = open_session(f, &s)) == 0) {
        if (bench_all_lengths(f, &w, block, s.pool, json_object_get(report, "runs")) != 0)
            rc = 1;
        probes_session_close(&s);
    }
    hst_block_free(block);
    free_weights(&w);
    return rc;
}

int cmd_layerbench(int argc, char **argv)
{
    layerbench_flags f;
    memset(&f, 0, sizeof f);
    snprintf(f.seq, sizeof f.seq, "1024,2048,4096,8192");
    snprintf(f.format, sizeof f.format, "md");
    snprintf(f.kernel, sizeof f.kernel, "auto");
    f.d_model = 128; /* hst-v4 (spec 3) */
    f.n_heads = 4;
    f.threads = 1; /* like for like with the single-threaded baseline unless asked */
    f.runs = 3;
    f.warmup = 1;
    int rc = parse_flags(argc, argv, &f);
    hst_kernel kernel = HST_KERNEL_AUTO;
    if (rc == ARGS_OK && cmd_check_engine_settings("layerbench", f.kernel, NULL, &kernel) != 0)
        rc = ARGS_ERROR;
    if (rc != ARGS_OK)
        return rc == ARGS_HELP ? 0 : 2;
    /* Freed buffers must leave the RSS, or the next window starts high: a fixed
     * mmap threshold stops glibc from moving large blocks to the heap. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    json_t *report = report_header(&f, hst_kernel_name(kernel));
    rc = report ? run_layerbench(&f, report) : 1;
    if (rc == 0)
        rc = emit(&f, report);
    json_decref(report);
    return rc;
}
