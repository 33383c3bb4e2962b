/* profiles.h — run settings: the command-line option parser every command
 * uses, the settings the commands share, and named INI profiles. The whole
 * interface of profiles/. */
#ifndef HSTPROF_PROFILES_H
#define HSTPROF_PROFILES_H

#include "engine/hst.h"

#include <stddef.h>
#include <stdint.h>

/* ---- run settings: what a profile names and flags override ---------------- */

typedef struct {
    char name[64];          /* profile name, "" when none was used */
    char model[1024];       /* preset or safetensors file */
    uint64_t seed;
    int threads;            /* 0: every PU this process may use */
    char affinity[256];     /* none|compact|scatter|LIST ("0,2-3") */
    char events[1024];      /* counter events, "" = the default set */
    char prompt[4096];      /* text prompt ("" = the default prompt) */
    int n_tokens;           /* tokens to generate */
    double temperature;     /* <= 0: greedy */
    int top_k;              /* <= 0: whole vocabulary */
    char precision[16];     /* weights: f32, bf16 or int8 (hst_precision_name) */
    char kernel[16];        /* auto|avx512|avx2|portable */
    char mode[32];          /* causal|parity (engine/hst.h); bench: a list, "parity,causal" */
    char models[2048];      /* bench: models, comma-separated, or all */
    char seq[256];          /* bench: sequence lengths "128,256,512" */
    int gen;                /* bench: tokens of each generation row (tgN); 0: none */
    int warmup, runs;       /* bench: untimed and timed runs per cell */
    int delay;              /* dashboard: tenths of a second between redraws (htop's --delay) */
    /* Where a profile set threads, affinity, model and models, "<file>:<line>"
     * ("" when no profile did, or a flag overrode it), so that a value this
     * machine cannot take, or a model file that does not exist, names its line. */
    char threads_from[1100], affinity_from[1100], model_from[1100], models_from[1100];
} hst_settings;

#define SETTINGS_DEFAULT_MODEL "hst-v4"
#define PROFILE_NAME_MAX 64
#define PROFILE_PATH_MAX 1024

/* The built-in defaults: hst-v4, seed 0, every PU, no affinity, causal mode, 128 greedy tokens, a
 * dashboard redraw every tenth of a second. */
void settings_defaults(hst_settings *s);

/* ---- option tables ------------------------------------------------------- */

typedef enum {
    OPT_FLAG,   /* no value; sets *(int *)target = 1 */
    OPT_INT,    /* int within [min, max] */
    OPT_U64,    /* unsigned 64-bit decimal */
    OPT_FLOAT,  /* finite double within [min, max] */
    OPT_STRING, /* copied into char[size] */
    OPT_STRING_LIST, /* repeatable: each value appended to an opt_string_list */
} opt_kind;

/* What an OPT_STRING_LIST option collects, in the order given. */
#define OPT_LIST_MAX 8
#define OPT_LIST_ITEM_MAX 1024
typedef struct {
    int n;
    char items[OPT_LIST_MAX][OPT_LIST_ITEM_MAX];
} opt_string_list;

typedef struct {
    const char *name;   /* long name without "--" */
    char short_name;    /* e.g. 'n' for -n, or 0 */
    opt_kind kind;
    void *target;
    size_t size;        /* OPT_STRING: buffer size */
    double min, max;    /* OPT_INT / OPT_FLOAT bounds */
    const char *metavar;
    const char *help;
    int *seen;          /* optional: set to 1 when the option was given */
} opt_spec;

typedef struct {
    const char *command; /* "hstprof run" */
    const char *usage;   /* one line after "usage: " */
    const char *summary; /* one paragraph */
    const opt_spec *opts;
    int n_opts;
    int max_positional;  /* positional arguments accepted */
} opt_table;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERROR = 2 };

/* Parses argv[first..argc-1]. Accepts --name value, --name=value, -x value.
 * Positional arguments are stored in positional[0..*n_positional-1].
 * On ARGS_ERROR one line naming the problem (with "did you mean") is on stderr;
 * on ARGS_HELP the help text is on stdout. */
