/* lattice.c — the spines (spec 2) and the lattice core (spec 4.4) shared by
 * Cores A, B, D and E. */
#include "engine/lattice.h"

#include "engine/rowops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the spines (spec 2) --------------------------------------------------- */

int hst_spine_of(hst_spine_kind kind, int max_seq_len, int64_t out[HST_SPINE_MAX])
{
    int n = 0;
    out[n++] = 0;
    out[n++] = 2;
    out[n++] = 4;
    for (;;) {
        /* 3-term: s_k = 2(s_{k-1} + s_{k-2} + s_{k-3}); 2-term: s_k = 2 s_{k-1} + s_{k-2}. */
        int64_t next = kind == HST_SPINE_3TERM ? 2 * (out[n - 1] + out[n - 2] + out[n - 3])
                                                : 2 * out[n - 1] + out[n - 2];
        if (next >= max_seq_len || n >= HST_SPINE_MAX)
            break;
        out[n++] = next;
    }
    return n;
}

int hst_spine(int max_seq_len, int64_t out[16])
{
    return hst_spine_of(HST_SPINE_3TERM, max_seq_len, out);
}

typedef struct {
    int pos;
    hst_spine_ancestors levels;
} spine_row;

/* The normative tables of spec 2, in the order the GRU reads them (another
 * order changes the logits). They do not depend on Lmax. */
static const spine_row spine3_table[] = {
    {12, {1, {3}, {{0, 2, 4}}}},
    {36, {2, {3, 1}, {{2, 12, 4}, {0}}}},
    {104, {2, {3, 2}, {{4, 36, 12}, {0, 2}}}},
    {304, {2, {3, 3}, {{104, 36, 12}, {0, 2, 4}}}},
    {888, {3, {3, 3, 1}, {{304, 104, 36}, {2, 12, 4}, {0}}}},
    {2592, {3, {3, 3, 2}, {{888, 304, 104}, {4, 36, 12}, {0, 2}}}},
    {7568, {3, {3, 3, 3}, {{2592, 304, 888}, {104, 36, 12}, {0, 2, 4}}}},
};

static const spine_row spine2_table[] = {
    {4, {1, {2}, {{0, 2}}}},
    {10, {2, {2, 1}, {{2, 4}, {0}}}},
    {24, {2, {2, 2}, {{10, 4}, {0, 2}}}},
    {58, {3, {2, 2, 1}, {{24, 10}, {2, 4}, {0}}}},
    {140, {3, {2, 2, 2}, {{24, 58}, {10, 4}, {0, 2}}}},
    {338, {4, {2, 2, 2, 1}, {{58, 140}, {24, 10}, {2, 4}, {0}}}},
    {816, {4, {2, 2, 2, 2}, {{338, 140}, {24, 58}, {10, 4}, {0, 2}}}},
    {1970, {5, {2, 2, 2, 2, 1}, {{816, 338}, {58, 140}, {24, 10}, {2, 4}, {0}}}},
    {4756, {5, {2, 2, 2, 2, 2}, {{816, 1970}, {338, 140}, {24, 58}, {10, 4}, {0, 2}}}},
};

static const spine_row *spine_table(hst_spine_kind kind, int *n)
{
    if (kind == HST_SPINE_2TERM) {
        *n = (int)(sizeof spine2_table / sizeof spine2_table[0]);
        return spine2_table;
    }
    *n = (int)(sizeof spine3_table / sizeof spine3_table[0]);
    return spine3_table;
}

int hst_spine_ancestors_of(hst_spine_kind kind, int p, hst_spine_ancestors *out)
{
    int n;
    const spine_row *table = spine_table(kind, &n);
    for (int i = 0; i < n; i++)
        if (table[i].pos == p) {
            *out = table[i].levels;
            return out->m;
        }
    memset(out, 0, sizeof *out);
    return 0;
}

int hst_spine_levels(int p, int levels[3][3], int counts[3])
{
    hst_spine_ancestors a;
    int m = hst_spine_ancestors_of(HST_SPINE_3TERM, p, &a);
    for (int l = 0; l < 3; l++) {
        counts[l] = a.count[l];
        memcpy(levels[l], a.pos[l], sizeof levels[l]);
    }
    return m;
}

