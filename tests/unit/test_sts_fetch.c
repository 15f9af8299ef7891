/* The MTA-STS policy fetcher (src/policy/fetch.c) against an in-process
 * HTTPS server on 127.0.0.1 (OpenSSL, a certificate chosen by SNI, an answer
 * chosen by the Host header): a valid policy, redirect, 404, wrong content
 * type, oversized bodies (with and without Content-Length), a server that
 * never answers, wrong name, expired, nothing listening, the address policy,
 * host names that exist nowhere but in the pinned addresses, the per-host
 * cache, the concurrency cap, the pacer and shutdown. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper_certs.h"
#include "mx/mta_sts.h"

#define DAY 86400L

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
#define MAXCONN 64

struct server {
    int lfd;
    uint16_t port;
    pthread_t acceptor;
    atomic_bool stop;
    SSL_CTX *ctx;
    X509 *ok_cert, *expired_cert, *ca;
    EVP_PKEY *key, *ca_key;
    pthread_mutex_t lock;
    unsigned conns, active, max_active;
    pthread_t workers[MAXCONN];
    char ca_path[64];
};

static struct server S;

struct conn {
    int fd;
    SSL *ssl;
};

static int on_sni(SSL *ssl, int *al, void *arg)
{
    (void)al;
    (void)arg;
    const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sn && strncmp(sn, "mta-sts.expired.", 16) == 0)
        SSL_use_certificate(ssl, S.expired_cert);
    return SSL_TLSEXT_ERR_OK;
}

static void write_all(SSL *ssl, const char *s, size_t n)
{
    while (n > 0) {
        int w = SSL_write(ssl, s, (int)(n > 16384 ? 16384 : n));
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void respond(SSL *ssl, const char *host)
{
    static const char policy[] = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\n"
                                 "mx: *.backup.example.test\r\nmax_age: 604800\r\n";
    char hdr[512];
    const char *kind = strncmp(host, "mta-sts.", 8) == 0 ? host + 8 : host;
    if (strncmp(kind, "slow.", 5) == 0) {
        sleep_ms(1500); /* longer than the test's timeout */
        return;
    }
    if (strncmp(kind, "redirect.", 9) == 0) {
        snprintf(hdr, sizeof hdr, "HTTP/1.1 301 Moved\r\nLocation: https://%s/other.txt\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n", host);
        write_all(ssl, hdr, strlen(hdr));
        return;
    }
    if (strncmp(kind, "missing.", 8) == 0) {
        static const char r[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n"
                                "Content-Length: 9\r\nConnection: close\r\n\r\nnot found";
        write_all(ssl, r, sizeof r - 1);
        return;
    }
    if (strncmp(kind, "big.", 4) == 0 || strncmp(kind, "chunked.", 8) == 0) {
        size_t n = 70000;
        char *body = malloc(n);
        memset(body, '#', n);
        if (kind[0] == 'b') {
            snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
            write_all(ssl, hdr, strlen(hdr));
            write_all(ssl, body, n);
        } else {
            static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            write_all(ssl, h, sizeof h - 1);
            for (size_t off = 0; off < n; off += 7000) {
                snprintf(hdr, sizeof hdr, "%x\r\n", 7000);
                write_all(ssl, hdr, strlen(hdr));
                write_all(ssl, body, 7000);
                write_all(ssl, "\r\n", 2);
            }
            write_all(ssl, "0\r\n\r\n", 5);
        }
        free(body);
        return;
    }
    const char *ct = strncmp(kind, "html.", 5) == 0      ? "text/html"
                     : strncmp(kind, "charset.", 8) == 0 ? "Text/Plain; charset=utf-8"
                                                         : "text/plain";
    if (strncmp(kind, "wait", 4) == 0)
        sleep_ms(300);
    snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n", ct, sizeof policy - 1);
    write_all(ssl, hdr, strlen(hdr));
    write_all(ssl, policy, sizeof policy - 1);
}

static void *serve(void *arg)
{
    struct conn *c = arg;
    pthread_mutex_lock(&S.lock);
    if (++S.active > S.max_active)
        S.max_active = S.active;
    pthread_mutex_unlock(&S.lock);
    char req[4096];
    size_t len = 0;
    if (SSL_accept(c->ssl) == 1) {
        while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            int r = SSL_read(c->ssl, req + len, (int)(sizeof req - 1 - len));
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = 0;
        }
        char host[256] = "";
        const char *h = strstr(req, "\r\nHost: ");
        if (h) {
            h += 8;
            size_t n = strcspn(h, "\r\n:");
            if (n < sizeof host) {
                memcpy(host, h, n);
                host[n] = 0;
            }
        }
        if (strncmp(req, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n", 39) == 0)
            respond(c->ssl, host);
        SSL_shutdown(c->ssl);
    }
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&S.lock);
    S.active--;
    pthread_mutex_unlock(&S.lock);
    ERR_clear_error();
    return NULL;
}