int args_parse(const opt_table *t, int argc, char **argv, int first, char **positional, int *n_positional);
void args_print_help(const opt_table *t);

/* "1,2,3" -> ints within [min, max]; returns count or -1 (message in err). */
int args_parse_int_list(const char *s, int *out, int max_out, long min, long max, char *err, size_t err_size);
/* "a,b,c" -> pointers into buf (modified in place); returns count. */
int args_split_list(char *buf, char **out, int max_out);

/* The value of option `name` (long name) in argv[first..], the last one when
 * given twice, or NULL; values of other options are skipped, not read as
 * options. No errors: args_parse reports those. For two-pass parsing, e.g.
 * load the profile -p names, then let the flags override it. */
const char *args_find_value(const opt_table *t, int argc, char **argv, int first, const char *name);

/* Whether the file an output flag names can be written, checked before the
 * work that produces it (a typo in -o fails in milliseconds, not after the
 * run): the name is not empty and not a target the writer refuses (a
 * directory, a socket, a block device, a loop of links: export_target_check);
 * "-", a FIFO or a character device (streams) pass; for a file, the directory
 * of the file it names (symbolic links followed) exists, is a directory, and
 * is writable (access(2) W_OK, which also reports a read-only file system,
 * even to root). Nothing is opened. The atomic write at the end still reports
 * a directory that disappears meanwhile. 0 ok; -1 with one line in err, e.g.
 * "--export /x/y.md: directory /x does not exist". */
int args_check_output_path(const char *flag, const char *path, char *err, size_t err_size);

/* ---- the options commands share (settings.c) ------------------------------
 * One definition of each option that sets a field of hst_settings, so its
 * bounds, help and metavar are the same in every command; and one rule for
 * a profile and flags: the defaults, then the profile -p names, then the
 * flags given. */

typedef struct {
    hst_settings s;                  /* the result */
    char profile[PROFILE_PATH_MAX];  /* -p NAME|FILE as given */
    int oversubscribe;               /* --oversubscribe: threads may share PUs */
    int seen_model, seen_seed, seen_threads, seen_affinity, seen_kernel, seen_precision, seen_mode, seen_events,
        seen_profile;
} settings_flags;

/* The shared option called name, bound to f: "model" (-m), "seed",
 * "threads" (-t), "oversubscribe", "affinity", "kernel", "precision",
 * "mode" (one mode), "modes" (--mode taking a list, for bench), "events"
 * (-e), "profile" (-p). */
opt_spec settings_option(settings_flags *f, const char *name);
/* Parses argv with t, whose shared options come from settings_option(f, ...):
 * settings_defaults, then the profile when -p names one, then the flags.
 * A flag that overrides a profile's threads or affinity clears where the
 * profile set it. ARGS_OK, ARGS_HELP, or ARGS_ERROR with one line printed. */
int settings_parse(const opt_table *t, int argc, char **argv, settings_flags *f);

/* The modes a mode setting names: "causal", "parity" or a list of them
 * ("parity,causal"), each at most once, in the order given. The count, or -1
 * with one line in why, naming the setting as what ("--mode", "mode"). */
int settings_modes(const char *list, const char *what, hst_mode *out, int max, char *why, size_t why_len);

/* Levenshtein distance of two short names (<= 63 bytes; longer: 64), for
 * "did you mean" suggestions everywhere. */
size_t args_edit_distance(const char *a, const char *b);

