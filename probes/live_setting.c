/* live_setting.c — a live setting in words: the A/B labels and the
 * dashboard's dialogs name settings this way, the snapshots record them. */
#include "probes/live.h"

#include <stdio.h>
#include <string.h>

void live_setting_describe(const live_setting *s, char *buf, size_t len)
{
    /* Long model paths are cut: this is a label. */
    if (snprintf(buf, len, "%d thread%s, %s, %s %s %s, kernel %s", s->threads, s->threads == 1 ? "" : "s",
                 s->affinity, s->model, s->precision, s->mode[0] ? s->mode : "causal", s->kernel) < 0)
        buf[0] = '\0';
}

void live_setting_difference(const live_setting *a, const live_setting *b, char *buf, size_t len)
{
    int threads = a->threads != b->threads, affinity = strcmp(a->affinity, b->affinity) != 0;
    int model = strcmp(a->model, b->model) != 0, kernel = strcmp(a->kernel, b->kernel) != 0;
    int precision = strcmp(a->precision, b->precision) != 0;
    const char *mode_a = a->mode[0] ? a->mode : "causal", *mode_b = b->mode[0] ? b->mode : "causal";
    int mode = strcmp(mode_a, mode_b) != 0;
    if (threads + affinity + model + kernel + precision + mode > 1) {
        char da[256], db[256];
        live_setting_describe(a, da, sizeof da);
        live_setting_describe(b, db, sizeof db);
        snprintf(buf, len, "%s vs %s", da, db);
    } else if (threads)
        snprintf(buf, len, "threads %d vs %d", a->threads, b->threads);
    else if (affinity)
        snprintf(buf, len, "affinity %s vs %s", a->affinity, b->affinity);
    else if (model)
        snprintf(buf, len, "model %s vs %s", a->model, b->model);
    else if (kernel)
        snprintf(buf, len, "kernel %s vs %s", a->kernel, b->kernel);
    else if (precision)
        snprintf(buf, len, "precision %s vs %s", a->precision, b->precision);
    else if (mode)
        snprintf(buf, len, "mode %s vs %s", mode_a, mode_b);
    else
        snprintf(buf, len, "identical settings (an A/A test)");
}

const char *live_ab_keep_name(live_ab_keep k)
{
    switch (k) {
    case LIVE_AB_KEEP_A: return "A";
    case LIVE_AB_KEEP_B: return "B";
    case LIVE_AB_KEEP_BEFORE: return "before";
    }
    return "?";
}