static void *acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&S.stop)) {
        struct pollfd p = {.fd = S.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&S.lock);
        unsigned n = S.conns < MAXCONN ? S.conns++ : MAXCONN;
        pthread_mutex_unlock(&S.lock);
        if (n == MAXCONN) {
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->ssl = SSL_new(S.ctx);
        SSL_set_fd(c->ssl, fd);
        pthread_create(&S.workers[n], NULL, serve, c);
    }
    return NULL;
}

static void setup(void)
{
    memset(&S, 0, sizeof S);
    signal(SIGPIPE, SIG_IGN); /* the client hangs up on oversized bodies */
    pthread_mutex_init(&S.lock, NULL);
    S.ca_key = certs_key();
    S.key = certs_key();
    S.ca = certs_make(S.ca_key, "fetch test CA", NULL, NULL, NULL, -DAY, 30 * DAY, true);
    /* one certificate for the test's policy hosts (SANs), one expired */
    char san[1024] = "mta-sts.ok.test,DNS:mta-sts.redirect.test,DNS:mta-sts.missing.test,"
                     "DNS:mta-sts.big.test,DNS:mta-sts.chunked.test,DNS:mta-sts.html.test,"
                     "DNS:mta-sts.charset.test,DNS:mta-sts.slow.test,DNS:mta-sts.wait.test,"
                     "DNS:mta-sts.nowhere.invalid";
    for (int i = 0; i < 8; i++)
        snprintf(san + strlen(san), sizeof san - strlen(san), ",DNS:mta-sts.wait-%d.test", i);
    S.ok_cert = certs_make(S.key, "mta-sts.ok.test", san, S.ca, S.ca_key, -DAY, 30 * DAY, false);
    S.expired_cert = certs_make(S.key, "mta-sts.expired.test", "mta-sts.expired.test", S.ca,
                                S.ca_key, -60 * DAY, -30 * DAY, false);
    cr_assert(S.ca && S.ok_cert && S.expired_cert);
    snprintf(S.ca_path, sizeof S.ca_path, "/tmp/mx-sts-ca-%d.pem", (int)getpid());
    cr_assert(certs_write_pem(S.ca_path, S.ca, NULL));
    S.ctx = SSL_CTX_new(TLS_server_method());
    cr_assert(SSL_CTX_use_certificate(S.ctx, S.ok_cert) == 1);
    cr_assert(SSL_CTX_use_PrivateKey(S.ctx, S.key) == 1);
    SSL_CTX_set_tlsext_servername_callback(S.ctx, on_sni);
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(S.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(S.lfd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(S.lfd, 64) == 0);
    socklen_t sl = sizeof a;
    getsockname(S.lfd, (struct sockaddr *)&a, &sl);
    S.port = ntohs(a.sin_port);
    pthread_create(&S.acceptor, NULL, acceptor, NULL);
}

static void teardown(void)
{
    atomic_store(&S.stop, true);
    pthread_join(S.acceptor, NULL);
    for (unsigned i = 0; i < S.conns && i < MAXCONN; i++)
        pthread_join(S.workers[i], NULL);
    close(S.lfd);
    SSL_CTX_free(S.ctx);
    X509_free(S.ca);
    X509_free(S.ok_cert);
    X509_free(S.expired_cert);
    EVP_PKEY_free(S.key);
    EVP_PKEY_free(S.ca_key);
    unlink(S.ca_path);
    pthread_mutex_destroy(&S.lock);
}

TestSuite(sts_fetch, .init = setup, .fini = teardown, .timeout = 60);

/* ---- client side ---- */

#define NREQ 32

struct got {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned n;
    struct mx_sts_fetch_result r[NREQ];
    bool have[NREQ];
    uint64_t at_ms[NREQ];
};

static struct got G;

static void on_done(void *ud, const struct mx_sts_fetch_result *r)
{
    size_t i = (size_t)(uintptr_t)ud;
    pthread_mutex_lock(&G.lock);
    G.r[i] = *r;
    G.have[i] = true;
    G.at_ms[i] = mx_now_ms();
    G.n++;
    pthread_cond_broadcast(&G.cond);
    pthread_mutex_unlock(&G.lock);
}

static void wait_for(unsigned n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&G.lock);
    while (G.n < n)
        if (pthread_cond_timedwait(&G.cond, &G.lock, &until) != 0)
            break;
    pthread_mutex_unlock(&G.lock);
    cr_assert_eq(G.n, n, "%u answers, want %u", G.n, n);
}

