/* DMARC: record selection, tag validation, discovery with the
 * organizational-domain fallback (RFC 7489). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/dmarc.h"

#define F(x) MX_FBIT(MX_F_##x)

Test(dmarc, is_record)
{
    cr_expect(mx_dmarc_is_record("v=DMARC1; p=none", 16));
    cr_expect(mx_dmarc_is_record("v=DMARC1", 8));
    cr_expect(mx_dmarc_is_record(" v = DMARC1 ;p=none", 19));
    cr_expect(mx_dmarc_is_record("V=dmarc1;", 9)); /* selected, then invalid */
    cr_expect(!mx_dmarc_is_record("v=DMARC10; p=none", 17));
    /* SPEC: "v=DMARC1 not first" is an invalid DMARC record (selected here,
     * refused by the parser); TXT without any v=DMARC1 tag is ignored. */
    cr_expect(mx_dmarc_is_record("p=none; v=DMARC1", 16));
    cr_expect(!mx_dmarc_is_record("p=none; v=DMARC2", 16));
    cr_expect(!mx_dmarc_is_record("google-site-verification=abc", 28));
    cr_expect(!mx_dmarc_is_record("v=spf1 -all", 11));
    cr_expect(!mx_dmarc_is_record("", 0));
    cr_expect(!mx_dmarc_is_record("v=", 2));
}

static const char *const valid[] = {
    "v=DMARC1; p=none",
    "v=DMARC1;p=reject",
    "v=DMARC1; p=quarantine;",
    "v = DMARC1 ; p = quarantine ;",
    "  v=DMARC1;\tp=none  ",
    "V=DMARC1; P=Reject",
    ("v=DMARC1; p=none; sp=reject; pct=50; adkim=s; aspf=r; fo=0:1:d:s; rf=afrf; ri=3600; "
     "rua=mailto:d@example.com,mailto:e@example.net!10m; ruf=mailto:f@example.com"),
    "v=DMARC1; p=none; foo=bar; x",
    "v=DMARC1; p=none; pct=0",
    "v=DMARC1; p=none; pct=100",
    "v=DMARC1; p=none; pct=050",
    "v=DMARC1; p=none;;",
    "v=DMARC1; p=none; fo = 1 : d",
    "v=DMARC1; p=none; rf=afrf:iodef",
    "v=DMARC1; p=none; rua=not a uri",
    "v=DMARC1; p=none; ri=0",
    "v=DMARC1; p=reject; rua=mailto:a@example.com, mailto:b@example.com!1g",
    "v=DMARC1; p=reject; rua=https://report.example.com/dmarc?x=1",
};

static const char *const invalid[] = {
    "p=none; v=DMARC1",
    "v=DMARC1",
    "v=DMARC1; sp=none",
    "v=DMARC1; p=monitor",
    "v=DMARC1; p=",
    "v=DMARC1; p=no ne",
    "v=dmarc1; p=none",
    "v=DMARC2; p=none",
    "v=DMARC1 p=none",
    "v=DMARC1; p=none; sp=bogus",
    "v=DMARC1; p=none; pct=101",
    "v=DMARC1; p=none; pct=-1",
    "v=DMARC1; p=none; pct=1000",
    "v=DMARC1; p=none; pct=",
    "v=DMARC1; p=none; pct=5%",
    "v=DMARC1; p=none; adkim=x",
    "v=DMARC1; p=none; aspf=rs",
    "v=DMARC1; p=none; fo=2",
    "v=DMARC1; p=none; fo=0::1",
    "v=DMARC1; p=none; fo=",
    "v=DMARC1; p=none; rf=xml",
    "v=DMARC1; p=none; rf=afrf:",
    "v=DMARC1; p=none; ri=abc",
    "v=DMARC1; p=none; ri=-5",
    "v=DMARC1; p=none; p=reject",
    "v=DMARC1; v=DMARC1; p=none",
    "",
    ";",
};

