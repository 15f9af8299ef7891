/* Organizational domains (libpsl), including the shortcut for names of one
 * or two labels: it must agree with what libpsl plus the fallback give. */
#include <criterion/criterion.h>
#include <libpsl.h>
#include <string.h>

#include "mx/names.h"

static const struct {
    const char *name, *org;
} cases[] = {
    {"example.com", "example.com"},
    {"www.example.com", "example.com"},
    {"a.b.example.co.uk", "example.co.uk"},
    {"example.co.uk", "example.co.uk"},
    {"co.uk", "co.uk"},            /* a public suffix: the name itself */
    {"com", "com"},
    {"x.test", "x.test"},           /* unknown TLD: default rule "*" */
    {"mail.x.test", "x.test"},
    {"foo.ck", "foo.ck"},           /* "*.ck": a public suffix itself */
    {"www.foo.ck", "www.foo.ck"},
    {"bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"},
    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
};

Test(orgdomain, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        mx_name_org_domain(cases[i].name, out, sizeof out);
        cr_expect_str_eq(out, cases[i].org, "%s", cases[i].name);
        /* twice: the per-thread memo gives the same answer */
        mx_name_org_domain(cases[i].name, out, sizeof out);
        cr_expect_str_eq(out, cases[i].org, "%s (memo)", cases[i].name);
    }
}

Test(orgdomain, shortcut_agrees_with_libpsl)
{
    static const char *const two[] = {"example.com", "co.uk", "foo.ck", "x.test", "gov.uk",
                                      "github.io", "blogspot.com", "a.b"};
    const psl_ctx_t *psl = psl_builtin();
    cr_assert(psl);
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) {
        const char *reg = psl_registrable_domain(psl, two[i]);
        char out[256];
        mx_name_org_domain(two[i], out, sizeof out);
        cr_expect_str_eq(out, reg ? reg : two[i], "%s", two[i]);
    }
}
