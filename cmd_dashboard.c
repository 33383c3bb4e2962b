/* cmd_dashboard.c — `hstprof dashboard` (and `hstprof` alone): the live dashboard. */
#include "commands.h"
#include "tui/tui.h"

int cmd_dashboard(int argc, char **argv)
{
    return tui_main(argc, argv);
}