unsigned hst_spine_reachable_levels(hst_spine_kind kind, int max_seq_len)
{
    int n;
    const spine_row *table = spine_table(kind, &n);
    unsigned mask = 0;
    for (int i = 0; i < n; i++)
        if (table[i].pos < max_seq_len)
            mask |= 1u << table[i].levels.m;
    return mask;
}

static int ancestor_count(const hst_spine_ancestors *a)
{
    int n = 0;
    for (int l = 0; l < a->m; l++)
        n += a->count[l];
    return n;
}

double hst_lattice_spine_flops(hst_spine_kind kind, int d_model, int n, int t0)
{
    const double D2 = (double)d_model * d_model;
    int rows;
    const spine_row *table = spine_table(kind, &rows);
    double flops = 0;
    for (int i = 0; i < rows; i++)
        if (table[i].pos >= t0 && table[i].pos < t0 + n)
            flops += 16 * D2 * (1 + ancestor_count(&table[i].levels));
    return flops;
}

double hst_lattice_flops(hst_spine_kind kind, int d_model, int n, int t0)
{
    return 16.0 * d_model * d_model * n + hst_lattice_spine_flops(kind, d_model, n, t0);
}

/* ---- weights ------------------------------------------------------------------ */

typedef struct {
    hst_packed w1, w3;
    const float *b1, *ln_g, *ln_b, *b3;
} level_weights;

struct hst_lattice {
    hst_spine_kind kind;
    int D;
    int n_spine;
    int64_t spine[HST_SPINE_MAX];
    hst_spine_ancestors ancestors[HST_SPINE_MAX]; /* of each spine slot */
    level_weights levels[HST_LATTICE_LEVELS];
    hst_packed att_v, att_o;
    const float *att_bv, *att_bo;
    hst_packed fusion;
    const float *fusion_b, *fusion_ln_g, *fusion_ln_b;
    float path_weight[2]; /* w(0), w(1) of spec 4.4, computed once at load */
    hst_packed msg;
    const float *msg_b, *msg_ln_g, *msg_ln_b;
    hst_packed gru_ih, gru_hh;
    const float *gru_bih, *gru_bhh;
    hst_packed upd;
    const float *upd_b;
    hst_packed mf_a, mf_b;
    const float *mf_ba, *mf_ln_g, *mf_ln_b, *mf_bb;
};

static void resolve_multi_level(hst_resolver *r, hst_lattice *lat, const char *prefix)
{
    const int D = lat->D;
    for (int m = 0; m < HST_LATTICE_LEVELS; m++) {
        level_weights *l = &lat->levels[m];
        hst_resolve_pack(r, &l->w1, hst_resolve(r, "%smulti_level.level_transforms.%d.0.weight", prefix, m), D, D);
        hst_resolve_pack(r, &l->w3, hst_resolve(r, "%smulti_level.level_transforms.%d.3.weight", prefix, m), D, D);
        l->b1 = hst_resolve(r, "%smulti_level.level_transforms.%d.0.bias", prefix, m);
        l->ln_g = hst_resolve(r, "%smulti_level.level_transforms.%d.1.weight", prefix, m);
        l->ln_b = hst_resolve(r, "%smulti_level.level_transforms.%d.1.bias", prefix, m);
        l->b3 = hst_resolve(r, "%smulti_level.level_transforms.%d.3.bias", prefix, m);
    }
    /* One-key attention: only the value rows [2D, 3D) of in_proj are read. */
    const float *in_w = hst_resolve(r, "%smulti_level.level_attention.in_proj_weight", prefix);
    hst_resolve_pack(r, &lat->att_v, in_w + (r->failed ? 0 : (size_t)2 * D * D), D, D);
    const float *in_b = hst_resolve(r, "%smulti_level.level_attention.in_proj_bias", prefix);
    lat->att_bv = in_b + (r->failed ? 0 : 2 * D);
    hst_resolve_pack(r, &lat->att_o, hst_resolve(r, "%smulti_level.level_attention.out_proj.weight", prefix), D, D);
    lat->att_bo = hst_resolve(r, "%smulti_level.level_attention.out_proj.bias", prefix);
    hst_resolve_pack(r, &lat->fusion, hst_resolve(r, "%smulti_level.fusion.0.weight", prefix), D, 2 * D);
    lat->fusion_b = hst_resolve(r, "%smulti_level.fusion.0.bias", prefix);
    lat->fusion_ln_g = hst_resolve(r, "%smulti_level.fusion.1.weight", prefix);
    lat->fusion_ln_b = hst_resolve(r, "%smulti_level.fusion.1.bias", prefix);
}

