/* Transport security policies in scans: the rules (policy_rules.c) on
 * hand-made facts, and the gathering (policy_checks.c) through the table
 * oracle with blob answers standing in for the policy fetch and the SMTP
 * probe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/analyze.h"
#include "mx/engine.h"
#include "mx/policy_checks.h"
#include "mx/stats.h"

#define ALL_POLICY (MX_CHECK_MTA_STS | MX_CHECK_DANE | MX_CHECK_TLSRPT)

static struct mx_allowlist lab_allow;

static void setup(void)
{
    char err[MX_ERRLEN] = "";
    lab_allow.n = 0;
    cr_assert_eq(mx_allowlist_parse(&lab_allow, "192.0.2.0/24,2001:db8::/32", err, sizeof err),
                 MX_OK, "%s", err);
}

TestSuite(policy_rules, .init = setup);
TestSuite(policy_scan, .init = setup);

/* ---- the rules ---- */

/* A policy in mode `mode` with as many long mx patterns as fit 70,000
 * bytes (more than a policy keeps). */
static const char *long_policy(const char *mode)
{
    static char text[70000];
    size_t n = (size_t)snprintf(text, sizeof text, "version: STSv1\nmode: %s\nmax_age: 1\n",
                                mode);
    for (int i = 0; n + 80 < sizeof text && i < 1000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "mx: host-%04d.a-rather-long-label-for-a-mail-exchange.example.test\n",
                              i);
    return text;
}

static struct mx_sts_fetch_result FETCH;

static void fetched(enum mx_sts_fetch_outcome o, const char *policy_text)
{
    memset(&FETCH, 0, sizeof FETCH);
    snprintf(FETCH.host, sizeof FETCH.host, "mta-sts.example.test");
    FETCH.outcome = o;
    if (policy_text)
        mx_sts_policy_parse(policy_text, strlen(policy_text), &FETCH.policy);
}

#define ENFORCE_MX1 "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n"
#define TESTING_MX1 "version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n"
#define NONE_POLICY "version: STSv1\nmode: none\nmax_age: 86400\n"

static void facts(struct mx_policy_facts *f, unsigned checks)
{
    memset(f, 0, sizeof *f);
    f->checks = checks;
    f->domain = "example.test";
    f->sts_rc = f->rpt_rc = MX_RC_NOERROR;
    f->have_exchanges = true;
}

/* A valid STS record whose policy is FETCH, and a valid TLS-RPT record. */
static void deployed(struct mx_policy_facts *f)
{
    f->sts.records = 1;
    f->sts.verdict = MX_STS_REC_OK;
    snprintf(f->sts.id, sizeof f->sts.id, "id1");
    f->fetch = &FETCH;
    f->rpt.records = 1;
    f->rpt.verdict = MX_TLSRPT_OK;
}

static struct mx_policy_exchange *exchange(struct mx_policy_facts *f, const char *name)
{
    struct mx_policy_exchange *x = &f->ex[f->n++];
    memset(x, 0, sizeof *x);
    x->name = name;
    return x;
}

static void tlsa(struct mx_policy_exchange *x, enum mx_dane_state s, unsigned usable, unsigned n)
{
    x->dane_asked = true;
    x->dane = s;
    x->tlsa_usable = usable;
    x->tlsa_n = n;
}

static const char *labels(mx_findings_t f)
{
    static char buf[1024];
    buf[0] = 0;
    for (unsigned i = 0; i < MX_F_COUNT; i++)
        if (f & MX_FBIT(i)) {
            if (buf[0])
                strcat(buf, ";");
            strcat(buf, mx_finding_label((enum mx_finding)i));
        }
    return buf;
}

#define EXPECT(f, want, what)                                                              \
    cr_expect_str_eq(labels(mx_policy_findings(f)), want, "%s: %s, want %s", what,         \
                     labels(mx_policy_findings(f)), want)

