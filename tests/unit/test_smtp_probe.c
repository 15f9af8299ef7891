/* The SMTP probe's state machine (src/smtp) against an in-process fake
 * server on loopback (127.0.0.2..), which plays a script per connection and
 * logs the commands it receives: replies split across reads, multi-line and
 * oversized replies, early closes, 421/554 greetings, timeouts, HELO
 * fallback, STARTTLS refused, TLS failures with a plain retry for RCPT, a
 * real handshake, RCPT batches with RSET, 452 retries, error caps, lost
 * connections, the caches, one connection per address, the pacer, the
 * address policy and shutdown. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helper_certs.h"
#include "mx/smtp.h"

/* ---- fake server ---- */

#define FAKE_ADDRS 4
#define FAKE_CONNS 64

struct fake {
    int lfd[FAKE_ADDRS];
    unsigned naddr;
    uint16_t port;
    const char *const *scripts; /* per address, or connection i plays scripts[min(i, n - 1)] */
    size_t nscripts;
    pthread_t acceptor;
    atomic_bool stop;
    pthread_mutex_t lock;
    unsigned conns;
    unsigned active[FAKE_ADDRS], max_active[FAKE_ADDRS];
    uint64_t accept_ms[FAKE_CONNS];
    pthread_t workers[FAKE_CONNS];
    char log[1 << 16]; /* "N:LINE\n" per command received, N the connection */
    size_t loglen;
    SSL_CTX *tls;
    X509 *cert;
    EVP_PKEY *key;
};

struct fconn {
    struct fake *f;
    unsigned n, addr;
    int fd;
    SSL *ssl;
    char buf[8192];
    size_t len;
};

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void flog(struct fconn *c, const char *line)
{
    struct fake *f = c->f;
    pthread_mutex_lock(&f->lock);
    int n = snprintf(f->log + f->loglen, sizeof f->log - f->loglen, "%u:%s\n", c->n, line);
    if (n > 0 && f->loglen + (size_t)n < sizeof f->log)
        f->loglen += (size_t)n;
    pthread_mutex_unlock(&f->lock);
}

static bool fsend(struct fconn *c, const char *s, size_t n)
{
    if (c->ssl)
        return SSL_write(c->ssl, s, (int)n) == (int)n;
    return send(c->fd, s, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* One line without its CRLF; false at EOF or after 5 s. */
static bool fline(struct fconn *c, char *out, size_t outlen)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t l = (size_t)(nl - c->buf);
            size_t k = l && c->buf[l - 1] == '\r' ? l - 1 : l;
            snprintf(out, outlen, "%.*s", (int)k, c->buf);
            memmove(c->buf, nl + 1, c->len - l - 1);
            c->len -= l + 1;
            return true;
        }
        if (!c->ssl || SSL_pending(c->ssl) <= 0) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            if (poll(&pfd, 1, 5000) <= 0)
                return false;
        }
        int n = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len))
                       : (int)recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n <= 0)
            return false;
        c->len += (size_t)n;
    }
}

static void serve(struct fconn *c, const char *args)
{
    unsigned code = 250, closeafter = 0, at452 = 0, rcpts = 0, txn = 0;
    sscanf(args, "%u", &code);
    const char *p;
    if ((p = strstr(args, "closeafter=")))
        closeafter = (unsigned)atoi(p + 11);
    if ((p = strstr(args, "452at=")))
        at452 = (unsigned)atoi(p + 6);
    char line[1024], reply[128];
    while (fline(c, line, sizeof line)) {
        flog(c, line);
        if (strncasecmp(line, "MAIL", 4) == 0) {
            txn = 0;
            fsend(c, "250 ok\r\n", 8);
        } else if (strncasecmp(line, "RCPT", 4) == 0) {
            rcpts++;
            txn++;
            if (closeafter && rcpts == closeafter)
                return;
            if (at452 && txn == at452)
                snprintf(reply, sizeof reply, "452 4.5.3 too many recipients\r\n");
            else
                snprintf(reply, sizeof reply, "%u %s\r\n", code, code < 400 ? "ok" : "no thanks");
            fsend(c, reply, strlen(reply));
        } else if (strncasecmp(line, "RSET", 4) == 0) {
            txn = 0;
            fsend(c, "250 ok\r\n", 8);
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            fsend(c, "221 bye\r\n", 9);
            return;
        } else {
            fsend(c, "500 what\r\n", 10);
        }
    }
}

