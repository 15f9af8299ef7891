/* `mxscan report`: one self-contained HTML file (inline SVG charts, no
 * external resources) from the results files of a scan or of its shards,
 * and optionally the changes of an `mxscan diff` summary. One pass over
 * the rows, bounded memory: the statistics tally, a TTL histogram and the
 * top-K worst domains. */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mx/mx.h"
#include "mx/providers.h"
#include "mx/stats.h"

#define MX_REPORT_TOP_DEFAULT 25
#define MX_REPORT_TOP_MAX 1000
#define MX_REPORT_DOMAIN_MAX 256    /* domain text kept for a worst domain (cut longer) */
#define MX_REPORT_FINDINGS_MAX 1024 /* findings text kept for a worst domain */

/* MX TTL histogram: upper bounds (inclusive) of the buckets; one more
 * bucket above the last bound. */
#define MX_REPORT_TTL_BOUNDS {59, 299, 3599, 86400, 604800}
#define MX_REPORT_TTL_BUCKETS 6

struct mx_report_worst {
    uint32_t score;       /* 10000 per error finding, 100 per warning, 1 per info */
    unsigned errors, warnings, infos;
    char domain[MX_REPORT_DOMAIN_MAX];
    char mail[16];
    char findings[MX_REPORT_FINDINGS_MAX];
};

struct mx_report {
    const struct mx_providers *providers;
    struct mx_tally *tally;          /* heap: the tally is large */
    uint64_t ttl[MX_REPORT_TTL_BUCKETS];
    uint64_t ttl_rows;               /* rows with an MX TTL */
    uint64_t ttl_sum;
    uint64_t rows_without_columns;   /* rows of a file lacking a column (older versions) */
    struct mx_report_worst *worst;   /* min-heap of the top worst domains */
    unsigned nworst, top;
    const char **files;
    size_t nfiles;
};

/* A score: 0 for a domain without error or warning findings. */
uint32_t mx_report_score(mx_findings_t f, unsigned *errors, unsigned *warnings, unsigned *infos);

enum mx_status mx_report_init(struct mx_report *r, const struct mx_providers *p, unsigned top);
void mx_report_fini(struct mx_report *r);
/* Adds the rows of one results file (CSV or JSON Lines, zstd or plain).
 * MX_EFORMAT when the file has no domain, mail_status or findings column. */
enum mx_status mx_report_add_file(struct mx_report *r, const char *path, char *err, size_t errlen);
/* Keeps w if it is among the top worst so far (the heap). */
void mx_report_offer(struct mx_report *r, const struct mx_report_worst *w);
/* The worst domains, worst first (sorts the heap in place). */
void mx_report_sort_worst(struct mx_report *r);

/* The changes between two scans, read from the JSON of `mxscan diff`. */
struct mx_report_diff;
enum mx_status mx_report_diff_load(const char *path, struct mx_report_diff **out, char *err,
                                   size_t errlen);
void mx_report_diff_destroy(struct mx_report_diff *d);
void mx_report_diff_html(FILE *f, const struct mx_report_diff *d);

struct mx_report_page {
    const char *title;
    const struct mx_report *r;           /* NULL: a diff alone */
    const struct mx_report_diff *diff;   /* NULL: no diff */
};
/* The HTML page. MX_EIO when writing failed. */
enum mx_status mx_report_write_html(FILE *f, const struct mx_report_page *pg);

/* HTML text: & < > " ' as entities, control and non-ASCII octets as the
 * text \xHH (the page is pure ASCII). */
void mx_report_escape(FILE *f, const char *s);

/* `mxscan report ARGS...` (argv[0] is "report"): the exit status. */
int mx_report_main(int argc, char **argv);

#endif
