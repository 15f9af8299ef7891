/* SPF macros (RFC 7208 section 7) as tables: every macro letter, the
 * transformers (digits, r), every delimiter, URL escaping, the %% %_ %-
 * escapes, where c r t may appear, and domain-spec expansion. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helper_oracle.h"
#include "mx/spf.h"

struct row {
    const char *ip;     /* <ip> */
    const char *sender; /* <sender>, NULL: none given */
    const char *spec;   /* the macro-string */
    const char *want;   /* NULL: expansion must fail */
};

/* The context of RFC 7208 7.4's examples, with %{h}, %{p}, %{r}, %{t} fixed. */
#define RFC_SENDER "strong-bad@email.example.com"
#define RFC_DOMAIN "email.example.com"

static void run_rows(const struct row *rows, size_t n, const char *ptr, const char *receiver)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        struct mx_ip ip;
        char out[600];
        cr_assert(mx_ip_parse(r->ip, &ip), "row %zu: bad ip %s", i, r->ip);
        struct mx_spf_macro_ctx c = {.ip = &ip,
                                     .sender = r->sender,
                                     .domain = RFC_DOMAIN,
                                     .helo = "mx.example.org",
                                     .ptr = ptr,
                                     .receiver = receiver,
                                     .now = 1700000000};
        bool ok = mx_spf_expand(&c, r->spec, strlen(r->spec), out, sizeof out);
        if (!r->want) {
            cr_expect(!ok, "'%s' should not expand (got '%s')", r->spec, out);
            continue;
        }
        cr_expect(ok, "'%s' does not expand", r->spec);
        if (ok)
            cr_expect_str_eq(out, r->want, "'%s' (sender %s, ip %s)", r->spec,
                             r->sender ? r->sender : "none", r->ip);
    }
}

#define ROWS(t) t, sizeof t / sizeof t[0]

/* Every letter: s l o d i p v h, and c r t (explanations only). */
Test(spf_macro, letters)
{
    static const struct row rows[] = {
        {"192.0.2.3", RFC_SENDER, "%{s}", RFC_SENDER},
        {"192.0.2.3", RFC_SENDER, "%{l}", "strong-bad"},
        {"192.0.2.3", RFC_SENDER, "%{o}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{i}", "192.0.2.3"},
        {"192.0.2.3", RFC_SENDER, "%{p}", "mx.email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{v}", "in-addr"},
        {"192.0.2.3", RFC_SENDER, "%{h}", "mx.example.org"},
        {"192.0.2.3", RFC_SENDER, "%{c}", "192.0.2.3"},
        {"192.0.2.3", RFC_SENDER, "%{r}", "receiver.example.net"},
        {"192.0.2.3", RFC_SENDER, "%{t}", "1700000000"},
        /* IPv6: i is the nibble form (upper case as in 7.4), c the RFC 5952 form */
        {"2001:db8::cb01", RFC_SENDER, "%{i}",
         "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1"},
        {"2001:db8::cb01", RFC_SENDER, "%{c}", "2001:db8::cb01"},
        {"2001:db8::cb01", RFC_SENDER, "%{v}", "ip6"},
        /* upper-case letters give the same value (URL-escaped, 7.3) */
        {"192.0.2.3", RFC_SENDER, "%{D}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{V}.%{H}", "in-addr.mx.example.org"},
        /* 4.3: no local-part: "postmaster"; no sender: the domain's postmaster */
        {"192.0.2.3", "@example.net", "%{l}|%{o}|%{s}",
         "postmaster|example.net|postmaster@example.net"},
        {"192.0.2.3", "example.net", "%{l}|%{o}|%{s}",
         "postmaster|example.net|postmaster@example.net"},
        {"192.0.2.3", NULL, "%{l}|%{o}|%{s}",
         "postmaster|email.example.com|postmaster@email.example.com"},
        /* the last @ separates the local-part (which may hold spaces) */
        {"192.0.2.3", "Macro Error@e8.example.com", "%{l} in implementation",
         "Macro Error in implementation"},
        {"192.0.2.3", "a@b@c.example.com", "%{l}|%{o}", "a@b|c.example.com"},
        /* unknown letters */
        {"192.0.2.3", RFC_SENDER, "%{a}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{x}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{}", NULL},
    };
    run_rows(ROWS(rows), "mx.email.example.com", "receiver.example.net");
}

