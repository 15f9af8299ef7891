/* SPF: parser, macros, static analysis and check_host (RFC 7208). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/spf.h"

/* ---- record selection and parser ---- */

Test(spf, is_record)
{
    cr_expect(mx_spf_is_record("v=spf1", 6));
    cr_expect(mx_spf_is_record("v=spf1 -all", 11));
    cr_expect(mx_spf_is_record("V=SpF1 mx", 9));
    cr_expect(!mx_spf_is_record("v=spf10 -all", 12));
    cr_expect(!mx_spf_is_record("v=spf1-all", 10));
    cr_expect(!mx_spf_is_record("v=spf1\t-all", 11));
    cr_expect(!mx_spf_is_record(" v=spf1 -all", 12));
    cr_expect(!mx_spf_is_record("spf1 -all", 9));
    cr_expect(!mx_spf_is_record("v=spf", 5));
    cr_expect(!mx_spf_is_record("", 0));
}

static const char *const valid_records[] = {
    "v=spf1",
    "v=spf1 -all",
    "v=spf1 ",
    "V=SPF1 MX -ALL",
    "v=spf1  a  mx   -all  ",
    "v=spf1 +all",
    "v=spf1 all",
    "v=spf1 ?all ~all",
    "v=spf1 a:example.com/24//64 -all",
    "v=spf1 a/24 mx/16//48 a//64 mx/0 -all",
    "v=spf1 mx:foo.example.com/0",
    "v=spf1 A:Example.COM Mx:Example.com",
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all",
    "v=spf1 ip4:192.0.2.1 ip6:::1 ip4:0.0.0.0/0 ip6:::/0",
    "v=spf1 ip6:::ffff:192.0.2.1/128 ip4:10.0.0.0/8 ip4:1.2.3.4/32",
    "v=spf1 include:_spf.google.com ~all",
    "v=spf1 include:spf.protection.outlook.com -all",
    "v=spf1 exists:%{i}._spf.%{d} -all",
    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 include:%{d2}.example.com a:%{d} mx:%{o}",
    "v=spf1 exists:%{ir}.%{v}._spf.%{d2}",
    "v=spf1 exists:%%.%_.%-.example.com",
    "v=spf1 a:%{H}.example.com exists:%{S}.x.example.com",
    "v=spf1 exists:%{p}.example.com exists:%{l2r.-+,/_=}.example.com",
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 -all exp=explain._spf.%{d}",
    "v=spf1 foo=bar -all",
    "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
    "v=spf1 x=%{c}%{r}%{t} -all",
    "v=spf1 x=",
    "v=spf1 ip4=1.2.3.4 all=foo",
    "v=spf1 a:example.com. -all",
    "v=spf1 ptr ptr:example.com ?ptr",
    "v=spf1 include:foo-bar.example.1-2",
    "v=spf1 include:a.b.example.x1",
    "v=spf1 a:mail!.example.com",
    "v=spf1 v=spf1 -all",
};

static const char *const invalid_records[] = {
    "v=spf1 -all include",
    "v=spf1 foo",
    "v=spf1 include:",
    "v=spf1 include",
    "v=spf1 exists",
    "v=spf1 ip4",
    "v=spf1 ip4:",
    "v=spf1 ip4:192.0.2.1/33",
    "v=spf1 ip4:192.0.2.1/024",
    "v=spf1 ip4:192.0.2.1/",
    "v=spf1 ip4:192.0.2.01",
    "v=spf1 ip4:192.0.2",
    "v=spf1 ip4:192.0.2.1//64",
    "v=spf1 ip6:2001:db8::/129",
    "v=spf1 ip6:2001:db8::/0128",
    "v=spf1 ip6:192.0.2.1",
    "v=spf1 ip4:2001:db8::1",
    "v=spf1 ip6:2001:db8:::1",
    "v=spf1 a:example.com/33",
    "v=spf1 a:example.com//129",
    "v=spf1 a/24/64",
    "v=spf1 a/",
    "v=spf1 mx:example.com/24/",
    "v=spf1 a:",
    "v=spf1 a:/24",
    "v=spf1 redirect=a.example.com redirect=b.example.com",
    "v=spf1 exp=a.example.com exp=b.example.com",
    "v=spf1 +redirect=a.example.com",
    "v=spf1 -foo=bar",
    "v=spf1 redirect=",
    "v=spf1 include:example.123",
    "v=spf1 include:example..com",
    "v=spf1 include:.example.com",
    "v=spf1 include:example",
    "v=spf1 include:example.com-",
    "v=spf1 include:example.-com",
    "v=spf1 include:example.com..",
    "v=spf1 include:example.c_m",
    "v=spf1 exists:%{x}.example.com",
    "v=spf1 exists:%{d0}.example.com",
    "v=spf1 exists:%{d",
    "v=spf1 exists:%d.example.com",
    "v=spf1 exists:%{d}x",
    "v=spf1 exists:%{d}.",
    "v=spf1 a:%{c}.example.com",
    "v=spf1 a:%{r}.example.com",
    "v=spf1 redirect=%{t}.example.com",
    "v=spf1 a:foo.example.com%",
    "v=spf1 x=%{z}",
    "v=spf1 all:foo",
    "v=spf1 all/24",
    "v=spf1 ptr/24",
    "v=spf1 -all\t",
    "v=spf1 a:ex\xc3\xa4mple.com",
    "v=spf1 -",
    "v=spf1 +-all",
    "v=spf1 =foo",
    "v=spf1 _foo=bar",
    "v=spf1 %{d}.com",
    "v=spf1 include:spf.example.com;",
    "spf1 -all",
    "v=spf1-all",
};

Test(spf, parse_valid)
{
    char err[128];
    struct mx_spf_record rec;
    for (size_t i = 0; i < sizeof valid_records / sizeof valid_records[0]; i++) {
        const char *r = valid_records[i];
        cr_expect(mx_spf_parse(r, strlen(r), &rec, err, sizeof err), "should parse: %s (%s)", r,
                  err);
    }
}

