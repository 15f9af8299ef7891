/* MTA-STS (RFC 8461), the pure parts: the _mta-sts TXT record set (3.1),
 * the policy text (3.2) and the mx pattern match (4.1), on the RFC's own
 * examples and the edge cases of the ABNF. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/mta_sts.h"

static enum mx_sts_rec rec(const char *s, char *id)
{
    return mx_sts_record_parse(s, strlen(s), id);
}

Test(mta_sts, record_rfc_example_and_variants)
{
    char id[MX_STS_ID_MAX + 1];
    cr_expect_eq(rec("v=STSv1; id=20160831085700Z;", id), MX_STS_REC_OK);
    cr_expect_str_eq(id, "20160831085700Z");
    cr_expect_eq(rec("v=STSv1; id=20160831085700Z", id), MX_STS_REC_OK);
    cr_expect_eq(rec("v=STSv1;id=abc", id), MX_STS_REC_OK);
    cr_expect_eq(rec("v=STSv1 ;\tid=abc ; ", id), MX_STS_REC_OK, "*WSP around ;");
    cr_expect_str_eq(id, "abc");
    cr_expect_eq(rec("v=STSv1; id=abc; ext-1=val.ue!", id), MX_STS_REC_OK, "an extension");
    char l32[64] = "v=STSv1; id=";
    memset(l32 + 12, '7', 32);
    l32[44] = 0;
    cr_expect_eq(rec(l32, id), MX_STS_REC_OK, "32 characters");
    cr_expect_eq(strlen(id), 32);
}

Test(mta_sts, record_invalid)
{
    char id[MX_STS_ID_MAX + 1];
    cr_expect_eq(rec("v=STSv1", id), MX_STS_REC_NO_ID);
    cr_expect_eq(rec("v=STSv1;", id), MX_STS_REC_NO_ID);
    cr_expect_eq(rec("v=STSv1; foo=bar", id), MX_STS_REC_NO_ID);
    cr_expect_eq(rec("v=STSv1; id=", id), MX_STS_REC_BAD_ID);
    cr_expect_eq(rec("v=STSv1; id=2016-08-31", id), MX_STS_REC_BAD_ID, "hyphen");
    cr_expect_eq(rec("v=STSv1; id=ab cd", id), MX_STS_REC_BAD_ID, "blank inside");
    char l33[64] = "v=STSv1; id=";
    memset(l33 + 12, '7', 33);
    l33[45] = 0;
    cr_expect_eq(rec(l33, id), MX_STS_REC_BAD_ID, "33 characters");
    cr_expect_eq(rec("v=STSv1; id=a; id=b", id), MX_STS_REC_DUP_ID);
    cr_expect_eq(rec("v=STSv1 id=abc", id), MX_STS_REC_SYNTAX, "missing ;");
    cr_expect_eq(rec("v=STSv1; id=abc;; ", id), MX_STS_REC_SYNTAX, "empty field");
    cr_expect_eq(rec("v=STSv1; id", id), MX_STS_REC_SYNTAX, "no =");
    cr_expect_eq(rec("v=STSv1; _x=1; id=a", id), MX_STS_REC_SYNTAX, "bad extension name");
    cr_expect_eq(rec("v=STSv1; x=a=b; id=a", id), MX_STS_REC_SYNTAX, "= in a value");
    cr_expect_str_eq(id, "");
    /* not STS records at all */
    cr_expect_eq(rec("v=STSv2; id=a", id), MX_STS_REC_NONE);
    cr_expect_eq(rec("v=STSv10; id=a", id), MX_STS_REC_NONE);
    cr_expect_eq(rec("v=stsv1; id=a", id), MX_STS_REC_NONE, "case-sensitive");
    cr_expect_eq(rec(" v=STSv1; id=a", id), MX_STS_REC_NONE);
    cr_expect_eq(rec("v=spf1 -all", id), MX_STS_REC_NONE);
    cr_expect_eq(rec("", id), MX_STS_REC_NONE);
}

static struct mx_answer *txts(const char *const *t, size_t n)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 300, false);
    for (size_t i = 0; i < n; i++)
        cr_assert(mx_answer_add_txt(&a, t[i], strlen(t[i])));
    return a;
}

