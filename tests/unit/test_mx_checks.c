/* The MX part (classify.c): SPEC 1.2-1.3, every domain_* and mx_* finding
 * and the mail status of SPEC section 3, as a table of fake zones. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/analyze.h"
#include "mx/mx_checks.h"

struct ccase {
    const char *what;
    const char *domain; /* NULL: example.test */
    const char *zone;
    enum mx_rc status;
    enum mx_mail_status mail;
    const char *findings;
    bool no_allow; /* run without the allow list (documentation ranges private) */
};

static struct mx_allowlist lab_allow;

static void init_allow(void)
{
    char err[MX_ERRLEN];
    lab_allow.n = 0;
    cr_assert_eq(mx_allowlist_parse(&lab_allow,
                                    "192.0.2.0/24,198.51.100.0/24,203.0.113.0/24,2001:db8::/32",
                                    err, sizeof err),
                 MX_OK, "%s", err);
}

static struct mx_analyze_cfg mx_cfg(bool allow)
{
    struct mx_analyze_cfg c = {MX_CHECK_MX, allow ? &lab_allow : NULL, NULL, false};
    return c;
}

static void run_case(const struct ccase *c)
{
    struct mx_result *res = calloc(1, sizeof *res);
    cr_assert(res);
    struct fake_dns *d = fake_dns_new(c->zone);
    struct mx_analyze_cfg cfg = mx_cfg(!c->no_allow);
    fake_dns_analyze(d, &cfg, c->domain ? c->domain : "example.test", res);
    size_t ml;
    const char *mxcol = mx_result_col(res, MX_COL_MX, &ml);
    cr_expect_str_eq(fake_findings(res), c->findings, "%s: findings '%s', want '%s' (mx '%.*s')",
                     c->what, fake_findings(res), c->findings, (int)ml, mxcol);
    cr_expect_eq(res->status, c->status, "%s: status %s, want %s", c->what,
                 mx_rc_name(res->status), mx_rc_name(c->status));
    cr_expect_eq(res->mail, c->mail, "%s: mail %s, want %s", c->what,
                 mx_mail_status_name(res->mail), mx_mail_status_name(c->mail));
    fake_dns_free(d);
    free(res);
}

#define OK MX_MAIL_OK
#define DEGRADED MX_MAIL_DEGRADED
#define BROKEN MX_MAIL_BROKEN
#define UNKNOWN MX_MAIL_UNKNOWN
#define NOERR MX_RC_NOERROR

/* Two working exchanges, for cases that add a third. */
#define TWO_OK                                      \
    "example.test MX 10 mx1.example.test\n"         \
    "example.test MX 20 mx2.example.test\n"         \
    "mx1.example.test A 192.0.2.1\n"                \
    "mx2.example.test A 192.0.2.2\n"

static const struct ccase domain_cases[] = {
    {"healthy", NULL, TWO_OK, NOERR, OK, "", false},
    {"nxdomain", NULL, "example.test * !NXDOMAIN\n", MX_RC_NXDOMAIN, MX_MAIL_NXDOMAIN,
     "domain_nxdomain", false},
    {"nxdomain (no line at all)", NULL, "", MX_RC_NXDOMAIN, MX_MAIL_NXDOMAIN, "domain_nxdomain",
     false},
    {"servfail", NULL, "example.test MX !SERVFAIL\n", MX_RC_SERVFAIL, UNKNOWN,
     "domain_lookup_failed", false},
    {"refused", NULL, "example.test MX !REFUSED\n", MX_RC_REFUSED, UNKNOWN,
     "domain_lookup_failed", false},
    {"timeout", NULL, "example.test MX !TIMEOUT\n", MX_RC_TIMEOUT, UNKNOWN,
     "domain_lookup_failed", false},
    {"implicit A", NULL, "example.test A 192.0.2.10\n", NOERR, MX_MAIL_IMPLICIT,
     "mx_none_implicit", false},
    {"implicit AAAA only", NULL, "example.test AAAA 2001:db8::10\n", NOERR, MX_MAIL_IMPLICIT,
     "mx_none_implicit", false},
    {"implicit with private address", NULL, "example.test A 10.1.2.3\n", NOERR,
     MX_MAIL_IMPLICIT, "mx_none_implicit", false},
    {"no MX no address", NULL, "example.test TXT v=spf1 -all\n", NOERR, MX_MAIL_NO_MAIL,
     "mx_none_no_mail", false},
    {"no MX, A look-up fails", NULL,
     "example.test TXT v=spf1 -all\nexample.test A !SERVFAIL\n", NOERR, UNKNOWN, "", false},
    {"no MX, A fails, AAAA has address", NULL,
     "example.test A !TIMEOUT\nexample.test AAAA 2001:db8::10\n", NOERR, MX_MAIL_IMPLICIT,
     "mx_none_implicit", false},
};

