/* hstprof.c — the thin command dispatcher: find the command, hand argv to
 * the module that owns it. */
#include "engine/hst.h"
#include "probes/probes.h"

#include <stdio.h>
#include <string.h>

int probes_cmd_run(int argc, char **argv);
int probes_cmd_bench(int argc, char **argv);

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static int cmd_default(int argc, char **argv);

static const command commands[] = {
    {"run", probes_cmd_run, "prefill a prompt and generate tokens; print rates, latency, memory, quality hash"},
    {"bench", probes_cmd_bench, "prefill throughput per model x seq x threads (md, csv or json report)"},
    {"model", hst_cmd_model, "write a preset's random weights (init) or describe a model file (info)"},
    {"events", probes_cmd_events, "what each counter backend can count on this machine, and why not"},
    {"topo", probes_cmd_topo, "packages, NUMA nodes, caches, cores and PUs (hwloc)"},
    {"ceilings", probes_cmd_ceilings, "measure this machine's bandwidth and FMA/matmul ceilings"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: hstprof [COMMAND] [OPTIONS]\n\n"
                 "hstprof profiles the HST inference engine on this CPU. Without a command it generates\n"
                 "on the embedded default model (%s, random weights, seed %d) with live progress.\n\n"
                 "commands:\n",
            HST_DEFAULT_PRESET, HST_DEFAULT_SEED);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'hstprof COMMAND --help' describes a command's options.\n");
}

/* No command: the main job. Until the dashboard lands this is a headless
 * generation on the default model with a live one-line progress display. */
static int cmd_default(int argc, char **argv)
{
    (void)argc;
    char *args[] = {argv[0], "--progress", "-n", "500", "--prompt", "The harmonic spine", NULL};
    return probes_cmd_run(6, args);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cmd_default(argc, argv);
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hstprof: unknown command '%s' (see hstprof --help)\n", name);
    return 2;
}
