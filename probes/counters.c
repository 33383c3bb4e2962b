/* counters.c — counter sets: the event list, its groups, the backend of each
 * group, snapshots, windows, scaling and derived metrics. Backends live in
 * perf.c, papi.c and fake.c behind the probes_backend table. */
#include "probes/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PERF_EVENTS "{cycles,instructions,L1-dcache-load-misses,LLC-load-misses,branch-misses}"
#define DEFAULT_PAPI_EVENTS "{PAPI_TOT_CYC,PAPI_TOT_INS,PAPI_L1_DCM,PAPI_L2_DCM,PAPI_L3_TCM,PAPI_BR_MSP}"
#define DEFAULT_SOFTWARE_EVENTS "{task-clock,page-faults,context-switches,cpu-migrations}"

/* ---- event list parsing ---------------------------------------------------- */

typedef struct {
    char name[PROBES_NAME_MAX];
    int brace_group; /* -1 outside braces */
} parsed_event;

typedef struct {
    int n;
    parsed_event ev[PROBES_MAX_EVENTS];
    int n_brace_groups;
} parsed_list;

static int add_parsed(parsed_list *pl, const char *start, size_t len, int brace, char *err, size_t err_len)
{
    while (len > 0 && isspace((unsigned char)*start))
        start++, len--;
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    if (len == 0) {
        probes_set_why(err, err_len, "events: empty event name in the list (two commas, or a comma at an end)");
        return -1;
    }
    if (len >= PROBES_NAME_MAX) {
        probes_set_why(err, err_len, "events: event name '%.*s...' is longer than %d characters", 20, start,
                       PROBES_NAME_MAX - 1);
        return -1;
    }
    if (pl->n >= PROBES_MAX_EVENTS) {
        probes_set_why(err, err_len, "events: more than %d events; count fewer at a time", PROBES_MAX_EVENTS);
        return -1;
    }
    memcpy(pl->ev[pl->n].name, start, len);
    pl->ev[pl->n].name[len] = '\0';
    pl->ev[pl->n].brace_group = brace;
    pl->n++;
    return 0;
}

/* "a,{b,c},d" -> a, b and c in brace group 0, d. */
static int parse_event_list(const char *list, parsed_list *pl, char *err, size_t err_len)
{
    memset(pl, 0, sizeof *pl);
    int brace = -1;
    int in_group = 0;
    const char *tok = list;
    for (const char *p = list;; p++) {
        char ch = *p;
        if (ch == '{') {
            if (in_group) {
                probes_set_why(err, err_len, "events: nested '{' in '%s'; groups cannot contain groups", list);
                return -1;
            }
            if (p != tok && strspn(tok, " \t") < (size_t)(p - tok)) {
                probes_set_why(err, err_len, "events: '{' must start a group after a comma, in '%s'", list);
                return -1;
            }
            in_group = 1, brace = pl->n_brace_groups++;
            tok = p + 1;
            continue;
        }
        if (ch != ',' && ch != '}' && ch != '\0')
            continue;
        if (ch == '}' && !in_group) {
            probes_set_why(err, err_len, "events: '}' without '{' in '%s'", list);
            return -1;
        }
        if (ch == '\0' && in_group) {
            probes_set_why(err, err_len, "events: '{' without '}' in '%s'", list);
            return -1;
        }
        if (add_parsed(pl, tok, (size_t)(p - tok), brace, err, err_len) != 0)
            return -1;
        if (ch == '}') {
            in_group = 0, brace = -1;
            p++; /* after '}' comes ',' or the end */
            if (*p != ',' && *p != '\0') {
                probes_set_why(err, err_len, "events: expected ',' after '}' in '%s'", list);
                return -1;
            }
            if (*p == '\0')
                return 0;
        }
        if (*p == '\0')
            return 0;
        tok = p + 1;
    }
}

/* ---- backend choice ---------------------------------------------------------- */

typedef enum { CHOICE_AUTO, CHOICE_PAPI, CHOICE_PERF, CHOICE_SOFTWARE, CHOICE_FAKE } backend_choice;

