/* test_golden_stage2.c — Cores C, D and E against the golden data of an
 * independent implementation of spec section 12 (tests/golden/
 * make_golden_stage2.py, pure Python; tests/golden/README.md). Generic: every
 * tests/golden/<m>.cases.txt manifest is read, whatever its arch; a model
 * whose arch this build does not implement (hst_arch_implemented) gets one
 * test that says so and is skipped.
 *
 * Per model:
 *   - each case (mode, S): a prefill of the first S prompt tokens in that
 *     mode; logits of every row within 1e-4 max abs (12.0 conformance); each
 *     stage the manifest lists (received through the stage hook, by name)
 *     within 1e-4 of the stage's largest |value| (12.0); the same logits bit
 *     for bit with 3 threads (12.0 determinism);
 *   - greedy tokens (the manifest's greedy lines) through decode steps, with
 *     1 and with 2 threads;
 *   - causal decode: the causal case of the largest S computed one token per
 *     call and in uneven chunks straddling 64-row blocks: every row within
 *     1e-5 of the engine's own prefill (12.0) and 1e-4 of the golden row;
 *   - parity decode: for each parity case with S >= 2, a prefill of S - 1
 *     tokens then one token: the window's last row within 1e-4 of the golden
 *     row (decode(t) = parity_prefill(0..t)[t], 12.0).
 *
 * Data are found in $HSTPROF_GOLDEN_DIR, else the repository's tests/golden
 * (harness_source). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/internal.h" /* hst_session_set_stage_hook */
#include "tests/harness.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_TOL 1e-4 /* 12.0: logits, and stages relative to their largest |value| */
#define DECODE_TOL 1e-5 /* 12.0: decode(t) = causal_prefill(0..t)[t] */
#define MAX_MODELS 32
#define MAX_TESTS 512
#define WHY_LEN 1024

typedef enum { KIND_LOGITS, KIND_STAGE, KIND_GREEDY } line_kind;

typedef struct {
    hst_mode mode;
    int S;
    line_kind kind;
    char stage[32];
    char path[256];
    int rows, cols;
} manifest_line;

typedef struct {
    char name[96];
    char load_error[1100]; /* set when the model or its prompt cannot be read */
    hst_model *model;
    int *prompt;
    int n_prompt;
    manifest_line *lines;
    int n_lines;
} golden_model;

typedef enum { TEST_CASE, TEST_GREEDY, TEST_CAUSAL_DECODE, TEST_PARITY_DECODE, TEST_NOT_IMPLEMENTED } test_kind;

typedef struct {
    golden_model *gm;
    test_kind kind;
    hst_mode mode;
    int S;
    int line; /* TEST_GREEDY: its manifest line */
} golden_test;

static golden_model models[MAX_MODELS];
static int n_models;
static golden_test test_args[MAX_TESTS];
static char test_names[MAX_TESTS][160];

static const char *golden_dir(void)
{
    const char *d = getenv("HSTPROF_GOLDEN_DIR");
    return (d && *d) ? d : harness_source("tests/golden");
}

/* ---- reading the data -------------------------------------------------------------- */

/* Comma-separated integers; the count, or -1 when unreadable or malformed. */
static int read_ids(const char *path, int **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int cap = 256, n = 0, bad = 0;
    int *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) {
        fclose(f);
        return -1;
    }
    long v;
    char sep;
    while (fscanf(f, " %ld", &v) == 1) {
        if (v < 0 || v > 1000000000L)
            bad = 1;
        if (n == cap) {
            int *more = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
            if (!more)
                break;
            ids = more;
        }
        ids[n++] = (int)v;
        if (fscanf(f, " %c", &sep) != 1)
            break;
        if (sep != ',')
            bad = 1;
    }
    fclose(f);
    if (bad || n == 0) {
        free(ids);
        return -1;
    }
    *out = ids;
    return n;
}

