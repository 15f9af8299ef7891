/* The direct-query module (consistency.h, mx_auth_*) against in-process DNS
 * servers on loopback (helper_dnsserver.c): RD clear, AA and rcodes as the
 * server sent them, no retry of REFUSED/SERVFAIL, retries of silence, TCP
 * after truncation, the answer cache and joins, the address policy, the
 * per-server and global pacers measured at the servers, presumed-down
 * addresses, channel slot eviction, and shutdown with questions pending. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helper_dnsserver.h"
#include "mx/consistency.h"
#include "mx/engine.h"

#define MAXR 256

struct got {
    struct mx_auth_reply rep;
    bool cached, presumed, tcp;
    unsigned tries;
    char qname[256];
    bool done;
};

struct coll {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned n;
    struct got g[MAXR];
};

struct slotref {
    struct coll *c;
    unsigned i;
};

static struct slotref refs[MAXR];

static void on_done(void *ud, const struct mx_auth_result *r)
{
    struct slotref *s = ud;
    struct coll *c = s->c;
    pthread_mutex_lock(&c->lock);
    struct got *g = &c->g[s->i];
    cr_assert_not(g->done, "callback called twice");
    mx_auth_reply_set(&g->rep, r);
    g->cached = r->cached;
    g->presumed = r->presumed;
    g->tcp = r->tcp;
    g->tries = r->tries;
    snprintf(g->qname, sizeof g->qname, "%s", r->qname);
    g->done = true;
    c->n++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static struct coll C;

static void coll_init(void)
{
    memset(&C, 0, sizeof C);
    pthread_mutex_init(&C.lock, NULL);
    pthread_cond_init(&C.cond, NULL);
}

static void ask(struct mx_auth *m, const char *ip, const char *name, uint16_t qtype, unsigned i)
{
    struct mx_ip a;
    cr_assert(mx_ip_parse(ip, &a));
    refs[i].c = &C;
    refs[i].i = i;
    cr_assert_eq(mx_auth_submit(m, &a, name, qtype, on_done, &refs[i]), MX_OK);
}

/* Waits until n callbacks came (at most secs). */
static void wait_for(unsigned n, unsigned secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    pthread_mutex_lock(&C.lock);
    while (C.n < n)
        if (pthread_cond_timedwait(&C.cond, &C.lock, &ts) != 0)
            break;
    unsigned got = C.n;
    pthread_mutex_unlock(&C.lock);
    cr_assert_eq(got, n, "%u of %u answers", got, n);
}

static struct mx_allowlist lo;

static struct mx_auth *make(uint16_t port, double sqps, double gqps, unsigned timeout_ms,
                            unsigned tries)
{
    char err[MX_ERRLEN];
    memset(&lo, 0, sizeof lo);
    cr_assert_eq(mx_allowlist_parse(&lo, "127.0.0.0/8", err, sizeof err), MX_OK);
    struct mx_auth_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = port;
    cfg.server_qps = sqps;
    cfg.global_qps = gqps;
    cfg.timeout_ms = timeout_ms;
    cfg.tries = tries;
    cfg.allow = &lo;
    struct mx_auth *m = mx_auth_create(&cfg, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    return m;
}

static const char *TABLE = "ex.test MX 20 mx2.ex.test\n"
                           "ex.test MX 10 MX1.ex.test\n"
                           "ex.test SOA ns1.ex.test 2024060101\n"
                           "ref.test/* refused\n"
                           "sf.test/* servfail\n"
                           "na.test MX 10 mx.na.test\n"
                           "na.test/* noaa\n"
                           "gone.test/* drop\n"
                           "big.test MX 10 a.big.test\n"
                           "big.test MX 20 b.big.test\n"
                           "big.test/MX tc\n";

Test(auth, answers_rd_clear_aa_records)
{
    coll_init();
    struct dns_server *s = dns_server_start(TABLE);
    cr_assert_not_null(s);
    struct mx_auth *m = make(dns_server_port(s), 1000, 1000, 500, 3);
    ask(m, "127.0.0.1", "Ex.Test.", MX_T_MX, 0);
    ask(m, "127.0.0.1", "ex.test", MX_T_SOA, 1);
    ask(m, "127.0.0.1", "nothere.test", MX_T_MX, 2);
    wait_for(3, 10);
    struct got *g = &C.g[0];
    cr_expect_str_eq(g->qname, "ex.test");
    cr_expect_eq(g->rep.outcome, MX_AUTH_ANSWERED);
    cr_expect_eq(g->rep.rc, MX_RC_NOERROR);
    cr_expect(g->rep.aa);
    cr_assert_not_null(g->rep.ans);
    cr_expect_eq(g->rep.ans->count, 2);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(g->rep.ans, 1, &rd));
    cr_expect_eq(rd.pref, 10);
    cr_expect_str_eq(rd.name, "mx1.ex.test");
    cr_expect_eq(g->tries, 1);
    g = &C.g[1];
    cr_expect_eq(g->rep.outcome, MX_AUTH_ANSWERED);
    cr_assert(mx_answer_get(g->rep.ans, 0, &rd));
    cr_expect_eq(rd.serial, 2024060101u);
    cr_expect_eq(C.g[2].rep.rc, MX_RC_NXDOMAIN);
    cr_expect(C.g[2].rep.aa);
    cr_expect_eq(dns_server_count(s, NULL, "*"), 3);
    cr_expect_eq(dns_server_count_rd(s), 0, "every query has RD clear");
    mx_auth_destroy(m);
    for (int i = 0; i < 3; i++)
        mx_auth_reply_clear(&C.g[i].rep);
    dns_server_stop(s);
}

