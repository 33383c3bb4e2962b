/* fuzz_targets.h — the fuzz targets' entry points (issue 7).
 *
 * Each takes one input and returns NULL when every property held, or a short
 * description of the property that broke. The libFuzzer binaries of `make
 * fuzz` (tests/fuzz/fuzz_*.c, built with clang) abort on a non-NULL answer;
 * tests/test_fuzz_regressions.c feeds the saved crash inputs of
 * tests/fuzz/regressions/<target>/ through the same functions in the normal
 * `make test` builds (release and ASan, no clang needed). Crashes and
 * sanitizer reports need no answer: they end the process in both places. */
#ifndef HSTPROF_FUZZ_TARGETS_H
#define HSTPROF_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* The input is a safetensors file: loaded with hst_model_load (and, when it
 * loads, run for a few tokens). */
const char *fuzz_safetensors_input(const uint8_t *data, size_t size);
/* The input is an INI profile: parsed with profile_parse, then rendered and
 * parsed again. */
const char *fuzz_profile_input(const uint8_t *data, size_t size);
/* The input is a command line, arguments separated by NUL bytes: parsed with
 * args_parse against a table like `hstprof run`'s. */
const char *fuzz_args_input(const uint8_t *data, size_t size);

#endif