Test(mta_sts, record_set)
{
    struct mx_sts_record r;
    const char *one[] = {"v=spf1 -all", "v=STSv1; id=42"};
    struct mx_answer *a = txts(one, 2);
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_OK);
    cr_expect_str_eq(r.id, "42");
    cr_expect_eq(r.records, 1);
    cr_expect_eq(r.ignored, 1);
    free(a);
    const char *two[] = {"v=STSv1; id=1", "v=STSv1; id=2"};
    a = txts(two, 2);
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_MULTIPLE);
    cr_expect_str_eq(r.id, "");
    free(a);
    const char *bad_and_good[] = {"v=STSv1 id=1", "v=STSv1; id=2"};
    a = txts(bad_and_good, 2);
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_MULTIPLE);
    free(a);
    const char *none[] = {"hello"};
    a = txts(none, 1);
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_NONE);
    free(a);
    a = txts(NULL, 0);
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_NONE);
    free(a);
    /* strings of one record are joined without spaces (RFC 8461 3.1) */
    a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 300, false);
    cr_assert(mx_answer_add_txt(&a, "v=STSv1; id=20160831085700Z;", 28));
    cr_expect_eq(mx_sts_record_judge(a, &r), MX_STS_REC_OK);
    free(a);
}

/* ---- policies ---- */

static struct mx_sts_policy P;

static enum mx_sts_pol pol(const char *s)
{
    return mx_sts_policy_parse(s, strlen(s), &P);
}

Test(mta_sts, policy_rfc_example)
{
    const char *text = "version: STSv1\r\n"
                       "mode: enforce\r\n"
                       "mx: mail.example.com\r\n"
                       "mx: *.example.net\r\n"
                       "mx: backupmx.example.com\r\n"
                       "max_age: 604800\r\n";
    cr_assert_eq(pol(text), MX_STS_POL_OK);
    cr_expect_eq(P.mode, MX_STS_MODE_ENFORCE);
    cr_expect_eq(P.max_age, 604800);
    cr_assert_eq(P.n_mx, 3);
    cr_expect_str_eq(mx_sts_policy_mx(&P, 0), "mail.example.com");
    cr_expect_str_eq(mx_sts_policy_mx(&P, 1), "*.example.net");
    cr_expect_str_eq(mx_sts_policy_mx(&P, 2), "backupmx.example.com");
    cr_expect_null(mx_sts_policy_mx(&P, 3));
    cr_expect_not(P.dup_keys);
    cr_expect(mx_sts_policy_matches(&P, "mail.example.com"));
    cr_expect(mx_sts_policy_matches(&P, "MX1.example.NET."));
    cr_expect_not(mx_sts_policy_matches(&P, "example.net"));
    cr_expect_not(mx_sts_policy_matches(&P, "a.b.example.net"));
    cr_expect_not(mx_sts_policy_matches(&P, "mail.example.org"));
}

Test(mta_sts, policy_line_endings_order_extensions)
{
    cr_expect_eq(pol("version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400"),
                 MX_STS_POL_OK, "LF, no final newline");
    cr_expect_eq(P.mode, MX_STS_MODE_TESTING);
    cr_expect_eq(pol("max_age: 0\nmx: MX.Example.COM\nmode: none\nversion: STSv1\n"),
                 MX_STS_POL_OK, "any order, max_age 0");
    cr_expect_str_eq(mx_sts_policy_mx(&P, 0), "mx.example.com");
    cr_expect_eq(pol("version:STSv1\nmode:\tenforce  \nmx: a.example\nmax_age: 31557600\n"),
                 MX_STS_POL_OK, "*WSP after : and at the end");
    cr_expect_eq(P.max_age, 31557600);
    cr_expect_eq(pol("version: STSv1\nmode: none\nmax_age: 86400\n"), MX_STS_POL_OK,
                 "none without mx");
    cr_expect_eq(pol("version: STSv1\nmode: enforce\nfoo_bar: some thing ü\nmx: a.example\n"
                     "max_age: 1\n\n\n"),
                 MX_STS_POL_OK, "extension and blank lines");
    cr_expect_eq(pol("version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\n"),
                 MX_STS_POL_OK);
    cr_expect_eq(P.mode, MX_STS_MODE_TESTING, "the first counts");
    cr_expect(P.dup_keys);
}

