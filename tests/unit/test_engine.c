/* The resolver engine (engine.h) against an in-process DNS server
 * (helper_dnsserver.c): every record finishes once; shared look-ups are
 * asked once; a record whose analysis reaches its verdict early is not
 * finished while an answer it asked for is still in flight (the stall of
 * issue 9), also when records are recycled at once; timeouts and retries
 * are counted; abort ends the workers promptly; the stall report names the
 * waiting record. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helper_dnsserver.h"
#include "mx/engine.h"

static const char ZONE[] = "mx1.shared.test A 192.0.2.1\n"
                           "mx1.shared.test AAAA 2001:db8::1\n"
                           "mx2.shared.test A 192.0.2.2\n"
                           "mx3.shared.test A 192.0.2.3\n"
                           "slow.test A 192.0.2.9\n"
                           "slow.test/A delay 300\n"
                           "fast.test A 192.0.2.8\n"
                           "gone.test/* drop\n";

/* d<i>.test MX -> one of the three shared exchanges */
static char *make_zone(unsigned n)
{
    size_t cap = sizeof ZONE + n * 64;
    char *z = malloc(cap);
    size_t w = (size_t)snprintf(z, cap, "%s", ZONE);
    for (unsigned i = 0; i < n; i++)
        w += (size_t)snprintf(z + w, cap - w, "d%u.test MX 10 mx%u.shared.test\n", i, i % 3 + 1);
    return z;
}

static void config(struct mx_config *c, const struct dns_server *s, unsigned threads)
{
    memset(c, 0, sizeof *c);
    snprintf(c->servers[0].host, sizeof c->servers[0].host, "127.0.0.1");
    c->servers[0].port = dns_server_port(s);
    c->nservers = 1;
    c->timeout_ms = 400;
    c->retries = 1;
    c->rate = 0;
    c->concurrency = 100;
    c->threads = threads;
    c->cache_entries = 1000;
    c->cache_max_age_s = 600;
}

struct job {
    atomic_int done;         /* times the done callback ran */
    atomic_uint_fast64_t done_ms;
    unsigned pending_at_done;
    char summary[128];
};

struct harness {
    struct mx_engine *eng;
    struct job *jobs;
    unsigned njobs;
    atomic_uint finished;
    /* recycling: the done callback reuses the record for the next domain */
    bool recycle;
    atomic_uint next;
    unsigned total;
};

