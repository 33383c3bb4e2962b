/* ab_notes.c — the A/B comparison of a dashboard snapshot as a Markdown
 * section: both settings, each side's median over rounds with its 95%
 * interval, the paired ratio and the verdict, and what the figures cover.
 * The snapshot's "ab" object (probes/live_json.c) is present while a
 * comparison runs and after it stopped, until the statistics are reset. */
#include "exports/internal.h"

#include <math.h>
#include <string.h>

/* "1234.5" or "unavailable: why" (the why-not beside the figure). */
static void ab_figure(FILE *f, const json_t *ab, const char *key)
{
    char why[EX_WHY_MAX];
    double v;
    if (ex_number(ab, key, &v, why, sizeof why))
        fprintf(f, "%.1f", v);
    else
        ex_md_cell(f, why);
}

static void ab_side_row(FILE *f, const json_t *ab, const char *side)
{
    const json_t *s = json_object_get(ab, side[0] == 'A' ? "a" : "b");
    char lo[32], hi[32], median[32];
    snprintf(lo, sizeof lo, "%s_ci95_lo", side[0] == 'A' ? "a" : "b");
    snprintf(hi, sizeof hi, "%s_ci95_hi", side[0] == 'A' ? "a" : "b");
    snprintf(median, sizeof median, "%s_median_tok_per_s", side[0] == 'A' ? "a" : "b");
    fprintf(f, "| %s | #%.0f | ", side, ex_num(s, "segment"));
    const char *text[] = {"model", "precision", "mode"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        ex_md_cell(f, ex_str(s, text[i]));
        fputs(" | ", f);
    }
    /* The kernel asked for, and the one it resolved to when they differ ("auto (avx512)"). */
    const char *kernel = ex_str(s, "kernel"), *in_use = ex_str(s, "kernel_in_use");
    ex_md_cell(f, kernel);
    if (in_use[0] && strcmp(in_use, kernel) != 0)
        fprintf(f, " (%s)", in_use);
    fprintf(f, " | %.0f | ", ex_num(s, "threads"));
    ex_md_cell(f, ex_str(s, "affinity"));
    fprintf(f, " | %.0f | ", ex_num(ab, side[0] == 'A' ? "rounds_a" : "rounds_b"));
    ab_figure(f, ab, median);
    fputs(" | ", f);
    double l, h;
    char why[EX_WHY_MAX];
    if (ex_number(ab, lo, &l, why, sizeof why) && ex_number(ab, hi, &h, why, sizeof why))
        fprintf(f, "%.1f-%.1f", l, h);
    else
        ex_md_cell(f, why);
    fputs(" |\n", f);
}

void ex_md_ab_section(FILE *f, const json_t *snapshot)
{
    const json_t *ab = json_object_get(snapshot, "ab");
    if (!json_is_object(ab))
        return;
    const char *state = ex_str(ab, "state"), *kept = ex_str(ab, "kept");
    fprintf(f, "## A/B Comparison\n\n- Comparison: **");
    ex_md_inline(f, ex_str(ab, "comparison"));
    fprintf(f, "**, rounds of %.0f tokens, ABAB...\n", ex_num(ab, "round_tokens"));
    if (strcmp(state, "stopped") == 0)
        fprintf(f, "- State: **stopped**; kept: **%s**\n", strcmp(kept, "before") == 0 ? "the setting from before"
                                                                                        : strcmp(kept, "B") == 0 ? "side B"
                                                                                                                 : "side A");
    else
        fprintf(f, "- State: **%s**\n", state);
    fputs("- Verdict: **", f);
    ex_md_inline(f, ex_str(ab, "verdict"));
    fputs("**\n", f);
    double ratio, lo, hi;
    char why[EX_WHY_MAX];
    if (ex_number(ab, "ratio_b_over_a", &ratio, why, sizeof why) && ex_number(ab, "ratio_ci95_lo", &lo, why, sizeof why) &&
        ex_number(ab, "ratio_ci95_hi", &hi, why, sizeof why))
        fprintf(f, "- B/A (median of the paired rounds' ratios): **%.3f** (95%% CI %.3f-%.3f, %.0f pairs)\n", ratio, lo,
                hi, ex_num(ab, "pairs"));
    else {
        fputs("- B/A (median of the paired rounds' ratios): unavailable: ", f);
        ex_md_inline(f, why);
        fputc('\n', f);
    }
    fputs("\n| Side | Segment | Model | Precision | Mode | Kernel | Threads | Affinity | Rounds | Median (tok/s) "
          "| 95% CI (tok/s) |\n",
          f);
    fputs("|:-----|--------:|:------|:----------|:-----|:-------|--------:|:---------|-------:|---------------:"
          "|:---------------|\n",
          f);
    ab_side_row(f, ab, "A");
    ab_side_row(f, ab, "B");
    fputs("\nMethod: ", f);
    ex_md_inline(f, ex_str(ab, "method"));
    fputs(".\n\n", f);
}
