/* Test driver for authoritative consistency (consistency.h): the whole
 * procedure a scan runs, for a list of domains read from stdin (one a line,
 * repeats allowed), as one analysis in the scan engine with the module
 * registered as its provider of authoritative questions:
 *   1. through the recursive resolver (the engine's shared cache): NS of the
 *      domain, then A and AAAA of each NS name;
 *   2. through the oracle, answered by the module: MX and SOA of the domain
 *      asked of every address of every NS name, without recursion
 *      (MX_QT_AUTH_MX/SOA, keys "ADDR|DOMAIN");
 *   3. the judgement; one JSON line per input line, in input order:
 *      {"domain", "ns_rcode", "findings": [...], "ns_servers", "ns_mx_sets",
 *       "ns_serials", "detail": {mx_cons_to_json}}
 * The module's counters and the timings go to stderr as one JSON object.
 *
 *   cons_cli --resolver ADDR:PORT [--port N] [--allow CIDR[,...]]
 *            [--server-qps Q] [--global-qps Q] [--timeout-ms N] [--tries N]
 *            [--max-servers N]
 * Exit 0 when every line got its row, 1 on errors, 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli_num.h"
#include "mx/consistency.h"
#include "mx/engine.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static size_t outstanding;

/* The engine runs this again from scratch until every answer is there. */
static bool analyze(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    return mx_cons_gather(rec->job, rec->domain, o);
}

static void on_done(void *ud, struct mx_record *rec)
{
    (void)ud;
    (void)rec;
    pthread_mutex_lock(&lock);
    outstanding--;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static unsigned num(const char *opt, const char *s)
{
    return cli_num("cons_cli", opt, s, 4000000000ul);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Options into the module's and the engine's settings; exits 2 on bad usage. */
static void parse_args(int argc, char **argv, struct mx_auth_cfg *acfg, struct mx_config *cfg,
                       struct mx_allowlist *allow)
{
    static const struct option lopts[] = {
        {"resolver", 1, 0, 'r'},   {"port", 1, 0, 'p'},       {"allow", 1, 0, 'a'},
        {"server-qps", 1, 0, 's'}, {"global-qps", 1, 0, 'g'}, {"timeout-ms", 1, 0, 't'},
        {"tries", 1, 0, 'n'},      {"max-servers", 1, 0, 'm'}, {0, 0, 0, 0}};
    char err[MX_ERRLEN];
    const char *resolver = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'r': resolver = optarg; break;
        case 'p': acfg->port = (uint16_t)num("--port", optarg); break;
        case 'a':
            if (mx_allowlist_parse(allow, optarg, err, sizeof err) != MX_OK) {
                fprintf(stderr, "cons_cli: %s\n", err);
                exit(2);
            }
            break;
        case 's': acfg->server_qps = strtod(optarg, NULL); break;
        case 'g': acfg->global_qps = strtod(optarg, NULL); break;
        case 't': acfg->timeout_ms = num("--timeout-ms", optarg); break;
        case 'n': acfg->tries = num("--tries", optarg); break;
        case 'm': acfg->max_servers = num("--max-servers", optarg); break;
        default: exit(2);
        }
    }
    const char *colon = resolver ? strrchr(resolver, ':') : NULL;
    if (!colon || (size_t)(colon - resolver) >= sizeof cfg->servers[0].host) {
        fprintf(stderr, "cons_cli: --resolver ADDR:PORT is required\n");
        exit(2);
    }
    memcpy(cfg->servers[0].host, resolver, (size_t)(colon - resolver));
    cfg->servers[0].port = (uint16_t)num("--resolver port", colon + 1);
    cfg->nservers = 1;
    cfg->timeout_ms = 2000;
    cfg->retries = 2;
    cfg->rate = 0;
    cfg->concurrency = 200;
    cfg->threads = 1;
    cfg->cache_entries = 100000;
    cfg->cache_max_age_s = 600;
    cfg->allow = *allow;
}

/* One record per input line (blank lines skipped); exits on bad input. */
static struct mx_record *read_input(size_t *count)
{
    size_t n = 0, cap = 0;
    struct mx_record *recs = NULL;
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t ll = strlen(line);
        if (!ll)
            continue;
        if (ll > MX_NAME_MAX) {
            fprintf(stderr, "cons_cli: name too long: %s\n", line);
            exit(2);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            recs = realloc(recs, cap * sizeof *recs);
            if (!recs)
                exit(1);
        }
        struct mx_record *r = &recs[n++];
        memset(r, 0, sizeof *r);
        r->valid = true;
        r->seq = n - 1;
        memcpy(r->domain, line, ll + 1);
        r->job = calloc(1, sizeof(struct mx_cons_work));
        if (!r->job)
            exit(1);
    }
    *count = n;
    return recs;
}