static void play(struct fconn *c, const char *script)
{
    char *copy = strdup(script), *save = NULL;
    char line[70000];
    for (char *cmd = strtok_r(copy, "\n", &save); cmd; cmd = strtok_r(NULL, "\n", &save)) {
        if (strncmp(cmd, "<< ", 3) == 0) {
            fsend(c, cmd + 3, strlen(cmd + 3));
        } else if (strncmp(cmd, "< ", 2) == 0) {
            snprintf(line, sizeof line, "%s\r\n", cmd + 2);
            fsend(c, line, strlen(line));
        } else if (strncmp(cmd, "> ", 2) == 0) {
            if (!fline(c, line, sizeof line)) {
                flog(c, "!eof");
                break;
            }
            flog(c, line);
            if (strncasecmp(line, cmd + 2, strlen(cmd + 2)) != 0) {
                flog(c, "!unexpected");
                break;
            }
        } else if (strncmp(cmd, "pause ", 6) == 0) {
            msleep(atoi(cmd + 6));
        } else if (strcmp(cmd, "close") == 0) {
            break;
        } else if (strcmp(cmd, "hang") == 0) {
            while (fline(c, line, sizeof line))
                flog(c, line);
            break;
        } else if (strcmp(cmd, "garbage") == 0) {
            fsend(c, "this is not TLS at all\r\n", 24);
        } else if (strncmp(cmd, "big ", 4) == 0) {
            int n = atoi(cmd + 4);
            memset(line, 'x', 204);
            memcpy(line, "250-", 4);
            memcpy(line + 202, "\r\n", 2);
            for (int i = 0; i < n; i++)
                if (!fsend(c, line, 204))
                    break;
        } else if (strcmp(cmd, "tls") == 0) {
            c->ssl = SSL_new(c->f->tls);
            SSL_set_fd(c->ssl, c->fd);
            if (SSL_accept(c->ssl) != 1) {
                flog(c, "!tls");
                break;
            }
            const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
            snprintf(line, sizeof line, "SNI %s", sni ? sni : "-");
            flog(c, line);
        } else if (strncmp(cmd, "serve", 5) == 0) {
            serve(c, cmd + 5);
            break;
        }
    }
    free(copy);
}

static void *worker(void *arg)
{
    struct fconn *c = arg;
    struct fake *f = c->f;
    /* one script per address when there are as many, else per connection */
    size_t k = f->nscripts == f->naddr && f->naddr > 1 ? c->addr : c->n;
    play(c, f->scripts[k < f->nscripts ? k : f->nscripts - 1]);
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    pthread_mutex_lock(&f->lock);
    f->active[c->addr]--;
    pthread_mutex_unlock(&f->lock);
    free(c);
    return NULL;
}

static void *acceptor(void *arg)
{
    struct fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd pfd[FAKE_ADDRS];
        for (unsigned i = 0; i < f->naddr; i++)
            pfd[i] = (struct pollfd){f->lfd[i], POLLIN, 0};
        if (poll(pfd, f->naddr, 20) <= 0)
            continue;
        for (unsigned i = 0; i < f->naddr; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            int fd = accept(f->lfd[i], NULL, NULL);
            if (fd < 0)
                continue;
            pthread_mutex_lock(&f->lock);
            if (f->conns >= FAKE_CONNS) {
                pthread_mutex_unlock(&f->lock);
                close(fd);
                continue;
            }
            struct fconn *c = calloc(1, sizeof *c);
            c->f = f;
            c->n = f->conns;
            c->addr = i;
            c->fd = fd;
            f->accept_ms[f->conns] = ms_now();
            if (++f->active[i] > f->max_active[i])
                f->max_active[i] = f->active[i];
            pthread_create(&f->workers[f->conns], NULL, worker, c);
            f->conns++;
            pthread_mutex_unlock(&f->lock);
        }
    }
    return NULL;
}

/* Listens on 127.0.0.2 .. 127.0.0.(1 + naddr), one port for all; naddr 0:
 * on [::1]. */
static void fake_start(struct fake *f, unsigned naddr, const char *const *scripts, size_t n)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->naddr = naddr;
    f->scripts = scripts;
    f->nscripts = n;
    f->key = certs_key();
    f->cert = certs_make(f->key, "fake.test", "fake.test", NULL, NULL, -3600, 86400, false);
    f->tls = SSL_CTX_new(TLS_server_method());
    cr_assert(f->tls && f->cert && SSL_CTX_use_certificate(f->tls, f->cert) == 1 &&
              SSL_CTX_use_PrivateKey(f->tls, f->key) == 1);
    if (naddr == 0) { /* one listener on [::1] */
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_loopback;
        f->naddr = 1;
        f->lfd[0] = socket(AF_INET6, SOCK_STREAM, 0);
        cr_assert(bind(f->lfd[0], (struct sockaddr *)&a6, sizeof a6) == 0, "bind ::1: %s",
                  strerror(errno));
        cr_assert(listen(f->lfd[0], 16) == 0);
        socklen_t sl = sizeof a6;
        getsockname(f->lfd[0], (struct sockaddr *)&a6, &sl);
        f->port = ntohs(a6.sin6_port);
    }
    for (unsigned i = 0; i < naddr; i++) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(0x7f000002u + i);
        a.sin_port = htons(f->port);
        f->lfd[i] = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(f->lfd[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert(bind(f->lfd[i], (struct sockaddr *)&a, sizeof a) == 0, "bind: %s",
                  strerror(errno));
        cr_assert(listen(f->lfd[i], 16) == 0);
        if (i == 0) {
            socklen_t sl = sizeof a;
            getsockname(f->lfd[0], (struct sockaddr *)&a, &sl);
            f->port = ntohs(a.sin_port);
        }
    }
    pthread_create(&f->acceptor, NULL, acceptor, f);
}

