/* cmd_model.c — `hstprof model init` and `hstprof model info`. Here, not in
 * engine/: init writes the file through exports/ (export_model_save), and
 * the engine, the lowest layer, includes nothing above it. */
#include "commands.h"
#include "engine/hst.h"
#include "exports/atomic.h"
#include "exports/model_file.h"
#include "profiles/profiles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t v, char *buf, size_t size)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

/* "hst-v3, hst-v4, ..." */
static const char *preset_list(char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < hst_preset_count(); i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", hst_preset_name(i));
    return buf;
}

static int model_init(int argc, char **argv)
{
    char preset[64] = "", out[1024] = "", presets[256], preset_help[300];
    uint64_t seed = HST_DEFAULT_SEED;
    snprintf(preset_help, sizeof preset_help, "preset: %s", preset_list(presets, sizeof presets));
    const opt_spec opts[] = {
        {"preset", 0, OPT_STRING, preset, sizeof preset, 0, 0, "P", preset_help, NULL},
        {"seed", 0, OPT_U64, &seed, 0, 0, 0, "N", "random-initialisation seed (default 0)", NULL},
        {"output", 'o', OPT_STRING, out, sizeof out, 0, 0, "FILE", "safetensors file to write (an existing one is replaced; -: standard output)", NULL},
    };
    const opt_table t = {"hstprof model init", "hstprof model init --preset P [--seed N] -o FILE.safetensors",
                         "Writes a preset's seeded random weights as a safetensors file (spec section 9.5).",
                         opts, 3, 0};
    int rc = args_parse(&t, argc, argv, 2, NULL, NULL);
    if (rc != ARGS_OK)
        return rc == ARGS_HELP ? 0 : 2;
    if (!*preset || !*out) {
        fprintf(stderr, "hstprof model init: %s is required (see --help)\n", !*preset ? "--preset" : "-o FILE");
        return 2;
    }
    hst_config cfg;
    if (hst_preset_config(preset, &cfg) != 0) {
        fprintf(stderr, "hstprof model init: unknown preset '%s' (%s)\n", preset, presets);
        return 2;
    }
    char why[2400];
    if (args_check_output_path("--output", out, why, sizeof why) != 0) { /* before the weights are built */
        fprintf(stderr, "hstprof model init: %s\n", why);
        return 2;
    }
    const int to_stdout = strcmp(out, "-") == 0;
    if (to_stdout && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "hstprof model init: -o -: standard output is a terminal; redirect it to a file or a pipe\n");
        return 2;
    }
    /* An existing file is replaced (atomically): the last line says so, with its old size. */
    char file[4096];
    struct stat old;
    const int replaces = export_target_check(out, file, sizeof file, NULL, 0) == EXPORT_TARGET_FILE &&
                         stat(file, &old) == 0;
    /* Ctrl-C, SIGTERM or SIGHUP stop the save between tensors: out stays as
     * it was and no temporary is left; exit 128 + signal like run and bench. */
    cmd_interrupt_install();
    hst_error err = {{0}};
    hst_model *m = hst_model_open(preset, seed, &err); /* random init, keeping an alias's name (hst-chaos) */
    if (m && !cmd_interrupted())
        rc = export_model_save(m, out, cmd_interrupted, why, sizeof why);
    else
        rc = -1;
    if (cmd_interrupted()) {
        hst_model_free(m);
        return cmd_interrupt_exit_status("hstprof model init");
    }
    if (rc != 0) {
        fprintf(stderr, "hstprof model init: %s\n", m ? why : err.msg);
        hst_model_free(m);
        return 1;
    }
    hst_counts c = hst_model_counts(m);
    char a[32], b[32], was[80] = "";
    if (replaces)
        snprintf(was, sizeof was, " (replaced: it held %s bytes)", grouped((uint64_t)old.st_size, a, sizeof a));
    /* With -o - the weights are on standard output: the line goes beside them. */
    fprintf(to_stdout ? stderr : stdout, "wrote %s%s: %s, seed %llu, %d tensors, %s parameters (%s on the next-token path)\n",
            to_stdout ? "standard output" : out, was, preset, (unsigned long long)seed, c.n_tensors,
            grouped(c.params_total, a, sizeof a), grouped(c.params_next_token, b, sizeof b));
    hst_model_free(m);
    return 0;
}

static void print_tensor(const hst_tensor_info *ti)
{
    char shape[64] = "[";
    for (int d = 0; d < ti->ndim; d++) {
        char dim[24];
        snprintf(dim, sizeof dim, "%s%lld", d ? ", " : "", (long long)ti->shape[d]);
        strncat(shape, dim, sizeof shape - strlen(shape) - 2);
    }
    strcat(shape, "]");
    char n[32];
    /* The name lists' groups (spec 12); never-read tensors carry no mark. */
    const char *mark = ti->next_token                        ? "  next-token"
                       : strcmp(ti->group, "horizon") == 0  ? "  horizon"
                       : strcmp(ti->group, "buffer") == 0   ? "  buffer"
                       : strcmp(ti->group, "tied") == 0     ? "  tied (the token table)"
                                                            : "";
    printf("  %-72s %-4s %-16s %12s%s\n", ti->name, ti->dtype, shape, grouped(ti->numel, n, sizeof n), mark);
}