static bool odd_job(void *ud, const struct mx_record *rec)
{
    const struct harness *h = ud;
    return (size_t)((const struct job *)rec->job - h->jobs) % 2 == 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* MX of the domain, then A of each exchange (shared). */
static bool analyze_mx(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    struct job *j = rec->job;
    const struct mx_answer *mx = mx_oracle_get(o, rec->domain, MX_T_MX, 0);
    if (!mx)
        return false;
    bool done = true;
    size_t off = 0, w = 0;
    struct mx_rdata rd;
    while (mx_answer_next(mx, &off, &rd)) {
        const struct mx_answer *a = mx_oracle_get(o, rd.name, MX_T_A, MX_Q_SHARED);
        if (!a) {
            done = false;
            continue;
        }
        size_t aoff = 0;
        struct mx_rdata ad;
        while (mx_answer_next(a, &aoff, &ad) && w < sizeof j->summary - 40) {
            char ip[64];
            mx_ip_format(&ad.ip, ip, sizeof ip);
            w += (size_t)snprintf(j->summary + w, sizeof j->summary - w, "%s=%s;", rd.name, ip);
        }
    }
    return done;
}

/* Asks slow.test and fast.test in the same round and reaches its verdict
 * as soon as fast.test is there: done while slow.test is still pending. */
static bool analyze_early(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    struct job *j = rec->job;
    const struct mx_answer *s = mx_oracle_get(o, "slow.test", MX_T_A, MX_Q_SHARED);
    const struct mx_answer *f = mx_oracle_get(o, "fast.test", MX_T_A, MX_Q_SHARED);
    (void)s;
    if (!f)
        return false;
    snprintf(j->summary, sizeof j->summary, "fast=%u", f->count);
    return true;
}

struct harness;
static bool odd_job(void *ud, const struct mx_record *rec);

/* Odd-numbered domains: the early verdict; even ones: MX and addresses. */
static bool analyze_mixed(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    return odd_job(ud, rec) ? analyze_early(ud, rec, o) : analyze_mx(ud, rec, o);
}

static bool analyze_gone(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    struct job *j = rec->job;
    const struct mx_answer *a = mx_oracle_get(o, "gone.test", MX_T_MX, 0);
    if (!a)
        return false;
    snprintf(j->summary, sizeof j->summary, "%s", mx_rc_name(a->rc));
    return true;
}

static void on_done(void *ud, struct mx_record *rec)
{
    struct harness *h = ud;
    struct job *j = rec->job;
    j->pending_at_done = rec->pending;
    atomic_store(&j->done_ms, now_ms());
    atomic_fetch_add(&j->done, 1);
    atomic_fetch_add(&h->finished, 1);
    if (h->recycle) {
        unsigned i = atomic_fetch_add(&h->next, 1);
        if (i < h->total) {
            snprintf(rec->domain, sizeof rec->domain, "d%u.test", i);
            rec->job = &h->jobs[i];
            mx_engine_submit(h->eng, rec);
        }
    }
}

static bool wait_finished(struct harness *h, unsigned n, unsigned ms)
{
    uint64_t t0 = now_ms();
    while (atomic_load(&h->finished) < n && now_ms() - t0 < ms) {
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&h->finished) >= n;
}

static void run_all(unsigned threads, mx_analysis_fn fn, unsigned n, bool recycle, unsigned nrecs,
                    struct dns_server **srv_out, struct harness *h)
{
    char *zone = make_zone(n);
    struct dns_server *srv = dns_server_start(zone);
    free(zone);
    cr_assert(srv);
    static struct mx_config cfg;
    config(&cfg, srv, threads);
    char err[256];
    memset(h, 0, sizeof *h);
    h->jobs = calloc(n, sizeof *h->jobs);
    h->njobs = n;
    h->recycle = recycle;
    h->total = n;
    cr_assert_eq(mx_engine_create(&cfg, fn, h, on_done, h, &h->eng, err, sizeof err), MX_OK, "%s",
                 err);
    cr_assert_eq(mx_engine_start(h->eng, err, sizeof err), MX_OK);
    unsigned nr = recycle ? nrecs : n;
    struct mx_record *recs = calloc(nr, sizeof *recs);
    atomic_store(&h->next, nr);
    for (unsigned i = 0; i < nr; i++) {
        snprintf(recs[i].domain, sizeof recs[i].domain, "d%u.test", i);
        recs[i].job = &h->jobs[i];
        mx_engine_submit(h->eng, &recs[i]);
    }
    cr_assert(wait_finished(h, n, 20000), "%u of %u records finished", atomic_load(&h->finished),
              n);
    mx_engine_close(h->eng);
    cr_assert(mx_engine_join_timed(h->eng, 5000));
    mx_engine_destroy(h->eng);
    free(recs);
    *srv_out = srv;
}

Test(engine, every_record_once_and_shared_lookups_once)
{
    for (unsigned threads = 1; threads <= 4; threads++) {
        struct harness h;
        struct dns_server *srv;
        run_all(threads, analyze_mx, 600, false, 0, &srv, &h);
        for (unsigned i = 0; i < 600; i++) {
            cr_assert_eq(atomic_load(&h.jobs[i].done), 1, "record %u done %d times", i,
                         atomic_load(&h.jobs[i].done));
            char want[64];
            snprintf(want, sizeof want, "mx%u.shared.test=192.0.2.%u;", i % 3 + 1, i % 3 + 1);
            cr_assert_str_eq(h.jobs[i].summary, want, "record %u", i);
        }
        /* 600 domains share three exchanges: one A query each */
        for (unsigned k = 1; k <= 3; k++) {
            char ex[32];
            snprintf(ex, sizeof ex, "mx%u.shared.test", k);
            cr_expect_eq(dns_server_count(srv, ex, "A"), 1, "%s asked %u times (threads %u)", ex,
                         dns_server_count(srv, ex, "A"), threads);
        }
        cr_expect_eq(dns_server_count(srv, NULL, "MX"), 600);
        dns_server_stop(srv);
        free(h.jobs);
    }
}

Test(engine, early_verdict_waits_for_what_it_asked)
{
    struct harness h;
    struct dns_server *srv;
    uint64_t t0 = now_ms();
    run_all(2, analyze_early, 50, false, 0, &srv, &h);
    for (unsigned i = 0; i < 50; i++) {
        cr_assert_eq(atomic_load(&h.jobs[i].done), 1);
        cr_expect_eq(h.jobs[i].pending_at_done, 0, "record %u finished while waiting", i);
        cr_expect_geq(atomic_load(&h.jobs[i].done_ms) - t0, 250,
                      "record %u finished before slow.test was answered", i);
        cr_expect_str_eq(h.jobs[i].summary, "fast=1");
    }
    cr_expect_eq(dns_server_count(srv, "slow.test", "A"), 1);
    dns_server_stop(srv);
    free(h.jobs);
}

/* The scan's pattern: few records, each reused as soon as it is done. With
 * the old engine a record finished early was reused while still linked to
 * slow.test's in-flight entry; its late answer then corrupted the reuse. */
Test(engine, recycled_records_survive_early_verdicts)
{
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct harness h;
        struct dns_server *srv;
        run_all(threads, analyze_mixed, 400, true, 3, &srv, &h);
        for (unsigned i = 0; i < 400; i++) {
            cr_assert_eq(atomic_load(&h.jobs[i].done), 1, "record %u done %d times", i,
                         atomic_load(&h.jobs[i].done));
            cr_assert_eq(h.jobs[i].pending_at_done, 0);
            char want[64];
            if (i % 2)
                snprintf(want, sizeof want, "fast=1");
            else
                snprintf(want, sizeof want, "mx%u.shared.test=192.0.2.%u;", i % 3 + 1, i % 3 + 1);
            cr_assert_str_eq(h.jobs[i].summary, want, "record %u (threads %u)", i, threads);
        }
        dns_server_stop(srv);
        free(h.jobs);
    }
}

