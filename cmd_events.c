/* cmd_events.c — `hstprof events`: for each counter backend, what this
 * machine can count and, for what it cannot, why (probes/event_list.c). */
#include "commands.h"
#include "probes/counters.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: hstprof events [--events LIST]\n\n"
                 "For each counter backend (perf_event hardware via libpfm4, perf_event software,\n"
                 "libpfm4's detected PMUs, PAPI presets, the test fake), what this machine can\n"
                 "count and, for what it cannot, why. Each event is really opened on this thread.\n\n"
                 "  --events LIST  check these events instead, grouped as `run --events` would group\n"
                 "                 them, e.g. '{cycles,instructions},task-clock,PAPI_TOT_CYC'\n");
}

/* --events LIST: each named event with the backend its name selects. */
static int list_named(const char *events)
{
    char err[PROBES_WHY_MAX];
    if (probes_events_print_named(events, stdout, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "hstprof events: %s\n", strncmp(err, "events: ", 8) == 0 ? err + 8 : err);
    return 2;
}

int cmd_events(int argc, char **argv)
{
    const char *events = NULL;
    for (int i = 1; i < argc; i++) {
        int rc = cmd_opt_value("events", argc, argv, &i, "--events", &events);
        if (rc < 0)
            return 2;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        return cmd_bad_option("events", argv[i]);
    }
    if (events)
        return list_named(events);
    probes_events_print_all(stdout);
    return 0;
}