Test(auth, refused_servfail_noaa_are_answers_not_retried)
{
    coll_init();
    struct dns_server *s = dns_server_start(TABLE);
    struct mx_auth *m = make(dns_server_port(s), 1000, 1000, 500, 3);
    ask(m, "127.0.0.1", "ref.test", MX_T_MX, 0);
    ask(m, "127.0.0.1", "sf.test", MX_T_SOA, 1);
    ask(m, "127.0.0.1", "na.test", MX_T_MX, 2);
    wait_for(3, 10);
    cr_expect_eq(C.g[0].rep.outcome, MX_AUTH_ANSWERED);
    cr_expect_eq(C.g[0].rep.rc, MX_RC_REFUSED);
    cr_expect_eq(C.g[1].rep.rc, MX_RC_SERVFAIL);
    cr_expect_eq(C.g[2].rep.rc, MX_RC_NOERROR);
    cr_expect_not(C.g[2].rep.aa);
    cr_expect_eq(C.g[2].rep.ans->count, 1);
    cr_expect_eq(dns_server_count(s, "ref.test", "*"), 1);
    cr_expect_eq(dns_server_count(s, "sf.test", "*"), 1);
    mx_auth_destroy(m);
    for (int i = 0; i < 3; i++)
        mx_auth_reply_clear(&C.g[i].rep);
    dns_server_stop(s);
}

Test(auth, silence_is_retried_then_timeout)
{
    coll_init();
    struct dns_server *s = dns_server_start(TABLE);
    struct mx_auth *m = make(dns_server_port(s), 1000, 1000, 200, 3);
    ask(m, "127.0.0.1", "gone.test", MX_T_MX, 0);
    wait_for(1, 10);
    cr_expect_eq(C.g[0].rep.outcome, MX_AUTH_TIMEOUT);
    cr_expect_eq(C.g[0].tries, 3);
    cr_expect_not(C.g[0].presumed);
    cr_expect_eq(dns_server_count(s, "gone.test", "MX"), 3);
    /* the timeout is kept: asking again sends nothing */
    ask(m, "127.0.0.1", "gone.test", MX_T_MX, 1);
    wait_for(2, 5);
    cr_expect_eq(C.g[1].rep.outcome, MX_AUTH_TIMEOUT);
    cr_expect(C.g[1].cached);
    cr_expect_eq(dns_server_count(s, "gone.test", "MX"), 3);
    mx_auth_destroy(m);
    dns_server_stop(s);
}

Test(auth, truncated_answer_asked_again_over_tcp)
{
    coll_init();
    struct dns_server *s = dns_server_start(TABLE);
    cr_assert_not_null(s);
    struct mx_auth *m = make(dns_server_port(s), 1000, 1000, 1000, 3);
    ask(m, "127.0.0.1", "big.test", MX_T_MX, 0);
    wait_for(1, 10);
    struct got *g = &C.g[0];
    cr_expect_eq(g->rep.outcome, MX_AUTH_ANSWERED);
    cr_expect(g->tcp);
    cr_expect(g->rep.tcp);
    cr_assert_not_null(g->rep.ans);
    cr_expect_eq(g->rep.ans->count, 2);
    cr_expect_eq(g->tries, 2);
    cr_expect_eq(dns_server_count(s, "big.test", "MX"), 2);
    cr_expect_eq(dns_server_count_tcp(s), 1);
    struct mx_auth_stats st;
    mx_auth_stats(m, &st);
    cr_expect_eq(st.sent, 2);
    cr_expect_eq(st.sent_tcp, 1);
    mx_auth_destroy(m);
    mx_auth_reply_clear(&g->rep);
    dns_server_stop(s);
}

