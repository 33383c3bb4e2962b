/* svg.c — the SVG primitives of the plots: document, stylesheet, scales,
 * axes and escaped text (see svg.h for why plain text). */
#include "exports/svg.h"

#include <math.h>
#include <string.h>

/* Okabe-Ito colours (distinguishable with colour-blindness), one shade for
 * a light page and a lighter one for a dark page. */
static const char *const light[SVG_SERIES_COLOURS] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                                      "#e69f00", "#56b4e9", "#8c564b", "#666666"};
static const char *const dark[SVG_SERIES_COLOURS] = {"#5aa9e6", "#ff8c42", "#2fd0a0", "#e69bc8",
                                                     "#f5c04a", "#8fd3ff", "#c49a8a", "#b0b0b0"};

static void palette(FILE *f, const char *const *c)
{
    for (int i = 0; i < SVG_SERIES_COLOURS; i++)
        fprintf(f, ".l%d{stroke:%s}.p%d{fill:%s}", i, c[i], i, c[i]);
}

void svg_begin(FILE *f, int width, int height, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", width,
            height, width, height);
    fputs("<title>", f);
    for (const char *p = title; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        default: fputc(*p, f);
        }
    }
    fputs("</title>\n<style>\n", f);
    fputs("text{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:12px}\n", f);
    fputs(".bg{fill:#ffffff}.fg{fill:#1f2328}.muted{fill:#57606a}.title{fill:#1f2328;font-size:15px;font-weight:bold}"
          ".axis{stroke:#1f2328;fill:none}.grid{stroke:#d8dee4}.bar{fill:#0072b2;fill-opacity:0.75}"
          ".chg{stroke:#57606a;stroke-dasharray:5 4}.m0{stroke:#009e73}.m1{stroke:#e69f00}.m2{stroke:#d55e00}"
          ".t0{fill:#009e73}.t1{fill:#b87d00}.t2{fill:#d55e00}.line{fill:none;stroke-width:2}.dash{stroke-dasharray:7 4}\n",
          f);
    palette(f, light);
    fputs("\n@media (prefers-color-scheme:dark){\n", f);
    fputs(".bg{fill:#0d1117}.fg{fill:#e6edf3}.muted{fill:#9198a1}.title{fill:#e6edf3}.axis{stroke:#e6edf3}"
          ".grid{stroke:#30363d}.bar{fill:#5aa9e6}.chg{stroke:#9198a1}.m0{stroke:#2fd0a0}.m1{stroke:#f5c04a}"
          ".m2{stroke:#ff8c42}.t0{fill:#2fd0a0}.t1{fill:#f5c04a}.t2{fill:#ff8c42}\n",
          f);
    palette(f, dark);
    fputs("\n}\n</style>\n", f);
    fprintf(f, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>\n", width, height);
}

void svg_end(FILE *f)
{
    fputs("</svg>\n", f);
}

static void escaped(FILE *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if (*p < 0x20) /* not allowed in XML 1.0 text */
            fputc(' ', f);
        else
            fputc(*p, f);
    }
}

void svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, double rotate, const char *text)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\"", x, y, anchor, cls);
    if (rotate != 0)
        fprintf(f, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    fputc('>', f);
    escaped(f, text);
    fputs("</text>\n", f);
}

void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *cls)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n", x1, y1, x2, y2, cls);
}

void svg_unavailable(FILE *f, double x, double y, const char *why)
{
    char text[400];
    snprintf(text, sizeof text, "unavailable: %s", why);
    svg_text(f, x, y, "middle", "muted", 0, text);
}

/* ---- scales ---------------------------------------------------------------------------- */

static double transform(const svg_scale *s, double v)
{
    if (s->kind == SVG_LOG10)
        return log10(v);
    if (s->kind == SVG_LOG2)
        return log2(v);
    return v;
}