Test(policy_rules, sts_states)
{
    static const struct {
        const char *what;
        enum mx_sts_fetch_outcome outcome;
        const char *policy;
        enum mx_sts_state state;
        const char *findings;
    } cases[] = {
        {"enforce", MX_STS_FETCH_OK, ENFORCE_MX1, MX_STS_STATE_ENFORCE, ""},
        {"testing", MX_STS_FETCH_OK, TESTING_MX1, MX_STS_STATE_TESTING, ""},
        {"none", MX_STS_FETCH_OK, NONE_POLICY, MX_STS_STATE_NONE, ""},
        {"bad policy", MX_STS_FETCH_OK, "version: STSv1\nmode: enforcing\nmax_age: 1\n",
         MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"404", MX_STS_FETCH_HTTP_STATUS, NULL, MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"redirect", MX_STS_FETCH_REDIRECT, NULL, MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"certificate", MX_STS_FETCH_CERT_INVALID, NULL, MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"timeout", MX_STS_FETCH_TIMEOUT, NULL, MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"refused", MX_STS_FETCH_CONNECT_FAILED, NULL, MX_STS_STATE_INVALID, "mta_sts_invalid"},
        {"private host", MX_STS_FETCH_NOT_ALLOWED, NULL, MX_STS_STATE_INVALID,
         "mta_sts_invalid"},
        {"our side", MX_STS_FETCH_LOCAL_ERROR, NULL, MX_STS_STATE_UNKNOWN, ""},
        {"stopped", MX_STS_FETCH_ABORTED, NULL, MX_STS_STATE_UNKNOWN, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mx_policy_facts f;
        facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT);
        fetched(cases[i].outcome, cases[i].policy);
        deployed(&f);
        exchange(&f, "mx1.example.test");
        cr_expect_eq(mx_policy_sts_state(&f), cases[i].state, "%s: state %s", cases[i].what,
                     mx_sts_state_name(mx_policy_sts_state(&f)));
        EXPECT(&f, cases[i].findings, cases[i].what);
    }
}

Test(policy_rules, sts_record_and_host)
{
    struct mx_policy_facts f;
    facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT);
    f.sts_rc = MX_RC_SERVFAIL; /* proves nothing */
    cr_expect_eq(mx_policy_sts_state(&f), MX_STS_STATE_UNKNOWN);
    EXPECT(&f, "", "TXT failed");
    facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT);
    f.sts_rc = MX_RC_NXDOMAIN;
    cr_expect_eq(mx_policy_sts_state(&f), MX_STS_STATE_ABSENT);
    EXPECT(&f, "", "no record: nothing deployed, nothing missing");
    facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT);
    f.sts.records = 2;
    f.sts.verdict = MX_STS_REC_MULTIPLE;
    cr_expect_eq(mx_policy_sts_state(&f), MX_STS_STATE_INVALID);
    EXPECT(&f, "mta_sts_invalid;tlsrpt_missing", "two records, no TLS-RPT");
    facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT);
    fetched(MX_STS_FETCH_OK, ENFORCE_MX1);
    deployed(&f);
    f.fetch = NULL;
    f.no_address = true;
    EXPECT(&f, "mta_sts_invalid", "policy host without A/AAAA");
    f.no_address = false;
    f.host_failed = true;
    cr_expect_eq(mx_policy_sts_state(&f), MX_STS_STATE_UNKNOWN);
    EXPECT(&f, "", "policy host look-up failed");
    f.host_failed = false;
    f.fetch_failed = true;
    EXPECT(&f, "", "the provider failed");
}

Test(policy_rules, mx_patterns_and_tls)
{
    struct mx_policy_facts f;
    facts(&f, MX_CHECK_MTA_STS | MX_CHECK_TLSRPT | MX_CHECK_SMTP);
    fetched(MX_STS_FETCH_OK, ENFORCE_MX1);
    deployed(&f);
    exchange(&f, "mx1.example.test");
    EXPECT(&f, "", "the one exchange matches");
    exchange(&f, "mx2.example.test");
    EXPECT(&f, "mta_sts_mx_mismatch", "mx2 matches no pattern");
    f.ex[1].tls_bad = true; /* not covered by the policy: not judged for TLS */
    EXPECT(&f, "mta_sts_mx_mismatch", "bad TLS on the uncovered exchange");
    f.ex[0].tls_bad = true;
    EXPECT(&f, "mta_sts_mx_mismatch;mta_sts_tls_fails", "bad TLS on the covered one");
    fetched(MX_STS_FETCH_OK, TESTING_MX1);
    EXPECT(&f, "mta_sts_mx_mismatch", "testing: patterns judged, TLS not");
    fetched(MX_STS_FETCH_OK, NONE_POLICY);
    EXPECT(&f, "", "mode none: nothing judged");
    fetched(MX_STS_FETCH_OK, "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 9\n");
    f.ex[0].tls_bad = f.ex[1].tls_bad = false;
    EXPECT(&f, "", "the wildcard covers both");
    exchange(&f, "a.mx.example.test");
    EXPECT(&f, "mta_sts_mx_mismatch", "one label only (RFC 8461 4.1)");
    f.have_exchanges = false;
    EXPECT(&f, "", "no MX set yet: nothing per exchange");
}

