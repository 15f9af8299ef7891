/* TLS-RPT (RFC 8460 3): the _smtp._tls TXT record, on the RFC's examples
 * and the ABNF's edge cases. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mx/tlsrpt.h"

static struct mx_tlsrpt_record R;

static enum mx_tlsrpt one(const char *s)
{
    return mx_tlsrpt_parse(s, strlen(s), &R);
}

Test(tlsrpt, rfc_examples)
{
    cr_expect_eq(one("v=TLSRPTv1;rua=mailto:reports@example.com"), MX_TLSRPT_OK);
    cr_expect_eq(R.n_mailto, 1);
    cr_expect_str_eq(R.rua, "mailto:reports@example.com");
    cr_expect_eq(one("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"), MX_TLSRPT_OK);
    cr_expect_eq(R.n_https, 1);
    cr_expect_eq(one("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/x"),
                 MX_TLSRPT_OK);
    cr_expect_eq(R.n_mailto, 1);
    cr_expect_eq(R.n_https, 1);
    cr_expect_eq(one("v=TLSRPTv1 ; rua=mailto:a@example.com , mailto:b@example.org ;"),
                 MX_TLSRPT_OK, "*WSP around , and ;");
    cr_expect_eq(R.n_mailto, 2);
    cr_expect_eq(one("v=TLSRPTv1; rua=MAILTO:a@example.com; ext=1"), MX_TLSRPT_OK);
    cr_expect_eq(one("v=TLSRPTv1; rua=https://r.example.net:8443"), MX_TLSRPT_OK);
    cr_expect_eq(one("v=TLSRPTv1; rua=mailto:tls%2Creports@example.com?subject=x"), MX_TLSRPT_OK);
}

Test(tlsrpt, invalid)
{
    struct {
        const char *s;
        enum mx_tlsrpt want;
    } cases[] = {
        {"v=TLSRPTv1", MX_TLSRPT_NO_RUA},
        {"v=TLSRPTv1;", MX_TLSRPT_NO_RUA},
        {"v=TLSRPTv1; ruf=mailto:a@example.com", MX_TLSRPT_NO_RUA},
        {"v=TLSRPTv1; rua=", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", MX_TLSRPT_DUP_RUA},
        {"v=TLSRPTv1; rua=http://r.example.net/", MX_TLSRPT_BAD_SCHEME},
        {"v=TLSRPTv1; rua=ftp://r.example.net/", MX_TLSRPT_BAD_SCHEME},
        {"v=TLSRPTv1; rua=reports@example.com", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:example.com", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:@example.com", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:a@", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:a@b@example.com", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=https:r.example.net", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=https://", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=https://bad_host.example/", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:a@example.com mailto:b@example.com", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1; rua=mailto:a@example.com,", MX_TLSRPT_BAD_URI},
        {"v=TLSRPTv1 rua=mailto:a@example.com", MX_TLSRPT_SYNTAX},
        {"v=TLSRPTv1; rua", MX_TLSRPT_SYNTAX},
        {"v=TLSRPTv1; x=a b; rua=mailto:a@example.com", MX_TLSRPT_SYNTAX},
        {"v=TLSRPTv2; rua=mailto:a@example.com", MX_TLSRPT_NONE},
        {"v=tlsrptv1; rua=mailto:a@example.com", MX_TLSRPT_NONE},
        {"v=spf1 -all", MX_TLSRPT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum mx_tlsrpt got = one(cases[i].s);
        cr_expect_eq(got, cases[i].want, "%s: %s, want %s", cases[i].s, mx_tlsrpt_name(got),
                     mx_tlsrpt_name(cases[i].want));
    }
    /* a bad URI is kept as published (the scan shows it), its counts are not */
    cr_expect_eq(one("v=TLSRPTv1; rua=http://r.example.net/"), MX_TLSRPT_BAD_SCHEME);
    cr_expect_str_eq(R.rua, "http://r.example.net/");
    cr_expect_eq(R.n_mailto + R.n_https, 0u);
}

Test(tlsrpt, record_set)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 300, false);
    const char *x = "v=TLSRPTv1; rua=mailto:a@example.com";
    cr_assert(mx_answer_add_txt(&a, "something else", 14));
    cr_assert(mx_answer_add_txt(&a, x, strlen(x)));
    cr_expect_eq(mx_tlsrpt_judge(a, &R), MX_TLSRPT_OK);
    cr_expect_eq(R.ignored, 1);
    cr_expect_eq(R.records, 1);
    cr_assert(mx_answer_add_txt(&a, x, strlen(x)));
    cr_expect_eq(mx_tlsrpt_judge(a, &R), MX_TLSRPT_MULTIPLE);
    cr_expect_eq(R.records, 2);
    free(a);
    cr_expect_eq(mx_tlsrpt_judge(NULL, &R), MX_TLSRPT_NONE);
}
