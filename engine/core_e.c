/* core_e.c — Core E, v8 Crystalline (arch v8, preset hst-v8): spec 12.E.
 *
 * Not implemented yet: the ops below name the sections (12.E.6); the runtime,
 * the session state, the forward pass of both modes (parity 12.E.2, causal
 * 12.E.3) and the figures are the next step. Until forward is set,
 * hst_forward fails with "forward: hst-v8 is not implemented in this build",
 * and models of the arch load, initialise, count and save. The lattice
 * (12.E.2.6) is engine/lattice.h's, 2-term spine. */
#include "engine/lattice.h"

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

const hst_core_ops hst_core_e = {
    .name = "E",
    .section_names = section_names,
};