static void fake_stop(struct fake *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->acceptor, NULL);
    for (unsigned i = 0; i < f->conns; i++)
        pthread_join(f->workers[i], NULL);
    for (unsigned i = 0; i < f->naddr; i++)
        close(f->lfd[i]);
    SSL_CTX_free(f->tls);
    X509_free(f->cert);
    EVP_PKEY_free(f->key);
}

static unsigned fake_conns(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->conns;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* Waits until every connection's worker is done (the log is complete). */
static void fake_settle(struct fake *f)
{
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&f->lock);
        unsigned busy = 0;
        for (unsigned a = 0; a < f->naddr; a++)
            busy += f->active[a];
        pthread_mutex_unlock(&f->lock);
        if (!busy)
            return;
        msleep(10);
    }
}

/* ---- probe side ---- */

#define MAXR 64

struct got {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned n;
    struct mx_smtp_result r[MAXR];
    bool done[MAXR];
    pthread_t thread;
};

static struct got got;

static void got_init(void)
{
    memset(&got, 0, sizeof got);
    pthread_mutex_init(&got.lock, NULL);
    pthread_cond_init(&got.cond, NULL);
}

TestSuite(smtp_probe, .init = got_init);

static void on_done(void *ud, const struct mx_smtp_result *r)
{
    size_t i = (size_t)(uintptr_t)ud;
    pthread_mutex_lock(&got.lock);
    got.r[i] = *r;
    got.done[i] = true;
    got.n++;
    got.thread = pthread_self();
    pthread_cond_broadcast(&got.cond);
    pthread_mutex_unlock(&got.lock);
}

static bool wait_n(unsigned n, unsigned ms)
{
    uint64_t until = ms_now() + ms;
    pthread_mutex_lock(&got.lock);
    while (got.n < n && ms_now() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&got.cond, &got.lock, &ts);
    }
    bool ok = got.n >= n;
    pthread_mutex_unlock(&got.lock);
    return ok;
}

static struct mx_allowlist loopback;

static struct mx_smtp_cfg cfg_for(const struct fake *f)
{
    struct mx_smtp_cfg c;
    memset(&c, 0, sizeof c);
    char err[128];
    memset(&loopback, 0, sizeof loopback);
    cr_assert(mx_allowlist_parse(&loopback, "127.0.0.0/8", err, sizeof err) == MX_OK);
    c.port = f ? f->port : 9;
    c.ehlo_name = "probe.test";
    c.conn_rate = 1000;
    c.connect_ms = 1000;
    c.greeting_ms = 1500;
    c.reply_ms = 1500;
    c.tls_ms = 2000;
    c.linger_ms = 50;
    c.allow = &loopback;
    return c;
}

static struct mx_smtp *start(const struct mx_smtp_cfg *c)
{
    char err[MX_ERRLEN];
    struct mx_smtp *p = mx_smtp_create(c, err, sizeof err);
    cr_assert(p, "%s", err);
    return p;
}

static void ask(struct mx_smtp *p, unsigned addr_idx, const char *exchange, const char *rcpt,
                size_t slot)
{
    struct mx_ip ip;
    char a[32];
    snprintf(a, sizeof a, "127.0.0.%u", 2 + addr_idx);
    cr_assert(mx_ip_parse(a, &ip));
    cr_assert_eq(mx_smtp_submit(p, &ip, exchange, rcpt, on_done, (void *)(uintptr_t)slot), MX_OK);
}

static bool logged(struct fake *f, const char *what)
{
    pthread_mutex_lock(&f->lock);
    bool yes = strstr(f->log, what) != NULL;
    pthread_mutex_unlock(&f->lock);
    return yes;
}

