/* seed_report.c — the published benchmark's figures, kept to compare with.
 *
 * Source: "HST Model TPS Benchmark Report", the benchmark report of eight
 * models the project grew from (its seed document 000): its "Detailed
 * Results by Sequence Length" tables, copied digit for digit. It timed the
 * original PyTorch modules on a machine it does not describe, one forward
 * call of S tokens per timing (TPS = S / time), batch 1, random weights, at
 * V 5000, D 128, 4 heads, max_seq_len 512. For the non-causal originals
 * (v7.0, v7.1) that call is the parity computation (spec 12.C.9, 12.D.0).
 * Nothing here is measured: these are the report's numbers. */
#include "exports/exports.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const int report_seq[EXPORT_SEED_SEQS] = {128, 256, 512};

/* Rows in the report's Overall Summary order. tps and ms at S = 128, 256, 512. */
static const export_seed_row rows[] = {
    {"hst-v4", "hst_v4_unified", "HSTv4Unified", "hst-v4", {7119.44, 8945.53, 7641.22}, {17.98, 28.62, 67.01}},
    {"hst-v3", "hst_v3_ultra", "HSTv3Ultra", "hst-v3", {6263.34, 8871.94, 7719.76}, {20.44, 28.86, 66.32}},
    {"hst-v5.2", "hst_v5_2_unified", "HSTv5_2Unified", "hst-v5.2", {5728.28, 7690.17, 7446.80}, {22.35, 33.29, 68.75}},
    {"hst-v6", "hst_v6_giga", "HSTv6Giga", "hst-v6", {5706.49, 7526.98, 7256.66}, {22.43, 34.01, 70.56}},
    {"hst-v6.1", "hst.v6.1", "HSTv6Giga", "hst-v6.1", {4584.08, 6113.53, 6054.42}, {27.92, 41.87, 84.57}},
    {"hst-v7.1", "hst.v7.1_ultimate", "HSTv7_1Ultimate", "hst-v7.1", {2174.03, 3133.14, 3551.75},
     {58.88, 81.71, 144.15}},
    /* The same network as hst.v7.0_agile (spec 12.C.9): the label names hst-v7.0. */
    {"hst-chaos", "HST-chaos_logic_ai", "HSTv7Agile", "hst-v7.0", {2527.45, 3094.85, 2825.86},
     {50.64, 82.72, 181.18}},
    {"hst-v7.0", "hst.v7.0_agile", "HSTv7Agile", "hst-v7.0", {2647.90, 2926.12, 2492.15}, {48.34, 87.49, 205.45}},
};

const export_seed_row *export_seed_report_find(const char *preset)
{
    for (size_t i = 0; preset && i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].preset, preset) == 0)
            return &rows[i];
    return NULL;
}

double export_seed_report_tps(const export_seed_row *row, int seq_len)
{
    for (int i = 0; row && i < EXPORT_SEED_SEQS; i++)
        if (report_seq[i] == seq_len)
            return row->tps[i];
    return NAN;
}

void export_seed_report_label(const char *preset, const char *class_name, char *buf, size_t len)
{
    const export_seed_row *row = export_seed_report_find(preset);
    if (row)
        snprintf(buf, len, "%s (%s) = %s", row->name, row->class_name, row->same_as);
    else
        snprintf(buf, len, "%s (%s)", preset, class_name);
}
