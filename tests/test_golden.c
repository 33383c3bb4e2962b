/* test_golden.c — the engine against golden data from an independent
 * implementation of the spec (tests/golden/make_golden.py, pure Python,
 * float64; see tests/golden/README.md).
 *
 * For each golden model: prefill logits of the whole prompt within 1e-4 max
 * abs (spec 0, conformance (a)) with 1 and with 2 threads; a chunked decode
 * (prefill of a few tokens, then one token per call, crossing the processed
 * spine positions 12, 36 and 104) against the same golden rows, and against
 * the engine's own prefill within 1e-5 (spec 5); and, where a greedy file
 * exists, 16 greedy tokens generated with decode steps.
 *
 * Data are found in $HSTPROF_GOLDEN_DIR, else tests/golden relative to the
 * current directory (make test runs from the repository root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hst.h"
#include "tests/harness.h"

#define GOLDEN_TOL 1e-4      /* spec 0 (a): prefill vs an independent implementation */
#define DECODE_TOL 1e-5      /* spec 5: decode(t) vs prefill(0..t)[t] */
#define N_GREEDY 16
#define CHUNK_FIRST 8        /* the chunked-decode test prefills this many tokens first */
#define MAX_IDS 4096

static const char *const golden_models[] = {
    "tiny-v4",        /* v4,   F32,  D=16 nh=2 L=4, spine buffers, harmonic head */
    "tiny-v61",       /* v6.1, F32,  D=16 nh=4 L=8, recursive head, some v6.1 extras */
    "tiny-v52-bf16",  /* v5.2, BF16, D=24 nh=3 L=2, recursive head, unaligned data */
    "tiny-v6-f16",    /* v6,   F16,  D=20 nh=5 L=5, spine buffers */
};
#define N_MODELS ((int)(sizeof golden_models / sizeof golden_models[0]))

typedef struct {
    const char *name;
    hst_model *model;
    int ids[MAX_IDS];
    int S;
    int V;
    float *gold;               /* [S, V] */
    int greedy[N_GREEDY];
    int has_greedy;
} golden;

static golden G[N_MODELS];

static const char *golden_dir(void) {
    const char *d = getenv("HSTPROF_GOLDEN_DIR");
    return (d && *d) ? d : harness_source("tests/golden");
}

static void path_of(char *buf, size_t n, const char *model, const char *suffix) {
    snprintf(buf, n, "%s/%s%s", golden_dir(), model, suffix);
}

/* Reads a file of comma-separated integers; returns the count, -1 when the
 * file does not exist, -2 on a parse error. */
static int read_ids(const char *path, int *out, int max) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, c;
    long v = 0;
    int have = 0, bad = 0;
    while ((c = fgetc(f)) != EOF) {
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            have = 1;
            if (v > 1000000000L)
                bad = 1;
        } else if (c == ',' || c == '\n' || c == '\r' || c == ' ') {
            if (have) {
                if (n >= max) {
                    bad = 1;
                    break;
                }
                out[n++] = (int)v;
            } else if (c == ',') {
                bad = 1;
            }
            v = 0;
            have = 0;
        } else {
            bad = 1;
        }
    }
    if (have && n < max)
        out[n++] = (int)v;
    fclose(f);
    return bad ? -2 : n;
}

static float *read_f32(const char *path, long *count) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long size = ftell(f);
    rewind(f);
    if (size <= 0 || size % 4 != 0) {
        fclose(f);
        return NULL;
    }
    unsigned char *raw = malloc((size_t)size);
    float *out = malloc((size_t)size);
    if (!raw || !out || fread(raw, 1, (size_t)size, f) != (size_t)size) {
        free(raw);
        free(out);
        fclose(f);
        return NULL;
    }
    fclose(f);
    for (long i = 0; i < size / 4; i++) { /* little-endian on any host */
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                     (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
    free(raw);
    *count = size / 4;
    return out;
}

static int setup_model(void **state) {
    golden *g = *state;
    char path[1024];
    hst_error err;
    memset(&err, 0, sizeof err);

    path_of(path, sizeof path, g->name, ".prompt.txt");
    g->S = read_ids(path, g->ids, MAX_IDS);
    if (g->S <= 0) {
        print_error("%s: cannot read the prompt (set HSTPROF_GOLDEN_DIR or run from the "
                    "repository root)\n", path);
        return -1;
    }
    path_of(path, sizeof path, g->name, ".safetensors");
    g->model = hst_model_load(path, &err);
    if (!g->model) {
        print_error("hst_model_load failed: %s\n", err.msg);
        return -1;
    }
    const hst_config *cfg = hst_model_config(g->model);
    g->V = cfg->vocab_size;
    if (g->S + N_GREEDY > cfg->max_seq_len) {
        print_error("%s: prompt of %d + %d tokens exceeds max_seq_len %d\n", g->name, g->S,
                    N_GREEDY, cfg->max_seq_len);
        return -1;
    }
    long count = 0;
    path_of(path, sizeof path, g->name, ".logits.f32");
    g->gold = read_f32(path, &count);
    if (!g->gold || count != (long)g->S * g->V) {
        print_error("%s: cannot read or wrong size (%ld floats, want %d x %d)\n", path, count,
                    g->S, g->V);
        return -1;
    }
    path_of(path, sizeof path, g->name, ".greedy.txt");
    int n = read_ids(path, g->greedy, N_GREEDY);
    if (n == -1) {
        g->has_greedy = 0;
    } else if (n != N_GREEDY) {
        print_error("%s: want %d token ids, read %d\n", path, N_GREEDY, n);
        return -1;
    } else {
        g->has_greedy = 1;
    }
    return 0;
}

static int teardown_model(void **state) {
    golden *g = *state;
    hst_model_free(g->model);
    g->model = NULL;
    free(g->gold);
    g->gold = NULL;
    return 0;
}

/* Max abs difference of the first n rows of a against those of b (both laid
 * out [n, V]); *row and *col receive where it occurred. A NaN
 * counts as an infinite difference. */
static double max_diff(const float *a, const float *b, int n, int V, int *row, int *col) {
    double md = 0.0;
    *row = *col = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < V; k++) {
            double d = fabs((double)a[(size_t)i * V + k] - (double)b[(size_t)i * V + k]);
            if (isnan(d))
                d = INFINITY;
            if (*row < 0 || d > md) {
                md = d;
                *row = i;
                *col = k;
            }
        }
    return md;
}

