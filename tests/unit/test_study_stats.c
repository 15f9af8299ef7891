/* mx_stats_merge_runs and the column map (study.h): the run members of
 * merged statistics. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "mx/study.h"

static json_t *run(const char *shard, long domains, long sent, long hits, double elapsed,
                   const char *started, const char *stop)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:b, s:f, s:I, s:I, s:f, s:I, s:I, "
                          "s:{s:I, s:I, s:I, s:I, s:f, s:f, s:{s:I, s:I}}, "
                          "s:{s:I, s:I, s:I, s:I, s:I, s:f}, s:{s:s, s:I, s:s}}",
                          "started", started, "ended", "2026-01-01T00:10:00Z", "stop_reason",
                          stop, "resumed", 0, "elapsed_seconds", elapsed, "domains",
                          (json_int_t)domains, "domains_this_run", (json_int_t)domains,
                          "domains_per_second", 1.0, "rows_with_cut_text", (json_int_t)1,
                          "input_errors", (json_int_t)0, "queries", "sent", (json_int_t)sent,
                          "answered", (json_int_t)sent, "retried", (json_int_t)0, "timed_out",
                          (json_int_t)0, "per_second", 1.0, "per_domain", 1.0, "rcode",
                          "NOERROR", (json_int_t)sent, "SERVFAIL", (json_int_t)0, "cache",
                          "hits", (json_int_t)hits, "misses", (json_int_t)10, "inflight_joins",
                          (json_int_t)0, "evictions", (json_int_t)0, "entries", (json_int_t)10,
                          "hit_rate", 0.5, "config", "checks", "mx,spf,dmarc", "rate",
                          (json_int_t)2000, "shard", shard);
    cr_assert_not_null(r);
    return r;
}

static const char *const names[] = {"a.json", "b.json", "c.json"};
static int warned;
static void warn(const char *line)
{
    (void)line;
    warned++;
}

Test(stats_merge, sums_and_marks_counters)
{
    json_t *runs[2] = {run("1/2", 30, 100, 40, 2.0, "2026-01-01T00:00:05Z", "complete"),
                       run("2/2", 20, 60, 30, 4.0, "2026-01-01T00:00:01Z", "complete")};
    json_t *m = json_pack("{s:I}", "domains", (json_int_t)50);
    char err[256];
    warned = 0;
    cr_assert(mx_stats_merge_runs(m, runs, names, 2, warn, err, sizeof err), "%s", err);
    json_t *q = json_object_get(m, "queries"), *c = json_object_get(m, "cache");
    cr_assert_eq(json_integer_value(json_object_get(q, "sent")), 160);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(q, "rcode"), "NOERROR")),
                 160);
    cr_assert_eq(json_integer_value(json_object_get(q, "summed_over_files")), 2);
    cr_assert_float_eq(json_real_value(json_object_get(q, "per_second")), 40.0, 1e-9);
    cr_assert_float_eq(json_real_value(json_object_get(q, "per_domain")), 3.2, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(c, "hits")), 70);
    cr_assert_float_eq(json_real_value(json_object_get(c, "hit_rate")), 70.0 / 90.0, 1e-6);
    cr_assert_float_eq(json_real_value(json_object_get(m, "elapsed_seconds")), 4.0, 1e-9);
    cr_assert_eq(json_integer_value(json_object_get(m, "domains_this_run")), 50);
    cr_assert_eq(json_integer_value(json_object_get(m, "rows_with_cut_text")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(m, "started")), "2026-01-01T00:00:01Z");
    cr_assert_str_eq(json_string_value(json_object_get(m, "stop_reason")), "complete");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "config"), "shard")),
                     "1/2,2/2");
    cr_assert_eq(warned, 0, "same options apart from the shard: no warning");
    json_decref(m);
    json_decref(runs[0]);
    json_decref(runs[1]);
}

Test(stats_merge, stop_reason_config_and_mismatch)
{
    json_t *runs[2] = {run("1/2", 30, 100, 40, 2.0, "x", "complete"),
                       run("2/2", 20, 60, 30, 4.0, "y", "interrupted")};
    json_object_set_new(json_object_get(runs[1], "config"), "rate", json_integer(10));
    json_t *m = json_pack("{s:I}", "domains", (json_int_t)50);
    char err[256];
    warned = 0;
    cr_assert(mx_stats_merge_runs(m, runs, names, 2, warn, err, sizeof err), "%s", err);
    cr_assert_str_eq(json_string_value(json_object_get(m, "stop_reason")), "interrupted");
    cr_assert_eq(warned, 1, "another rate: one warning");
    json_object_set_new(m, "domains", json_integer(49));
    cr_assert_not(mx_stats_merge_runs(m, runs, names, 2, NULL, err, sizeof err));
    cr_assert(strstr(err, "count 50 domains, the results 49"), "%s", err);
    json_object_del(runs[1], "queries");
    json_object_set_new(m, "domains", json_integer(50));
    cr_assert_not(mx_stats_merge_runs(m, runs, names, 2, NULL, err, sizeof err));
    cr_assert(strstr(err, "b.json"), "%s", err);
    json_decref(m);
    json_decref(runs[0]);
    json_decref(runs[1]);
}

Test(stats_merge, unknown_without_runs)
{
    json_t *m = json_pack("{s:I, s:{}}", "domains", (json_int_t)5, "queries");
    char err[256];
    cr_assert(mx_stats_merge_runs(m, NULL, NULL, 0, NULL, err, sizeof err));
    static const char *const keys[] = {"started", "queries", "cache", "config",
                                       "elapsed_seconds", "domains_this_run", "input_errors"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(json_is_null(json_object_get(m, keys[i])), "%s", keys[i]);
    cr_assert_eq(json_integer_value(json_object_get(m, "domains")), 5);
    json_decref(m);
}

Test(colmap, finds_columns_by_name)
{
    const char *header[] = {"extra", "findings", "domain", "mail_status"};
    const char *row[] = {"x", "mx_null", "a.test", "no_mail"};
    struct mx_colmap m;
    mx_colmap_build(&m, header, 4);
    cr_assert_str_eq(mx_colmap_get(&m, row, 4, MX_COL_DOMAIN), "a.test");
    cr_assert_str_eq(mx_colmap_get(&m, row, 4, MX_COL_FINDINGS), "mx_null");
    cr_assert_str_eq(mx_colmap_get(&m, row, 4, MX_COL_MX), "", "absent column: empty");
    cr_assert_str_eq(mx_colmap_get(&m, row, 3, MX_COL_MAIL_STATUS), "", "short row: empty");
}
