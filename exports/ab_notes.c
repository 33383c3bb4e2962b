/* ab_notes.c — the A/B comparison of a dashboard snapshot as a Markdown
 * section: both settings, each side's median over rounds with its 95%
 * interval, the paired ratio and the verdict, and what the figures cover.
 * The snapshot's "ab" object (probes/live_json.c) is present while a
 * comparison runs and after it stopped, until the statistics are reset. */
#include "exports/internal.h"

#include <math.h>
#include <string.h>

#define NOT_RECORDED "not recorded in this snapshot"

/* A figure with its format, or n/a[k] with its reason in the list. */
static void ab_figure(FILE *f, ex_why_list *whys, const json_t *root, const char *key, const char *fmt)
{
    char why[EX_WHY_MAX];
    double v;
    if (ex_number(root, key, &v, why, sizeof why))
        fprintf(f, fmt, v);
    else
        ex_md_na(f, whys, why[0] ? why : NOT_RECORDED);
}

/* A text cell, or n/a[k] when the snapshot lacks it. */
static void ab_text(FILE *f, ex_why_list *whys, const json_t *root, const char *key)
{
    const char *text = ex_str(root, key);
    if (text[0])
        ex_md_cell(f, text);
    else
        ex_md_na(f, whys, NOT_RECORDED);
}

static void ab_side_row(FILE *f, ex_why_list *whys, const json_t *ab, const char *side)
{
    const char *s = side[0] == 'A' ? "a" : "b";
    const json_t *setting = json_object_get(ab, s);
    char lo[32], hi[32], median[32];
    snprintf(lo, sizeof lo, "%s_ci95_lo", s);
    snprintf(hi, sizeof hi, "%s_ci95_hi", s);
    snprintf(median, sizeof median, "%s_median_tok_per_s", s);
    fprintf(f, "| %s | ", side);
    ab_figure(f, whys, setting, "segment", "#%.0f");
    const char *text[] = {"model", "precision", "mode"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        fputs(" | ", f);
        ab_text(f, whys, setting, text[i]);
    }
    fputs(" | ", f);
    /* The kernel asked for, and the one it resolved to when they differ ("auto (avx512)"). */
    const char *kernel = ex_str(setting, "kernel"), *in_use = ex_str(setting, "kernel_in_use");
    ab_text(f, whys, setting, "kernel");
    if (kernel[0] && in_use[0] && strcmp(in_use, kernel) != 0)
        fprintf(f, " (%s)", in_use);
    fputs(" | ", f);
    ab_figure(f, whys, setting, "threads", "%.0f");
    fputs(" | ", f);
    ab_text(f, whys, setting, "affinity");
    fputs(" | ", f);
    ab_figure(f, whys, ab, side[0] == 'A' ? "rounds_a" : "rounds_b", "%.0f");
    fputs(" | ", f);
    ab_figure(f, whys, ab, median, "%.1f");
    fputs(" | ", f);
    double l, h;
    char why[EX_WHY_MAX];
    if (ex_number(ab, lo, &l, why, sizeof why) && ex_number(ab, hi, &h, why, sizeof why))
        fprintf(f, "%.1f-%.1f", l, h);
    else
        ex_md_na(f, whys, why[0] ? why : NOT_RECORDED);
    fputs(" |\n", f);
}

static void ab_state(FILE *f, const json_t *ab)
{
    const char *state = ex_str(ab, "state"), *kept = ex_str(ab, "kept");
    if (strcmp(state, "stopped") == 0)
        fprintf(f, "- State: **stopped**; kept: **%s**\n", strcmp(kept, "before") == 0 ? "the setting from before"
                                                          : strcmp(kept, "B") == 0      ? "side B"
                                                                                        : "side A");
    else if (state[0])
        fprintf(f, "- State: **%s**\n", state);
}

static void ab_ratio(FILE *f, ex_why_list *whys, const json_t *ab)
{
    double ratio, lo, hi;
    char why[EX_WHY_MAX];
    fputs("- B/A (median of the paired rounds' ratios): ", f);
    if (ex_number(ab, "ratio_b_over_a", &ratio, why, sizeof why) && ex_number(ab, "ratio_ci95_lo", &lo, why, sizeof why) &&
        ex_number(ab, "ratio_ci95_hi", &hi, why, sizeof why)) {
        fprintf(f, "**%.3fx** (95%% CI %.3f-%.3fx", ratio, lo, hi);
        double pairs;
        if (ex_number(ab, "pairs", &pairs, why, sizeof why))
            fprintf(f, ", %.0f pairs", pairs);
        fputs(")\n", f);
    } else {
        ex_md_na(f, whys, why[0] ? why : NOT_RECORDED);
        fputc('\n', f);
    }
}

void ex_md_ab_section(FILE *f, const json_t *snapshot, ex_why_list *whys)
{
    const json_t *ab = json_object_get(snapshot, "ab");
    if (!json_is_object(ab))
        return;
    fprintf(f, "## A/B Comparison\n\n- Comparison: **");
    ex_md_inline(f, ex_str(ab, "comparison"));
    fputs("**, rounds of ", f);
    ab_figure(f, whys, ab, "round_tokens", "%.0f");
    fputs(" decode tokens, ABAB...\n", f);
    ab_state(f, ab);
    fputs("- Verdict: **", f);
    ex_md_inline(f, ex_str(ab, "verdict"));
    fputs("**\n", f);
    ab_ratio(f, whys, ab);
    fputs("\n| Side | Segment | Model | Precision | Mode | Kernel | Threads | Affinity | Rounds | Median (tok/s) "
          "| 95% CI (tok/s) |\n",
          f);
    fputs("|:-----|--------:|:------|:----------|:-----|:-------|--------:|:---------|-------:|---------------:"
          "|:---------------|\n",
          f);
    ab_side_row(f, whys, ab, "A");
    ab_side_row(f, whys, ab, "B");
    const char *method = ex_str(ab, "method");
    fputs("\nMethod: ", f);
    ex_md_inline(f, method[0] ? method
                              : "medians per round of the measured rounds only; a segment's average in Comparative Runs "
                                "covers the whole segment, switching between the sides included");
    fputs(".\n\n", f);
}
