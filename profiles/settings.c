/* settings.c — the run settings every command shares: one definition of
 * each option that sets one (so bounds, help and metavar are the same in
 * every command), and one rule for a profile and flags. */
#include "profiles/profiles.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STRING_OPTION(name, short_name, field, metavar, help, seen)                                              \
    (opt_spec){name, short_name, OPT_STRING, f->s.field, sizeof f->s.field, 0, 0, metavar, help, &f->seen}

opt_spec settings_option(settings_flags *f, const char *name)
{
    if (strcmp(name, "model") == 0)
        return STRING_OPTION("model", 'm', model, "PRESET|FILE", "model preset or safetensors file (default hst-v4)",
                             seen_model);
    if (strcmp(name, "seed") == 0)
        return (opt_spec){"seed", 0, OPT_U64, &f->s.seed, 0, 0, 0, "N",
                          "seed of the random weights and of sampling (default 0)", &f->seen_seed};
    if (strcmp(name, "threads") == 0) /* the profile key's bounds; placement checks the PUs */
        return (opt_spec){"threads", 't', OPT_INT, &f->s.threads, 0, 1, 1024, "N", "engine threads (default: every PU)",
                          &f->seen_threads};
    if (strcmp(name, "oversubscribe") == 0)
        return (opt_spec){"oversubscribe", 0, OPT_FLAG, &f->oversubscribe, 0, 0, 0, NULL,
                          "allow more threads than PUs (they share PUs; timings do not scale)", NULL};
    if (strcmp(name, "affinity") == 0)
        return STRING_OPTION("affinity", 0, affinity, "none|compact|scatter|LIST",
                             "place the engine's threads (default none)", seen_affinity);
    if (strcmp(name, "kernel") == 0)
        return STRING_OPTION("kernel", 0, kernel, "auto|avx512|avx2|portable", "matmul kernel (default auto)",
                             seen_kernel);
    if (strcmp(name, "precision") == 0)
        return STRING_OPTION("precision", 0, precision, "f32|bf16|int8",
                             "storage of the weights every token reads; math stays f32 (default f32)", seen_precision);
    if (strcmp(name, "events") == 0)
        return STRING_OPTION("events", 'e', events, "LIST|none",
                             "counter events, e.g. cycles,instructions,task-clock (default set when empty)", seen_events);
    /* "profile" */
    return (opt_spec){"profile", 'p', OPT_STRING, f->profile, sizeof f->profile, 0, 0, "NAME|FILE",
                      "apply a profile first; flags override it ('hstprof profiles' lists them)", &f->seen_profile};
}

int settings_parse(const opt_table *t, int argc, char **argv, settings_flags *f)
{
    settings_defaults(&f->s);
    const char *profile = args_find_value(t, argc, argv, 1, "profile");
    char err[1024];
    if (profile && profile_load(profile, &f->s, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", t->command, err);
        return ARGS_ERROR;
    }
    int rc = args_parse(t, argc, argv, 1, NULL, NULL);
    if (f->seen_threads) /* a flag over the profile: messages name the flag, not the file */
        f->s.threads_from[0] = '\0';
    if (f->seen_affinity)
        f->s.affinity_from[0] = '\0';
    if (f->seen_model)
        f->s.model_from[0] = '\0';
    return rc;
}