Test(mx_checks, domain_outcomes)
{
    init_allow();
    for (size_t i = 0; i < sizeof domain_cases / sizeof domain_cases[0]; i++)
        run_case(&domain_cases[i]);
}

static const struct ccase null_cases[] = {
    {"null MX", NULL, "example.test MX 0 .\n", NOERR, MX_MAIL_NO_MAIL, "mx_null", false},
    {"null MX high TTL", NULL, "example.test MX ttl=172800 0 .\n", NOERR, MX_MAIL_NO_MAIL,
     "mx_null;mx_ttl_high", false},
    {"null MX pref 10 alone", NULL, "example.test MX 10 .\n", NOERR, BROKEN, "mx_null_mixed",
     false},
    {"null MX beside a usable exchange", NULL,
     "example.test MX 0 .\nexample.test MX 10 mx.example.test\nmx.example.test A 192.0.2.1\n",
     NOERR, DEGRADED, "mx_null_mixed", false},
    {"null MX beside a dangling exchange", NULL,
     "example.test MX 0 .\nexample.test MX 10 mx.example.test\n", NOERR, BROKEN,
     "mx_null_mixed;mx_nxdomain;mx_all_unusable", false},
};

Test(mx_checks, null_mx)
{
    init_allow();
    for (size_t i = 0; i < sizeof null_cases / sizeof null_cases[0]; i++)
        run_case(&null_cases[i]);
}

