/* settings.c — the run settings every command shares: one definition of
 * each option that sets one (so bounds, help and metavar are the same in
 * every command), and one rule for a profile and flags. */
#include "profiles/profiles.h"

#include "probes/session.h"

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
    if (strcmp(name, "mode") == 0)
        return STRING_OPTION("mode", 0, mode, "causal|parity",
                             "causal (default): incremental decode; parity: the original's computation over the "
                             "window, as the published benchmark timed", seen_mode);
    if (strcmp(name, "modes") == 0)
        return STRING_OPTION("mode", 0, mode, "causal|parity|LIST",
                             "modes, comma-separated: causal (default), parity (the original's computation, as the "
                             "published benchmark timed), or parity,causal for a row of each", seen_mode);
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

int settings_modes(const char *list, const char *what, hst_mode *out, int max, char *why, size_t why_len)
{
    char buf[sizeof((hst_settings *)0)->mode], *items[HST_MODE_COUNT + 1];
    hst_mode modes[HST_MODE_COUNT + 1];
    size_t len = strlen(list);
    if (len == 0 || len >= sizeof buf || list[0] == ',' || list[len - 1] == ',' || strstr(list, ",,")) {
        snprintf(why, why_len, "%s must be causal or parity%s, got '%.200s'", what,
                 max > 1 ? ", or both as parity,causal" : "", list);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", list);
    int n = args_split_list(buf, items, HST_MODE_COUNT + 1);
    for (int i = 0; i < n; i++) {
        if (probes_check_mode_name(what, items[i], why, why_len) != 0)
            return -1;
        hst_mode_from_name(items[i], &modes[i]);
        for (int j = 0; j < i; j++)
            if (modes[j] == modes[i]) {
                snprintf(why, why_len, "%s names %s twice", what, items[i]);
                return -1;
            }
    }
    if (n > max) {
        snprintf(why, why_len, "%s takes one mode here, got '%.200s' (a list is for bench)", what, list);
        return -1;
    }
    memcpy(out, modes, (size_t)n * sizeof *out);
    return n;
}