Test(dmarc, parse_valid)
{
    struct mx_dmarc_record r;
    char err[128];
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        cr_expect(mx_dmarc_parse(valid[i], strlen(valid[i]), &r, err, sizeof err),
                  "should be valid: %s (%s)", valid[i], err);
}

Test(dmarc, parse_invalid)
{
    struct mx_dmarc_record r;
    char err[128];
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        err[0] = 0;
        cr_expect(!mx_dmarc_parse(invalid[i], strlen(invalid[i]), &r, err, sizeof err),
                  "should be invalid: %s", invalid[i]);
        cr_expect(err[0], "no reason for %s", invalid[i]);
    }
}

Test(dmarc, parse_fields)
{
    struct mx_dmarc_record r;
    const char *t = "v=DMARC1; p=Quarantine; sp=reject; pct=25; adkim=S; aspf=s; fo=1:D; "
                    "rf=afrf; ri=3600; rua=mailto:agg@example.com; ruf=mailto:f@example.com!5k";
    cr_assert(mx_dmarc_parse(t, strlen(t), &r, NULL, 0));
    cr_expect_eq(r.p, MX_DMARC_P_QUARANTINE);
    cr_expect_eq(r.sp, MX_DMARC_P_REJECT);
    cr_expect_eq(r.pct, 25);
    cr_expect_eq(r.adkim, 's');
    cr_expect_eq(r.aspf, 's');
    cr_expect_str_eq(r.fo, "1:d");
    cr_expect_str_eq(r.rf, "afrf");
    cr_expect_eq(r.ri, 3600);
    cr_expect_str_eq(r.rua, "mailto:agg@example.com");
    cr_expect_str_eq(r.ruf, "mailto:f@example.com!5k");
    cr_expect(!r.uri_bad);

    cr_assert(mx_dmarc_parse("v=DMARC1;p=none", 15, &r, NULL, 0));
    cr_expect_eq(r.p, MX_DMARC_P_NONE);
    cr_expect_eq(r.sp, MX_DMARC_P_UNSET);
    cr_expect_eq(r.pct, 100);
    cr_expect_eq(r.adkim, 'r');
    cr_expect_eq(r.aspf, 'r');
    cr_expect_str_eq(r.fo, "0");
    cr_expect_str_eq(r.rf, "afrf");
    cr_expect_eq(r.ri, 86400);
    cr_expect_str_eq(r.rua, "");

    const char *bad = "v=DMARC1; p=none; rua=dmarc-reports";
    cr_assert(mx_dmarc_parse(bad, strlen(bad), &r, NULL, 0));
    cr_expect(r.uri_bad);
    cr_expect_str_eq(r.rua, "dmarc-reports");

    static const char nul[] = "v=DMARC1; p=none\0x";
    cr_expect(!mx_dmarc_parse(nul, sizeof nul - 1, &r, NULL, 0));
    cr_expect(mx_dmarc_parse(nul, sizeof nul - 3, &r, NULL, 0));
}

Test(dmarc, policy_names)
{
    cr_expect_str_eq(mx_dmarc_policy_name(MX_DMARC_P_NONE), "none");
    cr_expect_str_eq(mx_dmarc_policy_name(MX_DMARC_P_QUARANTINE), "quarantine");
    cr_expect_str_eq(mx_dmarc_policy_name(MX_DMARC_P_REJECT), "reject");
    cr_expect_str_eq(mx_dmarc_policy_name(MX_DMARC_P_UNSET), "unset");
}

/* ---- discovery ---- */

static void analyze(struct fake_dns *d, const char *domain, struct mx_dmarc_info *info,
                    unsigned *rounds)
{
    struct mx_oracle o = fake_dns_oracle(d);
    for (unsigned r = 1; r <= 64; r++) {
        bool done = mx_dmarc_analyze(&o, domain, info);
        cr_assert_eq(done, !info->pending);
        if (done) {
            if (rounds)
                *rounds = r;
            return;
        }
    }
    cr_assert_fail("mx_dmarc_analyze(%s) still pending after 64 rounds", domain);
}