Test(spf, parse_invalid)
{
    char err[128];
    struct mx_spf_record rec;
    for (size_t i = 0; i < sizeof invalid_records / sizeof invalid_records[0]; i++) {
        const char *r = invalid_records[i];
        err[0] = 0;
        cr_expect(!mx_spf_parse(r, strlen(r), &rec, err, sizeof err), "should not parse: %s", r);
        cr_expect(err[0] != 0, "no reason for %s", r);
    }
}

Test(spf, parse_nul_and_long_name)
{
    struct mx_spf_record rec;
    static const char nul[] = "v=spf1 ip4:192.0.2.1\0 -all";
    cr_expect(!mx_spf_parse(nul, sizeof nul - 1, &rec, NULL, 0));
    cr_expect(mx_spf_parse(nul, 20, &rec, NULL, 0));
    /* a name of 254 octets is not a domain, 253 is */
    char r[400];
    size_t o = (size_t)snprintf(r, sizeof r, "v=spf1 a:");
    for (int i = 0; i < 4; i++)
        o += (size_t)snprintf(r + o, sizeof r - o, "%062d.", i);
    snprintf(r + o, sizeof r - o, "ab");
    cr_expect_eq(strlen(r) - 9, 254);
    cr_expect(!mx_spf_parse(r, strlen(r), &rec, NULL, 0), "%s", r);
    r[strlen(r) - 1] = 0;
    cr_expect(mx_spf_parse(r, strlen(r), &rec, NULL, 0), "%s", r);
    /* a label of 64 octets is not either */
    o = (size_t)snprintf(r, sizeof r, "v=spf1 a:%064d.com", 0);
    cr_expect(!mx_spf_parse(r, o, &rec, NULL, 0), "%s", r);
    o = (size_t)snprintf(r, sizeof r, "v=spf1 a:%063d.com", 0);
    cr_expect(mx_spf_parse(r, o, &rec, NULL, 0), "%s", r);
}

Test(spf, parse_fields)
{
    struct mx_spf_record rec;
    struct mx_spf_term t;
    const char *r = "v=spf1 a:Example.com/24//64 ~mx/16 ?ip4:192.0.2.0/25 -ip6:2001:db8::/48 "
                    "include:_spf.example.net exists:%{i}.x.example.org foo=bar "
                    "redirect=_r.example.com -all +all exp=e.example.com";
    cr_assert(mx_spf_parse(r, strlen(r), &rec, NULL, 0));
    cr_expect_eq(rec.nterms, 11);
    cr_expect_eq(rec.ndns, 4);
    cr_expect(rec.has_all);
    cr_expect_eq(rec.all_qualifier, '-');
    cr_expect(rec.has_redirect);
    cr_expect(rec.has_exp);
    cr_expect_eq(rec.redirect.domain_len, strlen("_r.example.com"));
    cr_expect(!strncmp(rec.redirect.domain, "_r.example.com", rec.redirect.domain_len));

    size_t off = 0;
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_A);
    cr_expect_eq(t.qualifier, '+');
    cr_expect_eq(t.cidr4, 24);
    cr_expect_eq(t.cidr6, 64);
    cr_expect_eq(t.domain_len, 11);
    cr_expect(!t.macro);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_MX);
    cr_expect_eq(t.qualifier, '~');
    cr_expect_eq(t.cidr4, 16);
    cr_expect_eq(t.cidr6, 128);
    cr_expect_null(t.domain);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_IP4);
    cr_expect_eq(t.qualifier, '?');
    cr_expect_eq(t.cidr4, 25);
    cr_expect_eq(t.ip.family, 4);
    cr_expect_eq(t.ip.b[3], 0);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_IP6);
    cr_expect_eq(t.cidr6, 48);
    cr_expect_eq(t.ip.family, 6);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_INCLUDE);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_EXISTS);
    cr_expect(t.macro);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_UNKNOWN);
    cr_expect_eq(t.qualifier, 0);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_REDIRECT);
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_ALL);
    cr_expect_eq(t.qualifier, '-');
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.qualifier, '+');
    cr_assert(mx_spf_next_term(&rec, &off, &t));
    cr_expect_eq(t.kind, MX_SPF_K_EXP);
    cr_expect(!mx_spf_next_term(&rec, &off, &t));
}

/* ---- macros (RFC 7208 section 7.4) ---- */

static void expect_expand(const char *ipstr, const char *sender, const char *domain,
                          const char *spec, const char *want)
{
    struct mx_ip ip;
    char out[512];
    cr_assert(mx_ip_parse(ipstr, &ip));
    struct mx_spf_macro_ctx c = {
        .ip = &ip, .sender = sender, .domain = domain, .helo = "mx.example.org"};
    cr_assert(mx_spf_expand(&c, spec, strlen(spec), out, sizeof out), "expand %s", spec);
    cr_expect_str_eq(out, want, "%s", spec);
}