Test(spf_macro, p_and_r_unknown)
{
    static const struct row rows[] = {
        {"192.0.2.3", RFC_SENDER, "%{p}", "unknown"},
        {"192.0.2.3", RFC_SENDER, "%{r}", "unknown"},
        {"192.0.2.3", RFC_SENDER, "%{p2}.%{pr}", "unknown.unknown"},
    };
    run_rows(ROWS(rows), NULL, NULL);
}

/* Transformers: DIGIT (right-hand parts, after reversal, nonzero), r. */
Test(spf_macro, transformers)
{
    static const struct row rows[] = {
        /* RFC 7208 7.4 */
        {"192.0.2.3", RFC_SENDER, "%{d4}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d3}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d2}", "example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d1}", "com"},
        {"192.0.2.3", RFC_SENDER, "%{dr}", "com.example.email"},
        {"192.0.2.3", RFC_SENDER, "%{d2r}", "example.email"},
        {"192.0.2.3", RFC_SENDER, "%{l}", "strong-bad"},
        {"192.0.2.3", RFC_SENDER, "%{l-}", "strong.bad"},
        {"192.0.2.3", RFC_SENDER, "%{lr}", "strong-bad"},
        {"192.0.2.3", RFC_SENDER, "%{lr-}", "bad.strong"},
        {"192.0.2.3", RFC_SENDER, "%{l1r-}", "strong"},
        {"192.0.2.3", RFC_SENDER, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
         "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
         "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d2}.trusted-domains.example.net",
         "example.com.trusted-domains.example.net"},
        {"2001:db8::cb01", RFC_SENDER, "%{ir}.%{v}._spf.%{d2}",
         "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"},
        /* more parts than there are: all of them; digits go on (no cap at 9) */
        {"192.0.2.3", RFC_SENDER, "%{d9}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d12}", "email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{d1r}", "email"},
        {"192.0.2.3", RFC_SENDER, "%{i2}", "2.3"},
        {"192.0.2.3", RFC_SENDER, "%{i2r}", "0.192"},
        {"192.0.2.3", RFC_SENDER, "%{DR}", "com.example.email"},
        /* zero, or in the wrong order: syntax errors */
        {"192.0.2.3", RFC_SENDER, "%{d0}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{d00}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{dr2}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{d-2}", NULL},
        {"192.0.2.3", RFC_SENDER, "%{d2rr}", NULL},
    };
    run_rows(ROWS(rows), NULL, NULL);
}

/* Every delimiter of "." "-" "+" "," "/" "_" "=", alone and together; the
 * parts are joined with "." whatever split them. */
Test(spf_macro, delimiters)
{
    static const char *const s = "a.b-c+d,e/f_g=h@x.example.com";
    static const struct row rows[] = {
        {"192.0.2.3", s, "%{l}", "a.b-c+d,e/f_g=h"},
        {"192.0.2.3", s, "%{l.}", "a.b-c+d,e/f_g=h"},
        {"192.0.2.3", s, "%{l-}", "a.b.c+d,e/f_g=h"},
        {"192.0.2.3", s, "%{l+}", "a.b-c.d,e/f_g=h"},
        {"192.0.2.3", s, "%{l,}", "a.b-c+d.e/f_g=h"},
        {"192.0.2.3", s, "%{l/}", "a.b-c+d,e.f_g=h"},
        {"192.0.2.3", s, "%{l_}", "a.b-c+d,e/f.g=h"},
        {"192.0.2.3", s, "%{l=}", "a.b-c+d,e/f_g.h"},
        {"192.0.2.3", s, "%{l.-+,/_=}", "a.b.c.d.e.f.g.h"},
        {"192.0.2.3", s, "%{lr.-+,/_=}", "h.g.f.e.d.c.b.a"},
        {"192.0.2.3", s, "%{l3r.-+,/_=}", "c.b.a"},
        {"192.0.2.3", s, "%{l2r-+}", "c.a.b"},
        {"192.0.2.3", s, "%{lr=}", "h.a.b-c+d,e/f_g"},
        /* a delimiter given twice is the same delimiter */
        {"192.0.2.3", s, "%{l--}", "a.b.c+d,e/f_g=h"},
        /* the test suite's cases: split on a dash, several delimiters */
        {"1.2.3.4", "philip-gladstone-test@e11.example.com", "%{i}.%{l2r-}.user.%{d2}",
         "1.2.3.4.gladstone.philip.user.example.com"},
        {"1.2.3.4", "foo-bar+zip+quux@e12.example.com", "%{l2r+-}.user.%{d2}",
         "bar.foo.user.example.com"},
        /* no other delimiter exists */
        {"192.0.2.3", s, "%{l:}", NULL},
        {"192.0.2.3", s, "%{l;}", NULL},
        {"192.0.2.3", s, "%{l }", NULL},
    };
    run_rows(ROWS(rows), NULL, NULL);
}