static const struct ccase exchange_cases[] = {
    {"IPv4 literal", NULL, "example.test MX 10 192.0.2.1\n", NOERR, BROKEN,
     "mx_ip_literal;mx_all_unusable", false},
    {"IPv6 literal", NULL, "example.test MX 10 2001:db8::25\n", NOERR, BROKEN,
     "mx_ip_literal;mx_all_unusable", false},
    {"IP literal beside a usable exchange", NULL,
     "example.test MX 10 192.0.2.1\nexample.test MX 20 mx.example.test\n"
     "mx.example.test A 192.0.2.1\n",
     NOERR, DEGRADED, "mx_ip_literal", false},
    {"exchange is the domain itself", NULL,
     "example.test MX 10 example.test\nexample.test A 192.0.2.1\n", NOERR, OK, "", false},
    {"bad exchange name", NULL, "example.test MX 10 -bad.example.test\n", NOERR, BROKEN,
     "mx_target_invalid;mx_all_unusable", false},
    {"over-long label", NULL,
     "example.test MX 10 "
     "a123456789012345678901234567890123456789012345678901234567890123.example.test\n",
     NOERR, BROKEN, "mx_target_invalid;mx_all_unusable", false},
    {"underscore exchange, usable", NULL,
     "example.test MX 10 mx_1.example.test\nmx_1.example.test A 192.0.2.1\n", NOERR, DEGRADED,
     "mx_target_invalid", false},
    {"underscore exchange, dangling", NULL, "example.test MX 10 mx_1.example.test\n", NOERR,
     BROKEN, "mx_target_invalid;mx_nxdomain;mx_all_unusable", false},
    {"origin appended, resolving", NULL,
     "example.test MX 10 mail.example.test.example.test\n"
     "mail.example.test.example.test A 192.0.2.1\n",
     NOERR, DEGRADED, "mx_origin_appended", false},
    {"origin appended, dangling", NULL, "example.test MX 10 mail.example.test.example.test\n",
     NOERR, BROKEN, "mx_origin_appended;mx_nxdomain;mx_all_unusable", false},
    {"origin appended via the organizational domain", "sub.example.test",
     "sub.example.test MX 10 mail.example.test.example.test\n", NOERR, BROKEN,
     "mx_origin_appended;mx_nxdomain;mx_all_unusable", false},
    {"origin appended, subdomain itself", "sub.example.test",
     "sub.example.test MX 10 mx.sub.example.test.sub.example.test\n"
     "mx.sub.example.test.sub.example.test A 192.0.2.1\n",
     NOERR, DEGRADED, "mx_origin_appended", false},
    {"not origin appended: other domain doubled", NULL,
     "example.test MX 10 mail.other.test.other.test\n"
     "mail.other.test.other.test A 192.0.2.1\n",
     NOERR, OK, "", false},
    {"not origin appended: label boundary", NULL,
     "example.test MX 10 mail.myexample.test.example.test\n"
     "mail.myexample.test.example.test A 192.0.2.1\n",
     NOERR, OK, "", false},
    {"localhost", NULL, "example.test MX 10 localhost\nlocalhost A 127.0.0.1\n", NOERR, BROKEN,
     "mx_localhost;mx_private_address;mx_all_unusable", false},
    {"localhost with ::1", NULL,
     "example.test MX 10 localhost\nlocalhost A 127.0.0.1\nlocalhost AAAA ::1\n", NOERR, BROKEN,
     "mx_localhost;mx_private_address;mx_all_unusable", false},
    {"localhost.foo, not existing", NULL, "example.test MX 10 localhost.foo\n", NOERR, BROKEN,
     "mx_localhost;mx_nxdomain;mx_all_unusable", false},
    {"localhost beside a usable exchange", NULL,
     "example.test MX 10 mx.example.test\nexample.test MX 20 localhost\n"
     "mx.example.test A 192.0.2.1\nlocalhost A 127.0.0.1\n",
     NOERR, DEGRADED, "mx_localhost;mx_private_address", false},
    {"not localhost: localhostfoo", NULL,
     "example.test MX 10 localhostfoo.example.test\nlocalhostfoo.example.test A 192.0.2.1\n",
     NOERR, OK, "", false},
    {"CNAME exchange with address", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A cname 192.0.2.1\n"
     "mx.example.test AAAA cname !NODATA\n",
     NOERR, DEGRADED, "mx_cname", false},
    {"CNAME chain to a missing name", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A cname !NXDOMAIN\n"
     "mx.example.test AAAA cname !NXDOMAIN\n",
     NOERR, BROKEN, "mx_cname;mx_nxdomain;mx_all_unusable", false},
    {"CNAME to a name without addresses", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A cname !NODATA\n"
     "mx.example.test AAAA cname !NODATA\n",
     NOERR, BROKEN, "mx_cname;mx_no_address;mx_all_unusable", false},
    {"dangling exchange", NULL, "example.test MX 10 mx.example.test\n", NOERR, BROKEN,
     "mx_nxdomain;mx_all_unusable", false},
    {"exchange without addresses", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test TXT hello\n", NOERR, BROKEN,
     "mx_no_address;mx_all_unusable", false},
    {"one dangling among three working", NULL,
     TWO_OK "example.test MX 30 mx3.example.test\nexample.test MX 40 gone.example.test\n"
            "mx3.example.test AAAA 2001:db8::3\n",
     NOERR, DEGRADED, "mx_nxdomain", false},
    {"all exchanges private", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 20 mx2.example.test\n"
     "mx1.example.test A 10.0.0.1\nmx2.example.test A 192.168.1.1\n"
     "mx2.example.test AAAA fd00::1\n",
     NOERR, BROKEN, "mx_private_address;mx_all_unusable", false},
    {"documentation address without the allow list", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A 192.0.2.1\n", NOERR, BROKEN,
     "mx_private_address;mx_all_unusable", true},
    {"one global, one private address: usable", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A 192.0.2.1\n"
     "mx.example.test AAAA fe80::1\n",
     NOERR, DEGRADED, "mx_private_address", false},
    {"look-up failed, nothing usable", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A !SERVFAIL\n"
     "mx.example.test AAAA !SERVFAIL\n",
     NOERR, UNKNOWN, "mx_lookup_failed", false},
    {"look-up timed out beside a dangling exchange", NULL,
     "example.test MX 10 mx.example.test\nexample.test MX 20 gone.example.test\n"
     "mx.example.test A !TIMEOUT\nmx.example.test AAAA !TIMEOUT\n",
     NOERR, UNKNOWN, "mx_nxdomain;mx_lookup_failed", false},
    {"look-up failed beside a usable exchange", NULL,
     TWO_OK "example.test MX 30 mx3.example.test\nmx3.example.test A !SERVFAIL\n"
            "mx3.example.test AAAA !REFUSED\n",
     NOERR, DEGRADED, "mx_lookup_failed", false},
    {"A fails, AAAA global: usable", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A !SERVFAIL\n"
     "mx.example.test AAAA 2001:db8::25\n",
     NOERR, OK, "", false},
    {"A private, AAAA fails", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A 10.0.0.25\n"
     "mx.example.test AAAA !TIMEOUT\n",
     NOERR, UNKNOWN, "mx_lookup_failed;mx_private_address", false},
    {"A NXDOMAIN, AAAA fails: the name does not exist", NULL,
     "example.test MX 10 mx.example.test\nmx.example.test A !NXDOMAIN\n"
     "mx.example.test AAAA !SERVFAIL\n",
     NOERR, BROKEN, "mx_nxdomain;mx_all_unusable", false},
};

