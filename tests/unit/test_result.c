/* Column text of a result row (result.h): appends in any order, relocation,
 * the overflow flag, set, and findings rendered in the enum's order. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mx/result.h"

static struct mx_result *new_result(void)
{
    struct mx_result *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    memset(r, 0x5A, sizeof *r); /* garbage: reset must be enough ... */
    r->explain = NULL;          /* ... but for the explanations' pointer (result.h) */
    mx_result_reset(r);
    return r;
}

static void expect_col(const struct mx_result *r, enum mx_column c, const char *want)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    cr_expect_eq(len, strlen(want), "column %s: length %zu, want %zu", mx_column_header(c), len,
                 strlen(want));
    if (len == strlen(want))
        cr_expect(memcmp(s, want, len) == 0, "column %s: '%.*s', want '%s'",
                  mx_column_header(c), (int)len, s, want);
}

Test(result, reset_gives_empty_columns)
{
    struct mx_result *r = new_result();
    for (unsigned c = 0; c < MX_COL_COUNT; c++)
        expect_col(r, (enum mx_column)c, "");
    cr_expect_not(r->overflow);
    cr_expect_eq(r->status, MX_RC_NOERROR);
    cr_expect_eq(r->mail, MX_MAIL_UNKNOWN);
    cr_expect_eq(r->findings, 0);
    free(r);
}

Test(result, interleaved_appends_keep_each_column)
{
    struct mx_result *r = new_result();
    mx_result_append(r, MX_COL_MX, "10 a.test", 9);
    mx_result_append(r, MX_COL_DOMAIN, "example.test", 12);
    mx_result_append(r, MX_COL_MX, ";20 b.test", 10); /* relocated after DOMAIN */
    mx_result_appendf(r, MX_COL_MX_TTL, "%u", 3600u);
    mx_result_append(r, MX_COL_DOMAIN, "", 0);
    mx_result_append(r, MX_COL_MX_ADDRESSES, "a.test=192.0.2.1", 16);
    mx_result_append(r, MX_COL_MX, ";30 c.test", 10); /* relocated again */
    mx_result_append(r, MX_COL_MX_ADDRESSES, ",192.0.2.2", 10);
    mx_result_append(r, MX_COL_DOMAIN, ".", 1);
    mx_result_append(r, MX_COL_MX_TTL, "0", 1);
    expect_col(r, MX_COL_DOMAIN, "example.test.");
    expect_col(r, MX_COL_MX, "10 a.test;20 b.test;30 c.test");
    expect_col(r, MX_COL_MX_TTL, "36000");
    expect_col(r, MX_COL_MX_ADDRESSES, "a.test=192.0.2.1,192.0.2.2");
    expect_col(r, MX_COL_SPF, "");
    cr_expect_not(r->overflow);
    cr_expect_leq(r->used, MX_RESULT_TEXT);
    free(r);
}

Test(result, many_random_appends_match_a_model)
{
    struct mx_result *r = new_result();
    static char model[MX_COL_COUNT][MX_RESULT_TEXT];
    size_t mlen[MX_COL_COUNT] = {0};
    unsigned seed = 12345;
    for (int i = 0; i < 120; i++) {
        seed = seed * 1103515245u + 12345u;
        enum mx_column c = (enum mx_column)((seed >> 16) % MX_COL_COUNT);
        char piece[8];
        size_t n = (seed >> 8) % 7 + 1;
        for (size_t k = 0; k < n; k++)
            piece[k] = (char)('a' + (i + (int)k) % 26);
        mx_result_append(r, c, piece, n);
        if (r->overflow)
            break;
        memcpy(model[c] + mlen[c], piece, n);
        mlen[c] += n;
    }
    cr_assert_not(r->overflow, "the test should stay below the limit");
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        size_t len;
        const char *s = mx_result_col(r, (enum mx_column)c, &len);
        cr_expect_eq(len, mlen[c]);
        cr_expect(memcmp(s, model[c], len) == 0, "column %u", c);
    }
    free(r);
}