#define GREET_EHLO_PLAIN "< 220 fake ESMTP\n> EHLO probe.test\n< 250-fake\n< 250 SIZE 100\n"
#define GREET_EHLO_TLS "< 220 fake ESMTP\n> EHLO probe.test\n< 250-fake\n< 250 STARTTLS\n"

/* ---- tests ---- */

Test(smtp_probe, plain_facts_from_split_replies, .timeout = 20)
{
    static const char *const s[] = {"<< 22\npause 40\n< 0 fake ESMTP\n> EHLO probe.test\n"
                                    "<< 250-fa\npause 40\n< ke\n< 250-SIZE 100\n"
                                    "< 250 8BITMIME\n> QUIT\n< 221 bye"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", NULL, 0);
    cr_assert(wait_n(1, 5000));
    const struct mx_smtp_result *r = &got.r[0];
    cr_expect_eq(r->conn, MX_SMTP_CONN_OK);
    cr_expect_eq(r->greeting_code, 220);
    cr_expect_eq(r->ehlo_code, 250);
    cr_expect_eq(r->ext, (1u << MX_SMTP_EXT_SIZE) | (1u << MX_SMTP_EXT_8BITMIME));
    cr_expect_not(r->starttls);
    cr_expect_eq(r->tls, MX_SMTP_TLS_NOT_OFFERED);
    cr_expect_eq(r->cert, MX_SMTP_CERT_NONE);
    cr_expect_eq(r->end, MX_SMTP_END_OK);
    cr_expect_eq(r->rcpt, MX_SMTP_RCPT_NOT_ASKED);
    cr_expect_not(r->cached);
    cr_expect_str_eq(r->exchange, "mx.test");
    cr_expect(!pthread_equal(got.thread, pthread_self()), "callback on the probe thread");
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect(logged(&f, "0:QUIT\n"), "%s", f.log);
    fake_stop(&f);
}

Test(smtp_probe, greeting_421_ends_without_commands, .timeout = 20)
{
    static const char *const s[] = {"< 421 4.3.2 busy, come back later\nhang"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d.test", 0);
    cr_assert(wait_n(1, 5000));
    const struct mx_smtp_result *r = &got.r[0];
    cr_expect_eq(r->greeting_code, 421);
    cr_expect_eq(r->end, MX_SMTP_END_REJECTED);
    cr_expect_eq(r->end_step, MX_SMTP_STEP_GREETING);
    cr_expect_eq(r->reply_text_code, 421);
    cr_expect_str_eq(r->reply_text, "4.3.2 busy, come back later");
    cr_expect_eq(r->rcpt, MX_SMTP_RCPT_NOT_REACHED);
    cr_expect_eq(r->rcpt_end, MX_SMTP_END_REJECTED);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(f.loglen, 0, "nothing sent after a 421: %s", f.log);
    cr_expect_eq(fake_conns(&f), 1);
    fake_stop(&f);
}

Test(smtp_probe, greeting_554_gets_quit_and_no_rcpt, .timeout = 20)
{
    static const char *const s[] = {"< 554 5.7.1 go away\n> QUIT\n< 221 bye"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d.test", 0);
    cr_assert(wait_n(1, 5000));
    cr_expect_eq(got.r[0].greeting_code, 554);
    cr_expect_eq(got.r[0].rcpt, MX_SMTP_RCPT_NOT_REACHED);
    cr_expect_eq(got.r[0].rcpt_end, MX_SMTP_END_REJECTED);
    /* later requests are answered from the facts, with no new connection */
    ask(p, 0, "mx.test", "e.test", 1);
    cr_assert(wait_n(2, 5000));
    cr_expect(got.r[1].cached);
    cr_expect_eq(got.r[1].rcpt, MX_SMTP_RCPT_NOT_REACHED);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_str_eq(f.log, "0:QUIT\n");
    cr_expect_eq(fake_conns(&f), 1);
    fake_stop(&f);
}

Test(smtp_probe, early_close_timeout_garbage_oversized, .timeout = 30)
{
    static const char *const s[] = {
        "< 220 hi\nclose",                     /* 127.0.0.2: closes after the greeting */
        "hang",                                /* 127.0.0.3: never greets */
        "< HTTP/1.0 200 OK\nhang",             /* 127.0.0.4: not SMTP */
        "< 220 hi\n> EHLO\nbig 400\nhang",     /* 127.0.0.5: an 80 KB EHLO reply */
    };
    struct fake f;
    fake_start(&f, 4, s, 4);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.conn_rate = 10;
    c.greeting_ms = 400;
    struct mx_smtp *p = start(&c);
    uint64_t t0 = ms_now();
    for (unsigned i = 0; i < 4; i++)
        ask(p, i, "mx.test", NULL, i);
    cr_assert(wait_n(4, 10000));
    cr_expect_lt(ms_now() - t0, 3000, "every state has a deadline");
    cr_expect_eq(got.r[0].end, MX_SMTP_END_CLOSED);
    cr_expect_eq(got.r[0].end_step, MX_SMTP_STEP_EHLO);
    cr_expect_eq(got.r[1].end, MX_SMTP_END_TIMEOUT);
    cr_expect_eq(got.r[1].end_step, MX_SMTP_STEP_GREETING);
    cr_expect_eq(got.r[1].greeting_code, 0);
    cr_expect_eq(got.r[2].end, MX_SMTP_END_BAD_REPLY);
    cr_expect_eq(got.r[2].end_step, MX_SMTP_STEP_GREETING);
    cr_expect_eq(got.r[3].end, MX_SMTP_END_TOO_LONG);
    cr_expect_eq(got.r[3].end_step, MX_SMTP_STEP_EHLO);
    for (unsigned i = 0; i < 4; i++)
        cr_expect_eq(got.r[i].conn, MX_SMTP_CONN_OK);
    mx_smtp_destroy(p);
    fake_stop(&f);
}

Test(smtp_probe, helo_after_ehlo_refused, .timeout = 20)
{
    static const char *const s[] = {"< 220 old\n> EHLO\n< 502 5.5.2 what\n> HELO probe.test\n"
                                    "< 250 hello\n> QUIT\n< 221 bye"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", NULL, 0);
    cr_assert(wait_n(1, 5000));
    cr_expect(got.r[0].helo);
    cr_expect_eq(got.r[0].ehlo_code, 250);
    cr_expect_eq(got.r[0].tls, MX_SMTP_TLS_NOT_OFFERED);
    cr_expect_eq(got.r[0].end, MX_SMTP_END_OK);
    mx_smtp_destroy(p);
    fake_stop(&f);
}

Test(smtp_probe, starttls_refused_then_plain_rcpt, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_TLS "> STARTTLS\n< 454 4.7.0 no TLS today\n"
                                                   "serve 250"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d.test", 0);
    cr_assert(wait_n(1, 5000));
    const struct mx_smtp_result *r = &got.r[0];
    cr_expect(r->starttls);
    cr_expect_eq(r->starttls_code, 454);
    cr_expect_eq(r->tls, MX_SMTP_TLS_REFUSED);
    cr_expect_eq(r->rcpt, MX_SMTP_RCPT_REPLIED);
    cr_expect_eq(r->rcpt_code, 250);
    cr_expect_eq(r->mail_code, 250);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect(logged(&f, "0:MAIL FROM:<>\n0:RCPT TO:<postmaster@d.test>\n"), "%s", f.log);
    cr_expect_eq(fake_conns(&f), 1);
    fake_stop(&f);
}

Test(smtp_probe, tls_failure_then_rcpt_in_plain, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_TLS "> STARTTLS\n< 220 go ahead\ngarbage\nhang",
                                    GREET_EHLO_TLS "serve 250"};
    struct fake f;
    fake_start(&f, 1, s, 2);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", NULL, 0);
    ask(p, 0, "mx.test", "d.test", 1);
    cr_assert(wait_n(2, 8000));
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(got.r[i].tls, MX_SMTP_TLS_FAILED);
        cr_expect_eq(got.r[i].end, MX_SMTP_END_TLS_ERROR);
        cr_expect_eq(got.r[i].end_step, MX_SMTP_STEP_TLS);
        cr_expect_neq(got.r[i].tls_error[0], '\0');
        cr_expect_eq(got.r[i].cert, MX_SMTP_CERT_NONE);
    }
    cr_expect_eq(got.r[0].rcpt, MX_SMTP_RCPT_NOT_ASKED);
    cr_expect_eq(got.r[1].rcpt, MX_SMTP_RCPT_REPLIED);
    cr_expect_eq(got.r[1].rcpt_code, 250);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(fake_conns(&f), 2);
    cr_expect(logged(&f, "0:STARTTLS\n"));
    cr_expect_not(logged(&f, "1:STARTTLS\n"), "the retry skips STARTTLS: %s", f.log);
    cr_expect(logged(&f, "1:RCPT TO:<postmaster@d.test>\n"), "%s", f.log);
    fake_stop(&f);
}

Test(smtp_probe, tls_handshake_and_certificate, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_TLS "> STARTTLS\n< 220 go ahead\ntls\n"
                                                   "> EHLO probe.test\n< 250-fake\n"
                                                   "< 250 PIPELINING\n> QUIT\n< 221 bye"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "fake.test", NULL, 0);
    ask(p, 0, "other.test", NULL, 1); /* same address: judged from the same handshake */
    cr_assert(wait_n(2, 8000));
    const struct mx_smtp_result *r = &got.r[0];
    cr_expect_eq(r->tls, MX_SMTP_TLS_OK);
    cr_expect_eq(strncmp(r->tls_version, "TLSv1.", 6), 0, "%s", r->tls_version);
    cr_expect_neq(r->tls_cipher[0], '\0');
    cr_expect_eq(r->ext, 1u << MX_SMTP_EXT_PIPELINING, "keywords of the EHLO inside TLS");
    cr_expect_str_eq(r->sni, "fake.test");
    cr_expect_eq(r->cert, MX_SMTP_CERT_SELF_SIGNED); /* not in the system store */
    cr_expect_eq(r->chain_len, 1);
    struct mx_smtp_digest d;
    unsigned char *der = NULL, want[32];
    unsigned int n = 32;
    int len = i2d_X509(f.cert, &der);
    EVP_Digest(der, (size_t)len, want, &n, EVP_sha256(), NULL);
    OPENSSL_free(der);
    memcpy(&d, &r->leaf, sizeof d);
    cr_expect_arr_eq(d.cert, want, 32);
    cr_expect_arr_eq(r->chain[0].cert, want, 32);
    cr_expect_neq(r->cert_not_after[0], '\0');
    cr_expect(got.r[1].cert_problems & (1u << MX_SMTP_CERT_WRONG_NAME));
    cr_expect_not(r->cert_problems & (1u << MX_SMTP_CERT_WRONG_NAME));
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect(logged(&f, "0:SNI fake.test\n"), "%s", f.log);
    cr_expect_eq(fake_conns(&f), 1);
    fake_stop(&f);
}

Test(smtp_probe, rcpt_batches_share_a_connection, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.rcpt_per_txn = 2;
    c.linger_ms = 300;
    struct mx_smtp *p = start(&c);
    const char *doms[] = {"d1.test", "d2.test", "d3.test", "d4.test", "d5.test"};
    for (size_t i = 0; i < 5; i++)
        ask(p, 0, "mx.test", doms[i], i);
    cr_assert(wait_n(5, 5000));
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(got.r[i].rcpt, MX_SMTP_RCPT_REPLIED);
        cr_expect_eq(got.r[i].rcpt_code, 250);
        cr_expect_not(got.r[i].rcpt_cached);
    }
    /* while the session lingers: a new domain goes on the same connection */
    ask(p, 0, "mx.test", "d6.test", 5);
    /* the same pair again: from the cache */
    ask(p, 0, "mx.test", "d2.test", 6);
    cr_assert(wait_n(7, 5000));
    cr_expect_eq(got.r[5].rcpt_code, 250);
    cr_expect(got.r[6].rcpt_cached);
    cr_expect(got.r[6].cached);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(fake_conns(&f), 1);
    cr_expect_str_eq(f.log, "0:EHLO probe.test\n"
                            "0:MAIL FROM:<>\n0:RCPT TO:<postmaster@d1.test>\n"
                            "0:RCPT TO:<postmaster@d2.test>\n0:RSET\n"
                            "0:MAIL FROM:<>\n0:RCPT TO:<postmaster@d3.test>\n"
                            "0:RCPT TO:<postmaster@d4.test>\n0:RSET\n"
                            "0:MAIL FROM:<>\n0:RCPT TO:<postmaster@d5.test>\n"
                            "0:RCPT TO:<postmaster@d6.test>\n0:QUIT\n");
    fake_stop(&f);
}

