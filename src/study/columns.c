/* Columns of a results file found by their header names (study.h): the
 * CSV may have more columns (opt-in ones) or fewer (an older scanner);
 * and the option loop of the study commands. */
#include <getopt.h>
#include <string.h>

#include "mx/mx.h"
#include "mx/study.h"

void mx_colmap_build(struct mx_colmap *m, const char *const *header, unsigned nheader)
{
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        m->idx[c] = -1;
        for (unsigned i = 0; i < nheader; i++)
            if (strcmp(header[i], mx_column_header((enum mx_column)c)) == 0) {
                m->idx[c] = (int)i;
                break;
            }
    }
    m->ready = true;
}

const char *mx_colmap_get(const struct mx_colmap *m, const char *const *field, unsigned nfield,
                          enum mx_column c)
{
    int i = m->idx[c];
    return i >= 0 && (unsigned)i < nfield ? field[i] : "";
}

int mx_study_usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "mxscan %s: %s%s; see 'mxscan %s --help'\n", cmd, what, arg ? arg : "", cmd);
    return MX_EXIT_USAGE;
}

int mx_study_getopt(const char *cmd, int argc, char **argv, const struct option *lo,
                    const char *shorts, void (*set)(void *ud, int ch, const char *arg), void *ud,
                    void (*usage)(FILE *f))
{
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return MX_EXIT_OK;
        }
        if (ch == '?' || ch == ':')
            return mx_study_usage_error(cmd, optopt ? "bad or incomplete option near "
                                                    : "unknown option ", argv[optind - 1]);
        set(ud, ch, optarg);
    }
    return -1;
}
