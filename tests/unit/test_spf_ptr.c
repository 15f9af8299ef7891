/* SPF check_host: the ptr mechanism and %{p} (RFC 7208 5.5, 7.3), the exp=
 * explanation (6.2) and malformed identities (4.3), against the table DNS
 * with every answer pending first (the scanner's re-run protocol). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/spf.h"

struct run {
    enum mx_spf_result r;
    struct mx_spf_trace tr;
    unsigned asked;  /* distinct (name, type) asked */
    bool asked_exp;  /* the explanation's TXT was asked */
    bool asked_name; /* the name given to checked() was asked (type A) */
};

#define T_NOW 1700000000

/* check_host (explain: the `mxscan spf` variant) until it is done. */
static struct run checked(const char *zone, const char *ipstr, const char *domain,
                          const char *sender, bool explain, const char *probe)
{
    struct run out;
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_ip ip;
    memset(&out, 0, sizeof out);
    out.r = MX_SPF_PENDING;
    cr_assert(mx_ip_parse(ipstr, &ip), "%s", ipstr);
    for (int n = 0; n < 64 && out.r == MX_SPF_PENDING; n++)
        out.r = explain ? mx_spf_check_host_explain(&o, &ip, domain, sender, NULL, T_NOW, &out.tr)
                        : mx_spf_check_host(&o, &ip, domain, sender, NULL, &out.tr);
    cr_assert_neq(out.r, MX_SPF_PENDING, "still pending after 64 rounds");
    out.asked = fake_dns_asked_count(d);
    out.asked_exp = fake_dns_was_asked(d, "exp.e.test", "TXT");
    out.asked_name = probe && fake_dns_was_asked(d, probe, "A");
    fake_dns_free(d);
    return out;
}

static enum mx_spf_result check(const char *zone, const char *ipstr, const char *domain)
{
    return checked(zone, ipstr, domain, NULL, false, NULL).r;
}

#define EXPECT_RESULT(got, want)                                                                   \
    cr_expect_eq((got), (want), "%s: got %s, want %s", #got, mx_spf_result_name(got),              \
                 mx_spf_result_name(want))

/* ---- ptr ---- */

static const char *const ptr_zone =
    "e.test TXT v=spf1 ptr -all\n"
    "t.test TXT v=spf1 ptr:example.test -all\n"
    "c.test TXT v=spf1 ptr:Example.TEST -all\n"
    /* 192.0.2.3: two names, both validated */
    "3.2.0.192.in-addr.arpa PTR mail.e.test\n"
    "3.2.0.192.in-addr.arpa PTR other.example.test\n"
    "mail.e.test A 192.0.2.3\n"
    "other.example.test A 192.0.2.3\n"
    /* 192.0.2.4: the name does not lead back to the address */
    "4.2.0.192.in-addr.arpa PTR mail.e.test\n"
    /* 192.0.2.5: the name itself, and a look-alike outside the target */
    "5.2.0.192.in-addr.arpa PTR badexample.test\n"
    "5.2.0.192.in-addr.arpa PTR example.test\n"
    "badexample.test A 192.0.2.5\n"
    "example.test A 192.0.2.5\n"
    /* 192.0.2.6: PTR look-up fails; 192.0.2.7: validation fails, then a good one */
    "6.2.0.192.in-addr.arpa PTR !SERVFAIL\n"
    "7.2.0.192.in-addr.arpa PTR broken.e.test\n"
    "7.2.0.192.in-addr.arpa PTR mx.e.test\n"
    "broken.e.test A !SERVFAIL\n"
    "mx.e.test A 192.0.2.7\n"
    /* IPv6 */
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.e.test\n"
    "v6.e.test AAAA 2001:db8::1\n"
    "v6.e.test A 192.0.2.1\n";