/* Raw little-endian float32 of exactly count values; NULL otherwise. */
static float *read_f32(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *raw = malloc(count * 4 + 1);
    float *out = malloc(count * sizeof *out);
    size_t got = raw ? fread(raw, 1, count * 4 + 1, f) : 0;
    fclose(f);
    if (!raw || !out || got != count * 4) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 | (uint32_t)raw[4 * i + 2] << 16 |
                     (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
    free(raw);
    return out;
}

static int parse_line(const char *text, manifest_line *ml)
{
    char mode[16], kind[16];
    if (sscanf(text, "%15s %d %15s %31s %255s %d %d", mode, &ml->S, kind, ml->stage, ml->path, &ml->rows,
               &ml->cols) != 7)
        return -1;
    if (hst_mode_from_name(mode, &ml->mode) != 0 || ml->S < 1 || ml->rows < 1 || ml->cols < 1)
        return -1;
    if (strcmp(kind, "logits") == 0)
        ml->kind = KIND_LOGITS;
    else if (strcmp(kind, "stage") == 0)
        ml->kind = KIND_STAGE;
    else if (strcmp(kind, "greedy") == 0)
        ml->kind = KIND_GREEDY;
    else
        return -1;
    return 0;
}

static void read_manifest(golden_model *gm, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(gm->load_error, sizeof gm->load_error, "%s: cannot open the manifest", path);
        return;
    }
    char text[1024];
    int cap = 0, number = 0;
    while (fgets(text, sizeof text, f)) {
        number++;
        if (text[0] == '#' || text[strspn(text, " \t\r\n")] == '\0')
            continue;
        if (gm->n_lines == cap) {
            cap = cap ? 2 * cap : 64;
            manifest_line *more = realloc(gm->lines, (size_t)cap * sizeof *more);
            if (!more)
                break;
            gm->lines = more;
        }
        if (parse_line(text, &gm->lines[gm->n_lines]) != 0) {
            snprintf(gm->load_error, sizeof gm->load_error, "%s:%d: not 'mode S kind stage path rows cols'", path,
                     number);
            break;
        }
        gm->n_lines++;
    }
    fclose(f);
}

static void open_model(golden_model *gm)
{
    char path[512];
    hst_error err = {{0}};
    snprintf(path, sizeof path, "%s/%s.cases.txt", golden_dir(), gm->name);
    read_manifest(gm, path);
    if (gm->load_error[0])
        return;
    snprintf(path, sizeof path, "%s/%s.prompt.txt", golden_dir(), gm->name);
    if ((gm->n_prompt = read_ids(path, &gm->prompt)) < 1) {
        snprintf(gm->load_error, sizeof gm->load_error, "%s: cannot read the prompt ids", path);
        return;
    }
    snprintf(path, sizeof path, "%s/%s.safetensors", golden_dir(), gm->name);
    if (!(gm->model = hst_model_load(path, &err)))
        snprintf(gm->load_error, sizeof gm->load_error, "%s", err.msg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const golden_model *)a)->name, ((const golden_model *)b)->name);
}

/* Every <m>.cases.txt of the data directory, in name order. */
static int find_models(void)
{
    DIR *dir = opendir(golden_dir());
    if (!dir)
        return -1;
    const struct dirent *e;
    const char *suffix = ".cases.txt";
    const size_t ls = strlen(suffix);
    while ((e = readdir(dir)) && n_models < MAX_MODELS) {
        size_t len = strlen(e->d_name);
        if (len > ls && len - ls < sizeof models[0].name && strcmp(e->d_name + len - ls, suffix) == 0)
            snprintf(models[n_models++].name, sizeof models[0].name, "%.*s", (int)(len - ls), e->d_name);
    }
    closedir(dir);
    qsort(models, (size_t)n_models, sizeof models[0], by_name);
    return n_models;
}

/* ---- running the engine -------------------------------------------------------------- */

/* Stages the current case wants, filled by the hook. */
typedef struct {
    const manifest_line *line;
    float *rows; /* [line->rows][line->cols] */
    int calls, got_rows;
} stage_capture;

typedef struct {
    stage_capture *want;
    int n_want;
} stage_recorder;

