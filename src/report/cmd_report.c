/* `mxscan report RESULTS... -o report.html`: the command line (report.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mx/report.h"

struct report_opts {
    const char *output, *title, *diff, *providers;
    unsigned top;
    bool help;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mxscan report [options] RESULTS... -o REPORT.html\n"
            "       mxscan report --diff DIFF.json [RESULTS...] -o REPORT.html\n\n"
            "One self-contained HTML file (inline SVG charts; no script, no external\n"
            "resource, opens offline) from the results files of a scan or of its shards\n"
            "(CSV or JSON Lines, zstd or plain, as 'mxscan scan' writes them): mail status,\n"
            "findings by severity, provider shares, findings per provider, MX TTL\n"
            "distribution, SPF and DMARC adoption, the worst domains. The rows of all the\n"
            "files are counted together (give every shard of a scan).\n\n"
            "options:\n"
            "  -o, --output FILE      the HTML file to write ('-': standard output); required\n"
            "      --diff FILE        add the changes between two scans: the JSON written by\n"
            "                         'mxscan diff OLD NEW' (RESULTS may then be omitted)\n"
            "      --top N            worst domains listed (default %d, 0 to %d)\n"
            "      --title TEXT       the page title (default \"mxscan report\")\n"
            "      --providers FILE   the provider data file the scan used (default: as\n"
            "                         'mxscan scan' finds it)\n"
            "  -h, --help             this help\n\n"
            "Exit status: 0 written, 1 a file could not be read or written, 2 bad usage.\n",
            MX_REPORT_TOP_DEFAULT, MX_REPORT_TOP_MAX);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mxscan report: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("; see 'mxscan report --help'\n", stderr);
    return MX_EXIT_USAGE;
}

static int parse(struct report_opts *o, int argc, char **argv)
{
    enum { O_DIFF = 256, O_TOP, O_TITLE, O_PROVIDERS };
    static const struct option lo[] = {{"output", required_argument, NULL, 'o'},
                                       {"diff", required_argument, NULL, O_DIFF},
                                       {"top", required_argument, NULL, O_TOP},
                                       {"title", required_argument, NULL, O_TITLE},
                                       {"providers", required_argument, NULL, O_PROVIDERS},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    *o = (struct report_opts){.title = "mxscan report", .top = MX_REPORT_TOP_DEFAULT};
    optind = 1;
    opterr = 0;
    for (;;) {
        int ch = getopt_long(argc, argv, ":o:h", lo, NULL);
        if (ch == -1)
            break;
        char *end;
        switch (ch) {
        case 'o': o->output = optarg; break;
        case 'h': o->help = true; return 0;
        case O_DIFF: o->diff = optarg; break;
        case O_TITLE: o->title = optarg; break;
        case O_PROVIDERS: o->providers = optarg; break;
        case O_TOP:
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || errno || *optarg == '-' || v > MX_REPORT_TOP_MAX)
                return usage_error("--top wants a number from 0 to %d, not '%s'",
                                   MX_REPORT_TOP_MAX, optarg);
            o->top = (unsigned)v;
            break;
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!o->output)
        return usage_error("no output file: give -o REPORT.html");
    if (optind >= argc && !o->diff)
        return usage_error("no results file given (nor --diff)");
    return 0;
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "mxscan report: %s: %s\n", what, err);
    return MX_EXIT_FAIL;
}

/* Reads the results files into r; the exit status. */
static int collect(struct mx_report *r, char **files, size_t n)
{
    char err[MX_ERRLEN];
    r->files = (const char **)files;
    r->nfiles = n;
    for (size_t i = 0; i < n; i++)
        if (mx_report_add_file(r, files[i], err, sizeof err) != MX_OK)
            return fail("cannot read the results", err);
    mx_report_sort_worst(r);
    return MX_EXIT_OK;
}

static int write_page(const char *path, const struct mx_report_page *pg)
{
    bool out = strcmp(path, "-") == 0;
    FILE *f = out ? stdout : fopen(path, "w");
    if (!f)
        return fail(path, strerror(errno));
    enum mx_status st = mx_report_write_html(f, pg);
    if (!out && fclose(f) != 0)
        st = MX_EIO;
    if (st != MX_OK)
        return fail(path, "cannot write the report (disk full?)");
    if (!out)
        fprintf(stderr, "mxscan report: wrote %s\n", path);
    return MX_EXIT_OK;
}

static int run(const struct report_opts *o, char **files, size_t nfiles)
{
    char err[MX_ERRLEN];
    struct mx_providers *p = NULL;
    struct mx_report r;
    struct mx_report_diff *d = NULL;
    bool have_r = false;
    int rc = MX_EXIT_FAIL;
    if (o->diff && mx_report_diff_load(o->diff, &d, err, sizeof err) != MX_OK)
        return fail("cannot read the diff", err);
    if (nfiles) {
        if (mx_providers_load(o->providers, &p, err, sizeof err) != MX_OK) {
            rc = fail("cannot load the provider data", err);
            goto out;
        }
        if (mx_report_init(&r, p, o->top) != MX_OK) {
            rc = fail("report", "out of memory");
            goto out;
        }
        have_r = true;
        if ((rc = collect(&r, files, nfiles)) != MX_EXIT_OK)
            goto out;
    }
    struct mx_report_page pg = {o->title, have_r ? &r : NULL, d};
    rc = write_page(o->output, &pg);
out:
    if (have_r)
        mx_report_fini(&r);
    mx_providers_destroy(p);
    mx_report_diff_destroy(d);
    return rc;
}

int mx_report_main(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse(&o, argc, argv);
    if (rc != 0)
        return rc;
    if (o.help) {
        usage(stdout);
        return MX_EXIT_OK;
    }
    return run(&o, argv + optind, (size_t)(argc - optind));
}