Test(spf_ptr, mechanism)
{
    EXPECT_RESULT(check(ptr_zone, "192.0.2.3", "e.test"), MX_SPF_PASS);  /* implicit target */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.3", "t.test"), MX_SPF_PASS);  /* below the target */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.3", "c.test"), MX_SPF_PASS);  /* case-insensitive */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.4", "e.test"), MX_SPF_FAIL);  /* not validated */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.5", "t.test"), MX_SPF_PASS);  /* the target itself */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.5", "e.test"), MX_SPF_FAIL);  /* names elsewhere */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.9", "e.test"), MX_SPF_FAIL);  /* no PTR */
    /* a failed PTR look-up: no match, not temperror (5.5) */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.6", "e.test"), MX_SPF_FAIL);
    /* a failed address look-up skips that name, the next one validates */
    EXPECT_RESULT(check(ptr_zone, "192.0.2.7", "e.test"), MX_SPF_PASS);
    /* IPv6 client: nibbles under ip6.arpa, validated by AAAA; an IPv4-mapped
     * client is IPv4 (in-addr.arpa, A) */
    EXPECT_RESULT(check(ptr_zone, "2001:db8::1", "e.test"), MX_SPF_PASS);
    EXPECT_RESULT(check(ptr_zone, "2001:db8::2", "e.test"), MX_SPF_FAIL);
    EXPECT_RESULT(check(ptr_zone, "::ffff:192.0.2.3", "e.test"), MX_SPF_PASS);
}

Test(spf_ptr, boundary_and_lookups)
{
    /* "badexample.test" is not below "example.test": 192.0.2.5 gets pass
     * from the exact name only */
    const char *zone = "t.test TXT v=spf1 ptr:example.test -all\n"
                       "5.2.0.192.in-addr.arpa PTR badexample.test\n"
                       "badexample.test A 192.0.2.5\n";
    struct run r = checked(zone, "192.0.2.5", "t.test", NULL, false, "badexample.test");
    EXPECT_RESULT(r.r, MX_SPF_FAIL);
    /* a name outside the target is not even validated */
    cr_expect(!r.asked_name);
    /* ptr is one DNS-querying term; a PTR that is missing is no void look-up */
    cr_expect_eq(r.tr.lookups, 1);
    cr_expect_eq(r.tr.voids, 0);
    r = checked("e.test TXT v=spf1 ptr ptr ptr -all\n", "192.0.2.5", "e.test", NULL, false, NULL);
    EXPECT_RESULT(r.r, MX_SPF_FAIL);
    cr_expect_eq(r.tr.voids, 0);
    cr_expect_eq(r.tr.lookups, 3);
}

/* At most 10 PTR names are followed (4.6.4): the 11th is ignored. */
Test(spf_ptr, ten_names)
{
    char zone[4096];
    size_t o = (size_t)snprintf(zone, sizeof zone, "e.test TXT v=spf1 ptr -all\n");
    for (int i = 1; i <= 11; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o,
                              "5.3.2.1.in-addr.arpa PTR h%d.e.test\nh%d.e.test A %s\n", i, i,
                              i == 11 ? "1.2.3.5" : "192.0.2.99");
    EXPECT_RESULT(check(zone, "1.2.3.5", "e.test"), MX_SPF_FAIL);
    /* the same name 10th instead of 11th: followed */
    o = (size_t)snprintf(zone, sizeof zone, "e.test TXT v=spf1 ptr -all\n");
    for (int i = 1; i <= 11; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o,
                              "5.3.2.1.in-addr.arpa PTR h%d.e.test\nh%d.e.test A %s\n", i, i,
                              i == 10 ? "1.2.3.5" : "192.0.2.99");
    EXPECT_RESULT(check(zone, "1.2.3.5", "e.test"), MX_SPF_PASS);
}

/* ptr counts among the 10 DNS-querying terms (4.6.4). */
Test(spf_ptr, counts_as_lookup)
{
    char zone[2048];
    size_t o = (size_t)snprintf(zone, sizeof zone, "e.test TXT v=spf1");
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(zone + o, sizeof zone - o, " a:h%d.e.test", i);
    snprintf(zone + o, sizeof zone - o,
             " ptr -all\n3.2.0.192.in-addr.arpa PTR e.test\ne.test A 192.0.2.3\n");
    for (int i = 0; i < 10; i++) {
        char line[64];
        snprintf(line, sizeof line, "h%d.e.test A 198.51.100.%d\n", i, i);
        strncat(zone, line, sizeof zone - strlen(zone) - 1);
    }
    struct run r = checked(zone, "192.0.2.3", "e.test", NULL, false, NULL);
    EXPECT_RESULT(r.r, MX_SPF_PERMERROR);
    cr_expect_eq(r.tr.lookups, 11);
    cr_expect_str_eq(r.tr.term, "ptr");
}