Test(auth, identical_questions_asked_once)
{
    coll_init();
    struct dns_server *s = dns_server_start("ex.test MX 10 mx.ex.test\nex.test/MX delay 200\n");
    struct mx_auth *m = make(dns_server_port(s), 1000, 1000, 1000, 3);
    for (unsigned i = 0; i < 5; i++)
        ask(m, "127.0.0.1", i % 2 ? "EX.test" : "ex.test.", MX_T_MX, i);
    wait_for(5, 10);
    ask(m, "127.0.0.1", "ex.test", MX_T_MX, 5);
    wait_for(6, 10);
    cr_expect_eq(dns_server_count(s, "ex.test", "MX"), 1);
    unsigned cached = 0;
    for (unsigned i = 0; i < 6; i++) {
        cr_expect_eq(C.g[i].rep.outcome, MX_AUTH_ANSWERED);
        cached += C.g[i].cached;
        mx_auth_reply_clear(&C.g[i].rep);
    }
    cr_expect_eq(cached, 5);
    struct mx_auth_stats st;
    mx_auth_stats(m, &st);
    cr_expect_eq(st.questions, 1);
    cr_expect_eq(st.joins + st.cache_hits, 5);
    cr_expect_geq(st.cache_hits, 1);
    cr_expect_eq(st.requests, 6);
    cr_expect_eq(st.completed, 6);
    mx_auth_destroy(m);
    dns_server_stop(s);
}

Test(auth, addresses_outside_policy_are_not_asked)
{
    coll_init();
    struct dns_server *s = dns_server_start(TABLE);
    char err[MX_ERRLEN];
    struct mx_auth_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = dns_server_port(s);
    struct mx_auth *m = mx_auth_create(&cfg, err, sizeof err); /* no allow list */
    cr_assert_not_null(m, "%s", err);
    ask(m, "127.0.0.1", "ex.test", MX_T_MX, 0);
    ask(m, "10.1.2.3", "ex.test", MX_T_MX, 1);
    wait_for(2, 5);
    cr_expect_eq(C.g[0].rep.outcome, MX_AUTH_NOT_ALLOWED);
    cr_expect_eq(C.g[1].rep.outcome, MX_AUTH_NOT_ALLOWED);
    cr_expect_eq(dns_server_count(s, NULL, "*"), 0);
    struct mx_ip a;
    mx_ip_parse("127.0.0.1", &a);
    cr_expect_eq(mx_auth_submit(m, &a, "", MX_T_MX, on_done, &refs[2]), MX_EINVAL);
    cr_expect_eq(mx_auth_submit(m, &a, "x.test", MX_T_MX, NULL, NULL), MX_EINVAL);
    mx_auth_destroy(m);
    dns_server_stop(s);
}

/* Most arrivals in any window of ms milliseconds. */
static unsigned max_in_window(uint64_t *t, unsigned n, uint64_t ms)
{
    for (unsigned i = 1; i < n; i++) { /* insertion sort */
        uint64_t v = t[i];
        unsigned j = i;
        while (j > 0 && t[j - 1] > v) {
            t[j] = t[j - 1];
            j--;
        }
        t[j] = v;
    }
    unsigned best = 0;
    for (unsigned i = 0, j = 0; i < n; i++) {
        while (t[i] - t[j] >= ms)
            j++;
        if (i - j + 1 > best)
            best = i - j + 1;
    }
    return best;
}