Test(spf, macros_rfc_examples)
{
    const char *s = "strong-bad@email.example.com", *d = "email.example.com";
    expect_expand("192.0.2.3", s, d, "%{s}", "strong-bad@email.example.com");
    expect_expand("192.0.2.3", s, d, "%{o}", "email.example.com");
    expect_expand("192.0.2.3", s, d, "%{d}", "email.example.com");
    expect_expand("192.0.2.3", s, d, "%{d4}", "email.example.com");
    expect_expand("192.0.2.3", s, d, "%{d3}", "email.example.com");
    expect_expand("192.0.2.3", s, d, "%{d2}", "example.com");
    expect_expand("192.0.2.3", s, d, "%{d1}", "com");
    expect_expand("192.0.2.3", s, d, "%{dr}", "com.example.email");
    expect_expand("192.0.2.3", s, d, "%{d2r}", "example.email");
    expect_expand("192.0.2.3", s, d, "%{l}", "strong-bad");
    expect_expand("192.0.2.3", s, d, "%{l-}", "strong.bad");
    expect_expand("192.0.2.3", s, d, "%{lr}", "strong-bad");
    expect_expand("192.0.2.3", s, d, "%{lr-}", "bad.strong");
    expect_expand("192.0.2.3", s, d, "%{l1r-}", "strong");
    expect_expand("192.0.2.3", s, d, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
    expect_expand("192.0.2.3", s, d, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
    expect_expand("192.0.2.3", s, d, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
    expect_expand("192.0.2.3", s, d, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                  "3.2.0.192.in-addr.strong.lp._spf.example.com");
    expect_expand("192.0.2.3", s, d, "%{d2}.trusted-domains.example.net",
                  "example.com.trusted-domains.example.net");
    expect_expand("2001:db8::cb01", s, d, "%{ir}.%{v}._spf.%{d2}",
                  "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf."
                  "example.com");
}

Test(spf, macros_misc)
{
    const char *s = "strong-bad@email.example.com", *d = "email.example.com";
    expect_expand("192.0.2.3", s, d, "%{S}", "strong-bad%40email.example.com");
    expect_expand("192.0.2.3", s, d, "%{L}", "strong-bad");
    expect_expand("192.0.2.3", s, d, "%%-%_-%-", "%- -%20");
    expect_expand("192.0.2.3", s, d, "%{i}", "192.0.2.3");
    expect_expand("192.0.2.3", s, d, "%{c}", "192.0.2.3");
    expect_expand("192.0.2.3", s, d, "%{h}", "mx.example.org");
    expect_expand("192.0.2.3", s, d, "%{p}", "unknown");
    expect_expand("192.0.2.3", s, d, "%{d9}", "email.example.com");
    expect_expand("192.0.2.3", s, d, "%{l1}", "strong-bad");
    expect_expand("192.0.2.3", "user@x.example.org", d, "%{o}/%{l}", "x.example.org/user");
    expect_expand("192.0.2.3", "x.example.org", d, "%{l}@%{o}|%{s}", "postmaster@x.example.org|"
                                                                    "postmaster@x.example.org");
    expect_expand("192.0.2.3", NULL, d, "%{s}", "postmaster@email.example.com");
    expect_expand("2001:db8::1", s, d, "%{v}", "ip6");

    struct mx_ip ip;
    char out[300];
    cr_assert(mx_ip_parse("192.0.2.3", &ip));
    struct mx_spf_macro_ctx c = {.ip = &ip, .sender = s, .domain = d};
    cr_expect(mx_spf_expand(&c, "%{h}", 4, out, sizeof out));
    cr_expect_str_eq(out, d); /* no HELO: the current domain */
    cr_expect(!mx_spf_expand(&c, "%{x}", 4, out, sizeof out));
    cr_expect(!mx_spf_expand(&c, "%{d}", 4, out, 5)); /* too small */

    /* domain-spec expansion: lowercase, no trailing dot, shortened to 253 */
    cr_expect(mx_spf_expand_domain(&c, "%{d}.EXAMPLE.net.", 17, out, sizeof out));
    cr_expect_str_eq(out, "email.example.com.example.net");
    char local[61], sender[400], spec[64];
    memset(local, 'a', 60);
    local[60] = 0;
    snprintf(sender, sizeof sender, "%s.%s.%s.%s.%s@x.example", local, local, local, local,
             local);
    struct mx_spf_macro_ctx c2 = {.ip = &ip, .sender = sender, .domain = d};
    snprintf(spec, sizeof spec, "%%{l}.%%{d}");
    cr_assert(mx_spf_expand_domain(&c2, spec, strlen(spec), out, sizeof out));
    cr_expect_leq(strlen(out), 253);
    cr_expect_eq(strlen(out), 4 * 61 - 1 + 1 + strlen(d) - 61);
    cr_expect(strstr(out, "email.example.com") != NULL);
    cr_expect(mx_spf_expand_domain(&c, "%_.example.com", 14, out, sizeof out));
    cr_expect_str_eq(out, " .example.com");
    cr_expect(!mx_spf_expand_domain(&c, "a..example.com", 14, out, sizeof out));
}

/* ---- static analysis ---- */

static void analyze(struct fake_dns *d, const char *domain, struct mx_spf_info *info,
                    unsigned *rounds)
{
    struct mx_oracle o = fake_dns_oracle(d);
    for (unsigned r = 1; r <= 64; r++) {
        bool done = mx_spf_analyze(&o, domain, info);
        cr_assert_eq(done, !info->pending);
        if (done) {
            if (rounds)
                *rounds = r;
            return;
        }
    }
    cr_assert_fail("mx_spf_analyze(%s) still pending after 64 rounds", domain);
}

static mx_findings_t analyze_zone(const char *zone, const char *domain, struct mx_spf_info *info)
{
    struct fake_dns *d = fake_dns_new(zone);
    analyze(d, domain, info, NULL);
    fake_dns_free(d);
    return info->findings;
}

#define F(x) MX_FBIT(MX_F_##x)

Test(spf, analyze_missing_and_failed)
{
    struct mx_spf_info info;
    cr_expect_eq(analyze_zone("example.test TXT google-site-verification=abc\n"
                              "example.test TXT v=spf10 -all\n",
                              "example.test", &info),
                 F(SPF_MISSING));
    cr_expect_eq(info.nrecords, 0);
    cr_expect(!info.parsed);
    cr_expect_eq(info.result, MX_SPF_NONE);
    cr_expect_eq(analyze_zone("other.test A 192.0.2.1\n", "example.test", &info), F(SPF_MISSING));
    cr_expect_eq(analyze_zone("example.test A 192.0.2.1\n", "example.test", &info), F(SPF_MISSING));

    cr_expect_eq(analyze_zone("example.test TXT !SERVFAIL\n", "example.test", &info), 0);
    cr_expect(info.txt_failed);
    cr_expect_eq(info.result, MX_SPF_TEMPERROR);
    cr_expect_eq(analyze_zone("example.test TXT !TIMEOUT\n", "example.test", &info), 0);
    cr_expect(info.txt_failed);
}

Test(spf, analyze_multiple_and_syntax)
{
    struct mx_spf_info info;
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 -all\n"
                              "example.test TXT v=spf1 include:nx.test -all\n",
                              "example.test", &info),
                 F(SPF_MULTIPLE));
    cr_expect_eq(info.nrecords, 2);
    cr_expect(!info.parsed);
    cr_expect_eq(info.lookups, 0); /* no further analysis */
    cr_expect_str_eq(info.record, "v=spf1 -all");

    cr_expect_eq(analyze_zone("example.test TXT v=spf1 ip4:192.0.2.300 -all\n", "example.test",
                              &info),
                 F(SPF_SYNTAX));
    cr_expect(!info.parsed);
    cr_expect_eq(info.nrecords, 1);
    cr_expect_str_eq(info.record, "v=spf1 ip4:192.0.2.300 -all");
    cr_expect(strstr(info.error, "ip4:192.0.2.300") != NULL, "%s", info.error);
    cr_expect_eq(info.result, MX_SPF_PERMERROR);

    /* redirect twice */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=a.test redirect=b.test\n",
                              "example.test", &info),
                 F(SPF_SYNTAX));
}

