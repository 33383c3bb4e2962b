/* attention.c — multi-head attention over a K/V cache: the causal attention
 * of spec 4.2 (hst_attention) and the options of the Stage 2 cores
 * (attention.h: scale, full extent, per-row positions, Core D's block
 * filter). Streaming softmax over blocks of 16 keys, no S x S buffer, no
 * masked work beyond the last partial block.
 *
 * K is cached transposed in blocks of 16 positions per head, kt[h][blk][d][16],
 * so the 16 scores of a block are one chain of broadcast-FMAs (the matmul
 * micro-kernel's shape) instead of 16 horizontal dot products. V stays
 * row-major. A row's result depends only on its position, the keys it may
 * see and the cache, never on how rows are grouped or split over threads, so
 * a decode step equals the prefill row bit for bit. */
#include "engine/attention.h"
#include "engine/simd512.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define KB HST_KEY_BLOCK

void hst_kcache_store_rows(float *kt, const float *k_rows, int ld, int n, const int *positions, int t0, int nh,
                           int hd, int blocks)
{
    for (int i = 0; i < n; i++) {
        int pos = positions ? positions[i] : t0 + i;
        const float *k = k_rows + (size_t)i * ld;
        for (int h = 0; h < nh; h++) {
            float *dst = kt + (((size_t)h * blocks + pos / KB) * hd) * KB + pos % KB;
            for (int d = 0; d < hd; d++)
                dst[(size_t)d * KB] = k[h * hd + d];
        }
    }
}

void hst_kcache_store(float *kt, const float *k_rows, int ld, int n, int t0, int nh, int hd, int blocks)
{
    hst_kcache_store_rows(kt, k_rows, ld, n, NULL, t0, nh, hd, blocks);
}

/* ---- which keys a row sees ------------------------------------------------- */

static inline int row_position(const hst_attention_args *a, int row)
{
    return a->positions ? a->positions[row] : a->t0 + row;
}

/* The last key of the row's extent; keys 0..last are candidates. */
static inline int row_last_key(const hst_attention_args *a, int pos)
{
    return a->extent == HST_ATTN_FULL ? a->n_keys - 1 : pos;
}

/* Whether the 64-key block c passes Core D's filter for a row at pos (12.D.2.4). */
static inline int keep_block(const hst_attention_args *a, int pos, int c)
{
    return !a->keep || c == pos / HST_ATTN_KEEP_BLOCK || a->keep[c];
}

double hst_attention_flops(const hst_attention_args *a)
{
    double keys = 0;
    for (int i = 0; i < a->n_rows; i++) {
        int pos = row_position(a, i), last = row_last_key(a, pos);
        for (int c = 0; c * HST_ATTN_KEEP_BLOCK <= last; c++)
            if (keep_block(a, pos, c)) {
                int in_block = last - c * HST_ATTN_KEEP_BLOCK + 1;
                keys += in_block < HST_ATTN_KEEP_BLOCK ? in_block : HST_ATTN_KEEP_BLOCK;
            }
    }
    return 4.0 * a->head_dim * a->n_heads * keys;
}

/* ---- portable ------------------------------------------------------------- */