Test(smtp_probe, rcpt_452_asked_again_first, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250 452at=2"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d1.test", 0);
    ask(p, 0, "mx.test", "d2.test", 1);
    cr_assert(wait_n(2, 5000));
    cr_expect_eq(got.r[0].rcpt_code, 250);
    cr_expect_eq(got.r[1].rcpt_code, 250);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect(logged(&f, "0:RCPT TO:<postmaster@d2.test>\n0:RSET\n0:MAIL FROM:<>\n"
                         "0:RCPT TO:<postmaster@d2.test>\n"),
              "%s", f.log);
    fake_stop(&f);
}

Test(smtp_probe, rejections_cap_each_connection, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 550"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.rcpt_errors = 2;
    struct mx_smtp *p = start(&c);
    const char *doms[] = {"d1.test", "d2.test", "d3.test", "d4.test", "d5.test"};
    for (size_t i = 0; i < 5; i++)
        ask(p, 0, "mx.test", doms[i], i);
    cr_assert(wait_n(5, 8000));
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(got.r[i].rcpt, MX_SMTP_RCPT_REPLIED);
        cr_expect_eq(got.r[i].rcpt_code, 550);
        cr_expect_str_eq(got.r[i].rcpt_text, "no thanks");
    }
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(fake_conns(&f), 3, "2 + 2 + 1 rejections");
    cr_expect_eq(f.max_active[0], 1);
    fake_stop(&f);
}