Test(result, overflow_at_limit)
{
    struct mx_result *r = new_result();
    static char big[MX_RESULT_TEXT + 100];
    memset(big, 'x', sizeof big);
    mx_result_append(r, MX_COL_SPF, big, MX_RESULT_TEXT - 10);
    cr_expect_not(r->overflow);
    mx_result_append(r, MX_COL_DMARC, "0123456789", 10);
    cr_expect_not(r->overflow, "exactly full is not an overflow");
    cr_expect_eq(r->used, MX_RESULT_TEXT);
    mx_result_append(r, MX_COL_DMARC, "z", 1);
    cr_expect(r->overflow);
    expect_col(r, MX_COL_DMARC, "0123456789");
    size_t len;
    mx_result_col(r, MX_COL_SPF, &len);
    cr_expect_eq(len, MX_RESULT_TEXT - 10);
    free(r);

    r = new_result();
    mx_result_append(r, MX_COL_SPF, big, sizeof big);
    cr_expect(r->overflow, "cut");
    mx_result_col(r, MX_COL_SPF, &len);
    cr_expect_eq(len, MX_RESULT_TEXT);
    cr_expect_leq(r->used, MX_RESULT_TEXT);
    free(r);

    /* relocation that does not fit: the column keeps its text */
    r = new_result();
    mx_result_append(r, MX_COL_MX, "10 a.test", 9);
    mx_result_append(r, MX_COL_SPF, big, MX_RESULT_TEXT - 12);
    mx_result_append(r, MX_COL_MX, ";20 b.test", 10);
    cr_expect(r->overflow);
    cr_expect_leq(r->used, MX_RESULT_TEXT);
    mx_result_col(r, MX_COL_MX, &len);
    cr_expect_geq(len, 9);
    cr_expect(memcmp(mx_result_col(r, MX_COL_MX, &len), "10 a.test", 9) == 0);
    free(r);

    /* appendf longer than its buffer */
    r = new_result();
    mx_result_appendf(r, MX_COL_SPF, "%2000s", "x");
    cr_expect(r->overflow);
    free(r);
}

Test(result, set_replaces)
{
    struct mx_result *r = new_result();
    mx_result_append(r, MX_COL_SPF, "v=spf1 -all", 11);
    mx_result_append(r, MX_COL_DMARC, "v=DMARC1; p=none", 16);
    mx_result_set(r, MX_COL_SPF, "v=spf1 +all");
    expect_col(r, MX_COL_SPF, "v=spf1 +all");
    expect_col(r, MX_COL_DMARC, "v=DMARC1; p=none");
    mx_result_set(r, MX_COL_DMARC, "");
    expect_col(r, MX_COL_DMARC, "");
    mx_result_set(r, MX_COL_SPF, "x");
    mx_result_append(r, MX_COL_SPF, "y", 1);
    expect_col(r, MX_COL_SPF, "xy");
    free(r);
}

Test(result, render_findings_in_enum_order)
{
    struct mx_result *r = new_result();
    r->findings = MX_FBIT(MX_F_DMARC_MISSING) | MX_FBIT(MX_F_MX_NULL) |
                  MX_FBIT(MX_F_SPF_MISSING) | MX_FBIT(MX_F_DOMAIN_INVALID_NAME);
    mx_result_append(r, MX_COL_FINDINGS, "stale", 5);
    mx_result_append(r, MX_COL_MX, "x", 1);
    mx_result_render_findings(r);
    expect_col(r, MX_COL_FINDINGS, "domain_invalid_name;mx_null;spf_missing;dmarc_missing");
    expect_col(r, MX_COL_MX, "x");
    /* rendering again gives the same text, not twice */
    mx_result_render_findings(r);
    expect_col(r, MX_COL_FINDINGS, "domain_invalid_name;mx_null;spf_missing;dmarc_missing");
    r->findings = 0;
    mx_result_render_findings(r);
    expect_col(r, MX_COL_FINDINGS, "");
    /* all of them, in order */
    r->findings = 0;
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        r->findings |= MX_FBIT(f);
    mx_result_render_findings(r);
    size_t len;
    const char *s = mx_result_col(r, MX_COL_FINDINGS, &len);
    char *copy = strndup(s, len);
    char *save = NULL;
    unsigned f = 0;
    for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save), f++)
        cr_expect_str_eq(t, mx_finding_label((enum mx_finding)f));
    cr_expect_eq(f, MX_F_COUNT);
    free(copy);
    free(r);
}

Test(result, names)
{
    cr_expect_str_eq(mx_column_header(MX_COL_DOMAIN), "domain");
    cr_expect_str_eq(mx_column_header(MX_COL_INPUT_LINE), "input_line");
    cr_expect_str_eq(mx_column_header(MX_COL_COUNT), "");
    cr_expect_str_eq(mx_mail_status_name(MX_MAIL_NO_MAIL), "no_mail");
    cr_expect_str_eq(mx_mail_status_name(MX_MAIL_COUNT), "unknown");
    for (unsigned c = 0; c < MX_COL_COUNT; c++)
        cr_expect_gt(strlen(mx_column_description((enum mx_column)c)), 0);
}