Test(spf, analyze_tree)
{
    struct mx_spf_info info;
    unsigned rounds;
    struct fake_dns *d = fake_dns_new("example.test TXT v=spf1 include:a.test include:b.test -all\n"
                                      "example.test MX 10 mx.example.test\n"
                                      "a.test TXT v=spf1 include:c.test ip4:192.0.2.0/24 ~all\n"
                                      "a.test TXT some other text\n"
                                      "b.test TXT v=spf1 a mx -all\n"
                                      "b.test A 192.0.2.7\n"
                                      "b.test MX 10 mx.b.test\n"
                                      "c.test TXT v=spf1 -all\n");
    analyze(d, "example.test", &info, &rounds);
    cr_expect_eq(info.findings, 0, "%llx", (unsigned long long)info.findings);
    cr_expect(info.parsed);
    cr_expect_eq(info.lookups, 5);
    cr_expect_eq(info.voids, 0);
    cr_expect_eq(info.n_includes, 3);
    cr_expect_str_eq(info.includes[0], "a.test");
    cr_expect_str_eq(info.includes[1], "c.test");
    cr_expect_str_eq(info.includes[2], "b.test");
    cr_expect_str_eq(info.all, "-all");
    cr_expect_eq(info.result, MX_SPF_NEUTRAL);
    /* both includes asked in the same pass: TXT, includes, their children */
    cr_expect_leq(rounds, 4);
    cr_expect(fake_dns_was_asked(d, "b.test", "AAAA"));
    fake_dns_free(d);
}

Test(spf, analyze_lookup_limit)
{
    struct mx_spf_info info;
    const char *base = "i1.test TXT v=spf1 a:h1.test a:h2.test a:h3.test a:h4.test -all\n"
                       "i2.test TXT v=spf1 mx:h1.test mx:h2.test mx:h3.test mx:h4.test -all\n"
                       "h1.test A 192.0.2.1\nh2.test A 192.0.2.2\nh3.test A 192.0.2.3\n"
                       "h4.test A 192.0.2.4\nh1.test MX 10 h1.test\nh2.test MX 10 h1.test\n"
                       "h3.test MX 10 h1.test\nh4.test MX 10 h1.test\n";
    char zone[2048];
    /* 2 + 4 + 4 = 10: at the limit */
    snprintf(zone, sizeof zone, "%sexample.test TXT v=spf1 include:i1.test include:i2.test -all\n",
             base);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), 0);
    cr_expect_eq(info.lookups, 10);
    /* one more (ptr counts, and so does a macro exists) */
    snprintf(zone, sizeof zone,
             "%sexample.test TXT v=spf1 include:i1.test include:i2.test ptr -all\n", base);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), F(SPF_LOOKUP_LIMIT));
    cr_expect_eq(info.lookups, 11);
    cr_expect_eq(info.result, MX_SPF_PERMERROR);
    snprintf(zone, sizeof zone,
             "%sexample.test TXT v=spf1 include:i1.test exists:%%{i}.x.test include:i2.test -all\n",
             base);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), F(SPF_LOOKUP_LIMIT));
    /* ip4/ip6/all/exp/unknown modifiers do not count */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 ip4:192.0.2.1 ip6:::1 x=y "
                              "exp=e.test -all\n",
                              "example.test", &info),
                 0);
    cr_expect_eq(info.lookups, 0);
}

Test(spf, analyze_stops_fetching_when_decided)
{
    char zone[4096];
    size_t o = 0;
    o += (size_t)snprintf(zone + o, sizeof zone - o, "example.test TXT v=spf1");
    for (int i = 1; i <= 15; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, " include:i%d.test", i);
    o += (size_t)snprintf(zone + o, sizeof zone - o, " -all\n");
    for (int i = 1; i <= 15; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, "i%d.test TXT v=spf1 -all\n", i);
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_spf_info info;
    analyze(d, "example.test", &info, NULL);
    cr_expect_eq(info.findings, F(SPF_LOOKUP_LIMIT));
    cr_expect_eq(info.lookups, 15);
    cr_expect(fake_dns_was_asked(d, "i10.test", "TXT"));
    cr_expect(!fake_dns_was_asked(d, "i12.test", "TXT"));
    /* names are still collected for provider attribution */
    cr_expect_eq(info.n_includes, 15);
    fake_dns_free(d);
}

