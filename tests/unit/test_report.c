/* mxscan report's pieces: HTML escaping, the worst-domain score and the
 * bounded top-K (independent of the order of the rows). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mx/report.h"

static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    mx_report_escape(f, s);
    fclose(f);
    return buf;
}

Test(report, escape)
{
    char *e = escaped("<a href=\"x\">&'</a>\x01\x7f\xc3\xa9 ok");
    cr_expect_str_eq(e, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;\\x01\\x7F\\xC3\\xA9 ok");
    free(e);
    e = escaped("\\x01.example");  /* the CSV's escaped text stays text */
    cr_expect_str_eq(e, "\\x01.example");
    free(e);
}

Test(report, score)
{
    unsigned e, w, i;
    cr_expect_eq(mx_report_score(0, &e, &w, &i), 0);
    cr_expect_eq(mx_report_score(MX_FBIT(MX_F_DMARC_NONE), &e, &w, &i), 0); /* info only */
    cr_expect_eq(i, 1);
    mx_findings_t f = MX_FBIT(MX_F_MX_NXDOMAIN) | MX_FBIT(MX_F_MX_ALL_UNUSABLE) |
                      MX_FBIT(MX_F_SPF_MISSING) | MX_FBIT(MX_F_DMARC_NONE);
    cr_expect_eq(mx_report_score(f, &e, &w, &i), 20101);
    cr_expect_eq(e, 2);
    cr_expect_eq(w, 1);
    cr_expect_eq(i, 1);
}

/* The top-K of n rows offered in the given order, as "domain" strings. */
static void top_of(const unsigned *order, unsigned n, unsigned k, char out[][MX_REPORT_DOMAIN_MAX])
{
    struct mx_report r;
    cr_assert_eq(mx_report_init(&r, NULL, k), MX_OK);
    for (unsigned j = 0; j < n; j++) {
        unsigned v = order[j];
        struct mx_report_worst w = {.score = 1 + v % 7};
        snprintf(w.domain, sizeof w.domain, "d%02u", v);
        mx_report_offer(&r, &w);
    }
    mx_report_sort_worst(&r);
    cr_assert_eq(r.nworst, n < k ? n : k);
    for (unsigned j = 0; j < r.nworst; j++)
        memcpy(out[j], r.worst[j].domain, MX_REPORT_DOMAIN_MAX);
    mx_report_fini(&r);
}

Test(report, top_k_independent_of_order)
{
    enum { N = 40, K = 9 };
    unsigned fwd[N], rev[N], mixed[N];
    for (unsigned j = 0; j < N; j++) {
        fwd[j] = j;
        rev[j] = N - 1 - j;
        mixed[j] = (j * 17) % N;
    }
    char a[K][MX_REPORT_DOMAIN_MAX], b[K][MX_REPORT_DOMAIN_MAX], c[K][MX_REPORT_DOMAIN_MAX];
    top_of(fwd, N, K, a);
    top_of(rev, N, K, b);
    top_of(mixed, N, K, c);
    /* highest score first (v % 7 == 6: scores 7), then names ascending */
    cr_expect_str_eq(a[0], "d06");
    cr_expect_str_eq(a[1], "d13");
    for (unsigned j = 0; j < K; j++) {
        cr_expect_str_eq(a[j], b[j]);
        cr_expect_str_eq(a[j], c[j]);
    }
    char few[K][MX_REPORT_DOMAIN_MAX];
    top_of(fwd, 3, K, few); /* fewer rows than K */
    cr_expect_str_eq(few[0], "d02");
}