static void record_stage(void *user, const char *stage, const float *rows, int n_rows, int ld)
{
    stage_recorder *r = user;
    for (int i = 0; i < r->n_want; i++) {
        stage_capture *c = &r->want[i];
        if (strcmp(c->line->stage, stage) != 0)
            continue;
        c->calls++;
        c->got_rows = n_rows;
        for (int k = 0; k < n_rows && k < c->line->rows; k++)
            memcpy(c->rows + (size_t)k * c->line->cols, rows + (size_t)k * ld, (size_t)c->line->cols * sizeof *rows);
    }
}

typedef struct {
    hst_pool *pool;
    hst_session *s;
} runner;

static void runner_open(runner *r, const golden_model *gm, int threads, hst_mode mode)
{
    hst_error err = {{0}};
    r->pool = hst_pool_create(threads, NULL, NULL, &err);
    hst_pool_set_adaptive(r->pool, 0); /* every job on the whole team: the test compares thread counts */
    if (!r->pool)
        fail_msg("%s: hst_pool_create(%d): %s", gm->name, threads, err.msg);
    r->s = hst_session_create(gm->model, r->pool, &err);
    if (!r->s || hst_session_set_mode(r->s, mode, &err) != 0) {
        hst_session_free(r->s);
        hst_pool_free(r->pool);
        fail_msg("%s: session in %s mode: %s", gm->name, hst_mode_name(mode), err.msg);
    }
}

static void runner_close(runner *r)
{
    hst_session_free(r->s);
    hst_pool_free(r->pool);
}

/* Prefill of the first S prompt ids, logits of every row; 0 or -1 with why. */
static int prefill(const golden_model *gm, int threads, hst_mode mode, int S, float *logits,
                   stage_recorder *rec, char *why)
{
    if (S > gm->n_prompt) {
        snprintf(why, WHY_LEN, "%s: a case of S=%d but the prompt has %d ids", gm->name, S, gm->n_prompt);
        return -1;
    }
    runner r;
    hst_error err = {{0}};
    runner_open(&r, gm, threads, mode);
    if (rec)
        hst_session_set_stage_hook(r.s, record_stage, rec);
    int rc = hst_forward(r.s, gm->prompt, S, logits, 1, &err);
    if (rc != 0)
        snprintf(why, WHY_LEN, "%s: %s prefill of %d tokens (%d threads): %s", gm->name, hst_mode_name(mode), S,
                 threads, err.msg);
    runner_close(&r);
    return rc;
}

/* Max |a - b| over n values (NaN counts as infinite); *at receives where. */
static double max_abs_diff(const float *a, const float *b, size_t n, size_t *at)
{
    double worst = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d))
            d = INFINITY;
        if (d > worst) {
            worst = d;
            *at = i;
        }
    }
    return worst;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

static float *golden_data(const golden_model *gm, const manifest_line *ml, char *why)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", golden_dir(), ml->path);
    float *data = read_f32(path, (size_t)ml->rows * ml->cols);
    if (!data)
        snprintf(why, WHY_LEN, "%s: %s: missing, or not %d x %d float32", gm->name, path, ml->rows, ml->cols);
    return data;
}