/* Upper-case letters: the value URL-escaped (all but RFC 3986 unreserved). */
Test(spf_macro, url_escape)
{
    static const struct row rows[] = {
        {"192.0.2.3", RFC_SENDER, "%{S}", "strong-bad%40email.example.com"},
        {"192.0.2.3", RFC_SENDER, "%{L}", "strong-bad"},
        {"192.0.2.3", "~jack&jill=up-a_b3.c@e8.example.com", "http://example.com/why.html?l=%{L}",
         "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c"},
        {"192.0.2.3", "a b!c@x.example.com", "%{L}", "a%20b%21c"},
        {"2001:db8::cb01", RFC_SENDER, "%{C}", "2001%3Adb8%3A%3Acb01"},
        {"192.0.2.3", RFC_SENDER, "%{I}", "192.0.2.3"},
        {"192.0.2.3", "x/y@x.example.com", "%{L1r/}", "x"},
    };
    run_rows(ROWS(rows), NULL, NULL);
}

/* %% %_ %- and literal text; a lone or unknown % is a syntax error. */
Test(spf_macro, escapes)
{
    static const struct row rows[] = {
        {"192.0.2.3", RFC_SENDER, "%%", "%"},
        {"192.0.2.3", RFC_SENDER, "%_", " "},
        {"192.0.2.3", RFC_SENDER, "%-", "%20"},
        {"192.0.2.3", RFC_SENDER, "%%-%_-%-", "%- -%20"},
        {"192.0.2.3", RFC_SENDER, "macro%%percent%_%_space%-url-space.example.com",
         "macro%percent  space%20url-space.example.com"},
        {"192.0.2.3", RFC_SENDER, "%%{d}", "%{d}"},
        {"192.0.2.3", RFC_SENDER, "plain.example.com", "plain.example.com"},
        {"192.0.2.3", RFC_SENDER, "", ""},
        {"192.0.2.3", RFC_SENDER, "%", NULL},
        {"192.0.2.3", RFC_SENDER, "x%", NULL},
        {"192.0.2.3", RFC_SENDER, "%d", NULL},
        {"192.0.2.3", RFC_SENDER, "%(ir).sbl.example.com", NULL},
        {"192.0.2.3", RFC_SENDER, "%{d", NULL},
        {"192.0.2.3", RFC_SENDER, "%{d}x%{", NULL},
    };
    run_rows(ROWS(rows), NULL, NULL);
}

/* c, r and t belong to explanations: a domain-spec with them does not
 * parse (permerror), an unknown-modifier's macro-string may hold them, and
 * the explanation text expands them. */