static int parse_backend(const char *name, backend_choice *out, char *err, size_t err_len)
{
    static const struct {
        const char *name;
        backend_choice choice;
    } table[] = {{"auto", CHOICE_AUTO},         {"papi", CHOICE_PAPI}, {"perf", CHOICE_PERF},
                 {"perf_event", CHOICE_PERF},   {"software", CHOICE_SOFTWARE}, {"fake", CHOICE_FAKE}};
    if (!name) {
        *out = CHOICE_AUTO;
        return 0;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) {
            *out = table[i].choice;
            return 0;
        }
    probes_set_why(err, err_len, "counters: unknown backend '%s' (expected auto, papi, perf, software or fake)",
                   name);
    return -1;
}

static int is_papi_name(const char *name)
{
    return strncmp(name, "PAPI_", 5) == 0;
}

/* The backend one event of a real (not fake) set uses. */
static const probes_backend *backend_for(const char *name, backend_choice choice, char *err, size_t err_len)
{
    uint64_t config;
    if (probes_software_event(name, &config))
        return &probes_backend_software;
    if (choice == CHOICE_SOFTWARE) {
        probes_set_why(err, err_len, "events: '%s' is not a software event (backend software counts only "
                                     "task-clock, page-faults, context-switches, cpu-migrations, ...)", name);
        return NULL;
    }
    if (is_papi_name(name) && choice == CHOICE_PERF) {
        probes_set_why(err, err_len, "events: '%s' is a PAPI preset; use --backend papi or auto", name);
        return NULL;
    }
    if (is_papi_name(name) || choice == CHOICE_PAPI)
        return &probes_backend_papi;
    return &probes_backend_perf;
}

/* ---- building groups ------------------------------------------------------------ */

static int is_software_name(const char *name)
{
    uint64_t config;
    return probes_software_event(name, &config);
}

/* Whether unbraced event j joins the automatic group of event i: same
 * backend, and software apart from hardware (they run in different PMU
 * contexts). */
static int same_auto_group(const parsed_list *pl, const probes_backend *const *bk, int i, int j)
{
    return pl->ev[j].brace_group < 0 && bk[j] == bk[i] &&
           is_software_name(pl->ev[j].name) == is_software_name(pl->ev[i].name);
}

/* A brace group must be one backend; real backends also keep software and
 * hardware apart (the fake has no PMU contexts to respect). */
static int check_brace_member(const parsed_list *pl, const probes_backend *const *bk, int i, int j, char *err,
                              size_t err_len)
{
    int sw_i = is_software_name(pl->ev[i].name), sw_j = is_software_name(pl->ev[j].name);
    if (bk[j] == bk[i] && (sw_i == sw_j || bk[i] == &probes_backend_fake))
        return 0;
    probes_set_why(err, err_len, "events: group {%s,%s,...} mixes %s and %s events; give them separate groups",
                   pl->ev[i].name, pl->ev[j].name, sw_i ? "software" : bk[i]->name,
                   sw_j ? "software" : bk[j]->name);
    return -1;
}

static void canonical_name(const char *name, char *out, size_t len);

