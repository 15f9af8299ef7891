/* The run members of merged statistics (study.h mx_stats_merge_runs):
 * what the rows of the results cannot give, taken from the scans' own
 * --stats files. README "mxscan stats" says what each member becomes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mx/study.h"

/* The members that describe a run rather than its rows. */
static const char *const run_members[] = {
    "started",  "ended",        "stop_reason",        "resumed",      "elapsed_seconds",
    "domains_this_run", "domains_per_second", "queries", "cache", "rows_with_cut_text",
    "input_errors", "config",
};
#define NRUN (sizeof run_members / sizeof run_members[0])

static json_t *rounded(double x, double unit)
{
    return json_real(round(x / unit) * unit);
}

static double ratio(json_int_t part, json_int_t whole)
{
    return whole > 0 ? (double)part / (double)whole : 0.0;
}

static json_int_t int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* acc += v, member by member, for the integer members (objects recursively). */
static void add_counts(json_t *acc, const json_t *v)
{
    const char *k;
    json_t *a;
    json_object_foreach(acc, k, a)
    {
        json_t *b = json_object_get(v, k);
        if (json_is_integer(a) && json_is_integer(b))
            json_integer_set(a, json_integer_value(a) + json_integer_value(b));
        else if (json_is_object(a))
            add_counts(a, b);
    }
}

/* A copy of runs[0]'s member key with the integer members of every run added up. */
static json_t *summed(json_t *const *runs, size_t n, const char *key)
{
    json_t *acc = json_deep_copy(json_object_get(runs[0], key));
    for (size_t i = 1; i < n && acc; i++)
        add_counts(acc, json_object_get(runs[i], key));
    return acc;
}

static bool check_run(const json_t *r, const char *name, char *err, size_t errlen)
{
    static const char *const objects[] = {"queries", "cache", "config"};
    if (!json_is_object(r) || !json_is_integer(json_object_get(r, "domains")) ||
        !json_is_number(json_object_get(r, "elapsed_seconds"))) {
        snprintf(err, errlen, "%s is not the statistics JSON of a scan (mxscan scan --stats)",
                 name);
        return false;
    }
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (!json_is_object(json_object_get(r, objects[i]))) {
            snprintf(err, errlen, "%s: '%s' is not an object: give the --stats files of the "
                                  "scans themselves (not merged statistics)", name, objects[i]);
            return false;
        }
    return true;
}

/* started: the earliest; ended: the latest (ISO 8601 UTC sorts as text). */
static json_t *extreme_time(json_t *const *runs, size_t n, const char *key, int sign)
{
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_object_get(runs[i], key));
        if (!s)
            return json_null();
        if (!best || sign * strcmp(s, best) > 0)
            best = s;
    }
    return json_string(best);
}

/* "complete" when every run completed, else the first other reason. */
static json_t *stop_reason(json_t *const *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_object_get(runs[i], "stop_reason");
        if (!json_is_string(s) || strcmp(json_string_value(s), "complete") != 0)
            return json_is_string(s) ? json_copy(s) : json_null();
    }
    return json_string("complete");
}

/* config: the first run's, "shard" listing every run's shard; members
 * other than the shard that differ are reported through warn. */
static json_t *config(json_t *const *runs, const char *const *names, size_t n,
                      void (*warn)(const char *line))
{
    json_t *c = json_deep_copy(json_object_get(runs[0], "config"));
    json_t *first = json_deep_copy(c);
    char shards[1024] = "";
    size_t w = 0;
    for (size_t i = 0; i < n && c && first; i++) {
        json_t *ci = json_deep_copy(json_object_get(runs[i], "config"));
        const char *sh = json_string_value(json_object_get(ci, "shard"));
        if (sh && w + strlen(sh) + 2 < sizeof shards)
            w += (size_t)snprintf(shards + w, sizeof shards - w, "%s%s", w ? "," : "", sh);
        json_object_del(ci, "shard");
        json_object_del(first, "shard");
        if (warn && ci && !json_equal(ci, first)) {
            char line[1200];
            snprintf(line, sizeof line, "mxscan stats: %s was scanned with another configuration "
                     "than %s (config differs beyond the shard); the merged config is %s's",
                     names[i], names[0], names[0]);
            warn(line);
        }
        json_decref(ci);
    }
    json_decref(first);
    if (c && w)
        json_object_set_new(c, "shard", json_string(shards));
    return c;
}