Test(spf, analyze_loops)
{
    struct mx_spf_info info;
    cr_expect_eq(analyze_zone("a.test TXT v=spf1 include:b.test -all\n"
                              "b.test TXT v=spf1 include:a.test -all\n",
                              "a.test", &info),
                 F(SPF_LOOKUP_LIMIT));
    cr_expect(strstr(info.error, "loop") != NULL, "%s", info.error);
    cr_expect_eq(analyze_zone("a.test TXT v=spf1 include:a.test -all\n", "a.test", &info),
                 F(SPF_LOOKUP_LIMIT));
    cr_expect_eq(analyze_zone("a.test TXT v=spf1 redirect=b.test\n"
                              "b.test TXT v=spf1 redirect=A.test\n",
                              "a.test", &info),
                 F(SPF_LOOKUP_LIMIT));
    /* the same include twice (diamond) is no loop; counted each time */
    cr_expect_eq(analyze_zone("a.test TXT v=spf1 include:b.test include:c.test -all\n"
                              "b.test TXT v=spf1 include:d.test -all\n"
                              "c.test TXT v=spf1 include:d.test -all\n"
                              "d.test TXT v=spf1 ip4:192.0.2.1 -all\n",
                              "a.test", &info),
                 0);
    cr_expect_eq(info.lookups, 4);
    cr_expect_eq(info.n_includes, 3);
}

Test(spf, analyze_voids)
{
    struct mx_spf_info info;
    const char *hosts = "ok.test A 192.0.2.1\nnodata.test AAAA !NODATA\nnodata.test A !NODATA\n"
                        "v6.test AAAA 2001:db8::1\nnomx.test A 192.0.2.1\n";
    char zone[1024];
    snprintf(zone, sizeof zone, "%sexample.test TXT v=spf1 a:ok.test a:v6.test a:nx1.test "
                                "a:nodata.test -all\n", hosts);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), 0);
    cr_expect_eq(info.voids, 2);
    snprintf(zone, sizeof zone, "%sexample.test TXT v=spf1 a:nx1.test mx:nomx.test "
                                "exists:nx2.test -all\n", hosts);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), F(SPF_VOID_LIMIT));
    cr_expect_eq(info.voids, 3);
    cr_expect_eq(info.result, MX_SPF_PERMERROR);
    /* macro targets are not looked up and never void */
    snprintf(zone, sizeof zone, "%sexample.test TXT v=spf1 a:nx1.test exists:%%{i}.nx.test "
                                "a:%%{d}.nx.test mx:nx2.test -all\n", hosts);
    cr_expect_eq(analyze_zone(zone, "example.test", &info), 0);
    cr_expect_eq(info.voids, 2);
    cr_expect_eq(info.lookups, 4);
    /* the exchanges of mx are not checked: an exchange without address is no void */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 mx -all\n"
                              "example.test MX 10 nx1.test\nexample.test MX 20 nx2.test\n"
                              "example.test MX 30 nx3.test\n",
                              "example.test", &info),
                 0);
    /* a bare a/mx in an include targets the include's name */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:inc.test -all\n"
                              "inc.test TXT v=spf1 a mx exists:nx.test -all\n",
                              "example.test", &info),
                 F(SPF_VOID_LIMIT));
    cr_expect_eq(info.voids, 3);
    /* a failed look-up is not void */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 a:f.test a:nx1.test a:nx2.test -all\n"
                              "f.test A !SERVFAIL\nf.test AAAA !NODATA\n",
                              "example.test", &info),
                 0);
    cr_expect_eq(info.voids, 2);
}

Test(spf, analyze_include_broken)
{
    struct mx_spf_info info;
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:nx.test -all\n", "example.test",
                              &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(info.voids, 1);
    cr_expect_eq(info.result, MX_SPF_PERMERROR);
    cr_expect(strstr(info.error, "nx.test") != NULL, "%s", info.error);
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:t.test -all\n"
                              "t.test TXT hello\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(info.voids, 0);
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:t.test -all\n"
                              "t.test A 192.0.2.1\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(info.voids, 1);
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:t.test -all\n"
                              "t.test TXT !SERVFAIL\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(info.result, MX_SPF_TEMPERROR);
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:t.test -all\n"
                              "t.test TXT v=spf1 -all\nt.test TXT v=spf1 +all\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:t.test -all\n"
                              "t.test TXT v=spf1 bogus -all\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=nx.test\n", "example.test",
                              &info),
                 F(SPF_INCLUDE_BROKEN));
    /* nested */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:a.test -all\n"
                              "a.test TXT v=spf1 include:nx.test -all\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN));
    /* co-occurring: three missing includes */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 include:nx1.test include:nx2.test "
                              "include:nx3.test -all\n",
                              "example.test", &info),
                 F(SPF_INCLUDE_BROKEN) | F(SPF_VOID_LIMIT));
    cr_expect_eq(info.n_includes, 3);
}

Test(spf, analyze_redirect)
{
    struct mx_spf_info info;
    struct fake_dns *d = fake_dns_new("example.test TXT v=spf1 redirect=_spf.example.test\n"
                                      "_spf.example.test TXT v=spf1 ip4:192.0.2.0/24 -all\n");
    analyze(d, "example.test", &info, NULL);
    cr_expect_eq(info.findings, 0);
    cr_expect_eq(info.lookups, 1);
    cr_expect_eq(info.n_includes, 1);
    cr_expect_str_eq(info.includes[0], "_spf.example.test");
    cr_expect_str_eq(info.all, "-all");
    fake_dns_free(d);

    /* redirect ignored when the record has all: not counted, not followed */
    d = fake_dns_new("example.test TXT v=spf1 -all redirect=nx.test\n");
    analyze(d, "example.test", &info, NULL);
    cr_expect_eq(info.findings, 0);
    cr_expect_eq(info.lookups, 0);
    cr_expect(!fake_dns_was_asked(d, "nx.test", "TXT"));
    fake_dns_free(d);

    /* the effective all is the redirect target's */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=r.test\n"
                              "r.test TXT v=spf1 mx ?all\n",
                              "example.test", &info),
                 F(SPF_NO_ENFORCEMENT));
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=r.test\n"
                              "r.test TXT v=spf1 redirect=s.test\ns.test TXT v=spf1 +all\n",
                              "example.test", &info),
                 F(SPF_PASS_ALL));
    cr_expect_eq(info.lookups, 2);
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=r.test\n"
                              "r.test TXT v=spf1 ip4:192.0.2.1\n",
                              "example.test", &info),
                 F(SPF_NO_ENFORCEMENT));
    /* a macro redirect cannot be judged statically */
    cr_expect_eq(analyze_zone("example.test TXT v=spf1 redirect=%{d}.r.test\n", "example.test",
                              &info),
                 0);
    cr_expect_eq(info.lookups, 1);
    cr_expect_eq(info.n_includes, 0);
}