static void attend_row_portable(const hst_attention_args *a, int row, int h)
{
    const int hd = a->head_dim, pos = row_position(a, row), last = row_last_key(a, pos);
    const float *q = a->q + (size_t)row * a->ldq + h * hd;
    const float *kh = a->kt + (size_t)h * a->key_blocks * hd * KB;
    float *o = a->out + (size_t)row * a->ldo + h * hd;
    float running_max = -INFINITY, denom = 0;
    memset(o, 0, (size_t)hd * sizeof *o);
    for (int b = 0; b * KB <= last; b++) {
        if (!keep_block(a, pos, b * KB / HST_ATTN_KEEP_BLOCK))
            continue;
        const float *kb = kh + (size_t)b * hd * KB;
        int valid = last - b * KB + 1 < KB ? last - b * KB + 1 : KB;
        float sc[KB] = {0}, block_max = -INFINITY;
        for (int d = 0; d < hd; d++)
            for (int l = 0; l < KB; l++)
                sc[l] += q[d] * kb[(size_t)d * KB + l];
        for (int l = 0; l < valid; l++) {
            sc[l] *= a->scale;
            block_max = sc[l] > block_max ? sc[l] : block_max;
        }
        float new_max = block_max > running_max ? block_max : running_max;
        float correction = expf(running_max - new_max);
        denom *= correction;
        for (int d = 0; d < hd; d++)
            o[d] *= correction;
        for (int l = 0; l < valid; l++) {
            float p = expf(sc[l] - new_max);
            const float *v = a->v + (size_t)(b * KB + l) * a->ldv + h * hd;
            denom += p;
            for (int d = 0; d < hd; d++)
                o[d] += p * v[d];
        }
        running_max = new_max;
    }
    for (int d = 0; d < hd; d++)
        o[d] /= denom;
}

/* ---- AVX-512 (hd a multiple of 16) ---------------------------------------- */

#define CHUNK_BLOCKS 4       /* streaming-softmax step: 64 keys per max/rescale */
#define GROUP_LANES 8        /* (row, head) pairs attended together, at most */
#define SCORE_LANES 4        /* lanes whose scores are computed together (a chain per block each) */
#define SCORE_BLOCKS 4       /* key blocks scored together */
#define MAX_GROUP_VECTORS 16 /* hd up to 256 */

_Static_assert(CHUNK_BLOCKS * KB == HST_ATTN_KEEP_BLOCK, "a softmax chunk is one block of Core D's filter");

/* The lanes of one group: where each reads and writes, which keys it sees. */
typedef struct {
    const float *q[GROUP_LANES], *kh[GROUP_LANES];
    float *out[GROUP_LANES];
    int pos[GROUP_LANES], last[GROUP_LANES], vcol[GROUP_LANES];
    int t_last; /* the last key any lane sees */
} lane_group;

/* A 64-key chunk some lane sees: c (-1: none left), the lanes that see keys
 * of it, the last key any of them sees and its 16-key blocks. */
typedef struct {
    int c, last, nb;
    unsigned live;
} chunk_plan;

/* The first chunk at or after c that some lane sees. */
__attribute__((always_inline)) static inline chunk_plan plan_chunk(const hst_attention_args *a, const lane_group *g,
                                                                   int c, const int R)
{
    for (; c * HST_ATTN_KEEP_BLOCK <= g->t_last; c++) {
        chunk_plan p = {c, -1, 0, 0};
        for (int r = 0; r < R; r++)
            if (c * HST_ATTN_KEEP_BLOCK <= g->last[r] && keep_block(a, g->pos[r], c)) {
                p.live |= 1u << r;
                p.last = g->last[r] > p.last ? g->last[r] : p.last;
            }
        if (p.live) {
            p.nb = (p.last - c * HST_ATTN_KEEP_BLOCK) / KB + 1;
            p.nb = p.nb < CHUNK_BLOCKS ? p.nb : CHUNK_BLOCKS;
            return p;
        }
    }
    return (chunk_plan){-1, -1, 0, 0};
}

/* Raw scores of lanes r0..r0+RN-1 for the NB blocks from block b0 into
 * acc[lane][block]: one FMA chain over d per (lane, key), d increasing. The
 * NB blocks share each broadcast of q[d] and (rows of one head) each key
 * vector serves the RN lanes, so RN·NB chains run side by side. */
