/* core_c.c — Core C, v7.0 Agile (arch v7.0; presets hst-v7.0 and its alias
 * hst-chaos): spec 12.C.
 *
 * Not implemented yet: the ops below name the sections (12.C.7); the runtime,
 * the session state, the forward pass of both modes (parity 12.C.2, causal
 * 12.C.3) and the figures are the next step. Until forward is set,
 * hst_forward fails with "forward: hst-v7.0 is not implemented in this
 * build", and models of the arch load, initialise, count and save. The
 * bottom and top stacks are engine/preblock.h's blocks. */
#include "engine/preblock.h"

#define CORE_C_PROCESSORS 10 /* lattice_core.layer_processors.0..9 (12.C.1) */

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

const hst_core_ops hst_core_c = {
    .name = "C",
    .section_names = section_names,
};
