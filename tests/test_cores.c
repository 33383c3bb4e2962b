/* test_cores.c — what every core shares (engine/internal.h, session.c): the
 * archs and their cores, the modes (spec 12.0) and a session's switch
 * between them by reprocessing its history, the sections each core names,
 * and the stage hook the golden tests read intermediate rows through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hst_model *tiny_v4(uint64_t seed)
{
    hst_config cfg = {HST_ARCH_V4, 300, 32, 4, 4, 128, 2};
    hst_error err = {{0}};
    hst_model *m = hst_model_random(&cfg, seed, &err);
    if (!m)
        fail_msg("%s", err.msg);
    return m;
}

static void prompt_ids(int *ids, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        ids[i] = (int)(((uint64_t)i * 2654435761u + 17u) % (uint64_t)vocab);
}

/* ---- archs, cores, modes ---------------------------------------------------------- */

static void test_archs_name_their_core_and_class(void **state)
{
    (void)state;
    static const struct {
        hst_arch arch;
        const char *name, *class_name;
        char core;
    } want[] = {
        {HST_ARCH_V3, "v3", "HSTv3Ultra", 'A'},          {HST_ARCH_V4, "v4", "HSTv4Unified", 'A'},
        {HST_ARCH_V5_2, "v5.2", "HSTv5_2Unified", 'B'},  {HST_ARCH_V6, "v6", "HSTv6Giga", 'B'},
        {HST_ARCH_V6_1, "v6.1", "HSTv6Giga", 'B'},       {HST_ARCH_V7_0, "v7.0", "HSTv7Agile", 'C'},
        {HST_ARCH_V7_1, "v7.1", "HSTv7_1Ultimate", 'D'}, {HST_ARCH_V8, "v8", "HSTv8Crystalline", 'E'},
    };
    assert_int_equal(sizeof want / sizeof want[0], HST_ARCH_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        hst_arch back;
        assert_string_equal(hst_arch_name(want[i].arch), want[i].name);
        assert_int_equal(hst_arch_from_name(want[i].name, &back), 0);
        assert_int_equal(back, want[i].arch);
        assert_string_equal(hst_arch_class(want[i].arch), want[i].class_name);
        assert_int_equal(hst_arch_core(want[i].arch), want[i].core);
        assert_non_null(hst_core_ops_for(want[i].arch));
        /* Cores A and B are causal as written; C, D, E are not (spec 12.0). */
        assert_int_equal(hst_arch_modes_differ(want[i].arch), want[i].core >= 'C');
    }
    assert_int_equal(hst_arch_core(HST_ARCH_COUNT), '?');
    assert_null(hst_core_ops_for(HST_ARCH_COUNT));
    const hst_config bogus = {HST_ARCH_COUNT, 10, 8, 1, 2, 16, 1};
    assert_true(isnan(hst_flops_decode(&bogus, HST_MODE_CAUSAL, 0)));
    assert_int_equal(hst_decode_state_bytes(&bogus), 0);
    assert_true(hst_core_ops_for(HST_ARCH_V3) == hst_core_ops_for(HST_ARCH_V6_1));
    assert_true(hst_arch_implemented(HST_ARCH_V4) && hst_arch_implemented(HST_ARCH_V6_1));
}

static void test_mode_names_round_trip(void **state)
{
    (void)state;
    hst_mode m;
    assert_string_equal(hst_mode_name(HST_MODE_CAUSAL), "causal");
    assert_string_equal(hst_mode_name(HST_MODE_PARITY), "parity");
    assert_int_equal(hst_mode_from_name("parity", &m), 0);
    assert_int_equal(m, HST_MODE_PARITY);
    assert_int_equal(hst_mode_from_name("causal", &m), 0);
    assert_int_equal(m, HST_MODE_CAUSAL);
    assert_int_equal(hst_mode_from_name("Parity", &m), -1);
    assert_int_equal(hst_mode_from_name("", &m), -1);
    assert_string_equal(hst_mode_name(HST_MODE_COUNT), "?");
}

