/* test_profiles.c — INI profiles: every key parses with the flags' rules,
 * every error class is one line "<file>:<line>: <problem>", unknown keys get
 * a "did you mean", a failed parse changes nothing, save/load round-trips
 * through a temporary XDG_CONFIG_HOME, user profiles shadow shipped ones, the
 * shipped profiles all load, and (through the binary, $HSTPROF) -p applies a
 * profile that flags then override. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "profiles/profiles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char shipped_dir[1024];

static int parse(const char *text, hst_settings *s, char *err, size_t err_size)
{
    return profile_parse(text, strlen(text), "x.ini", s, err, err_size);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- parsing --------------------------------------------------------------------- */

static void test_every_key_parses(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    char err[512] = "";
    const char *text = "# a comment\n"
                       "; another\n"
                       "\n"
                       "model = hst-v6.1\n"
                       "seed=42\n"
                       "  threads   =   3   # inline comment\n"
                       "affinity = 0,2,4-7\n"
                       "events = {cycles,instructions},task-clock\n"
                       "prompt = \"  Hello # not a comment; \\\"quoted\\\"\\nsecond line\\t\\\\ \"\n"
                       "tokens = 64\n"
                       "temperature = 0.8\n"
                       "top_k = 40\n"
                       "precision = f32\n"
                       "kernel = portable\r\n"
                       "models = hst-v4,hst-v6\n"
                       "seq = 16,32\n"
                       "warmup = 0\n"
                       "runs = 3";
    if (parse(text, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(s.model, "hst-v6.1");
    assert_true(s.seed == 42);
    assert_int_equal(s.threads, 3);
    assert_string_equal(s.affinity, "0,2,4-7");
    assert_string_equal(s.events, "{cycles,instructions},task-clock");
    assert_string_equal(s.prompt, "  Hello # not a comment; \"quoted\"\nsecond line\t\\ ");
    assert_int_equal(s.n_tokens, 64);
    assert_true(s.temperature == 0.8);
    assert_int_equal(s.top_k, 40);
    assert_string_equal(s.precision, "f32");
    assert_string_equal(s.kernel, "portable");
    assert_string_equal(s.models, "hst-v4,hst-v6");
    assert_string_equal(s.seq, "16,32");
    assert_int_equal(s.warmup, 0);
    assert_int_equal(s.runs, 3);
}

/* Keys the file leaves out keep what the caller had: defaults, then profile, then flags. */
static void test_absent_keys_keep_their_value(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    s.n_tokens = 7; /* as if set by an earlier layer */
    char err[256];
    assert_int_equal(parse("threads = 2\n", &s, err, sizeof err), 0);
    assert_int_equal(s.threads, 2);
    assert_int_equal(s.n_tokens, 7);
    assert_string_equal(s.model, "hst-v4");
}

typedef struct {
    const char *text;
    const char *message; /* the whole expected line */
} error_case;

static void test_every_error_is_one_line_with_file_and_line(void **state)
{
    (void)state;
    static const error_case cases[] = {
        {"model = hst-v4\n\nthread = 4\n", "x.ini:3: unknown key 'thread' (did you mean 'threads'?)"},
        {"Threads = 4\n", "x.ini:1: unknown key 'Threads' (did you mean 'threads'?)"},
        {"top-k = 4\n", "x.ini:1: unknown key 'top-k' (did you mean 'top_k'?)"},
        {"frobnicate = 1\n", "x.ini:1: unknown key 'frobnicate' (keys: model, seed, threads, affinity, events, "
                             "prompt, tokens, temperature, top_k, precision, kernel, mode, models, seq, gen, warmup, "
                             "runs, delay)"},
        {"delay = 0\n", "x.ini:1: delay expects a whole number from 1 to 100, got '0'"},
        {"threads = 2\nthreads = 3\n", "x.ini:2: 'threads' is set twice (first on line 1)"},
        {"threads 4\n", "x.ini:1: expected 'key = value', got 'threads 4'"},
        {" = 4\n", "x.ini:1: missing key before '='"},
        {"[run]\n", "x.ini:1: sections are not used in profiles: write 'key = value' lines (got '[run]')"},
        {"threads = many\n", "x.ini:1: threads expects a whole number from 0 to 1024, got 'many'"},
        {"threads = 2000\n", "x.ini:1: threads expects a whole number from 0 to 1024, got '2000'"},
        {"threads =\n", "x.ini:1: threads expects a whole number from 0 to 1024, got ''"},
        {"runs = 0\n", "x.ini:1: runs expects a whole number from 1 to 100000, got '0'"},
        {"seed = -1\n", "x.ini:1: seed expects a non-negative whole number, got '-1'"},
        {"seed = 99999999999999999999\n", "x.ini:1: seed expects a non-negative whole number, got "
                                         "'99999999999999999999'"},
        {"temperature = hot\n", "x.ini:1: temperature expects a number from 0 to 1e+06, got 'hot'"},
        {"temperature = nan\n", "x.ini:1: temperature expects a number from 0 to 1e+06, got 'nan'"},
        {"affinity = sideways\n", "x.ini:1: affinity must be none, compact, scatter or a PU list like 0,2,4-7, "
                                  "got 'sideways'"},
        {"affinity = 3-1\n", "x.ini:1: affinity must be none, compact, scatter or a PU list like 0,2,4-7, got '3-1'"},
        {"precision = fp8\n", "x.ini:1: precision must be f32, bf16 or int8, got 'fp8'"},
        {"kernel = avx1024\n", "x.ini:1: kernel must be auto, avx512, avx2 or portable, got 'avx1024'"},
        {"models = hst-v4,,hst-v6\n", "x.ini:1: models has an empty entry in 'hst-v4,,hst-v6'"},
        {"models =\n", "x.ini:1: models is empty (give presets or files, comma-separated, or all)"},
        {"model = \"\"\n", "x.ini:1: model is empty (give a preset such as hst-v4, or a safetensors file)"},
        {"seq = 128,x\n", "x.ini:1: seq: '128,x' is not a comma-separated list of whole numbers"},
        {"seq = 0\n", "x.ini:1: seq: 0 is outside 1..8192"},
        {"prompt = \"open\n", "x.ini:1: missing closing quote"},
        {"prompt = \"a\\qb\"\n", "x.ini:1: unknown escape '\\q' in a quoted value (use \\\\, \\\", \\n or \\t)"},
        {"prompt = \"a\" b\n", "x.ini:1: unexpected text after the closing quote: 'b'"},
        {"top_k = 40\n", "x.ini:1: top_k needs temperature > 0 (with temperature 0 decoding is greedy)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hst_settings s, before;
        settings_defaults(&s);
        before = s;
        char err[512] = "";
        if (parse(cases[i].text, &s, err, sizeof err) != -1)
            fail_msg("case %zu ('%s') parsed", i, cases[i].text);
        if (strcmp(err, cases[i].message) != 0)
            fail_msg("case %zu: got      '%s'\n          expected '%s'", i, err, cases[i].message);
        assert_null(strchr(err, '\n'));
        assert_memory_equal(&s, &before, sizeof s); /* nothing applied */
    }
}

static void test_too_long_value_and_nul_byte(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    char err[512];
    char *text = malloc(6000);
    snprintf(text, 6000, "model = ");
    memset(text + 8, 'm', 5000);
    text[5008] = '\0';
    assert_int_equal(parse(text, &s, err, sizeof err), -1);
    assert_string_equal(err, "x.ini:1: model is too long (5000 bytes, at most 1023)");
    free(text);
    const char with_nul[] = "threads = 2\nmodel = a\0b\n";
    assert_int_equal(profile_parse(with_nul, sizeof with_nul - 1, "x.ini", &s, err, sizeof err), -1);
    assert_string_equal(err, "x.ini:2: contains a NUL byte (a profile is a text file)");
}

/* ---- files, names, directories ------------------------------------------------------ */

static void test_load_names_the_file_in_errors(void **state)
{
    (void)state;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/bad.ini", tmpdir);
    write_file(path, "# bad\nmodel = hst-v4\nthread = 4\n");
    hst_settings s;
    settings_defaults(&s);
    assert_int_equal(profile_load(path, &s, err, sizeof err), -1);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s:3: unknown key 'thread' (did you mean 'threads'?)", path);
    assert_string_equal(err, expected);
    snprintf(path, sizeof path, "%s/none.ini", tmpdir);
    assert_int_equal(profile_load(path, &s, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s: cannot read profile: No such file or directory", path);
    assert_string_equal(err, expected);
}

static void test_unknown_name_suggests_the_nearest(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    char err[1024];
    assert_int_equal(profile_load("defualt", &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profile 'defualt' not found in "));
    assert_non_null(strstr(err, "(did you mean 'default'?)"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(profile_load("bad name!", &s, err, sizeof err), -1);
    assert_string_equal(err, "'bad name!' is neither a profile name (letters, digits, '.', '_', '-') nor a file path");
}

static int settings_equal(const hst_settings *a, const hst_settings *b)
{
    return strcmp(a->model, b->model) == 0 && a->seed == b->seed && a->threads == b->threads &&
           strcmp(a->affinity, b->affinity) == 0 && strcmp(a->events, b->events) == 0 &&
           strcmp(a->prompt, b->prompt) == 0 && a->n_tokens == b->n_tokens && a->temperature == b->temperature &&
           a->top_k == b->top_k && strcmp(a->precision, b->precision) == 0 && strcmp(a->kernel, b->kernel) == 0 &&
           strcmp(a->mode, b->mode) == 0 && strcmp(a->models, b->models) == 0 && strcmp(a->seq, b->seq) == 0 &&
           a->gen == b->gen && a->warmup == b->warmup && a->runs == b->runs;
}

static void test_save_and_load_round_trip(void **state)
{
    (void)state;
    char xdg[512], err[1024], path[1024], expected[1024];
    snprintf(xdg, sizeof xdg, "%s/xdg-round-trip", tmpdir); /* does not exist: save creates it */
    setenv("XDG_CONFIG_HOME", xdg, 1);
    hst_settings s;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "/models/my model #1.safetensors");
    s.seed = 18446744073709551615ull;
    s.threads = 3;
    snprintf(s.affinity, sizeof s.affinity, "scatter");
    snprintf(s.events, sizeof s.events, "{cycles,instructions};x");
    snprintf(s.prompt, sizeof s.prompt, " lead \"quote\" back\\slash\nnew line\ttab ");
    s.n_tokens = 33;
    s.temperature = 0.1 + 0.2; /* needs all 17 digits to read back */
    s.top_k = 5;
    snprintf(s.models, sizeof s.models, "all");
    snprintf(s.seq, sizeof s.seq, "8,16");
    snprintf(s.mode, sizeof s.mode, "parity,causal");
    s.gen = 0;
    s.warmup = 1;
    s.runs = 9;
    if (profile_save(&s, "mine", path, sizeof path, err, sizeof err) != 0)
        fail_msg("%s", err);
    snprintf(expected, sizeof expected, "%s/hstprof/profiles/mine.ini", xdg);
    assert_string_equal(path, expected);
    hst_settings back;
    settings_defaults(&back);
    if (profile_load("mine", &back, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(settings_equal(&s, &back));
    assert_string_equal(back.name, "mine");
    /* Saving again replaces the file atomically. */
    s.threads = 4;
    assert_int_equal(profile_save(&s, "mine", path, sizeof path, err, sizeof err), 0);
    assert_int_equal(profile_load("mine", &back, err, sizeof err), 0);
    assert_int_equal(back.threads, 4);
    unsetenv("XDG_CONFIG_HOME");
}

/* The dashboard's p key saves a model named relative to where it runs: the
 * profile holds the absolute path, so -p NAME finds it from anywhere. */
static void test_saved_model_path_is_absolute(void **state)
{
    (void)state;
    char xdg[512], dir[512], model[600], err[1024], path[1024], cwd[1024];
    snprintf(xdg, sizeof xdg, "%s/xdg-absolute", tmpdir);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    snprintf(dir, sizeof dir, "%s/models-here", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(model, sizeof model, "%s/mine.safetensors", dir);
    write_file(model, "weights");
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    hst_settings s;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "mine.safetensors");
    int rc = profile_save(&s, "relative", path, sizeof path, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("%s", err);
    hst_settings back;
    settings_defaults(&back);
    assert_int_equal(profile_load("relative", &back, err, sizeof err), 0);
    assert_string_equal(back.model, model);
    unsetenv("XDG_CONFIG_HOME");
}

/* A relative model in a profile is read from the profile's directory, and
 * where it was set is kept for the message when it is missing. */
static void test_relative_model_is_read_from_the_profile_directory(void **state)
{
    (void)state;
    hst_settings s;
    char err[1024];
    settings_defaults(&s);
    const char text[] = "model = w.st\nmodels = hst-v4,sub/w.st,/abs/w.st\n";
    assert_int_equal(profile_parse(text, strlen(text), "/p/q/x.ini", &s, err, sizeof err), 0);
    assert_string_equal(s.model, "/p/q/w.st");
    assert_string_equal(s.models, "hst-v4,/p/q/sub/w.st,/abs/w.st");
    assert_string_equal(s.model_from, "/p/q/x.ini:1");
    assert_string_equal(s.models_from, "/p/q/x.ini:2");
    settings_defaults(&s);
    assert_int_equal(profile_parse(text, strlen(text), "x.ini", &s, err, sizeof err), 0); /* the current directory */
    assert_string_equal(s.model, "w.st");
}

static void test_save_refuses_bad_names_and_unwritable_places(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    char err[1024], path[1024], xdg[512];
    assert_int_equal(profile_save(&s, "../escape", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "'../escape' is not a profile name"));
    assert_int_equal(profile_save(&s, "", path, sizeof path, err, sizeof err), -1);
    /* A file where the directory should be. */
    snprintf(xdg, sizeof xdg, "%s/xdg-blocked", tmpdir);
    mkdir(xdg, 0755);
    char blocker[600];
    snprintf(blocker, sizeof blocker, "%s/hstprof", xdg);
    write_file(blocker, "not a directory");
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_int_equal(profile_save(&s, "x", path, sizeof path, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create directory"));
    assert_null(strchr(err, '\n'));
    unsetenv("XDG_CONFIG_HOME");
}

static void test_user_profiles_shadow_shipped_ones(void **state)
{
    (void)state;
    char xdg[512], err[1024], path[1024];
    snprintf(xdg, sizeof xdg, "%s/xdg-shadow", tmpdir);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    hst_settings s;
    settings_defaults(&s);
    s.n_tokens = 11;
    assert_int_equal(profile_save(&s, "default", path, sizeof path, err, sizeof err), 0);
    hst_settings loaded;
    settings_defaults(&loaded);
    assert_int_equal(profile_load("default", &loaded, err, sizeof err), 0);
    assert_int_equal(loaded.n_tokens, 11); /* the user's, not the shipped 128 */
    profile_info *list = NULL;
    int n = profile_list(&list, err, sizeof err);
    assert_true(n >= 6);
    int user_default = -1, shipped_default = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, "default") == 0) {
            if (list[i].user)
                user_default = i;
            else
                shipped_default = i;
        }
    assert_true(user_default >= 0 && shipped_default == user_default + 1);
    assert_true(list[shipped_default].shadowed);
    assert_false(list[user_default].shadowed);
    free(list);
    unsetenv("XDG_CONFIG_HOME");
}

static void test_shipped_profiles_all_load(void **state)
{
    (void)state;
    static const char *const names[] = {"default", "single-thread", "all-cores-compact", "all-cores-scatter",
                                        "seed-benchmark"};
    char err[1024];
    setenv("XDG_CONFIG_HOME", "/nonexistent-hstprof-test", 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hst_settings s;
        settings_defaults(&s);
        if (profile_load(names[i], &s, err, sizeof err) != 0)
            fail_msg("%s: %s", names[i], err);
        assert_string_equal(s.name, names[i]);
    }
    /* Every shipped file, listed, loads (and has a description). */
    profile_info *list = NULL;
    int n = profile_list(&list, err, sizeof err);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        if (!list[i].valid)
            fail_msg("%s: %s", list[i].path, list[i].summary);
        assert_true(strlen(list[i].description) > 0);
    }
    free(list);
    /* The default profile is the built-in defaults; seed-benchmark is the published configuration. */
    hst_settings defaults, s;
    settings_defaults(&defaults);
    settings_defaults(&s);
    assert_int_equal(profile_load("default", &s, err, sizeof err), 0);
    assert_true(settings_equal(&s, &defaults));
    assert_int_equal(profile_load("seed-benchmark", &s, err, sizeof err), 0);
    assert_string_equal(s.models, "all");
    assert_string_equal(s.seq, "128,256,512");
    assert_string_equal(s.mode, "parity"); /* the computation the report timed */
    assert_int_equal(s.warmup, 2);
    assert_int_equal(s.runs, 5);
    unsetenv("XDG_CONFIG_HOME");
}

/* Without HSTPROF_PROFILE_DIR the shipped directory is found from the binary
 * (build/tests/test_profiles -> ../../profiles). */
static void test_shipped_directory_found_beside_the_binary(void **state)
{
    (void)state;
    char dir[1024], err[512], bad_err[512], source_profiles[1024], cwd[900];
    unsetenv("HSTPROF_PROFILE_DIR");
    int found = profile_shipped_dir(dir, sizeof dir, err, sizeof err);
    setenv("HSTPROF_PROFILE_DIR", "/nonexistent-hstprof-dir", 1);
    int bad = profile_shipped_dir(cwd, sizeof cwd, bad_err, sizeof bad_err);
    setenv("HSTPROF_PROFILE_DIR", shipped_dir, 1); /* restored before any assertion */
    if (found != 0)
        fail_msg("%s", err);
    snprintf(source_profiles, sizeof source_profiles, "%s", harness_source("profiles"));
    assert_string_equal(dir, source_profiles);
    assert_int_equal(bad, -1);
    assert_string_equal(bad_err, "HSTPROF_PROFILE_DIR=/nonexistent-hstprof-dir: not a directory");
}

static void test_render_lists_every_key(void **state)
{
    (void)state;
    hst_settings s;
    settings_defaults(&s);
    char *text = profile_render(&s, "a description");
    assert_non_null(text);
    assert_true(strncmp(text, "# a description\n", 16) == 0);
    static const char *const keys[] = {"model", "seed", "threads", "affinity", "events", "prompt", "tokens",
                                       "temperature", "top_k", "precision", "kernel", "models", "seq", "warmup",
                                       "runs"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n%s = ", keys[i]);
        if (!strstr(text, line))
            fail_msg("no '%s' line in\n%s", keys[i], text);
    }
    free(text);
}

/* ---- through the binary ------------------------------------------------------------------ */

/* "$HSTPROF <args>", captured; the result lives until the next call. */
static cli_result *run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result *run_cli(const char *fmt, ...)
{
    static cli_result r;
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    harness_done(&r);
    r = harness_run(tmpdir, "%s", args);
    return &r;
}

static void test_cli_profile_then_flags(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/cli.ini", tmpdir);
    write_file(path, "# for the CLI test\ntokens = 7\nthreads = 1\nseed = 5\nprompt = \"Hi\"\n");
    cli_result *r = run_cli("run -p %s --format json", path);
    if (r->status != 0)
        fail_msg("status %d: %s", r->status, r->err);
    json_t *o = json_loads(r->out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "generated")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "threads")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "prompt_tokens")), 2);
    json_decref(o);
    /* A flag overrides the profile, wherever it stands. */
    r = run_cli("run -n 3 --profile %s --format json --prompt-tokens 1,2,3", path);
    assert_int_equal(r->status, 0);
    o = json_loads(r->out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "generated")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "prompt_tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "threads")), 1);
    json_decref(o);
    /* A broken profile: exit 2, one line naming file and line. */
    snprintf(path, sizeof path, "%s/broken.ini", tmpdir);
    write_file(path, "tokens = 7\nthread = 1\n");
    r = run_cli("run -p %s", path);
    assert_int_equal(r->status, 2);
    char expected[1024];
    snprintf(expected, sizeof expected, "hstprof run: %s:2: unknown key 'thread' (did you mean 'threads'?)\n", path);
    assert_string_equal(r->err, expected);
    r = run_cli("bench -p nosuchprofile");
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "profile 'nosuchprofile' not found"));
    r = run_cli("run -p");
    assert_int_equal(r->status, 2);
}

static void test_cli_bench_takes_a_profile(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bench.ini", tmpdir);
    write_file(path, "models = hst-v4,hst-v3\nseq = 8,16\ngen = 4\nmode = parity\nwarmup = 0\nruns = 2\nthreads = 1\n");
    cli_result *r = run_cli("bench -p %s --seq 8 --format json", path);
    if (r->status != 0)
        fail_msg("status %d: %s", r->status, r->err);
    json_t *o = json_loads(r->out, 0, NULL);
    assert_non_null(o);
    /* 2 models x (seq 8 (flag) + the profile's tg4) x 1 thread, in the profile's mode */
    assert_int_equal(json_array_size(json_object_get(o, "runs")), 2 * 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "runs"), 1), "test")), "tg4");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "runs"), 0), "mode")),
                        "parity");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "settings"), "runs")), 2);
    json_decref(o);
}