Test(policy_rules, tlsrpt)
{
    struct mx_policy_facts f;
    facts(&f, MX_CHECK_TLSRPT);
    f.rpt.records = 1;
    f.rpt.verdict = MX_TLSRPT_BAD_SCHEME;
    EXPECT(&f, "tlsrpt_invalid", "bad scheme, nothing deployed");
    facts(&f, MX_CHECK_DANE | MX_CHECK_TLSRPT);
    tlsa(exchange(&f, "mx1.example.test"), MX_DANE_USABLE, 1, 1);
    EXPECT(&f, "tlsrpt_missing", "validated TLSA, no TLS-RPT");
    f.rpt_rc = MX_RC_TIMEOUT;
    EXPECT(&f, "", "TLS-RPT look-up failed: not missing");
    facts(&f, MX_CHECK_DANE | MX_CHECK_TLSRPT);
    tlsa(exchange(&f, "mx1.example.test"), MX_DANE_UNSIGNED, 1, 1);
    EXPECT(&f, "dane_tlsa_unsigned", "unsigned TLSA is no deployment");
    facts(&f, MX_CHECK_DANE | MX_CHECK_TLSRPT);
    tlsa(exchange(&f, "mx1.example.test"), MX_DANE_UNUSABLE, 0, 2);
    EXPECT(&f, "tlsrpt_missing;dane_tlsa_invalid", "unusable TLSA is deployed");
    facts(&f, MX_CHECK_DANE);
    tlsa(exchange(&f, "mx1.example.test"), MX_DANE_USABLE, 1, 1);
    EXPECT(&f, "", "TLS-RPT not checked");
}

