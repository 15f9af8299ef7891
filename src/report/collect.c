/* The report's one pass over the rows (report.h): the statistics tally,
 * the MX TTL histogram and a bounded min-heap of the worst domains.
 * Columns are found by header name, never by position. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mx/report.h"
#include "mx/result.h"
#include "mx/results.h"
#include "mx/study.h"

uint32_t mx_report_score(mx_findings_t f, unsigned *errors, unsigned *warnings, unsigned *infos)
{
    unsigned n[3] = {0, 0, 0};
    for (unsigned i = 0; i < MX_F_COUNT; i++)
        if (f & MX_FBIT(i))
            n[mx_finding_severity((enum mx_finding)i)]++;
    *errors = n[MX_SEV_ERROR];
    *warnings = n[MX_SEV_WARN];
    *infos = n[MX_SEV_INFO];
    if (n[MX_SEV_ERROR] + n[MX_SEV_WARN] == 0)
        return 0;
    return 10000u * n[MX_SEV_ERROR] + 100u * n[MX_SEV_WARN] + n[MX_SEV_INFO];
}

enum mx_status mx_report_init(struct mx_report *r, const struct mx_providers *p, unsigned top)
{
    memset(r, 0, sizeof *r);
    r->providers = p;
    r->top = top;
    r->tally = calloc(1, sizeof *r->tally);
    r->worst = calloc(top ? top : 1, sizeof *r->worst);
    if (!r->tally || !r->worst) {
        mx_report_fini(r);
        return MX_ENOMEM;
    }
    return MX_OK;
}

void mx_report_fini(struct mx_report *r)
{
    free(r->tally);
    free(r->worst);
    r->tally = NULL;
    r->worst = NULL;
}

/* ---- the worst domains: a min-heap, the least bad at the root ---- */

/* a is worse than b: higher score, then the smaller name (so that the
 * order is the same whatever the order of the rows or shards). */
static bool worse(const struct mx_report_worst *a, const struct mx_report_worst *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return strcmp(a->domain, b->domain) < 0;
}

static void swap(struct mx_report_worst *a, struct mx_report_worst *b)
{
    struct mx_report_worst t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct mx_report_worst *h, unsigned n, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, rr = l + 1, m = i;
        if (l < n && worse(&h[m], &h[l]))
            m = l;
        if (rr < n && worse(&h[m], &h[rr]))
            m = rr;
        if (m == i)
            return;
        swap(&h[i], &h[m]);
        i = m;
    }
}

static void sift_up(struct mx_report_worst *h, unsigned i)
{
    while (i > 0 && worse(&h[(i - 1) / 2], &h[i])) {
        swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

void mx_report_offer(struct mx_report *r, const struct mx_report_worst *w)
{
    if (r->top == 0)
        return;
    if (r->nworst < r->top) {
        r->worst[r->nworst] = *w;
        sift_up(r->worst, r->nworst++);
    } else if (worse(w, &r->worst[0])) {
        r->worst[0] = *w;
        sift_down(r->worst, r->nworst, 0);
    }
}

void mx_report_sort_worst(struct mx_report *r)
{
    /* heap sort: the least bad goes to the end each time */
    for (unsigned n = r->nworst; n > 1; n--) {
        swap(&r->worst[0], &r->worst[n - 1]);
        sift_down(r->worst, n - 1, 0);
    }
}

/* ---- rows ---- */

struct pass {
    struct mx_report *r;
    struct mx_colmap map;
    bool bad_header;
};

static void count_ttl(struct mx_report *r, const char *s)
{
    static const uint64_t bounds[] = MX_REPORT_TTL_BOUNDS;
    _Static_assert(sizeof bounds / sizeof bounds[0] + 1 == MX_REPORT_TTL_BUCKETS, "buckets");
    if (!*s)
        return;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || *s == '-')
        return;
    unsigned b = 0;
    while (b < MX_REPORT_TTL_BUCKETS - 1 && v > bounds[b])
        b++;
    r->ttl[b]++;
    r->ttl_rows++;
    r->ttl_sum += v;
}

static void consider_worst(struct mx_report *r, const struct mx_tally_row *tr,
                           const char *const *f)
{
    struct mx_report_worst w;
    w.score = mx_report_score(tr->findings, &w.errors, &w.warnings, &w.infos);
    if (w.score == 0 || r->top == 0)
        return;
    if (r->nworst == r->top && w.score < r->worst[0].score)
        return; /* cheap early out: not among the top */
    snprintf(w.domain, sizeof w.domain, "%s", f[MX_COL_DOMAIN]);
    snprintf(w.mail, sizeof w.mail, "%s", f[MX_COL_MAIL_STATUS]);
    snprintf(w.findings, sizeof w.findings, "%s", f[MX_COL_FINDINGS]);
    mx_report_offer(r, &w);
}

static void on_row(void *ud, const char *const *field, unsigned nfield, const char *const *header,
                   unsigned nheader)
{
    struct pass *ps = ud;
    if (!ps->map.ready) {
        mx_colmap_build(&ps->map, header, nheader);
        ps->bad_header = ps->map.idx[MX_COL_DOMAIN] < 0 || ps->map.idx[MX_COL_MAIL_STATUS] < 0 ||
                         ps->map.idx[MX_COL_FINDINGS] < 0;
    }
    if (ps->bad_header)
        return;
    const char *f[MX_COL_COUNT];
    bool missing = false;
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        f[c] = mx_colmap_get(&ps->map, field, nfield, (enum mx_column)c);
        missing |= ps->map.idx[c] < 0;
    }
    struct mx_report *r = ps->r;
    r->rows_without_columns += missing;
    struct mx_tally_row tr;
    mx_tally_row_from_fields(&tr, r->providers, f);
    mx_tally_add(r->tally, &tr);
    count_ttl(r, f[MX_COL_MX_TTL]);
    consider_worst(r, &tr, f);
}

enum mx_status mx_report_add_file(struct mx_report *r, const char *path, char *err, size_t errlen)
{
    struct pass ps = {.r = r};
    enum mx_status st = mx_results_read(path, 0, on_row, &ps, err, errlen);
    if (st != MX_OK)
        return st;
    if (ps.bad_header) {
        snprintf(err, errlen,
                 "%s: not an mxscan results file (no domain, mail_status or findings column); "
                 "give the output of 'mxscan scan'",
                 path);
        return MX_EFORMAT;
    }
    return MX_OK;
}
