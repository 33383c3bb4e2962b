/* fake.c — a counter backend that replays a script (format in probes.h), so
 * that scaling, multiplexing and derived metrics are exercised on machines
 * without a PMU, and end-to-end tests can drive the hardware path. */
#include "probes/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A read fault scripted for one event (fail, eof, stolen directives). */
typedef struct {
    int kind;           /* FAULT_* */
    uint64_t from, to;  /* read indexes, inclusive (from == to but for stolen) */
    int err;            /* FAULT_FAIL: read() fails with it */
} fake_fault;

enum { FAULT_FAIL, FAULT_EOF, FAULT_STOLEN };

typedef struct {
    char name[PROBES_NAME_MAX];
    int n_steps, cap;
    uint64_t (*steps)[3]; /* raw, enabled_ns, running_ns increments */
    int open_errno;
    int group; /* index of its "group" line, -1 none */
    int n_faults, faults_cap;
    fake_fault *faults;
} fake_event;

struct probes_fake_script {
    int n;
    fake_event ev[PROBES_MAX_EVENTS];
    int n_groups;
};

void probes_fake_script_free(probes_fake_script *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->ev[i].steps), free(s->ev[i].faults);
    free(s);
}

static fake_event *find_event(probes_fake_script *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->ev[i].name, name) == 0)
            return &s->ev[i];
    return NULL;
}

/* ---- parsing ------------------------------------------------------------------------- */

/* Where errors point: "<file>:<line>: ..." (or "fake script line N: ..."
 * for text that came from no file). */
typedef struct {
    const char *origin; /* the file, or NULL */
    int line;
    char *err;
    size_t err_len;
} parse_ctx;

