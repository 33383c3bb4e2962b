/* core_e.c — Core E, v8 Crystalline (arch v8, preset hst-v8): spec 12.E.
 *
 * Not implemented yet: the ops below name the sections (12.E.6) and give the
 * figures (12.E.5, 12.E.7); the runtime, the session state and the forward
 * pass of both modes (parity 12.E.2, causal 12.E.3) are the next step. Until
 * forward is set,
 * hst_forward fails with "forward: hst-v8 is not implemented in this build",
 * and models of the arch load, initialise, count and save. The lattice
 * (12.E.2.6) is engine/lattice.h's, 2-term spine. */
#include "engine/lattice.h"

static const int pool_factors[] = {2, 4, 8}; /* the pooled resolutions f (12.E.2.3) */

/* 12.E.6: embed, hebbian, multires.1/2/4/8, fusion, moe, attn.l, lattice, feedback, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    int k = hst_section_name(names, 0, "embed");
    k = hst_section_name(names, k, "hebbian");
    for (int f = 1; f <= 8; f *= 2)
        k = hst_section_name(names, k, "multires.%d", f);
    k = hst_section_name(names, k, "fusion");
    k = hst_section_name(names, k, "moe");
    for (int l = 0; l < c->n_layers; l++)
        k = hst_section_name(names, k, "attn.%d", l);
    k = hst_section_name(names, k, "lattice");
    k = hst_section_name(names, k, "feedback");
    return hst_section_name(names, k, "head");
}

/* ---- figures (12.E.5, 12.E.7) ------------------------------------------------------- */

/* C = (114 + 24L)·D² + 22D + 2DV: every row's Hebbian, multi-res (P on the row, fusion),
 * MoE, layers, meta fusion, feedback and head. */
static double row_constant(const hst_config *c)
{
    const double D = c->d_model;
    return (114.0 + 24.0 * c->n_layers) * D * D + 22 * D + 2 * D * c->vocab_size;
}

/* S·(F(S) − C): the attention terms, the pooled rows and the spine updates of a prefill. */
static double prefill_extra(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, L = c->n_layers;
    double f;
    if (mode == HST_MODE_PARITY) /* full Hebbian and P attention, causal self-, full cross-attention */
        f = S * (4 * D * S + L * (2 * D * (S + 1) + 4 * D * S));
    else
        f = S * (2 * D * (S + 1) + 4 * L * D * (S + 1));
    for (int i = 0; i < 3; i++) {
        const int pooled = S / pool_factors[i]; /* n_f = ⌊S/f⌋; 0 when f > S */
        const double n = pooled;
        f += 24 * D * D * n + (mode == HST_MODE_PARITY ? 4 * D * n * n : 2 * D * n * (n + 1));
    }
    return f + hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, S, 0);
}

/* F_c(S) and F_p(S) of 12.E.5. */
static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    return row_constant(c) + prefill_extra(c, mode, S) / S;
}

/* F_d(t) = C + 4D(t+1) + 8LD(t+1) + Σ_{f | t+1} (24D² + 4D(t+1)/f) + [16D²(1 + n_t) if t
 * is processed]; parity recomputes the window: (t+1)·F_p(t+1). */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return (t + 1) * row_constant(c) + prefill_extra(c, HST_MODE_PARITY, t + 1);
    const double D = c->d_model, keys = t + 1;
    double f = row_constant(c) + 4 * D * keys + 8.0 * c->n_layers * D * keys;
    for (int i = 0; i < 3; i++)
        if ((t + 1) % pool_factors[i] == 0)
            f += 24 * D * D + 4 * D * keys / pool_factors[i];
    return f + hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, 1, t);
}

/* 12.E.7: a step that is not a processed spine position reads (49 + 12L)·D² + (44 + 13L)·D
 * + 9 + V·D floats (2,638,089 at hst-v8: two of the eight experts, norm3 not read). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, L = c->n_layers;
    return (49 + 12 * L) * D * D + (44 + 13 * L) * D + 9 + (double)c->vocab_size * D;
}

/* Per cached position: self- and cross-attention K/V of every layer and P's K/V, (4L + 2)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return (4.0 * c->n_layers + 2.0) * c->d_model * sizeof(float);
}

/* A prefill reads the step's weights, the six other experts and the spine weights
 * once, writes the K/V of its rows and pooled rows, and M (D² floats). */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    const double D = c->d_model;
    double floats = step_weight_floats(c) + 6 * 8 * D * D + 16 * D * D + 19 * D + D * D;
    int pooled = 0;
    for (int i = 0; i < 3; i++)
        pooled += S / pool_factors[i]; /* ⌊S/f⌋ pooled rows */
    return sizeof(float) * floats + kv_bytes_per_position(c) * S + 2 * D * sizeof(float) * pooled;
}

/* Causal (12.E.7): the step's weights, M (D² floats, 64 KiB at D 128), the K/V of positions 0..t,
 * the pooled keys of a completing block, the spine weights at a processed position.
 * Parity: the window recomputed. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return bytes_prefill(c, mode, t + 1);
    const double D = c->d_model;
    double floats = step_weight_floats(c) + D * D, kv = kv_bytes_per_position(c) * (t + 1);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % pool_factors[i] == 0) {
            const int pooled = (t + 1) / pool_factors[i]; /* the pooled rows so far */
            kv += 2 * D * sizeof(float) * pooled;
        }
    if (hst_lattice_spine_flops(HST_SPINE_2TERM, c->d_model, 1, t) > 0)
        floats += 16 * D * D + 19 * D;
    return sizeof(float) * floats + kv;
}

const hst_core_ops hst_core_e = {
    .name = "E",
    .section_names = section_names,
    .flops_prefill_per_token = flops_prefill_per_token,
    .flops_decode = flops_decode,
    .bytes_decode = bytes_decode,
    .bytes_prefill = bytes_prefill,
};