Test(policy_rules, dane)
{
    static const struct {
        const char *what;
        enum mx_dane_state a, b; /* the first exchange's state, the second's (if asked) */
        unsigned a_usable, a_n;
        bool a_bad, b_asked;
        const char *findings;
    } cases[] = {
        {"usable alone", MX_DANE_USABLE, MX_DANE_NONE, 1, 1, false, false, ""},
        {"usable, mismatch", MX_DANE_USABLE, MX_DANE_NONE, 1, 1, true, false,
         "dane_tlsa_mismatch"},
        {"one of two unusable", MX_DANE_USABLE, MX_DANE_NONE, 1, 2, false, false,
         "dane_tlsa_invalid"},
        {"usable beside none", MX_DANE_USABLE, MX_DANE_NONE, 1, 1, false, true, "dane_partial"},
        {"unusable beside unsigned", MX_DANE_UNUSABLE, MX_DANE_UNSIGNED, 0, 1, false, true,
         "dane_tlsa_unsigned;dane_tlsa_invalid;dane_partial"},
        {"usable beside failed", MX_DANE_USABLE, MX_DANE_FAILED, 1, 1, false, true, ""},
        {"none beside none", MX_DANE_NONE, MX_DANE_NONE, 0, 0, false, true, ""},
        {"failed alone", MX_DANE_FAILED, MX_DANE_NONE, 0, 0, false, false, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mx_policy_facts f;
        facts(&f, MX_CHECK_DANE | MX_CHECK_TLSRPT);
        f.rpt.records = 1;
        f.rpt.verdict = MX_TLSRPT_OK;
        struct mx_policy_exchange *a = exchange(&f, "mx1.example.test");
        tlsa(a, cases[i].a, cases[i].a_usable, cases[i].a_n);
        a->dane_bad = cases[i].a_bad;
        a->dane_match = MX_DANE_MATCH_MISMATCH;
        struct mx_policy_exchange *b = exchange(&f, "mx2.example.test");
        if (cases[i].b_asked)
            tlsa(b, cases[i].b, 0, cases[i].b == MX_DANE_UNSIGNED ? 1 : 0);
        exchange(&f, "unusable.example.test"); /* not asked: counts for nothing */
        EXPECT(&f, cases[i].findings, cases[i].what);
    }
}

Test(policy_rules, notes_name_the_case)
{
    struct mx_policy_facts f;
    char buf[1536];
    facts(&f, ALL_POLICY | MX_CHECK_SMTP);
    fetched(MX_STS_FETCH_OK, ENFORCE_MX1);
    deployed(&f);
    struct mx_policy_exchange *a = exchange(&f, "mx1.example.test");
    a->tls_bad = true;
    mx_ip_parse("192.0.2.1", &a->tls_bad_ip);
    a->tls_why = "no STARTTLS offered";
    tlsa(a, MX_DANE_USABLE, 1, 3);
    a->tlsa_problems = 1u << MX_TLSA_BAD_LENGTH | 1u << MX_TLSA_PKIX_USAGE;
    a->dane_bad = true;
    a->dane_match = MX_DANE_MATCH_NO_TLS;
    a->dane_bad_ip = a->tls_bad_ip;
    exchange(&f, "mx2.example.test");
    mx_findings_t found = mx_policy_findings(&f);
    cr_assert_str_eq(labels(found), "mta_sts_mx_mismatch;mta_sts_tls_fails;dane_tlsa_invalid;"
                                    "dane_tlsa_mismatch");
    mx_policy_notes(&f, found, buf, sizeof buf);
    cr_expect(strstr(buf, "mta_sts_mx_mismatch: mx2.example.test matches none of the policy's "
                          "mx patterns (mx1.example.test)\n"), "%s", buf);
    cr_expect(strstr(buf, "mta_sts_tls_fails: mx1.example.test (192.0.2.1): no STARTTLS "
                          "offered\n"), "%s", buf);
    cr_expect(strstr(buf, "dane_tlsa_invalid: mx1.example.test: 2 of 3 TLSA records unusable "
                          "(pkix_usage, bad_length)\n"), "%s", buf);
    cr_expect(strstr(buf, "dane_tlsa_mismatch: mx1.example.test (192.0.2.1): no TLS"), "%s", buf);
    /* a record problem and a fetch problem say which */
    facts(&f, MX_CHECK_MTA_STS);
    f.sts.records = 1;
    f.sts.verdict = MX_STS_REC_BAD_ID;
    mx_policy_notes(&f, mx_policy_findings(&f), buf, sizeof buf);
    cr_expect(strstr(buf, "mta_sts_invalid: _mta-sts.example.test: id= is not"), "%s", buf);
    facts(&f, MX_CHECK_MTA_STS);
    fetched(MX_STS_FETCH_HTTP_STATUS, NULL);
    FETCH.status = 404;
    deployed(&f);
    mx_policy_notes(&f, mx_policy_findings(&f), buf, sizeof buf);
    cr_expect(strstr(buf, "mta_sts_invalid: GET https://mta-sts.example.test/.well-known/"
                          "mta-sts.txt: http_status 404"), "%s", buf);
}

Test(policy_rules, notes_are_cut_not_overrun)
{
    /* as many patterns as a policy keeps, notes into buffers of every size */
    fetched(MX_STS_FETCH_OK, long_policy("enforce"));
    cr_assert_eq(FETCH.policy.verdict, MX_STS_POL_OK);
    cr_assert(FETCH.policy.mx_truncated);
    struct mx_policy_facts f;
    facts(&f, MX_CHECK_MTA_STS);
    deployed(&f);
    exchange(&f, "elsewhere.example.net");
    mx_findings_t found = mx_policy_findings(&f);
    cr_assert(found & MX_FBIT(MX_F_MTA_STS_MX_MISMATCH));
    for (size_t len = 1; len <= 4096; len = len * 2 + 1) {
        char *buf = malloc(len); /* exact size: ASan sees any byte past it */
        cr_assert(buf);
        mx_policy_notes(&f, found, buf, len);
        cr_expect_lt(strlen(buf), len);
        free(buf);
    }
}

Test(policy_rules, state_names_round_trip)
{
    for (unsigned i = 0; i < MX_STS_STATE_COUNT; i++)
        cr_expect_eq(mx_sts_state_from_name(mx_sts_state_name((enum mx_sts_state)i)), i);
    cr_expect_eq(mx_sts_state_from_name(""), MX_STS_STATE_COUNT);
    cr_expect_eq(mx_sts_state_from_name("enforced"), MX_STS_STATE_COUNT);
}

/* ---- the gathering, through the table oracle ---- */

#define HEX32(b) b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b

static const char ZONE[] = "example.test MX 10 mx1.example.test\n"
                           "mx1.example.test A ad 192.0.2.1\n"
                           "mx1.example.test AAAA ad !NODATA\n"
                           "_25._tcp.mx1.example.test TLSA ad 3 1 1 " HEX32("11") "\n"
                           "_mta-sts.example.test TXT v=STSv1; id=abc1;\n"
                           "mta-sts.example.test A 192.0.2.80\n"
                           "_smtp._tls.example.test TXT v=TLSRPTv1; rua=mailto:tls@example.test\n";

/* A probe result: greeted, STARTTLS, valid certificate whose SPKI digest
 * is spki_byte repeated. */
static void add_probe(struct fake_dns *d, const char *ip, const char *ex, unsigned char spki_byte,
                      bool starttls)
{
    static struct mx_smtp_result r;
    memset(&r, 0, sizeof r);
    cr_assert(mx_ip_parse(ip, &r.addr));
    snprintf(r.exchange, sizeof r.exchange, "%s", ex);
    r.conn = MX_SMTP_CONN_OK;
    r.greeting_code = 220;
    r.ehlo_code = 250;
    r.starttls = starttls;
    r.tls = starttls ? MX_SMTP_TLS_OK : MX_SMTP_TLS_NOT_OFFERED;
    r.cert = starttls ? MX_SMTP_CERT_VALID : MX_SMTP_CERT_NONE;
    if (starttls) {
        memset(r.leaf.spki, spki_byte, sizeof r.leaf.spki);
        r.chain[0] = r.leaf;
        r.chain_len = 1;
    }
    char key[300];
    snprintf(key, sizeof key, "%s|%s", ip, ex);
    fake_dns_add_blob(d, key, MX_QT_SMTP, &r, sizeof r);
}

static void add_fetch(struct fake_dns *d, const char *key, const char *policy_text)
{
    fetched(MX_STS_FETCH_OK, policy_text);
    fake_dns_add_blob(d, key, MX_QT_MTA_STS, &FETCH, sizeof FETCH);
}

static void col_eq(const struct mx_result *r, enum mx_column c, const char *want)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    cr_expect(len == strlen(want) && memcmp(s, want, len) == 0, "column %s: '%.*s', want '%s'",
              mx_column_header(c), (int)len, s, want);
}

