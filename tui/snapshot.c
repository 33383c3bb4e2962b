/* snapshot.c — the `s` and `p` keys: the dashboard's state written through
 * exports/ (Markdown + CSV + JSON, atomically), and the running settings
 * saved as a profile through profiles/. */
#include "exports/exports.h"
#include "profiles/profiles.h"
#include "probes/json.h"
#include "tui/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* hstprof-snapshot-YYYYmmdd-HHMMSS, with -2, -3... when taken within the
 * same second, so a snapshot never replaces another. */
static void snapshot_base(const char *dir, char *base, size_t len)
{
    char stamp[32], path[2048];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(base, len, "hstprof-snapshot-%s", stamp);
    for (int k = 2; k < 100; k++) {
        snprintf(path, sizeof path, "%s/%s.md", dir, base);
        if (access(path, F_OK) != 0)
            return;
        snprintf(base, len, "hstprof-snapshot-%s-%d", stamp, k);
    }
}

int snapshot_write(struct app *a)
{
    live_segment_stats *segments = calloc(LIVE_VIEW_SEGMENTS, sizeof *segments);
    if (!segments) {
        ui_message(&a->ui, ROLE_BAD, "snapshot: out of memory");
        return -1;
    }
    int n = live_metrics_segments(a->metrics, segments, LIVE_VIEW_SEGMENTS);
    live_snapshot_setup setup = {.seed = a->seed, .profile = a->profile, .events = a->events};
    json_t *snap = live_view_json(a->view, segments, n, &setup);
    free(segments);
    if (snap && json_object_set_new(snap, "system", probes_system_json()) != 0) {
        json_decref(snap);
        snap = NULL;
    }
    /* The shown segment's latency distribution and timeline, for the plot and the trace. */
    uint32_t shown = a->view->current.info.id;
    json_t *trace = a->view->has_current ? live_metrics_trace_json(a->metrics, shown) : NULL;
    live_histogram *hist = malloc(sizeof *hist);
    if (snap && hist && a->view->has_current && live_metrics_latency_histogram(a->metrics, shown, hist) == 0)
        json_object_set_new(snap, "latency_histogram", probes_latency_histogram_json(hist));
    free(hist);
    const char *dir = a->ui.snapshot_dir[0] ? a->ui.snapshot_dir : ".";
    char base[96], paths[EXPORT_SNAPSHOT_FILES][1024], err[512];
    snapshot_base(dir, base, sizeof base);
    int rc = snap ? export_snapshot_files(snap, trace, dir, base, paths, err, sizeof err) : -1;
    json_decref(snap);
    json_decref(trace);
    if (rc != 0) {
        ui_message(&a->ui, ROLE_BAD, "snapshot failed: %s", snap ? err : "out of memory");
        return -1;
    }
    ui_message(&a->ui, ROLE_GOOD, "snapshot: %s/%s.{md,csv,json}, -latency.svg, -throughput.svg%s", dir, base,
               trace ? ", .trace.json" : "");
    return 0;
}

int profile_save_current(struct app *a, const char *name)
{
    /* During an A/B: the side on screen, as the header shows it. */
    const live_status *st = &a->view->status;
    const live_setting *s = st->ab_active ? &st->ab[a->view->shown_side] : &st->setting;
    hst_settings settings;
    settings_defaults(&settings);
    snprintf(settings.model, sizeof settings.model, "%s", s->model);
    settings.seed = a->seed;
    if (a->delay > 0) /* else the default: tui_config's delay < 1 means 1 */
        settings.delay = a->delay;
    settings.threads = s->threads;
    snprintf(settings.affinity, sizeof settings.affinity, "%s", s->affinity);
    snprintf(settings.kernel, sizeof settings.kernel, "%s", s->kernel);
    snprintf(settings.precision, sizeof settings.precision, "%s", s->precision);
    snprintf(settings.mode, sizeof settings.mode, "%s", s->mode[0] ? s->mode : "causal");
    snprintf(settings.prompt, sizeof settings.prompt, "%s", a->prompt);
    char path[PROFILE_PATH_MAX], err[512];
    if (profile_save(&settings, name, path, sizeof path, err, sizeof err) != 0) {
        ui_message(&a->ui, ROLE_BAD, "profile not saved: %s", err);
        return -1;
    }
    ui_message(&a->ui, ROLE_GOOD, "profile saved%s: %s (start with: hstprof dashboard -p %s)",
               !st->ab_active ? "" : a->view->shown_side ? " (side B's settings)" : " (side A's settings)", path, name);
    return 0;
}
