/* The whole procedure (analyze.c): the MX part composed with SPF, DMARC
 * and the providers, the re-run protocol, and invalid input rows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/analyze.h"

static struct mx_allowlist lab_allow;
static struct mx_providers *prov;

static void setup(void)
{
    char err[MX_ERRLEN] = "";
    lab_allow.n = 0;
    cr_assert_eq(mx_allowlist_parse(&lab_allow,
                                    "192.0.2.0/24,198.51.100.0/24,203.0.113.0/24,2001:db8::/32",
                                    err, sizeof err),
                 MX_OK, "%s", err);
    unsetenv("MXSCAN_PROVIDERS");
    cr_assert_eq(mx_providers_load(NULL, &prov, err, sizeof err), MX_OK, "%s", err);
}

static void teardown(void)
{
    mx_providers_destroy(prov);
    prov = NULL;
}

TestSuite(analyze, .init = setup, .fini = teardown);

struct acase {
    const char *what;
    const char *domain; /* NULL: example.test */
    unsigned checks;    /* 0: MX_CHECK_DEFAULT */
    const char *zone;
    enum mx_mail_status mail;
    const char *findings;
};

static void col_eq(const struct mx_result *r, enum mx_column c, const char *want,
                   const char *what)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    cr_expect(len == strlen(want) && memcmp(s, want, len) == 0,
              "%s: column %s: '%.*s', want '%s'", what, mx_column_header(c), (int)len, s, want);
}

static struct fake_dns *run(const struct acase *c, bool with_providers, struct mx_result *res)
{
    struct fake_dns *d = fake_dns_new(c->zone);
    struct mx_analyze_cfg cfg = {c->checks ? c->checks : MX_CHECK_DEFAULT, &lab_allow,
                                 with_providers ? prov : NULL, false};
    fake_dns_analyze(d, &cfg, c->domain ? c->domain : "example.test", res);
    cr_expect_str_eq(fake_findings(res), c->findings, "%s: findings '%s', want '%s'", c->what,
                     fake_findings(res), c->findings);
    cr_expect_eq(res->mail, c->mail, "%s: mail %s, want %s", c->what,
                 mx_mail_status_name(res->mail), mx_mail_status_name(c->mail));
    return d;
}

static void run_table(const struct acase *c, size_t n, bool with_providers)
{
    struct mx_result *res = calloc(1, sizeof *res);
    cr_assert(res);
    for (size_t i = 0; i < n; i++)
        fake_dns_free(run(&c[i], with_providers, res));
    free(res);
}

#define DMARC_REJECT "_dmarc.example.test TXT v=DMARC1; p=reject\n"
#define SELF_MX                                  \
    "example.test MX 10 mail.example.test\n"     \
    "mail.example.test A 192.0.2.1\n"