static struct mx_result *analyze(struct fake_dns *d, unsigned checks, const char *domain)
{
    static struct mx_result res;
    static struct mx_explain explain; /* as mxscan check has it */
    res.explain = &explain;
    struct mx_analyze_cfg cfg = {checks, &lab_allow, NULL, false};
    fake_dns_analyze(d, &cfg, domain, &res);
    return &res;
}

Test(policy_scan, everything_deployed_and_matching)
{
    struct fake_dns *d = fake_dns_new(ZONE);
    add_fetch(d, "example.test|192.0.2.80", ENFORCE_MX1);
    add_probe(d, "192.0.2.1", "mx1.example.test", 0x11, true);
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_SMTP | ALL_POLICY, "example.test");
    cr_expect_str_eq(fake_findings(r), "");
    col_eq(r, MX_COL_MTA_STS_MODE, "enforce");
    col_eq(r, MX_COL_MTA_STS_RECORD, "ok");
    col_eq(r, MX_COL_MTA_STS_ID, "abc1");
    col_eq(r, MX_COL_MTA_STS_FETCH, "ok");
    col_eq(r, MX_COL_MTA_STS_POLICY, "ok");
    col_eq(r, MX_COL_MTA_STS_MAX_AGE, "86400");
    col_eq(r, MX_COL_MTA_STS_MX, "mx1.example.test");
    col_eq(r, MX_COL_TLSRPT, "ok");
    col_eq(r, MX_COL_TLSRPT_RUA, "mailto:tls@example.test");
    col_eq(r, MX_COL_DANE, "mx1.example.test=usable:1/1");
    col_eq(r, MX_COL_DANE_MATCH, "mx1.example.test@192.0.2.1=match_ee");
    fake_dns_free(d);
}

