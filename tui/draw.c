/* draw.c — the few drawing primitives every panel uses (text cut to a
 * width, titles, bars, sparklines) and number formatting. Everything is
 * clipped to the rectangle it is given, so a panel cannot spill. */
#include "tui/internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

int draw_text(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *text)
{
    if (w <= 0 || !text)
        return 0;
    const size_t none_len = sizeof FIG_NONE - 1;
    int n = 0;
    wattrset(c->win, c->theme->attr[role]);
    wmove(c->win, y, x);
    for (const unsigned char *p = (const unsigned char *)text; *p && n < w; p++, n++) {
        if (strncmp((const char *)p, FIG_NONE, none_len) == 0) {
            waddstr(c->win, c->theme->glyphs.utf8 ? FIG_NONE : "-");
            p += none_len - 1;
            continue;
        }
        waddch(c->win, *p >= 32 && *p < 127 ? *p : '?');
    }
    wattrset(c->win, A_NORMAL);
    return n;
}

int draw_textf(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return draw_text(c, y, x, w, role, buf);
}

/* One glyph (possibly multibyte) in one cell. */
static void put_glyph(const struct draw_ctx *c, int y, int x, const char *glyph, enum role role)
{
    wattrset(c->win, c->theme->attr[role]);
    mvwaddstr(c->win, y, x, glyph);
    wattrset(c->win, A_NORMAL);
}

void draw_fill(const struct draw_ctx *c, struct rect r, enum role role)
{
    wattrset(c->win, c->theme->attr[role]);
    for (int y = r.y; y < r.y + r.h; y++)
        mvwhline(c->win, y, r.x, ' ', r.w);
    wattrset(c->win, A_NORMAL);
}

void draw_row_text(WINDOW *win, int y, int cols, char *out, size_t size)
{
    size_t len = 0, last_non_space = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    for (int x = 0; x < cols && len + MB_LEN_MAX < size; x++) {
        cchar_t cell;
        wchar_t wch[CCHARW_MAX + 1] = {0};
        attr_t attrs;
        short pair;
        if (mvwin_wch(win, y, x, &cell) == ERR || getcchar(&cell, wch, &attrs, &pair, NULL) == ERR || !wch[0])
            wch[0] = L' ';
        size_t n = wcrtomb(out + len, wch[0], &st);
        len += n == (size_t)-1 ? 0 : n;
        if (wch[0] != L' ')
            last_non_space = len;
    }
    out[last_non_space] = '\0';
}

/* Columns text takes on screen (FIG_NONE is one). */
static int text_cells(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++, n++)
        if (strncmp(p, FIG_NONE, sizeof FIG_NONE - 1) == 0)
            p += sizeof FIG_NONE - 2;
    return n;
}

void draw_title(const struct draw_ctx *c, struct rect r, const char *title, const char *right)
{
    if (r.h <= 0 || r.w <= 0)
        return;
    for (int x = r.x; x < r.x + r.w; x++)
        put_glyph(c, r.y, x, c->theme->glyphs.hline, ROLE_DIM);
    int used = 1 + draw_textf(c, r.y, r.x + 1, r.w - 1, ROLE_TITLE, " %s ", title);
    if (right && right[0]) {
        int len = text_cells(right) + 2, room = r.w - used - 2;
        if (room > 4) {
            int x = len <= room ? r.x + r.w - 1 - len : r.x + used + 1;
            draw_textf(c, r.y, x, room, ROLE_DIM, " %s ", right);
        }
    }
}

void draw_bar(const struct draw_ctx *c, int y, int x, int w, double fraction, enum role role)
{
    if (w <= 0)
        return;
    if (!(fraction > 0))
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int eighths = (int)lround(fraction * w * 8);
    const struct glyphs *g = &c->theme->glyphs;
    for (int i = 0; i < w; i++) {
        int cell = eighths - i * 8;
        if (cell >= 8)
            put_glyph(c, y, x + i, g->bar_full, role);
        else if (cell > 0 && g->bar_partial[cell][0])
            put_glyph(c, y, x + i, g->bar_partial[cell], role);
        else
            put_glyph(c, y, x + i, g->bar_empty, ROLE_DIM);
    }
}