__attribute__((format(printf, 2, 3))) static int parse_error(const parse_ctx *p, const char *fmt, ...)
{
    char what[PROBES_WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (p->origin)
        probes_set_why(p->err, p->err_len, "%s:%d: %s", p->origin, p->line, what);
    else
        probes_set_why(p->err, p->err_len, "fake script line %d: %s", p->line, what);
    return -1;
}

static fake_event *find_or_add(probes_fake_script *s, const char *name, const parse_ctx *p)
{
    fake_event *e = find_event(s, name);
    if (e)
        return e;
    if (strlen(name) >= PROBES_NAME_MAX) {
        parse_error(p, "event name '%.20s...' is longer than %d characters", name, PROBES_NAME_MAX - 1);
        return NULL;
    }
    if (s->n >= PROBES_MAX_EVENTS) {
        parse_error(p, "more than %d events", PROBES_MAX_EVENTS);
        return NULL;
    }
    e = &s->ev[s->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->group = -1;
    return e;
}

/* A decimal count: digits only (no sign, no spaces), within uint64_t. */
static int parse_count(const char *word, const char *what, uint64_t *out, const parse_ctx *p)
{
    if (!isdigit((unsigned char)word[0]))
        return parse_error(p, "%s '%s' is not a non-negative whole number", what, word);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(word, &end, 10);
    if (errno == ERANGE)
        return parse_error(p, "%s '%s' is too large", what, word);
    if (*end != '\0')
        return parse_error(p, "%s '%s' is not a non-negative whole number", what, word);
    *out = (uint64_t)v;
    return 0;
}

/* Any errno name this C library knows ("EMFILE", "ENODEV", "EIO", ...). */
static int parse_errno(const char *word, int *out, const parse_ctx *p)
{
    for (int e = 1; e < 4096; e++) {
        const char *name = strerrorname_np(e);
        if (name && strcmp(name, word) == 0) {
            *out = e;
            return 0;
        }
    }
    return parse_error(p, "unknown errno name '%s' (expected e.g. ENODEV, EMFILE, EIO)", word);
}

static int add_step(fake_event *e, const uint64_t step[3])
{
    if (e->n_steps == e->cap) {
        int cap = e->cap ? e->cap * 2 : 8;
        uint64_t(*grown)[3] = realloc(e->steps, sizeof *grown * (size_t)cap);
        if (!grown)
            return -1;
        e->steps = grown, e->cap = cap;
    }
    memcpy(e->steps[e->n_steps++], step, sizeof e->steps[0]);
    return 0;
}

static int add_fault(fake_event *e, const fake_fault *f)
{
    if (e->n_faults == e->faults_cap) {
        int cap = e->faults_cap ? e->faults_cap * 2 : 4;
        fake_fault *grown = realloc(e->faults, sizeof *grown * (size_t)cap);
        if (!grown)
            return -1;
        e->faults = grown, e->faults_cap = cap;
    }
    e->faults[e->n_faults++] = *f;
    return 0;
}

#define MAX_WORDS 6

/* Splits text at blanks into at most MAX_WORDS words; -1 when more. */
static int split_words(char *text, char **words)
{
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(text, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_WORDS)
            return -1;
        words[n++] = w;
    }
    return n;
}

static int parse_group(probes_fake_script *s, char **words, int n, const parse_ctx *p)
{
    if (n < 2)
        return parse_error(p, "expected 'group <event>,<event>,...'");
    int group = s->n_groups++;
    for (int i = 1; i < n; i++) {
        char *save = NULL;
        for (char *name = strtok_r(words[i], ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            fake_event *e = find_or_add(s, name, p);
            if (!e)
                return -1;
            e->group = group;
        }
    }
    return 0;
}

static int parse_error_directive(probes_fake_script *s, char **words, int n, const parse_ctx *p)
{
    int err = 0;
    if (n != 3)
        return parse_error(p, "expected 'error <event> <ERRNO>'");
    if (parse_errno(words[2], &err, p) != 0)
        return -1;
    fake_event *e = find_or_add(s, words[1], p);
    if (!e)
        return -1;
    e->open_errno = err;
    return 0;
}

/* fail <event> <read> <ERRNO> | eof <event> <read> | stolen <event> <from> <to> */
static int parse_fault(probes_fake_script *s, int kind, char **words, int n, const parse_ctx *p)
{
    static const char *const usage[] = {"'fail <event> <read_index> <ERRNO>'", "'eof <event> <read_index>'",
                                        "'stolen <event> <from_read> <to_read>'"};
    fake_fault f = {.kind = kind};
    if (n != (kind == FAULT_EOF ? 3 : 4))
        return parse_error(p, "expected %s", usage[kind]);
    if (parse_count(words[2], "read index", &f.from, p) != 0)
        return -1;
    f.to = f.from;
    if (kind == FAULT_FAIL && parse_errno(words[3], &f.err, p) != 0)
        return -1;
    if (kind == FAULT_STOLEN && parse_count(words[3], "read index", &f.to, p) != 0)
        return -1;
    if (f.to < f.from)
        return parse_error(p, "stolen: last read %llu comes before first read %llu", (unsigned long long)f.to,
                           (unsigned long long)f.from);
    fake_event *e = find_or_add(s, words[1], p);
    if (!e)
        return -1;
    if (add_fault(e, &f) != 0)
        return parse_error(p, "out of memory");
    return 0;
}

static int parse_step(probes_fake_script *s, char **words, int n, const parse_ctx *p)
{
    uint64_t step[3];
    if (n != 4)
        return parse_error(p, "expected '<event> <raw> <time_enabled_ns> <time_running_ns>', 'group a,b', "
                              "'error <event> <ERRNO>', 'fail <event> <read> <ERRNO>', 'eof <event> <read>' "
                              "or 'stolen <event> <from> <to>'");
    if (parse_count(words[1], "raw count", &step[0], p) != 0 ||
        parse_count(words[2], "time_enabled_ns", &step[1], p) != 0 ||
        parse_count(words[3], "time_running_ns", &step[2], p) != 0)
        return -1;
    if (step[2] > step[1])
        return parse_error(p, "running time %llu exceeds enabled time %llu", (unsigned long long)step[2],
                           (unsigned long long)step[1]);
    fake_event *e = find_or_add(s, words[0], p);
    if (!e)
        return -1;
    if (add_step(e, step) != 0)
        return parse_error(p, "out of memory");
    return 0;
}

static int parse_line(probes_fake_script *s, char *text, const parse_ctx *p)
{
    char *words[MAX_WORDS];
    int n = split_words(text, words);
    if (n < 0)
        return parse_error(p, "too many words (at most %d)", MAX_WORDS);
    if (n == 0)
        return 0;
    if (strcmp(words[0], "group") == 0)
        return parse_group(s, words, n, p);
    if (strcmp(words[0], "error") == 0)
        return parse_error_directive(s, words, n, p);
    if (strcmp(words[0], "fail") == 0)
        return parse_fault(s, FAULT_FAIL, words, n, p);
    if (strcmp(words[0], "eof") == 0)
        return parse_fault(s, FAULT_EOF, words, n, p);
    if (strcmp(words[0], "stolen") == 0)
        return parse_fault(s, FAULT_STOLEN, words, n, p);
    return parse_step(s, words, n, p);
}

static probes_fake_script *parse_script(const char *text, const char *origin, char *err, size_t err_len)
{
    probes_fake_script *s = calloc(1, sizeof *s);
    char *copy = strdup(text);
    if (!s || !copy) {
        free(s), free(copy);
        probes_set_why(err, err_len, "%s: out of memory", origin ? origin : "fake script");
        return NULL;
    }
    parse_ctx p = {origin, 0, err, err_len};
    int rc = 0;
    /* Line by line, empty lines included, so that line numbers are right. */
    for (char *l = copy, *next; l && rc == 0; l = next) {
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        p.line++;
        l[strcspn(l, "#")] = '\0';
        rc = parse_line(s, l, &p);
    }
    free(copy);
    if (rc == 0 && s->n == 0) {
        probes_set_why(err, err_len, "%s: no events", origin ? origin : "fake script");
        rc = -1;
    }
    if (rc != 0) {
        probes_fake_script_free(s);
        return NULL;
    }
    return s;
}

probes_fake_script *probes_fake_script_parse(const char *text, char *err, size_t err_len)
{
    return parse_script(text, NULL, err, err_len);
}

probes_fake_script *probes_fake_script_load(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        probes_set_why(err, err_len, "%s: cannot open the fake counter script: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    char buf[4096];
    size_t got;
    while (mem && (got = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, got, mem);
    int read_failed = ferror(f);
    fclose(f);
    if (!mem) {
        probes_set_why(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    fclose(mem);
    if (read_failed) {
        probes_set_why(err, err_len, "%s: cannot read the fake counter script", path);
        free(text);
        return NULL;
    }
    probes_fake_script *s = parse_script(text, path, err, err_len);
    free(text);
    return s;
}

/* "{a,b},{c,d}": each group line in order, then the ungrouped events
 * together as one more group. */
void probes_fake_script_events(const probes_fake_script *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int want = 0; want <= s->n_groups; want++) {
        int first = 1;
        for (int i = 0; i < s->n && used + 2 < len; i++) {
            int group = s->ev[i].group < 0 ? s->n_groups : s->ev[i].group;
            if (group != want)
                continue;
            const char *sep = first ? (used ? ",{" : "{") : ",";
            used += (size_t)snprintf(buf + used, len - used, "%s%s", sep, s->ev[i].name);
            first = 0;
        }
        if (!first && used + 1 < len)
            used += (size_t)snprintf(buf + used, len - used, "}");
    }
}

/* ---- the backend ------------------------------------------------------------------- */

typedef struct {
    int reads; /* the index of the next read: 0 is the one that starts counting */
    const fake_event *ev[PROBES_MAX_EVENTS]; /* NULL: not in the script */
    uint64_t total[PROBES_MAX_EVENTS][3];
} fake_group;

static int fake_open(probes_counters *set, probes_group *g, char *err, size_t err_len)
{
    fake_group *fg = calloc(1, sizeof *fg);
    if (!fg) {
        probes_set_why(err, err_len, "counters: out of memory");
        return -1;
    }
    g->state = fg;
    probes_machine_facts facts = probes_machine_facts_get();
    for (int e = 0; e < g->n; e++) {
        probes_event *ev = &set->events[g->first + e];
        const fake_event *fe = find_event(set->fake, ev->name);
        fg->ev[e] = fe;
        if (!fe)
            probes_set_why(ev->why_not, sizeof ev->why_not, "not in the fake script (HSTPROF_FAKE_COUNTERS)");
        else if (fe->open_errno)
            probes_reason_for_errno(fe->open_errno, !ev->is_software, 0, &facts, ev->why_not, sizeof ev->why_not);
        else if (fe->n_steps == 0)
            probes_set_why(ev->why_not, sizeof ev->why_not, "the fake script has no values for it");
        ev->countable = ev->why_not[0] == '\0';
    }
    return 0;
}

static void fake_start(probes_counters *set, probes_group *g)
{
    (void)set;
    fake_group *fg = g->state;
    fg->reads = 0;
    memset(fg->total, 0, sizeof fg->total);
}

/* The scripted fault of this read, or NULL. */
static const fake_fault *fault_at(const fake_event *fe, uint64_t read_index)
{
    for (int i = 0; i < fe->n_faults; i++)
        if (read_index >= fe->faults[i].from && read_index <= fe->faults[i].to)
            return &fe->faults[i];
    return NULL;
}

/* As perf_event would: a failed read() is its errno, 0 bytes is EOF, and a
 * stolen counter's enabled time goes on while its count and running time
 * stand still. */
static void fake_read(probes_counters *set, probes_group *g, int *status, uint64_t *raw, uint64_t *enabled_ns,
                      uint64_t *running_ns)
{
    fake_group *fg = g->state;
    uint64_t read_index = (uint64_t)fg->reads++;
    for (int e = 0; e < g->n; e++) {
        const fake_event *fe = fg->ev[e];
        if (!set->events[g->first + e].countable)
            continue; /* PROBES_READ_SKIPPED */
        const fake_fault *fault = fault_at(fe, read_index);
        if (fault && fault->kind != FAULT_STOLEN) {
            status[e] = fault->kind == FAULT_FAIL ? fault->err : PROBES_READ_EOF;
            continue;
        }
        if (read_index > 0) {
            const uint64_t *step = fe->steps[(read_index - 1) % (uint64_t)fe->n_steps];
            int stolen = fault != NULL;
            fg->total[e][0] += stolen ? 0 : step[0];
            fg->total[e][1] += step[1];
            fg->total[e][2] += stolen ? 0 : step[2];
        }
        raw[e] = fg->total[e][0], enabled_ns[e] = fg->total[e][1], running_ns[e] = fg->total[e][2];
        status[e] = PROBES_READ_OK;
    }
}

static void fake_close(probes_counters *set, probes_group *g)
{
    (void)set;
    free(g->state);
    g->state = NULL;
}

static int fake_unavailable(char *why, size_t len)
{
    const char *env = getenv("HSTPROF_FAKE_COUNTERS");
    if (env && *env)
        return 0;
    probes_set_why(why, len, "no script: set HSTPROF_FAKE_COUNTERS=<file> (tests only)");
    return 1;
}

const probes_backend probes_backend_fake = {
    .name = "fake",
    .open = fake_open,
    .start = fake_start,
    .read = fake_read,
    .close = fake_close,
    .describe_unavailable = fake_unavailable,
};