Test(policy_scan, probe_failures)
{
    struct fake_dns *d = fake_dns_new(ZONE);
    add_fetch(d, "example.test|192.0.2.80", ENFORCE_MX1);
    add_probe(d, "192.0.2.1", "mx1.example.test", 0x22, true); /* another key */
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_SMTP | ALL_POLICY, "example.test");
    cr_expect_str_eq(fake_findings(r), "dane_tlsa_mismatch");
    col_eq(r, MX_COL_DANE_MATCH, "mx1.example.test@192.0.2.1=mismatch");
    cr_expect(strstr(r->explain->policy_notes, "dane_tlsa_mismatch: mx1.example.test (192.0.2.1)"));
    fake_dns_free(d);
    d = fake_dns_new(ZONE);
    add_fetch(d, "example.test|192.0.2.80", ENFORCE_MX1);
    add_probe(d, "192.0.2.1", "mx1.example.test", 0, false);
    r = analyze(d, MX_CHECK_MX | MX_CHECK_SMTP | ALL_POLICY, "example.test");
    cr_expect_str_eq(fake_findings(r), "smtp_no_starttls;mta_sts_tls_fails;dane_tlsa_mismatch");
    col_eq(r, MX_COL_DANE_MATCH, "mx1.example.test@192.0.2.1=no_tls");
    /* without the probe neither is judged, and the match column stays empty */
    r = analyze(d, MX_CHECK_MX | ALL_POLICY, "example.test");
    cr_expect_str_eq(fake_findings(r), "");
    col_eq(r, MX_COL_DANE_MATCH, "");
    fake_dns_free(d);
}

Test(policy_scan, checks_off_ask_nothing)
{
    struct fake_dns *d = fake_dns_new(ZONE);
    struct mx_result *r = analyze(d, MX_CHECK_DEFAULT, "example.test");
    for (int c = MX_COL_MTA_STS_MODE; c <= MX_COL_DANE_MATCH; c++)
        col_eq(r, (enum mx_column)c, "");
    cr_expect(!fake_dns_was_asked(d, "_25._tcp.mx1.example.test", "TLSA"));
    cr_expect(!fake_dns_was_asked(d, "_mta-sts.example.test", "TXT"));
    cr_expect(!fake_dns_was_asked(d, "_smtp._tls.example.test", "TXT"));
    /* dane alone: TLSA and TLS-RPT, no MTA-STS */
    r = analyze(d, MX_CHECK_MX | MX_CHECK_DANE | MX_CHECK_TLSRPT, "example.test");
    cr_expect(fake_dns_was_asked(d, "_25._tcp.mx1.example.test", "TLSA"));
    cr_expect(!fake_dns_was_asked(d, "_mta-sts.example.test", "TXT"));
    col_eq(r, MX_COL_MTA_STS_MODE, "");
    col_eq(r, MX_COL_TLSRPT, "ok");
    fake_dns_free(d);
}

Test(policy_scan, policy_host_outcomes)
{
    static const char base[] = "example.test MX 10 mx1.example.test\n"
                               "mx1.example.test A 192.0.2.1\n"
                               "_mta-sts.example.test TXT v=STSv1; id=abc1;\n";
    struct fake_dns *d = fake_dns_new(base); /* mta-sts.example.test does not exist */
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_MTA_STS | MX_CHECK_TLSRPT,
                                  "example.test");
    cr_expect_str_eq(fake_findings(r), "mta_sts_invalid;tlsrpt_missing");
    col_eq(r, MX_COL_MTA_STS_MODE, "invalid");
    col_eq(r, MX_COL_MTA_STS_FETCH, "no_address");
    col_eq(r, MX_COL_TLSRPT, "none");
    fake_dns_free(d);
    d = fake_dns_new(base);
    fake_dns_add(d, "mta-sts.example.test A !SERVFAIL\nmta-sts.example.test AAAA !TIMEOUT\n");
    r = analyze(d, MX_CHECK_MX | MX_CHECK_MTA_STS | MX_CHECK_TLSRPT, "example.test");
    cr_expect_str_eq(fake_findings(r), "tlsrpt_missing"); /* the record exists */
    col_eq(r, MX_COL_MTA_STS_MODE, "unknown");
    col_eq(r, MX_COL_MTA_STS_FETCH, "host_lookup_failed");
    fake_dns_free(d);
    d = fake_dns_new(base); /* an address, but the provider gives no answer */
    fake_dns_add(d, "mta-sts.example.test A 192.0.2.80\nmta-sts.example.test AAAA 2001:db8::80\n");
    r = analyze(d, MX_CHECK_MX | MX_CHECK_MTA_STS, "example.test");
    cr_expect(fake_dns_was_asked(d, "_mta-sts.example.test", "TXT"));
    col_eq(r, MX_COL_MTA_STS_MODE, "unknown");
    col_eq(r, MX_COL_MTA_STS_FETCH, "local_error");
    cr_expect_str_eq(fake_findings(r), "");
    fake_dns_free(d);
}

