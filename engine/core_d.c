/* core_d.c — Core D, v7.1 Ultimate (arch v7.1, preset hst-v7.1): spec 12.D.
 *
 * Not implemented yet: the ops below name the sections (12.D.7) and give the
 * figures (12.D.6, 12.D.8); the runtime, the session state and the forward
 * pass of both modes (parity 12.D.2, causal 12.D.3) are the next step. Until
 * forward is set,
 * hst_forward fails with "forward: hst-v7.1 is not implemented in this
 * build", and models of the arch load, initialise, count and save. The
 * lattice (12.D.2.5) is engine/lattice.h's, 3-term spine. */
#include "engine/lattice.h"

#define CORE_D_FF 2048            /* the multi-res layers' FFN width (12.D) */
#define CORE_D_BLOCK 64           /* attention block size (12.D.2.4) */
#define CORE_D_BLOCK_ROUTER 128   /* block-router width */
static const int resolutions[] = {2, 4, 8}; /* the pooled resolutions r (R = 1, 2, 4, 8) */

/* 12.D.7: embed, multires.1/2/4/8, fusion, moe, attn.l, lattice, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    int k = hst_section_name(names, 0, "embed");
    for (int r = 1; r <= 8; r *= 2)
        k = hst_section_name(names, k, "multires.%d", r);
    k = hst_section_name(names, k, "fusion");
    k = hst_section_name(names, k, "moe");
    for (int l = 0; l < c->n_layers; l++)
        k = hst_section_name(names, k, "attn.%d", l);
    k = hst_section_name(names, k, "lattice");
    return hst_section_name(names, k, "head");
}

/* ---- figures (12.D.6, 12.D.8) ------------------------------------------------------- */

/* Per-row constants of 12.D.6: one PostEnc row P = 8D² + 4DF; fusion, router and two
 * experts Mx = 52D² + 1024D + 8192; one block-router call B = 256D + 256. */
static double postenc_row(double D) { return 8 * D * D + 4 * D * CORE_D_FF; }
static double mix_row(double D) { return 52 * D * D + 1024 * D + 8192; }
static double block_router(double D) { return 2 * CORE_D_BLOCK_ROUTER * D + 2 * CORE_D_BLOCK_ROUTER; }

/* Lat(S) = 16D²·S + Σ_{processed p<S} 16D²(1 + n_p) (section 11). */
static double lattice_flops(const hst_config *c, int S)
{
    return hst_lattice_flops(HST_SPINE_3TERM, c->d_model, S, 0);
}

/* S·F_par(S) and S·F_c(S) of 12.D.6: every block counted as kept. */
static double prefill_total(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, P = postenc_row(D), L = c->n_layers;
    const int parity = mode == HST_MODE_PARITY;
    double total = S * P + (parity ? 4 * D * S * (double)S : 2 * D * S * (S + 1.0));
    for (int i = 0; i < 3; i++) {
        const int pooled = S / resolutions[i]; /* n_r = ⌊S/r⌋ */
        const double n = pooled;
        total += n * P + (parity ? 4 * D * n * n : 2 * D * n * (n + 1));
    }
    const int blocks = (S + CORE_D_BLOCK - 1) / CORE_D_BLOCK;
    const double routers = parity ? blocks : S; /* per block, or per row */
    total += S * mix_row(D) + L * (8 * D * D * S + 2 * D * S * (S + 1.0) + routers * block_router(D));
    return total + lattice_flops(c, S) + 2 * D * c->vocab_size * S;
}

static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    return prefill_total(c, mode, S) / S;
}

/* F_d(t) = P + 4D(t+1) + Σ_{r | t+1} (P + 4D(t+1)/r) + Mx + L·(8D² + 4D(t+1) + B) + 16D²
 * + [16D²(1 + n_t) if t is processed] + 2DV; parity recomputes the window: (t+1)·F_par(t+1). */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return prefill_total(c, HST_MODE_PARITY, t + 1);
    const double D = c->d_model, P = postenc_row(D), keys = t + 1;
    double f = P + 4 * D * keys + mix_row(D);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % resolutions[i] == 0)
            f += P + 4 * D * keys / resolutions[i];
    f += c->n_layers * (8 * D * D + 4 * D * keys + block_router(D));
    return f + hst_lattice_flops(HST_SPINE_3TERM, c->d_model, 1, t) + 2 * D * c->vocab_size;
}

/* 12.D.8: a causal step where no pooled row completes and t is not processed reads
 * 38D² + 2FD + VD + 549D + F + 4616 + L·(4D² + 129D + 257) floats (2,357,646 at hst-v7.1). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, F = CORE_D_FF;
    return 38 * D * D + 2 * F * D + (double)c->vocab_size * D + 549 * D + F + 4616 +
           c->n_layers * (4 * D * D + 129 * D + 257);
}

/* Everything the next-token path can read (12.D.1's params_next_token): a prefill
 * reads every multi-res layer and expert, and the spine weights, once. */
static double path_weight_floats(const hst_config *c)
{
    const double D = c->d_model, V = c->vocab_size, F = CORE_D_FF, L = c->n_layers;
    double levels = 0;
    for (unsigned m = hst_spine_reachable_levels(HST_SPINE_3TERM, c->max_seq_len); m; m &= m - 1)
        levels++;
    double postenc = 4 * D * D + 2 * F * D + F + 9 * D, lc = 44 * D * D + 64 * D + 193;
    double mr = 4 * postenc + 10 * D * D + 7 * D, moe = 64 * D * D + 552 * D + 4616, att = 4 * D * D + 129 * D + 257;
    return 2 * V * D + 5 * D + lc - (10 - levels) * (2 * D * D + 4 * D) - (2 * D * D + 2 * D) + mr + moe + L * att;
}

/* K/V per cached position: PostEnc_1 and every attention layer, (2 + 2L)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return (2.0 + 2.0 * c->n_layers) * c->d_model * sizeof(float);
}

/* The path's weights once, the K/V of the S rows and of the pooled rows. */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    int pooled = 0;
    for (int i = 0; i < 3; i++)
        pooled += S / resolutions[i]; /* ⌊S/r⌋ pooled rows */
    return sizeof(float) * path_weight_floats(c) + kv_bytes_per_position(c) * S +
           2.0 * c->d_model * sizeof(float) * pooled;
}

/* Causal (12.D.8): the step's weights, one PostEnc per completing resolution (and its
 * pooled keys), the spine weights at a processed position, the K/V of positions 0..t.
 * Parity: the window recomputed, every next-token weight read once. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    if (mode == HST_MODE_PARITY)
        return bytes_prefill(c, mode, t + 1);
    const double D = c->d_model, F = CORE_D_FF;
    double floats = step_weight_floats(c), kv = kv_bytes_per_position(c) * (t + 1);
    for (int i = 0; i < 3; i++)
        if ((t + 1) % resolutions[i] == 0) {
            floats += 4 * D * D + 2 * F * D + F + 9 * D;
            const int pooled = (t + 1) / resolutions[i]; /* the pooled rows so far */
            kv += 2 * D * sizeof(float) * pooled;
        }
    if (hst_lattice_spine_flops(HST_SPINE_3TERM, c->d_model, 1, t) > 0)
        floats += 16 * D * D + 19 * D; /* path_weight_net's two values are load-time constants */
    return sizeof(float) * floats + kv;
}

const hst_core_ops hst_core_d = {
    .name = "D",
    .section_names = section_names,
    .flops_prefill_per_token = flops_prefill_per_token,
    .flops_decode = flops_decode,
    .bytes_decode = bytes_decode,
    .bytes_prefill = bytes_prefill,
};