static mx_findings_t analyze_zone(const char *zone, const char *domain,
                                  struct mx_dmarc_info *info)
{
    struct fake_dns *d = fake_dns_new(zone);
    analyze(d, domain, info, NULL);
    fake_dns_free(d);
    return info->findings;
}

Test(dmarc, analyze_domain_record)
{
    struct mx_dmarc_info info;
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=reject; sp=none\n",
                              "example.com", &info),
                 0);
    cr_expect_eq(info.source, MX_DMARC_SRC_DOMAIN);
    cr_expect(info.valid);
    cr_expect_eq(info.policy, MX_DMARC_P_REJECT); /* sp= does not apply to the domain itself */
    cr_expect_str_eq(info.record, "v=DMARC1; p=reject; sp=none");
    cr_expect(!info.lookup_failed);

    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=none; rua=mailto:x@example.com\n",
                              "Example.COM.", &info),
                 F(DMARC_NONE));
    cr_expect_eq(info.policy, MX_DMARC_P_NONE);

    /* a subdomain with its own record: p= of that record */
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT v=DMARC1; p=quarantine; sp=none\n"
                              "_dmarc.example.com TXT v=DMARC1; p=none\n",
                              "a.example.com", &info),
                 0);
    cr_expect_eq(info.source, MX_DMARC_SRC_DOMAIN);
    cr_expect_eq(info.policy, MX_DMARC_P_QUARANTINE);
}

Test(dmarc, analyze_v_not_first)
{
    struct mx_dmarc_info info;
    /* v=DMARC1 present but not first: dmarc_invalid, no fallback */
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT p=reject; v=DMARC1\n"
                              "_dmarc.example.com TXT v=DMARC1; p=none\n",
                              "a.example.com", &info),
                 F(DMARC_INVALID));
    cr_expect_eq(info.source, MX_DMARC_SRC_DOMAIN);
    cr_expect(!info.valid);
    /* unrelated TXT only: ignored, the organizational record is used */
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT some-verification=1\n"
                              "_dmarc.example.com TXT v=DMARC1; p=none\n",
                              "a.example.com", &info),
                 F(DMARC_NONE));
    cr_expect_eq(info.source, MX_DMARC_SRC_ORG);
}

Test(dmarc, analyze_org_fallback)
{
    struct mx_dmarc_info info;
    unsigned rounds;
    struct fake_dns *d =
        fake_dns_new("_dmarc.example.com TXT v=DMARC1; p=reject; sp=none\n"
                     "_dmarc.a.b.example.com TXT some-verification=xyz\n");
    analyze(d, "a.b.example.com", &info, &rounds);
    cr_expect_eq(info.source, MX_DMARC_SRC_ORG);
    cr_expect(info.valid);
    cr_expect_eq(info.policy, MX_DMARC_P_NONE); /* sp= at the organizational level */
    cr_expect_eq(info.findings, F(DMARC_NONE));
    cr_expect_str_eq(info.record, "v=DMARC1; p=reject; sp=none");
    cr_expect(fake_dns_was_asked(d, "_dmarc.a.b.example.com", "TXT"));
    cr_expect(fake_dns_was_asked(d, "_dmarc.example.com", "TXT"));
    cr_expect(!fake_dns_was_asked(d, "_dmarc.b.example.com", "TXT"));
    cr_expect_leq(rounds, 2);
    fake_dns_free(d);

    /* no sp=: p= */
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=quarantine\n",
                              "a.b.example.com", &info),
                 0);
    cr_expect_eq(info.policy, MX_DMARC_P_QUARANTINE);
    cr_expect_eq(info.source, MX_DMARC_SRC_ORG);

    /* public suffix with two labels */
    cr_expect_eq(analyze_zone("_dmarc.example.co.uk TXT v=DMARC1; p=reject\n", "mail.example.co.uk",
                              &info),
                 0);
    cr_expect_eq(info.source, MX_DMARC_SRC_ORG);
    cr_expect_eq(info.policy, MX_DMARC_P_REJECT);
}

