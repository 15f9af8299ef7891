/* mxscan diff's per-domain comparison, summary and changes rows (study.h). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "mx/study.h"

static struct mx_drow row(const char *domain, const char *mail, const char *mx, const char *prov,
                          const char *findings, const char *spf, const char *dmarc)
{
    struct mx_drow r;
    r.f[MX_DF_DOMAIN] = domain;
    r.f[MX_DF_MAIL_STATUS] = mail;
    r.f[MX_DF_MX] = mx;
    r.f[MX_DF_PROVIDERS] = prov;
    r.f[MX_DF_FINDINGS] = findings;
    r.f[MX_DF_SPF] = spf;
    r.f[MX_DF_SPF_RESULT] = *spf ? "ok" : "none";
    r.f[MX_DF_DMARC_POLICY] = dmarc;
    return r;
}

#define KIND(k) (1u << MX_DK_##k)

Test(diff, same_rows_no_change_order_of_mx_ignored)
{
    struct mx_drow a = row("a.test", "ok", "10 mx1.test;20 mx2.test", "google", "dmarc_none",
                           "v=spf1 -all", "none");
    struct mx_drow b = row("a.test", "ok", "20 mx2.test;10 mx1.test", "google", "dmarc_none",
                           "v=spf1 -all", "none");
    struct mx_dchange c;
    mx_diff_compare(&a, &b, &c);
    cr_assert_eq(c.kinds, 0u, "answer order of the MX set is no change");
    cr_assert(mx_diff_same_set("b;a;c", "c;b;a"));
    cr_assert_not(mx_diff_same_set("a;b", "a;b;b"));
    cr_assert_not(mx_diff_same_set("", "a"));
}

Test(diff, each_kind)
{
    struct mx_drow a = row("a.test", "ok", "10 aspmx.l.google.com", "google",
                           "spf_missing;dmarc_none", "", "none");
    struct mx_drow b = row("a.test", "broken", "10 gone.test", "", "mx_nxdomain;mx_all_unusable;"
                           "spf_missing", "v=spf1 -all", "reject");
    struct mx_dchange c;
    mx_diff_compare(&a, &b, &c);
    cr_assert_eq(c.kinds, KIND(MX) | KIND(PROVIDERS) | KIND(MAIL_STATUS) | KIND(FINDINGS_GAINED) |
                              KIND(FINDINGS_LOST) | KIND(SPF) | KIND(DMARC_POLICY));
    cr_assert_eq(c.gained, MX_FBIT(MX_F_MX_NXDOMAIN) | MX_FBIT(MX_F_MX_ALL_UNUSABLE));
    cr_assert_eq(c.lost, MX_FBIT(MX_F_DMARC_NONE));
    mx_diff_compare(NULL, &b, &c);
    cr_assert_eq(c.kinds, KIND(ADDED));
    mx_diff_compare(&a, NULL, &c);
    cr_assert_eq(c.kinds, KIND(REMOVED));
}

Test(diff, became_broken_is_from_accepting_to_broken)
{
    cr_assert(mx_diff_became_broken("ok", "broken"));
    cr_assert(mx_diff_became_broken("degraded", "broken"));
    cr_assert(mx_diff_became_broken("implicit", "broken"));
    cr_assert_not(mx_diff_became_broken("unknown", "broken"));
    cr_assert_not(mx_diff_became_broken("no_mail", "broken"));
    cr_assert_not(mx_diff_became_broken("ok", "unknown"));
    cr_assert(mx_diff_recovered("broken", "ok"));
    cr_assert_not(mx_diff_recovered("broken", "no_mail"));
}

Test(diff, summary_counts)
{
    struct mx_dsummary *s = mx_dsummary_create();
    struct mx_drow a = row("a.test", "ok", "10 x", "google", "", "", "none");
    struct mx_drow b = row("a.test", "ok", "10 y", "microsoft", "provider_mismatch", "", "none");
    struct mx_drow c2 = row("c.test", "degraded", "10 y", "", "", "", "reject");
    struct mx_drow d = row("c.test", "broken", "10 y", "", "", "", "");
    struct mx_dchange c;
    mx_diff_compare(&a, &b, &c);
    cr_assert(mx_dsummary_add(s, &a, &b, &c));
    mx_diff_compare(&a, &b, &c);
    cr_assert(mx_dsummary_add(s, &a, &b, &c));
    mx_diff_compare(&c2, &d, &c);
    cr_assert(mx_dsummary_add(s, &c2, &d, &c));
    mx_diff_compare(NULL, &d, &c);
    cr_assert(mx_dsummary_add(s, NULL, &d, &c));
    json_t *j = mx_dsummary_json(s, "old.csv", "new.csv", 3, 4);
    cr_assert_not_null(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "domains_compared")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "domains_changed")), 4);
    json_t *moves = json_object_get(j, "provider_moves");
    cr_assert_eq(json_integer_value(json_object_get(moves, "google -> microsoft")), 2);
    cr_assert_eq(json_object_size(moves), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "became_broken")), 1);
    json_t *dm = json_object_get(j, "dmarc_policy_moves");
    cr_assert_eq(json_integer_value(json_object_get(dm, "reject -> (none)")), 1);
    json_t *ch = json_object_get(j, "changes");
    cr_assert_eq(json_integer_value(json_object_get(ch, "added")), 1);
    cr_assert_eq(json_integer_value(json_object_get(ch, "mx_changed")), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "findings_gained"),
                                                    "provider_mismatch")), 2);
    json_decref(j);
    mx_dsummary_free(s);
}

Test(diff, changes_rows_csv_and_jsonl)
{
    struct mx_drow a = row("a.test", "ok", "10 x", "google", "", "v=spf1 a,mx -all", "none");
    struct mx_drow b = row("a.test", "ok", "10 x", "google", "dmarc_none", "v=spf1 -all", "none");
    struct mx_dchange c;
    mx_diff_compare(&a, &b, &c);
    static char buf[MX_DIFF_ROW_MAX];
    size_t n = mx_diff_format(false, &a, &b, &c, buf, sizeof buf);
    buf[n] = 0;
    cr_assert_str_eq(buf, "a.test,findings_gained;spf_changed,ok,ok,10 x,10 x,google,google,"
                          "dmarc_none,,\"v=spf1 a,mx -all\",v=spf1 -all,ok,ok,none,none\n");
    cr_assert_eq(strncmp(mx_diff_csv_header(), "domain,changes,", 15), 0);
    n = mx_diff_format(true, &a, NULL, &(struct mx_dchange){1u << MX_DK_REMOVED, 0, 0}, buf,
                       sizeof buf);
    cr_assert_gt(n, 0);
    json_error_t je;
    json_t *o = json_loadb(buf, n, 0, &je);
    cr_assert_not_null(o, "%s", je.text);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "changes"), 0)),
                     "removed");
    cr_assert_str_eq(json_string_value(json_object_get(o, "old_mx")), "10 x");
    cr_assert_str_eq(json_string_value(json_object_get(o, "new_mx")), "");
    cr_assert_eq(json_array_size(json_object_get(o, "findings_gained")), 0);
    json_decref(o);
    cr_assert_eq(mx_diff_format(false, &a, &b, &c, buf, 20), 0, "too small: 0");
}