Test(auth, per_server_pacer_measured_at_the_server)
{
    enum { N = 40 };
    coll_init();
    char table[8192] = "";
    for (int i = 0; i < N; i++) {
        char line[64];
        snprintf(line, sizeof line, "d%d.test MX 10 mx.d%d.test\n", i, i);
        strcat(table, line);
    }
    struct dns_server *s = dns_server_start(table);
    struct mx_auth *m = make(dns_server_port(s), 20, 1000, 1000, 3);
    for (unsigned i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%u.test", i);
        ask(m, "127.0.0.1", name, MX_T_MX, i);
    }
    wait_for(N, 20);
    uint64_t t[N];
    cr_assert_eq(dns_server_times(s, t, N), N);
    unsigned w = max_in_window(t, N, 1000);
    cr_expect_leq(w, 20 + 2, "%u queries within one second at 20 q/s", w);
    cr_expect_geq(t[N - 1] - t[0], (N - 1) * 50 - 60, "spread over %lu ms",
                  (unsigned long)(t[N - 1] - t[0]));
    for (unsigned i = 0; i < N; i++)
        mx_auth_reply_clear(&C.g[i].rep);
    mx_auth_destroy(m);
    dns_server_stop(s);
}

Test(auth, global_pacer_over_two_servers)
{
    enum { N = 20 };
    coll_init();
    char table[8192] = "";
    for (int i = 0; i < N; i++) {
        char line[64];
        snprintf(line, sizeof line, "g%d.test MX 10 mx.g%d.test\n", i, i);
        strcat(table, line);
    }
    struct dns_server *a = dns_server_start(table);
    cr_assert_not_null(a);
    struct dns_server *b = dns_server_start_at("127.0.0.2", dns_server_port(a), table);
    cr_assert_not_null(b, "127.0.0.2 on the same port");
    struct mx_auth *m = make(dns_server_port(a), 1000, 25, 1000, 3);
    for (unsigned i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "g%u.test", i);
        ask(m, "127.0.0.1", name, MX_T_MX, 2 * i);
        ask(m, "127.0.0.2", name, MX_T_MX, 2 * i + 1);
    }
    wait_for(2 * N, 20);
    uint64_t t[2 * N];
    cr_assert_eq(dns_server_times(a, t, N), N);
    cr_assert_eq(dns_server_times(b, t + N, N), N);
    unsigned w = max_in_window(t, 2 * N, 1000);
    cr_expect_leq(w, 25 + 2, "%u queries within one second at 25 q/s in all", w);
    cr_expect_geq(t[2 * N - 1] - t[0], (2 * N - 1) * 40 - 60);
    for (unsigned i = 0; i < 2 * N; i++)
        mx_auth_reply_clear(&C.g[i].rep);
    mx_auth_destroy(m);
    dns_server_stop(a);
    dns_server_stop(b);
}

Test(auth, silent_server_presumed_down)
{
    enum { N = 12 };
    coll_init();
    char table[4096] = "";
    for (int i = 0; i < N; i++) {
        char line[64];
        snprintf(line, sizeof line, "q%d.test/* drop\n", i);
        strcat(table, line);
    }
    struct dns_server *s = dns_server_start(table);
    char err[MX_ERRLEN];
    memset(&lo, 0, sizeof lo);
    mx_allowlist_parse(&lo, "127.0.0.0/8", err, sizeof err);
    struct mx_auth_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = dns_server_port(s);
    cfg.server_qps = 20; /* 50 ms apart: the later questions are still queued */
    cfg.timeout_ms = 150;
    cfg.tries = 2;
    cfg.dead_after = 4;
    cfg.dead_hold_ms = 60000;
    cfg.allow = &lo;
    struct mx_auth *m = mx_auth_create(&cfg, err, sizeof err);
    cr_assert_not_null(m);
    for (unsigned i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "q%u.test", i);
        ask(m, "127.0.0.1", name, MX_T_MX, i);
    }
    wait_for(N, 20);
    unsigned presumed = 0;
    for (unsigned i = 0; i < N; i++) {
        cr_expect_eq(C.g[i].rep.outcome, MX_AUTH_TIMEOUT);
        presumed += C.g[i].presumed;
    }
    unsigned sent = dns_server_count(s, NULL, "*");
    cr_expect_lt(sent, 2 * N, "%u packets to a silent server", sent);
    cr_expect_gt(presumed, 0);
    struct mx_auth_stats st;
    mx_auth_stats(m, &st);
    cr_expect_eq(st.presumed, presumed);
    cr_expect_eq(st.sent, sent);
    mx_auth_destroy(m);
    dns_server_stop(s);
}