static const struct acase spf_cases[] = {
    {"self-hosted exchange not in SPF", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 ip4:198.51.100.0/24 -all\n", MX_MAIL_OK,
     "spf_mx_not_covered"},
    {"covered through mx", NULL, 0, SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx -all\n",
     MX_MAIL_OK, ""},
    {"covered through ip4", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 ip4:192.0.2.1 -all\n", MX_MAIL_OK, ""},
    {"covered through a:", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 a:mail.example.test ~all\n", MX_MAIL_OK, ""},
    {"IPv6 address not covered", NULL, 0,
     SELF_MX "mail.example.test AAAA 2001:db8::25\n" DMARC_REJECT
             "example.test TXT v=spf1 ip4:192.0.2.1 -all\n",
     MX_MAIL_OK, "spf_mx_not_covered"},
    {"softfail is not pass", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 ~all\n", MX_MAIL_OK, "spf_mx_not_covered"},
    {"self-hosted in a subdomain of the organizational domain", NULL, 0,
     "example.test MX 10 mx.mail.example.test\nmx.mail.example.test A 192.0.2.1\n" DMARC_REJECT
     "example.test TXT v=spf1 -all\n",
     MX_MAIL_OK, "spf_mx_not_covered"},
    {"third-party exchange is not checked", NULL, 0,
     "example.test MX 10 mx.provider.test\nmx.provider.test A 192.0.2.1\n" DMARC_REJECT
     "example.test TXT v=spf1 -all\n",
     MX_MAIL_OK, ""},
    {"implicit MX is not checked", NULL, 0,
     "example.test A 192.0.2.1\n" DMARC_REJECT "example.test TXT v=spf1 -all\n",
     MX_MAIL_IMPLICIT, "mx_none_implicit"},
    {"two SPF records: no coverage check", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 -all\nexample.test TXT v=spf1 ~all\n",
     MX_MAIL_OK, "spf_multiple;dmarc_enforced_without_spf"},
    {"no SPF", NULL, 0, SELF_MX "_dmarc.example.test TXT v=DMARC1; p=none\n", MX_MAIL_OK,
     "spf_missing;dmarc_none"},
    {"null MX still gets SPF and DMARC", NULL, 0, "example.test MX 0 .\n", MX_MAIL_NO_MAIL,
     "mx_null;spf_missing;dmarc_missing"},
};

Test(analyze, spf_mx_not_covered)
{
    run_table(spf_cases, sizeof spf_cases / sizeof spf_cases[0], false);
}

static const struct acase dmarc_cases[] = {
    {"reject without SPF", NULL, 0, SELF_MX DMARC_REJECT, MX_MAIL_OK,
     "spf_missing;dmarc_enforced_without_spf"},
    {"quarantine without SPF", NULL, 0,
     SELF_MX "_dmarc.example.test TXT v=DMARC1; p=quarantine\n", MX_MAIL_OK,
     "spf_missing;dmarc_enforced_without_spf"},
    {"none without SPF", NULL, 0, SELF_MX "_dmarc.example.test TXT v=DMARC1; p=none\n",
     MX_MAIL_OK, "spf_missing;dmarc_none"},
    {"no DMARC, no SPF", NULL, 0, SELF_MX, MX_MAIL_OK, "spf_missing;dmarc_missing"},
    {"reject with broken SPF syntax", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx bogus:x -all\n", MX_MAIL_OK,
     "spf_syntax;dmarc_enforced_without_spf"},
    {"reject with two SPF records", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx -all\nexample.test TXT v=spf1 a -all\n",
     MX_MAIL_OK, "spf_multiple;dmarc_enforced_without_spf"},
    {"reject with a broken include", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx include:gone.example.test -all\n",
     MX_MAIL_OK, "spf_include_broken;dmarc_enforced_without_spf"},
    {"reject with +all: not broken", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 +all\n", MX_MAIL_OK, "spf_pass_all"},
    {"reject with ?all: not broken", NULL, 0,
     SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx ?all\n", MX_MAIL_OK,
     "spf_no_enforcement"},
    {"organizational record applies", "sub.example.test", 0,
     "sub.example.test MX 10 mx.provider.test\nmx.provider.test A 192.0.2.1\n" DMARC_REJECT,
     MX_MAIL_OK, "spf_missing;dmarc_enforced_without_spf"},
    {"SPF not checked: no dmarc_enforced_without_spf", NULL, MX_CHECK_MX | MX_CHECK_DMARC,
     SELF_MX DMARC_REJECT, MX_MAIL_OK, ""},
    {"MX checks only", NULL, MX_CHECK_MX, SELF_MX, MX_MAIL_OK, ""},
};

Test(analyze, dmarc_enforced_without_spf)
{
    run_table(dmarc_cases, sizeof dmarc_cases / sizeof dmarc_cases[0], false);
}

#define GOOGLE_MX                                     \
    "example.test MX 1 aspmx.l.google.com\n"          \
    "example.test MX 5 alt1.aspmx.l.google.com\n"     \
    "aspmx.l.google.com A 192.0.2.10\n"               \
    "alt1.aspmx.l.google.com A 192.0.2.11\n"
#define MS_SPF "spf.protection.outlook.com TXT v=spf1 ip4:203.0.113.0/24 -all\n"
#define GOOGLE_SPF "_spf.google.com TXT v=spf1 ip4:198.51.100.0/24 ~all\n"

static const struct acase provider_cases[] = {
    {"exchanges at Google, SPF for Microsoft only", NULL, 0,
     GOOGLE_MX DMARC_REJECT MS_SPF "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_OK, "provider_mismatch"},
    {"SPF for both", NULL, 0,
     GOOGLE_MX DMARC_REJECT MS_SPF GOOGLE_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com include:_spf.google.com -all\n",
     MX_MAIL_OK, ""},
    {"SPF for Google", NULL, 0,
     GOOGLE_MX DMARC_REJECT GOOGLE_SPF "example.test TXT v=spf1 include:_spf.google.com -all\n",
     MX_MAIL_OK, ""},
    {"SPF without provider includes", NULL, 0,
     GOOGLE_MX DMARC_REJECT "example.test TXT v=spf1 ip4:198.51.100.0/24 -all\n", MX_MAIL_OK,
     ""},
    {"Microsoft reached through a nested include", NULL, 0,
     GOOGLE_MX DMARC_REJECT MS_SPF "example.test TXT v=spf1 include:spf.example.test -all\n"
     "spf.example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_OK, "provider_mismatch"},
    {"exchanges at a gateway", NULL, 0,
     "example.test MX 10 mx0a-001.pphosted.com\nexample.test MX 20 mx0b-001.pphosted.com\n"
     "mx0a-001.pphosted.com A 192.0.2.20\nmx0b-001.pphosted.com A 192.0.2.21\n" DMARC_REJECT
     MS_SPF "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_OK, ""},
    {"SPF authorizes only a gateway", NULL, 0,
     GOOGLE_MX DMARC_REJECT "example.test TXT v=spf1 include:pphosted.com -all\n"
     "pphosted.com TXT v=spf1 ip4:198.51.100.0/24 -all\n",
     MX_MAIL_OK, ""},
    {"Google and a self-hosted exchange", NULL, 0,
     GOOGLE_MX "example.test MX 20 mail.example.test\nmail.example.test A 192.0.2.1\n" DMARC_REJECT
     MS_SPF "example.test TXT v=spf1 mx include:spf.protection.outlook.com -all\n",
     MX_MAIL_OK, ""},
    /* SPEC: the exchanges belong to P when every exchange (the null MX's
     * "." aside) is attributed to P, usable or not. */
    {"Google plus the domain's own dangling backup: mixed, no mismatch", NULL, 0,
     GOOGLE_MX "example.test MX 20 backup.example.test\n" DMARC_REJECT MS_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_DEGRADED, "mx_nxdomain"},
    {"decommissioned former tenant (NXDOMAIN) at Microsoft, SPF for Google", NULL, 0,
     "example.test MX 0 example-test.mail.protection.outlook.com\n" DMARC_REJECT GOOGLE_SPF
     "example.test TXT v=spf1 include:_spf.google.com ~all\n",
     MX_MAIL_BROKEN, "mx_nxdomain;mx_all_unusable;provider_mismatch"},
    {"former tenant without addresses", NULL, 0,
     "example.test MX 0 example-test.mail.protection.outlook.com\n"
     "example-test.mail.protection.outlook.com TXT gone\n" DMARC_REJECT GOOGLE_SPF
     "example.test TXT v=spf1 include:_spf.google.com ~all\n",
     MX_MAIL_BROKEN, "mx_no_address;mx_all_unusable;provider_mismatch"},
    {"former tenant whose look-up fails", NULL, 0,
     "example.test MX 0 example-test.mail.protection.outlook.com\n"
     "example-test.mail.protection.outlook.com A !SERVFAIL\n"
     "example-test.mail.protection.outlook.com AAAA !SERVFAIL\n" DMARC_REJECT GOOGLE_SPF
     "example.test TXT v=spf1 include:_spf.google.com ~all\n",
     MX_MAIL_UNKNOWN, "mx_lookup_failed;provider_mismatch"},
    {"one of Google's exchanges dangling: still all Google's", NULL, 0,
     GOOGLE_MX "example.test MX 10 alt9.aspmx.l.google.com\n" DMARC_REJECT MS_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_DEGRADED, "mx_nxdomain;provider_mismatch"},
    {"the null MX beside Google's exchanges is set aside", NULL, 0,
     GOOGLE_MX "example.test MX 0 .\n" DMARC_REJECT MS_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_DEGRADED, "mx_null_mixed;provider_mismatch"},
    {"a null MX alone belongs to nobody", NULL, 0,
     "example.test MX 0 .\n" DMARC_REJECT MS_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_NO_MAIL, "mx_null"},
    {"an address literal beside Google's exchange: mixed", NULL, 0,
     GOOGLE_MX "example.test MX 20 192.0.2.30\n" DMARC_REJECT MS_SPF
     "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n",
     MX_MAIL_DEGRADED, "mx_ip_literal"},
    {"former tenant at a gateway: gateways never count", NULL, 0,
     "example.test MX 10 mx0a-001.pphosted.com\n" DMARC_REJECT GOOGLE_SPF
     "example.test TXT v=spf1 include:_spf.google.com ~all\n",
     MX_MAIL_BROKEN, "mx_nxdomain;mx_all_unusable"},
};

Test(analyze, provider_mismatch)
{
    run_table(provider_cases, sizeof provider_cases / sizeof provider_cases[0], true);
}

Test(analyze, provider_columns)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    struct fake_dns *d = run(&provider_cases[0], true, r);
    col_eq(r, MX_COL_PROVIDERS, "google", "providers");
    col_eq(r, MX_COL_SPF_PROVIDERS, "microsoft", "spf providers");
    cr_expect_eq(r->n_providers, 1);
    cr_expect_eq(r->n_spf_providers, 1);
    cr_expect_str_eq(mx_providers_name(prov, r->providers[0]), "google");
    fake_dns_free(d);

    /* Without a providers table: no columns, no mismatch. */
    struct acase c = provider_cases[0];
    c.findings = "";
    d = run(&c, false, r);
    col_eq(r, MX_COL_PROVIDERS, "", "providers");
    col_eq(r, MX_COL_SPF_PROVIDERS, "", "spf providers");
    cr_expect_eq(r->n_providers, 0);
    fake_dns_free(d);

    /* A CNAME exchange is attributed by its own name, not the target. */
    struct acase alias = {"alias", NULL, 0,
                          "example.test MX 10 mx.example.test\n"
                          "mx.example.test A cname 192.0.2.10\n" DMARC_REJECT
                          "example.test TXT v=spf1 mx -all\n",
                          MX_MAIL_DEGRADED, "mx_cname"};
    d = run(&alias, true, r);
    col_eq(r, MX_COL_PROVIDERS, "", "providers");
    fake_dns_free(d);

    /* Several providers, in order of first appearance. */
    struct acase two = {"two", NULL, 0,
                        "example.test MX 10 mx0a.pphosted.com\nexample.test MX 20 "
                        "aspmx.l.google.com\nexample.test MX 30 alt1.aspmx.l.google.com\n"
                        "mx0a.pphosted.com A 192.0.2.20\naspmx.l.google.com A 192.0.2.10\n"
                        "alt1.aspmx.l.google.com A 192.0.2.11\n" DMARC_REJECT GOOGLE_SPF
                        "example.test TXT v=spf1 include:_spf.google.com -all\n",
                        MX_MAIL_OK, ""};
    d = run(&two, true, r);
    col_eq(r, MX_COL_PROVIDERS, "proofpoint;google", "providers");
    col_eq(r, MX_COL_SPF_PROVIDERS, "google", "spf providers");
    fake_dns_free(d);
    free(r);
}

Test(analyze, spf_dmarc_columns)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    struct acase c = {"columns", NULL, 0,
                      SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx -all\n", MX_MAIL_OK, ""};
    struct fake_dns *d = run(&c, false, r);
    col_eq(r, MX_COL_DOMAIN, "example.test", c.what);
    col_eq(r, MX_COL_SPF, "v=spf1 mx -all", c.what);
    col_eq(r, MX_COL_SPF_RESULT, "ok", c.what);
    col_eq(r, MX_COL_SPF_LOOKUPS, "1", c.what);
    col_eq(r, MX_COL_SPF_VOIDS, "0", c.what);
    col_eq(r, MX_COL_DMARC, "v=DMARC1; p=reject", c.what);
    col_eq(r, MX_COL_DMARC_POLICY, "reject", c.what);
    col_eq(r, MX_COL_DMARC_SOURCE, "domain", c.what);
    col_eq(r, MX_COL_MX, "10 mail.example.test", c.what);
    col_eq(r, MX_COL_INPUT_LINE, "", c.what);
    fake_dns_free(d);

    struct acase org = {"organizational", "sub.example.test", 0,
                        "sub.example.test MX 10 mx.provider.test\nmx.provider.test A 192.0.2.1\n"
                        "_dmarc.example.test TXT v=DMARC1; p=reject; sp=quarantine\n"
                        "sub.example.test TXT v=spf1 -all\n",
                        MX_MAIL_OK, ""};
    d = run(&org, false, r);
    col_eq(r, MX_COL_DMARC_POLICY, "quarantine", org.what);
    col_eq(r, MX_COL_DMARC_SOURCE, "organizational", org.what);
    col_eq(r, MX_COL_SPF_RESULT, "ok", org.what);
    fake_dns_free(d);

    struct acase none = {"no spf", NULL, 0, SELF_MX, MX_MAIL_OK, "spf_missing;dmarc_missing"};
    d = run(&none, false, r);
    col_eq(r, MX_COL_SPF, "", none.what);
    col_eq(r, MX_COL_SPF_RESULT, "none", none.what);
    col_eq(r, MX_COL_SPF_LOOKUPS, "", none.what);
    col_eq(r, MX_COL_DMARC, "", none.what);
    col_eq(r, MX_COL_DMARC_POLICY, "", none.what);
    col_eq(r, MX_COL_DMARC_SOURCE, "", none.what);
    fake_dns_free(d);

    /* TXT records larger than the scanner keeps: no verdict, not missing */
    struct acase big = {"txt too big", NULL, 0, SELF_MX DMARC_REJECT "example.test TXT !TOOBIG\n",
                        MX_MAIL_OK, ""};
    d = run(&big, false, r);
    col_eq(r, MX_COL_SPF_RESULT, "temperror", big.what);
    fake_dns_free(d);
    /* ... and as an include target it is unreadable like a failed look-up
     * (spf_include_broken, as for SERVFAIL), not a void look-up */
    struct acase bigi = {"include too big", NULL, 0,
                         SELF_MX DMARC_REJECT "example.test TXT v=spf1 mx include:big.test -all\n"
                         "big.test TXT !TOOBIG\n",
                         MX_MAIL_OK, "spf_include_broken;dmarc_enforced_without_spf"};
    d = run(&bigi, false, r);
    col_eq(r, MX_COL_SPF_VOIDS, "0", bigi.what);
    col_eq(r, MX_COL_SPF_RESULT, "temperror", bigi.what);
    fake_dns_free(d);

    struct acase multi = {"two spf", NULL, 0,
                          SELF_MX DMARC_REJECT
                          "example.test TXT v=spf1 mx -all\nexample.test TXT v=spf1 a -all\n",
                          MX_MAIL_OK, "spf_multiple;dmarc_enforced_without_spf"};
    d = run(&multi, false, r);
    col_eq(r, MX_COL_SPF_RESULT, "permerror", multi.what);
    fake_dns_free(d);
    free(r);
}

/* Domains that do not exist or whose MX query failed: nothing but the MX
 * query, whatever the checks. */
Test(analyze, stop_after_domain_failure)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    static const struct {
        const char *zone;
        enum mx_rc status;
        enum mx_mail_status mail;
        const char *findings;
    } cases[] = {
        {"example.test * !NXDOMAIN\n", MX_RC_NXDOMAIN, MX_MAIL_NXDOMAIN, "domain_nxdomain"},
        {"example.test MX !SERVFAIL\nexample.test TXT v=spf1 -all\n", MX_RC_SERVFAIL,
         MX_MAIL_UNKNOWN, "domain_lookup_failed"},
        {"example.test MX !TIMEOUT\n", MX_RC_TIMEOUT, MX_MAIL_UNKNOWN, "domain_lookup_failed"},
        {"example.test MX !REFUSED\n", MX_RC_REFUSED, MX_MAIL_UNKNOWN, "domain_lookup_failed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake_dns *d = fake_dns_new(cases[i].zone);
        struct mx_analyze_cfg cfg = {MX_CHECK_DEFAULT, &lab_allow, prov, false};
        fake_dns_analyze(d, &cfg, "example.test", r);
        cr_expect_eq(r->status, cases[i].status, "case %zu", i);
        cr_expect_eq(r->mail, cases[i].mail, "case %zu", i);
        cr_expect_str_eq(fake_findings(r), cases[i].findings, "case %zu", i);
        cr_expect_eq(fake_dns_asked_count(d), 1, "case %zu: asked %u", i,
                     fake_dns_asked_count(d));
        cr_expect(!fake_dns_was_asked(d, "example.test", "TXT"), "case %zu", i);
        fake_dns_free(d);
    }
    free(r);
}

/* Pass 1 asks MX only; pass 2 asks the exchanges' addresses, SPF and
 * DMARC together. */
Test(analyze, round_trips)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    struct fake_dns *d =
        fake_dns_new(SELF_MX "example.test MX 20 mx2.example.test\nmx2.example.test A 192.0.2.2\n"
                     DMARC_REJECT "example.test TXT v=spf1 ip4:192.0.2.0/24 -all\n");
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_analyze_cfg cfg = {MX_CHECK_DEFAULT, &lab_allow, prov, false};

    cr_expect(!mx_analyze(&cfg, "example.test", &o, r));
    cr_expect_eq(fake_dns_asked_count(d), 1);
    cr_expect(fake_dns_was_asked(d, "example.test", "MX"));

    cr_expect(!mx_analyze(&cfg, "example.test", &o, r));
    cr_expect(fake_dns_was_asked(d, "mail.example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "mail.example.test", "AAAA"));
    cr_expect(fake_dns_was_asked(d, "mx2.example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "mx2.example.test", "AAAA"));
    cr_expect(fake_dns_was_asked(d, "example.test", "TXT"));
    cr_expect(fake_dns_was_asked(d, "_dmarc.example.test", "TXT"));

    int rounds = 2;
    while (!mx_analyze(&cfg, "example.test", &o, r)) {
        rounds++;
        cr_assert_lt(rounds, 6, "too many rounds");
    }
    cr_expect(rounds <= 3, "rounds %d", rounds);
    cr_expect_str_eq(fake_findings(r), "");
    cr_expect_eq(r->mail, MX_MAIL_OK);
    fake_dns_free(d);

    /* Implicit MX: the domain's A/AAAA with SPF and DMARC in pass 2. */
    d = fake_dns_new("example.test A 192.0.2.1\n" DMARC_REJECT);
    o = fake_dns_oracle(d);
    cr_expect(!mx_analyze(&cfg, "example.test", &o, r));
    cr_expect(!mx_analyze(&cfg, "example.test", &o, r));
    cr_expect(fake_dns_was_asked(d, "example.test", "A"));
    cr_expect(fake_dns_was_asked(d, "example.test", "AAAA"));
    cr_expect(fake_dns_was_asked(d, "example.test", "TXT"));
    cr_expect(fake_dns_was_asked(d, "_dmarc.example.test", "TXT"));
    fake_dns_free(d);
    free(r);
}

/* Calling again after completion gives the same row (the analysis is a
 * pure function of the answers). */
Test(analyze, repeatable)
{
    struct mx_result *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    cr_assert(a && b);
    struct fake_dns *d = fake_dns_new(GOOGLE_MX DMARC_REJECT MS_SPF
                                      "example.test TXT v=spf1 include:spf.protection.outlook.com -all\n");
    struct mx_analyze_cfg cfg = {MX_CHECK_DEFAULT, &lab_allow, prov, false};
    fake_dns_analyze(d, &cfg, "example.test", a);
    struct mx_oracle o = fake_dns_oracle(d);
    cr_assert(mx_analyze(&cfg, "example.test", &o, b));
    cr_expect_eq(a->findings, b->findings);
    for (int c = 0; c < MX_COL_COUNT; c++) {
        size_t la, lb;
        const char *sa = mx_result_col(a, (enum mx_column)c, &la);
        const char *sb = mx_result_col(b, (enum mx_column)c, &lb);
        cr_expect(la == lb && memcmp(sa, sb, la) == 0, "column %s differs",
                  mx_column_header((enum mx_column)c));
    }
    fake_dns_free(d);
    free(a);
    free(b);
}

Test(analyze, invalid_row)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert(r);
    mx_analyze_invalid("bad..name\\x01", r);
    cr_expect_eq(r->status, MX_RC_INVALID);
    cr_expect_eq(r->mail, MX_MAIL_INVALID);
    cr_expect_eq(r->findings, MX_FBIT(MX_F_DOMAIN_INVALID_NAME));
    col_eq(r, MX_COL_DOMAIN, "bad..name\\x01", "invalid");
    col_eq(r, MX_COL_FINDINGS, "domain_invalid_name", "invalid");
    col_eq(r, MX_COL_MX, "", "invalid");
    free(r);
}
