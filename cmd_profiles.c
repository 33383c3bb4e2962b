/* cmd_profiles.c — `hstprof profiles`: what `-p NAME` can name, where each
 * file is, and what it sets; a user profile that hides a shipped one says so. */
#include "commands.h"
#include "profiles/profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_search_order(void)
{
    char user[PROFILE_PATH_MAX], shipped[PROFILE_PATH_MAX], why[256];
    printf("search order for -p NAME:\n");
    if (profile_user_dir(user, sizeof user, why, sizeof why) == 0)
        printf("  1. %s/NAME.ini (yours; 'p' in the dashboard saves here)\n", user);
    else
        printf("  1. (no user directory: %s)\n", why);
    if (profile_shipped_dir(shipped, sizeof shipped, why, sizeof why) == 0)
        printf("  2. %s/NAME.ini (shipped)\n", shipped);
    else
        printf("  2. (no shipped directory: %s)\n", why);
    printf("-p FILE takes any path containing '/' or ending in .ini.\n\n");
}

/* Entry i is shadowed by the user profile just before it (the list is
 * sorted by name, the user's first). */
static void print_profile(const profile_info *list, int n, int i)
{
    const profile_info *p = &list[i];
    const char *where = p->user ? "user" : "shipped";
    printf("%-20s %-8s %s\n", p->name, where, p->path);
    if (p->description[0])
        printf("%-29s %s\n", "", p->description);
    printf("%-29s %s\n", "", p->summary);
    if (p->shadowed)
        printf("%-29s shadowed: -p %s loads %s\n", "", p->name, list[i - 1].path);
    else if (p->user && i + 1 < n && list[i + 1].shadowed)
        printf("%-29s shadows the shipped profile %s\n", "", list[i + 1].path);
}

int cmd_profiles(int argc, char **argv)
{
    const opt_table t = {"hstprof profiles", "hstprof profiles",
                         "Lists the profiles -p NAME can apply: yours ($XDG_CONFIG_HOME/hstprof/profiles, default\n"
                         "~/.config/hstprof/profiles) first, then the shipped ones. A profile of yours with the name of\n"
                         "a shipped one shadows it.",
                         NULL, 0, 0};
    int rc = args_parse(&t, argc, argv, 1, NULL, NULL);
    if (rc != ARGS_OK)
        return rc == ARGS_HELP ? 0 : 2;
    profile_info *list = NULL;
    char err[512];
    int n = profile_list(&list, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "hstprof profiles: %s\n", err);
        return 1;
    }
    print_search_order();
    if (n == 0)
        printf("no profiles found\n");
    for (int i = 0; i < n; i++)
        print_profile(list, n, i);
    free(list);
    return 0;
}