Test(engine, timeouts_are_retried_then_counted)
{
    struct harness h;
    struct dns_server *srv;
    run_all(1, analyze_gone, 1, false, 0, &srv, &h);
    cr_expect_str_eq(h.jobs[0].summary, "TIMEOUT");
    /* retries = 1: two queries for the one look-up */
    cr_expect_eq(dns_server_count(srv, "gone.test", "MX"), 2);
    dns_server_stop(srv);
    free(h.jobs);
}

Test(engine, abort_ends_workers_promptly)
{
    struct dns_server *srv = dns_server_start(ZONE);
    cr_assert(srv);
    struct mx_config cfg;
    config(&cfg, srv, 3);
    cfg.timeout_ms = 10000;
    struct harness h;
    memset(&h, 0, sizeof h);
    h.jobs = calloc(20, sizeof *h.jobs);
    char err[256];
    cr_assert_eq(mx_engine_create(&cfg, analyze_gone, &h, on_done, &h, &h.eng, err, sizeof err),
                 MX_OK);
    cr_assert_eq(mx_engine_start(h.eng, err, sizeof err), MX_OK);
    struct mx_record *recs = calloc(20, sizeof *recs);
    for (unsigned i = 0; i < 20; i++) {
        snprintf(recs[i].domain, sizeof recs[i].domain, "d%u.test", i);
        recs[i].job = &h.jobs[i];
        mx_engine_submit(h.eng, &recs[i]);
    }
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    struct mx_counters c;
    mx_engine_counters(h.eng, &c);
    cr_expect_eq(c.active, 20);
    cr_expect_geq(c.inflight, 1);
    uint64_t t0 = now_ms();
    mx_engine_abort(h.eng);
    cr_assert(mx_engine_join_timed(h.eng, 2000));
    cr_expect_lt(now_ms() - t0, 500, "abort took %lu ms", (unsigned long)(now_ms() - t0));
    cr_expect_eq(atomic_load(&h.finished), 0);
    mx_engine_destroy(h.eng);
    for (unsigned i = 0; i < 20; i++)
        mx_engine_release(&recs[i]);
    free(recs);
    free(h.jobs);
    dns_server_stop(srv);
}

Test(engine, stall_report_names_the_waiting_record)
{
    setenv("MXSCAN_FAULT", "lose-answer:1", 1);
    struct dns_server *srv = dns_server_start(ZONE);
    cr_assert(srv);
    struct mx_config cfg;
    config(&cfg, srv, 2);
    struct harness h;
    memset(&h, 0, sizeof h);
    h.jobs = calloc(1, sizeof *h.jobs);
    char err[256];
    cr_assert_eq(mx_engine_create(&cfg, analyze_early, &h, on_done, &h, &h.eng, err, sizeof err),
                 MX_OK);
    cr_assert_eq(mx_engine_start(h.eng, err, sizeof err), MX_OK);
    struct mx_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.domain, sizeof rec.domain, "stuck.test");
    rec.job = &h.jobs[0];
    mx_engine_submit(h.eng, &rec);
    struct timespec ts = {0, 600 * 1000000L};
    nanosleep(&ts, NULL);
    struct mx_counters c;
    mx_engine_counters(h.eng, &c);
    cr_expect_eq(c.active, 1);
    cr_expect_eq(c.inflight, 0);
    cr_expect_eq(atomic_load(&h.finished), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mx_engine_describe(h.eng, f, 10, 1000);
    fclose(f);
    cr_expect(strstr(text, "stuck.test"), "%s", text);
    cr_expect(strstr(text, "never delivered"), "%s", text);
    cr_expect(strstr(text, "1 active records"), "%s", text);
    free(text);
    mx_engine_abort(h.eng);
    cr_assert(mx_engine_join_timed(h.eng, 2000));
    mx_engine_destroy(h.eng);
    mx_engine_release(&rec);
    free(h.jobs);
    dns_server_stop(srv);
}

/* ---- look-ups that are not DNS (engine.h: providers) ---- */