Test(smtp_probe, lost_connection_retried_then_given_up, .timeout = 20)
{
    /* 127.0.0.2 drops once after answering d1; 127.0.0.3 always drops at RCPT */
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250 closeafter=2",
                                    GREET_EHLO_PLAIN "serve 250"};
    static const char *const s2[] = {GREET_EHLO_PLAIN "serve 250 closeafter=1"};
    struct fake f, g;
    fake_start(&f, 1, s, 2);
    fake_start(&g, 1, s2, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d1.test", 0);
    ask(p, 0, "mx.test", "d2.test", 1);
    ask(p, 0, "mx.test", "d3.test", 2);
    cr_assert(wait_n(3, 8000));
    for (int i = 0; i < 3; i++)
        cr_expect_eq(got.r[i].rcpt_code, 250, "request %d", i);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(fake_conns(&f), 2);
    fake_stop(&f);

    c = cfg_for(&g);
    got.n = 0;
    p = start(&c);
    ask(p, 0, "mx.test", "d1.test", 3);
    cr_assert(wait_n(1, 8000));
    cr_expect_eq(got.r[3].rcpt, MX_SMTP_RCPT_NOT_REACHED);
    cr_expect_eq(got.r[3].rcpt_end, MX_SMTP_END_CLOSED);
    cr_expect_eq(got.r[3].end, MX_SMTP_END_OK, "the facts were fine");
    mx_smtp_destroy(p);
    fake_settle(&g);
    cr_expect_eq(fake_conns(&g), 2, "two tries, then no more: %u\n%s", fake_conns(&g), g.log);
    fake_stop(&g);
}

