/* cmd_common.c — option parsing shared by the probes commands: one line on
 * stderr for every bad input, exit status 2. */
#include "probes/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int probes_cmd_opt_value(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hstprof %s: %s needs a value (see hstprof %s --help)\n", cmd, name, cmd);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int probes_cmd_bad_option(const char *cmd, const char *arg)
{
    fprintf(stderr, "hstprof %s: unknown option '%s' (see hstprof %s --help)\n", cmd, arg, cmd);
    return 2;
}

int probes_cmd_parse_int(const char *cmd, const char *opt, const char *value, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "hstprof %s: %s '%s': expected a whole number from %d to %d\n", cmd, opt, value, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}