struct fake_provider {
    pthread_mutex_t lock;
    atomic_uint submitted;
    struct mx_ext_req *reqs[64];
    char keys[64][64];
    unsigned n;
};

static void fake_submit(void *ctx, const char *key, uint16_t qtype, struct mx_ext_req *req)
{
    struct fake_provider *fp = ctx;
    cr_assert_eq(qtype, MX_QT_SMTP);
    pthread_mutex_lock(&fp->lock);
    snprintf(fp->keys[fp->n], sizeof fp->keys[0], "%s", key);
    fp->reqs[fp->n++] = req;
    pthread_mutex_unlock(&fp->lock);
    atomic_fetch_add(&fp->submitted, 1);
}

/* Answers every request from this (not a worker's) thread: the key's
 * length as the blob. */
static void *fake_answer_all(void *arg)
{
    struct fake_provider *fp = arg;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&fp->lock);
    for (unsigned i = 0; i < fp->n; i++) {
        uint32_t len = (uint32_t)strlen(fp->keys[i]);
        mx_engine_ext_complete(fp->reqs[i], mx_answer_blob(MX_QT_SMTP, &len, sizeof len));
    }
    pthread_mutex_unlock(&fp->lock);
    return NULL;
}

/* Asks a shared SMTP-like request per domain (two keys for 300 domains)
 * and one of a type nobody provides. */
static bool analyze_ext(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    struct job *j = rec->job;
    const char *key = rec->domain[1] % 2 ? "192.0.2.1|mx1.shared.test" : "192.0.2.2|mx2.test";
    const struct mx_answer *a = mx_oracle_get(o, key, MX_QT_SMTP, MX_Q_SHARED);
    const struct mx_answer *b = mx_oracle_get(o, "x", MX_QT_AUTH_SOA, 0);
    if (!a || !b)
        return false;
    const uint32_t *len = mx_answer_blob_data(a, sizeof *len);
    snprintf(j->summary, sizeof j->summary, "%u/%s", len ? *len : 0, mx_rc_name(b->rc));
    return true;
}

Test(engine, providers_answer_from_their_own_thread)
{
    struct dns_server *srv = dns_server_start(ZONE);
    cr_assert(srv);
    struct mx_config cfg;
    config(&cfg, srv, 2);
    struct harness h;
    memset(&h, 0, sizeof h);
    h.jobs = calloc(300, sizeof *h.jobs);
    struct fake_provider fp;
    memset(&fp, 0, sizeof fp);
    pthread_mutex_init(&fp.lock, NULL);
    char err[256];
    cr_assert_eq(mx_engine_create(&cfg, analyze_ext, &h, on_done, &h, &h.eng, err, sizeof err),
                 MX_OK);
    struct mx_ext_provider p = {MX_QT_SMTP, fake_submit, &fp, 1000};
    cr_assert_eq(mx_engine_add_provider(h.eng, &p), MX_OK);
    cr_expect_eq(mx_engine_add_provider(h.eng, &p), MX_EINVAL, "twice for one type");
    cr_assert_eq(mx_engine_start(h.eng, err, sizeof err), MX_OK);
    struct mx_record *recs = calloc(300, sizeof *recs);
    for (unsigned i = 0; i < 300; i++) {
        snprintf(recs[i].domain, sizeof recs[i].domain, "d%u.test", i);
        recs[i].job = &h.jobs[i];
        mx_engine_submit(h.eng, &recs[i]);
    }
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    struct mx_counters c;
    mx_engine_counters(h.eng, &c);
    cr_expect_eq(c.ext_inflight, 2, "%lu provider requests out", (unsigned long)c.ext_inflight);
    cr_expect_eq(c.ext_max_ms, 1000);
    cr_expect_eq(atomic_load(&h.finished), 0);
    pthread_t th;
    pthread_create(&th, NULL, fake_answer_all, &fp);
    cr_assert(wait_finished(&h, 300, 10000), "%u finished", atomic_load(&h.finished));
    pthread_join(th, NULL);
    cr_expect_eq(atomic_load(&fp.submitted), 2, "the shared cache did not join the requests");
    for (unsigned i = 0; i < 300; i++) /* the keys' lengths; the unprovided type fails */
        cr_assert_str_eq(h.jobs[i].summary, recs[i].domain[1] % 2 ? "25/OTHER" : "18/OTHER",
                         "record %u", i);
    mx_engine_counters(h.eng, &c);
    cr_expect_eq(c.ext_inflight, 0);
    cr_expect_eq(c.ext_done, 2);
    mx_engine_close(h.eng);
    cr_assert(mx_engine_join_timed(h.eng, 5000));
    mx_engine_destroy(h.eng);
    free(recs);
    free(h.jobs);
    dns_server_stop(srv);
}
