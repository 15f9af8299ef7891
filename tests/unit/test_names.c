/* Host name normalisation and validity rules (names.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "mx/names.h"

struct norm_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    bool ok;
    const char *out; /* normalised name, or the rendering when !ok */
};

static void check_norm(const struct norm_case *c)
{
    char out[MX_NAME_MAX + 1];
    size_t len = c->len ? c->len : strlen(c->in);
    memset(out, 'Z', sizeof out);
    bool ok = mx_name_normalize(c->in, len, out, sizeof out);
    cr_expect_eq(ok, c->ok, "normalize(\"%s\"): got %d, want %d (out \"%s\")", c->in, ok,
                 c->ok, out);
    if (c->out)
        cr_expect_str_eq(out, c->out, "normalize(\"%s\")", c->in);
}

Test(names, normalize_table)
{
    static const struct norm_case cases[] = {
        {"example.com", 0, true, "example.com"},
        {"EXAMPLE.Com", 0, true, "example.com"},
        {"  example.com \t", 0, true, "example.com"},
        {"example.com.", 0, true, "example.com"},
        {"example.com..", 0, false, NULL},
        {".example.com", 0, false, NULL},
        {"a..b", 0, false, NULL},
        {".", 0, false, NULL},
        {"", 0, false, ""},
        {"   ", 0, false, ""},
        {"example.com\r", 0, true, "example.com"},
        {"example.com\r\n", 0, true, "example.com"},
        {"\xEF\xBB\xBF" "example.com", 0, true, "example.com"},
        {" \xEF\xBB\xBF" "Example.com", 0, true, "example.com"},
        {"b\xC3\xBC" "cher.example", 0, true, "xn--bcher-kva.example"},
        {"B\xC3\xBC" "cher.Example.", 0, true, "xn--bcher-kva.example"},
        {"xn--bcher-kva.example", 0, true, "xn--bcher-kva.example"},
        {"XN--BCHER-KVA.example", 0, true, "xn--bcher-kva.example"},
        {"b\xFC" "cher.example", 0, false, "b\\xfccher.example"},
        {"\xC3\x28.example", 0, false, "\\xc3(.example"},
        {"exa mple.com", 0, false, "exa mple.com"},
        {"exa\tmple.com", 0, false, "exa\\x09mple.com"},
        {"bad\x7f.com", 0, false, "bad\\x7f.com"},
        {"_dmarc.example.com", 0, false, "_dmarc.example.com"},
        {"foo_bar.example.com", 0, false, NULL},
        {"-foo.example.com", 0, false, NULL},
        {"foo-.example.com", 0, false, NULL},
        {"f-o-o.example.com", 0, true, "f-o-o.example.com"},
        {"foo.example-.com", 0, false, NULL},
        {"123.example", 0, true, "123.example"},
        {"exa!mple.com", 0, false, NULL},
        {"\\065bc.com", 0, false, "\\065bc.com"},
        {"example.com/path", 0, false, NULL},
        {"localhost", 0, true, "localhost"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_norm(&cases[i]);
}

Test(names, normalize_nul_byte)
{
    char out[MX_NAME_MAX + 1];
    static const char in[] = "exam\0ple.com";
    cr_assert_not(mx_name_normalize(in, sizeof in - 1, out, sizeof out));
    cr_assert_str_eq(out, "exam\\x00ple.com");
    /* a NUL at the end is not trimmed either */
    cr_assert_not(mx_name_normalize("a.com\0", 6, out, sizeof out));
}

static void repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = 0;
}

Test(names, label_length_63_64)
{
    char in[128], out[MX_NAME_MAX + 1];
    repeat(in, 'a', 63);
    strcat(in, ".example");
    cr_assert(mx_name_normalize(in, strlen(in), out, sizeof out));
    cr_assert_str_eq(out, in);
    cr_assert_eq(mx_name_check(in), MX_NAME_OK);

    repeat(in, 'a', 64);
    strcat(in, ".example");
    cr_assert_not(mx_name_normalize(in, strlen(in), out, sizeof out));
    cr_assert_eq(mx_name_check(in), MX_NAME_BAD);
}

/* 253 = 3 * (63 + 1) + 61 */
static void long_name(char *buf, size_t last)
{
    buf[0] = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(buf);
        memset(buf + n, 'a', 63);
        buf[n + 63] = '.';
        buf[n + 64] = 0;
    }
    size_t n = strlen(buf);
    memset(buf + n, 'b', last);
    buf[n + last] = 0;
}

Test(names, name_length_253_254)
{
    char in[300], out[MX_NAME_MAX + 1];
    long_name(in, 61);
    cr_assert_eq(strlen(in), 253);
    cr_assert_eq(mx_name_check(in), MX_NAME_OK);
    cr_assert(mx_name_normalize(in, strlen(in), out, sizeof out));
    cr_assert_str_eq(out, in);
    /* with the trailing dot it is still 253 */
    strcat(in, ".");
    cr_assert(mx_name_normalize(in, strlen(in), out, sizeof out));

    long_name(in, 62);
    cr_assert_eq(strlen(in), 254);
    cr_assert_eq(mx_name_check(in), MX_NAME_BAD);
    cr_assert_not(mx_name_normalize(in, strlen(in), out, sizeof out));
    /* the rendering is cut to fit the buffer */
    cr_assert_eq(strlen(out), MX_NAME_MAX);
}