/* A redirect to a record with ptr terms (the case the suite met). */
Test(spf_ptr, through_redirect)
{
    const char *zone = "example.org TXT v=spf1 mx redirect=_spf.example.com\n"
                       "example.org MX 10 smtp.example.org\n"
                       "smtp.example.org AAAA 2001:db8:ff0:100::3\n"
                       "_spf.example.com TXT v=spf1 ptr:fe.example.org ptr:sgp.example.com -all\n"
                       "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.f.f.0.8.b.d.0.1.0.0.2.ip6.arpa "
                       "PTR smtp6-v.fe.example.org\n"
                       "smtp6-v.fe.example.org AAAA 2001:db8:ff0:100::2\n";
    EXPECT_RESULT(check(zone, "2001:db8:ff0:100::2", "example.org"), MX_SPF_PASS);
    EXPECT_RESULT(check(zone, "2001:db8:ff0:100::3", "example.org"), MX_SPF_PASS);
    EXPECT_RESULT(check(zone, "2001:db8:ff0:100::4", "example.org"), MX_SPF_FAIL);
}

/* ---- %{p} ---- */

Test(spf_ptr, p_macro)
{
    const char *ptrs = "e.test TXT v=spf1 exists:%{p}.ok.test -all\n"
                       /* .1: a name elsewhere first, then one below e.test */
                       "1.2.0.192.in-addr.arpa PTR first.other.test\n"
                       "1.2.0.192.in-addr.arpa PTR mx.e.test\n"
                       "first.other.test A 192.0.2.1\n"
                       "mx.e.test A 192.0.2.1\n"
                       /* .2: a name below e.test, then e.test itself */
                       "2.2.0.192.in-addr.arpa PTR mx.e.test\n"
                       "2.2.0.192.in-addr.arpa PTR e.test\n"
                       "e.test A 192.0.2.2\n"
                       "mx.e.test A 192.0.2.2\n"
                       /* .3: two names elsewhere: the first in answer order */
                       "3.2.0.192.in-addr.arpa PTR first.other.test\n"
                       "3.2.0.192.in-addr.arpa PTR second.other.test\n"
                       "first.other.test A 192.0.2.3\n"
                       "second.other.test A 192.0.2.3\n"
                       /* .5: a name that does not validate */
                       "5.2.0.192.in-addr.arpa PTR mx.e.test\n"
                       /* .6: the PTR look-up fails */
                       "6.2.0.192.in-addr.arpa PTR !SERVFAIL\n";
    static const struct {
        const char *ip, *p; /* the client, the value %{p} must take */
    } t[] = {
        {"192.0.2.1", "mx.e.test"},        {"192.0.2.2", "e.test"},
        {"192.0.2.3", "first.other.test"}, {"192.0.2.4", "unknown"}, /* no PTR */
        {"192.0.2.5", "unknown"},          {"192.0.2.6", "unknown"},
    };
    char z[4096];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        /* only <the expected value>.ok.test exists: pass iff %{p} took it */
        snprintf(z, sizeof z, "%s%s.ok.test A 127.0.0.2\n", ptrs, t[i].p);
        EXPECT_RESULT(check(z, t[i].ip, "e.test"), MX_SPF_PASS);
        for (size_t j = 0; j < sizeof t / sizeof t[0]; j++)
            if (strcmp(t[j].p, t[i].p) != 0) {
                snprintf(z, sizeof z, "%s%s.ok.test A 127.0.0.2\n", ptrs, t[j].p);
                EXPECT_RESULT(check(z, t[i].ip, "e.test"), MX_SPF_FAIL);
            }
    }
    /* %{p} in a mechanism is no extra DNS-querying term */
    snprintf(z, sizeof z, "%smx.e.test.ok.test A 127.0.0.2\n", ptrs);
    struct run r = checked(z, "192.0.2.1", "e.test", NULL, false, NULL);
    cr_expect_eq(r.tr.lookups, 1);
}

