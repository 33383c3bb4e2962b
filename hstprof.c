/* hstprof.c — the thin command dispatcher: find the command, hand argv to
 * its file (cmd_<name>.c beside this one, declared in commands.h). */
#include "commands.h"
#include "engine/hst.h"
#include "exports/atomic.h"
#include "probes/ceilings.h"
#include "probes/json.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static int cmd_default(int argc, char **argv);

static const command commands[] = {
    {"dashboard", cmd_dashboard, "the live dashboard (the default): throughput, latency, layers, counters, A/B"},
    {"run", cmd_run, "prefill a prompt and generate tokens; print rates, latency, memory, quality hash"},
    {"bench", cmd_bench, "prefill (ppS) and generation (tgN) tokens/s per model x mode x threads, llama-bench style (md, csv or json)"},
    {"layerbench", cmd_layerbench, "one PreBlock: eager baseline vs the engine's fused path, latency and peak memory"},
    {"model", cmd_model, "write a preset's random weights (init) or describe a model file (info)"},
    {"events", cmd_events, "what each counter backend can count on this machine, and why not"},
    {"topo", cmd_topo, "packages, NUMA nodes, caches, cores and PUs (hwloc)"},
    {"ceilings", cmd_ceilings, "measure this machine's read bandwidth per cache level and DRAM, and its FMA/matmul ceilings"},
    {"profiles", cmd_profiles, "the profiles -p NAME can apply (yours and the shipped ones)"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: hstprof [COMMAND] [OPTIONS]\n\n"
                 "hstprof profiles the HST inference engine on this CPU. Without a command it opens\n"
                 "the live dashboard on the embedded default model (%s, random weights, seed %d).\n\n"
                 "commands:\n",
            HST_DEFAULT_PRESET, HST_DEFAULT_SEED);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'hstprof COMMAND --help' describes a command's options; 'hstprof --version' names this build.\n");
}

/* No command: the main job, the live dashboard on the default model. */
static int cmd_default(int argc, char **argv)
{
    return cmd_dashboard(argc, argv);
}

int main(int argc, char **argv)
{
    /* A file-size limit (ulimit -f) reached while writing an export or a model
     * would kill us with SIGXFSZ; ignored, write() fails with EFBIG instead and
     * that is reported like a full disk, with nothing half-written. */
    signal(SIGXFSZ, SIG_IGN);
    probes_set_file_writer(export_write_atomic);
    if (argc < 2)
        return cmd_default(argc, argv);
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("hstprof %s (commit %s)\n", probes_build_version(), probes_build_commit());
        return 0;
    }
    /* Options without a command belong to the default command: `hstprof -p fast`. */
    if (name[0] == '-')
        return cmd_default(argc, argv);
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hstprof: unknown command '%s' (see hstprof --help)\n", name);
    return 2;
}