Test(auth, one_channel_slot_serves_many_servers)
{
    coll_init();
    struct dns_server *a = dns_server_start(TABLE);
    struct dns_server *b = dns_server_start_at("127.0.0.3", dns_server_port(a), TABLE);
    cr_assert_not_null(b);
    char err[MX_ERRLEN];
    memset(&lo, 0, sizeof lo);
    mx_allowlist_parse(&lo, "127.0.0.0/8", err, sizeof err);
    struct mx_auth_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = dns_server_port(a);
    cfg.server_qps = 1000;
    cfg.global_qps = 1000;
    cfg.max_servers = 1;
    cfg.allow = &lo;
    struct mx_auth *m = mx_auth_create(&cfg, err, sizeof err);
    cr_assert_not_null(m);
    ask(m, "127.0.0.1", "ex.test", MX_T_MX, 0);
    ask(m, "127.0.0.3", "ex.test", MX_T_MX, 1);
    ask(m, "127.0.0.1", "ex.test", MX_T_SOA, 2);
    ask(m, "127.0.0.3", "ex.test", MX_T_SOA, 3);
    wait_for(4, 10);
    for (unsigned i = 0; i < 4; i++) {
        cr_expect_eq(C.g[i].rep.outcome, MX_AUTH_ANSWERED);
        mx_auth_reply_clear(&C.g[i].rep);
    }
    cr_expect_eq(dns_server_count(a, NULL, "*"), 2);
    cr_expect_eq(dns_server_count(b, NULL, "*"), 2);
    struct mx_auth_stats st;
    mx_auth_stats(m, &st);
    cr_expect_geq(st.channel_evictions, 1);
    mx_auth_destroy(m);
    dns_server_stop(a);
    dns_server_stop(b);
}

Test(auth, destroy_aborts_pending_questions)
{
    coll_init();
    struct dns_server *s = dns_server_start("slow.test/* delay 3000\n");
    struct mx_auth *m = make(dns_server_port(s), 2, 1000, 5000, 3);
    for (unsigned i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%u.slow.test", i);
        ask(m, "127.0.0.1", i == 0 ? "slow.test" : name, MX_T_MX, i);
    }
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    mx_auth_destroy(m);
    cr_expect_eq(C.n, 4, "every request answered by destroy");
    for (unsigned i = 0; i < 4; i++)
        cr_expect_eq(C.g[i].rep.outcome, MX_AUTH_ABORTED, "request %u", i);
    dns_server_stop(s);
}

/* The engine-provider glue: keys, and answers that are not the module's
 * blobs (the engine's own failure, foreign or damaged blobs) read as errors. */
Test(auth, provider_keys_and_foreign_answers)
{
    struct mx_ip ip;
    cr_assert(mx_ip_parse("2001:db8::53", &ip));
    char key[128];
    cr_expect_eq(mx_auth_key(&ip, "a.test", key, sizeof key), strlen("2001:db8::53|a.test"));
    cr_expect_str_eq(key, "2001:db8::53|a.test");
    struct mx_auth_reply r;
    memset(&r, 0, sizeof r);
    struct mx_answer *fail = mx_answer_failure(MX_RC_OTHER, MX_QT_AUTH_MX);
    cr_expect_not(mx_auth_reply_from_answer(&r, fail));
    cr_expect_eq(r.outcome, MX_AUTH_ERROR);
    free(fail);
    unsigned char junk[12] = {0x11, 1, 0, 1, 0, 0, 0, 0};
    struct mx_answer *b = mx_answer_blob(MX_QT_AUTH_SOA, junk, sizeof junk);
    cr_expect_not(mx_auth_reply_from_answer(&r, b), "wrong magic");
    free(b);
    junk[0] = 0xA5;
    junk[4] = 0xff; /* claims more bytes than there are */
    b = mx_answer_blob(MX_QT_AUTH_SOA, junk, sizeof junk);
    cr_expect_not(mx_auth_reply_from_answer(&r, b), "overlong");
    free(b);
    junk[4] = 0;
    b = mx_answer_blob(MX_QT_SMTP, junk, sizeof junk);
    cr_expect_not(mx_auth_reply_from_answer(&r, b), "another provider's blob");
    free(b);
    b = mx_answer_blob(MX_QT_AUTH_SOA, junk, 8);
    cr_expect(mx_auth_reply_from_answer(&r, b), "a timeout-like blob without records");
    cr_expect_eq(r.outcome, MX_AUTH_ANSWERED);
    cr_expect(r.aa);
    cr_expect_null(r.ans);
    free(b);
    mx_auth_reply_clear(&r);
}