static void append_event(probes_counters *c, const char *name, int group)
{
    probes_event *e = &c->events[c->n_events++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    canonical_name(name, e->canonical, sizeof e->canonical);
    e->group = group;
    e->is_software = is_software_name(name);
}

/* Lays out events group by group (groups in order of first appearance):
 * brace groups as written, unbraced events in automatic groups. */
static int build_groups(probes_counters *c, const parsed_list *pl, const probes_backend *const *bk, char *err,
                        size_t err_len)
{
    int done[PROBES_MAX_EVENTS] = {0};
    for (int i = 0; i < pl->n; i++) {
        if (done[i])
            continue;
        probes_group *g = &c->groups[c->n_groups];
        g->backend = bk[i];
        g->first = c->n_events;
        g->explicit_group = pl->ev[i].brace_group >= 0;
        for (int j = i; j < pl->n; j++) {
            if (done[j])
                continue;
            if (g->explicit_group) {
                if (pl->ev[j].brace_group != pl->ev[i].brace_group)
                    continue;
                if (check_brace_member(pl, bk, i, j, err, err_len) != 0)
                    return -1;
            } else if (!same_auto_group(pl, bk, i, j)) {
                continue;
            }
            append_event(c, pl->ev[j].name, c->n_groups);
            done[j] = 1;
        }
        g->n = c->n_events - g->first;
        c->n_groups++;
    }
    return 0;
}

void probes_group_names(const probes_counters *set, const probes_group *g, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < g->n && used + 1 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", set->events[g->first + i].name);
}

/* ---- opening ---------------------------------------------------------------------- */

static const char *fake_script_path(const probes_counter_opts *opts)
{
    if (opts && opts->fake_script)
        return opts->fake_script;
    const char *env = getenv("HSTPROF_FAKE_COUNTERS");
    return env && *env ? env : NULL;
}

/* The event list to open, and a note when a requested backend fell back.
 * PAPI is initialised only here, when asked for (never under auto), so that
 * its start-up cannot disturb perf_event use. */
static const char *choose_event_list(const probes_counter_opts *opts, backend_choice *choice, char *list,
                                     size_t list_len, char *note, size_t note_len)
{
    note[0] = '\0';
    if (opts && opts->events)
        return opts->events;
    if (*choice == CHOICE_SOFTWARE)
        return DEFAULT_SOFTWARE_EVENTS;
    const char *hw = DEFAULT_PERF_EVENTS;
    if (*choice == CHOICE_PAPI) {
        char why[PROBES_WHY_MAX];
        if (probes_backend_papi.describe_unavailable(why, sizeof why) == 0) {
            hw = DEFAULT_PAPI_EVENTS;
        } else {
            probes_set_why(note, note_len, "PAPI unavailable (%s), fell back to perf_event; ", why);
            *choice = CHOICE_AUTO;
        }
    }
    snprintf(list, list_len, "%s,%s", hw, DEFAULT_SOFTWARE_EVENTS);
    return list;
}

static int assign_backends(const probes_counters *c, const parsed_list *pl, backend_choice choice,
                           const probes_backend **bk, char *err, size_t err_len)
{
    for (int i = 0; i < pl->n; i++) {
        bk[i] = c->fake ? &probes_backend_fake : backend_for(pl->ev[i].name, choice, err, err_len);
        if (!bk[i])
            return -1;
    }
    return 0;
}

/* Rebuilt whenever a group changes (opened, lost, stalled), so that it is
 * always the current state. */
static void build_summary(probes_counters *c)
{
    size_t used = (size_t)snprintf(c->summary, sizeof c->summary, "%s", c->summary_note);
    for (int g = 0; g < c->n_groups && used + 1 < sizeof c->summary; g++) {
        const probes_group *grp = &c->groups[g];
        int counting = 0;
        const char *first_why = grp->lost ? grp->lost_why : NULL;
        for (int i = grp->first; i < grp->first + grp->n; i++) {
            counting += c->events[i].countable;
            if (!c->events[i].countable && !first_why)
                first_why = c->events[i].why_not;
        }
        used += (size_t)snprintf(c->summary + used, sizeof c->summary - used, "%sgroup %d (%s): %d of %d counting%s%s%s",
                                 g ? "; " : "", g, grp->backend->name, counting, grp->n,
                                 first_why ? " (" : "", first_why ? first_why : "", first_why ? ")" : "");
        if (grp->stall_note[0] && !grp->lost && used + 1 < sizeof c->summary)
            used += (size_t)snprintf(c->summary + used, sizeof c->summary - used, ", but %s", grp->stall_note);
    }
}

static int open_groups(probes_counters *c, char *err, size_t err_len)
{
    for (int g = 0; g < c->n_groups; g++)
        if (c->groups[g].backend->open(c, &c->groups[g], err, err_len) != 0)
            return -1;
    for (int g = 0; g < c->n_groups; g++)
        c->groups[g].backend->start(c, &c->groups[g]);
    c->opened_ns = hst_now_ns();
    return 0;
}

static int copy_tids(probes_counters *c, const int *tids, int n_tids, char *err, size_t err_len)
{
    c->n_tids = n_tids > 0 ? n_tids : 1;
    c->tids = calloc((size_t)c->n_tids, sizeof *c->tids);
    if (!c->tids) {
        probes_set_why(err, err_len, "counters: out of memory");
        return -1;
    }
    for (int i = 0; i < n_tids; i++)
        c->tids[i] = tids[i];
    return 0;
}

static int load_fake_if_any(probes_counters *c, const probes_counter_opts *opts, backend_choice choice, char *err,
                            size_t err_len)
{
    const char *path = fake_script_path(opts);
    if (choice == CHOICE_FAKE && !path) {
        probes_set_why(err, err_len, "counters: backend fake needs a script: set HSTPROF_FAKE_COUNTERS=<file>");
        return -1;
    }
    if (!path || (choice != CHOICE_FAKE && choice != CHOICE_AUTO))
        return 0;
    c->fake = probes_fake_script_load(path, err, err_len);
    return c->fake ? 0 : -1;
}

probes_counters *probes_counters_open(const probes_counter_opts *opts, const int *tids, int n_tids, char *err,
                                      size_t err_len)
{
    backend_choice choice;
    if (parse_backend(opts ? opts->backend : NULL, &choice, err, err_len) != 0)
        return NULL;
    probes_counters *c = calloc(1, sizeof *c);
    if (!c) {
        probes_set_why(err, err_len, "counters: out of memory");
        return NULL;
    }
    char list_buf[1024];
    parsed_list pl;
    const probes_backend *bk[PROBES_MAX_EVENTS];
    const char *list = NULL;
    if (copy_tids(c, tids, n_tids, err, err_len) != 0 || load_fake_if_any(c, opts, choice, err, err_len) != 0)
        goto fail;
    if (c->fake && !(opts && opts->events)) {
        probes_fake_script_events(c->fake, list_buf, sizeof list_buf);
        list = list_buf;
    } else {
        list = choose_event_list(opts, &choice, list_buf, sizeof list_buf, c->summary_note, sizeof c->summary_note);
    }
    if (parse_event_list(list, &pl, err, err_len) != 0 || assign_backends(c, &pl, choice, bk, err, err_len) != 0 ||
        build_groups(c, &pl, bk, err, err_len) != 0 || open_groups(c, err, err_len) != 0)
        goto fail;
    build_summary(c);
    return c;
fail:
    probes_counters_close(c);
    return NULL;
}

void probes_counters_close(probes_counters *c)
{
    if (!c)
        return;
    for (int g = 0; g < c->n_groups; g++)
        if (c->groups[g].backend && c->groups[g].backend->close)
            c->groups[g].backend->close(c, &c->groups[g]);
    probes_fake_script_free(c->fake);
    free(c->tids);
    free(c);
}

const char *probes_counters_summary(const probes_counters *c)
{
    return c->summary;
}

int probes_counters_any_counting(const probes_counters *c)
{
    for (int i = 0; i < c->n_events; i++)
        if (c->events[i].countable)
            return 1;
    return 0;
}

int probes_counters_event_count(const probes_counters *c)
{
    return c->n_events;
}

void probes_counters_event(const probes_counters *c, int i, probes_event_info *out)
{
    memset(out, 0, sizeof *out);
    const probes_event *e = &c->events[i];
    snprintf(out->name, sizeof out->name, "%s", e->name);
    snprintf(out->backend, sizeof out->backend, "%s", c->groups[e->group].backend->name);
    out->group = e->group;
    out->countable = e->countable ? probes_metric_of(1) : probes_metric_invalid("%s", e->why_not);
    snprintf(out->note, sizeof out->note, "%s", e->note);
}

/* ---- reading ---------------------------------------------------------------------- */

/* A long stretch without PMU time: at least this much enabled time per
 * measured thread, in reads in a row, without running time. Ordinary
 * multiplexing rotates groups every few ms, so only a counter that someone
 * else holds (the NMI watchdog, another perf session, the VM host) stays
 * out this long. */
#define STALL_REPORT_NS 1000000000ull

/* The first status of the group's countable events that loses the group:
 * a failed read, end of file or a short record; 0 when none. */
static int group_fault(const probes_counters *c, const probes_group *g, const int *status)
{
    for (int e = 0; e < g->n; e++)
        if (c->events[g->first + e].countable && status[e] != PROBES_READ_OK && status[e] != PROBES_READ_SKIPPED)
            return status[e];
    return 0;
}

static void describe_fault(int fault, char *why, size_t len)
{
    if (fault == PROBES_READ_EOF)
        probes_set_why(why, len, "read returned no data: the kernel put the group in error state (its PMU "
                                 "counter was taken or went away)");
    else if (fault == PROBES_READ_SHORT)
        probes_set_why(why, len, "read returned less than one group record");
    else
        probes_set_why(why, len, "read failed: %s (%s)", strerror(fault),
                       strerrorname_np(fault) ? strerrorname_np(fault) : "?");
}

/* A read of an open group failed: its events stop counting for the rest of
 * the set's life, with the reason, and its fds are closed. Other groups
 * (the software group, typically) go on. */
static void lose_group(probes_counters *c, probes_group *g, int fault, uint64_t t_ns)
{
    char what[PROBES_WHY_MAX];
    describe_fault(fault, what, sizeof what);
    double at_s = (double)(t_ns - c->opened_ns) * 1e-9;
    probes_set_why(g->lost_why, sizeof g->lost_why, "lost mid-run at %.1f s: %s%s%s", at_s, what,
                   g->read_detail[0] ? " " : "", g->read_detail);
    for (int e = g->first; e < g->first + g->n; e++)
        if (c->events[e].countable) {
            c->events[e].countable = 0;
            probes_set_why(c->events[e].why_not, sizeof c->events[e].why_not, "%s", g->lost_why);
        }
    g->lost = 1;
    g->backend->close(c, g);
}

static int stall_is_long(const probes_counters *c, const probes_group *g)
{
    return g->stall_enabled_ns >= STALL_REPORT_NS * (uint64_t)c->n_tids;
}

/* "no PMU time since 2.0 s (...)" while it lasts, "... from 2.0 s to 6.0 s"
 * once the group runs again; end_ns 0 while it lasts. */
static void write_stall_note(const probes_counters *c, probes_group *g, uint64_t end_ns)
{
    char span[64];
    double from_s = (double)(g->stall_start_ns - c->opened_ns) * 1e-9;
    if (end_ns)
        snprintf(span, sizeof span, "from %.1f s to %.1f s", from_s, (double)(end_ns - c->opened_ns) * 1e-9);
    else
        snprintf(span, sizeof span, "since %.1f s", from_s);
    probes_set_why(g->stall_note, sizeof g->stall_note,
                   "no PMU time %s (%.1f s of counting per thread; its counters %s taken by another user: the "
                   "NMI watchdog, another perf session or the VM host)",
                   span, (double)g->stall_enabled_ns * 1e-9 / c->n_tids, end_ns ? "were" : "are");
}

/* Follows the group's stretch of reads in which a member's enabled time
 * advanced while its running time did not (perf schedules a group as a
 * unit, so its members stall together; the fake script may stall one);
 * 1 when the group's note changed. */
static int track_stall(probes_counters *c, probes_group *g, const probes_counter_snapshot *now)
{
    const probes_counter_snapshot *prev = &c->last;
    uint64_t stalled_enabled = 0;
    int ran = 0;
    for (int i = g->first; i < g->first + g->n; i++) {
        if (!c->have_last || !prev->ok[i] || !now->ok[i])
            continue;
        uint64_t d_enabled = now->enabled_ns[i] - prev->enabled_ns[i];
        if (now->running_ns[i] != prev->running_ns[i])
            ran = 1;
        else if (d_enabled > stalled_enabled)
            stalled_enabled = d_enabled;
    }
    if (stalled_enabled == 0) { /* ran: the stretch is over; idle: it goes on */
        int report = ran && stall_is_long(c, g);
        if (report)
            write_stall_note(c, g, prev->t_ns);
        if (ran)
            g->stall_start_ns = g->stall_enabled_ns = 0;
        return report;
    }
    if (g->stall_enabled_ns == 0)
        g->stall_start_ns = prev->t_ns;
    g->stall_enabled_ns += stalled_enabled;
    if (!stall_is_long(c, g))
        return 0;
    write_stall_note(c, g, 0);
    return 1;
}

void probes_counter_deltas(const probes_counter_snapshot *a, const probes_counter_snapshot *b, int n, double *out)
{
    for (int i = 0; i < n; i++) {
        if (i >= a->n || i >= b->n || !a->ok[i] || !b->ok[i] || b->running_ns[i] == a->running_ns[i]) {
            out[i] = NAN;
            continue;
        }
        double enabled = (double)(b->enabled_ns[i] - a->enabled_ns[i]);
        out[i] = (double)(b->raw[i] - a->raw[i]) * enabled / (double)(b->running_ns[i] - a->running_ns[i]);
    }
}

void probes_counters_read(probes_counters *c, probes_counter_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->t_ns = hst_now_ns();
    snap->n = c->n_events;
    int changed = 0;
    for (int g = 0; g < c->n_groups; g++) {
        probes_group *grp = &c->groups[g];
        if (grp->lost)
            continue; /* ok stays 0: no window reaches past the loss */
        int status[PROBES_MAX_EVENTS];
        for (int e = 0; e < grp->n; e++)
            status[e] = PROBES_READ_SKIPPED;
        grp->read_detail[0] = '\0';
        grp->backend->read(c, grp, status, snap->raw + grp->first, snap->enabled_ns + grp->first,
                           snap->running_ns + grp->first);
        int fault = group_fault(c, grp, status);
        if (fault) {
            lose_group(c, grp, fault, snap->t_ns);
            memset(snap->raw + grp->first, 0, sizeof *snap->raw * (size_t)grp->n);
            memset(snap->enabled_ns + grp->first, 0, sizeof *snap->enabled_ns * (size_t)grp->n);
            memset(snap->running_ns + grp->first, 0, sizeof *snap->running_ns * (size_t)grp->n);
            changed = 1;
            continue;
        }
        for (int e = 0; e < grp->n; e++)
            snap->ok[grp->first + e] = status[e] == PROBES_READ_OK && c->events[grp->first + e].countable;
        changed |= track_stall(c, grp, snap);
    }
    c->last = *snap;
    c->have_last = 1;
    if (changed)
        build_summary(c);
}

/* One counter over a window: raw * enabled / running, as perf stat scales
 * (applied to the sums over threads, as perf stat aggregates). An event
 * lost mid-run still has the windows read before the loss; any window that
 * reaches past it has an unread end, so it is invalid with the reason. */
static void scale_counter(const probes_event *e, int lost, const probes_counter_snapshot *b,
                          const probes_counter_snapshot *en, int i, probes_counter_value *v)
{
    int both_read = b->n > i && en->n > i && b->ok[i] && en->ok[i];
    if (!e->countable && !(lost && both_read)) {
        v->value = probes_metric_invalid("%s", e->why_not);
        v->running_share = v->value;
        return;
    }
    if (!both_read) {
        v->value = probes_metric_invalid("not counted: reading the counter failed");
        v->running_share = v->value;
        return;
    }
    v->raw = en->raw[i] - b->raw[i];
    v->time_enabled_ns = en->enabled_ns[i] - b->enabled_ns[i];
    v->time_running_ns = en->running_ns[i] - b->running_ns[i];
    if (v->time_enabled_ns == 0) {
        v->value = probes_metric_invalid("not counted: no measured thread ran in this window");
        v->running_share = v->value;
    } else if (v->time_running_ns == 0) {
        v->value = probes_metric_invalid("not counted: multiplexed out (its group never got the PMU in this window)");
        v->running_share = probes_metric_of(0);
    } else {
        v->value = probes_metric_of((double)v->raw * (double)v->time_enabled_ns / (double)v->time_running_ns);
        v->running_share = probes_metric_of((double)v->time_running_ns / (double)v->time_enabled_ns);
    }
}

/* ---- derived metrics ------------------------------------------------------------ */

#define MAX_ALT 4

typedef struct {
    const char *name, *label;
    const char *num[MAX_ALT]; /* alternatives, canonical names */
    const char *den[MAX_ALT]; /* NULL first entry: divide by the window's seconds */
    int paired;               /* num[k] only pairs with den[k] */
    double scale;
} derived_spec;

static const derived_spec derived_specs[] = {
    {"ipc", "IPC", {"instructions", "PAPI_TOT_INS"}, {"cycles", "cpu-cycles", "PAPI_TOT_CYC"}, 0, 1.0},
    {"branch_miss_ratio", "branch miss ratio", {"branch-misses", "PAPI_BR_MSP"},
     {"branches", "branch-instructions", "PAPI_BR_INS"}, 0, 1.0},
    {"l1d_miss_ratio", "L1D miss ratio", {"L1-dcache-load-misses", "PAPI_L1_DCM"},
     {"L1-dcache-loads", "PAPI_L1_DCA"}, 1, 1.0},
    {"llc_miss_ratio", "LLC miss ratio", {"LLC-load-misses", "cache-misses", "PAPI_L3_TCM"},
     {"LLC-loads", "cache-references", "PAPI_L3_TCA"}, 1, 1.0},
    {"l1d_mpki", "L1D misses per 1k instructions", {"L1-dcache-load-misses", "PAPI_L1_DCM"},
     {"instructions", "PAPI_TOT_INS"}, 0, 1000.0},
    {"l2_mpki", "L2 misses per 1k instructions", {"PAPI_L2_DCM", "PAPI_L2_TCM"}, {"instructions", "PAPI_TOT_INS"}, 0,
     1000.0},
    {"llc_mpki", "LLC misses per 1k instructions", {"LLC-load-misses", "cache-misses", "PAPI_L3_TCM"},
     {"instructions", "PAPI_TOT_INS"}, 0, 1000.0},
    {"branch_mpki", "branch misses per 1k instructions", {"branch-misses", "PAPI_BR_MSP"},
     {"instructions", "PAPI_TOT_INS"}, 0, 1000.0},
    {"llc_miss_bytes_per_s", "LLC-miss bandwidth (64-byte lines)", {"LLC-load-misses", "cache-misses", "PAPI_L3_TCM"},
     {NULL}, 0, 64.0},
};

/* "perf::cycles:u" -> "cycles"; compared case-insensitively like libpfm4. */
static void canonical_name(const char *name, char *out, size_t len)
{
    if (strncasecmp(name, "perf::", 6) == 0)
        name += 6;
    snprintf(out, len, "%s", name);
    out[strcspn(out, ":")] = '\0';
}

/* Index k of the alternative name matches, or -1. */
static int match_alt(const char *const *alts, const probes_event *e)
{
    for (int k = 0; k < MAX_ALT && alts[k]; k++)
        if (strcasecmp(alts[k], e->canonical) == 0)
            return k;
    return -1;
}

typedef struct {
    int num, den;   /* event indexes; den -1 for per-second metrics */
    int same_group; /* found a pair inside one group */
} operand_pair;

/* The best pair of operands: one group, both valid in this window, first found. */
static int find_operands(const probes_counters *c, const derived_spec *s, const probes_counter_window *w,
                         operand_pair *best)
{
    int found = 0, best_score = -1;
    for (int i = 0; i < c->n_events; i++) {
        int ki = match_alt(s->num, &c->events[i]);
        if (ki < 0)
            continue;
        if (!s->den[0]) {
            int score = w->counters[i].value.valid;
            if (score > best_score)
                *best = (operand_pair){i, -1, 1}, best_score = score, found = 1;
            continue;
        }
        for (int j = 0; j < c->n_events; j++) {
            int kj = match_alt(s->den, &c->events[j]);
            if (kj < 0 || (s->paired && kj != ki))
                continue;
            int same = c->events[i].group == c->events[j].group;
            int score = same * 2 + (w->counters[i].value.valid && w->counters[j].value.valid);
            if (score > best_score)
                *best = (operand_pair){i, j, same}, best_score = score, found = 1;
        }
    }
    return found;
}

static probes_metric derive_one(const probes_counters *c, const derived_spec *s, const operand_pair *p,
                                const probes_counter_window *w)
{
    const probes_counter_value *num = &w->counters[p->num];
    if (p->den < 0) {
        if (!num->value.valid)
            return probes_metric_invalid("%s: %s", num->name, num->value.why_not);
        if (w->window_ns == 0)
            return probes_metric_invalid("empty window");
        return probes_metric_of(num->value.value * s->scale / ((double)w->window_ns * 1e-9));
    }
    const probes_counter_value *den = &w->counters[p->den];
    if (!p->same_group)
        return probes_metric_invalid("%s (group %d) and %s (group %d) were counted in different groups, so in "
                                     "different time slices; count them together: {%s,%s}",
                                     num->name, c->events[p->num].group, den->name, c->events[p->den].group,
                                     num->name, den->name);
    if (!num->value.valid)
        return probes_metric_invalid("%s: %s", num->name, num->value.why_not);
    if (!den->value.valid)
        return probes_metric_invalid("%s: %s", den->name, den->value.why_not);
    if (den->value.value <= 0)
        return probes_metric_invalid("%s counted 0 in this window", den->name);
    return probes_metric_of(num->value.value * s->scale / den->value.value);
}

static void derive_all(const probes_counters *c, probes_counter_window *w)
{
    for (size_t k = 0; k < sizeof derived_specs / sizeof derived_specs[0]; k++) {
        const derived_spec *s = &derived_specs[k];
        operand_pair p = {-1, -1, 0};
        if (w->n_derived >= PROBES_MAX_DERIVED || !find_operands(c, s, w, &p))
            continue;
        probes_derived_metric *d = &w->derived[w->n_derived++];
        snprintf(d->name, sizeof d->name, "%s", s->name);
        snprintf(d->label, sizeof d->label, "%s", s->label);
        d->metric = derive_one(c, s, &p, w);
    }
}

void probes_counters_window(const probes_counters *c, const probes_counter_snapshot *begin,
                            const probes_counter_snapshot *end, probes_counter_window *out)
{
    memset(out, 0, sizeof *out);
    out->window_ns = end->t_ns > begin->t_ns ? end->t_ns - begin->t_ns : 0;
    out->n_counters = c->n_events;
    for (int i = 0; i < c->n_events; i++) {
        const probes_event *e = &c->events[i];
        probes_counter_value *v = &out->counters[i];
        snprintf(v->name, sizeof v->name, "%s", e->name);
        snprintf(v->backend, sizeof v->backend, "%s", c->groups[e->group].backend->name);
        snprintf(v->note, sizeof v->note, "%s", e->note);
        v->group = e->group;
        scale_counter(e, c->groups[e->group].lost, begin, end, i, v);
    }
    derive_all(c, out);
}

const probes_metric *probes_window_metric(const probes_counter_window *w, const char *name)
{
    for (int i = 0; i < w->n_counters; i++)
        if (strcmp(w->counters[i].name, name) == 0)
            return &w->counters[i].value;
    for (int i = 0; i < w->n_derived; i++)
        if (strcmp(w->derived[i].name, name) == 0)
            return &w->derived[i].metric;
    return NULL;
}

/* ---- single-event checks ------------------------------------------------------------ */

probes_metric probes_check_event(const char *backend, const char *name, char *note, size_t note_len)
{
    char err[PROBES_WHY_MAX];
    /* Braces keep names such as PMU events with modifiers intact. */
    char list[PROBES_NAME_MAX + 4];
    snprintf(list, sizeof list, "{%s}", name);
    probes_counter_opts opts = {.events = list, .backend = backend, .fake_script = NULL};
    if (note && note_len)
        note[0] = '\0';
    probes_counters *c = probes_counters_open(&opts, NULL, 0, err, sizeof err);
    if (!c)
        return probes_metric_invalid("%s", err);
    probes_event_info info;
    probes_counters_event(c, 0, &info);
    if (note && note_len)
        snprintf(note, note_len, "%s", info.note);
    probes_counters_close(c);
    return info.countable;
}

/* ---- perf-stat-style text ----------------------------------------------------------------- */

/* 1234567.4 -> "1,234,567" */
static void with_thousands(double v, char *buf, size_t len)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

void probes_counter_format(const probes_counter_value *v, char *buf, size_t len)
{
    char count[40];
    if (!v->value.valid) {
        snprintf(buf, len, "%18s  %-26s %s", "<not counted>", v->name, v->value.why_not);
        return;
    }
    with_thousands(v->value.value, count, sizeof count);
    int shared = v->running_share.valid && v->running_share.value < 0.99995;
    char share[24] = "";
    if (shared)
        snprintf(share, sizeof share, "(%.2f%%)", 100.0 * v->running_share.value);
    snprintf(buf, len, "%18s  %-26s %s%s%s", count, v->name, share, v->note[0] && shared ? " " : "",
             v->note[0] ? v->note : "");
}

void probes_counter_window_print(const probes_counter_window *w, FILE *out, const char *indent)
{
    char line[PROBES_WHY_MAX + 128];
    for (int i = 0; i < w->n_counters; i++) {
        probes_counter_format(&w->counters[i], line, sizeof line);
        fprintf(out, "%s%s\n", indent, line);
    }
    for (int i = 0; i < w->n_derived; i++) {
        const probes_derived_metric *d = &w->derived[i];
        if (d->metric.valid)
            fprintf(out, "%s%18.4g  %s\n", indent, d->metric.value, d->label);
        else
            fprintf(out, "%s%18s  %-26s %s\n", indent, "<n/a>", d->label, d->metric.why_not);
    }
}
