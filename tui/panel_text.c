/* panel_text.c — the current generation scrolling: the prompt (dim), then
 * each generated token. Ids 32..126 are their byte (the prompt's encoding,
 * as in `hstprof run`); other ids are shown as ‹id›. `t` shows ids only. */
#include "tui/internal.h"

#include <stdio.h>
#include <string.h>

#define TEXT_CELLS 16384

/* One token as cells; returns how many. */
static int token_cells(const struct draw_ctx *c, int id, int ids_only, char out[][8], int max)
{
    const struct glyphs *g = &c->theme->glyphs;
    if (!ids_only && id >= 32 && id < 127) {
        snprintf(out[0], 8, "%c", id);
        return 1;
    }
    char digits[16];
    int n = snprintf(digits, sizeof digits, "%d", id), k = 0;
    if (ids_only) {
        for (int i = 0; i < n && k < max; i++)
            snprintf(out[k++], 8, "%c", digits[i]);
        if (k < max)
            snprintf(out[k++], 8, " ");
        return k;
    }
    snprintf(out[k++], 8, "%s", g->token_open);
    for (int i = 0; i < n && k < max; i++)
        snprintf(out[k++], 8, "%c", digits[i]);
    if (k < max)
        snprintf(out[k++], 8, "%s", g->token_close);
    return k;
}

/* The prompt as cells, one a character (UTF-8 as itself where the terminal
 * has it, a wide character over two cells, else '?' as draw_text shows
 * it), dim; a word is one unit of wrapping, so the prompt wraps between
 * words. Returns the cells used. */
static int prompt_cells(const struct draw_ctx *c, const char *prompt, char cells[][8], unsigned char *dim,
                        int *token_start, int *n_tokens)
{
    int n = 0;
    for (const char *p = prompt; *p && n < TEXT_CELLS / 2;) {
        if (p == prompt || p[-1] == ' ')
            token_start[(*n_tokens)++] = n;
        char one[8];
        int w;
        int len = draw_char(p, c->theme->glyphs.utf8, one, &w);
        for (int k = 0; k < w && n < TEXT_CELLS / 2; k++, n++) {
            snprintf(cells[n], 8, "%s", k == 0 ? one : ""); /* a wide character's second cell stays empty */
            dim[n] = 1;
        }
        p += len;
    }
    return n;
}

/* Cells laid out in lines of w; a token never splits across lines unless
 * it is wider than a line. Returns the number of lines. */
static int wrap_tokens(const int *token_start, int n_tokens, int n_cells, int w, int *line_of_cell)
{
    int line = 0, col = 0;
    for (int t = 0; t < n_tokens; t++) {
        int from = token_start[t], to = t + 1 < n_tokens ? token_start[t + 1] : n_cells, len = to - from;
        if (col > 0 && col + len > w)
            line++, col = 0;
        for (int i = from; i < to; i++) {
            if (col == w)
                line++, col = 0;
            line_of_cell[i] = line * w + col++; /* packed: line and column */
        }
    }
    return n_cells ? line + 1 : 0;
}

static void text_draw(const struct draw_ctx *c, struct rect r)
{
    const live_view *v = c->view;
    char right[128];
    if (v->text_len > 0)
        snprintf(right, sizeof right, "generation %llu, %d tokens, %s (t)", (unsigned long long)v->text_generation,
                 v->text_len, c->ui && c->ui->text_as_ids ? "ids" : "text");
    else /* no generation has produced a token yet: nothing to number */
        snprintf(right, sizeof right, "generation %s, %s (t)", FIG_NONE, c->ui && c->ui->text_as_ids ? "ids" : "text");
    draw_title(c, r, "Generated text", right);
    int rows = r.h - 1;
    if (rows <= 0 || r.w <= 0)
        return;
    /* Static: only the UI thread draws, and these are too big for a stack. */
    static char cells[TEXT_CELLS][8];
    static unsigned char dim[TEXT_CELLS];
    static int token_start[TEXT_CELLS], place[TEXT_CELLS];
    int n = 0, n_tokens = 0, ids_only = c->ui && c->ui->text_as_ids;
    if (!ids_only && v->text_len > 0)
        n = prompt_cells(c, v->prompt, cells, dim, token_start, &n_tokens);
    for (int i = 0; i < v->text_len && n < TEXT_CELLS - 16; i++) {
        token_start[n_tokens++] = n;
        int k = token_cells(c, v->text[i], ids_only, cells + n, 16);
        memset(dim + n, 0, (size_t)k); /* generated text is bright, the prompt dim */
        if (!(v->text[i] >= 32 && v->text[i] < 127) && !ids_only)
            dim[n] = dim[n + k - 1] = 1; /* the brackets around an id */
        n += k;
    }
    int lines = wrap_tokens(token_start, n_tokens, n, r.w, place);
    int first_line = lines > rows ? lines - rows : 0;
    for (int i = 0; i < n; i++) {
        int line = place[i] / r.w - first_line, col = place[i] % r.w;
        if (line < 0)
            continue;
        wattrset(c->win, c->theme->attr[dim[i] ? ROLE_DIM : ROLE_NORMAL]);
        mvwaddstr(c->win, r.y + 1 + line, r.x + col, cells[i]);
    }
    wattrset(c->win, A_NORMAL);
    if (n == 0)
        draw_text(c, r.y + 1, r.x, r.w, ROLE_DIM, "waiting for the first token...");
}

const struct panel panel_text = {
    .title = "Generated text",
    .place = {.area = AREA_BOTTOM, .min_rows = 3, .max_rows = 0},
    .draw = text_draw,
};