Test(policy_scan, fetch_key_holds_every_address)
{
    struct fake_dns *d = fake_dns_new("example.test MX 10 mx1.example.test\n"
                                      "mx1.example.test A 192.0.2.1\n"
                                      "_mta-sts.example.test TXT v=STSv1; id=x;\n"
                                      "mta-sts.example.test A 192.0.2.80\n"
                                      "mta-sts.example.test A 192.0.2.81\n"
                                      "mta-sts.example.test AAAA 2001:db8::80\n");
    add_fetch(d, "example.test|192.0.2.80,192.0.2.81,2001:db8::80",
              "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 600\n");
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_MTA_STS, "example.test");
    col_eq(r, MX_COL_MTA_STS_MODE, "testing");
    col_eq(r, MX_COL_MTA_STS_MX, "*.example.test");
    cr_expect_str_eq(fake_findings(r), ""); /* TLS-RPT not checked: nothing missing */
    fake_dns_free(d);
}

Test(policy_scan, tlsa_base_names)
{
    /* a validated CNAME: the expanded name first, the exchange name after
     * a validated NXDOMAIN there (RFC 7672 2.2) */
    static const char alias[] =
        "example.test MX 10 alias.example.test\n"
        "alias.example.test A cname ad target=host.example.net 192.0.2.1\n"
        "alias.example.test AAAA cname ad target=host.example.net !NODATA\n";
    struct fake_dns *d = fake_dns_new(alias);
    fake_dns_add(d, "_25._tcp.host.example.net TLSA ad !NXDOMAIN\n"
                    "_25._tcp.alias.example.test TLSA ad 3 1 1 " HEX32("11") "\n");
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_DANE, "example.test");
    cr_expect(fake_dns_was_asked(d, "_25._tcp.host.example.net", "TLSA"));
    cr_expect(fake_dns_was_asked(d, "_25._tcp.alias.example.test", "TLSA"));
    col_eq(r, MX_COL_DANE, "alias.example.test=usable:1/1");
    fake_dns_free(d);
    d = fake_dns_new(alias);
    fake_dns_add(d, "_25._tcp.host.example.net TLSA ad 3 1 1 " HEX32("11") "\n");
    r = analyze(d, MX_CHECK_MX | MX_CHECK_DANE, "example.test");
    cr_expect(!fake_dns_was_asked(d, "_25._tcp.alias.example.test", "TLSA"));
    col_eq(r, MX_COL_DANE, "alias.example.test>host.example.net=usable:1/1");
    fake_dns_free(d);
    /* not validated: the exchange name alone, and its records unsigned */
    d = fake_dns_new("example.test MX 10 alias.example.test\n"
                     "alias.example.test A cname target=host.example.net 192.0.2.1\n"
                     "_25._tcp.alias.example.test TLSA 3 1 1 " HEX32("11") "\n");
    r = analyze(d, MX_CHECK_MX | MX_CHECK_DANE, "example.test");
    cr_expect(!fake_dns_was_asked(d, "_25._tcp.host.example.net", "TLSA"));
    col_eq(r, MX_COL_DANE, "alias.example.test=unsigned:1/1");
    cr_expect_str_eq(fake_findings(r), "mx_cname;dane_tlsa_unsigned");
    fake_dns_free(d);
}

