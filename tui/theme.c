/* theme.c — colours with a monochrome fallback, and the glyphs for bars and
 * charts. Colour is only ever a second signal: every role also has an
 * attribute (bold, reverse, dim) so nothing is lost without it. */
#include "tui/internal.h"

#include <langinfo.h>
#include <stdlib.h>
#include <string.h>

int theme_color_wanted(void)
{
    /* https://no-color.org: present and not empty disables colour. */
    const char *no_color = getenv("NO_COLOR");
    return !(no_color && no_color[0]);
}

int theme_utf8_wanted(void)
{
    const char *term = getenv("TERM");
    const char *codeset = nl_langinfo(CODESET);
    if (term && strcmp(term, "linux") == 0)
        return 0; /* console fonts lack most block elements */
    return codeset && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

static void glyphs_init(struct glyphs *g, int utf8)
{
    static const char *const partial_utf8[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    static const char *const spark_utf8[9] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char *const partial_ascii[8] = {"", "", "", "", "=", "=", "=", "="};
    static const char *const spark_ascii[9] = {" ", ".", ".", ":", ":", "|", "|", "#", "#"};
    memset(g, 0, sizeof *g);
    g->utf8 = utf8;
    g->hline = utf8 ? "─" : "-";
    g->bar_full = utf8 ? "█" : "#";
    g->bar_empty = utf8 ? "·" : ".";
    for (int i = 0; i < 8; i++)
        g->bar_partial[i] = utf8 ? partial_utf8[i] : partial_ascii[i];
    for (int i = 0; i < 9; i++)
        g->spark[i] = utf8 ? spark_utf8[i] : spark_ascii[i];
    g->spark_clipped = utf8 ? "▲" : "^";
    g->token_open = utf8 ? "‹" : "<";
    g->token_close = utf8 ? "›" : ">";
}

enum { PAIR_TITLE = 1, PAIR_LABEL, PAIR_GOOD, PAIR_WARN, PAIR_BAD, PAIR_BAR, PAIR_HOT, PAIR_STATUS, PAIR_KEY,
       PAIR_DIALOG };

static void color_roles(struct theme *t)
{
    start_color();
    use_default_colors(); /* -1 keeps the terminal's own background */
    init_pair(PAIR_TITLE, COLOR_CYAN, -1);
    init_pair(PAIR_LABEL, COLOR_BLUE, -1);
    init_pair(PAIR_GOOD, COLOR_GREEN, -1);
    init_pair(PAIR_WARN, COLOR_YELLOW, -1);
    init_pair(PAIR_BAD, COLOR_RED, -1);
    init_pair(PAIR_BAR, COLOR_GREEN, -1);
    init_pair(PAIR_HOT, COLOR_RED, -1);
    init_pair(PAIR_STATUS, COLOR_BLACK, COLOR_CYAN);
    init_pair(PAIR_KEY, COLOR_WHITE, COLOR_BLACK);
    init_pair(PAIR_DIALOG, COLOR_WHITE, COLOR_BLUE);
    t->attr[ROLE_TITLE] = COLOR_PAIR(PAIR_TITLE) | A_BOLD;
    t->attr[ROLE_LABEL] = COLOR_PAIR(PAIR_LABEL) | A_BOLD;
    t->attr[ROLE_VALUE] = A_BOLD;
    t->attr[ROLE_GOOD] = COLOR_PAIR(PAIR_GOOD) | A_BOLD;
    t->attr[ROLE_WARN] = COLOR_PAIR(PAIR_WARN) | A_BOLD;
    t->attr[ROLE_BAD] = COLOR_PAIR(PAIR_BAD) | A_BOLD;
    t->attr[ROLE_BAR] = COLOR_PAIR(PAIR_BAR);
    t->attr[ROLE_BAR_HOT] = COLOR_PAIR(PAIR_HOT) | A_BOLD;
    t->attr[ROLE_STATUS] = COLOR_PAIR(PAIR_STATUS);
    t->attr[ROLE_KEY] = COLOR_PAIR(PAIR_KEY) | A_BOLD;
    t->attr[ROLE_DIALOG] = COLOR_PAIR(PAIR_DIALOG);
}

static void mono_roles(struct theme *t)
{
    t->attr[ROLE_TITLE] = A_BOLD;
    t->attr[ROLE_LABEL] = A_NORMAL;
    t->attr[ROLE_VALUE] = A_BOLD;
    t->attr[ROLE_GOOD] = A_BOLD;
    t->attr[ROLE_WARN] = A_BOLD | A_UNDERLINE;
    t->attr[ROLE_BAD] = A_BOLD | A_REVERSE;
    t->attr[ROLE_BAR] = A_NORMAL;
    t->attr[ROLE_BAR_HOT] = A_BOLD;
    t->attr[ROLE_STATUS] = A_REVERSE;
    t->attr[ROLE_KEY] = A_BOLD;
    t->attr[ROLE_DIALOG] = A_REVERSE;
}

void theme_init(struct theme *t, int want_color, int want_utf8)
{
    memset(t, 0, sizeof *t);
    t->color = want_color && has_colors();
    t->attr[ROLE_DIM] = A_DIM;
    if (t->color)
        color_roles(t);
    else
        mono_roles(t);
    glyphs_init(&t->glyphs, want_utf8);
}
