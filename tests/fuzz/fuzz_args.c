/* fuzz_args.c — fuzz target for the option parser every command uses
 * (profiles/args.c, issue 7).
 *
 * The input is a command line: arguments separated by NUL bytes, parsed
 * against a table with every option kind, shaped like `hstprof run`'s and
 * `hstprof bench`'s. Properties, beyond "no crash, no sanitizer report":
 *   - the result is ARGS_OK, ARGS_HELP or ARGS_ERROR;
 *   - ARGS_ERROR prints exactly one line on stderr and nothing on stdout
 *     (README: "Every error is one line on stderr"); ARGS_HELP prints the
 *     help on stdout; ARGS_OK prints nothing;
 *   - every stored value is within its option's bounds, strings fit their
 *     buffers, positional arguments are arguments of the command line;
 *   - the list helpers the commands apply to option values keep their bounds,
 *     and args_find_value (the -p pre-pass) returns NULL or a value of argv.
 */
#include "tests/fuzz/fuzz_targets.h"

#include "profiles/profiles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64
#define MAX_POSITIONAL 2
#define MAX_LIST 16

typedef struct {
    char model[64];
    uint64_t seed;
    int threads;
    char prompt_tokens[256];
    int n_tokens;
    int greedy;
    double temperature;
    int top_k;
    char format[16];
    char models[128];
    opt_string_list exports;
    int seen_prompt_tokens, seen_temperature;
} flags;

static const char *check_values(const flags *f, const opt_spec *opts, int n_opts)
{
    for (int i = 0; i < n_opts; i++) {
        const opt_spec *o = &opts[i];
        if (o->kind == OPT_STRING && !memchr(o->target, '\0', o->size))
            return "a string option is not terminated inside its buffer";
        if (o->kind == OPT_STRING_LIST) {
            const opt_string_list *l = o->target;
            if (l->n < 0 || l->n > OPT_LIST_MAX)
                return "a list option holds more values than it can";
            for (int k = 0; k < l->n; k++)
                if (!memchr(l->items[k], '\0', OPT_LIST_ITEM_MAX))
                    return "a list option's value is not terminated inside its buffer";
        }
        if (o->kind == OPT_INT) {
            int v = *(const int *)o->target;
            if (v != 0 && (v < o->min || v > o->max)) /* 0: never given */
                return "an int option is out of its bounds";
        }
    }
    /* 0: never stored (seen is set before the value is checked, so it cannot tell). */
    if (f->temperature != 0 && (!isfinite(f->temperature) || f->temperature < 1e-6 || f->temperature > 1e6))
        return "a float option is out of its bounds";
    if (f->greedy != 0 && f->greedy != 1)
        return "a flag is neither 0 nor 1";
    return NULL;
}

/* What cmd_run and cmd_bench do with list values next. */
static const char *check_lists(flags *f)
{
    int ids[MAX_LIST];
    char err[128];
    int n = args_parse_int_list(f->prompt_tokens, ids, MAX_LIST, 0, 4999, err, sizeof err);
    if (n > MAX_LIST || (n < 0 && !*err))
        return "args_parse_int_list broke its bounds or gave no reason";
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] > 4999)
            return "args_parse_int_list returned a value out of range";
    char *names[MAX_LIST];
    int k = args_split_list(f->models, names, MAX_LIST);
    if (k < 0 || k > MAX_LIST)
        return "args_split_list broke its bounds";
    for (int i = 0; i < k; i++)
        if (names[i] < f->models || names[i] >= f->models + sizeof f->models || !*names[i])
            return "args_split_list returned an empty or foreign entry";
    return NULL;
}

static int count_lines(const char *text, size_t len)
{
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    return lines;
}

/* argv from the input: NUL separates arguments; the copy keeps every
 * argument terminated even when the input does not end with a NUL. */
static int split_args(const uint8_t *data, size_t size, char *copy, char **argv)
{
    memcpy(copy, data, size);
    copy[size] = '\0';
    int argc = 0;
    argv[argc++] = "run";
    for (size_t at = 0; at < size && argc < MAX_ARGS; at += strlen(copy + at) + 1)
        argv[argc++] = copy + at;
    argv[argc] = NULL;
    return argc;
}

static const char *check_output(int rc, const char *out, size_t out_len, const char *err, size_t err_len)
{
    if (rc == ARGS_ERROR && (out_len != 0 || count_lines(err, err_len) != 1 || err[err_len - 1] != '\n'))
        return "ARGS_ERROR did not print exactly one line on stderr (and nothing on stdout)";
    if (rc == ARGS_HELP && (err_len != 0 || out_len == 0 || strncmp(out, "usage: ", 7) != 0))
        return "ARGS_HELP did not print only the help on stdout";
    if (rc == ARGS_OK && (err_len != 0 || out_len != 0))
        return "ARGS_OK printed something";
    return NULL;
}