/* w(c) = softplus(u2·ReLU(u1·c + β1) + β2) takes two values only (spec 4.4). */
static void path_weights(hst_resolver *r, hst_lattice *lat, const char *prefix)
{
    const float *u1 = hst_resolve(r, "%spath_weighted.path_weight_net.0.weight", prefix);
    const float *b1 = hst_resolve(r, "%spath_weighted.path_weight_net.0.bias", prefix);
    const float *u2 = hst_resolve(r, "%spath_weighted.path_weight_net.2.weight", prefix);
    const float *b2 = hst_resolve(r, "%spath_weighted.path_weight_net.2.bias", prefix);
    for (int c = 0; c < 2 && !r->failed; c++) {
        float acc = 0;
        for (int i = 0; i < HST_LATTICE_PATH_NET_WIDTH; i++) {
            float h = u1[i] * (float)c + b1[i];
            acc += u2[i] * (h > 0 ? h : 0);
        }
        lat->path_weight[c] = hst_softplus(acc + b2[0]);
    }
}

static void resolve_path_weighted(hst_resolver *r, hst_lattice *lat, const char *prefix)
{
    const int D = lat->D;
    hst_resolve_pack(r, &lat->msg, hst_resolve(r, "%spath_weighted.message_fn.0.weight", prefix), D, 2 * D);
    lat->msg_b = hst_resolve(r, "%spath_weighted.message_fn.0.bias", prefix);
    lat->msg_ln_g = hst_resolve(r, "%spath_weighted.message_fn.1.weight", prefix);
    lat->msg_ln_b = hst_resolve(r, "%spath_weighted.message_fn.1.bias", prefix);
    hst_resolve_pack(r, &lat->gru_ih, hst_resolve(r, "%spath_weighted.aggregate_fn.weight_ih_l0", prefix), 3 * D, D);
    hst_resolve_pack(r, &lat->gru_hh, hst_resolve(r, "%spath_weighted.aggregate_fn.weight_hh_l0", prefix), 3 * D, D);
    lat->gru_bih = hst_resolve(r, "%spath_weighted.aggregate_fn.bias_ih_l0", prefix);
    lat->gru_bhh = hst_resolve(r, "%spath_weighted.aggregate_fn.bias_hh_l0", prefix);
    hst_resolve_pack(r, &lat->upd, hst_resolve(r, "%spath_weighted.update_gate.0.weight", prefix), D, 2 * D);
    lat->upd_b = hst_resolve(r, "%spath_weighted.update_gate.0.bias", prefix);
    path_weights(r, lat, prefix);
}

static void resolve_meta_fusion(hst_resolver *r, hst_lattice *lat, const char *prefix)
{
    const int D = lat->D;
    hst_resolve_pack_hot(r, &lat->mf_a, hst_resolve(r, "%smeta_fusion.0.weight", prefix), 2 * D, 3 * D);
    lat->mf_ba = hst_resolve(r, "%smeta_fusion.0.bias", prefix);
    lat->mf_ln_g = hst_resolve(r, "%smeta_fusion.1.weight", prefix);
    lat->mf_ln_b = hst_resolve(r, "%smeta_fusion.1.bias", prefix);
    hst_resolve_pack_hot(r, &lat->mf_b, hst_resolve(r, "%smeta_fusion.3.weight", prefix), D, 2 * D);
    lat->mf_bb = hst_resolve(r, "%smeta_fusion.3.bias", prefix);
}