/* The suite's p-macro-multiple: both names validate, the one below the
 * domain is chosen (pass; softfail would also conform). */
Test(spf_ptr, p_macro_multiple)
{
    const char *zone = "e7.example.com TXT v=spf1 exists:%{p}.should.example.com "
                       "~exists:%{p}.ok.example.com\n"
                       "42.218.168.192.in-addr.arpa PTR mx.example.com\n"
                       "42.218.168.192.in-addr.arpa PTR mx.e7.example.com\n"
                       "mx.example.com A 192.168.218.42\n"
                       "mx.e7.example.com A 192.168.218.42\n"
                       "mx.e7.example.com.should.example.com A 127.0.0.2\n"
                       "mx.example.com.ok.example.com A 127.0.0.2\n";
    EXPECT_RESULT(check(zone, "192.168.218.42", "e7.example.com"), MX_SPF_PASS);
}

/* ---- exp= (6.2) ---- */

static const char *const exp_zone =
    "e.test TXT v=spf1 ip4:192.0.2.1 ~ip4:192.0.2.2 -all exp=exp.e.test\n"
    "exp.e.test TXT %{i} is not one of %{d}'s senders (%{l}, c=%{c} r=%{r} t=%{t})\n"
    "n.test TXT v=spf1 -all\n"
    "inc.test TXT v=spf1 include:e.test -all exp=incexp.e.test\n"
    "incexp.e.test TXT Correct!\n"
    "red.test TXT v=spf1 exp=exp.e.test redirect=n.test\n"
    "red2.test TXT v=spf1 exp=no.e.test redirect=e.test\n"
    "no.e.test TXT No-see-um\n"
    "two.test TXT v=spf1 -all exp=two.e.test\n"
    "two.e.test TXT one\n"
    "two.e.test TXT two\n"
    "sf.test TXT v=spf1 -all exp=sf.e.test\n"
    "sf.e.test TXT !SERVFAIL\n"
    "nx.test TXT v=spf1 -all exp=nx.e.test\n"
    "bad.test TXT v=spf1 -all exp=bad.e.test\n"
    "bad.e.test TXT The %{x}-files.\n"
    "mac.test TXT v=spf1 -all exp=%{l}.%{d2}\n"
    "bob.mac.test TXT Hello %{L}\n"
    "p.test TXT v=spf1 -all exp=p.e.test\n"
    "p.e.test TXT connect from %{p}\n"
    "3.2.0.192.in-addr.arpa PTR mx.p.test\n"
    "mx.p.test A 192.0.2.3\n";

static void expect_exp(const char *domain, const char *ip, const char *sender,
                       enum mx_spf_result want, const char *text)
{
    struct run r = checked(exp_zone, ip, domain, sender, true, NULL);
    EXPECT_RESULT(r.r, want);
    cr_expect_str_eq(r.tr.explanation, text, "%s for %s", domain, ip);
}

Test(spf_exp, explanations)
{
    expect_exp("e.test", "192.0.2.9", NULL, MX_SPF_FAIL,
               "192.0.2.9 is not one of e.test's senders (postmaster, c=192.0.2.9 r=unknown "
               "t=1700000000)");
    expect_exp("e.test", "192.0.2.9", "bob@x.test", MX_SPF_FAIL,
               "192.0.2.9 is not one of e.test's senders (bob, c=192.0.2.9 r=unknown "
               "t=1700000000)");
    /* only on fail */
    expect_exp("e.test", "192.0.2.1", NULL, MX_SPF_PASS, "");
    expect_exp("e.test", "192.0.2.2", NULL, MX_SPF_SOFTFAIL, "");
    /* include ignores the included record's exp; the including one's applies */
    expect_exp("inc.test", "192.0.2.9", NULL, MX_SPF_FAIL, "Correct!");
    /* redirect: the exp of the record that failed, not of the one redirecting */
    expect_exp("red.test", "192.0.2.9", NULL, MX_SPF_FAIL, "");
    expect_exp("red2.test", "192.0.2.9", NULL, MX_SPF_FAIL,
               "192.0.2.9 is not one of e.test's senders (postmaster, c=192.0.2.9 r=unknown "
               "t=1700000000)");
    /* ignored: two TXT records, a failed or empty look-up, a syntax error */
    expect_exp("two.test", "192.0.2.9", NULL, MX_SPF_FAIL, "");
    expect_exp("sf.test", "192.0.2.9", NULL, MX_SPF_FAIL, "");
    expect_exp("nx.test", "192.0.2.9", NULL, MX_SPF_FAIL, "");
    expect_exp("bad.test", "192.0.2.9", NULL, MX_SPF_FAIL, "");
    /* macros in the exp domain-spec and upper-case macros in the text */
    expect_exp("mac.test", "192.0.2.9", "bob@mac.test", MX_SPF_FAIL, "Hello bob");
    /* %{p} in the text */
    expect_exp("p.test", "192.0.2.3", NULL, MX_SPF_FAIL, "connect from mx.p.test");
    expect_exp("p.test", "192.0.2.4", NULL, MX_SPF_FAIL, "connect from unknown");
}