void draw_sparkline(const struct draw_ctx *c, int y, int x, int w, int h, const double *values, int n, double max)
{
    if (w <= 0 || h <= 0)
        return;
    const struct glyphs *g = &c->theme->glyphs;
    int first = n > w ? n - w : 0, offset = w - (n - first);
    for (int col = 0; col < w; col++) {
        int i = first + col - offset;
        double v = i >= first && i < n && max > 0 && isfinite(values[i]) ? values[i] / max : 0;
        int eighths = (int)lround(v * h * 8);
        for (int row = 0; row < h; row++) {
            /* row 0 is the bottom of the chart */
            int cell = eighths - row * 8;
            cell = cell < 0 ? 0 : cell > 8 ? 8 : cell;
            put_glyph(c, y + h - 1 - row, x + col, g->spark[cell], i >= first ? ROLE_BAR : ROLE_DIM);
        }
    }
}

/* ---- numbers ------------------------------------------------------------------------------ */

static void scaled(char *buf, size_t len, double v, double base, const char *const *units, int n_units,
                   const char *suffix)
{
    if (!isfinite(v)) {
        snprintf(buf, len, FIG_NONE);
        return;
    }
    int u = 0;
    while (fabs(v) >= base && u < n_units - 1)
        v /= base, u++;
    snprintf(buf, len, fabs(v) >= 100 || u == 0 ? "%.0f%s%s" : "%.3g%s%s", v, units[u], suffix);
}

void fmt_bytes(char *buf, size_t len, double bytes)
{
    static const char *const units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
    scaled(buf, len, bytes, 1024, units, 5, "");
}

void fmt_count(char *buf, size_t len, double count)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    scaled(buf, len, count, 1000, units, 5, "");
}

void fmt_rate(char *buf, size_t len, double per_s, const char *unit)
{
    static const char *const units[] = {" ", " k", " M", " G", " T"};
    char tmp[32];
    scaled(tmp, sizeof tmp, per_s, 1000, units, 5, "");
    snprintf(buf, len, "%s%s%s", tmp, isfinite(per_s) ? unit : "", "");
}

void fmt_ms(char *buf, size_t len, double ms)
{
    if (!isfinite(ms))
        snprintf(buf, len, FIG_NONE);
    else if (ms >= 1000)
        snprintf(buf, len, "%.2f s", ms / 1000);
    else if (ms >= 100)
        snprintf(buf, len, "%.0f ms", ms);
    else if (ms >= 10)
        snprintf(buf, len, "%.1f ms", ms);
    else if (ms >= 1)
        snprintf(buf, len, "%.2f ms", ms);
    else if (ms >= 0.1)
        snprintf(buf, len, "%.3f ms", ms);
    else
        snprintf(buf, len, "%.1f us", ms * 1000);
}

void fmt_tok_rate(char *buf, size_t len, double tok_per_s)
{
    if (!isfinite(tok_per_s))
        snprintf(buf, len, FIG_NONE);
    else
        snprintf(buf, len, tok_per_s >= 100 ? "%.0f" : "%.1f", tok_per_s);
}

int draw_wrapped(const struct draw_ctx *c, struct rect r, enum role role, const char *text)
{
    int lines = 0;
    const char *p = text;
    while (*p && lines < r.h && r.w > 0) {
        int len = (int)strlen(p), take = len;
        if (len > r.w) {
            take = r.w;
            while (take > r.w / 2 && p[take] != ' ')
                take--; /* break at a space when one is near */
            if (p[take] != ' ')
                take = r.w;
        }
        draw_textf(c, r.y + lines++, r.x, r.w, role, "%.*s", take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
    return lines;
}

void fmt_duration(char *buf, size_t len, double seconds)
{
    long s = (long)seconds;
    snprintf(buf, len, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}
