/* papi.c — the PAPI backend: presets (PAPI_TOT_CYC, ...) or PAPI native
 * names, one event set per thread, attached to the thread with PAPI_attach.
 * PAPI is initialised lazily, only when this backend is asked for or listed,
 * so its start-up can never disturb perf_event use. PAPI does not multiplex
 * here, so an event's running time equals its enabled time. */
#include "probes/internal.h"

#include <errno.h>
#include <papi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- initialisation and availability ------------------------------------------ */

static pthread_once_t g_papi_once = PTHREAD_ONCE_INIT;
static int g_papi_init_rc;

static void papi_init_once(void)
{
    g_papi_init_rc = PAPI_library_init(PAPI_VER_CURRENT);
}

static int papi_init(char *why, size_t len)
{
    pthread_once(&g_papi_once, papi_init_once);
    if (g_papi_init_rc == PAPI_VER_CURRENT)
        return 0;
    probes_set_why(why, len, "PAPI_library_init failed: %s",
                   g_papi_init_rc < 0 ? PAPI_strerror(g_papi_init_rc) : "library version mismatch");
    return -1;
}

static int g_test_status = -1;
static char g_test_why[PROBES_WHY_MAX];

void probes_test_set_papi_status(int available, const char *why)
{
    g_test_status = available;
    probes_set_why(g_test_why, sizeof g_test_why, "%s", why ? why : "");
}

/* "no PMU in this virtual machine (PAPI: ...)" when that is the root cause. */
static void papi_reason(const char *papi_detail, char *why, size_t len)
{
    probes_machine_facts f = probes_machine_facts_get();
    if (!f.cpu_pmu_present)
        probes_set_why(why, len, "hardware counters unavailable: %s (PAPI: %s)",
                       f.hypervisor ? "no PMU in this virtual machine" : "the kernel exposes no CPU PMU",
                       papi_detail);
    else
        probes_set_why(why, len, "PAPI: %s", papi_detail);
}

static int papi_unavailable(char *why, size_t len)
{
    if (g_test_status >= 0) {
        if (!g_test_status)
            probes_set_why(why, len, "%s", g_test_why);
        return !g_test_status;
    }
    if (papi_init(why, len) != 0)
        return 1;
    char detail[128];
    int counters = PAPI_num_cmp_hwctrs(0);
    if (counters <= 0) {
        snprintf(detail, sizeof detail, "0 hardware counters in its perf_event component");
        papi_reason(detail, why, len);
        return 1;
    }
    int rc = PAPI_query_event(PAPI_TOT_CYC);
    if (rc != PAPI_OK) {
        snprintf(detail, sizeof detail, "preset PAPI_TOT_CYC: %s", PAPI_strerror(rc));
        papi_reason(detail, why, len);
        return 1;
    }
    return 0;
}

void probes_papi_describe(char *buf, size_t len)
{
    char why[PROBES_WHY_MAX];
    if (papi_init(why, sizeof why) != 0) {
        probes_set_why(buf, len, "%s", why);
        return;
    }
    const PAPI_component_info_t *ci = PAPI_get_component_info(0);
    probes_set_why(buf, len, "PAPI %d.%d.%d, component %s: %d hardware counters", PAPI_VERSION_MAJOR(PAPI_VERSION),
                   PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION), ci ? ci->name : "?",
                   PAPI_num_cmp_hwctrs(0));
}

/* ---- per-group state ----------------------------------------------------------- */

typedef struct {
    int n_tids, n;
    int *eventset;    /* [t]; PAPI_NULL when not created */
    int code[PROBES_MAX_EVENTS];
    int slot[PROBES_MAX_EVENTS]; /* position in the event set; -1 not added */
    int n_added;
    uint64_t start_ns;
    long long *values;
} papi_group;

static void papi_close(probes_counters *set, probes_group *g)
{
    (void)set;
    papi_group *pg = g->state;
    if (!pg)
        return;
    for (int t = 0; t < pg->n_tids; t++) {
        if (pg->eventset[t] == PAPI_NULL)
            continue;
        long long discard[PROBES_MAX_EVENTS];
        PAPI_stop(pg->eventset[t], discard);
        PAPI_cleanup_eventset(pg->eventset[t]);
        PAPI_destroy_eventset(&pg->eventset[t]);
    }
    free(pg->eventset), free(pg->values), free(pg);
    g->state = NULL;
}

static void mark_all(probes_counters *set, probes_group *g, const char *why)
{
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        if (ev->why_not[0] == '\0')
            probes_set_why(ev->why_not, sizeof ev->why_not, "%s", why);
        ev->countable = 0;
    }
}

/* Codes of the group's events; unknown names are bad input, presets this
 * machine lacks are only uncountable. */
static int resolve_codes(probes_counters *set, probes_group *g, papi_group *pg, char *err, size_t err_len)
{
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        pg->slot[e] = -1;
        int rc = PAPI_event_name_to_code(ev->name, &pg->code[e]);
        if (rc != PAPI_OK) {
            probes_set_why(err, err_len, "events: unknown PAPI event '%s': %s (see hstprof events)", ev->name,
                           PAPI_strerror(rc));
            return -1;
        }
        rc = PAPI_query_event(pg->code[e]);
        if (rc != PAPI_OK) {
            char detail[128];
            snprintf(detail, sizeof detail, "%s: %s", ev->name, PAPI_strerror(rc));
            papi_reason(detail, ev->why_not, sizeof ev->why_not);
        }
    }
    return 0;
}