typedef struct {
    hst_pool *pool;
    hst_session *s;
} runner;

static void runner_open(runner *r, golden *g, int threads) {
    hst_error err;
    memset(&err, 0, sizeof err);
    r->pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_pool_set_adaptive(r->pool, 0); /* every job on the whole team: the test compares thread counts */
    if (!r->pool)
        fail_msg("%s: hst_pool_create(%d): %s", g->name, threads, err.msg);
    r->s = hst_session_create(g->model, r->pool, &err);
    if (!r->s) {
        hst_pool_free(r->pool);
        fail_msg("%s: hst_session_create: %s", g->name, err.msg);
    }
}

static void runner_close(runner *r) {
    hst_session_free(r->s);
    hst_pool_free(r->pool);
}

/* The check functions collect a failure into why[], free everything, and
 * only then fail (fail_msg does not return). */
#define WHY_LEN 768

static void check_prefill(golden *g, int threads) {
    char why[WHY_LEN] = "";
    runner r;
    hst_error err;
    memset(&err, 0, sizeof err);
    size_t n = (size_t)g->S * g->V;
    float *logits = malloc(n * sizeof *logits);
    assert_non_null(logits);
    for (size_t i = 0; i < n; i++)
        logits[i] = NAN;
    runner_open(&r, g, threads);
    int rc = hst_forward(r.s, g->ids, g->S, logits, 1, &err);
    if (rc != 0) {
        snprintf(why, sizeof why, "%s: hst_forward(prefill %d, %d thread(s)) = %d: %s", g->name,
                 g->S, threads, rc, err.msg);
    } else {
        int row, col;
        double md = max_diff(logits, g->gold, g->S, g->V, &row, &col);
        print_message("%s: prefill S=%d, %d thread(s): max |diff| %.3g at row %d col %d\n",
                      g->name, g->S, threads, md, row, col);
        if (!(md <= GOLDEN_TOL))
            snprintf(why, sizeof why,
                     "%s: prefill logits (%d thread(s)) differ from the golden ones: max |diff| "
                     "%.6g > %g at row %d (position %d, token %d) col %d: engine %.7g, golden "
                     "%.7g",
                     g->name, threads, md, GOLDEN_TOL, row, row, g->ids[row], col,
                     (double)logits[(size_t)row * g->V + col],
                     (double)g->gold[(size_t)row * g->V + col]);
    }
    free(logits);
    runner_close(&r);
    if (why[0])
        fail_msg("%s", why);
}

static void test_prefill_1thread(void **state) { check_prefill(*state, 1); }
static void test_prefill_2threads(void **state) { check_prefill(*state, 2); }

/* Prefill CHUNK_FIRST tokens, then one token per call up to S: every row
 * against the golden row (1e-4) and against the engine's own full prefill
 * (1e-5, spec 5). The decode steps cross the processed positions 12, 36, 104. */