/* The manifest line of (mode, S, logits); -1 when there is none. */
static int logits_line(const golden_model *gm, hst_mode mode, int S)
{
    for (int i = 0; i < gm->n_lines; i++) {
        const manifest_line *ml = &gm->lines[i];
        if (ml->kind == KIND_LOGITS && ml->mode == mode && ml->S == S)
            return i;
    }
    return -1;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void check_logits(const golden_model *gm, const manifest_line *ml, const float *logits, char *why)
{
    float *gold = golden_data(gm, ml, why);
    if (!gold)
        return;
    size_t at;
    double d = max_abs_diff(logits, gold, (size_t)ml->rows * ml->cols, &at);
    print_message("%s: %s S=%d logits: max |diff| %.3g (largest |logit| %.3g)\n", gm->name, hst_mode_name(ml->mode),
                  ml->S, d, max_abs(gold, (size_t)ml->rows * ml->cols));
    if (!(d <= GOLDEN_TOL))
        snprintf(why, WHY_LEN, "%s: %s S=%d: logits differ from the golden ones by %.6g > %g at row %zu col %zu: "
                 "engine %.7g, golden %.7g", gm->name, hst_mode_name(ml->mode), ml->S, d, GOLDEN_TOL,
                 at / (size_t)ml->cols, at % (size_t)ml->cols, (double)logits[at], (double)gold[at]);
    free(gold);
}

static void check_stage(const golden_model *gm, const stage_capture *c, char *why)
{
    const manifest_line *ml = c->line;
    if (c->calls != 1 || c->got_rows != ml->rows) {
        snprintf(why, WHY_LEN, "%s: %s S=%d: stage '%s' reached the hook %d time(s) with %d rows; want once with %d",
                 gm->name, hst_mode_name(ml->mode), ml->S, ml->stage, c->calls, c->got_rows, ml->rows);
        return;
    }
    float *gold = golden_data(gm, ml, why);
    if (!gold)
        return;
    size_t n = (size_t)ml->rows * ml->cols, at;
    double d = max_abs_diff(c->rows, gold, n, &at), scale = max_abs(gold, n);
    print_message("%s: %s S=%d stage %s: max |diff| %.3g (%.3g of its largest |value| %.3g)\n", gm->name,
                  hst_mode_name(ml->mode), ml->S, ml->stage, d, scale > 0 ? d / scale : d, scale);
    if (!(d <= GOLDEN_TOL * scale))
        snprintf(why, WHY_LEN, "%s: %s S=%d: stage '%s' differs by %.6g > %g x %.4g at row %zu col %zu: engine "
                 "%.7g, golden %.7g", gm->name, hst_mode_name(ml->mode), ml->S, ml->stage, d, GOLDEN_TOL, scale,
                 at / (size_t)ml->cols, at % (size_t)ml->cols, (double)c->rows[at], (double)gold[at]);
    free(gold);
}

/* One case: the prefill of S tokens in its mode, its logits and stages; then
 * the logits again with 3 threads, bit for bit. */
static void test_case(void **state)
{
    const golden_test *t = *state;
    const golden_model *gm = t->gm;
    char why[WHY_LEN] = "";
    const int V = hst_model_config(gm->model)->vocab_size, S = t->S;
    stage_capture want[64];
    stage_recorder rec = {want, 0};
    int logits_at = -1;
    for (int i = 0; i < gm->n_lines; i++) {
        const manifest_line *ml = &gm->lines[i];
        if (ml->mode != t->mode || ml->S != S || ml->kind == KIND_GREEDY)
            continue;
        if (ml->kind == KIND_LOGITS)
            logits_at = i;
        else if (rec.n_want < 64)
            want[rec.n_want++] = (stage_capture){ml, calloc((size_t)ml->rows * ml->cols, sizeof(float)), 0, 0};
    }
    float *logits = calloc((size_t)S * V, sizeof *logits), *again = calloc((size_t)S * V, sizeof *again);
    assert_non_null(logits);
    assert_non_null(again);
    if (prefill(gm, 1, t->mode, S, logits, &rec, why) == 0) {
        if (logits_at >= 0 && gm->lines[logits_at].rows == S && gm->lines[logits_at].cols == V)
            check_logits(gm, &gm->lines[logits_at], logits, why);
        else if (logits_at >= 0)
            snprintf(why, WHY_LEN, "%s: logits line of S=%d is not %d x %d", gm->name, S, S, V);
        for (int i = 0; i < rec.n_want && !why[0]; i++)
            check_stage(gm, &want[i], why);
        if (!why[0] && prefill(gm, 3, t->mode, S, again, NULL, why) == 0 &&
            memcmp(logits, again, (size_t)S * V * sizeof *logits) != 0)
            snprintf(why, WHY_LEN, "%s: %s S=%d: logits with 3 threads differ from 1 thread (12.0)", gm->name,
                     hst_mode_name(t->mode), S);
    }
    for (int i = 0; i < rec.n_want; i++)
        free(want[i].rows);
    free(logits);
    free(again);
    if (why[0])
        fail_msg("%s", why);
}

/* Greedy: a prefill of S prompt tokens, then one decode step per token. */
static void check_greedy(const golden_test *t, int threads)
{
    const golden_model *gm = t->gm;
    const manifest_line *ml = &gm->lines[t->line];
    char path[512], why[WHY_LEN] = "";
    snprintf(path, sizeof path, "%s/%s", golden_dir(), ml->path);
    int *gold = NULL, n = read_ids(path, &gold);
    if (n != ml->cols) {
        free(gold);
        fail_msg("%s: %s: want %d token ids, read %d", gm->name, path, ml->cols, n);
        return;
    }
    const int V = hst_model_config(gm->model)->vocab_size;
    float *logits = malloc((size_t)V * sizeof *logits);
    int *tokens = calloc((size_t)n, sizeof *tokens);
    assert_non_null(logits);
    assert_non_null(tokens);
    runner r;
    hst_error err = {{0}};
    runner_open(&r, gm, threads, t->mode);
    int rc = hst_forward(r.s, gm->prompt, ml->S, logits, 0, &err);
    for (int k = 0; rc == 0 && k < n; k++) {
        tokens[k] = hst_argmax(logits, V);
        if (k + 1 < n)
            rc = hst_forward(r.s, &tokens[k], 1, logits, 0, &err);
    }
    runner_close(&r);
    if (rc != 0)
        snprintf(why, WHY_LEN, "%s: %s greedy: %s", gm->name, hst_mode_name(t->mode), err.msg);
    for (int k = 0; k < n && !why[0]; k++)
        if (tokens[k] != gold[k])
            snprintf(why, WHY_LEN, "%s: %s greedy token %d (%d threads) is %d, golden %d", gm->name,
                     hst_mode_name(t->mode), k, threads, tokens[k], gold[k]);
    free(logits);
    free(tokens);
    free(gold);
    if (why[0])
        fail_msg("%s", why);
    print_message("%s: %s greedy: %d tokens match (%d thread(s))\n", gm->name, hst_mode_name(t->mode), n, threads);
}

static void test_greedy(void **state)
{
    check_greedy(*state, 1);
    check_greedy(*state, 2);
}

/* The causal case of S rows computed in calls of the sizes chunks[] (cycled):
 * every row within 1e-5 of own and 1e-4 of gold. */
static void check_causal_split(const golden_model *gm, int S, const int *chunks, int n_chunks, const char *label,
                               const float *own, const float *gold, char *why)
{
    const int V = hst_model_config(gm->model)->vocab_size;
    float *rows = calloc((size_t)S * V, sizeof *rows);
    assert_non_null(rows);
    runner r;
    hst_error err = {{0}};
    runner_open(&r, gm, 1, HST_MODE_CAUSAL);
    int rc = 0;
    for (int t = 0, k = 0; rc == 0 && t < S; k++) {
        int n = chunks[k % n_chunks];
        n = n < S - t ? n : S - t;
        rc = hst_forward(r.s, gm->prompt + t, n, rows + (size_t)t * V, 1, &err);
        t += n;
    }
    runner_close(&r);
    size_t at_own = 0, at_gold = 0;
    double d_own = rc ? INFINITY : max_abs_diff(rows, own, (size_t)S * V, &at_own);
    double d_gold = rc ? INFINITY : max_abs_diff(rows, gold, (size_t)S * V, &at_gold);
    print_message("%s: causal S=%d in %s: max |diff| %.3g vs own prefill, %.3g vs golden\n", gm->name, S, label,
                  d_own, d_gold);
    if (rc != 0)
        snprintf(why, WHY_LEN, "%s: causal chunked decode: %s", gm->name, err.msg);
    else if (!(d_own <= DECODE_TOL))
        snprintf(why, WHY_LEN, "%s: causal S=%d in %s differs from the prefill by %.6g > %g at row %zu (12.0)",
                 gm->name, S, label, d_own, DECODE_TOL, at_own / (size_t)V);
    else if (!(d_gold <= GOLDEN_TOL))
        snprintf(why, WHY_LEN, "%s: causal S=%d in %s differs from the golden rows by %.6g > %g at row %zu",
                 gm->name, S, label, d_gold, GOLDEN_TOL, at_gold / (size_t)V);
    free(rows);
}

static void test_causal_decode(void **state)
{
    const golden_test *t = *state;
    const golden_model *gm = t->gm;
    char why[WHY_LEN] = "";
    const int V = hst_model_config(gm->model)->vocab_size, S = t->S;
    float *gold = golden_data(gm, &gm->lines[logits_line(gm, HST_MODE_CAUSAL, S)], why);
    float *own = calloc((size_t)S * V, sizeof *own);
    assert_non_null(own);
    /* One token per call; uneven chunks that straddle 64-row blocks and pooling blocks. */
    static const int one[] = {1}, uneven[] = {1, 62, 3, 37, 64, 5, 129, 2};
    if (gold && prefill(gm, 1, HST_MODE_CAUSAL, S, own, NULL, why) == 0) {
        check_causal_split(gm, S, one, 1, "calls of 1 token", own, gold, why);
        if (!why[0])
            check_causal_split(gm, S, uneven, 8, "calls of 1, 62, 3, 37, 64, 5, 129, 2 tokens", own, gold, why);
    }
    free(gold);
    free(own);
    if (why[0])
        fail_msg("%s", why);
}

/* Under AddressSanitizer (about 15x slower) the long cases are left to the
 * release build, which checks every length: lengths past ASAN_MAX_S run the
 * same code paths (blocks, pooling, spines) at more rows, and made this the
 * longest suite of `make test`. */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_MAX_S 512
#else
#define ASAN_MAX_S 0 /* no limit */
#endif

static int too_long_here(int S) { return ASAN_MAX_S > 0 && S > ASAN_MAX_S; }

/* Parity decode: S - 1 tokens, then one; its row is the window's last (12.0). */
static void test_parity_decode(void **state)
{
    const golden_test *t = *state;
    const golden_model *gm = t->gm;
    char why[WHY_LEN] = "";
    const int V = hst_model_config(gm->model)->vocab_size;
    float *logits = calloc((size_t)V, sizeof *logits);
    assert_non_null(logits);
    double worst = 0;
    for (int i = 0; i < gm->n_lines && !why[0]; i++) {
        const manifest_line *ml = &gm->lines[i];
        if (ml->kind != KIND_LOGITS || ml->mode != HST_MODE_PARITY || ml->S < 2 || too_long_here(ml->S))
            continue;
        float *gold = golden_data(gm, ml, why);
        if (!gold)
            break;
        runner r;
        hst_error err = {{0}};
        runner_open(&r, gm, 1, HST_MODE_PARITY);
        int rc = hst_forward(r.s, gm->prompt, ml->S - 1, NULL, 0, &err);
        if (rc == 0)
            rc = hst_forward(r.s, gm->prompt + ml->S - 1, 1, logits, 0, &err);
        runner_close(&r);
        size_t at;
        double d = rc ? INFINITY : max_abs_diff(logits, gold + (size_t)(ml->S - 1) * V, (size_t)V, &at);
        worst = fmax(worst, d);
        if (rc != 0)
            snprintf(why, WHY_LEN, "%s: parity decode at %d: %s", gm->name, ml->S - 1, err.msg);
        else if (!(d <= GOLDEN_TOL))
            snprintf(why, WHY_LEN, "%s: parity decode at position %d differs from the golden window row by %.6g > %g",
                     gm->name, ml->S - 1, d, GOLDEN_TOL);
        free(gold);
    }
    free(logits);
    if (why[0])
        fail_msg("%s", why);
    print_message("%s: parity decode of every case's last token: max |diff| %.3g vs golden\n", gm->name, worst);
}

static void test_not_implemented(void **state)
{
    const golden_test *t = *state;
    hst_arch arch = hst_model_config(t->gm->model)->arch;
    print_message("NOTE: %s (arch %s, Core %c) is not implemented in this build; its golden cases are skipped\n",
                  t->gm->name, hst_arch_name(arch), hst_arch_core(arch));
    skip();
}

static void test_unreadable(void **state)
{
    const golden_test *t = *state;
    fail_msg("%s", t->gm->load_error);
}

/* ---- the list of tests ---------------------------------------------------------------- */

static int n_tests;

static void add_test(struct CMUnitTest *tests, golden_model *gm, test_kind kind, hst_mode mode, int S, int line,
                     CMUnitTestFunction fn, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static void add_test(struct CMUnitTest *tests, golden_model *gm, test_kind kind, hst_mode mode, int S, int line,
                     CMUnitTestFunction fn, const char *fmt, ...)
{
    if (n_tests >= MAX_TESTS)
        return;
    golden_test *t = &test_args[n_tests];
    *t = (golden_test){gm, kind, mode, S, line};
    int k = snprintf(test_names[n_tests], sizeof test_names[0], "%s: ", gm->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(test_names[n_tests] + k, sizeof test_names[0] - (size_t)k, fmt, ap);
    va_end(ap);
    tests[n_tests] = (struct CMUnitTest){test_names[n_tests], fn, NULL, NULL, t};
    n_tests++;
}

/* 1 when an earlier line has the same (mode, S) as line i: one test per case. */
static int case_seen(const golden_model *gm, int i)
{
    for (int j = 0; j < i; j++)
        if (gm->lines[j].kind != KIND_GREEDY && gm->lines[j].mode == gm->lines[i].mode &&
            gm->lines[j].S == gm->lines[i].S)
            return 1;
    return 0;
}


static void add_model_tests(struct CMUnitTest *tests, golden_model *gm)
{
    if (gm->load_error[0]) {
        add_test(tests, gm, TEST_CASE, HST_MODE_CAUSAL, 0, -1, test_unreadable, "readable");
        return;
    }
    if (!hst_arch_implemented(hst_model_config(gm->model)->arch)) {
        add_test(tests, gm, TEST_NOT_IMPLEMENTED, HST_MODE_CAUSAL, 0, -1, test_not_implemented,
                 "not implemented in this build");
        return;
    }
    int causal_max = 0, parity_cases = 0;
    for (int i = 0; i < gm->n_lines; i++) {
        const manifest_line *ml = &gm->lines[i];
        const char *mode = hst_mode_name(ml->mode);
        if (too_long_here(ml->S))
            continue;
        if (ml->kind == KIND_GREEDY) {
            add_test(tests, gm, TEST_GREEDY, ml->mode, ml->S, i, test_greedy, "%s greedy after %d tokens", mode,
                     ml->S);
            continue;
        }
        if (ml->kind == KIND_LOGITS && ml->mode == HST_MODE_CAUSAL && ml->S > causal_max)
            causal_max = ml->S;
        parity_cases += ml->kind == KIND_LOGITS && ml->mode == HST_MODE_PARITY && ml->S >= 2;
        if (!case_seen(gm, i))
            add_test(tests, gm, TEST_CASE, ml->mode, ml->S, -1, test_case, "%s prefill S=%d", mode, ml->S);
    }
    if (causal_max > 1)
        add_test(tests, gm, TEST_CAUSAL_DECODE, HST_MODE_CAUSAL, causal_max, -1, test_causal_decode,
                 "causal decode and chunked prefill of S=%d", causal_max);
    if (parity_cases)
        add_test(tests, gm, TEST_PARITY_DECODE, HST_MODE_PARITY, 0, -1, test_parity_decode,
                 "parity decode of each case's last token");
}

int main(void)
{
    static struct CMUnitTest tests[MAX_TESTS];
    if (find_models() <= 0) {
        fprintf(stderr, "test_golden_stage2: no <model>.cases.txt in %s (set HSTPROF_GOLDEN_DIR to the data, or "
                        "HSTPROF_SOURCE_DIR to the repository root)\n", golden_dir());
        return 1;
    }
    for (int m = 0; m < n_models; m++) {
        open_model(&models[m]);
        add_model_tests(tests, &models[m]);
    }
    int rc = _cmocka_run_group_tests("golden_stage2", tests, (size_t)n_tests, NULL, NULL);
    for (int m = 0; m < n_models; m++) {
        hst_model_free(models[m].model);
        free(models[m].prompt);
        free(models[m].lines);
    }
    return rc;
}