Test(spf, analyze_all_qualifiers)
{
    struct mx_spf_info info;
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 +all\n", "e.test", &info), F(SPF_PASS_ALL));
    cr_expect_str_eq(info.all, "+all");
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 all\n", "e.test", &info), F(SPF_PASS_ALL));
    cr_expect_eq(analyze_zone("e.test TXT V=SPF1 IP4:192.0.2.1 ALL\n", "e.test", &info),
                 F(SPF_PASS_ALL));
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 ?all\n", "e.test", &info),
                 F(SPF_NO_ENFORCEMENT));
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 ip4:192.0.2.1\n", "e.test", &info),
                 F(SPF_NO_ENFORCEMENT));
    cr_expect_str_eq(info.all, "");
    cr_expect_eq(analyze_zone("e.test TXT v=spf1\n", "e.test", &info), F(SPF_NO_ENFORCEMENT));
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 ~all\n", "e.test", &info), 0);
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 -all +all\n", "e.test", &info), 0);
    /* an included +all is the include's business, not the domain's */
    cr_expect_eq(analyze_zone("e.test TXT v=spf1 include:i.test -all\n"
                              "i.test TXT v=spf1 +all\n",
                              "e.test", &info),
                 0);
    /* record text is shown as published (joined strings), case kept */
    cr_expect_str_eq(info.record, "v=spf1 include:i.test -all");
}

Test(spf, analyze_lazy_terminates)
{
    /* every answer pending first: a deep tree still converges */
    struct fake_dns *d = fake_dns_new("e.test TXT v=spf1 include:a.test redirect=x.test\n"
                                      "a.test TXT v=spf1 include:b.test a mx exists:c.test\n"
                                      "b.test TXT v=spf1 include:c.test ~all\n"
                                      "c.test TXT v=spf1 a:h.test -all\n"
                                      "x.test TXT v=spf1 -all\n");
    struct mx_spf_info info;
    unsigned rounds;
    analyze(d, "e.test", &info, &rounds);
    cr_expect_leq(rounds, 6);
    cr_expect_eq(info.lookups, 8);
    /* h.test (a), a.test (a), a.test (mx); then decided: exists and redirect not fetched */
    cr_expect_eq(info.voids, 3);
    cr_expect_eq(info.findings, F(SPF_VOID_LIMIT));
    fake_dns_free(d);
}

/* ---- check_host ---- */

/* RFC 7208 Appendix A */
static const char *const rfc_zone = "example.com MX 10 mail-a.example.com\n"
                                    "example.com MX 20 mail-b.example.com\n"
                                    "example.com A 192.0.2.10\n"
                                    "example.com A 192.0.2.11\n"
                                    "amy.example.com A 192.0.2.65\n"
                                    "bob.example.com A 192.0.2.66\n"
                                    "mail-a.example.com A 192.0.2.129\n"
                                    "mail-b.example.com A 192.0.2.130\n"
                                    "www.example.com A 192.0.2.10\n"
                                    "example.org MX 10 mail-c.example.org\n"
                                    "mail-c.example.org A 192.0.2.140\n";

static enum mx_spf_result check_zone_rounds(const char *zone, const char *ipstr,
                                            const char *domain, const char *sender,
                                            struct mx_spf_trace *tr, unsigned *rounds)
{
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_ip ip;
    enum mx_spf_result r = MX_SPF_PENDING;
    cr_assert(mx_ip_parse(ipstr, &ip));
    unsigned n;
    for (n = 1; n <= 64 && r == MX_SPF_PENDING; n++)
        r = mx_spf_check_host(&o, &ip, domain, sender, NULL, tr);
    cr_assert_neq(r, MX_SPF_PENDING, "check_host still pending after 64 rounds");
    if (rounds)
        *rounds = n - 1;
    fake_dns_free(d);
    return r;
}

static enum mx_spf_result rfc(const char *record, const char *ipstr)
{
    char zone[2048];
    struct mx_spf_trace tr;
    snprintf(zone, sizeof zone, "%sexample.com TXT %s\n", rfc_zone, record);
    return check_zone_rounds(zone, ipstr, "example.com", "user@example.com", &tr, NULL);
}

#define EXPECT_RESULT(got, want)                                                                   \
    cr_expect_eq((got), (want), "%s: got %s, want %s", #got, mx_spf_result_name(got),              \
                 mx_spf_result_name(want))

