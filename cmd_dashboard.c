/* cmd_dashboard.c — `hstprof dashboard` (and `hstprof` alone): reads the
 * options, fails on a bad setting before the terminal changes, then hands
 * the dashboard (tui/) what to start with. */
#include "commands.h"
#include "probes/session.h"
#include "tui/tui.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    settings_flags set; /* model, seed, threads, affinity, kernel, precision, mode, events, profile; prompt */
    double screen_dump;
    char dump_when[64];
    char size[32];
    int no_counters, no_ceilings;
    char hide[512];
    int seen_prompt, seen_dump, seen_dump_when, seen_size, seen_hide;
    cmd_metrics_flags metrics; /* --metrics-listen, --metrics-allow-remote, --metrics-file */
} dashboard_flags;

static int parse_flags(int argc, char **argv, dashboard_flags *f)
{
    const opt_spec opts[] = {
        settings_option(&f->set, "model"),
        settings_option(&f->set, "threads"),
        settings_option(&f->set, "oversubscribe"),
        settings_option(&f->set, "affinity"),
        settings_option(&f->set, "seed"),
        settings_option(&f->set, "kernel"),
        settings_option(&f->set, "precision"),
        settings_option(&f->set, "mode"),
        {"prompt", 0, OPT_STRING, f->set.s.prompt, sizeof f->set.s.prompt, 0, 0, "TEXT", "prompt of every generation (its bytes are the ids)", &f->seen_prompt},
        settings_option(&f->set, "events"),
        settings_option(&f->set, "profile"),
        {"screen-dump", 0, OPT_FLOAT, &f->screen_dump, 0, 0, 86400, "SECONDS", "run that long, print the dashboard once as plain text, exit", &f->seen_dump},
        {"screen-dump-when", 0, OPT_STRING, f->dump_when, sizeof f->dump_when, 0, 0, "tokens=N,ceilings", "print as soon as these are true (--screen-dump's SECONDS then bound the wait; exit 1 if they never are)", &f->seen_dump_when},
        {"size", 0, OPT_STRING, f->size, sizeof f->size, 0, 0, "COLSxROWS", "size of --screen-dump (default: the terminal's, else 120x40)", &f->seen_size},
        {"delay", 'd', OPT_INT, &f->set.s.delay, 0, 1, TUI_DELAY_MAX, "TENTHS", "redraw at most every TENTHS of a second, as htop's --delay (default 1; profiles: delay)", NULL},
        {"hide", 0, OPT_STRING, f->hide, sizeof f->hide, 0, 0, "PANEL,...", "start with these panels hidden: header, throughput, timers, counters, bandwidth, memory, ab, segments, topology, text (keys 1-9, 0 toggle them)", &f->seen_hide},
        {"no-counters", 0, OPT_FLAG, &f->no_counters, 0, 0, 0, NULL, "do not open performance counters", NULL},
        {"no-ceilings", 0, OPT_FLAG, &f->no_ceilings, 0, 0, 0, NULL, "never measure ceilings (use the cache only)", NULL},
        cmd_metrics_option(&f->metrics, "metrics-listen"),
        cmd_metrics_option(&f->metrics, "metrics-allow-remote"),
        cmd_metrics_option(&f->metrics, "metrics-file"),
    };
    const opt_table t = {
        "hstprof dashboard",
        "hstprof [dashboard] [--model PRESET|FILE] [--mode causal|parity] [--threads N [--oversubscribe]] [--affinity POLICY] "
        "[--seed N] [-p PROFILE] [--delay TENTHS] [--hide PANEL,...] "
        "[--screen-dump SECONDS [--screen-dump-when tokens=N,ceilings] [--size COLSxROWS]] [--metrics-listen ADDR:PORT] [--metrics-file FILE]",
        "The live dashboard: generates continuously on the model and shows throughput, per-token latency, per-layer\n"
        "timers, counters, bandwidth and compute against this machine's ceilings, memory and thread placement.\n"
        "Keys: F1 or ? for help, q to quit.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    int rc = settings_parse(&t, argc, argv, &f->set);
    if (rc == ARGS_OK)
        cmd_default_threads(&f->set.s);
    return rc;
}

/* --size: "COLSxROWS", each 1..1000. strtol on each number with every
 * character checked: no sign, no space, nothing after the rows. */
static int parse_size(const char *text, int *cols, int *rows)
{
    long v[2];
    const char *p = text;
    for (int i = 0; i < 2; i++) {
        char *end = NULL;
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        v[i] = strtol(p, &end, 10);
        if (errno != 0 || v[i] < 1 || v[i] > 1000)
            return -1;
        p = end;
        if (i == 0 && *p != 'x' && *p != 'X')
            return -1;
        if (i == 0)
            p++;
    }
    if (*p != '\0')
        return -1;
    *cols = (int)v[0];
    *rows = (int)v[1];
    return 0;
}

/* --screen-dump-when: "tokens=N" and "ceilings", comma-separated, at least one. */
static int parse_dump_when(const char *text, tui_config *c)
{
    char buf[64], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save), n++) {
        if (strcmp(item, "ceilings") == 0) {
            c->dump_when_ceilings = 1;
            continue;
        }
        char *end = NULL;
        if (strncmp(item, "tokens=", 7) != 0 || !isdigit((unsigned char)item[7]))
            return -1;
        errno = 0;
        unsigned long long tokens = strtoull(item + 7, &end, 10);
        if (errno != 0 || *end != '\0' || tokens == 0 || tokens > 1000000000000ull)
            return -1;
        c->dump_when_tokens = tokens;
    }
    c->dump_when = n > 0;
    return n > 0 ? 0 : -1;
}