__attribute__((always_inline, target("avx512f"))) static inline void
block_scores512(const lane_group *g, int r0, const int RN, const int NB, int b0, const int hd, const int BY_HEAD,
                __m512 acc[SCORE_LANES][SCORE_BLOCKS])
{
    for (int r = 0; r < RN; r++)
        for (int b = 0; b < NB; b++)
            acc[r][b] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 k[SCORE_BLOCKS];
        for (int b = 0; !BY_HEAD && b < NB; b++)
            k[b] = _mm512_load_ps(g->kh[r0] + ((size_t)(b0 + b) * hd + d) * KB);
        for (int r = 0; r < RN; r++) {
            __m512 q = _mm512_set1_ps(g->q[r0 + r][d]);
            for (int b = 0; b < NB; b++) {
                if (BY_HEAD)
                    k[b] = _mm512_load_ps(g->kh[r0 + r] + ((size_t)(b0 + b) * hd + d) * KB);
                acc[r][b] = _mm512_fmadd_ps(q, k[b], acc[r][b]);
            }
        }
    }
}

/* Scaled scores of every lane for the chunk's blocks into sc[lane][block][key],
 * -inf where the lane does not see the key. Blocks go SCORE_BLOCKS at a time
 * (one for wide heads): with the output accumulators live, more chains than
 * that would not stay in registers. */
__attribute__((always_inline, target("avx512f"))) static inline void
chunk_scores512(const hst_attention_args *a, const lane_group *g, const chunk_plan *p,
                float sc[GROUP_LANES][CHUNK_BLOCKS][KB], const int R, const int NV, const int BY_HEAD)
{
    const int hd = NV * 16, b0 = p->c * CHUNK_BLOCKS, per_pass = NV >= 4 ? 1 : SCORE_BLOCKS;
    const __m512 scale = _mm512_set1_ps(a->scale), minus_inf = _mm512_set1_ps(-INFINITY);
    for (int r0 = 0; r0 < R; r0 += SCORE_LANES) {
        const int rn = R - r0 < SCORE_LANES ? R - r0 : SCORE_LANES;
        for (int bb = 0; bb < p->nb; bb += per_pass) {
            __m512 acc[SCORE_LANES][SCORE_BLOCKS];
            const int nb = p->nb - bb < per_pass ? p->nb - bb : per_pass;
            if (nb == 4)
                block_scores512(g, r0, rn, 4, b0 + bb, hd, BY_HEAD, acc);
            else if (nb == 3)
                block_scores512(g, r0, rn, 3, b0 + bb, hd, BY_HEAD, acc);
            else if (nb == 2)
                block_scores512(g, r0, rn, 2, b0 + bb, hd, BY_HEAD, acc);
            else
                block_scores512(g, r0, rn, 1, b0 + bb, hd, BY_HEAD, acc);
            for (int r = 0; r < rn; r++) {
                const int lane = r0 + r;
                for (int b = 0; b < nb; b++) {
                    int valid = p->live >> lane & 1u ? g->last[lane] - (b0 + bb + b) * KB + 1 : 0;
                    __mmask16 keys = valid >= KB  ? (__mmask16)0xffff
                                   : valid <= 0 ? 0
                                                 : (__mmask16)((1u << valid) - 1u);
                    _mm512_store_ps(sc[lane][bb + b],
                                    _mm512_mask_mov_ps(minus_inf, keys, _mm512_mul_ps(acc[r][b], scale)));
                }
            }
        }
    }
}

/* Several (row, head) lanes at once: either R rows of one head (a prefill:
 * every K and V vector loaded serves R rows) or R heads of one row (a decode
 * step), so that R*NV output accumulators form independent FMA chains (one
 * lane alone is latency-bound on its NV chains; hd = 16 takes 8 lanes, its
 * scores computed 4 lanes at a time to stay in registers). Each lane's
 * arithmetic is exactly that of the lane on its own (R = 1): per 64-key chunk
 * it sees keys of, scores in one chain over d per key, scaled, masked to
 * -inf outside its extent; one max and rescale; then p = e^(s - max) and
 * o += p * v over the keys in order. Keys another lane needs add p = 0
 * (fma(0, v, o) = o), and a chunk the lane sees nothing of is skipped for it
 * (p = 0, no rescale), as the lane alone would skip it. So a decode step
 * equals its prefill row bit for bit, whatever the grouping. */
