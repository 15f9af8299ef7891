/* mxscan diff OLD NEW (placeholder until the streaming diff lands). */
#include "mx/mx.h"
#include "mx/study.h"

void mx_diff_usage(FILE *f)
{
    fprintf(f, "usage: mxscan diff OLD NEW\n");
}

int mx_diff_cmd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mxscan diff: not available yet\n");
    return MX_EXIT_FAIL;
}
