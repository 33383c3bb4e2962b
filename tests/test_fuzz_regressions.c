/* test_fuzz_regressions.c — replays every input the fuzzers found a bug with
 * (tests/fuzz/regressions/<target>/) and every seed (tests/fuzz/corpus/<target>/)
 * through the fuzz targets' own entry points, so a fixed bug stays fixed in
 * the normal `make test` builds (release and ASan+UBSan; no clang needed).
 *
 * The targets are included, not linked: they are built for libFuzzer by
 * `make fuzz` and their file list is not the test helpers'. An input passes
 * when its target returns NULL (every property held) and nothing crashed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Included on purpose (see above). */
#define FUZZ_NO_LIBFUZZER_MAIN
#include "tests/fuzz/fuzz_args.c"        // NOLINT(bugprone-suspicious-include)
#include "tests/fuzz/fuzz_profile.c"     // NOLINT(bugprone-suspicious-include)
#include "tests/fuzz/fuzz_safetensors.c" // NOLINT(bugprone-suspicious-include)
#include "tests/harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef const char *(*fuzz_entry)(const uint8_t *data, size_t size);

static uint8_t *read_input(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *data = malloc((size_t)n + 1); /* + 1: an empty file is a valid input */
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of dir through entry; returns how many. A missing
 * directory counts 0 (regressions/<target>/ exists once a bug was found). */
static int replay_dir(const char *dir, fuzz_entry entry)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    int replayed = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && strcmp(names[i]->d_name, "README.md") != 0) {
            size_t size = 0;
            uint8_t *data = read_input(path, &size);
            const char *why = entry(data, size);
            if (why)
                fail_msg("%s: %s", path, why);
            free(data);
            replayed++;
        }
        free(names[i]);
    }
    free(names);
    return replayed;
}

static void replay_target(const char *target, fuzz_entry entry)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", harness_source("tests/fuzz/regressions"), target);
    int regressions = replay_dir(dir, entry);
    snprintf(dir, sizeof dir, "%s/%s", harness_source("tests/fuzz/corpus"), target);
    int seeds = replay_dir(dir, entry);
    print_message("%s: %d regression inputs, %d seeds\n", target, regressions, seeds);
    assert_true(seeds > 0); /* run from the wrong directory, the test would pass on nothing */
}

static void test_safetensors_inputs_keep_their_properties(void **state)
{
    (void)state;
    replay_target("safetensors", fuzz_safetensors_input);
}

static void test_profile_inputs_keep_their_properties(void **state)
{
    (void)state;
    replay_target("profile", fuzz_profile_input);
}

static void test_args_inputs_keep_their_properties(void **state)
{
    (void)state;
    replay_target("args", fuzz_args_input);
}

/* The checks themselves can fail: inputs that break a property on purpose. */
static void test_targets_report_broken_properties(void **state)
{
    (void)state;
    /* A profile whose error quotes a raw carriage return: one line only
     * because profile_parse replaces control characters. */
    static const char cr_profile[] = "threads = 4\r&x\n";
    assert_null(fuzz_profile_input((const uint8_t *)cr_profile, sizeof cr_profile - 1));
    assert_non_null(check_error("fuzz.ini:1: two\nlines"));
    assert_non_null(check_error("other.ini:1: wrong file"));
    assert_null(check_error("fuzz.ini:12: a problem"));
    char saved_path[sizeof input_path];
    memcpy(saved_path, input_path, sizeof input_path);
    snprintf(input_path, sizeof input_path, "/proc/self/fd/9");
    assert_non_null(check_error_line("/proc/self/fd/9: no such class: x"));
    assert_non_null(check_error_line("/proc/self/fd/9: bad header: two\nlines"));
    assert_null(check_error_line("/proc/self/fd/9: bad offsets: tensor x"));
    assert_non_null(check_output(ARGS_ERROR, "", 0, "a\nb\n", 4));
    assert_non_null(check_output(ARGS_OK, "", 0, "x\n", 2));
    assert_null(check_output(ARGS_ERROR, "", 0, "one line\n", 9));
    memcpy(input_path, saved_path, sizeof input_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_report_broken_properties),
        cmocka_unit_test(test_safetensors_inputs_keep_their_properties),
        cmocka_unit_test(test_profile_inputs_keep_their_properties),
        cmocka_unit_test(test_args_inputs_keep_their_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