Test(spf_macro, crt_only_in_explanations)
{
    static const char *const bad[] = {
        "v=spf1 a:%{c}.example.com",       "v=spf1 mx:%{r}.example.com",
        "v=spf1 exists:%{t}.example.com",  "v=spf1 include:%{C}.example.com",
        "v=spf1 -all exp=%{r}.example.com", "v=spf1 redirect=%{t}.example.com",
        "v=spf1 ptr:%{c}.example.com",
    };
    static const char *const good[] = {
        "v=spf1 a:%{s}%{l}%{o}%{d}%{i}%{p}%{v}%{h}.example.com -all",
        "v=spf1 -all exp=%{ir}.%{p}.%{v}.example.com",
        "v=spf1 x=%{c}%{r}%{t}",
        "v=spf1 ptr:%{d2}",
    };
    struct mx_spf_record rec;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!mx_spf_parse(bad[i], strlen(bad[i]), &rec, NULL, 0), "%s", bad[i]);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(mx_spf_parse(good[i], strlen(good[i]), &rec, NULL, 0), "%s", good[i]);

    struct mx_ip ip;
    char out[512];
    cr_assert(mx_ip_parse("192.0.2.40", &ip));
    struct mx_spf_macro_ctx c = {.ip = &ip, .sender = RFC_SENDER, .domain = RFC_DOMAIN,
                                 .now = 1234567890};
    static const struct {
        const char *text, *want;
    } exps[] = {
        {"%{c} is queried as %{ir}.%{v}.arpa", "192.0.2.40 is queried as 40.2.0.192.in-addr.arpa"},
        {"Connections from %{c} not authorized.", "Connections from 192.0.2.40 not authorized."},
        {"at %{t} by %{r}, see %{R}", "at 1234567890 by unknown, see unknown"},
        {"This is a test.", "This is a test."},
        {"  two  spaces  ", "  two  spaces  "},
        {"ip=%{C}&r=%{R}&id=%{S}", "ip=192.0.2.40&r=unknown&id=strong-bad%40email.example.com"},
        {"The %{x}-files.", NULL},
        {"100% sure", NULL},
        {"tab\there", NULL},
        {"\xef\xbb\xbf" "Explanation", NULL},
    };
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
        bool ok = mx_spf_expand_explain(&c, exps[i].text, strlen(exps[i].text), out, sizeof out);
        if (!exps[i].want) {
            cr_expect(!ok, "explanation '%s' should be refused", exps[i].text);
            continue;
        }
        cr_expect(ok, "explanation '%s'", exps[i].text);
        if (ok)
            cr_expect_str_eq(out, exps[i].want);
    }
}