Test(names, rendering_is_cut_and_never_splits_an_escape)
{
    char out[8];
    cr_assert_not(mx_name_normalize("ab\x01\x02\x03", 5, out, sizeof out));
    cr_assert_str_eq(out, "ab\\x01"); /* "ab\x01\x02" would need 11 bytes */
    char big[MX_NAME_MAX + 1];
    cr_assert_not(mx_name_normalize("a..b", 4, big, 0)); /* no room at all: no crash */
}

Test(names, idn_refused_is_invalid)
{
    char out[MX_NAME_MAX + 1];
    /* a bad A-label (does not decode) and a disallowed code point */
    cr_expect_not(mx_name_normalize("xn--zz-.example", 15, out, sizeof out));
    cr_expect_not(mx_name_normalize("xn--a.example", 13, out, sizeof out));
    static const char sym[] = "\xE2\x98\x83.example"; /* U+2603 SNOWMAN */
    bool ok = mx_name_normalize(sym, sizeof sym - 1, out, sizeof out);
    cr_expect_not(ok, "U+2603 is DISALLOWED in IDNA2008, got %s", out);
}

struct check_case {
    const char *name;
    enum mx_name_check want;
};

Test(names, check_table)
{
    static const struct check_case cases[] = {
        {"example.com", MX_NAME_OK},
        {"Mail.Example.COM", MX_NAME_OK},
        {"a", MX_NAME_OK},
        {"1.2.3.4", MX_NAME_OK},
        {"a-b.c", MX_NAME_OK},
        {"xn--bcher-kva.example", MX_NAME_OK},
        {"_spf.example.com", MX_NAME_UNDERSCORE},
        {"mail_1.example.com", MX_NAME_UNDERSCORE},
        {"", MX_NAME_BAD},
        {".", MX_NAME_BAD},
        {"example.com.", MX_NAME_BAD},
        {".example.com", MX_NAME_BAD},
        {"a..b", MX_NAME_BAD},
        {"-a.b", MX_NAME_BAD},
        {"a-.b", MX_NAME_BAD},
        {"a.b-", MX_NAME_BAD},
        {"-", MX_NAME_BAD},
        {"_-a.b", MX_NAME_UNDERSCORE},
        {"_a-.b", MX_NAME_BAD}, /* underscore and another fault */
        {"_a..b", MX_NAME_BAD},
        {"a b.c", MX_NAME_BAD},
        {"a\\032b.c", MX_NAME_BAD}, /* \DDD escapes from the wire reader */
        {"\\000.example", MX_NAME_BAD},
        {"a*.b", MX_NAME_BAD},
        {"b\xC3\xBC" "cher.example", MX_NAME_BAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(mx_name_check(cases[i].name), cases[i].want, "check(\"%s\") = %d, want %d",
                     cases[i].name, mx_name_check(cases[i].name), cases[i].want);
    cr_expect_eq(mx_name_check(NULL), MX_NAME_BAD);
}

struct bool_case {
    const char *name;
    bool want;
};

Test(names, ip_literal_table)
{
    static const struct bool_case cases[] = {
        {"192.0.2.1", true},
        {"192.0.2.1.", true},
        {"[192.0.2.1]", true},
        {"2001:db8::1", true},
        {"::1", true},
        {"[IPv6:2001:db8::25]", true},
        {"ipv6:2001:db8::25", true},
        {"[2001:db8::1]", true},
        {"::ffff:192.0.2.1", true},
        {"192.0.2", false},
        {"192.0.2.256", false},
        {"192.0.2.1.example", false},
        {"1.2.3.4.5", false},
        {"mail.example.com", false},
        {"[mail.example.com]", false},
        {"[192.0.2.1", false},
        {"ipv6:192.0.2.1", false},
        {"2001:db8::g", false},
        {"", false},
        {"[]", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(mx_name_is_ip_literal(cases[i].name), cases[i].want, "ip_literal(\"%s\")",
                     cases[i].name);
}

Test(names, localhost)
{
    static const struct bool_case cases[] = {
        {"localhost", true},       {"localhost.example.com", true}, {"LOCALHOST", true},
        {"localhost.", true},      {"localhostx", false},           {"mail.localhost", false},
        {"xlocalhost", false},     {"", false},                     {"local", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(mx_name_is_localhost(cases[i].name), cases[i].want, "localhost(\"%s\")",
                     cases[i].name);
}

Test(names, has_suffix)
{
    cr_expect(mx_name_has_suffix("example.com", "example.com"));
    cr_expect(mx_name_has_suffix("mx.example.com", "example.com"));
    cr_expect(mx_name_has_suffix("a.b.example.com", "example.com"));
    cr_expect(mx_name_has_suffix("aspmx.l.google.com", "google.com"));
    cr_expect(mx_name_has_suffix("MX.Example.com", "example.COM"));
    cr_expect_not(mx_name_has_suffix("badexample.com", "example.com"));
    cr_expect_not(mx_name_has_suffix("example.com", "mx.example.com"));
    cr_expect_not(mx_name_has_suffix("example.co", "example.com"));
    cr_expect_not(mx_name_has_suffix(".example.com", "xample.com"));
    cr_expect(mx_name_has_suffix(".example.com", "example.com"));
}