/* ---- named INI profiles (profile.c; `hstprof profiles` lists them) ---------
 *
 * A profile is a small INI file of run settings, one "key = value" per line:
 *
 *   # Single thread, no placement: the baseline every scaling figure divides by.
 *   model   = hst-v4
 *   threads = 1        ; 0 = every PU
 *   prompt  = "The harmonic spine # quoted: keeps '#', leading spaces, \" and \n"
 *
 * Keys map 1:1 to hst_settings: model, seed, threads, affinity, events,
 * prompt, tokens (n_tokens), temperature, top_k, precision, kernel, mode,
 * models, seq, gen, warmup, runs, delay. mode is causal or parity, or a list of
 * them for bench ("parity,causal"); run and the dashboard take one. Values follow the rules of the matching flags (the
 * profile also accepts threads = 0 "every PU", temperature = 0 "greedy",
 * top_k = 0 "whole vocabulary", prompt = "" "the default prompt"). "Every PU"
 * means every PU this process may run on (its allowed CPU set: taskset or a
 * cgroup can make it smaller than the machine). A threads value above that,
 * or an affinity list with fewer PUs than threads, is refused when the
 * profile is used, naming "<file>:<line>", unless the command line has
 * --oversubscribe; whether the PUs exist is checked then too.
 * A model file (model, or an entry of models) given as a relative path is
 * read from the profile's own directory, not from where the profile is used;
 * profile_save writes absolute paths. Whether the file exists is checked
 * when the profile is used, naming "<file>:<line>" (model_from, models_from).
 * '#' or ';' start a comment at the beginning of a line, or after white space
 * in an unquoted value. There are no sections. A key given twice is an error.
 *
 * Every error is one line, "<file>:<line>: <problem>", e.g.
 *   profiles/x.ini:3: unknown key 'thread' (did you mean 'threads'?)
 *
 * Where a NAME is looked up, in order (a user profile shadows a shipped one):
 *   1. $XDG_CONFIG_HOME/hstprof/profiles/NAME.ini (default ~/.config/...)
 *   2. the shipped directory: $HSTPROF_PROFILE_DIR when set, else the first
 *      of profiles/, ../profiles/, ../../profiles/ beside the running binary
 *      (/proc/self/exe) that holds default.ini.
 * An argument with a '/' or ending in ".ini" is a file path, never a NAME. */


/* Applies the profile's keys on top of *s (keys the file leaves out keep
 * their value, so callers start from settings_defaults) and sets s->name.
 * 0 ok; -1 with one line in err (then *s is unchanged). */
int profile_load(const char *name_or_path, hst_settings *s, char *err, size_t err_size);
/* The same on text in memory; file names the text in messages. */
int profile_parse(const char *text, size_t len, const char *file, hst_settings *s, char *err, size_t err_size);
/* The file a NAME or path refers to (it exists). 0 ok; -1 with err. */
int profile_resolve(const char *name_or_path, char *path, size_t path_size, char *err, size_t err_size);

/* Writes every key of *s as $XDG_CONFIG_HOME/hstprof/profiles/NAME.ini,
 * atomically, creating the directory. NAME: letters, digits, '.', '_', '-',
 * not starting with '.'. The file is parsed back before it is written, so a
 * saved profile always loads. The written path goes to path_out. 0 ok; -1 with err. */
int profile_save(const hst_settings *s, const char *name, char *path_out, size_t path_size, char *err,
                 size_t err_size);
/* The text profile_save writes (malloc'd; NULL when out of memory). */
char *profile_render(const hst_settings *s, const char *description);

/* Directories: the user's ($XDG_CONFIG_HOME/hstprof/profiles) and the
 * shipped one. 0 ok; -1 with err (no home, or no shipped directory found). */
int profile_user_dir(char *buf, size_t size, char *err, size_t err_size);
int profile_shipped_dir(char *buf, size_t size, char *err, size_t err_size);

typedef struct {
    char name[PROFILE_NAME_MAX];
    char path[PROFILE_PATH_MAX];
    int user;              /* 1: the user's directory, 0: shipped */
    int shadowed;          /* 1: a shipped profile hidden by a user one of the same name */
    char description[160]; /* the file's first comment line */
    char summary[256];     /* the settings in one line, or the parse error */
    int valid;             /* 0 when the file does not parse (summary is the error) */
} profile_info;

/* Every profile of both directories, sorted by name, the user's first on a
 * tie. *out is malloc'd (free it); returns the count, or -1 with err. */
int profile_list(profile_info **out, char *err, size_t err_size);
/* One line describing the settings: "hst-v4, 1 thread, affinity none, 128 greedy tokens; bench ...". */
void profile_summary(const hst_settings *s, char *buf, size_t size);

#endif
