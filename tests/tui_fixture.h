/* tui_fixture.h — what the dashboard's tests share: an off-screen curses
 * screen (its terminal output goes to a file in the test's own directory),
 * a view with something in every panel, and the dashboard rendered as text. */
#ifndef HSTPROF_TEST_TUI_FIXTURE_H
#define HSTPROF_TEST_TUI_FIXTURE_H

#include "tui/internal.h"

/* cmocka setup and teardown: a UTF-8 locale when there is one (else the
 * ASCII glyphs are tested) and a curses screen for pads. */
int tui_fixture_setup(void **state);
int tui_fixture_teardown(void **state);

/* A view with something in every panel: figures with their units, a full
 * segment list, an A/B comparison with a verdict, counters that wrap, forty PUs. */
void tui_fixture_fill_view(live_view *v);

/* The dashboard at rows x cols as text, one line a row (malloc'd); ui may
 * be NULL. */
char *tui_fixture_text(const live_view *view, const struct ui_state *ui, int rows, int cols);

#endif