/* Every packed matrix of the lattice, for freeing and counting. */
static int packed_matrices(const hst_lattice *lat, const hst_packed *out[2 * HST_LATTICE_LEVELS + 10])
{
    int n = 0;
    for (int m = 0; m < HST_LATTICE_LEVELS; m++) {
        out[n++] = &lat->levels[m].w1;
        out[n++] = &lat->levels[m].w3;
    }
    const hst_packed *rest[] = {&lat->att_v, &lat->att_o, &lat->fusion, &lat->msg, &lat->gru_ih,
                                &lat->gru_hh, &lat->upd, &lat->mf_a, &lat->mf_b};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        out[n++] = rest[i];
    return n;
}

void hst_lattice_free(hst_lattice *lat)
{
    if (!lat)
        return;
    const hst_packed *all[2 * HST_LATTICE_LEVELS + 10];
    int n = packed_matrices(lat, all);
    for (int i = 0; i < n; i++)
        hst_packed_free((hst_packed *)all[i]);
    free(lat);
}

uint64_t hst_lattice_packed_bytes(const hst_lattice *lat)
{
    const hst_packed *all[2 * HST_LATTICE_LEVELS + 10];
    int n = packed_matrices(lat, all);
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += hst_packed_bytes(all[i]);
    return bytes;
}

hst_lattice *hst_lattice_build(hst_resolver *r, const char *prefix, hst_spine_kind kind)
{
    hst_lattice *lat = calloc(1, sizeof *lat);
    if (!lat) {
        if (!r->failed)
            hst_set_error(r->err, "%s: out of memory", r->m->source);
        r->failed = 1;
        return NULL;
    }
    lat->kind = kind;
    lat->D = r->m->cfg.d_model;
    lat->n_spine = hst_spine_of(kind, r->m->cfg.max_seq_len, lat->spine);
    for (int i = 0; i < lat->n_spine; i++)
        hst_spine_ancestors_of(kind, (int)lat->spine[i], &lat->ancestors[i]);
    resolve_multi_level(r, lat, prefix);
    resolve_path_weighted(r, lat, prefix);
    resolve_meta_fusion(r, lat, prefix);
    if (r->failed) {
        hst_lattice_free(lat);
        return NULL;
    }
    return lat;
}

/* ---- a session's state ------------------------------------------------------- */

/* The vectors one spine update works in (spec 4.4's names in brackets). */
typedef struct {
    float *mean;     /* [D]  f: mean of the deepest level's kept rows */
    float *level;    /* [D]  the level transform's normed activations */
    float *value;    /* [D]  u: the level transform's output */
    float *pair;     /* [2D] a 2D-wide input: [att; x_p], [R[a_j]; x_p], [g; x_p] */
    float *linear;   /* [D]  a D-wide matmul's output before its norm or gate */
    float *message;  /* [D]  m_j */
    float *gate_in;  /* [3D] GRU input gates W_ih·m + b_ih */
    float *gate_hid; /* [3D] GRU hidden gates W_hh·h + b_hh */
} spine_scratch;

struct hst_lattice_state {
    int D, n_spine, max_rows;
    int64_t spine[HST_SPINE_MAX];
    float *kept;     /* [n_spine][D]: R[p] of spec 4.4, one row per spine position */
    float *cat;      /* [max_rows][3D]: [x; hm; hp] for the meta fusion */
    float *fused;    /* [max_rows][2D]: the meta fusion's hidden rows */
    float *scratch_block;
    spine_scratch scratch[HST_SPINE_MAX]; /* one per spine position: a call's branches run in parallel */
};

#define SPINE_SCRATCH_FLOATS_PER_D 13 /* the widths of spine_scratch's members, in D */

static void carve_scratch(float *block, int D, spine_scratch *s)
{
    float *p = block;
    s->mean = p, p += D;
    s->level = p, p += D;
    s->value = p, p += D;
    s->pair = p, p += 2 * D;
    s->linear = p, p += D;
    s->message = p, p += D;
    s->gate_in = p, p += 3 * D;
    s->gate_hid = p;
}