Test(smtp_probe, facts_once_per_address, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "> QUIT\n< 221 bye"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    struct mx_smtp *p = start(&c);
    for (size_t i = 0; i < 10; i++)
        ask(p, 0, i % 2 ? "a.test" : "b.test", NULL, i);
    cr_assert(wait_n(10, 5000));
    ask(p, 0, "c.test", NULL, 10);
    cr_assert(wait_n(11, 5000));
    for (size_t i = 0; i < 10; i++) {
        cr_expect_eq(got.r[i].ehlo_code, 250);
        cr_expect_not(got.r[i].cached);
    }
    cr_expect(got.r[10].cached);
    cr_expect_str_eq(got.r[10].exchange, "c.test");
    cr_expect_str_eq(got.r[10].sni, "b.test", "the name of the request that connected");
    struct mx_smtp_stats st;
    mx_smtp_stats(p, &st);
    cr_expect_eq(st.requests, 11);
    cr_expect_eq(st.completed, 11);
    cr_expect_eq(st.connections, 1);
    cr_expect_eq(st.facts_cached, 1);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_expect_eq(fake_conns(&f), 1);
    fake_stop(&f);
}

Test(smtp_probe, one_connection_per_address_and_pacing, .timeout = 30)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250"};
    struct fake f;
    fake_start(&f, 3, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.conn_rate = 20; /* 50 ms apart */
    c.rcpt_per_conn = 2;
    struct mx_smtp *p = start(&c);
    size_t k = 0;
    char dom[32];
    for (unsigned a = 0; a < 3; a++)
        for (unsigned i = 0; i < 6; i++) {
            snprintf(dom, sizeof dom, "d%u-%u.test", a, i);
            ask(p, a, "mx.test", dom, k++);
        }
    cr_assert(wait_n(18, 10000));
    for (size_t i = 0; i < 18; i++)
        cr_expect_eq(got.r[i].rcpt_code, 250);
    mx_smtp_destroy(p);
    fake_settle(&f);
    cr_assert_eq(fake_conns(&f), 9, "3 addresses x 6 domains / 2 per connection");
    for (unsigned a = 0; a < 3; a++)
        cr_expect_eq(f.max_active[a], 1, "address %u had %u at once", a, f.max_active[a]);
    for (unsigned i = 1; i < 9; i++)
        cr_expect_geq(f.accept_ms[i] - f.accept_ms[i - 1], 40, "connections %u and %u", i - 1, i);
    cr_expect_geq(f.accept_ms[8] - f.accept_ms[0], 8 * 48);
    fake_stop(&f);
}