/* mx_spf_uses_macro finds a letter in any case, never inside %% or text. */
Test(spf_macro, uses_macro)
{
    static const struct {
        const char *s;
        bool p;
    } t[] = {
        {"%{p}.example.com", true},  {"%{P2r-}.x", true},      {"a.%{d}.%{p}", true},
        {"%{d}.example.com", false}, {"%%{p}.example.com", false}, {"p.example.com", false},
        {"%{", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        cr_expect_eq(mx_spf_uses_macro(t[i].s, strlen(t[i].s), 'p'), t[i].p, "%s", t[i].s);
}

/* Domain-spec expansion: the name to look up, as the oracle takes it. */
Test(spf_macro, domain_spec)
{
    static const struct {
        const char *sender, *spec, *want; /* want NULL: not a domain name */
    } t[] = {
        {RFC_SENDER, "%{d}.EXAMPLE.net.", "email.example.com.example.net"},
        {RFC_SENDER, "%{d2}", "example.com"},
        /* escapes inside a domain-spec: octets of the label, kept as they are */
        {RFC_SENDER, "macro%%percent%_%_space%-url-space.example.com",
         "macro%percent  space%20url-space.example.com"},
        {RFC_SENDER, "%_.example.com", " .example.com"},
        /* a backslash is escaped for the resolver library */
        {"a\\b@x.example.com", "%{l}.example.com", "a\\\\b.example.com"},
        /* dots of a value separate labels */
        {"first.last@x.example.com", "%{l}._spf.%{o}", "first.last._spf.x.example.com"},
        {"First.Last@X.Example.COM", "%{l}.%{o}", "first.last.x.example.com"},
        {RFC_SENDER, "%{p}.x.example.com", "unknown.x.example.com"},
        /* no domain name: empty label, 64-octet label, nothing */
        {RFC_SENDER, "%{d}..example.com", NULL},
        {"@x.example.com", "%{l}%{l}%{l}%{l}%{l}%{l}%{l}.example.com", NULL},
        {".@x.example.com", "%{l}x.example.com", NULL},
        {RFC_SENDER, "%{x}.example.com", NULL},
    };
    struct mx_ip ip;
    char out[600];
    cr_assert(mx_ip_parse("192.0.2.3", &ip));
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct mx_spf_macro_ctx c = {.ip = &ip, .sender = t[i].sender, .domain = RFC_DOMAIN};
        bool ok = mx_spf_expand_domain(&c, t[i].spec, strlen(t[i].spec), out, sizeof out);
        if (!t[i].want) {
            cr_expect(!ok, "'%s' should be no domain (got '%s')", t[i].spec, out);
            continue;
        }
        cr_expect(ok, "'%s'", t[i].spec);
        if (ok)
            cr_expect_str_eq(out, t[i].want, "'%s'", t[i].spec);
    }
    /* over 253 octets: labels dropped from the left (4.8), the suite's case */
    const char *o = "somewhat.long.exp.example.com";
    char sender[128], spec[128];
    snprintf(sender, sizeof sender, "test@%s", o);
    snprintf(spec, sizeof spec, "foobar.%%{o}.%%{o}.%%{o}.%%{o}.%%{o}.%%{o}.%%{o}.%%{o}.example.com");
    struct mx_spf_macro_ctx c = {.ip = &ip, .sender = sender, .domain = o};
    cr_assert(mx_spf_expand_domain(&c, spec, strlen(spec), out, sizeof out));
    char want[300];
    size_t w = 0;
    for (int k = 0; k < 8; k++)
        w += (size_t)snprintf(want + w, sizeof want - w, "%s.", o);
    snprintf(want + w, sizeof want - w, "example.com");
    cr_expect_str_eq(out, want);
    cr_expect_leq(strlen(out), 253);
}

/* check_host with macros in domain-specs, against the table DNS. */
static enum mx_spf_result check(const char *zone, const char *ipstr, const char *domain,
                                const char *sender, const char *helo)
{
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_oracle o = fake_dns_oracle(d);
    struct mx_ip ip;
    struct mx_spf_trace tr;
    enum mx_spf_result r = MX_SPF_PENDING;
    cr_assert(mx_ip_parse(ipstr, &ip));
    for (int n = 0; n < 64 && r == MX_SPF_PENDING; n++)
        r = mx_spf_check_host(&o, &ip, domain, sender, helo, &tr);
    fake_dns_free(d);
    return r;
}

Test(spf_macro, check_host_domain_specs)
{
    /* the escapes in a domain-spec name a label with '%' and spaces */
    const char *zone = "e1a.test TXT v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all\n"
                       "macro%percent\\032\\032space%20url-space.example.com A 192.0.2.4\n"
                       "h.test TXT v=spf1 a:%{H} -all\n"
                       "mail.example.com A 192.0.2.40\n"
                       "e11.test TXT v=spf1 exists:%{i}.%{l2r-}.user.%{d2}\n"
                       "192.0.2.4.gladstone.philip.user.e11.test A 127.0.0.2\n";
    cr_expect_eq(check(zone, "192.0.2.4", "e1a.test", "x@e1a.test", NULL), MX_SPF_PASS);
    cr_expect_eq(check(zone, "192.0.2.5", "e1a.test", "x@e1a.test", NULL), MX_SPF_FAIL);
    cr_expect_eq(check(zone, "192.0.2.40", "h.test", "x@h.test", "mail.example.com"),
                 MX_SPF_PASS);
    /* a HELO that expands to no usable name is no match, not an error */
    cr_expect_eq(check(zone, "192.0.2.40", "h.test", "x@h.test", "[192.0.2.40]"), MX_SPF_FAIL);
    cr_expect_eq(check(zone, "192.0.2.40", "h.test", "x@h.test", "JUMPIN' JUPITER"),
                 MX_SPF_FAIL);
    cr_expect_eq(check(zone, "192.0.2.4", "e11.test", "philip-gladstone-test@e11.test", NULL),
                 MX_SPF_PASS);
    cr_expect_eq(check(zone, "192.0.2.4", "e11.test", "alice-bob@e11.test", NULL),
                 MX_SPF_NEUTRAL);
}