double svg_px(const svg_scale *s, double v)
{
    double a = transform(s, s->lo), b = transform(s, s->hi), t = transform(s, v);
    if (!(b > a))
        return (s->px_lo + s->px_hi) / 2;
    return s->px_lo + (t - a) / (b - a) * (s->px_hi - s->px_lo);
}

/* The 1-2-5 step that gives about n intervals over span. */
static double nice_step(double span, int n)
{
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

void svg_nice(svg_scale *s, double lo, double hi)
{
    if (s->kind == SVG_LINEAR) {
        double base = lo < 0 ? lo : 0;
        if (!(hi > base))
            hi = base + 1;
        double step = nice_step(hi - base, 5);
        s->lo = base < 0 ? floor(base / step) * step : 0;
        s->hi = ceil(hi / step) * step;
        return;
    }
    double (*f)(double) = s->kind == SVG_LOG10 ? log10 : log2;
    double b = s->kind == SVG_LOG10 ? 10 : 2;
    if (!(lo > 0))
        lo = hi > 0 ? hi / b : 1;
    if (!(hi > lo))
        hi = lo * b;
    s->lo = pow(b, floor(f(lo) + 1e-9));
    s->hi = pow(b, ceil(f(hi) - 1e-9));
    if (!(s->hi > s->lo))
        s->hi = s->lo * b;
}

void svg_tick_text(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (a >= 1e6)
        snprintf(buf, len, "%gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%gk", v / 1e3);
    else
        snprintf(buf, len, "%g", v);
}

/* Tick values of s, at most max of them. */
static int ticks(const svg_scale *s, double *out, int max)
{
    int n = 0;
    if (s->ticks) {
        for (int i = 0; i < s->n_ticks && n < max; i++)
            out[n++] = s->ticks[i];
        return n;
    }
    if (s->kind == SVG_LINEAR) {
        double step = nice_step(s->hi - s->lo, 5);
        for (double v = s->lo; v <= s->hi + step * 1e-9 && n < max; v += step)
            out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
        return n;
    }
    if (s->kind == SVG_LOG2) {
        for (double v = s->lo; v <= s->hi * (1 + 1e-9) && n < max; v *= 2)
            out[n++] = v;
        return n;
    }
    /* 1, 2, 5 per decade over at most two decades, else decades only. */
    int decades = (int)lround(log10(s->hi / s->lo));
    static const double steps[3] = {1, 2, 5};
    for (double d = s->lo; d <= s->hi * (1 + 1e-9) && n < max; d *= 10)
        for (int k = 0; k < (decades <= 2 ? 3 : 1) && n < max; k++)
            if (d * steps[k] <= s->hi * (1 + 1e-9))
                out[n++] = d * steps[k];
    return n;
}

void svg_axes(FILE *f, const svg_scale *x, const svg_scale *y, const char *x_label, const char *y_label)
{
    double xt[64], yt[64];
    char label[32];
    int nx = ticks(x, xt, 64), ny = ticks(y, yt, 64);
    for (int i = 0; i < ny; i++) {
        double py = svg_px(y, yt[i]);
        svg_line(f, x->px_lo, py, x->px_hi, py, "grid");
        svg_tick_text(yt[i], label, sizeof label);
        svg_text(f, x->px_lo - 6, py + 4, "end", "fg", 0, label);
    }
    for (int i = 0; i < nx; i++) {
        double px = svg_px(x, xt[i]);
        svg_line(f, px, y->px_lo, px, y->px_lo + 5, "axis");
        svg_tick_text(xt[i], label, sizeof label);
        svg_text(f, px, y->px_lo + 18, "middle", "fg", 0, label);
    }
    fprintf(f, "<rect class=\"axis\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x->px_lo, y->px_hi,
            x->px_hi - x->px_lo, y->px_lo - y->px_hi);
    svg_text(f, (x->px_lo + x->px_hi) / 2, y->px_lo + 38, "middle", "fg", 0, x_label);
    svg_text(f, x->px_lo - 48, (y->px_lo + y->px_hi) / 2, "middle", "fg", -90, y_label);
}
