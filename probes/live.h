/* live.h — the live generation loop behind the dashboard: the engine
 * thread, its settings and commands, and the segments it reports.
 *
 * Data flows one way:
 *
 *   live_setting ──> live_engine (its own thread: model, pool, session)
 *                       │ one live_sample per token, SPSC lock-free ring
 *                       v
 *                    live_metrics (its own "probes" thread: statistics per
 *                       │           segment, memory, CPU load, ceilings, A/B)
 *                       v
 *                    live_view (a plain copy; the UI and snapshots read it)
 *
 * Control goes the other way through a small mutex-protected mailbox that the
 * engine thread checks at every token boundary, so a change never lands in
 * the middle of a token. Every change of setting (threads, affinity, model,
 * kernel, precision, mode, a statistics reset, an A/B start or stop) starts a
 * new *segment*: statistics are kept per segment and never mixed.
 */


#ifndef PROBES_LIVE_H
#define PROBES_LIVE_H

#include "engine/hst.h"
#include "probes/counters.h"
#include "probes/ring.h"

/* ---- settings ----------------------------------------------------------------- */

#define LIVE_MODEL_MAX 1024

/* What the engine runs; one of these per A/B side. */
typedef struct {
    char model[LIVE_MODEL_MAX]; /* preset name or safetensors path */
    int threads;                /* >= 1 */
    char affinity[256];         /* none|compact|scatter|PU list */
    char kernel[16];            /* auto|avx512|avx2|portable */
    char precision[16];         /* f32|bf16|int8: how the weights are stored */
    char mode[16];              /* causal|parity ("": causal), set on the slot's engine session */
} live_setting;

/* "4 threads, compact, hst-v4 f32 causal, kernel auto" style one-liner (for A/B labels). */
void live_setting_describe(const live_setting *s, char *buf, size_t len);
/* The single field in which a and b differ, described as "threads 1 vs 2";
 * falls back to both descriptions when several differ. */
void live_setting_difference(const live_setting *a, const live_setting *b, char *buf, size_t len);

/* ---- the engine thread ------------------------------------------------------------ */

typedef struct live_engine live_engine;

typedef struct {
    live_setting setting;
    uint64_t seed;          /* random weights of presets */
    const char *prompt;     /* text (bytes are ids); NULL: HST_QUALITY_PROMPT */
    const char *events;     /* counter events; NULL: probes' default set */
    int no_counters;        /* 1: do not open counters */
    size_t ring_capacity;   /* 0: 4096 */
    int ab_round_tokens;    /* 0: LIVE_AB_ROUND_TOKENS */
    int max_seq_len;        /* > 0: generations restart at this position (tests) */
} live_options;

#define LIVE_AB_ROUND_TOKENS 32
/* What an A/B verdict's figures are, for the panel's readers and the snapshots'. */
#define LIVE_AB_METHOD                                                                                        \
    "each side's median is over its measured rounds, a round's figure the median of its decode tokens' "    \
    "rates; a segment's tok/s averages all of its tokens, including the first after each switch of side"

typedef enum {
    LIVE_CMD_PAUSE,
    LIVE_CMD_RESUME,
    LIVE_CMD_SET_THREADS,   /* .threads */
    LIVE_CMD_SET_AFFINITY,  /* .text */
    LIVE_CMD_SET_MODEL,     /* .text */
    LIVE_CMD_SET_KERNEL,    /* .text */
    LIVE_CMD_SET_PRECISION, /* .text */
    LIVE_CMD_SET_MODE,      /* .text: causal|parity */
    LIVE_CMD_RESET_STATS,
    LIVE_CMD_AB_START,      /* .a, .b */
    LIVE_CMD_AB_STOP,       /* .keep */
} live_command_kind;

/* What runs after an A/B comparison stops. */
typedef enum {
    LIVE_AB_KEEP_A,         /* side A's setting (its slot goes on) */
    LIVE_AB_KEEP_B,         /* side B's */
    LIVE_AB_KEEP_BEFORE,    /* the setting that ran before the comparison started */
} live_ab_keep;

const char *live_ab_keep_name(live_ab_keep k); /* "A", "B", "before" */

typedef struct {
    live_command_kind kind;
    int threads;
    char text[LIVE_MODEL_MAX];
    live_setting a, b;
    live_ab_keep keep;
} live_command;