/* The figures of Cores A and B do not depend on the mode (spec 12.0). */
static void test_core_ab_figures_are_the_same_in_both_modes(void **state)
{
    (void)state;
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v6.1", &c), 0);
    for (int S = 1; S <= 512; S += 37) {
        assert_true(hst_flops_prefill_per_token(&c, HST_MODE_CAUSAL, S) ==
                    hst_flops_prefill_per_token(&c, HST_MODE_PARITY, S));
        assert_true(hst_flops_decode(&c, HST_MODE_CAUSAL, S - 1) == hst_flops_decode(&c, HST_MODE_PARITY, S - 1));
        assert_true(hst_bytes_decode(&c, HST_MODE_CAUSAL, S - 1) == hst_bytes_decode(&c, HST_MODE_PARITY, S - 1));
        assert_true(hst_bytes_prefill(&c, HST_MODE_CAUSAL, S) == hst_bytes_prefill(&c, HST_MODE_PARITY, S));
    }
}

/* ---- sessions and modes ------------------------------------------------------------ */

/* On Core A the mode is accepted and reported and changes no bit: the session
 * keeps its position and its caches. */
static void test_core_ab_mode_switch_keeps_the_session(void **state)
{
    (void)state;
    hst_model *m = tiny_v4(3);
    hst_error err = {{0}};
    hst_session *a = hst_session_create(m, NULL, &err), *b = hst_session_create(m, NULL, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(hst_session_mode(a), HST_MODE_CAUSAL);
    int ids[40];
    prompt_ids(ids, 40, 300);
    float la[300], lb[300];
    assert_int_equal(hst_forward(a, ids, 30, NULL, 0, &err), 0);
    assert_int_equal(hst_forward(b, ids, 30, NULL, 0, &err), 0);
    assert_int_equal(hst_session_set_mode(a, HST_MODE_PARITY, &err), 0);
    assert_int_equal(hst_session_mode(a), HST_MODE_PARITY);
    assert_int_equal(hst_session_pos(a), 30);
    for (int t = 30; t < 40; t++) {
        assert_int_equal(hst_forward(a, &ids[t], 1, la, 0, &err), 0);
        assert_int_equal(hst_forward(b, &ids[t], 1, lb, 0, &err), 0);
        assert_memory_equal(la, lb, sizeof la);
    }
    /* A bad mode is refused and changes nothing. */
    assert_int_equal(hst_session_set_mode(a, HST_MODE_COUNT, &err), -1);
    assert_non_null(strstr(err.msg, "unknown mode"));
    assert_int_equal(hst_session_mode(a), HST_MODE_PARITY);
    /* A reset keeps the mode. */
    hst_session_reset(a);
    assert_int_equal(hst_session_mode(a), HST_MODE_PARITY);
    hst_session_free(a);
    hst_session_free(b);
    hst_model_free(m);
}

/* A stand-in core that records what session.c hands it, to check the
 * contract every core relies on: ids in the history, the mode, the
 * position before the call, the reset before a rebuild. */
typedef struct {
    int calls, resets;
    int last_n, last_pos;
    hst_mode last_mode;
    int seen[64];
} recorder;

static recorder rec;

static int recording_forward(hst_session *s, const int *ids, int n, float *logits, int all_logits, hst_error *err)
{
    (void)logits;
    (void)all_logits;
    (void)err;
    rec.calls++;
    rec.last_n = n;
    rec.last_pos = s->pos;
    rec.last_mode = s->mode;
    assert_true(ids == s->history + s->pos); /* the call's ids are the history's tail */
    memcpy(rec.seen, s->history, sizeof(int) * (size_t)(s->pos + n));
    hst_section_clock clk;
    hst_section_start(s, &clk);
    hst_section_done(&clk, 7.0 * n);
    return 0;
}

static void recording_reset(void *state)
{
    (void)state;
    rec.resets++;
}

static int one_section(const hst_config *cfg, char (*names)[HST_SECTION_NAME_BYTES])
{
    (void)cfg;
    return hst_section_name(names, 0, "all");
}

static void test_set_mode_rebuilds_from_the_history_in_the_new_mode(void **state)
{
    (void)state;
    static const hst_core_ops recording = {
        .name = "recording", .state_reset = recording_reset, .section_names = one_section,
        .forward = recording_forward};
    hst_model *m = tiny_v4(4);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    assert_non_null(s);
    /* The session of a core whose modes differ (spec 12.0), run by the recorder. */
    void *core_ab_state = s->state;
    const hst_core_ops *core_ab = s->ops;
    s->ops = &recording;
    s->state = &rec;
    s->cfg.arch = HST_ARCH_V8;
    s->n_sections = one_section(&s->cfg, s->section_names);
    memset(&rec, 0, sizeof rec);
    int ids[9] = {5, 6, 7, 8, 9, 10, 11, 12, 13};
    assert_int_equal(hst_forward(s, ids, 5, NULL, 0, &err), 0);
    assert_int_equal(hst_forward(s, ids + 5, 1, NULL, 0, &err), 0);
    assert_int_equal(rec.last_pos, 5);
    assert_int_equal(rec.last_mode, HST_MODE_CAUSAL);
    assert_int_equal(hst_session_set_mode(s, HST_MODE_PARITY, &err), 0);
    /* One call over the 6 tokens so far, from position 0, in the new mode, after a reset. */
    assert_int_equal(rec.calls, 3);
    assert_int_equal(rec.resets, 1);
    assert_int_equal(rec.last_n, 6);
    assert_int_equal(rec.last_pos, 0);
    assert_int_equal(rec.last_mode, HST_MODE_PARITY);
    assert_memory_equal(rec.seen, ids, sizeof(int) * 6);
    assert_int_equal(hst_session_pos(s), 6);
    double flops;
    hst_session_last_section_flops(s, &flops);
    assert_true(flops == 42.0); /* the rebuild's figures */
    /* The same mode again: nothing to do. */
    assert_int_equal(hst_session_set_mode(s, HST_MODE_PARITY, &err), 0);
    assert_int_equal(rec.calls, 3);
    assert_int_equal(hst_forward(s, ids + 6, 3, NULL, 0, &err), 0);
    assert_int_equal(rec.last_pos, 6);
    assert_memory_equal(rec.seen, ids, sizeof ids);
    s->ops = core_ab;
    s->state = core_ab_state;
    hst_session_free(s);
    hst_model_free(m);
}

/* ---- sections and stages ------------------------------------------------------------ */

static void test_every_core_names_its_sections(void **state)
{
    (void)state;
    static const struct {
        const char *preset;
        int count;
        const char *first, *second, *last_but_one;
    } want[] = {
        /* spec 10: embed, bottom.0..2, lattice, top.0..2, head */
        {"hst-v4", 1 + 3 + 1 + 3 + 1, "embed", "bottom.0", "top.2"},
        /* 12.C.7: embed, bottom.0..3, router, proc.0..9, top.0..3, head */
        {"hst-v7.0", 1 + 4 + 1 + 10 + 4 + 1, "embed", "bottom.0", "top.3"},
        /* 12.D.7: embed, multires.1/2/4/8, fusion, moe, attn.0..5, lattice, head */
        {"hst-v7.1", 1 + 4 + 2 + 6 + 1 + 1, "embed", "multires.1", "lattice"},
        /* 12.E.6: embed, hebbian, multires x4, fusion, moe, attn.0..5, lattice, feedback, head */
        {"hst-v8", 1 + 1 + 4 + 2 + 6 + 1 + 1 + 1, "embed", "hebbian", "feedback"},
    };
    char names[64][HST_SECTION_NAME_BYTES];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        hst_config c;
        assert_int_equal(hst_preset_config(want[i].preset, &c), 0);
        const hst_core_ops *ops = hst_core_ops_for(c.arch);
        int n = ops->section_names(&c, NULL);
        assert_int_equal(n, want[i].count);
        assert_int_equal(ops->section_names(&c, names), n);
        assert_string_equal(names[0], want[i].first);
        assert_string_equal(names[1], want[i].second);
        assert_string_equal(names[n - 2], want[i].last_but_one);
        assert_string_equal(names[n - 1], "head");
    }
    hst_config c;
    assert_int_equal(hst_preset_config("hst-v7.0", &c), 0);
    hst_core_ops_for(c.arch)->section_names(&c, names);
    assert_string_equal(names[5], "router");
    assert_string_equal(names[6], "proc.0");
    assert_string_equal(names[15], "proc.9");
}