Test(spf, check_host_rfc_appendix_a)
{
    EXPECT_RESULT(rfc("v=spf1 +all", "192.0.2.65"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 a -all", "192.0.2.10"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 a -all", "192.0.2.11"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 a -all", "192.0.2.65"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 a:example.org -all", "192.0.2.10"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 mx -all", "192.0.2.129"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx -all", "192.0.2.130"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx -all", "192.0.2.10"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 mx:example.org -all", "192.0.2.140"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx:example.org -all", "192.0.2.129"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 mx mx:example.org -all", "192.0.2.129"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx mx:example.org -all", "192.0.2.130"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx mx:example.org -all", "192.0.2.140"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.131"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.141"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.135"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 ptr -all", "192.0.2.65"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.129"), MX_SPF_PASS);
}

Test(spf, check_host_results)
{
    EXPECT_RESULT(rfc("v=spf1 a ~all", "192.0.2.65"), MX_SPF_SOFTFAIL);
    EXPECT_RESULT(rfc("v=spf1 a ?all", "192.0.2.65"), MX_SPF_NEUTRAL);
    EXPECT_RESULT(rfc("v=spf1 a", "192.0.2.65"), MX_SPF_NEUTRAL);
    EXPECT_RESULT(rfc("v=spf1 -a +all", "192.0.2.10"), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 ~a:amy.example.com -all", "192.0.2.65"), MX_SPF_SOFTFAIL);
    EXPECT_RESULT(rfc("v=spf1 bogus -all", "192.0.2.65"), MX_SPF_PERMERROR);
    EXPECT_RESULT(rfc("hello", "192.0.2.65"), MX_SPF_NONE);
    EXPECT_RESULT(rfc("v=spf1 -all exp=x.example.com foo=bar", "192.0.2.65"), MX_SPF_FAIL);

    struct mx_spf_trace tr;
    EXPECT_RESULT(check_zone_rounds("e.test TXT !SERVFAIL\n", "192.0.2.1", "e.test", NULL, &tr,
                                    NULL),
                  MX_SPF_TEMPERROR);
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 -all\ne.test TXT v=spf1 +all\n",
                                    "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PERMERROR);
    EXPECT_RESULT(check_zone_rounds("x.test A 192.0.2.1\n", "192.0.2.1", "e.test", NULL, &tr,
                                    NULL),
                  MX_SPF_NONE);
    /* a DNS error in a mechanism */
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 a:f.test -all\nf.test A !SERVFAIL\n",
                                    "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_TEMPERROR);
    cr_expect_str_eq(tr.term, "a:f.test");
    cr_expect(tr.explain[0]);
    /* ... but a match before it decides */
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 ip4:192.0.2.1 a:f.test -all\n"
                                    "f.test A !SERVFAIL\n",
                                    "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    cr_expect_str_eq(tr.term, "ip4:192.0.2.1");
    cr_expect_eq(tr.lookups, 0);
}

Test(spf, check_host_ipv6)
{
    const char *zone = "e.test TXT v=spf1 ip6:2001:db8:1::/48 a:h.test//64 mx -all\n"
                       "h.test AAAA 2001:db8:2::1\n"
                       "e.test MX 10 mx.e.test\nmx.e.test AAAA 2001:db8:3::25\n"
                       "mx.e.test A 192.0.2.25\n";
    struct mx_spf_trace tr;
    EXPECT_RESULT(check_zone_rounds(zone, "2001:db8:1::9", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "2001:db8:2::ffff", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    cr_expect_str_eq(tr.term, "a:h.test//64");
    EXPECT_RESULT(check_zone_rounds(zone, "2001:db8:2:1::1", "e.test", NULL, &tr, NULL),
                  MX_SPF_FAIL);
    EXPECT_RESULT(check_zone_rounds(zone, "2001:db8:3::25", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.25", "e.test", NULL, &tr, NULL), MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "::ffff:192.0.2.25", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.26", "e.test", NULL, &tr, NULL), MX_SPF_FAIL);
    EXPECT_RESULT(rfc("v=spf1 a/24 -all", "192.0.2.200"), MX_SPF_PASS);
    EXPECT_RESULT(rfc("v=spf1 a/24 -all", "198.51.100.1"), MX_SPF_FAIL);
}

Test(spf, check_host_include_semantics)
{
    const char *base = "pass.test TXT v=spf1 ip4:192.0.2.1 -all\n"
                       "soft.test TXT v=spf1 ~all\n"
                       "neutral.test TXT v=spf1 ?all\n"
                       "temp.test TXT !SERVFAIL\n"
                       "perm.test TXT v=spf1 include\n"
                       "none.test TXT nothing\n";
    char zone[2048];
    struct mx_spf_trace tr;
#define INC(rec, ip, want)                                                                         \
    do {                                                                                           \
        snprintf(zone, sizeof zone, "%se.test TXT %s\n", base, rec);                               \
        EXPECT_RESULT(check_zone_rounds(zone, ip, "e.test", NULL, &tr, NULL), want);                \
    } while (0)
    INC("v=spf1 include:pass.test -all", "192.0.2.1", MX_SPF_PASS);
    cr_expect_str_eq(tr.term, "include:pass.test");
    cr_expect_eq(tr.lookups, 1);
    INC("v=spf1 include:pass.test -all", "192.0.2.2", MX_SPF_FAIL);
    INC("v=spf1 -include:pass.test +all", "192.0.2.1", MX_SPF_FAIL);
    INC("v=spf1 include:soft.test include:neutral.test ip4:192.0.2.9 -all", "192.0.2.9",
        MX_SPF_PASS);
    INC("v=spf1 include:temp.test -all", "192.0.2.9", MX_SPF_TEMPERROR);
    INC("v=spf1 include:perm.test -all", "192.0.2.9", MX_SPF_PERMERROR);
    INC("v=spf1 include:none.test -all", "192.0.2.9", MX_SPF_PERMERROR);
    INC("v=spf1 include:nx.test -all", "192.0.2.9", MX_SPF_PERMERROR);
    cr_expect_eq(tr.voids, 1);
    INC("v=spf1 include:e.test -all", "192.0.2.9", MX_SPF_PERMERROR); /* loop: limit */
    cr_expect_eq(tr.lookups, 11);
    INC("v=spf1 redirect=pass.test", "192.0.2.1", MX_SPF_PASS);
    cr_expect_str_eq(tr.term, "ip4:192.0.2.1");
    INC("v=spf1 redirect=pass.test", "192.0.2.2", MX_SPF_FAIL);
    INC("v=spf1 ip4:192.0.2.3 redirect=pass.test", "192.0.2.3", MX_SPF_PASS);
    INC("v=spf1 redirect=neutral.test", "192.0.2.2", MX_SPF_NEUTRAL);
    INC("v=spf1 redirect=nx.test", "192.0.2.2", MX_SPF_PERMERROR);
    INC("v=spf1 redirect=none.test", "192.0.2.2", MX_SPF_PERMERROR);
    INC("v=spf1 ?all redirect=pass.test", "192.0.2.1", MX_SPF_NEUTRAL);
    INC("v=spf1 redirect=%{d}.x.test", "192.0.2.1", MX_SPF_PERMERROR);
    /* an expansion that is no domain (empty label): include permerror, a
     * no match, and nothing is looked up */
    INC("v=spf1 include:%{d}..x.test -all", "192.0.2.1", MX_SPF_PERMERROR);
    INC("v=spf1 a:%{d}..x.test ip4:192.0.2.1 -all", "192.0.2.1", MX_SPF_PASS);
    cr_expect_eq(tr.lookups, 1);
    cr_expect_eq(tr.voids, 0);
    /* %_ is a space: a name like any other, looked up (here void) */
    INC("v=spf1 include:%_.x.test -all", "192.0.2.1", MX_SPF_PERMERROR);
    INC("v=spf1 a:%_.x.test ip4:192.0.2.1 -all", "192.0.2.1", MX_SPF_PASS);
    cr_expect_eq(tr.lookups, 1);
    cr_expect_eq(tr.voids, 1);
#undef INC
}

Test(spf, check_host_limits)
{
    char zone[4096];
    struct mx_spf_trace tr;
    size_t o = 0;
    /* 10 non-matching a mechanisms, then -all: fail; 11: permerror */
    for (int i = 0; i < 11; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, "h%d.test A 198.51.100.%d\n", i, i);
    size_t base = o;
    o += (size_t)snprintf(zone + o, sizeof zone - o, "e.test TXT v=spf1");
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, " a:h%d.test", i);
    snprintf(zone + o, sizeof zone - o, " -all\n");
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", NULL, &tr, NULL), MX_SPF_FAIL);
    cr_expect_eq(tr.lookups, 10);
    snprintf(zone + o, sizeof zone - o, " a:h10.test -all\n");
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PERMERROR);
    cr_expect(strstr(tr.explain, "10") != NULL, "%s", tr.explain);
    /* ... but a match before the 11th term decides */
    snprintf(zone + o, sizeof zone - o, " a:h10.test -all\n");
    EXPECT_RESULT(check_zone_rounds(zone, "198.51.100.9", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);

    /* void look-ups: 2 are fine, the third is permerror */
    o = base;
    snprintf(zone + o, sizeof zone - o, "e.test TXT v=spf1 a:nx1.test mx:nx2.test -all\n");
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", NULL, &tr, NULL), MX_SPF_FAIL);
    cr_expect_eq(tr.voids, 2);
    snprintf(zone + o, sizeof zone - o,
             "e.test TXT v=spf1 a:nx1.test mx:nx2.test exists:nx3.test -all\n");
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PERMERROR);
    cr_expect_eq(tr.voids, 3);

    /* more than 10 exchanges */
    o = base;
    o += (size_t)snprintf(zone + o, sizeof zone - o, "e.test TXT v=spf1 mx -all\n");
    for (int i = 0; i < 11; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, "e.test MX %d h%d.test\n", i, i);
    EXPECT_RESULT(check_zone_rounds(zone, "198.51.100.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PERMERROR);
}

Test(spf, check_host_macros)
{
    const char *zone = "e.test TXT v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all\n"
                       "1.2.0.192.bob._spf.e.test A 127.0.0.2\n";
    struct mx_spf_trace tr;
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", "bob@e.test", &tr, NULL),
                  MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", "alice@e.test", &tr, NULL),
                  MX_SPF_FAIL);
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.1", "e.test", "bob+tag@e.test", &tr, NULL),
                  MX_SPF_PASS);
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.2", "e.test", "bob@e.test", &tr, NULL),
                  MX_SPF_FAIL);
    /* postmaster is the default sender */
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 exists:%{l}.%{o}.x.test -all\n"
                                    "postmaster.e.test.x.test A 127.0.0.2\n",
                                    "192.0.2.1", "E.Test.", NULL, &tr, NULL),
                  MX_SPF_PASS);
    /* %{d} in an include is the included domain */
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 include:i.test -all\n"
                                    "i.test TXT v=spf1 a:%{d}.x.test -all\n"
                                    "i.test.x.test A 192.0.2.1\n",
                                    "192.0.2.1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
    /* exists uses A even for an IPv6 client */
    EXPECT_RESULT(check_zone_rounds("e.test TXT v=spf1 exists:%{v}.x.test -all\n"
                                    "ip6.x.test A 127.0.0.2\n",
                                    "2001:db8::1", "e.test", NULL, &tr, NULL),
                  MX_SPF_PASS);
}

