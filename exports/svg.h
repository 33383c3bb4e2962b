/* svg.h — plain SVG text for the plots (plots.c): a document with a light
 * and a dark palette, axes with ticks and labels, escaped text. Shared by
 * the .c files of exports/ and the tests only.
 *
 * Plain text rather than a drawing library: the same data give the same
 * bytes on every machine (cairo's SVG surface turns text into glyph
 * outlines from whatever fonts are installed), text stays text, and a
 * stylesheet can switch to dark colours in a dark viewer. Every figure is
 * printed with a fixed number of decimals, so the output is deterministic. */
#ifndef HSTPROF_EXPORTS_SVG_H
#define HSTPROF_EXPORTS_SVG_H

#include <stdio.h>

#define SVG_SERIES_COLOURS 8

/* An axis: data [lo, hi] onto pixels [px_lo, px_hi] (px_hi < px_lo for y). */
typedef enum { SVG_LINEAR, SVG_LOG10, SVG_LOG2 } svg_scale_kind;
typedef struct {
    svg_scale_kind kind;
    double lo, hi;
    double px_lo, px_hi;
    const double *ticks; /* NULL: 1-2-5 steps (linear), decades or powers of two (log) */
    int n_ticks;
} svg_scale;

double svg_px(const svg_scale *s, double v);
/* Round limits for data in [lo, hi]: linear from 0 (or lo when negative) to
 * a 1-2-5 step above hi; log axes to the enclosing decade (or power of two). */
void svg_nice(svg_scale *s, double lo, double hi);

/* The document: width x height, a <title> (escaped), the stylesheet and an
 * opaque background, so it reads on a light or dark page alike. */
void svg_begin(FILE *f, int width, int height, const char *title);
void svg_end(FILE *f);
/* <text> at (x, y); anchor "start", "middle" or "end"; cls a class of the
 * stylesheet ("fg", "muted", "title"); rotate: degrees (0: none). */
void svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, double rotate, const char *text);
void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *cls);
/* The frame of a plot area, grid and ticks of both axes, their labels
 * (with units) and tick numbers. */
void svg_axes(FILE *f, const svg_scale *x, const svg_scale *y, const char *x_label, const char *y_label);
/* A number as a tick shows it: 0.5, 12, 2.5k, 1.2M. */
void svg_tick_text(double v, char *buf, size_t len);
/* A centred "unavailable: why" in an area, for a plot without data. */
void svg_unavailable(FILE *f, double x, double y, const char *why);

#endif