static struct mx_allowlist allow;

static struct mx_sts_fetch *fetcher(unsigned timeout_ms, double rate, unsigned max_fetches,
                                    uint16_t port)
{
    memset(&G, 0, sizeof G);
    pthread_mutex_init(&G.lock, NULL);
    pthread_cond_init(&G.cond, NULL);
    char err[MX_ERRLEN];
    memset(&allow, 0, sizeof allow);
    cr_assert_eq(mx_allowlist_parse(&allow, "127.0.0.0/8", err, sizeof err), MX_OK);
    struct mx_sts_fetch_cfg cfg = {.timeout_ms = timeout_ms,
                                   .fetch_rate = rate,
                                   .max_fetches = max_fetches,
                                   .port = port ? port : S.port,
                                   .ca_file = S.ca_path,
                                   .allow = &allow};
    struct mx_sts_fetch *f = mx_sts_fetch_create(&cfg, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    return f;
}

static void submit(struct mx_sts_fetch *f, size_t i, const char *domain, const char *addr)
{
    struct mx_ip ip;
    cr_assert(mx_ip_parse(addr, &ip));
    cr_assert_eq(mx_sts_fetch_submit(f, domain, &ip, 1, on_done, (void *)(uintptr_t)i), MX_OK);
}

Test(sts_fetch, outcomes)
{
    struct mx_sts_fetch *f = fetcher(1000, 1000, 16, 0);
    const char *domains[] = {"ok.test", "redirect.test", "missing.test", "html.test",
                             "big.test", "chunked.test", "slow.test", "expired.test",
                             "wrongname.test", "charset.test", "nowhere.invalid"};
    const enum mx_sts_fetch_outcome want[] = {
        MX_STS_FETCH_OK,           MX_STS_FETCH_REDIRECT, MX_STS_FETCH_HTTP_STATUS,
        MX_STS_FETCH_BAD_CONTENT_TYPE, MX_STS_FETCH_TOO_BIG, MX_STS_FETCH_TOO_BIG,
        MX_STS_FETCH_TIMEOUT,      MX_STS_FETCH_CERT_INVALID, MX_STS_FETCH_CERT_INVALID,
        MX_STS_FETCH_OK,           MX_STS_FETCH_OK};
    size_t n = sizeof domains / sizeof domains[0];
    for (size_t i = 0; i < n; i++)
        submit(f, i, domains[i], "127.0.0.1");
    wait_for((unsigned)n);
    for (size_t i = 0; i < n; i++) {
        char line[2048];
        mx_sts_fetch_result_format(&G.r[i], line, sizeof line);
        cr_expect_eq(G.r[i].outcome, want[i], "%s: %s", domains[i], line);
    }
    const struct mx_sts_fetch_result *ok = &G.r[0];
    cr_expect_str_eq(ok->host, "mta-sts.ok.test");
    cr_expect_eq(ok->status, 200);
    cr_expect_eq(ok->policy.verdict, MX_STS_POL_OK);
    cr_expect_eq(ok->policy.mode, MX_STS_MODE_ENFORCE);
    cr_expect_eq(ok->policy.max_age, 604800);
    cr_expect_eq(ok->policy.n_mx, 2);
    cr_expect_eq(ok->peer.family, 4);
    cr_expect_not(ok->cached);
    cr_expect_eq(G.r[1].status, 301);
    cr_expect_eq(G.r[2].status, 404);
    cr_expect_str_eq(G.r[3].content_type, "text/html");
    cr_expect_eq(G.r[7].cert_verify_error, X509_V_ERR_CERT_HAS_EXPIRED, "%s", G.r[7].cert_error);
    cr_expect_eq(G.r[8].cert_verify_error, X509_V_ERR_HOSTNAME_MISMATCH, "%s", G.r[8].cert_error);
    cr_expect_eq(G.r[9].policy.verdict, MX_STS_POL_OK, "text/plain with a charset");
    cr_expect_eq(G.r[10].policy.verdict, MX_STS_POL_OK,
                 "a host no resolver knows: only the pinned address was used");
    mx_sts_fetch_destroy(f);
}

Test(sts_fetch, addresses_policy_and_nothing_listening)
{
    struct mx_sts_fetch *f = fetcher(2000, 1000, 4, 1); /* port 1: nothing listens */
    struct mx_ip none[1];
    cr_assert_eq(mx_sts_fetch_submit(f, "ok.test", none, 0, on_done, (void *)0), MX_OK);
    submit(f, 1, "ok.test", "127.0.0.1");
    submit(f, 2, "other.test", "10.1.2.3"); /* private, not allowed */
    submit(f, 3, "other6.test", "::1");     /* loopback v6, not in the allow list */
    cr_expect_eq(mx_sts_fetch_submit(f, "bad_name..test", none, 0, on_done, NULL), MX_EINVAL);
    wait_for(4);
    cr_expect_eq(G.r[0].outcome, MX_STS_FETCH_NO_ADDRESS);
    cr_expect_eq(G.r[1].outcome, MX_STS_FETCH_CONNECT_FAILED, "%s", G.r[1].error);
    cr_expect_eq(G.r[2].outcome, MX_STS_FETCH_NOT_ALLOWED);
    cr_expect_eq(G.r[3].outcome, MX_STS_FETCH_NOT_ALLOWED);
    struct mx_sts_fetch_stats st;
    mx_sts_fetch_stats(f, &st);
    cr_expect_eq(st.fetches, 1);
    cr_expect_eq(st.not_allowed, 2);
    mx_sts_fetch_destroy(f);
}

Test(sts_fetch, one_fetch_per_host)
{
    struct mx_sts_fetch *f = fetcher(5000, 1000, 16, 0);
    for (size_t i = 0; i < 6; i++) /* while the first is in flight */
        submit(f, i, i % 2 ? "WAIT.test" : "wait.test", "127.0.0.1");
    wait_for(6);
    submit(f, 6, "wait.test", "127.0.0.1"); /* after: from the cache */
    wait_for(7);
    unsigned cached = 0;
    for (size_t i = 0; i < 7; i++) {
        cr_expect_eq(G.r[i].outcome, MX_STS_FETCH_OK);
        cached += G.r[i].cached;
    }
    cr_expect_eq(cached, 6);
    struct mx_sts_fetch_stats st;
    mx_sts_fetch_stats(f, &st);
    cr_expect_eq(st.fetches, 1);
    cr_expect_eq(S.conns, 1, "the server saw %u connections", S.conns);
    mx_sts_fetch_destroy(f);
}

Test(sts_fetch, concurrency_cap_and_pacer)
{
    /* 8 distinct hosts answering after 300 ms, at most 2 at a time */
    struct mx_sts_fetch *f = fetcher(5000, 1000, 2, 0);
    char names[8][32];
    uint64_t t0 = mx_now_ms();
    for (size_t i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "wait-%zu.test", i);
        submit(f, i, names[i], "127.0.0.1");
    }
    wait_for(8);
    uint64_t took = mx_now_ms() - t0;
    for (size_t i = 0; i < 8; i++)
        cr_expect_eq(G.r[i].outcome, MX_STS_FETCH_OK, "%s: %s", names[i],
                     mx_sts_fetch_outcome_name(G.r[i].outcome));
    cr_expect_leq(S.max_active, 2, "server saw %u at once", S.max_active);
    cr_expect_geq(took, 4 * 300, "took %llu ms", (unsigned long long)took);
    mx_sts_fetch_destroy(f);
    /* 5 fetches per second: 6 hosts need at least one second */
    f = fetcher(5000, 5, 16, 0);
    t0 = mx_now_ms();
    for (size_t i = 0; i < 6; i++) {
        snprintf(names[i], sizeof names[i], "wait-%zu.test", i);
        submit(f, i, names[i], "127.0.0.1");
    }
    wait_for(6);
    took = mx_now_ms() - t0;
    cr_expect_geq(took, 1000, "6 fetches at 5/s took %llu ms", (unsigned long long)took);
    mx_sts_fetch_destroy(f);
}

Test(sts_fetch, destroy_aborts)
{
    struct mx_sts_fetch *f = fetcher(10000, 1000, 1, 0);
    submit(f, 0, "slow.test", "127.0.0.1");
    submit(f, 1, "ok.test", "127.0.0.1"); /* queued behind the cap */
    sleep_ms(200);
    mx_sts_fetch_destroy(f);
    cr_expect_eq(G.n, 2);
    cr_expect_eq(G.r[0].outcome, MX_STS_FETCH_ABORTED);
    cr_expect_eq(G.r[1].outcome, MX_STS_FETCH_ABORTED);
}