void hst_lattice_state_free(hst_lattice_state *st)
{
    if (!st)
        return;
    free(st->kept);
    free(st->cat);
    free(st->fused);
    free(st->scratch_block);
    free(st);
}

hst_lattice_state *hst_lattice_state_create(hst_spine_kind kind, int d_model, int max_seq_len, int max_rows)
{
    hst_lattice_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    const size_t D = (size_t)d_model, rows = (size_t)max_rows;
    int failed = 0;
    st->D = d_model;
    st->max_rows = max_rows;
    st->n_spine = hst_spine_of(kind, max_seq_len, st->spine);
    st->kept = hst_alloc_floats((size_t)st->n_spine * D, &failed);
    st->cat = hst_alloc_floats(rows * 3 * D, &failed);
    st->fused = hst_alloc_floats(rows * 2 * D, &failed);
    st->scratch_block = hst_alloc_floats((size_t)st->n_spine * SPINE_SCRATCH_FLOATS_PER_D * D, &failed);
    if (failed) {
        hst_lattice_state_free(st);
        return NULL;
    }
    for (int i = 0; i < st->n_spine; i++)
        carve_scratch(st->scratch_block + (size_t)i * SPINE_SCRATCH_FLOATS_PER_D * D, d_model, &st->scratch[i]);
    return st;
}

void hst_lattice_state_reset(hst_lattice_state *st)
{
    memset(st->kept, 0, (size_t)st->n_spine * st->D * sizeof *st->kept);
}

uint64_t hst_lattice_state_bytes(const hst_lattice_state *st)
{
    return ((uint64_t)st->n_spine * (1 + SPINE_SCRATCH_FLOATS_PER_D) + 5ull * st->max_rows) * st->D * sizeof(float);
}

/* ---- the computation (spec 4.4) ----------------------------------------------- */

static int spine_slot(const hst_lattice_state *st, int p)
{
    for (int i = 0; i < st->n_spine; i++)
        if (st->spine[i] == p)
            return i;
    return -1;
}

static const float *kept_row(const hst_lattice_state *st, int p)
{
    return st->kept + (size_t)spine_slot(st, p) * st->D;
}

static void linear1(const float *x, const hst_packed *W, const float *b, float *y)
{
    hst_matmul_serial(x, 1, W->K, W, b, y, W->N, HST_EPI_NONE);
}

/* Multi-level branch: hm_p = LN_F(Wf·[att; x_p] + bf) from the deepest level A_m. */
static void multi_level(const hst_lattice *lat, const hst_lattice_state *st, const spine_scratch *sc, const float *xp,
                        const hst_spine_ancestors *a, float *hm)
{
    const int D = lat->D, m = a->m;
    const level_weights *lt = &lat->levels[m];
    memset(sc->mean, 0, (size_t)D * sizeof *sc->mean);
    for (int i = 0; i < a->count[m - 1]; i++) {
        const float *r = kept_row(st, a->pos[m - 1][i]);
        for (int d = 0; d < D; d++)
            sc->mean[d] += r[d];
    }
    for (int d = 0; d < D; d++)
        sc->mean[d] /= (float)a->count[m - 1];
    linear1(sc->mean, &lt->w1, lt->b1, sc->linear);
    hst_layernorm(sc->linear, lt->ln_g, lt->ln_b, sc->level, D);
    hst_gelu_inplace(sc->level, D);
    linear1(sc->level, &lt->w3, lt->b3, sc->value);
    linear1(sc->value, &lat->att_v, lat->att_bv, sc->linear); /* Wv·u + bv */
    linear1(sc->linear, &lat->att_o, lat->att_bo, sc->pair);  /* att */
    memcpy(sc->pair + D, xp, (size_t)D * sizeof *xp);
    linear1(sc->pair, &lat->fusion, lat->fusion_b, sc->linear);
    hst_layernorm(sc->linear, lat->fusion_ln_g, lat->fusion_ln_b, hm, D);
}

