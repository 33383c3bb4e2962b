/* core_c.c — Core C, v7.0 Agile (arch v7.0; presets hst-v7.0 and its alias
 * hst-chaos): spec 12.C.
 *
 * Not implemented yet: the ops below name the sections (12.C.7) and give the
 * figures (12.C.6, 12.C.8); the runtime, the session state and the forward
 * pass of both modes (parity 12.C.2, causal 12.C.3) are the next step. Until
 * forward is set,
 * hst_forward fails with "forward: hst-v7.0 is not implemented in this
 * build", and models of the arch load, initialise, count and save. The
 * bottom and top stacks are engine/preblock.h's blocks. */
#include "engine/preblock.h"

#define CORE_C_PROCESSORS 10 /* lattice_core.layer_processors.0..9 (12.C.1) */
#define CORE_C_FF 2048       /* the processors' FFN width, whatever D (12.C.1) */
#define CORE_C_ROUTER 256    /* task_router's hidden width (12.C.1) */

/* 12.C.7: embed, bottom.i, router, proc.l, top.j, head. */
static int section_names(const hst_config *c, char (*names)[HST_SECTION_NAME_BYTES])
{
    const int Lb = c->n_layers / 2, Lt = c->n_layers - Lb;
    int k = hst_section_name(names, 0, "embed");
    for (int i = 0; i < Lb; i++)
        k = hst_section_name(names, k, "bottom.%d", i);
    k = hst_section_name(names, k, "router");
    for (int l = 0; l < CORE_C_PROCESSORS; l++)
        k = hst_section_name(names, k, "proc.%d", l);
    for (int j = 0; j < Lt; j++)
        k = hst_section_name(names, k, "top.%d", j);
    return hst_section_name(names, k, "head");
}

/* ---- figures (12.C.6, 12.C.8): every gate on --------------------------------------- */

/* The PreBlocks' per-token FLOPs of a prefill of S rows: 24D² + 2D(S + 1) each. */
static double blocks_per_token(const hst_config *c, int S)
{
    const double D = c->d_model;
    return c->n_layers * (24 * D * D + 2 * D * (S + 1));
}

static double router_flops(const hst_config *c)
{
    return 2.0 * (CORE_C_ROUTER * (double)c->d_model + 10.0 * CORE_C_ROUTER);
}

/* A processor row without its attention: 8D² + 4FD (in_proj's q, k, v, out_proj, FFN). */
static double processor_row(const hst_config *c)
{
    const double D = c->d_model;
    return 8 * D * D + 4.0 * CORE_C_FF * D;
}

/* F_p(S) = L·(24D² + 2D(S+1)) + 10·(8D² + 4FD + 4D·S) + 2(Rh·D + 10Rh)/S + 2DV (parity: full
 * attention in the processors, the router once per call); F_c(S) likewise with causal
 * processor attention 2D(S+1) and the router on every row. */
static double flops_prefill_per_token(const hst_config *c, hst_mode mode, int S)
{
    const double D = c->d_model, head = 2 * D * c->vocab_size;
    if (mode == HST_MODE_PARITY)
        return blocks_per_token(c, S) + CORE_C_PROCESSORS * (processor_row(c) + 4 * D * S) + router_flops(c) / S +
               head;
    return blocks_per_token(c, S) + CORE_C_PROCESSORS * (processor_row(c) + 2 * D * (S + 1)) + router_flops(c) + head;
}

/* F_cd(t) = L·(24D² + 4D(t+1)) + 10·(8D² + 4FD + 4D(t+1)) + 2(Rh·D + 10Rh) + 2DV;
 * parity: F_pd(t) = (t+1)·(F_p(t+1) − 2DV) + 2DV, the window recomputed, logits of row t. */
static double flops_decode(const hst_config *c, hst_mode mode, int t)
{
    const double D = c->d_model, head = 2 * D * c->vocab_size;
    if (mode == HST_MODE_PARITY)
        return (t + 1) * (flops_prefill_per_token(c, HST_MODE_PARITY, t + 1) - head) + head;
    return c->n_layers * hst_preblock_flops(c->d_model, 1, t) +
           CORE_C_PROCESSORS * (processor_row(c) + 4 * D * (t + 1)) + router_flops(c) + head;
}

/* 12.C.8: a causal step with every gate on reads L·blk + 10·proc + (Rh·D + Rh + 10Rh + 10)
 * + VD + 4D floats of weights (8,188,426 at hst-v7.0). */
static double step_weight_floats(const hst_config *c)
{
    const double D = c->d_model, F = CORE_C_FF, Rh = CORE_C_ROUTER;
    double blk = 12 * D * D + 9 * D, proc = 4 * D * D + 2 * F * D + 9 * D + F;
    return c->n_layers * blk + CORE_C_PROCESSORS * proc + (Rh * D + Rh + 10 * Rh + 10) + c->vocab_size * D + 4 * D;
}

/* K and V of every block and processor at each cached position: 2·(L + 10)·D floats. */
static double kv_bytes_per_position(const hst_config *c)
{
    return 2.0 * (c->n_layers + CORE_C_PROCESSORS) * c->d_model * sizeof(float);
}

/* The weights once and the K/V of the S rows (parity: of the window). */
static double bytes_prefill(const hst_config *c, hst_mode mode, int S)
{
    (void)mode;
    return sizeof(float) * step_weight_floats(c) + kv_bytes_per_position(c) * S;
}

/* Causal: the step's weights and the K/V of positions 0..t; parity recomputes the window. */
static double bytes_decode(const hst_config *c, hst_mode mode, int t)
{
    return bytes_prefill(c, mode, t + 1);
}

const hst_core_ops hst_core_c = {
    .name = "C",
    .section_names = section_names,
    .flops_prefill_per_token = flops_prefill_per_token,
    .flops_decode = flops_decode,
    .bytes_decode = bytes_decode,
    .bytes_prefill = bytes_prefill,
};