/* Runs every record through an engine with the module as its provider;
 * returns the engine, joined but not destroyed (NULL on failure). */
static struct mx_engine *run(const struct mx_config *cfg, struct mx_auth *m,
                             struct mx_record *recs, size_t n)
{
    char err[MX_ERRLEN];
    struct mx_engine *eng = NULL;
    if (mx_engine_create(cfg, analyze, NULL, on_done, NULL, &eng, err, sizeof err) != MX_OK ||
        mx_auth_add_providers(m, eng) != MX_OK || mx_engine_start(eng, err, sizeof err) != MX_OK) {
        fprintf(stderr, "cons_cli: %s\n", err);
        mx_engine_destroy(eng);
        return NULL;
    }
    outstanding = n;
    for (size_t i = 0; i < n; i++)
        mx_engine_submit(eng, &recs[i]);
    pthread_mutex_lock(&lock);
    while (outstanding > 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    mx_engine_close(eng);
    mx_engine_join(eng);
    return eng;
}

/* Judges one domain and prints its row; frees what it held. */
static bool print_row(struct mx_record *rec)
{
    struct mx_cons_work *w = rec->job;
    static struct mx_cons_verdict v;
    mx_cons_judge(w->ns, w->apex ? w->nns : 0, &v);
    char servers[4096], sets[4096], serials[2048];
    mx_cons_format_servers(w->ns, &v, servers, sizeof servers);
    mx_cons_format_mx_sets(&v, sets, sizeof sets);
    mx_cons_format_serials(&v, serials, sizeof serials);
    json_t *detail = mx_cons_to_json(w->ns, &v);
    json_t *row = json_object();
    json_object_set_new(row, "domain", json_string(rec->domain));
    json_object_set_new(row, "ns_rcode", json_string(mx_rc_name(w->ns_rc)));
    json_object_set_new(row, "judged", json_boolean(v.judged));
    json_object_set(row, "findings", json_object_get(detail, "findings"));
    json_object_set_new(row, "ns_servers", json_string(servers));
    json_object_set_new(row, "ns_mx_sets", json_string(sets));
    json_object_set_new(row, "ns_serials", json_string(serials));
    json_object_set_new(row, "detail", detail);
    char *s = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(row);
    mx_cons_work_clear(w);
    free(w);
    rec->job = NULL;
    return s != NULL;
}

int main(int argc, char **argv)
{
    struct mx_auth_cfg acfg;
    struct mx_config cfg;
    struct mx_allowlist allow;
    char err[MX_ERRLEN];
    memset(&acfg, 0, sizeof acfg);
    memset(&cfg, 0, sizeof cfg);
    memset(&allow, 0, sizeof allow);
    acfg.allow = &allow;
    parse_args(argc, argv, &acfg, &cfg, &allow);
    size_t n;
    struct mx_record *recs = read_input(&n);

    double t0 = now_s();
    struct mx_auth *m = mx_auth_create(&acfg, err, sizeof err);
    if (!m) {
        fprintf(stderr, "cons_cli: %s\n", err);
        return 1;
    }
    struct mx_engine *eng = n ? run(&cfg, m, recs, n) : NULL;
    if (n && !eng)
        return 1;
    double t1 = now_s();
    struct mx_auth_stats st;
    mx_auth_stats(m, &st);
    /* The stop order of a provider: the engine's workers are joined; the
     * module's thread is joined next (a callback may still be inside
     * mx_engine_ext_complete, which touches the engine after waking the
     * record's worker); the engine goes last. */
    mx_auth_destroy(m);
    mx_engine_destroy(eng);
    /* 3. judge and print */
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (!print_row(&recs[i]))
            rc = 1;
    free(recs);
    fprintf(stderr,
            "{\"requests\":%llu,\"completed\":%llu,\"questions\":%llu,\"sent\":%llu,"
            "\"sent_tcp\":%llu,\"responses\":%llu,\"unanswered\":%llu,\"cache_hits\":%llu,"
            "\"joins\":%llu,\"not_allowed\":%llu,\"presumed\":%llu,\"channel_evictions\":%llu,"
            "\"seconds\":%.3f}\n",
            (unsigned long long)st.requests, (unsigned long long)st.completed,
            (unsigned long long)st.questions, (unsigned long long)st.sent,
            (unsigned long long)st.sent_tcp, (unsigned long long)st.responses,
            (unsigned long long)st.unanswered, (unsigned long long)st.cache_hits,
            (unsigned long long)st.joins, (unsigned long long)st.not_allowed,
            (unsigned long long)st.presumed, (unsigned long long)st.channel_evictions, t1 - t0);
    return rc;
}