Test(policy_scan, implicit_mx_is_the_domain)
{
    struct fake_dns *d = fake_dns_new("example.test A ad 192.0.2.5\n"
                                      "example.test AAAA ad !NODATA\n"
                                      "_25._tcp.example.test TLSA ad 3 1 1 " HEX32("11") "\n"
                                      "_mta-sts.example.test TXT v=STSv1; id=abc1;\n"
                                      "mta-sts.example.test A 192.0.2.80\n");
    add_fetch(d, "example.test|192.0.2.80", ENFORCE_MX1);
    struct mx_result *r = analyze(d, MX_CHECK_MX | ALL_POLICY, "example.test");
    cr_expect_str_eq(fake_findings(r), "mx_none_implicit;mta_sts_mx_mismatch;tlsrpt_missing");
    col_eq(r, MX_COL_DANE, "example.test=usable:1/1");
    cr_expect(strstr(r->explain->policy_notes, "mta_sts_mx_mismatch: example.test matches none"));
    fake_dns_free(d);
}

Test(policy_scan, unusable_exchanges_are_not_asked)
{
    struct fake_dns *d = fake_dns_new("example.test MX 10 mx1.example.test\n"
                                      "example.test MX 20 gone.example.test\n"
                                      "example.test MX 30 priv.example.test\n"
                                      "mx1.example.test A ad 192.0.2.1\n"
                                      "priv.example.test A ad 10.0.0.1\n"
                                      "_25._tcp.mx1.example.test TLSA ad 3 1 1 " HEX32("11") "\n");
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_DANE, "example.test");
    cr_expect(!fake_dns_was_asked(d, "_25._tcp.gone.example.test", "TLSA"));
    cr_expect(!fake_dns_was_asked(d, "_25._tcp.priv.example.test", "TLSA"));
    col_eq(r, MX_COL_DANE, "mx1.example.test=usable:1/1");
    cr_expect_str_eq(fake_findings(r), "mx_nxdomain;mx_private_address");
    fake_dns_free(d);
}

Test(policy_scan, long_pattern_lists_fit_the_row)
{
    struct fake_dns *d = fake_dns_new(ZONE);
    add_fetch(d, "example.test|192.0.2.80", long_policy("testing"));
    struct mx_result *r = analyze(d, MX_CHECK_MX | MX_CHECK_MTA_STS, "example.test");
    size_t len;
    const char *s = mx_result_col(r, MX_COL_MTA_STS_MX, &len);
    cr_expect_eq(len, FETCH.policy.mx_len - 1, "every kept pattern, ';' between");
    cr_expect(len > 1900 && strncmp(s, "host-0000.", 10) == 0);
    cr_expect_str_eq(fake_findings(r), "mta_sts_mx_mismatch");
    fake_dns_free(d);
}

/* The statistics' mta_sts_mode: a live row and the same row read back from
 * its column texts (resume, mxscan stats) count the same state; a row of a
 * scan without the check counts none. */
Test(policy_scan, tally_reads_the_mode_back)
{
    struct fake_dns *d = fake_dns_new(ZONE);
    add_fetch(d, "example.test|192.0.2.80", TESTING_MX1);
    static const struct {
        unsigned checks;
        enum mx_sts_state want;
    } cases[] = {
        {MX_CHECK_MX | MX_CHECK_MTA_STS, MX_STS_STATE_TESTING},
        {MX_CHECK_DEFAULT, MX_STS_STATE_COUNT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct mx_result *r = analyze(d, cases[k].checks, "example.test");
        struct mx_tally_row live, back;
        mx_tally_row_from_result(&live, r, mx_tally_input_hash("in"));
        static char text[MX_COL_COUNT][2048];
        const char *field[MX_COL_COUNT];
        for (unsigned c = 0; c < MX_COL_COUNT; c++) {
            size_t len;
            const char *s = mx_result_col(r, (enum mx_column)c, &len);
            snprintf(text[c], sizeof text[c], "%.*s", (int)len, s);
            field[c] = text[c];
        }
        field[MX_COL_INPUT_FILE] = "in";
        mx_tally_row_from_fields(&back, NULL, field);
        cr_expect_eq(live.sts_state, cases[k].want, "case %zu: live %u", k, live.sts_state);
        cr_expect_eq(back.sts_state, live.sts_state, "case %zu", k);
        struct mx_tally *t = calloc(1, sizeof *t);
        mx_tally_add(t, &back);
        for (unsigned s = 0; s < MX_STS_STATE_COUNT; s++)
            cr_expect_eq(t->sts_mode[s], s == cases[k].want, "case %zu state %s", k,
                         mx_sts_state_name((enum mx_sts_state)s));
        free(t);
    }
    fake_dns_free(d);
}
