/* lattice.h — the lattice core of spec 4.4, for every core that has one:
 * Cores A and B (3-term spine), D (3-term, 12.D.2.5) and E (2-term, 12.E.2.6).
 *
 * Two parts, as for the rest of the engine: the weights (hst_lattice, built
 * once per model and precision from the tensors under a prefix, normally
 * "lattice_core.") and a session's state (hst_lattice_state: the kept rows
 * R[p] of the spine positions seen so far, spec 5, and the scratch of one
 * call). The state holds no pointer into the weights, so a model's
 * precision can change between calls. The spine helpers are in internal.h.
 */
#ifndef HST_LATTICE_H
#define HST_LATTICE_H

#include "engine/internal.h"

#define HST_LATTICE_LEVELS 10          /* level_transforms.0..9: the original's max_levels (spec 4.6) */
#define HST_LATTICE_PATH_NET_WIDTH 64  /* hidden width of path_weight_net (spec 4.4) */

typedef struct hst_lattice hst_lattice;
typedef struct hst_lattice_state hst_lattice_state;

/* Resolves prefix + "multi_level.*", "path_weighted.*", "meta_fusion.*"
 * through r (the meta fusion, which every row reads, in r->precision; the
 * spine-update matmuls in f32) for the model's D and Lmax. NULL when r
 * failed (r->err says why) or on OOM (err set, r->failed set). */
hst_lattice *hst_lattice_build(hst_resolver *r, const char *prefix, hst_spine_kind kind);
void hst_lattice_free(hst_lattice *lat);
uint64_t hst_lattice_packed_bytes(const hst_lattice *lat);

/* Kept rows for the spine of (kind, Lmax) and scratch for calls of up to
 * max_rows rows of width D. NULL on OOM. */
hst_lattice_state *hst_lattice_state_create(hst_spine_kind kind, int d_model, int max_seq_len, int max_rows);
void hst_lattice_state_free(hst_lattice_state *st);
/* Forgets the kept rows (a new sequence starts at position 0). */
void hst_lattice_state_reset(hst_lattice_state *st);
uint64_t hst_lattice_state_bytes(const hst_lattice_state *st);

/* The lattice on the rows x [n][D] (row stride D) at positions t0..t0+n-1:
 * keeps R[p] = x_p for the spine positions, updates the processed ones from
 * R (rows of this call and earlier calls), and replaces every row by its
 * meta fusion (no residual). Returns the FLOPs (hst_lattice_flops). */
double hst_lattice_run(const hst_lattice *lat, hst_lattice_state *st, hst_pool *pool, float *x, int n, int t0);

/* Spec 11's lattice FLOPs for rows at positions t0..t0+n-1: the meta fusion
 * 16D² per row plus hst_lattice_spine_flops. */
double hst_lattice_flops(hst_spine_kind kind, int d_model, int n, int t0);
/* Σ over the processed positions p in t0..t0+n-1 of 16D²(1 + n_p), n_p =
 * |A_1| + ... + |A_m| (spec 11, 12.E.5). */
double hst_lattice_spine_flops(hst_spine_kind kind, int d_model, int n, int t0);

#endif
