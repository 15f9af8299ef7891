/* mxscan: audits the MX records (and SPF, DMARC) of many domains. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ares_version.h>
#include <zstd.h>

#include "mx/cmd.h"
#include "mx/opts.h"
#include "mx/report.h"
#include "mx/scan.h"
#include "mx/study.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mxscan COMMAND [options] ARGS...\n\n"
               "commands:\n"
               "  scan [options] INPUT...    audit every name of the input files into a CSV\n"
               "  check [options] DOMAIN...  human-readable diagnosis of a few names\n"
               "  spf DOMAIN --ip ADDR       evaluate SPF check_host() for one address\n"
               "  stats RESULTS...           statistics JSON recomputed from result files (shards)\n"
               "  diff OLD NEW               per-domain changes between two scans\n"
               "  report RESULTS... -o FILE  one self-contained HTML report with charts\n"
               "  help [COMMAND]             the options of a command\n"
               "  version                    versions of mxscan and its libraries\n\n"
               "Run 'mxscan COMMAND --help' for the options. See README.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MX_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && !strcmp(argv[2], "scan"))
            mx_opts_usage(stdout, MX_CMD_SCAN);
        else if (argc > 2 && !strcmp(argv[2], "check"))
            mx_opts_usage(stdout, MX_CMD_CHECK);
        else if (argc > 2 && !strcmp(argv[2], "spf"))
            mx_opts_usage(stdout, MX_CMD_SPF);
        else if (argc > 2 && !strcmp(argv[2], "stats"))
            mx_stats_usage(stdout);
        else if (argc > 2 && !strcmp(argv[2], "diff"))
            mx_diff_usage(stdout);
        else if (argc > 2 && !strcmp(argv[2], "report")) {
            char *args[] = {argv[2], (char *)"--help", NULL};
            return mx_report_main(2, args);
        }
        else
            usage(stdout);
        return MX_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("mxscan %s (c-ares %s, zstd %s)\n", MX_VERSION, ARES_VERSION_STR,
               ZSTD_versionString());
        return MX_EXIT_OK;
    }
    if (!strcmp(cmd, "stats"))
        return mx_stats_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "diff"))
        return mx_diff_cmd(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return mx_report_main(argc - 1, argv + 1);
    enum mx_command c;
    if (!strcmp(cmd, "scan"))
        c = MX_CMD_SCAN;
    else if (!strcmp(cmd, "check"))
        c = MX_CMD_CHECK;
    else if (!strcmp(cmd, "spf"))
        c = MX_CMD_SPF;
    else {
        fprintf(stderr,
                "mxscan: unknown command '%s'; the commands are scan, check, spf, stats, diff, "
                "report, help, version (see 'mxscan help')\n",
                cmd);
        return MX_EXIT_USAGE;
    }
    struct mx_opts o;
    int rc = mx_opts_parse(&o, c, argc - 1, argv + 1);
    if (rc != 0) {
        mx_opts_free(&o);
        return rc < 0 ? MX_EXIT_OK : rc;
    }
    switch (c) {
    case MX_CMD_SCAN:
        rc = mx_scan_run(&o.cfg);
        break;
    case MX_CMD_CHECK:
        rc = mx_check_run(&o);
        break;
    case MX_CMD_SPF:
        rc = mx_spf_cmd_run(&o);
        break;
    }
    if (c == MX_CMD_SCAN && mx_scan_threads_left()) {
        /* A worker did not stop in time: the output is closed and
         * resumable; end without waiting for it or freeing what it uses. */
        fflush(NULL);
        _exit(rc);
    }
    mx_opts_free(&o);
    return rc;
}