static int create_eventset(probes_counters *set, probes_group *g, papi_group *pg, int t)
{
    int *es = &pg->eventset[t];
    if (PAPI_create_eventset(es) != PAPI_OK || PAPI_assign_eventset_component(*es, 0) != PAPI_OK)
        return -1;
    int added = 0;
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        if (ev->why_not[0] != '\0')
            continue;
        int rc = PAPI_add_event(*es, pg->code[e]);
        if (rc != PAPI_OK) {
            char detail[128];
            snprintf(detail, sizeof detail, "adding %s: %s", ev->name, PAPI_strerror(rc));
            papi_reason(detail, ev->why_not, sizeof ev->why_not);
            continue;
        }
        if (t == 0)
            pg->slot[e] = added;
        added++;
    }
    pg->n_added = added;
    /* Thread id 0 means the calling thread, which PAPI counts without attaching. */
    if (set->tids[t] != 0 && PAPI_attach(*es, (unsigned long)set->tids[t]) != PAPI_OK)
        return -1;
    return 0;
}

static int papi_open(probes_counters *set, probes_group *g, char *err, size_t err_len)
{
    char why[PROBES_WHY_MAX];
    if (papi_unavailable(why, sizeof why)) {
        char init_why[PROBES_WHY_MAX];
        if (g_test_status < 0 && papi_init(init_why, sizeof init_why) == 0) {
            papi_group probe = {.n = g->n};
            if (resolve_codes(set, g, &probe, err, err_len) != 0)
                return -1;
        }
        mark_all(set, g, why);
        return 0;
    }
    if (papi_init(why, sizeof why) != 0) { /* only reached when a test forced "available" */
        mark_all(set, g, why);
        return 0;
    }
    papi_group *pg = calloc(1, sizeof *pg);
    if (!pg) {
        probes_set_why(err, err_len, "counters: out of memory");
        return -1;
    }
    g->state = pg;
    pg->n_tids = set->n_tids, pg->n = g->n;
    pg->eventset = malloc(sizeof *pg->eventset * (size_t)set->n_tids);
    pg->values = calloc(PROBES_MAX_EVENTS, sizeof *pg->values);
    if (!pg->eventset || !pg->values) {
        probes_set_why(err, err_len, "counters: out of memory");
        return -1;
    }
    for (int t = 0; t < set->n_tids; t++)
        pg->eventset[t] = PAPI_NULL;
    if (resolve_codes(set, g, pg, err, err_len) != 0)
        return -1;
    for (int t = 0; t < set->n_tids; t++)
        if (create_eventset(set, g, pg, t) != 0) {
            mark_all(set, g, "PAPI: could not create or attach an event set to the thread");
            return 0;
        }
    for (int e = 0; e < g->n; e++)
        set->events[g->first + e].countable = pg->slot[e] >= 0 && set->events[g->first + e].why_not[0] == '\0';
    return 0;
}

static void papi_start(probes_counters *set, probes_group *g)
{
    (void)set;
    papi_group *pg = g->state;
    if (!pg)
        return;
    for (int t = 0; t < pg->n_tids; t++)
        if (pg->eventset[t] != PAPI_NULL && pg->n_added > 0)
            PAPI_start(pg->eventset[t]);
    pg->start_ns = hst_now_ns();
}

/* A failed PAPI_read is reported as the errno behind it (PAPI_ESYS) or
 * EIO, with PAPI's own words and the thread in g->read_detail. */
static void papi_read(probes_counters *set, probes_group *g, int *status, uint64_t *raw, uint64_t *enabled_ns,
                      uint64_t *running_ns)
{
    const papi_group *pg = g->state;
    if (!pg || pg->n_added == 0)
        return; /* nothing counts: every status stays PROBES_READ_SKIPPED */
    uint64_t elapsed = hst_now_ns() - pg->start_ns;
    for (int t = 0; t < pg->n_tids; t++) {
        int rc = PAPI_read(pg->eventset[t], pg->values);
        if (rc != PAPI_OK) {
            int err = rc == PAPI_ESYS && errno ? errno : EIO;
            for (int e = 0; e < g->n; e++)
                status[e] = err;
            probes_set_why(g->read_detail, sizeof g->read_detail, "(PAPI: %s) on thread %d", PAPI_strerror(rc),
                           set->tids[t]);
            return;
        }
        for (int e = 0; e < g->n; e++)
            if (pg->slot[e] >= 0)
                raw[e] += (uint64_t)pg->values[pg->slot[e]], enabled_ns[e] += elapsed, running_ns[e] += elapsed;
    }
    for (int e = 0; e < g->n; e++)
        status[e] = pg->slot[e] >= 0 && set->events[g->first + e].countable ? PROBES_READ_OK : PROBES_READ_SKIPPED;
}

const probes_backend probes_backend_papi = {
    .name = "papi",
    .open = papi_open,
    .start = papi_start,
    .read = papi_read,
    .close = papi_close,
    .describe_unavailable = papi_unavailable,
};
