/* panels.c — the dashboard: which panels, in drawing order. Adding a panel
 * is one new file and one line here. Within a column the last panel takes
 * the rows the others cannot use, so the ones that can grow usefully
 * (counters, topology) come last. */
#include "tui/internal.h"

const struct panel *const tui_panels[] = {
    &panel_header, &panel_throughput, &panel_sections, &panel_counters, &panel_roofline,
    &panel_memory, &panel_ab,         &panel_segments, &panel_topology, &panel_text,
};
const char *const tui_panel_names[] = {
    "header", "throughput", "timers", "counters", "bandwidth", "memory", "ab", "segments", "topology", "text",
};
const int tui_panel_count = (int)(sizeof tui_panels / sizeof tui_panels[0]);

_Static_assert(sizeof tui_panels / sizeof tui_panels[0] == sizeof tui_panel_names / sizeof tui_panel_names[0],
               "every panel has a name");

void tui_panel_places(struct panel_place *out)
{
    for (int i = 0; i < tui_panel_count; i++)
        out[i] = tui_panels[i]->place;
}