Test(dmarc, analyze_missing)
{
    struct mx_dmarc_info info;
    cr_expect_eq(analyze_zone("example.com A 192.0.2.1\n", "example.com", &info),
                 F(DMARC_MISSING));
    cr_expect_eq(info.source, MX_DMARC_SRC_NONE);
    cr_expect(!info.valid);
    cr_expect_eq(info.policy, MX_DMARC_P_UNSET);
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=spf1 -all\n", "a.example.com", &info),
                 F(DMARC_MISSING));
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT !NODATA\n", "example.com", &info),
                 F(DMARC_MISSING));
    /* the org domain is only asked when it differs */
    struct fake_dns *d = fake_dns_new("example.com A 192.0.2.1\n");
    analyze(d, "example.com", &info, NULL);
    cr_expect_eq(fake_dns_asked_count(d), 1);
    fake_dns_free(d);
}

Test(dmarc, analyze_invalid)
{
    struct mx_dmarc_info info;
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=none\n"
                              "_dmarc.example.com TXT v=DMARC1; p=reject\n",
                              "example.com", &info),
                 F(DMARC_INVALID));
    cr_expect(!info.valid);
    cr_expect_eq(info.source, MX_DMARC_SRC_DOMAIN);
    cr_expect(strstr(info.error, "2") != NULL, "%s", info.error);

    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=bogus\n", "example.com", &info),
                 F(DMARC_INVALID));
    cr_expect_str_eq(info.record, "v=DMARC1; p=bogus");
    cr_expect(info.error[0]);

    /* non-DMARC TXT beside one record: ignored */
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=reject\n"
                              "_dmarc.example.com TXT hello world\n",
                              "example.com", &info),
                 0);
    cr_expect(info.valid);

    /* an invalid record at the domain is used: no fallback to the org */
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT v=DMARC1; pct=50\n"
                              "_dmarc.example.com TXT v=DMARC1; p=reject\n",
                              "a.example.com", &info),
                 F(DMARC_INVALID));
    cr_expect_eq(info.source, MX_DMARC_SRC_DOMAIN);

    /* invalid at the org level */
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT v=DMARC1; p=reject; sp=maybe\n",
                              "a.example.com", &info),
                 F(DMARC_INVALID));
    cr_expect_eq(info.source, MX_DMARC_SRC_ORG);
}

Test(dmarc, analyze_lookup_failed)
{
    struct mx_dmarc_info info;
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT !SERVFAIL\n", "example.com", &info), 0);
    cr_expect(info.lookup_failed);
    cr_expect_eq(analyze_zone("_dmarc.example.com TXT !TIMEOUT\n", "a.example.com", &info), 0);
    cr_expect(info.lookup_failed);
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT !SERVFAIL\n"
                              "_dmarc.example.com TXT v=DMARC1; p=reject\n",
                              "a.example.com", &info),
                 0);
    cr_expect(info.lookup_failed);
    /* a failure at the org does not matter when the domain has a record */
    cr_expect_eq(analyze_zone("_dmarc.a.example.com TXT v=DMARC1; p=reject\n"
                              "_dmarc.example.com TXT !SERVFAIL\n",
                              "a.example.com", &info),
                 0);
    cr_expect(!info.lookup_failed);
    cr_expect(info.valid);
}

Test(dmarc, analyze_not_lazy)
{
    struct fake_dns *d = fake_dns_new("_dmarc.example.com TXT v=DMARC1; p=reject\n");
    fake_dns_set_lazy(d, false);
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_dmarc_info info;
    cr_expect(mx_dmarc_analyze(&o, "x.example.com", &info));
    cr_expect_eq(info.policy, MX_DMARC_P_REJECT);
    fake_dns_free(d);
}