Test(mx_checks, exchanges)
{
    init_allow();
    for (size_t i = 0; i < sizeof exchange_cases / sizeof exchange_cases[0]; i++)
        run_case(&exchange_cases[i]);
}

static const struct ccase set_cases[] = {
    {"duplicate at two preferences", NULL,
     "example.test MX 10 mx.example.test\nexample.test MX 20 mx.example.test\n"
     "mx.example.test A 192.0.2.1\n",
     NOERR, DEGRADED, "mx_duplicate", false},
    {"duplicate beside another exchange", NULL,
     TWO_OK "example.test MX 30 mx1.example.test\n", NOERR, DEGRADED, "mx_duplicate", false},
    {"preferences all equal", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 10 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx2.example.test A 192.0.2.2\n",
     NOERR, OK, "mx_pref_all_equal", false},
    {"one exchange: not pref_all_equal", NULL,
     "example.test MX 10 mx1.example.test\nmx1.example.test A 192.0.2.1\n", NOERR, OK, "",
     false},
    {"equal preferences beside a null MX", NULL,
     "example.test MX 10 .\nexample.test MX 10 mx1.example.test\n"
     "example.test MX 10 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx2.example.test A 192.0.2.2\n",
     NOERR, DEGRADED, "mx_null_mixed;mx_pref_all_equal", false},
    {"same address set", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 20 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx1.example.test A 192.0.2.2\n"
     "mx2.example.test A 192.0.2.2\nmx2.example.test A 192.0.2.1\n",
     NOERR, OK, "mx_same_addresses", false},
    {"same address set, equal preferences", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 10 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx2.example.test A 192.0.2.1\n",
     NOERR, OK, "mx_pref_all_equal;mx_same_addresses", false},
    {"overlapping but different address sets", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 20 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx1.example.test A 192.0.2.2\n"
     "mx2.example.test A 192.0.2.1\n",
     NOERR, OK, "", false},
    {"same A, different AAAA", NULL,
     "example.test MX 10 mx1.example.test\nexample.test MX 20 mx2.example.test\n"
     "mx1.example.test A 192.0.2.1\nmx2.example.test A 192.0.2.1\n"
     "mx2.example.test AAAA 2001:db8::1\n",
     NOERR, OK, "", false},
    {"TTL 86400", NULL,
     "example.test MX ttl=86400 10 mx.example.test\nmx.example.test A 192.0.2.1\n", NOERR, OK,
     "", false},
    {"TTL 86401", NULL,
     "example.test MX ttl=86401 10 mx.example.test\nmx.example.test A 192.0.2.1\n", NOERR,
     DEGRADED, "mx_ttl_high", false},
};

Test(mx_checks, mx_set)
{
    init_allow();
    for (size_t i = 0; i < sizeof set_cases / sizeof set_cases[0]; i++)
        run_case(&set_cases[i]);
}