/* Spec 11's figures, per mode where the modes differ (spec 12.0). */
static void print_flops(const hst_config *c)
{
    const int seqs[] = {128, 256, 512};
    const int modes = hst_arch_modes_differ(c->arch) ? HST_MODE_COUNT : 1;
    for (int mode = 0; mode < modes; mode++) {
        printf("flops/token   %s%sprefill", modes > 1 ? hst_mode_name((hst_mode)mode) : "", modes > 1 ? " " : "");
        if (isnan(hst_flops_prefill_per_token(c, (hst_mode)mode, 1))) {
            printf(": no formula in this build (the core is not implemented)\n");
            continue;
        }
        for (int i = 0; i < 3; i++)
            if (seqs[i] <= c->max_seq_len)
                printf(" %.3f M (S=%d)", hst_flops_prefill_per_token(c, (hst_mode)mode, seqs[i]) / 1e6, seqs[i]);
        printf("; decode %.3f M at t=%d\n", hst_flops_decode(c, (hst_mode)mode, c->max_seq_len - 1) / 1e6,
               c->max_seq_len - 1);
    }
}

static void print_info(const hst_model *m, const char *name)
{
    const hst_config *c = hst_model_config(m);
    hst_counts k = hst_model_counts(m);
    struct stat st;
    char a[32], b[32], w[32];
    const char core = hst_arch_core(c->arch);
    const int Lb = c->n_layers / 2;
    if (stat(name, &st) == 0 && S_ISREG(st.st_mode))
        printf("file          %s (%s bytes)\n", name, grouped((uint64_t)st.st_size, a, sizeof a));
    else
        printf("model         %s\n", hst_model_source(m));
    printf("preset        %s\n", hst_model_preset(m));
    printf("arch          %s (%s, Core %c)\n", hst_arch_name(c->arch), hst_arch_class(c->arch), core);
    printf("config        vocab_size %d, d_model %d, n_heads %d, n_layers %d", c->vocab_size, c->d_model, c->n_heads,
           c->n_layers);
    if (core <= 'C') /* Cores D and E have no bottom/top split */
        printf(" (%d bottom + %d top)", Lb, c->n_layers - Lb);
    printf(", max_seq_len %d, horizon %d\n", c->max_seq_len, c->horizon);
    printf("params        %s total (as the original counted), %s on the next-token path\n",
           grouped(k.params_total, a, sizeof a), grouped(k.params_next_token, b, sizeof b));
    printf("weights       %s bytes as f32 in memory\n", grouped(k.weight_bytes, w, sizeof w));
    uint64_t state = hst_decode_state_bytes(c);
    if (state)
        printf("decode state  %s bytes at max_seq_len (KV caches and the rest of a session's state)\n",
               grouped(state, a, sizeof a));
    else
        printf("decode state  not known in this build (the core is not implemented)\n");
    print_flops(c);
    printf("tensors       %d\n", k.n_tensors);
    for (int i = 0; i < hst_model_tensor_count(m); i++) {
        hst_tensor_info ti;
        if (hst_model_tensor(m, i, &ti) == 0)
            print_tensor(&ti);
    }
}

static int model_info(int argc, char **argv)
{
    uint64_t seed = HST_DEFAULT_SEED;
    int strict_weights = 0;
    const opt_spec opts[] = {
        {"seed", 0, OPT_U64, &seed, 0, 0, 0, "N", "seed when FILE is a preset name (default 0)", NULL},
        {"strict-weights", 0, OPT_FLAG, &strict_weights, 0, 0, 0, NULL,
         "reject a file holding NaN or Inf weights (exit 1) instead of warning", NULL},
    };
    const opt_table t = {"hstprof model info", "hstprof model info [--strict-weights] FILE|PRESET",
                         "Prints a model's preset, configuration, both parameter counts, bytes and tensors.",
                         opts, 2, 1};
    char *pos[1];
    int np = 0;
    int rc = args_parse(&t, argc, argv, 2, pos, &np);
    if (rc != ARGS_OK)
        return rc == ARGS_HELP ? 0 : 2;
    if (np != 1) {
        fprintf(stderr, "hstprof model info: a model file is required (see --help)\n");
        return 2;
    }
    if (cmd_check_model("model info", pos[0], NULL) != 0)
        return 2;
    hst_error err = {{0}};
    const hst_load_opts load = {.reject_nonfinite_weights = strict_weights};
    hst_model *m = hst_model_open_opts(pos[0], seed, &load, &err);
    if (!m) {
        fprintf(stderr, "hstprof model info: %s\n", err.msg);
        return 1;
    }
    char warning[sizeof err.msg + 64];
    if (hst_model_warning(m, warning, sizeof warning))
        fprintf(stderr, "hstprof model info: warning: %s (--strict-weights rejects such a file)\n", warning);
    print_info(m, pos[0]);
    hst_model_free(m);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    const char *usage = "usage: hstprof model init --preset P [--seed N] -o FILE.safetensors\n"
                        "       hstprof model info FILE\n";
    if (argc < 2) {
        fprintf(stderr, "hstprof model: a subcommand is required: init or info (see hstprof model --help for usage)\n");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return model_init(argc, argv);
    if (strcmp(argv[1], "info") == 0)
        return model_info(argc, argv);
    fprintf(stderr, "hstprof model: unknown subcommand '%s' (init, info)\n", argv[1]);
    return 2;
}