const char *fuzz_args_input(const uint8_t *data, size_t size)
{
    flags f = {0};
    const opt_spec opts[] = {
        {"model", 'm', OPT_STRING, f.model, sizeof f.model, 0, 0, "PRESET|FILE", "model", NULL},
        {"seed", 0, OPT_U64, &f.seed, 0, 0, 0, "N", "seed", NULL},
        {"threads", 't', OPT_INT, &f.threads, 0, 1, 1024, "N", "threads", NULL},
        {"prompt-tokens", 0, OPT_STRING, f.prompt_tokens, sizeof f.prompt_tokens, 0, 0, "1,2,3", "ids",
         &f.seen_prompt_tokens},
        {"tokens", 'n', OPT_INT, &f.n_tokens, 0, 0, 1 << 20, "N", "tokens", NULL},
        {"greedy", 0, OPT_FLAG, &f.greedy, 0, 0, 0, NULL, "greedy", NULL},
        {"temperature", 0, OPT_FLOAT, &f.temperature, 0, 1e-6, 1e6, "T", "temperature", &f.seen_temperature},
        {"top-k", 0, OPT_INT, &f.top_k, 0, 1, 1 << 30, "K", "top-k", NULL},
        {"format", 0, OPT_STRING, f.format, sizeof f.format, 0, 0, "text|json", "format", NULL},
        {"models", 0, OPT_STRING, f.models, sizeof f.models, 0, 0, "LIST", "models", NULL},
        {"export", 0, OPT_STRING_LIST, &f.exports, 0, 0, 0, "FILE", "exports", NULL},
    };
    const opt_table table = {"hstprof fuzz", "hstprof fuzz [options] [A [B]]", "The fuzz target's table.", opts,
                             (int)(sizeof opts / sizeof opts[0]), MAX_POSITIONAL};
    char *copy = malloc(size + 1);
    char *argv[MAX_ARGS + 1];
    if (!copy)
        return NULL;
    int argc = split_args(data, size, copy, argv);

    /* The parser writes to stdout/stderr; capture both in memory. glibc's
     * stdout and stderr are assignable; sanitizer reports bypass them (fd 2). */
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *saved_out = stdout, *saved_err = stderr;
    FILE *out_stream = open_memstream(&out, &out_len), *err_stream = open_memstream(&err, &err_len);
    const char *why = NULL;
    if (!out_stream || !err_stream) { /* out of memory: nothing to learn */
        if (out_stream)
            fclose(out_stream);
        if (err_stream)
            fclose(err_stream);
        free(out);
        free(err);
        free(copy);
        return NULL;
    }
    stdout = out_stream;
    stderr = err_stream;
    char *positional[MAX_POSITIONAL] = {0};
    int n_positional = -1;
    /* The two-pass lookup (-p PROFILE before the flags) reads the same argv. */
    const char *found = args_find_value(&table, argc, argv, 1, "model");
    int rc = args_parse(&table, argc, argv, 1, positional, &n_positional);
    stdout = saved_out;
    stderr = saved_err;
    fclose(out_stream);
    fclose(err_stream);

    if (found && (found < copy || found > copy + size))
        why = "args_find_value returned a pointer outside the command line";
    if (!why && rc != ARGS_OK && rc != ARGS_HELP && rc != ARGS_ERROR)
        why = "args_parse returned an unknown status";
    if (!why)
        why = check_output(rc, out, out_len, err, err_len);
    if (!why && rc == ARGS_OK) {
        if (n_positional < 0 || n_positional > MAX_POSITIONAL)
            why = "the positional count is out of range";
        for (int i = 0; !why && i < n_positional; i++)
            if (!positional[i] || positional[i] < copy || positional[i] > copy + size)
                why = "a positional argument does not point into the command line";
    }
    if (!why)
        why = check_values(&f, opts, (int)(sizeof opts / sizeof opts[0]));
    if (!why)
        why = check_lists(&f);
    free(out);
    free(err);
    free(copy);
    return why;
}

#ifndef FUZZ_NO_LIBFUZZER_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = fuzz_args_input(data, size);
    if (why) {
        fprintf(stderr, "fuzz_args: property broken: %s\n", why);
        abort();
    }
    return 0;
}
#endif