Test(mta_sts, policy_invalid)
{
    struct {
        const char *text;
        enum mx_sts_pol want;
        unsigned line;
    } cases[] = {
        {"", MX_STS_POL_NO_VERSION, 0},
        {"mode: enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_NO_VERSION, 0},
        {"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_VERSION, 1},
        {"version: stsv1\nmode: enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_VERSION, 1},
        {"version: STSv1\nmx: a.example\nmax_age: 1\n", MX_STS_POL_NO_MODE, 0},
        {"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_MODE, 2},
        {"version: STSv1\nmode: reject\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_MODE, 2},
        {"version: STSv1\nmode: enforce\nmx: a.example\n", MX_STS_POL_NO_MAX_AGE, 0},
        {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n",
         MX_STS_POL_BAD_MAX_AGE, 4},
        {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", MX_STS_POL_BAD_MAX_AGE, 4},
        {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
         MX_STS_POL_BAD_MAX_AGE, 4},
        {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1 day\n",
         MX_STS_POL_BAD_MAX_AGE, 4},
        {"version: STSv1\nmode: enforce\nmax_age: 86400\n", MX_STS_POL_NO_MX, 0},
        {"version: STSv1\nmode: testing\nmax_age: 86400\n", MX_STS_POL_NO_MX, 0},
        {"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", MX_STS_POL_BAD_MX, 3},
        {"version: STSv1\nmode: enforce\nmx: mx.example.\nmax_age: 1\n", MX_STS_POL_BAD_MX, 3},
        {"version: STSv1\nmode: enforce\nmx: mx_1.example\nmax_age: 1\n", MX_STS_POL_BAD_MX, 3},
        {"version: STSv1\nmode: enforce\nmx: foo*.example\nmax_age: 1\n", MX_STS_POL_BAD_MX, 3},
        {"version: STSv1\nmode: enforce\nmx: a.example b.example\nmax_age: 1\n",
         MX_STS_POL_BAD_MX, 3},
        {"version: STSv1\n mode: enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_LINE, 2},
        {"version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_LINE, 2},
        {"version: STSv1\nmode:\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_LINE, 2},
        {"<html><body>Not found</body></html>\n", MX_STS_POL_BAD_LINE, 1},
        {"version: STSv1\rmode: enforce\nmx: a.example\nmax_age: 1\n", MX_STS_POL_BAD_LINE, 1},
        {"version: STSv1\nmode: enforce\nmx: a.example\nx: a\tb\nmax_age: 1\n",
         MX_STS_POL_BAD_LINE, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum mx_sts_pol got = pol(cases[i].text);
        cr_expect_eq(got, cases[i].want, "case %zu: %s, want %s", i, mx_sts_pol_name(got),
                     mx_sts_pol_name(cases[i].want));
        cr_expect_eq(P.bad_line, cases[i].line, "case %zu: line %u", i, P.bad_line);
    }
    /* a NUL byte is a bad line */
    static const char nul[] = "version: STSv1\nmode: enforce\0\nmx: a.example\nmax_age: 1\n";
    cr_expect_eq(mx_sts_policy_parse(nul, sizeof nul - 1, &P), MX_STS_POL_BAD_LINE);
}

Test(mta_sts, policy_many_patterns)
{
    char *text = malloc(20000);
    size_t n = (size_t)sprintf(text, "version: STSv1\nmode: enforce\nmax_age: 1\n");
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(text + n, "mx: mx%03d.example.com\n", i);
    cr_assert_eq(mx_sts_policy_parse(text, n, &P), MX_STS_POL_OK);
    cr_expect(P.mx_truncated);
    cr_expect_gt(P.n_mx, 50);
    cr_expect_lt(P.n_mx, 200);
    cr_expect(mx_sts_policy_matches(&P, "mx000.example.com"));
    free(text);
}

Test(mta_sts, mx_match)
{
    struct {
        const char *pattern, *exchange;
        bool want;
    } cases[] = {
        {"mail.example.com", "mail.example.com", true},
        {"mail.example.com", "MAIL.EXAMPLE.COM", true},
        {"mail.example.com", "mail.example.com.", true},
        {"mail.example.com", "mail.example.co", false},
        {"mail.example.com", "xmail.example.com", false},
        {"mail.example.com", "a.mail.example.com", false},
        {"*.example.com", "mx1.example.com", true},
        {"*.example.com", "MX1.Example.Com.", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", ".example.com", false},
        {"*.example.com", "a.b.example.com", false},
        {"*.example.com", "mx1.example.org", false},
        {"*.example.com", "mx1.xexample.com", false},
        {"*.com", "example.com", true},
        {"*.example.com", "", false},
        {"", "example.com", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(mx_sts_mx_match(cases[i].pattern, cases[i].exchange), cases[i].want,
                     "%s vs %s", cases[i].pattern, cases[i].exchange);
}
