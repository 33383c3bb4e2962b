/* fake.c — a counter backend that replays a script (format in probes.h), so
 * that scaling, multiplexing and derived metrics are exercised on machines
 * without a PMU, and end-to-end tests can drive the hardware path. */
#include "probes/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[PROBES_NAME_MAX];
    int n_steps, cap;
    uint64_t (*steps)[3]; /* raw, enabled_ns, running_ns increments */
    int open_errno;
    int group; /* index of its "group" line, -1 none */
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
        free(s->ev[i].steps);
    free(s);
}

static fake_event *find_event(probes_fake_script *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->ev[i].name, name) == 0)
            return &s->ev[i];
    return NULL;
}

static fake_event *find_or_add(probes_fake_script *s, const char *name, int line, char *err, size_t err_len)
{
    fake_event *e = find_event(s, name);
    if (e)
        return e;
    if (s->n >= PROBES_MAX_EVENTS || strlen(name) >= PROBES_NAME_MAX) {
        probes_set_why(err, err_len, "fake script line %d: too many events or name too long", line);
        return NULL;
    }
    e = &s->ev[s->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->group = -1;
    return e;
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

static int parse_group_line(probes_fake_script *s, char *list, int line, char *err, size_t err_len)
{
    char *save = NULL;
    int group = s->n_groups++;
    for (char *name = strtok_r(list, ", \t", &save); name; name = strtok_r(NULL, ", \t", &save)) {
        fake_event *e = find_or_add(s, name, line, err, err_len);
        if (!e)
            return -1;
        e->group = group;
    }
    return 0;
}

static int parse_line(probes_fake_script *s, char *text, int line, char *err, size_t err_len)
{
    char word[PROBES_NAME_MAX + 8], arg[512];
    unsigned long long v[3];
    if (sscanf(text, " group %511[^\n]", arg) == 1)
        return parse_group_line(s, arg, line, err, err_len);
    if (sscanf(text, " error %71s %511s", word, arg) == 2) {
        int e = probes_errno_from_name(arg);
        fake_event *ev = e ? find_or_add(s, word, line, err, err_len) : NULL;
        if (!e)
            probes_set_why(err, err_len, "fake script line %d: unknown errno name '%s'", line, arg);
        if (!ev)
            return -1;
        ev->open_errno = e;
        return 0;
    }
    int fields = sscanf(text, " %71s %llu %llu %llu", word, &v[0], &v[1], &v[2]);
    if (fields != 4) {
        probes_set_why(err, err_len, "fake script line %d: expected '<event> <raw> <time_enabled_ns> "
                                     "<time_running_ns>', 'group a,b' or 'error <event> <ERRNO>'", line);
        return -1;
    }
    if (v[2] > v[1]) {
        probes_set_why(err, err_len, "fake script line %d: running time %llu exceeds enabled time %llu", line,
                       v[2], v[1]);
        return -1;
    }
    fake_event *ev = find_or_add(s, word, line, err, err_len);
    uint64_t step[3] = {v[0], v[1], v[2]};
    if (!ev || add_step(ev, step) != 0)
        return ev ? (probes_set_why(err, err_len, "fake script: out of memory"), -1) : -1;
    return 0;
}

probes_fake_script *probes_fake_script_parse(const char *text, char *err, size_t err_len)
{
    probes_fake_script *s = calloc(1, sizeof *s);
    char *copy = strdup(text);
    if (!s || !copy) {
        free(s), free(copy);
        probes_set_why(err, err_len, "fake script: out of memory");
        return NULL;
    }
    int line = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
        line++;
        l[strcspn(l, "#")] = '\0';
        if (strspn(l, " \t\r") == strlen(l))
            continue;
        rc = parse_line(s, l, line, err, err_len);
    }
    free(copy);
    if (rc == 0 && s->n == 0) {
        probes_set_why(err, err_len, "fake script: no events");
        rc = -1;
    }
    if (rc != 0) {
        probes_fake_script_free(s);
        return NULL;
    }
    return s;
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
    fclose(f);
    if (!mem) {
        probes_set_why(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    fclose(mem);
    char inner[PROBES_WHY_MAX];
    probes_fake_script *s = probes_fake_script_parse(text, inner, sizeof inner);
    free(text);
    if (!s)
        probes_set_why(err, err_len, "%s: %s", path, inner);
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
    int reads;
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

static void fake_read(probes_counters *set, probes_group *g, int *ok, uint64_t *raw, uint64_t *enabled_ns,
                      uint64_t *running_ns)
{
    fake_group *fg = g->state;
    for (int e = 0; e < g->n; e++) {
        const fake_event *fe = fg->ev[e];
        ok[e] = set->events[g->first + e].countable;
        if (!ok[e])
            continue;
        if (fg->reads > 0) {
            const uint64_t *step = fe->steps[(fg->reads - 1) % fe->n_steps];
            for (int k = 0; k < 3; k++)
                fg->total[e][k] += step[k];
        }
        raw[e] = fg->total[e][0], enabled_ns[e] = fg->total[e][1], running_ns[e] = fg->total[e][2];
    }
    fg->reads++;
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