typedef struct {
    char names[16][HST_SECTION_NAME_BYTES];
    int n_stages, rows[16];
    float hidden[8 * 32];
} stages_seen;

static void record_stage(void *user, const char *stage, const float *rows, int n_rows, int ld)
{
    stages_seen *seen = user;
    assert_true(seen->n_stages < 16);
    assert_int_equal(ld, 32);
    snprintf(seen->names[seen->n_stages], HST_SECTION_NAME_BYTES, "%s", stage);
    seen->rows[seen->n_stages++] = n_rows;
    if (strcmp(stage, "hidden") == 0)
        memcpy(seen->hidden, rows, sizeof(float) * (size_t)n_rows * 32);
}

/* Core A reports each stage in order, and the "hidden" rows are those ln_f
 * and lm_head turn into the logits (spec 4.5). */
static void test_stage_hook_sees_core_ab_stages_and_hidden_rows(void **state)
{
    (void)state;
    hst_model *m = tiny_v4(6);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    assert_non_null(s);
    stages_seen seen = {0};
    hst_session_set_stage_hook(s, record_stage, &seen);
    int ids[8];
    prompt_ids(ids, 8, 300);
    float *logits = malloc(sizeof(float) * 8 * 300);
    assert_non_null(logits);
    assert_int_equal(hst_forward(s, ids, 8, logits, 1, &err), 0);
    static const char *const order[] = {"embed", "bottom.0", "bottom.1", "lattice", "top.0", "top.1", "hidden"};
    assert_int_equal(seen.n_stages, 7);
    for (int i = 0; i < 7; i++) {
        assert_string_equal(seen.names[i], order[i]);
        assert_int_equal(seen.rows[i], 8);
    }
    const float *g = hst_model_tensor_data(m, "ln_f.weight", NULL), *b = hst_model_tensor_data(m, "ln_f.bias", NULL);
    const float *head = hst_model_tensor_data(m, "lm_head.weight", NULL);
    for (int r = 0; r < 8; r++) {
        const float *h = seen.hidden + r * 32;
        double mean = 0, var = 0, y[32];
        for (int d = 0; d < 32; d++)
            mean += h[d] / 32.0;
        for (int d = 0; d < 32; d++)
            var += (h[d] - mean) * (h[d] - mean) / 32.0;
        for (int d = 0; d < 32; d++)
            y[d] = (h[d] - mean) / sqrt(var + 1e-5) * g[d] + b[d];
        for (int v = 0; v < 300; v++) {
            double acc = 0;
            for (int d = 0; d < 32; d++)
                acc += head[v * 32 + d] * y[d];
            if (fabs(acc - logits[r * 300 + v]) > 1e-4)
                fail_msg("row %d logit %d: %g from the hidden rows, %g from the forward", r, v, acc,
                         logits[r * 300 + v]);
        }
    }
    /* Off again: no more calls. */
    hst_session_set_stage_hook(s, NULL, NULL);
    assert_int_equal(hst_forward(s, ids, 1, logits, 0, &err), 0);
    assert_int_equal(seen.n_stages, 7);
    free(logits);
    hst_session_free(s);
    hst_model_free(m);
}