Test(spf, check_host_rounds)
{
    /* includes of one record are fetched in the same pass */
    const char *zone = "e.test TXT v=spf1 include:a.test include:b.test include:c.test -all\n"
                       "a.test TXT v=spf1 a:ha.test -all\n"
                       "b.test TXT v=spf1 a:hb.test -all\n"
                       "c.test TXT v=spf1 ip4:192.0.2.3 -all\n"
                       "ha.test A 198.51.100.1\nhb.test A 198.51.100.2\n";
    struct mx_spf_trace tr;
    unsigned rounds;
    EXPECT_RESULT(check_zone_rounds(zone, "192.0.2.3", "e.test", NULL, &tr, &rounds),
                  MX_SPF_PASS);
    cr_expect_leq(rounds, 4);
    cr_expect_eq(tr.lookups, 5);
    cr_expect_str_eq(tr.term, "include:c.test");
}

Test(spf, result_names)
{
    cr_expect_str_eq(mx_spf_result_name(MX_SPF_PASS), "pass");
    cr_expect_str_eq(mx_spf_result_name(MX_SPF_SOFTFAIL), "softfail");
    cr_expect_str_eq(mx_spf_result_name(MX_SPF_PERMERROR), "permerror");
    cr_expect_str_eq(mx_spf_result_name(MX_SPF_NONE), "none");
}
