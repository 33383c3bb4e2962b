/* figures_check.h — checks of what reports say about figures.
 *
 * The rule every JSON export keeps for a figure that is not known: the key
 * is null beside "<key>_why_not", a non-empty reason; a known figure has no
 * why-not beside it; and an event that counted nothing carries no raw count
 * or times (zeros standing for unknowns). And in text: no "N% of" above 100. */
#ifndef HSTPROF_TEST_FIGURES_CHECK_H
#define HSTPROF_TEST_FIGURES_CHECK_H

#include <jansson.h>
#include <stddef.h>

/* 0 when root keeps the rule everywhere; else -1 and the first breach,
 * with its path ("roofline.decode.level"), in problem. */
int json_unknowns_check(const json_t *root, char *problem, size_t len);

/* The first "N% of" in text with N above 100 (pointing at N), or NULL. */
const char *text_share_above_100(const char *text);

#endif
