/* draw.c — the few drawing primitives every panel uses (text cut to a
 * width, titles, bars, sparklines) and number formatting. Everything is
 * clipped to the rectangle it is given, so a panel cannot spill. */
#include "tui/internal.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

/* One character of UTF-8 text: its length in bytes and code point, or 0
 * for a byte that does not start a valid sequence. */
static int utf8_char(const unsigned char *p, wchar_t *cp)
{
    int len = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    unsigned long v = len == 1 ? p[0] : len == 2 ? p[0] & 0x1Fu : len == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3Fu);
    }
    static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000}; /* overlong forms are invalid */
    if (len == 0 || v < least[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = (wchar_t)v;
    return len;
}

/* How the character at p shows: *cells columns wide, as the code point in
 * *cp, or as '?' (a control, a broken sequence, or no UTF-8 terminal).
 * Returns the bytes it takes. */
static int text_glyph(const char *p, int utf8, wchar_t *cp, int *cells)
{
    const unsigned char *u = (const unsigned char *)p;
    int len = utf8_char(u, cp);
    *cells = 1;
    if (len == 1 && (*cp < 32 || *cp == 127))
        *cp = L'?';
    if (len > 1 && !utf8 && *cp == 0x2014) /* FIG_NONE */
        *cp = L'-';
    else if (len > 1) {
        int w = utf8 ? wcwidth(*cp) : -1;
        if (w < 1) /* unprintable, combining, or a terminal without UTF-8 */
            *cp = L'?';
        else
            *cells = w;
    }
    if (len == 0) { /* a stray byte: one '?', and the next byte starts afresh */
        *cp = L'?';
        len = 1;
    }
    return len;
}

int draw_char(const char *p, int utf8, char out[8], int *cells)
{
    wchar_t cp;
    int len = text_glyph(p, utf8, &cp, cells);
    unsigned long v = (unsigned long)cp;
    if (v < 0x80)
        snprintf(out, 8, "%c", (char)v);
    else if (v < 0x800)
        snprintf(out, 8, "%c%c", (char)(0xC0 | v >> 6), (char)(0x80 | (v & 0x3F)));
    else if (v < 0x10000)
        snprintf(out, 8, "%c%c%c", (char)(0xE0 | v >> 12), (char)(0x80 | (v >> 6 & 0x3F)), (char)(0x80 | (v & 0x3F)));
    else
        snprintf(out, 8, "%c%c%c%c", (char)(0xF0 | v >> 18), (char)(0x80 | (v >> 12 & 0x3F)),
                 (char)(0x80 | (v >> 6 & 0x3F)), (char)(0x80 | (v & 0x3F)));
    return len;
}

int draw_text_cells(const char *text, int utf8)
{
    int n = 0, cells;
    wchar_t cp;
    for (const char *p = text; *p; n += cells)
        p += text_glyph(p, utf8, &cp, &cells);
    return n;
}

static struct draw_field_log *field_log;

void draw_log_fields(struct draw_field_log *log)
{
    field_log = log;
}

static void log_field(int y, int x, const char *text, int cells)
{
    if (!field_log || field_log->n >= DRAW_FIELD_LOG_MAX)
        return;
    struct draw_field *f = &field_log->fields[field_log->n++];
    f->y = y, f->x = x, f->cells = cells;
    snprintf(f->text, sizeof f->text, "%.*s", (int)sizeof f->text - 1, text);
}

int draw_text(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *text)
{
    if (w <= 0 || !text)
        return 0;
    const int utf8 = c->theme->glyphs.utf8;
    /* Trailing spaces only pad: a field fits when its text does. */
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == ' ')
        len--;
    char shown[1024];
    snprintf(shown, sizeof shown, "%.*s", (int)len, text);
    int cells = draw_text_cells(shown, utf8);
    if (cells > w) {
        log_field(y, x, shown, 0);
        return 0; /* a field is shown whole or not at all, never cut mid-word */
    }
    if (cells + (int)(strlen(text) - len) <= w)
        cells = draw_text_cells(text, utf8), snprintf(shown, sizeof shown, "%s", text);
    else
        cells = w; /* its padding fills what is left */
    wattrset(c->win, c->theme->attr[role]);
    wmove(c->win, y, x);
    int n = 0, glyph_cells;
    wchar_t cp;
    for (const char *p = shown; *p && n < cells; n += glyph_cells) {
        p += text_glyph(p, utf8, &cp, &glyph_cells);
        if (cp < 128)
            waddch(c->win, (chtype)cp);
        else
            waddnwstr(c->win, &cp, 1);
    }
    for (; n < cells; n++)
        waddch(c->win, ' ');
    wattrset(c->win, A_NORMAL);
    log_field(y, x, shown, cells);
    return cells;
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

/* The first of '\n'-separated alternatives whose text fits w. */
static const char *first_fit(const char *alternatives, int w, int utf8, char *buf, size_t len)
{
    for (const char *p = alternatives; p; ) {
        const char *nl = strchr(p, '\n');
        snprintf(buf, len, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == ' ')
            buf[--n] = '\0';
        if (draw_text_cells(buf, utf8) <= w)
            return buf;
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

int draw_first_fit(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *alternatives)
{
    char buf[1024];
    const char *fit = first_fit(alternatives, w, c->theme->glyphs.utf8, buf, sizeof buf);
    return fit ? draw_text(c, y, x, w, role, fit) : 0;
}

int draw_labeled(const struct draw_ctx *c, int y, int x, int w, const char *label, enum role role, const char *value)
{
    int utf8 = c->theme->glyphs.utf8;
    char both[1024];
    snprintf(both, sizeof both, "%s%s", label, value);
    if (draw_text_cells(both, utf8) > w)
        return 0;
    int n = draw_text(c, y, x, w, ROLE_LABEL, label);
    return n + draw_text(c, y, x + n, w - n, role, value);
}

/* Whether word (len bytes) names a file: "/a/b", "./x", "dir/x.safetensors"
 * (not "Input/output", "tok/s" or "0.35/4.2"). */
static int is_path(const char *word, size_t len)
{
    const char *last = NULL;
    for (const char *p = word; p < word + len; p++)
        if (*p == '/')
            last = p;
    if (!last)
        return 0;
    if (word[0] == '/' || strncmp(word, "./", 2) == 0 || strncmp(word, "../", 3) == 0)
        return 1;
    const char *dot = memchr(last, '.', (size_t)(word + len - last));
    return (isalpha((unsigned char)word[0]) || word[0] == '_') && dot && isalpha((unsigned char)dot[1]);
}

/* word with its directories left out: "/a/b/x.safetensors:" -> "x.safetensors:". */
static const char *path_tail(const char *word, size_t len)
{
    const char *tail = word;
    for (const char *p = word; is_path(word, len) && p < word + len; p++)
        if (*p == '/' && p + 1 < word + len)
            tail = p + 1;
    return tail;
}

/* The longest " (...)" in text longer than a short tag such as "(EMFILE)"
 * (a list of presets, an explanation), or NULL. */
static char *longest_aside(char *text)
{
    char *best = NULL;
    size_t best_len = 16; /* shorter ones name something: they stay */
    for (char *open = strstr(text, " ("); open; open = strstr(open + 1, " (")) {
        char *close = strchr(open, ')');
        if (close && (size_t)(close - open) > best_len)
            best = open, best_len = (size_t)(close - open);
    }
    return best;
}

int draw_message(const struct draw_ctx *c, int y, int x, int w, enum role role, const char *message)
{
    const int utf8 = c->theme->glyphs.utf8;
    char text[1400];
    snprintf(text, sizeof text, "%s", message);
    if (draw_text_cells(text, utf8) > w) { /* paths lose their directories */
        size_t used = 0;
        for (const char *p = message; *p && used + 1 < sizeof text;) {
            size_t word = strcspn(p, " ");
            const char *tail = path_tail(p, word);
            used += (size_t)snprintf(text + used, sizeof text - used, "%.*s", (int)(word - (size_t)(tail - p)), tail);
            p += word;
            for (; *p == ' ' && used + 1 < sizeof text; p++)
                text[used++] = ' ', text[used] = '\0';
        }
    }
    for (char *aside; draw_text_cells(text, utf8) > w && (aside = longest_aside(text)) != NULL;) {
        char *close = strchr(aside, ')');
        memmove(aside, close + 1, strlen(close + 1) + 1);
    }
    const char *more = utf8 ? "\xe2\x80\xa6" : "...";
    if (draw_text_cells(text, utf8) > w) { /* then whole words go, from the end, marked */
        char marked[sizeof text + 8] = "";
        for (char *space; (space = strrchr(text, ' ')) != NULL;) {
            *space = '\0';
            snprintf(marked, sizeof marked, "%s %s", text, more);
            if (draw_text_cells(marked, utf8) <= w)
                break;
            marked[0] = '\0';
        }
        snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1, marked); /* "" when not even the first word fits */
    }
    return draw_text(c, y, x, w, role, text);
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

wchar_t draw_cell_char(WINDOW *win, int y, int x)
{
    cchar_t cell;
    wchar_t wch[CCHARW_MAX + 1] = {0};
    attr_t attrs;
    short pair;
    if (mvwin_wch(win, y, x, &cell) == ERR || getcchar(&cell, wch, &attrs, &pair, NULL) == ERR || !wch[0])
        return L' ';
    return wch[0];
}

void draw_row_text(WINDOW *win, int y, int cols, char *out, size_t size)
{
    size_t len = 0, last_non_space = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    for (int x = 0; x < cols && len + MB_LEN_MAX < size; x++) {
        wchar_t wch[1] = {draw_cell_char(win, y, x)};
        size_t n = wcrtomb(out + len, wch[0], &st);
        len += n == (size_t)-1 ? 0 : n;
        if (wch[0] != L' ')
            last_non_space = len;
        if (wcwidth(wch[0]) == 2)
            x++; /* a wide character's second cell repeats it */
    }
    out[last_non_space] = '\0';
}

void draw_title(const struct draw_ctx *c, struct rect r, const char *title, const char *right)
{
    if (r.h <= 0 || r.w <= 0)
        return;
    for (int x = r.x; x < r.x + r.w; x++)
        put_glyph(c, r.y, x, c->theme->glyphs.hline, ROLE_DIM);
    int used = 1 + draw_textf(c, r.y, r.x + 1, r.w - 1, ROLE_TITLE, " %s ", title);
    char buf[256];
    right = right ? first_fit(right, r.w - used - 4, c->theme->glyphs.utf8, buf, sizeof buf) : NULL;
    if (right && right[0]) { /* right-aligned */
        int len = draw_text_cells(right, c->theme->glyphs.utf8) + 2;
        draw_textf(c, r.y, r.x + r.w - 1 - len, len, ROLE_DIM, " %s ", right);
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
        int eighths = (int)lround(v * h * 8), clipped = eighths > h * 8;
        for (int row = 0; row < h; row++) {
            /* row 0 is the bottom of the chart */
            int cell = eighths - row * 8;
            cell = cell < 0 ? 0 : cell > 8 ? 8 : cell;
            if (clipped && row == h - 1)
                put_glyph(c, y, x + col, g->spark_clipped, ROLE_BAR_HOT);
            else
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
