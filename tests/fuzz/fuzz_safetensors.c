/* fuzz_safetensors.c — fuzz target for the safetensors loader (spec 9, issue 7).
 *
 * The loader takes a path and maps the file, so each input is written to a
 * memfd and loaded through /proc/self/fd/N: the real code path (open, fstat,
 * mmap) without touching the disk. Properties, beyond "no crash, no leak, no
 * sanitizer report, no hang":
 *   - a rejected file gives one line "<file>: <class>: <details>" whose class
 *     is one of spec 9.4's (or "cannot open" / "out of memory");
 *   - an accepted file is a model that runs: a session is created and a
 *     prefill of two tokens and one decode step succeed;
 *   - NaN/Inf weights are warned about in one line, and exactly such files
 *     fail under hst_load_opts.reject_nonfinite_weights, in the same words.
 */
#include "tests/fuzz/fuzz_targets.h"

#include "engine/hst.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Sessions allocate a KV cache of L·Lmax·D floats that the file's size does
 * not bound (Lmax up to 8192 costs no file bytes); running bigger accepted
 * models would only test malloc. */
#define RUN_KV_FLOATS_MAX (4u << 20)

static int input_fd = -1;
static char input_path[64];

static int write_input(const uint8_t *data, size_t size)
{
    if (input_fd < 0) {
        input_fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
        if (input_fd < 0)
            return -1;
        snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
    }
    if (ftruncate(input_fd, 0) != 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(input_fd, data + done, size - done, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

static const char *const error_classes[] = {
    "truncated",         "header too large", "bad header",  "unsupported dtype", "bad offsets",
    "missing tensor",    "unexpected tensor", "wrong shape", "bad metadata",      "bad spine",
    "cannot open",       "out of memory",    "non-finite weights",
};

/* "<path>: <class>: <details>", one line, a known class. */
static const char *check_error_line(const char *msg)
{
    size_t path_len = strlen(input_path);
    if (strchr(msg, '\n') || strchr(msg, '\r'))
        return "the load error is more than one line";
    if (strncmp(msg, input_path, path_len) != 0 || strncmp(msg + path_len, ": ", 2) != 0)
        return "the load error does not start with the file name";
    const char *cls = msg + path_len + 2;
    for (size_t i = 0; i < sizeof error_classes / sizeof error_classes[0]; i++) {
        size_t n = strlen(error_classes[i]);
        if (strncmp(cls, error_classes[i], n) == 0 && (cls[n] == ':' || cls[n] == ' '))
            return NULL;
    }
    return "the load error has no spec 9.4 class";
}

/* What an accepted file promises: it runs. */
static const char *run_model(const hst_model *m)
{
    static hst_pool *pool; /* one worker, created once: threads per input would only slow the fuzzer */
    hst_error err = {{0}};
    const hst_config *c = hst_model_config(m);
    if ((double)c->n_layers * c->max_seq_len * c->d_model > RUN_KV_FLOATS_MAX)
        return NULL;
    if (!pool && !(pool = hst_pool_create(1, NULL, NULL, &err)))
        return "cannot create a one-thread pool";
    hst_session *s = hst_session_create(m, pool, &err);
    if (!s)
        return "an accepted model has no session";
    const char *why = NULL;
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    int prompt[2] = {0, c->vocab_size - 1};
    int n_prompt = c->max_seq_len >= 3 ? 2 : 1; /* leave room for the decode step */
    if (!logits)
        why = "out of memory for logits";
    else if (hst_forward(s, prompt, n_prompt, logits, 0, &err) != 0)
        why = "an accepted model fails its prefill";
    else if (c->max_seq_len > n_prompt && hst_forward(s, prompt, 1, logits, 0, &err) != 0)
        why = "an accepted model fails a decode step";
    free(logits);
    hst_session_free(s);
    return why;
}

/* NaN/Inf weights: one warning line naming the file; the strict load rejects
 * exactly the files that have them, with the same words. */
static const char *check_nonfinite(const hst_model *m)
{
    char warning[1024];
    const char *first = NULL;
    uint64_t n = hst_model_nonfinite_weights(m, &first);
    if (hst_model_warning(m, warning, sizeof warning) != (n > 0) || (n > 0) != (first != NULL))
        return "the non-finite weight count, first tensor and warning disagree";
    if (n == 0)
        return NULL;
    if (strchr(warning, '\n') || strncmp(warning, input_path, strlen(input_path)) != 0)
        return "the non-finite weights warning is not one line naming the file";
    hst_error err = {{0}};
    const hst_load_opts strict = {.reject_nonfinite_weights = 1};
    hst_model *again = hst_model_load_opts(input_path, &strict, &err);
    if (again) {
        hst_model_free(again);
        return "reject_nonfinite_weights loaded a file with NaN/Inf weights";
    }
    return strcmp(err.msg, warning) == 0 ? NULL : "the strict load's error differs from the warning";
}

const char *fuzz_safetensors_input(const uint8_t *data, size_t size)
{
    if (write_input(data, size) != 0)
        return NULL; /* the machine, not the loader: nothing to learn */
    hst_error err = {{0}};
    hst_model *m = hst_model_load(input_path, &err);
    if (!m)
        return check_error_line(err.msg);
    hst_counts counts = hst_model_counts(m);
    const char *why = counts.n_tensors == hst_model_tensor_count(m) ? check_nonfinite(m)
                                                                     : "tensor counts disagree";
    if (!why)
        why = run_model(m);
    hst_model_free(m);
    return why;
}

#ifndef FUZZ_NO_LIBFUZZER_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = fuzz_safetensors_input(data, size);
    if (why) {
        fprintf(stderr, "fuzz_safetensors: property broken: %s\n", why);
        abort();
    }
    return 0;
}
#endif
