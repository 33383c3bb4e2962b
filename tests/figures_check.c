/* figures_check.c — walks a JSON export and finds the first figure that
 * breaks the rule for unknowns, and finds shares above 100% in text
 * (figures_check.h). */
#include "tests/figures_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_SUFFIX "_why_not"

static int ends_with_why(const char *key)
{
    size_t n = strlen(key), s = strlen(WHY_SUFFIX);
    return n > s && strcmp(key + n - s, WHY_SUFFIX) == 0;
}

static int breach(char *problem, size_t len, const char *path, const char *what)
{
    snprintf(problem, len, "%s: %s", path[0] ? path : "(top)", what);
    return -1;
}

static int check_node(const json_t *node, const char *path, char *problem, size_t len);

/* The members of one object: each why-not against its figure, each null
 * against its why-not. */
static int check_members(const json_t *o, const char *path, char *problem, size_t len)
{
    const char *key;
    const json_t *v;
    char sub[512], base[256];
    json_object_foreach((json_t *)o, key, v)
    {
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
        if (ends_with_why(key) || strcmp(key, "why_not") == 0) {
            if (!json_is_string(v) || !json_string_value(v)[0])
                return breach(problem, len, sub, "an empty reason");
            if (strcmp(key, "why_not") == 0)
                continue;
            snprintf(base, sizeof base, "%.*s", (int)(strlen(key) - strlen(WHY_SUFFIX)), key);
            const json_t *figure = json_object_get(o, base);
            if (figure && !json_is_null(figure))
                return breach(problem, len, sub, "a value and a why-not together");
            continue;
        }
        if (json_is_null(v)) {
            snprintf(base, sizeof base, "%s" WHY_SUFFIX, key);
            if (!json_object_get(o, base))
                return breach(problem, len, sub, "null without a why-not beside it");
        }
        if (check_node(v, sub, problem, len) != 0)
            return -1;
    }
    return 0;
}

/* A counter event that counted nothing ("value" null) has no raw count or
 * times: a 0 there would stand for "unknown". */
static int check_event(const json_t *o, const char *path, char *problem, size_t len)
{
    if (!json_object_get(o, "backend") || !json_is_null(json_object_get(o, "value")))
        return 0;
    static const char *const figures[] = {"raw", "time_enabled_ns", "time_running_ns"};
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (json_is_number(json_object_get(o, figures[i])))
            return breach(problem, len, path, "an event that counted nothing carries a number");
    return 0;
}

static int check_node(const json_t *node, const char *path, char *problem, size_t len)
{
    if (json_is_object(node))
        return check_event(node, path, problem, len) != 0 ? -1 : check_members(node, path, problem, len);
    if (json_is_array(node)) {
        size_t i;
        const json_t *v;
        char sub[512];
        json_array_foreach((json_t *)node, i, v)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (check_node(v, sub, problem, len) != 0)
                return -1;
        }
    }
    return 0;
}

int json_unknowns_check(const json_t *root, char *problem, size_t len)
{
    problem[0] = '\0';
    return check_node(root, "", problem, len);
}

const char *text_share_above_100(const char *text)
{
    for (const char *p = strstr(text, "% of"); p; p = strstr(p + 1, "% of")) {
        const char *start = p;
        while (start > text && (start[-1] == '.' || (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        if (start < p && atof(start) > 100.0)
            return start;
    }
    return NULL;
}
