/* event_list.c — what `hstprof events` prints: for each counter backend,
 * what this machine can count and, for what it cannot, why. Every line comes
 * from actually opening the event on the calling thread, the same code path
 * the run loop uses. */
#include "probes/internal.h"

#include <perfmon/pfmlib_perf_event.h>
#include <stdlib.h>
#include <string.h>

static const char *const hardware_events[] = {
    "cycles",          "instructions",          "cache-references", "cache-misses",
    "branches",        "branch-misses",         "L1-dcache-loads",  "L1-dcache-load-misses",
    "LLC-loads",       "LLC-load-misses",       "dTLB-load-misses", "stalled-cycles-frontend",
    "ref-cycles",      NULL,
};
static const char *const software_events[] = {
    "task-clock",   "cpu-clock",      "page-faults", "minor-faults", "major-faults", "context-switches",
    "cpu-migrations", NULL,
};
static const char *const papi_presets[] = {
    "PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_L1_DCM", "PAPI_L2_DCM", "PAPI_L3_TCM", "PAPI_BR_MSP", NULL,
};

typedef struct {
    int checked, countable;
    char first_why[PROBES_WHY_MAX];
} tally;

static void print_result(FILE *out, const char *name, const probes_metric *m, const char *note, tally *t)
{
    t->checked++;
    t->countable += m->valid;
    if (!m->valid && !t->first_why[0])
        snprintf(t->first_why, sizeof t->first_why, "%s", m->why_not);
    if (!m->valid)
        fprintf(out, "  %-28s no   %s\n", name, m->why_not);
    else if (note && note[0])
        fprintf(out, "  %-28s yes  %s\n", name, note);
    else
        fprintf(out, "  %-28s yes\n", name);
}

/* The section's one-line verdict, from the backend's describe_unavailable. */
static void print_availability(FILE *out, const probes_backend *b)
{
    char why[PROBES_WHY_MAX];
    if (b->describe_unavailable(why, sizeof why))
        fprintf(out, "  (%s: %s)\n", b->name, why);
}

static void check_list(FILE *out, const char *backend, const char *const *names, tally *t)
{
    for (int i = 0; names[i]; i++) {
        char note[PROBES_NOTE_MAX];
        probes_metric m = probes_check_event(backend, names[i], note, sizeof note);
        print_result(out, names[i], &m, note, t);
    }
}

/* ---- libpfm4 PMUs --------------------------------------------------------------- */

/* The first event of the PMU that libpfm4 can encode without further
 * unit masks, as "pmu::event". */
static int encodable_event(const pfm_pmu_info_t *pinfo, char *name, size_t len)
{
    int tries = 0;
    for (int idx = pinfo->first_event; idx != -1 && tries < 64; idx = pfm_get_event_next(idx), tries++) {
        pfm_event_info_t info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if (pfm_get_event_info(idx, PFM_OS_NONE, &info) != PFM_SUCCESS)
            continue;
        snprintf(name, len, "%s::%s", pinfo->name, info.name);
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof attr);
        pfm_perf_encode_arg_t arg;
        memset(&arg, 0, sizeof arg);
        arg.attr = &attr;
        arg.size = sizeof arg;
        if (pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg) == PFM_SUCCESS)
            return 0;
    }
    return -1;
}

static void check_pmu(FILE *out, const pfm_pmu_info_t *pinfo, tally *t)
{
    char desc[160];
    int counters = pinfo->num_cntrs + pinfo->num_fixed_cntrs;
    snprintf(desc, sizeof desc, "%s, %d events", pinfo->desc, pinfo->nevents);
    if (counters > 0)
        snprintf(desc + strlen(desc), sizeof desc - strlen(desc), ", %d counters", counters);
    fprintf(out, "  %-28s %s\n", pinfo->name, desc);
    if (pinfo->type == PFM_PMU_TYPE_OS_GENERIC) {
        fprintf(out, "  %-28s      perf_events' own layer: its names are the perf_event sections above\n", "");
        return;
    }
    if (pinfo->type == PFM_PMU_TYPE_UNCORE) {
        fprintf(out, "  %-28s      uncore PMU: counts per socket, not per thread; not used\n", "");
        return;
    }
    char event[PROBES_NAME_MAX + 64];
    if (encodable_event(pinfo, event, sizeof event) != 0) {
        fprintf(out, "  %-28s no   libpfm4 could not encode any of its first events\n", "");
        return;
    }
    char note[PROBES_NOTE_MAX];
    probes_metric m = probes_check_event("perf", event, note, sizeof note);
    fprintf(out, "  %-28s tried %s:\n", "", event);
    print_result(out, "", &m, note, t);
}