static void test_cli_profiles_lists_shipped_and_user(void **state)
{
    (void)state;
    char xdg[512], dir[600], path[700];
    snprintf(xdg, sizeof xdg, "%s/xdg-cli", tmpdir);
    snprintf(dir, sizeof dir, "%s/hstprof", xdg);
    mkdir(xdg, 0755);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/hstprof/profiles", xdg);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/single-thread.ini", dir);
    write_file(path, "# my own single thread\nthreads = 1\n");
    cli_result *r = run_cli("profiles --bogus");
    assert_int_equal(r->status, 2);
    r = run_cli("profiles"); /* XDG_CONFIG_HOME unset: $HOME/.config, inside the test's own directory */
    assert_int_equal(r->status, 0);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    r = run_cli("profiles");
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(r->status, 0);
    static const char *const expected[] = {"default", "all-cores-compact", "all-cores-scatter", "seed-benchmark",
                                           "my own single thread", "shadows the shipped profile",
                                           "shadowed: -p single-thread loads", "search order for -p NAME"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!strstr(r->out, expected[i]))
            fail_msg("'%s' missing from\n%s", expected[i], r->out);
}

static int setup(void **state)
{
    (void)state;
    if (harness_make_tmpdir(tmpdir, sizeof tmpdir, "profiles") != 0)
        return -1;
    /* The shipped profiles of this checkout, whichever binary runs the test. */
    snprintf(shipped_dir, sizeof shipped_dir, "%s", harness_source("profiles"));
    setenv("HSTPROF_PROFILE_DIR", shipped_dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return harness_remove_tmpdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_parses),
        cmocka_unit_test(test_absent_keys_keep_their_value),
        cmocka_unit_test(test_every_error_is_one_line_with_file_and_line),
        cmocka_unit_test(test_too_long_value_and_nul_byte),
        cmocka_unit_test(test_load_names_the_file_in_errors),
        cmocka_unit_test(test_unknown_name_suggests_the_nearest),
        cmocka_unit_test(test_save_and_load_round_trip),
        cmocka_unit_test(test_saved_model_path_is_absolute),
        cmocka_unit_test(test_relative_model_is_read_from_the_profile_directory),
        cmocka_unit_test(test_save_refuses_bad_names_and_unwritable_places),
        cmocka_unit_test(test_user_profiles_shadow_shipped_ones),
        cmocka_unit_test(test_shipped_profiles_all_load),
        cmocka_unit_test(test_shipped_directory_found_beside_the_binary),
        cmocka_unit_test(test_render_lists_every_key),
        cmocka_unit_test(test_cli_profile_then_flags),
        cmocka_unit_test(test_cli_bench_takes_a_profile),
        cmocka_unit_test(test_cli_profiles_lists_shipped_and_user),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