__attribute__((always_inline, target("avx512f"))) static inline void
attend_lanes512(const hst_attention_args *a, int row0, int h0, const int R, const int NV, const int BY_HEAD)
{
    const int hd = NV * 16;
    lane_group g;
    __m512 o[GROUP_LANES][MAX_GROUP_VECTORS], denom[GROUP_LANES];
    float running_max[GROUP_LANES];
    float s[GROUP_LANES][CHUNK_BLOCKS][KB] __attribute__((aligned(64)));
    g.t_last = 0;
    for (int r = 0; r < R; r++) {
        int row = BY_HEAD ? row0 : row0 + r, head = BY_HEAD ? h0 + r : h0;
        g.pos[r] = row_position(a, row);
        g.last[r] = row_last_key(a, g.pos[r]);
        g.t_last = g.last[r] > g.t_last ? g.last[r] : g.t_last;
        g.vcol[r] = head * hd;
        g.q[r] = a->q + (size_t)row * a->ldq + head * hd;
        g.kh[r] = a->kt + (size_t)head * a->key_blocks * hd * KB;
        g.out[r] = a->out + (size_t)row * a->ldo + head * hd;
        running_max[r] = -INFINITY;
        denom[r] = _mm512_setzero_ps();
        for (int v = 0; v < NV; v++)
            o[r][v] = _mm512_setzero_ps();
    }
    for (chunk_plan cur = plan_chunk(a, &g, 0, R); cur.c >= 0; cur = plan_chunk(a, &g, cur.c + 1, R)) {
        chunk_scores512(a, &g, &cur, s, R, NV, BY_HEAD);
        __m512 mx[GROUP_LANES];
        for (int r = 0; r < R; r++) {
            if (!(cur.live >> r & 1u))
                continue;
            __m512 m = _mm512_load_ps(s[r][0]);
            for (int i = 1; i < cur.nb; i++)
                m = _mm512_max_ps(m, _mm512_load_ps(s[r][i]));
            /* A chunk that does not raise the running max would rescale by
             * e^0 = 1, which changes nothing: only a higher score costs the
             * reduction and the exponential. */
            if (_mm512_cmp_ps_mask(m, _mm512_set1_ps(running_max[r]), _CMP_GT_OQ)) {
                float new_max = _mm512_reduce_max_ps(m);
                /* In registers: a call to expf would spill every accumulator. */
                __m512 corr = exp512_nonpositive(_mm512_set1_ps(running_max[r] - new_max));
                denom[r] = _mm512_mul_ps(denom[r], corr);
                for (int v = 0; v < NV; v++)
                    o[r][v] = _mm512_mul_ps(o[r][v], corr);
                running_max[r] = new_max;
            }
            mx[r] = _mm512_set1_ps(running_max[r]);
        }
        /* Every weight of the chunk first: the exponentials of its blocks
         * and lanes are independent, so they overlap instead of each block's
         * waiting behind the previous block's products. */
        for (int i = 0; i < cur.nb; i++)
            for (int r = 0; r < R; r++) {
                if (!(cur.live >> r & 1u)) {
                    _mm512_store_ps(s[r][i], _mm512_setzero_ps());
                    continue;
                }
                __m512 p = exp512_nonpositive(_mm512_sub_ps(_mm512_load_ps(s[r][i]), mx[r]));
                denom[r] = _mm512_add_ps(denom[r], p);
                _mm512_store_ps(s[r][i], p);
            }
        for (int i = 0; i < cur.nb; i++) {
            int b = cur.c * CHUNK_BLOCKS + i, keys = cur.last - b * KB + 1 < KB ? cur.last - b * KB + 1 : KB;
            const float *vb = a->v + (size_t)b * KB * a->ldv;
            for (int l = 0; l < keys; l++)
                for (int v = 0; v < NV; v++) {
                    __m512 vv = _mm512_loadu_ps(vb + (size_t)l * a->ldv + g.vcol[0] + v * 16);
                    for (int r = 0; r < R; r++) {
                        if (BY_HEAD && r > 0)
                            vv = _mm512_loadu_ps(vb + (size_t)l * a->ldv + g.vcol[r] + v * 16);
                        o[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(s[r][i][l]), vv, o[r][v]);
                    }
                }
        }
    }
    for (int r = 0; r < R; r++) {
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(denom[r]));
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(g.out[r] + v * 16, _mm512_mul_ps(o[r][v], inv));
    }
}