static void set_unknown(json_t *merged)
{
    for (size_t i = 0; i < NRUN; i++)
        json_object_set_new(merged, run_members[i], json_null());
}

/* queries and cache, summed, with their rates recomputed. */
static void counters(json_t *merged, json_t *const *runs, size_t n, double elapsed,
                     json_int_t this_run)
{
    json_t *q = summed(runs, n, "queries"), *c = summed(runs, n, "cache");
    json_int_t sent = int_of(q, "sent");
    json_object_set_new(q, "per_second", rounded(elapsed > 0 ? (double)sent / elapsed : 0, 0.1));
    json_object_set_new(q, "per_domain", rounded(ratio(sent, this_run), 0.001));
    json_object_set_new(q, "summed_over_files", json_integer((json_int_t)n));
    json_int_t hits = int_of(c, "hits"), joins = int_of(c, "inflight_joins");
    json_object_set_new(c, "hit_rate",
                        rounded(ratio(hits + joins, hits + joins + int_of(c, "misses")), 1e-6));
    json_object_set_new(c, "summed_over_files", json_integer((json_int_t)n));
    json_object_set_new(merged, "queries", q);
    json_object_set_new(merged, "cache", c);
}

bool mx_stats_merge_runs(json_t *merged, json_t *const *runs, const char *const *names, size_t n,
                         void (*warn)(const char *line), char *err, size_t errlen)
{
    if (n == 0) {
        set_unknown(merged);
        return true;
    }
    json_int_t domains = 0, this_run = 0;
    double elapsed = 0;
    bool resumed = false;
    for (size_t i = 0; i < n; i++) {
        if (!check_run(runs[i], names[i], err, errlen))
            return false;
        domains += int_of(runs[i], "domains");
        this_run += int_of(runs[i], "domains_this_run");
        elapsed = fmax(elapsed, json_number_value(json_object_get(runs[i], "elapsed_seconds")));
        resumed = resumed || json_is_true(json_object_get(runs[i], "resumed"));
    }
    json_int_t rows = int_of(merged, "domains");
    if (domains != rows) {
        snprintf(err, errlen, "the run statistics count %lld domains, the results %lld rows: "
                 "give the --stats files of the scans that wrote these results, each once",
                 (long long)domains, (long long)rows);
        return false;
    }
    json_object_set_new(merged, "started", extreme_time(runs, n, "started", -1));
    json_object_set_new(merged, "ended", extreme_time(runs, n, "ended", 1));
    json_object_set_new(merged, "stop_reason", stop_reason(runs, n));
    json_object_set_new(merged, "resumed", json_boolean(resumed));
    json_object_set_new(merged, "elapsed_seconds", rounded(elapsed, 0.001));
    json_object_set_new(merged, "domains_this_run", json_integer(this_run));
    json_object_set_new(merged, "domains_per_second",
                        rounded(elapsed > 0 ? (double)this_run / elapsed : 0, 0.1));
    counters(merged, runs, n, elapsed, this_run);
    json_int_t cut = 0, ie = 0;
    for (size_t i = 0; i < n; i++) {
        cut += int_of(runs[i], "rows_with_cut_text");
        ie += int_of(runs[i], "input_errors");
    }
    json_object_set_new(merged, "rows_with_cut_text", json_integer(cut));
    json_object_set_new(merged, "input_errors", json_integer(ie));
    json_object_set_new(merged, "config", config(runs, names, n, warn));
    return true;
}
