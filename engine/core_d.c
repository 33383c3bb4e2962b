/* core_d.c — Core D, v7.1 Ultimate (arch v7.1, preset hst-v7.1): spec 12.D.
 *
 * Not implemented yet: the ops below name the sections (12.D.7); the runtime,
 * the session state, the forward pass of both modes (parity 12.D.2, causal
 * 12.D.3) and the figures are the next step. Until forward is set,
 * hst_forward fails with "forward: hst-v7.1 is not implemented in this
 * build", and models of the arch load, initialise, count and save. The
 * lattice (12.D.2.5) is engine/lattice.h's, 3-term spine. */
#include "engine/lattice.h"

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

const hst_core_ops hst_core_d = {
    .name = "D",
    .section_names = section_names,
};