static void list_pmus(FILE *out, tally *t)
{
    char why[PROBES_WHY_MAX];
    fprintf(out, "\nlibpfm4 PMUs detected (name native events as pmu::EVENT in --events):\n");
    if (probes_pfm_init(why, sizeof why) != 0) {
        fprintf(out, "  %s\n", why);
        return;
    }
    int pmu;
    pfm_for_all_pmus(pmu)
    {
        pfm_pmu_info_t pinfo;
        memset(&pinfo, 0, sizeof pinfo);
        pinfo.size = sizeof pinfo;
        if (pfm_get_pmu_info((pfm_pmu_t)pmu, &pinfo) == PFM_SUCCESS && pinfo.is_present)
            check_pmu(out, &pinfo, t);
    }
}

/* ---- the listing ---------------------------------------------------------------------- */

static void print_header(FILE *out)
{
    probes_machine_facts f = probes_machine_facts_get();
    char model[128];
    probes_cpu_model(model, sizeof model);
    fprintf(out, "hstprof events: what %s can count (perf_event_paranoid %d, %s, CPU PMU %s)\n", model, f.paranoid,
           f.hypervisor ? "virtual machine" : "bare metal or no hypervisor flag",
           f.cpu_pmu_present ? "present" : "absent");
}

static void list_fake(FILE *out, tally *t)
{
    const char *script = getenv("HSTPROF_FAKE_COUNTERS");
    fprintf(out, "\nfake backend (tests):\n");
    if (!script || !*script) {
        fprintf(out, "  not in use (set HSTPROF_FAKE_COUNTERS=<script> to replay scripted counts)\n");
        return;
    }
    char err[PROBES_WHY_MAX], list[1024];
    probes_fake_script *s = probes_fake_script_load(script, err, sizeof err);
    if (!s) {
        fprintf(out, "  %s\n", err);
        return;
    }
    probes_fake_script_events(s, list, sizeof list);
    probes_fake_script_free(s);
    char *save = NULL;
    for (char *name = strtok_r(list, "{},", &save); name; name = strtok_r(NULL, "{},", &save)) {
        probes_metric m = probes_check_event("fake", name, NULL, 0);
        print_result(out, name, &m, NULL, t);
    }
}

void probes_events_print_all(FILE *out)
{
    tally t;
    memset(&t, 0, sizeof t);
    char papi[256];
    print_header(out);
    fprintf(out, "\nperf_event hardware events (perf's generic names, encoded by libpfm4):\n");
    print_availability(out, &probes_backend_perf);
    check_list(out, "perf", hardware_events, &t);
    fprintf(out, "\nperf_event software events:\n");
    print_availability(out, &probes_backend_software);
    check_list(out, "software", software_events, &t);
    list_pmus(out, &t);
    probes_papi_describe(papi, sizeof papi);
    fprintf(out, "\nPAPI presets (%s):\n", papi);
    print_availability(out, &probes_backend_papi);
    check_list(out, "papi", papi_presets, &t);
    list_fake(out, &t);
    fprintf(out, "\nsummary: %d of %d events countable here%s%s\n", t.countable, t.checked,
           t.first_why[0] ? "; first reason: " : "", t.first_why);
}

/* --events LIST: each named event with the backend its name selects. */
int probes_events_print_named(const char *events, FILE *out, char *err, size_t err_len)
{
    probes_counter_opts opts = {.events = events, .backend = NULL, .fake_script = NULL};
    probes_counters *c = probes_counters_open(&opts, NULL, 0, err, err_len);
    if (!c)
        return -1;
    print_header(out);
    fprintf(out, "\n");
    for (int i = 0; i < probes_counters_event_count(c); i++) {
        probes_event_info info;
        probes_counters_event(c, i, &info);
        const char *detail = info.countable.valid ? info.note : info.countable.why_not;
        fprintf(out, "  %-28s %-10s group %-2d %-3s%s%s\n", info.name, info.backend, info.group,
               info.countable.valid ? "yes" : "no", detail[0] ? "  " : "", detail);
    }
    fprintf(out, "\nsummary: %s\n", probes_counters_summary(c));
    probes_counters_close(c);
    return 0;
}