typedef enum {
    LIVE_STARTING,   /* loading the first model */
    LIVE_RUNNING,
    LIVE_PAUSED,     /* by the user */
    LIVE_HELD,       /* by the probes thread (e.g. measuring ceilings) */
    LIVE_FAILED,     /* no runnable setting; error says why; commands still work */
    LIVE_STOPPED,
} live_state;

const char *live_state_name(live_state s);

typedef struct {
    live_state state;
    char error[512];        /* last failed command or setting, "" when none */
    char hold_reason[128];
    live_setting setting;   /* the running one (side A during A/B) */
    uint32_t segment;       /* segment of the running setting (side A during A/B) */
    uint64_t generations;   /* of the running setting's session */
    int pos, max_seq_len;
    uint64_t tokens;        /* samples produced since start */
    int ab_active;
    /* 1 once a comparison stopped, until statistics are reset or another
     * starts: ab[], ab_segment[] and ab_kept still describe it, so that its
     * verdict stays in the view and in snapshots. */
    int ab_stopped;
    live_ab_keep ab_kept;   /* what ran on when it stopped */
    live_setting ab_before; /* what ran before the (last) comparison started */
    live_setting ab[2];
    uint32_t ab_segment[2];
    uint32_t ab_rounds[2];  /* completed rounds per side */
    int ab_round_tokens;
    uint32_t resets;        /* statistics resets so far (r) */
    int pu_count;           /* of the machine (hwloc) */
    char kernel_in_use[16]; /* of the running setting (side A's during A/B) */
    char ab_kernel_in_use[2][16];
} live_status;

/* Starts the engine thread; it loads the model itself, so this returns at
 * once. NULL with err only when the thread or ring cannot be created. */
live_engine *live_start(const live_options *opts, char *err, size_t err_len);
/* Stops at the next token boundary, joins and frees everything. */
void live_stop(live_engine *e);
/* Queues a command for the next token boundary. 0, or -1 when the mailbox
 * is full (the UI says "busy"). Never waits for the engine. */
int live_send(live_engine *e, const live_command *cmd);
/* Convenience wrappers around live_send. */
int live_send_simple(live_engine *e, live_command_kind kind);
int live_send_threads(live_engine *e, int threads);
int live_send_text(live_engine *e, live_command_kind kind, const char *text);
/* Holds generation (independent of the user's pause); reason shown in the
 * header. Returns once the engine is between tokens when wait is 1. */
void live_hold(live_engine *e, int on, const char *reason, int wait);
void live_get_status(live_engine *e, live_status *out);
live_ring *live_engine_ring(live_engine *e);

/* ---- segments ------------------------------------------------------------------------ */

#define LIVE_MAX_SEGMENTS 64 /* the oldest are forgotten beyond this */

typedef struct {
    uint32_t id;
    int valid;
    int ab_side;                 /* -1, 0, 1 */
    live_setting setting;
    char preset[32], source[LIVE_MODEL_MAX + 32], arch[16], arch_class[32];
    hst_config config;
    hst_counts counts;
    char kernel[16];             /* in use */
    uint64_t kv_cache_bytes;
    int prompt_tokens;
    char mode[16];               /* the session's (hst_mode_name) */
    int n_counters;              /* counter events of the slot (0: none open) */
    char counter_names[LIVE_SAMPLE_COUNTERS][PROBES_NAME_MAX];
    int thread_tid[LIVE_SAMPLE_THREADS]; /* Linux thread id per pool thread */
    int n_sections;
    char section_names[LIVE_MAX_SECTIONS][24];
    int threads;
    int thread_pu[LIVE_SAMPLE_THREADS]; /* planned PU per thread, -1 unbound */
    int affinity_wrapped;        /* more threads than PUs: they share */
    char binding_why_not[PROBES_WHY_MAX + 32]; /* first failed binding, "" when all bound */
    uint64_t start_ns, end_ns;   /* end_ns 0 while running */
    /* Counters over the segment's prefills, over its decode tokens, and over
     * the decode tokens since the previous publish (about half a second);
     * published by the engine thread twice a second. */
    int counters_open;
    char counters_summary[512];
    int has_windows;
    uint64_t counters_decode_tokens; /* the decode tokens counters_decode covers */
    probes_counter_window counters_prefill, counters_decode, counters_recent;
} live_segment_info;

/* Copies segment id's description; 0, or -1 when unknown or forgotten. */
int live_get_segment(live_engine *e, uint32_t id, live_segment_info *out);

#endif