/* A scan never fetches explanations; the exp look-up is no void and no term. */
Test(spf_exp, only_when_asked)
{
    struct run r = checked(exp_zone, "192.0.2.9", "e.test", NULL, false, NULL);
    EXPECT_RESULT(r.r, MX_SPF_FAIL);
    cr_expect(!r.asked_exp);
    cr_expect_str_eq(r.tr.explanation, "");
    r = checked(exp_zone, "192.0.2.9", "e.test", NULL, true, NULL);
    cr_expect(r.asked_exp);
    cr_expect_eq(r.tr.lookups, 0);
    cr_expect_eq(r.tr.voids, 0);
    r = checked(exp_zone, "192.0.2.9", "nx.test", NULL, true, NULL);
    cr_expect_eq(r.tr.voids, 0);
}

/* ---- malformed identities (4.3) ---- */

Test(spf_identity, domain_ok)
{
    static const char *const good[] = {
        "example.com", "_spf.example.com", "a.b", "xn--bcher-kva.test", "1.2.3.example",
        "a-.b-.test", "123.example.com1",
    };
    static const char *const bad[] = {
        "", "example", "a2345678", ".example.com", "example..com", "a...example.com",
        "[1.2.3.5]", "[ipv6:2001:db8::1]", "1.2.3.5", "192.0.2.1",
        "a123456789012345678901234567890123456789012345678901234567890123.example.com",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(mx_spf_domain_ok(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!mx_spf_domain_ok(bad[i]), "%s", bad[i]);
    /* 253 octets are a name, 254 are not */
    char n[300];
    size_t o = 0;
    for (int i = 0; i < 4; i++)
        o += (size_t)snprintf(n + o, sizeof n - o, "%062d.", i);
    snprintf(n + o, sizeof n - o, "ab");
    cr_expect_eq(strlen(n), 254);
    cr_expect(!mx_spf_domain_ok(n));
    n[253] = 0;
    cr_expect(mx_spf_domain_ok(n));
}

Test(spf_identity, check_host_none_without_lookups)
{
    static const char *const bad[] = {
        "[1.2.3.5]", "A2345678", "A...example.com", "1.2.3.5",
        "A123456789012345678901234567890123456789012345678901234567890123.example.com",
    };
    const char *zone = "a2345678 TXT v=spf1 -all\n1.2.3.5 TXT v=spf1 -all\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r = checked(zone, "1.2.3.5", bad[i], NULL, true, NULL);
        EXPECT_RESULT(r.r, MX_SPF_NONE);
        cr_expect_eq(r.asked, 0, "%s: nothing may be looked up", bad[i]);
        cr_expect(strstr(r.tr.explain, "4.3") != NULL, "%s: %s", bad[i], r.tr.explain);
    }
    /* the 63-octet label is fine */
    struct run r =
        checked("a12345678901234567890123456789012345678901234567890123456789012.example.com "
                "TXT v=spf1 -all\n",
                "1.2.3.5", "A12345678901234567890123456789012345678901234567890123456789012.example.com",
                NULL, true, NULL);
    EXPECT_RESULT(r.r, MX_SPF_FAIL);
}