/* Specialisations with R and NV known at compile time, so the accumulators
 * live in registers (R * NV <= 16: hd = 16 takes up to 8 lanes, hd = 32 and
 * 64 up to 4; wider heads go one by one). */
#define DEFINE_ATTEND(NV, R)                                                                            \
    __attribute__((target("avx512f"))) static void attend512_rows_##NV##_##R(const hst_attention_args *a, \
                                                                              int row0, int h)          \
    {                                                                                                   \
        attend_lanes512(a, row0, h, R, NV, 0);                                                          \
    }                                                                                                   \
    __attribute__((target("avx512f"))) static void attend512_heads_##NV##_##R(const hst_attention_args *a, \
                                                                               int row, int h0)         \
    {                                                                                                   \
        attend_lanes512(a, row, h0, R, NV, 1);                                                          \
    }
#define DEFINE_ATTEND_LANES(NV) DEFINE_ATTEND(NV, 1) DEFINE_ATTEND(NV, 2) DEFINE_ATTEND(NV, 3) DEFINE_ATTEND(NV, 4)

DEFINE_ATTEND_LANES(1)
DEFINE_ATTEND(1, 5)
DEFINE_ATTEND(1, 6)
DEFINE_ATTEND(1, 7)
DEFINE_ATTEND(1, 8)
DEFINE_ATTEND_LANES(2)
DEFINE_ATTEND(2, 5)
DEFINE_ATTEND(2, 6)
DEFINE_ATTEND(2, 7)
DEFINE_ATTEND(2, 8)
DEFINE_ATTEND_LANES(4)

/* Any other hd (a multiple of 16 up to 256): one lane at a time, same arithmetic. */
__attribute__((target("avx512f"))) static void attend512_any_1(const hst_attention_args *a, int row0, int h)
{
    attend_lanes512(a, row0, h, 1, a->head_dim / 16, 0);
}

typedef void (*attend_group_fn)(const hst_attention_args *a, int row, int h);