/* A backup-named exchange at preference 5 beside mx.example.test at 10. */
static void backup_case(const char *label, bool marked)
{
    char zone[512], what[128];
    snprintf(zone, sizeof zone,
             "example.test MX 5 %s.example.test\nexample.test MX 10 mx.example.test\n"
             "%s.example.test A 192.0.2.5\nmx.example.test A 192.0.2.10\n",
             label, label);
    snprintf(what, sizeof what, "backup marker %s", label);
    struct ccase c = {what, NULL, zone, NOERR, marked ? DEGRADED : OK,
                      marked ? "mx_backup_preferred" : "", false};
    run_case(&c);
}

Test(mx_checks, backup_marker)
{
    init_allow();
    static const char *const marked[] = {"backup", "backup2", "bak", "bak1", "mx-backup",
                                         "backup-mx", "secondary", "fallback", "mx-bak-01",
                                         "fallback3-eu"};
    static const char *const unmarked[] = {"mx2", "mxbackup", "bakery", "backups", "primary",
                                           "backupmx", "2backup", "sec"};
    for (size_t i = 0; i < sizeof marked / sizeof marked[0]; i++)
        backup_case(marked[i], true);
    for (size_t i = 0; i < sizeof unmarked / sizeof unmarked[0]; i++)
        backup_case(unmarked[i], false);

    /* The marker is in the first label only. */
    backup_case("mx.backup", false);

    /* A backup with the higher value is fine; two backups compare to nothing. */
    static const struct ccase more[] = {
        {"backup at the higher value", NULL,
         "example.test MX 10 mx.example.test\nexample.test MX 20 backup.example.test\n"
         "mx.example.test A 192.0.2.1\nbackup.example.test A 192.0.2.2\n",
         NOERR, OK, "", false},
        {"only backups", NULL,
         "example.test MX 10 backup1.example.test\nexample.test MX 20 backup2.example.test\n"
         "backup1.example.test A 192.0.2.1\nbackup2.example.test A 192.0.2.2\n",
         NOERR, OK, "", false},
        {"backup equal to the primary", NULL,
         "example.test MX 10 mx.example.test\nexample.test MX 10 backup.example.test\n"
         "mx.example.test A 192.0.2.1\nbackup.example.test A 192.0.2.2\n",
         NOERR, OK, "mx_pref_all_equal", false},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        run_case(&more[i]);
}

static void col_eq(const struct mx_result *r, enum mx_column c, const char *want)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    cr_expect(len == strlen(want) && memcmp(s, want, len) == 0, "column %s: '%.*s', want '%s'",
              mx_column_header(c), (int)len, s, want);
}

static void analyze_zone(const char *zone, const char *domain, bool allow, struct mx_result *res,
                         struct fake_dns **out)
{
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_analyze_cfg cfg = mx_cfg(allow);
    fake_dns_analyze(d, &cfg, domain, res);
    if (out)
        *out = d;
    else
        fake_dns_free(d);
}