/* With timing off the sections report FLOPs and no time (no clock read). */
static void test_sections_report_no_time_when_timing_is_off(void **state)
{
    (void)state;
    hst_model *m = tiny_v4(7);
    hst_error err = {{0}};
    hst_session *s = hst_session_create(m, NULL, &err);
    int ids[20];
    prompt_ids(ids, 20, 300);
    assert_int_equal(hst_forward(s, ids, 20, NULL, 0, &err), 0);
    uint64_t ns[16];
    double flops[16];
    int n = hst_session_section_count(s);
    hst_session_last_section_ns(s, ns);
    hst_session_last_section_flops(s, flops);
    for (int i = 0; i < n; i++)
        assert_int_equal(ns[i], 0);
    assert_true(flops[1] > 0); /* bottom.0 */
    assert_true(flops[n - 1] == 0); /* no logits asked for: no head work */
    hst_session_free(s);
    hst_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archs_name_their_core_and_class),
        cmocka_unit_test(test_mode_names_round_trip),
        cmocka_unit_test(test_core_ab_figures_are_the_same_in_both_modes),
        cmocka_unit_test(test_core_ab_mode_switch_keeps_the_session),
        cmocka_unit_test(test_set_mode_rebuilds_from_the_history_in_the_new_mode),
        cmocka_unit_test(test_every_core_names_its_sections),
        cmocka_unit_test(test_stage_hook_sees_core_ab_stages_and_hidden_rows),
        cmocka_unit_test(test_sections_report_no_time_when_timing_is_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
