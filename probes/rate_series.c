/* rate_series.c — tokens/s over time in constant memory: points of equal
 * step counts, merged pairwise when full (see stats.h). */
#include "probes/stats.h"

#include <string.h>

void rate_series_init(rate_series *r, int steps_per_point)
{
    memset(r, 0, sizeof *r);
    r->steps = steps_per_point > 0 ? steps_per_point : 1;
}

/* Halves the points: each pair becomes one, ending when the second ended. */
static void merge_pairs(rate_series *r)
{
    int n = r->n / 2;
    for (int i = 0; i < n; i++) {
        r->t_end_s[i] = r->t_end_s[2 * i + 1];
        r->tokens[i] = r->tokens[2 * i] + r->tokens[2 * i + 1];
        r->busy_s[i] = r->busy_s[2 * i] + r->busy_s[2 * i + 1];
    }
    r->n = n;
    r->steps *= 2;
}

void rate_series_add(rate_series *r, double t_end_s, double busy_s)
{
    r->pending_steps++;
    r->pending_busy_s += busy_s;
    if (r->pending_steps < r->steps)
        return;
    if (r->n == RATE_SERIES_POINTS)
        merge_pairs(r);
    r->t_end_s[r->n] = t_end_s;
    r->tokens[r->n] = r->pending_steps;
    r->busy_s[r->n] = r->pending_busy_s;
    r->n++;
    r->pending_steps = 0;
    r->pending_busy_s = 0;
}