Test(mx_checks, columns)
{
    init_allow();
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);

    analyze_zone("example.test MX ttl=300 10 mx1.example.test\n"
                 "example.test MX ttl=300 20 mx2.example.test\n"
                 "example.test MX ttl=300 30 mx1.example.test\n"
                 "example.test MX ttl=300 40 gone.example.test\n"
                 "example.test MX ttl=300 50 192.0.2.99\n"
                 "mx1.example.test A 192.0.2.1\nmx1.example.test A 192.0.2.2\n"
                 "mx1.example.test AAAA 2001:db8::1\n"
                 "mx2.example.test A cname 198.51.100.7\n"
                 "mx2.example.test AAAA !SERVFAIL\n",
                 "example.test", true, r, NULL);
    col_eq(r, MX_COL_DOMAIN, "example.test");
    col_eq(r, MX_COL_MX, "10 mx1.example.test;20 mx2.example.test;30 mx1.example.test;"
                         "40 gone.example.test;50 192.0.2.99");
    col_eq(r, MX_COL_MX_TTL, "300");
    col_eq(r, MX_COL_MX_ADDRESSES,
           "mx1.example.test=192.0.2.1,192.0.2.2,2001:db8::1;"
           "mx2.example.test>CNAME=198.51.100.7,AAAA:SERVFAIL;"
           "gone.example.test=NXDOMAIN");
    col_eq(r, MX_COL_FINDINGS, "mx_ip_literal;mx_cname;mx_nxdomain;mx_duplicate");
    cr_expect_eq(r->mail, MX_MAIL_DEGRADED);

    analyze_zone("example.test MX 0 .\n", "example.test", true, r, NULL);
    col_eq(r, MX_COL_MX, "0 .");
    col_eq(r, MX_COL_MX_TTL, "3600");
    col_eq(r, MX_COL_MX_ADDRESSES, "");

    analyze_zone("example.test A 192.0.2.10\nexample.test AAAA 2001:db8::10\n", "example.test",
                 true, r, NULL);
    col_eq(r, MX_COL_MX, "");
    col_eq(r, MX_COL_MX_TTL, "");
    col_eq(r, MX_COL_MX_ADDRESSES, "example.test=192.0.2.10,2001:db8::10");

    analyze_zone("example.test A !SERVFAIL\nexample.test TXT x\n", "example.test", true, r,
                 NULL);
    col_eq(r, MX_COL_MX_ADDRESSES, "example.test=SERVFAIL");

    analyze_zone("example.test MX 10 mx.example.test\nmx.example.test TXT x\n", "example.test",
                 true, r, NULL);
    col_eq(r, MX_COL_MX_ADDRESSES, "mx.example.test=NODATA");

    analyze_zone("example.test MX !TIMEOUT\n", "example.test", true, r, NULL);
    col_eq(r, MX_COL_MX, "");
    col_eq(r, MX_COL_MX_ADDRESSES, "");
    col_eq(r, MX_COL_FINDINGS, "domain_lookup_failed");
    free(r);
}

Test(mx_checks, lookups_asked)
{
    init_allow();
    struct mx_result *r = calloc(1, sizeof *r);
    struct fake_dns *d;
    cr_assert(r);

    /* Not looked up: IP literals and bad names. Looked up: underscore and
     * localhost names, and each distinct exchange once. */
    analyze_zone("example.test MX 10 192.0.2.1\nexample.test MX 20 -bad.example.test\n"
                 "example.test MX 30 mx_1.example.test\nexample.test MX 40 localhost\n"
                 "example.test MX 50 mx.example.test\nexample.test MX 60 mx.example.test\n"
                 "mx.example.test A 192.0.2.7\n",
                 "example.test", true, r, &d);
    cr_expect(!fake_dns_was_asked(d, "192.0.2.1", "A"));
    cr_expect(!fake_dns_was_asked(d, "192.0.2.1", "AAAA"));
    cr_expect(!fake_dns_was_asked(d, "-bad.example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "mx_1.example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "mx_1.example.test", "AAAA"));
    cr_expect(fake_dns_was_asked(d, "localhost", "A"));
    cr_expect(fake_dns_was_asked(d, "localhost", "AAAA"));
    /* MX + 3 names x (A, AAAA) and nothing else (MX checks only). */
    cr_expect_eq(fake_dns_asked_count(d), 7, "asked %u", fake_dns_asked_count(d));
    fake_dns_free(d);

    /* NXDOMAIN: nothing but the MX query. */
    analyze_zone("", "example.test", true, r, &d);
    cr_expect_eq(fake_dns_asked_count(d), 1);
    fake_dns_free(d);

    /* Null MX: nothing else either. */
    analyze_zone("example.test MX 0 .\n", "example.test", true, r, &d);
    cr_expect_eq(fake_dns_asked_count(d), 1);
    fake_dns_free(d);
    free(r);
}

/* The re-run protocol: pass 1 asks MX only; pass 2 every exchange's A and
 * AAAA at once. */