/* A model file is loaded once here: one that does not load fails before the
 * terminal changes (exit 1, as `hstprof run` does), not inside the dashboard.
 * A prompt that leaves the model no room to generate is refused as `run`
 * refuses it (exit 2), not cut short. */
static int check_model(const hst_settings *s)
{
    hst_config cfg;
    if (hst_preset_config(s->model, &cfg) != 0) {
        if (cmd_check_settings_model("dashboard", s) != 0)
            return 2;
        hst_error err = {{0}};
        hst_model *m = hst_model_open(s->model, s->seed, &err);
        if (!m) {
            fprintf(stderr, "hstprof dashboard: %s\n", err.msg);
            return 1;
        }
        cfg = *hst_model_config(m);
        hst_model_free(m);
    }
    char why[1400];
    int n_prompt = (int)strlen(s->prompt[0] ? s->prompt : HST_QUALITY_PROMPT);
    if (probes_prompt_room(n_prompt, s->model, cfg.max_seq_len, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof dashboard: %s\n", why);
        return 2;
    }
    return 0;
}

/* Obvious mistakes fail before the screen changes, with the usual one line:
 * 0 ok, 2 a bad setting, 1 a model file that does not load. */
static int check_settings(const dashboard_flags *f, tui_config *c)
{
    if (f->seen_size && !f->seen_dump) {
        fprintf(stderr, "hstprof dashboard: --size applies to --screen-dump only (the terminal sets the size)\n");
        return 2;
    }
    if (f->seen_size && parse_size(f->size, &c->dump_cols, &c->dump_rows) != 0) {
        fprintf(stderr, "hstprof dashboard: --size must be COLSxROWS like 120x40 (each 1 to 1000), got '%s'\n",
                f->size);
        return 2;
    }
    if (f->seen_dump_when && !f->seen_dump) {
        fprintf(stderr, "hstprof dashboard: --screen-dump-when applies to --screen-dump, whose SECONDS bound the wait\n");
        return 2;
    }
    if (f->seen_dump_when && parse_dump_when(f->dump_when, c) != 0) {
        fprintf(stderr, "hstprof dashboard: --screen-dump-when must be tokens=N (N >= 1) and/or ceilings, comma-separated, "
                        "like tokens=200,ceilings; got '%s'\n", f->dump_when);
        return 2;
    }
    char why[512];
    if (f->seen_hide && tui_parse_hide(f->hide, &c->hidden, why, sizeof why) != 0) {
        fprintf(stderr, "hstprof dashboard: %s\n", why);
        return 2;
    }
    const hst_settings *s = &f->set.s;
    hst_mode mode;
    if (cmd_check_modes("dashboard", &f->set, &mode, 1) < 0 ||
        cmd_check_engine_settings("dashboard", s->kernel, s->precision, NULL) != 0 ||
        cmd_check_placement("dashboard", &f->set, s->threads, NULL) != 0 || cmd_check_metrics("dashboard", &f->metrics) != 0)
        return 2;
    return check_model(s);
}

int cmd_dashboard(int argc, char **argv)
{
    dashboard_flags *f = calloc(1, sizeof *f);
    if (!f) {
        fprintf(stderr, "hstprof dashboard: out of memory\n");
        return 1;
    }
    tui_config c;
    memset(&c, 0, sizeof c);
    int rc = parse_flags(argc, argv, f), check = 0;
    if (rc == ARGS_OK && (check = check_settings(f, &c)) != 0)
        rc = ARGS_ERROR;
    if (rc != ARGS_OK) {
        free(f);
        return rc == ARGS_HELP ? 0 : check == 1 ? 1 : 2;
    }
    const hst_settings *s = &f->set.s;
    c.model = s->model, c.seed = s->seed, c.threads = s->threads;
    c.affinity = s->affinity, c.kernel = s->kernel, c.precision = s->precision, c.mode = s->mode;
    c.prompt = s->prompt, c.events = s->events, c.profile = s->name;
    c.delay = s->delay;
    c.no_counters = f->no_counters, c.no_ceilings = f->no_ceilings, c.oversubscribe = f->set.oversubscribe;
    c.screen_dump = f->seen_dump, c.screen_dump_s = f->screen_dump, c.dump_when_text = f->dump_when;
    serve_metrics *server = NULL;
    if (cmd_start_metrics("dashboard", &f->metrics, &c.metrics_feed, &server) != 0) {
        free(f);
        return 1;
    }
    rc = tui_run(&c);
    /* After the terminal is restored: a failed last write of the metrics file is one line. */
    if (cmd_stop_metrics("dashboard", c.metrics_feed, server, rc == 0) != 0 && rc == 0)
        rc = 1;
    free(f);
    return rc;
}