#define LANE_TABLE(KIND, NV)                                                                            \
    {NULL, attend512_##KIND##_##NV##_1, attend512_##KIND##_##NV##_2, attend512_##KIND##_##NV##_3,        \
     attend512_##KIND##_##NV##_4}
#define LANE_TABLE_8(KIND, NV)                                                                          \
    {NULL,                      attend512_##KIND##_##NV##_1, attend512_##KIND##_##NV##_2,                \
     attend512_##KIND##_##NV##_3, attend512_##KIND##_##NV##_4, attend512_##KIND##_##NV##_5,              \
     attend512_##KIND##_##NV##_6, attend512_##KIND##_##NV##_7, attend512_##KIND##_##NV##_8}

/* [by_head][NV][lanes] */
static const attend_group_fn attend512_groups[2][5][GROUP_LANES + 1] = {
    {[1] = LANE_TABLE_8(rows, 1), [2] = LANE_TABLE_8(rows, 2), [4] = LANE_TABLE(rows, 4)},
    {[1] = LANE_TABLE_8(heads, 1), [2] = LANE_TABLE_8(heads, 2), [4] = LANE_TABLE(heads, 4)},
};

/* ---- dispatch ------------------------------------------------------------------ */

#define ROWS_PER_TASK 16

/* The AVX-512 kernel for `lanes` rows (or heads), NULL when the portable one applies. */
static attend_group_fn avx512_kernel(int hd, int lanes, int by_head)
{
    if (hst_kernel_current() != HST_KERNEL_AVX512 || hd % 16 != 0 || hd / 16 > MAX_GROUP_VECTORS)
        return NULL;
    int nv = hd / 16;
    if (nv <= 4 && attend512_groups[by_head][nv][lanes])
        return attend512_groups[by_head][nv][lanes];
    return lanes == 1 ? attend512_any_1 : NULL;
}

/* Lanes per kernel call: the widest group kernel for hd, else 1. */
static int group_lanes(int hd)
{
    int lanes = GROUP_LANES;
    while (lanes > 1 && !avx512_kernel(hd, lanes, 0))
        lanes--;
    return lanes;
}

typedef struct {
    hst_attention_args args;
    int row_tasks;
    int group;          /* lanes per kernel call */
    int heads_per_task; /* a one-row call (decode): heads grouped per task */
} attention_run;

/* Causal rows later in the call attend to more keys: hand out the heaviest
 * row blocks first so the last task taken is a light one and no thread
 * idles at the end. */
static int row_block_of(const attention_run *run, int task, int *h)
{
    *h = task % run->args.n_heads;
    return run->row_tasks - 1 - task / run->args.n_heads;
}

/* A prefill task: up to ROWS_PER_TASK rows of one head, `group` rows at a time. */
static void attention_rows_task(void *ctx, int task)
{
    const attention_run *run = ctx;
    const hst_attention_args *a = &run->args;
    int h, rt = row_block_of(run, task, &h);
    int r1 = (rt + 1) * ROWS_PER_TASK < a->n_rows ? (rt + 1) * ROWS_PER_TASK : a->n_rows;
    for (int r = rt * ROWS_PER_TASK; r < r1; r += run->group) {
        int rows = r1 - r < run->group ? r1 - r : run->group;
        attend_group_fn group = avx512_kernel(a->head_dim, rows, 0);
        if (group) {
            group(a, r, h);
        } else {
            for (int i = 0; i < rows; i++)
                attend_row_portable(a, r + i, h);
        }
    }
}

/* A decode task: heads h0.. of the one row, as one group. */
static void attention_heads_task(void *ctx, int task)
{
    const attention_run *run = ctx;
    const hst_attention_args *a = &run->args;
    int h0 = task * run->heads_per_task;
    int heads = a->n_heads - h0 < run->heads_per_task ? a->n_heads - h0 : run->heads_per_task;
    attend_group_fn group = avx512_kernel(a->head_dim, heads, 1);
    if (group) {
        group(a, 0, h0);
    } else {
        for (int h = h0; h < h0 + heads; h++)
            attend_row_portable(a, 0, h);
    }
}

void hst_attention_run(hst_pool *pool, const hst_attention_args *a)
{
    attention_run run = {*a, (a->n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, group_lanes(a->head_dim), 1};
    if (a->n_rows < 1)
        return;
    if (a->n_rows > 1 || run.group == 1) {
        hst_pool_run(pool, a->n_heads * run.row_tasks, attention_rows_task, &run);
        return;
    }
    /* One row: spread the heads over the threads, up to `group` per task.
     * The split may follow the thread count: no lane's result depends on it. */
    int threads = pool ? hst_pool_threads(pool) : 1;
    run.heads_per_task = (a->n_heads + threads - 1) / threads;
    if (run.heads_per_task > run.group)
        run.heads_per_task = run.group;
    hst_pool_run(pool, (a->n_heads + run.heads_per_task - 1) / run.heads_per_task, attention_heads_task, &run);
}

void hst_attention(hst_pool *pool, const float *q, const float *kt, const float *v, float *out, int n, int t0,
                   int nh, int hd, int blocks)
{
    const int D = nh * hd;
    hst_attention_args a = {q, D, kt, blocks, v, D, out, D, n, nh, hd, 1.0f / sqrtf((float)hd), HST_ATTN_CAUSAL,
                            0, NULL, t0, NULL};
    hst_attention_run(pool, &a);
}