Test(smtp_probe, address_policy_and_refused, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.allow = NULL; /* loopback is not globally reachable */
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", "d.test", 0);
    cr_assert(wait_n(1, 5000));
    cr_expect_eq(got.r[0].conn, MX_SMTP_CONN_NOT_ALLOWED);
    cr_expect_eq(got.r[0].rcpt, MX_SMTP_RCPT_NOT_REACHED);
    cr_expect_eq(got.r[0].rcpt_end, MX_SMTP_END_NO_CONNECT);
    mx_smtp_destroy(p);
    cr_expect_eq(fake_conns(&f), 0, "never contacted");
    /* allowed, but nothing listens on 127.0.0.9 at that port */
    c = cfg_for(&f);
    p = start(&c);
    got.n = 0;
    ask(p, 7, "mx.test", NULL, 1);
    cr_assert(wait_n(1, 5000));
    cr_expect_eq(got.r[1].conn, MX_SMTP_CONN_REFUSED);
    cr_expect_eq(got.r[1].end, MX_SMTP_END_NO_CONNECT);
    cr_expect_eq(got.r[1].end_step, MX_SMTP_STEP_CONNECT);
    mx_smtp_destroy(p);
    fake_stop(&f);
}

Test(smtp_probe, destroy_answers_everything_quickly, .timeout = 20)
{
    static const char *const s[] = {"hang"};
    struct fake f;
    fake_start(&f, 1, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    c.greeting_ms = 60000;
    c.conn_rate = 1; /* the second address waits for its turn */
    struct mx_smtp *p = start(&c);
    ask(p, 0, "mx.test", NULL, 0);
    ask(p, 0, "mx.test", "d.test", 1);   /* queued behind the facts */
    ask(p, 1, "mx.test", "d.test", 2);   /* not yet connected */
    msleep(200);
    uint64_t t0 = ms_now();
    mx_smtp_destroy(p);
    cr_expect_lt(ms_now() - t0, 3000);
    cr_assert_eq(got.n, 3, "every request answered by destroy");
    cr_expect_eq(got.r[0].end, MX_SMTP_END_ABORTED);
    cr_expect_eq(got.r[1].rcpt_end, MX_SMTP_END_ABORTED);
    cr_expect_eq(got.r[2].rcpt_end, MX_SMTP_END_ABORTED);
    fake_stop(&f);
}

Test(smtp_probe, submit_checks_names)
{
    struct mx_smtp_cfg c = cfg_for(NULL);
    struct mx_smtp *p = start(&c);
    struct mx_ip ip;
    cr_assert(mx_ip_parse("127.0.0.2", &ip));
    cr_expect_eq(mx_smtp_submit(p, &ip, "bad name", NULL, on_done, NULL), MX_EINVAL);
    cr_expect_eq(mx_smtp_submit(p, &ip, "mx.test\r\nDATA", NULL, on_done, NULL), MX_EINVAL);
    cr_expect_eq(mx_smtp_submit(p, &ip, "mx.test", "d.test>\r\nDATA", on_done, NULL), MX_EINVAL);
    cr_expect_eq(mx_smtp_submit(p, &ip, "", NULL, on_done, NULL), MX_EINVAL);
    cr_expect_eq(mx_smtp_submit(p, &ip, "mx.test", NULL, NULL, NULL), MX_EINVAL);
    mx_smtp_destroy(p);
    cr_expect_eq(got.n, 0);
    char err[MX_ERRLEN];
    c.ehlo_name = "bad ehlo";
    cr_expect_null(mx_smtp_create(&c, err, sizeof err));
    c.ehlo_name = "probe.test";
    c.mail_from = "a@b>\r\nRCPT";
    cr_expect_null(mx_smtp_create(&c, err, sizeof err));
    c.mail_from = NULL;
    c.conn_rate = -1;
    cr_expect_null(mx_smtp_create(&c, err, sizeof err));
}

Test(smtp_probe, ipv6, .timeout = 20)
{
    static const char *const s[] = {GREET_EHLO_PLAIN "serve 250"};
    struct fake f;
    fake_start(&f, 0, s, 1);
    struct mx_smtp_cfg c = cfg_for(&f);
    char err[128];
    cr_assert(mx_allowlist_parse(&loopback, "::1/128", err, sizeof err) == MX_OK);
    struct mx_smtp *p = start(&c);
    struct mx_ip ip;
    cr_assert(mx_ip_parse("::1", &ip));
    cr_assert_eq(mx_smtp_submit(p, &ip, "mx.test", "d.test", on_done, (void *)0), MX_OK);
    cr_assert(wait_n(1, 5000));
    cr_expect_eq(got.r[0].conn, MX_SMTP_CONN_OK);
    cr_expect_eq(got.r[0].rcpt_code, 250);
    cr_expect(mx_ip_equal(&got.r[0].addr, &ip));
    mx_smtp_destroy(p);
    fake_stop(&f);
}