static void test_decode_chunked(void **state) {
    golden *g = *state;
    char why[WHY_LEN] = "";
    runner r;
    hst_error err;
    memset(&err, 0, sizeof err);
    size_t n = (size_t)g->S * g->V;
    float *pre = malloc(2 * n * sizeof *pre);
    assert_non_null(pre);
    float *dec = pre + n;
    runner_open(&r, g, 1);
    int rc = hst_forward(r.s, g->ids, g->S, pre, 1, &err);
    if (rc == 0) {
        hst_session_reset(r.s);
        int first = g->S < CHUNK_FIRST ? g->S : CHUNK_FIRST;
        rc = hst_forward(r.s, g->ids, first, dec, 1, &err);
        for (int t = first; rc == 0 && t < g->S; t++) {
            if (hst_session_pos(r.s) != t) {
                snprintf(why, sizeof why, "%s: session position %d before token %d", g->name,
                         hst_session_pos(r.s), t);
                break;
            }
            rc = hst_forward(r.s, &g->ids[t], 1, dec + (size_t)t * g->V, 1, &err);
        }
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "%s: hst_forward during chunked decode = %d: %s", g->name, rc,
                 err.msg);
    } else if (!why[0]) {
        int grow, gcol, srow, scol;
        double mg = max_diff(dec, g->gold, g->S, g->V, &grow, &gcol);
        double ms = max_diff(dec, pre, g->S, g->V, &srow, &scol);
        print_message("%s: decode (prefill %d, then 1 per call): max |diff| %.3g vs golden at "
                      "row %d col %d, %.3g vs own prefill at row %d col %d\n",
                      g->name, CHUNK_FIRST, mg, grow, gcol, ms, srow, scol);
        if (!(mg <= GOLDEN_TOL))
            snprintf(why, sizeof why,
                     "%s: decode logits differ from the golden ones: max |diff| %.6g > %g at "
                     "row %d col %d", g->name, mg, GOLDEN_TOL, grow, gcol);
        else if (!(ms <= DECODE_TOL))
            snprintf(why, sizeof why,
                     "%s: decode(t) differs from prefill(0..t)[t]: max |diff| %.6g > %g at row "
                     "%d col %d (spec 5)", g->name, ms, DECODE_TOL, srow, scol);
    }
    free(pre); /* dec is its second half */
    runner_close(&r);
    if (why[0])
        fail_msg("%s", why);
}

static void check_greedy(golden *g, int threads) {
    if (!g->has_greedy) {
        print_message("%s: no greedy file (margin too small when generated); skipped\n", g->name);
        skip();
    }
    char why[WHY_LEN] = "";
    runner r;
    hst_error err;
    memset(&err, 0, sizeof err);
    float *logits = malloc((size_t)g->V * sizeof *logits);
    assert_non_null(logits);
    runner_open(&r, g, threads);
    int toks[N_GREEDY] = {0};
    int rc = hst_forward(r.s, g->ids, g->S, logits, 0, &err);
    for (int k = 0; rc == 0 && k < N_GREEDY; k++) {
        toks[k] = hst_argmax(logits, g->V);
        if (k + 1 < N_GREEDY)
            rc = hst_forward(r.s, &toks[k], 1, logits, 0, &err);
    }
    free(logits);
    runner_close(&r);
    if (rc != 0)
        fail_msg("%s: hst_forward during greedy generation = %d: %s", g->name, rc, err.msg);
    for (int k = 0; k < N_GREEDY && !why[0]; k++)
        if (toks[k] != g->greedy[k]) {
            char got[256] = "", want[256] = "";
            size_t a = 0, b = 0;
            for (int j = 0; j < N_GREEDY; j++) {
                a += (size_t)snprintf(got + a, sizeof got - a, "%s%d", j ? "," : "", toks[j]);
                b += (size_t)snprintf(want + b, sizeof want - b, "%s%d", j ? "," : "",
                                      g->greedy[j]);
            }
            snprintf(why, sizeof why,
                     "%s: greedy token %d (%d thread(s)) is %d, golden %d\n  engine %s\n  golden %s",
                     g->name, k, threads, toks[k], g->greedy[k], got, want);
        }
    if (why[0])
        fail_msg("%s", why);
    print_message("%s: %d greedy tokens match (%d thread(s))\n", g->name, N_GREEDY, threads);
}

static void test_greedy_1thread(void **state) { check_greedy(*state, 1); }
static void test_greedy_2threads(void **state) { check_greedy(*state, 2); }

#define TESTS_PER_MODEL 5

int main(void) {
    static struct CMUnitTest tests[N_MODELS * TESTS_PER_MODEL];
    static char names[N_MODELS * TESTS_PER_MODEL][96];
    static const struct {
        const char *suffix;
        CMUnitTestFunction fn;
    } kinds[TESTS_PER_MODEL] = {
        {"prefill, 1 thread", test_prefill_1thread},
        {"prefill, 2 threads", test_prefill_2threads},
        {"chunked decode", test_decode_chunked},
        {"greedy, 1 thread", test_greedy_1thread},
        {"greedy, 2 threads", test_greedy_2threads},
    };
    int n = 0;
    for (int m = 0; m < N_MODELS; m++) {
        G[m].name = golden_models[m];
        for (int k = 0; k < TESTS_PER_MODEL; k++, n++) {
            snprintf(names[n], sizeof names[n], "%s: %s", golden_models[m], kinds[k].suffix);
            tests[n].name = names[n];
            tests[n].test_func = kinds[k].fn;
            tests[n].setup_func = setup_model;
            tests[n].teardown_func = teardown_model;
            tests[n].initial_state = &G[m];
        }
    }
    return _cmocka_run_group_tests("golden", tests, (size_t)n, NULL, NULL);
}