Test(mx_checks, round_trips)
{
    init_allow();
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    struct fake_dns *d = fake_dns_new(TWO_OK "example.test MX 30 mx3.example.test\n");
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_analyze_cfg cfg = mx_cfg(true);
    struct mx_mxset set;

    cr_expect(!mx_checks_mx(&cfg, "example.test", &o, r, &set));
    cr_expect_eq(fake_dns_asked_count(d), 1);
    cr_expect(fake_dns_was_asked(d, "example.test", "MX"));
    mx_result_reset(r);
    cr_expect(!mx_checks_mx(&cfg, "example.test", &o, r, &set));
    cr_expect_eq(fake_dns_asked_count(d), 7);
    mx_result_reset(r);
    cr_expect(mx_checks_mx(&cfg, "example.test", &o, r, &set));
    cr_expect_eq(r->mail, MX_MAIL_DEGRADED);
    cr_expect(r->findings & MX_FBIT(MX_F_MX_NXDOMAIN));
    fake_dns_free(d);

    /* Implicit MX: A and AAAA of the domain together in pass 2. */
    d = fake_dns_new("example.test A 192.0.2.10\n");
    o = fake_dns_oracle(d);
    mx_result_reset(r);
    cr_expect(!mx_checks_mx(&cfg, "example.test", &o, r, &set));
    mx_result_reset(r);
    cr_expect(!mx_checks_mx(&cfg, "example.test", &o, r, &set));
    cr_expect(fake_dns_was_asked(d, "example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "example.test", "AAAA"));
    mx_result_reset(r);
    cr_expect(mx_checks_mx(&cfg, "example.test", &o, r, &set));
    cr_expect_eq(r->mail, MX_MAIL_IMPLICIT);
    fake_dns_free(d);
    free(r);
}

/* Outcomes the table oracle cannot produce: FORMERR and OTHER count as
 * SERVFAIL in the status column. */
struct one_answer {
    enum mx_rc rc;
    struct mx_answer *a;
};

static const struct mx_answer *one_get(void *ud, const char *name, uint16_t qtype,
                                       unsigned flags)
{
    (void)name;
    (void)flags;
    struct one_answer *x = ud;
    free(x->a);
    x->a = mx_answer_new(x->rc, qtype, 0, false);
    return x->a;
}

Test(mx_checks, formerr_is_servfail)
{
    init_allow();
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    enum mx_rc rcs[] = {MX_RC_FORMERR, MX_RC_OTHER};
    for (size_t i = 0; i < 2; i++) {
        struct one_answer x = {rcs[i], NULL};
        struct mx_oracle o = {one_get, &x};
        struct mx_analyze_cfg cfg = mx_cfg(true);
        struct mx_mxset set;
        mx_result_reset(r);
        cr_expect(mx_checks_mx(&cfg, "example.test", &o, r, &set));
        cr_expect_eq(r->status, MX_RC_SERVFAIL);
        cr_expect_eq(r->mail, MX_MAIL_UNKNOWN);
        cr_expect_eq(r->findings, MX_FBIT(MX_F_DOMAIN_LOOKUP_FAILED));
        free(x.a);
    }
    free(r);
}

/* More distinct exchanges than MX_EXCHANGES_MAX: the rest are listed in
 * the mx column but not looked up, and the row says it was cut. */
Test(mx_checks, many_exchanges)
{
    init_allow();
    size_t cap = 64 * 1024;
    char *zone = malloc(cap);
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(zone && r);
    size_t used = 0;
    for (int i = 0; i < MX_EXCHANGES_MAX + 6; i++)
        used += (size_t)snprintf(zone + used, cap - used,
                                 "example.test MX %d mx%d.example.test\n"
                                 "mx%d.example.test A 192.0.2.%d\n",
                                 i, i, i, i % 250 + 1);
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_analyze_cfg cfg = mx_cfg(true);
    fake_dns_analyze(d, &cfg, "example.test", r);
    cr_expect(r->overflow);
    cr_expect_eq(r->mail, MX_MAIL_OK);
    cr_expect_str_eq(fake_findings(r), "");
    cr_expect(fake_dns_was_asked(d, "mx63.example.test", "A"));
    cr_expect(!fake_dns_was_asked(d, "mx64.example.test", "A"));
    size_t len;
    const char *mx = mx_result_col(r, MX_COL_MX, &len);
    const char *last = "69 mx69.example.test";
    cr_expect(len > strlen(last) && memcmp(mx + len - strlen(last), last, strlen(last)) == 0,
              "mx column '%.*s'", (int)len, mx);
    fake_dns_free(d);
    free(zone);
    free(r);
}