/* PyTorch GRU step with gates r, z, n in row blocks (spec 1). */
static void gru_step(const hst_lattice *lat, const spine_scratch *sc, const float *in, float *h)
{
    const int D = lat->D;
    float *gi = sc->gate_in, *gh = sc->gate_hid;
    linear1(in, &lat->gru_ih, lat->gru_bih, gi);
    linear1(h, &lat->gru_hh, lat->gru_bhh, gh);
    for (int d = 0; d < D; d++) {
        float r = hst_sigmoid(gi[d] + gh[d]);
        float z = hst_sigmoid(gi[D + d] + gh[D + d]);
        float nn = tanhf(gi[2 * D + d] + r * gh[2 * D + d]);
        h[d] = (1.0f - z) * nn + z * h[d];
    }
}

/* Path-weighted branch: a GRU over weighted messages from every ancestor. */
static void path_weighted(const hst_lattice *lat, const hst_lattice_state *st, const spine_scratch *sc, const float *xp,
                          const hst_spine_ancestors *a, float *hp)
{
    const int D = lat->D, m = a->m;
    float *g = hp; /* the GRU state lives in hp until the update gate */
    memset(g, 0, (size_t)D * sizeof *g);
    for (int l = 0; l < m; l++) {
        float weight = lat->path_weight[l == m - 1]; /* c_j = 1 on the deepest level */
        for (int i = 0; i < a->count[l]; i++) {
            memcpy(sc->pair, kept_row(st, a->pos[l][i]), (size_t)D * sizeof *sc->pair);
            memcpy(sc->pair + D, xp, (size_t)D * sizeof *xp);
            linear1(sc->pair, &lat->msg, lat->msg_b, sc->linear);
            hst_layernorm(sc->linear, lat->msg_ln_g, lat->msg_ln_b, sc->message, D);
            hst_gelu_inplace(sc->message, D);
            for (int d = 0; d < D; d++)
                sc->message[d] *= weight;
            gru_step(lat, sc, sc->message, g);
        }
    }
    memcpy(sc->pair, g, (size_t)D * sizeof *sc->pair);
    memcpy(sc->pair + D, xp, (size_t)D * sizeof *xp);
    linear1(sc->pair, &lat->upd, lat->upd_b, sc->linear);
    for (int d = 0; d < D; d++) {
        float z = hst_sigmoid(sc->linear[d]);
        hp[d] = z * g[d] + (1.0f - z) * xp[d];
    }
}

/* The spine rows of a call: each one's two branches read only kept rows and
 * its own input row, so the rows are tasks of one job (a tiny matrix-vector
 * chain each, which on one thread made the lattice a tenth of a 128-token
 * prefill), each with its own scratch. */
typedef struct {
    const hst_lattice *lat;
    const hst_lattice_state *st;
    const float *x;
    int rows[HST_SPINE_MAX], n_rows, t0;
} branch_job;

static void branch_task(void *ctx, int task)
{
    const branch_job *b = ctx;
    const int D = b->lat->D, i = b->rows[task], slot = spine_slot(b->st, b->t0 + i);
    const float *xp = b->x + (size_t)i * D;
    float *hm = b->st->cat + (size_t)i * 3 * D + D, *hp = hm + D;
    const hst_spine_ancestors *a = &b->lat->ancestors[slot];
    multi_level(b->lat, b->st, &b->st->scratch[slot], xp, a, hm);
    path_weighted(b->lat, b->st, &b->st->scratch[slot], xp, a, hp);
}

/* Whether row i's [hm; hp] come from the spine branches (else [x; x]). */
static int spine_row_has_branches(const hst_lattice *lat, const hst_lattice_state *st, int pos)
{
    int slot = spine_slot(st, pos);
    return slot >= 0 && lat->ancestors[slot].m > 0;
}

/* ---- the meta fusion over the call's rows ------------------------------------------
 * A call of many rows (a prefill) runs the fusion as one pool job: each task
 * fills its rows' [x; hm; hp] (the spine rows' branches are computed before)
 * and takes them through Linear 3D->2D, LN + GELU and Linear 2D->D, its
 * 2D-wide intermediates staying in its core's cache. Every element is
 * computed by the same kernels as on the per-product path (kept for a few
 * rows: a decode step splits each product's panels between the threads), so
 * the results are bit-identical. */
#define FUSION_ROWS_PER_TASK 32
#define FUSION_MIN_ROWS 16

