/* fuzz_profile.c — fuzz target for the INI profile parser (profiles/profile.c,
 * issue 7).
 *
 * The input is a profile's text, parsed with profile_parse over the
 * defaults, as `-p FILE` does. Properties, beyond "no crash, no sanitizer
 * report":
 *   - a rejected profile gives one line "<file>:<line>: <problem>" and leaves
 *     the settings untouched (profiles.h);
 *   - an accepted profile keeps every value within its key's bounds, and
 *     what profile_render writes for it parses back to the same settings
 *     (profile_save relies on this: "a saved profile always loads").
 */
#include "tests/fuzz/fuzz_targets.h"

#include "profiles/profiles.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_NAME "fuzz.ini"

static const char *check_error(const char *err)
{
    if (strchr(err, '\n') || strchr(err, '\r'))
        return "the profile error is more than one line";
    size_t n = strlen(FILE_NAME);
    const char *p = err + n + 1;
    if (strncmp(err, FILE_NAME ":", n + 1) != 0 || !isdigit((unsigned char)*p))
        return "the profile error does not start with <file>:<line>:";
    while (isdigit((unsigned char)*p))
        p++;
    if (strncmp(p, ": ", 2) != 0 || !p[2])
        return "the profile error does not start with <file>:<line>: and a problem";
    return NULL;
}

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* The bounds of profiles.h's keys (the flags' rules). */
static const char *check_settings(const hst_settings *s)
{
    if (!TERMINATED(s->name) || !TERMINATED(s->model) || !TERMINATED(s->affinity) || !TERMINATED(s->events) ||
        !TERMINATED(s->prompt) || !TERMINATED(s->precision) || !TERMINATED(s->kernel) ||
        !TERMINATED(s->models) || !TERMINATED(s->seq))
        return "a string setting is not terminated inside its field";
    if (s->threads < 0 || s->threads > 1024 || s->n_tokens < 0 || s->n_tokens > (1 << 20) || s->top_k < 0 ||
        s->warmup < 0 || s->warmup > 1000 || s->runs < 1 || s->runs > 100000)
        return "an integer setting is out of its key's bounds";
    if (!isfinite(s->temperature) || s->temperature < 0 || s->temperature > 1e6)
        return "temperature is out of its key's bounds";
    if (s->top_k > 0 && s->temperature <= 0)
        return "top_k without a temperature was accepted";
    if (!*s->model)
        return "an empty model was accepted";
    return NULL;
}

/* render -> parse -> render gives the same text. */
static const char *check_round_trip(const hst_settings *s)
{
    char *first = profile_render(s, "fuzz");
    if (!first)
        return NULL; /* out of memory */
    hst_settings again;
    settings_defaults(&again);
    char err[512] = "";
    const char *why = NULL;
    if (profile_parse(first, strlen(first), "rendered.ini", &again, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_profile: the rendered profile fails: %s\n", err);
        why = "a rendered profile does not parse back";
    } else {
        char *second = profile_render(&again, "fuzz");
        if (second && strcmp(first, second) != 0)
            why = "a rendered profile parses back to different settings";
        free(second);
    }
    free(first);
    return why;
}

const char *fuzz_profile_input(const uint8_t *data, size_t size)
{
    hst_settings s, before;
    settings_defaults(&s);
    before = s;
    char err[512];
    memset(err, 0, sizeof err);
    int rc = profile_parse((const char *)data, size, FILE_NAME, &s, err, sizeof err);
    if (rc != 0 && rc != -1)
        return "profile_parse returned neither 0 nor -1";
    if (rc != 0) {
        /* Not one byte may change, padding included: the settings are not written at all. */
        if (memcmp(&s, &before, sizeof s) != 0) // NOLINT(bugprone-suspicious-memory-comparison)
            return "a rejected profile changed the settings";
        return check_error(err);
    }
    const char *why = check_settings(&s);
    return why ? why : check_round_trip(&s);
}

#ifndef FUZZ_NO_LIBFUZZER_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = fuzz_profile_input(data, size);
    if (why) {
        fprintf(stderr, "fuzz_profile: property broken: %s\n", why);
        abort();
    }
    return 0;
}
#endif