typedef struct {
    const hst_lattice *lat;
    const hst_lattice_state *st;
    float *x;
    int n, t0;
} fusion_job;

static void fill_cat_row(const hst_lattice *lat, const hst_lattice_state *st, const float *xi, float *c, int pos)
{
    const size_t bytes = (size_t)lat->D * sizeof *xi;
    memcpy(c, xi, bytes);
    if (!spine_row_has_branches(lat, st, pos)) {
        memcpy(c + lat->D, xi, bytes);
        memcpy(c + 2 * lat->D, xi, bytes);
    }
}

static void fusion_rows_task(void *ctx, int task)
{
    const fusion_job *j = ctx;
    const hst_lattice *lat = j->lat;
    const hst_lattice_state *st = j->st;
    const int D = lat->D, r0 = task * FUSION_ROWS_PER_TASK;
    const int m = j->n - r0 < FUSION_ROWS_PER_TASK ? j->n - r0 : FUSION_ROWS_PER_TASK;
    float *cat = st->cat + (size_t)r0 * 3 * D, *fused = st->fused + (size_t)r0 * 2 * D, *x = j->x + (size_t)r0 * D;
    for (int i = 0; i < m; i++)
        fill_cat_row(lat, st, x + (size_t)i * D, cat + (size_t)i * 3 * D, j->t0 + r0 + i);
    hst_matmul_rows(cat, m, 3 * D, &lat->mf_a, lat->mf_ba, fused, 2 * D, HST_EPI_NONE);
    for (int i = 0; i < m; i++) {
        float *row = fused + (size_t)i * 2 * D;
        hst_layernorm(row, lat->mf_ln_g, lat->mf_ln_b, row, 2 * D);
        hst_gelu_inplace(row, 2 * D);
    }
    hst_matmul_rows(fused, m, 2 * D, &lat->mf_b, lat->mf_bb, x, D, HST_EPI_NONE);
}

static void fusion_products(const hst_lattice *lat, hst_lattice_state *st, hst_pool *pool, float *x, int n, int t0)
{
    const int D = lat->D;
    for (int i = 0; i < n; i++)
        fill_cat_row(lat, st, x + (size_t)i * D, st->cat + (size_t)i * 3 * D, t0 + i);
    hst_matmul(pool, st->cat, n, 3 * D, &lat->mf_a, lat->mf_ba, st->fused, 2 * D, HST_EPI_NONE);
    hst_layernorm_rows(pool, st->fused, 2 * D, st->fused, 2 * D, lat->mf_ln_g, lat->mf_ln_b, n, 2 * D, 1);
    hst_matmul(pool, st->fused, n, 2 * D, &lat->mf_b, lat->mf_bb, x, D, HST_EPI_NONE);
}

double hst_lattice_run(const hst_lattice *lat, hst_lattice_state *st, hst_pool *pool, float *x, int n, int t0)
{
    const int D = lat->D;
    /* The spine rows of the call are kept as they enter (spec 5), before any
     * branch reads them. */
    for (int i = 0; i < n; i++) {
        int slot = spine_slot(st, t0 + i);
        if (slot >= 0)
            memcpy(st->kept + (size_t)slot * D, x + (size_t)i * D, (size_t)D * sizeof *x);
    }
    branch_job b = {lat, st, x, {0}, 0, t0};
    for (int i = 0; i < n; i++)
        if (spine_row_has_branches(lat, st, t0 + i))
            b.rows[b.n_rows++] = i;
    hst_pool_run(pool, b.n_rows, branch_task, &b);
    if (n >= FUSION_MIN_ROWS) {
        hst_matmul_count_read(&lat->mf_a);
        hst_matmul_count_read(&lat->mf_b);
        fusion_job j = {lat, st, x, n, t0};
        hst_pool_run(pool, (n + FUSION_ROWS_PER_TASK - 1) / FUSION_ROWS_PER_TASK, fusion_rows_task, &j);
    } else {
        fusion_products(lat, st, pool, x, n, t0);
    }
    return hst_lattice_flops(lat->kind, D, n, t0);
}
