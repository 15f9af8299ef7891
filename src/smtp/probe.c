/* The SMTP probe object: its thread and epoll loop, the request inbox,
 * answering requests from the hosts' facts and the caches (tables.c), the
 * connection pacer and the scheduling of sessions (session.c). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mx/names.h"
#include "smtp_int.h"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool is2xx(unsigned code)
{
    return code >= 200 && code < 300;
}

static void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- results ---- */

static void complete(struct mx_smtp *p, struct mx_smtp_req *req, const struct mx_smtp_result *r)
{
    bump(&p->n_completed);
    req->cb(req->ud, r);
    free(req);
}

/* The result for req from what the host knows (facts, certificate). */
static void fill(const struct mx_smtp_host *h, const struct mx_smtp_req *req,
                 struct mx_smtp_result *r)
{
    if (h && h->known) {
        *r = h->facts;
    } else {
        memset(r, 0, sizeof *r);
        r->conn = MX_SMTP_CONN_NONE;
        r->tls = MX_SMTP_TLS_SKIPPED;
    }
    r->addr = req->addr;
    snprintf(r->exchange, sizeof r->exchange, "%s", req->exchange);
    snprintf(r->rcpt_domain, sizeof r->rcpt_domain, "%s", req->rcpt);
    r->cached = h && h->known && !req->fresh;
    r->cert = MX_SMTP_CERT_NONE;
    r->cert_problems = 0;
    if (h && h->known && r->tls == MX_SMTP_TLS_OK) {
        uint32_t pr = h->chain_problems;
        if (!mx_smtp_cert_name_ok(h->leaf, h->leaf_len, req->exchange))
            pr |= 1u << MX_SMTP_CERT_WRONG_NAME;
        r->cert_problems = pr;
        r->cert = mx_smtp_cert_verdict(pr);
    }
    r->rcpt = req->rcpt[0] ? MX_SMTP_RCPT_NOT_REACHED : MX_SMTP_RCPT_NOT_ASKED;
    r->rcpt_end = MX_SMTP_END_OK;
    r->rcpt_cached = false;
    r->mail_code = 0;
    r->rcpt_code = 0;
    r->rcpt_text[0] = '\0';
}

static void answer_not_reached(struct mx_smtp *p, struct mx_smtp_host *h, struct mx_smtp_req *req,
                               enum mx_smtp_end why)
{
    struct mx_smtp_result r;
    fill(h, req, &r);
    r.rcpt_end = why;
    if (why == MX_SMTP_END_ABORTED) {
        if (!h || !h->known)
            r.end = MX_SMTP_END_ABORTED;
        bump(&p->n_aborted);
    }
    complete(p, req, &r);
}

/* Why RCPT cannot be asked at this host, from its facts: MX_SMTP_END_OK when
 * it can. */
static enum mx_smtp_end rcpt_blocked(const struct mx_smtp_host *h)
{
    if (!h->known)
        return MX_SMTP_END_OK;
    if (h->facts.conn != MX_SMTP_CONN_OK)
        return MX_SMTP_END_NO_CONNECT;
    if (!is2xx(h->facts.ehlo_code))
        return h->facts.end == MX_SMTP_END_OK ? MX_SMTP_END_REJECTED : h->facts.end;
    return MX_SMTP_END_OK;
}

static void answer_mail_refused(struct mx_smtp *p, struct mx_smtp_host *h,
                                struct mx_smtp_req *req, bool cached)
{
    struct mx_smtp_result r;
    fill(h, req, &r);
    r.rcpt = MX_SMTP_RCPT_MAIL_REJECTED;
    r.rcpt_cached = cached;
    r.mail_code = h->mail_code;
    snprintf(r.rcpt_text, sizeof r.rcpt_text, "%s", h->mail_text);
    complete(p, req, &r);
}

/* Answers a RCPT request from what is known without a conversation; false
 * when it needs one. */
static bool rcpt_from_cache(struct mx_smtp *p, struct mx_smtp_host *h, struct mx_smtp_req *req)
{
    enum mx_smtp_end blocked = rcpt_blocked(h);
    if (blocked != MX_SMTP_END_OK) {
        answer_not_reached(p, h, req, blocked);
        return true;
    }
    if (h->known && h->mail_code) {
        answer_mail_refused(p, h, req, true);
        return true;
    }
    struct mx_smtp_rc *e = h->known ? mx_smtp_rc_find(p, &req->addr, req->rcpt) : NULL;
    if (!e)
        return false;
    struct mx_smtp_result r;
    fill(h, req, &r);
    r.rcpt = MX_SMTP_RCPT_REPLIED;
    r.rcpt_cached = true;
    r.mail_code = e->mail_code;
    r.rcpt_code = e->code;
    snprintf(r.rcpt_text, sizeof r.rcpt_text, "%s", mx_smtp_rc_text(e));
    bump(&p->n_rcpt_cached);
    complete(p, req, &r);
    return true;
}

void mx_smtp_host_facts(struct mx_smtp *p, struct mx_smtp_host *h,
                        const struct mx_smtp_result *facts)
{
    if (facts->conn == MX_SMTP_CONN_LOCAL_ERROR) {
        /* our fault, not the server's: answer, but learn nothing */
        struct mx_smtp_req *req;
        struct mx_smtp_host tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.known = true;
        tmp.facts = *facts;
        while ((req = mx_smtp_dequeue(h)) != NULL)
            answer_not_reached(p, &tmp, req, MX_SMTP_END_LOCAL_ERROR);
        return;
    }
    h->facts = *facts;
    h->known = true;
    for (struct mx_smtp_req *q = h->qhead; q; q = q->next)
        q->fresh = true;
    struct mx_smtp_req **pp = &h->qhead, *last = NULL;
    while (*pp) {
        struct mx_smtp_req *req = *pp;
        if (req->rcpt[0] == '\0') {
            *pp = req->next;
            struct mx_smtp_result r;
            fill(h, req, &r);
            complete(p, req, &r);
        } else {
            last = req;
            pp = &req->next;
        }
    }
    h->qtail = last;
    /* RCPT requests the facts rule out are answered now */
    struct mx_smtp_req *req;
    while (rcpt_blocked(h) != MX_SMTP_END_OK && (req = mx_smtp_dequeue(h)) != NULL)
        answer_not_reached(p, h, req, rcpt_blocked(h));
}

struct mx_smtp_req *mx_smtp_host_next_rcpt(struct mx_smtp *p, struct mx_smtp_host *h)
{
    while (h->qhead) {
        struct mx_smtp_req *req = h->qhead;
        if (req->rcpt[0] == '\0') { /* facts known by now */
            mx_smtp_dequeue(h);
            struct mx_smtp_result r;
            fill(h, req, &r);
            complete(p, req, &r);
            continue;
        }
        mx_smtp_dequeue(h);
        if (!rcpt_from_cache(p, h, req)) { /* needs asking: back to the head */
            req->next = h->qhead;
            h->qhead = req;
            if (!h->qtail)
                h->qtail = req;
            return req;
        }
    }
    return NULL;
}

void mx_smtp_rcpt_answer(struct mx_smtp *p, struct mx_smtp_host *h, enum mx_smtp_rcpt what,
                         uint16_t mail_code, uint16_t rcpt_code, const char *text)
{
    struct mx_smtp_req *req = mx_smtp_dequeue(h);
    if (!req)
        return;
    struct mx_smtp_result r;
    fill(h, req, &r);
    r.rcpt = what;
    r.mail_code = mail_code;
    r.rcpt_code = rcpt_code;
    snprintf(r.rcpt_text, sizeof r.rcpt_text, "%s", text ? text : "");
    if (what == MX_SMTP_RCPT_REPLIED)
        mx_smtp_rc_store(p, &req->addr, req->rcpt, mail_code, rcpt_code, r.rcpt_text);
    complete(p, req, &r);
}

void mx_smtp_mail_refused(struct mx_smtp *p, struct mx_smtp_host *h, uint16_t code,
                          const char *text)
{
    h->mail_code = code;
    snprintf(h->mail_text, sizeof h->mail_text, "%s", text);
    struct mx_smtp_req *req;
    while ((req = mx_smtp_dequeue(h)) != NULL)
        answer_mail_refused(p, h, req, false);
}

bool mx_smtp_slot_wanted(const struct mx_smtp *p)
{
    return p->ready_head && p->nactive >= p->cfg.max_conns;
}

void mx_smtp_session_done(struct mx_smtp *p, struct mx_smtp_session *s)
{
    struct mx_smtp_host *h = s->h;
    h->s = NULL;
    h->failures = s->progress ? 0 : h->failures + 1;
    h->last_end = s->end;
    if (!h->qhead) {
        mx_smtp_host_place(p, h, MX_SMTP_H_IDLE);
        mx_smtp_host_evict(p);
        return;
    }
    if (p->stopping) {
        mx_smtp_host_place(p, h, MX_SMTP_H_IDLE); /* answered as aborted by the loop */
        return;
    }
    /* Queued RCPT requests left: try again unless the server said no or
     * two conversations in a row got nowhere. */
    if (s->end == MX_SMTP_END_REJECTED || h->failures >= 2) {
        struct mx_smtp_req *req;
        while ((req = mx_smtp_dequeue(h)) != NULL)
            answer_not_reached(p, h, req, s->end == MX_SMTP_END_OK ? MX_SMTP_END_CLOSED : s->end);
        mx_smtp_host_place(p, h, MX_SMTP_H_IDLE);
        mx_smtp_host_evict(p);
        return;
    }
    mx_smtp_host_place(p, h, MX_SMTP_H_READY);
}

/* ---- requests in ---- */

static void answer_not_allowed(struct mx_smtp *p, struct mx_smtp_req *req)
{
    struct mx_smtp_result r;
    fill(NULL, req, &r);
    r.conn = MX_SMTP_CONN_NOT_ALLOWED;
    r.end = MX_SMTP_END_NO_CONNECT;
    r.end_step = MX_SMTP_STEP_CONNECT;
    r.rcpt_end = req->rcpt[0] ? MX_SMTP_END_NO_CONNECT : MX_SMTP_END_OK;
    bump(&p->n_not_allowed);
    complete(p, req, &r);
}

static void dispatch(struct mx_smtp *p, struct mx_smtp_req *req)
{
    if (!mx_ip_is_global(&req->addr, &p->allow)) {
        answer_not_allowed(p, req);
        return;
    }
    struct mx_smtp_host *h = mx_smtp_host_get(p, &req->addr);
    if (!h) {
        struct mx_smtp_result r;
        fill(NULL, req, &r);
        r.conn = MX_SMTP_CONN_LOCAL_ERROR;
        r.end = MX_SMTP_END_LOCAL_ERROR;
        complete(p, req, &r);
        return;
    }
    if (h->known) {
        if (req->rcpt[0] == '\0') {
            struct mx_smtp_result r;
            fill(h, req, &r);
            bump(&p->n_facts_cached);
            complete(p, req, &r);
            goto placed;
        }
        if (!h->qhead && rcpt_from_cache(p, h, req)) /* keep FIFO order */
            goto placed;
    }
    mx_smtp_enqueue(h, req);
    if (h->s)
        mx_smtp_session_kick(h->s);
    else if (h->where != MX_SMTP_H_READY)
        mx_smtp_host_place(p, h, MX_SMTP_H_READY);
    return;
placed:
    if (!h->s && !h->qhead && h->where != MX_SMTP_H_IDLE) {
        mx_smtp_host_place(p, h, MX_SMTP_H_IDLE);
        mx_smtp_host_evict(p);
    } else if (h->where == MX_SMTP_H_IDLE) {
        mx_smtp_host_place(p, h, MX_SMTP_H_IDLE); /* most recently used */
    }
}

/* ---- scheduling ---- */

static void schedule(struct mx_smtp *p)
{
    while (p->ready_head) {
        if (p->nactive >= p->cfg.max_conns) {
            /* make room: lingering sessions go first */
            for (unsigned i = 0; i < p->cfg.max_conns; i++)
                if (p->sess[i].st == MX_SMTP_S_IDLE)
                    mx_smtp_session_quit(&p->sess[i]);
            return;
        }
        uint64_t t = now_us();
        if (t < p->next_conn_us)
            return;
        struct mx_smtp_host *h = p->ready_head;
        mx_smtp_host_place(p, h, MX_SMTP_H_BUSY);
        p->next_conn_us = t + p->pace_us;
        mx_smtp_session_start(p, h, t / 1000);
    }
}

static int wait_ms(struct mx_smtp *p)
{
    uint64_t now = mx_now_ms();
    uint64_t best = UINT64_MAX;
    for (unsigned i = 0; i < p->cfg.max_conns; i++)
        if (p->sess[i].st != MX_SMTP_S_FREE && p->sess[i].deadline < best)
            best = p->sess[i].deadline;
    if (p->ready_head && p->nactive < p->cfg.max_conns) {
        uint64_t t = now_us();
        uint64_t at = p->next_conn_us > t ? now + (p->next_conn_us - t + 999) / 1000 : now;
        if (at < best)
            best = at;
    }
    if (best == UINT64_MAX)
        return -1;
    return best <= now ? 0 : (int)(best - now > 60000 ? 60000 : best - now);
}

static void expire(struct mx_smtp *p)
{
    uint64_t now = mx_now_ms();
    for (unsigned i = 0; i < p->cfg.max_conns; i++)
        if (p->sess[i].st != MX_SMTP_S_FREE && p->sess[i].deadline <= now)
            mx_smtp_session_timeout(&p->sess[i]);
}

/* Shutdown, first part: every request still waiting is answered as
 * aborted; conversations that are past their facts end with QUIT, the
 * others are cut now. */
static void begin_stop_inbox(struct mx_smtp *p, struct mx_smtp_req *inbox)
{
    while (inbox) {
        struct mx_smtp_req *req = inbox;
        inbox = req->next;
        answer_not_reached(p, NULL, req, MX_SMTP_END_ABORTED);
    }
}

static void begin_stop(struct mx_smtp *p, struct mx_smtp_req *inbox)
{
    p->stopping = true;
    p->stop_by = mx_now_ms() + 2500;
    begin_stop_inbox(p, inbox);
    for (size_t b = 0; b <= p->hmask; b++)
        for (struct mx_smtp_host *h = p->hb[b]; h; h = h->hnext) {
            struct mx_smtp_req *req;
            while ((req = mx_smtp_dequeue(h)) != NULL)
                answer_not_reached(p, h, req, MX_SMTP_END_ABORTED);
        }
    for (unsigned i = 0; i < p->cfg.max_conns; i++) {
        struct mx_smtp_session *s = &p->sess[i];
        if (s->st == MX_SMTP_S_IDLE)
            mx_smtp_session_quit(s);
        else if (s->st != MX_SMTP_S_FREE && s->st != MX_SMTP_S_CLOSING &&
                 !(s->st == MX_SMTP_S_REPLY && (!s->facts_session || s->facts_given)))
            mx_smtp_session_abort(s, MX_SMTP_END_ABORTED);
    }
}

/* Shutdown, last part: what has not closed by now is cut. */
static void end_stop(struct mx_smtp *p)
{
    for (unsigned i = 0; i < p->cfg.max_conns; i++)
        if (p->sess[i].st != MX_SMTP_S_FREE)
            mx_smtp_session_abort(&p->sess[i], MX_SMTP_END_ABORTED);
}

static void *run(void *arg)
{
    struct mx_smtp *p = arg;
    struct epoll_event evs[64];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct mx_smtp_req *in = p->inbox;
        p->inbox = p->inbox_tail = NULL;
        bool stop = p->stop;
        p->woken = false;
        pthread_mutex_unlock(&p->lock);
        if (stop && !p->stopping)
            begin_stop(p, in);
        else if (p->stopping) /* submitted during destroy: not allowed, but safe */
            begin_stop_inbox(p, in);
        else
            while (in) {
                struct mx_smtp_req *req = in;
                in = req->next;
                dispatch(p, req);
            }
        if (p->stopping && (p->nactive == 0 || mx_now_ms() >= p->stop_by)) {
            end_stop(p);
            break;
        }
        if (!p->stopping)
            schedule(p);
        int timeout = wait_ms(p);
        if (p->stopping) {
            uint64_t now = mx_now_ms();
            int left = p->stop_by > now ? (int)(p->stop_by - now) : 0;
            timeout = timeout < 0 || timeout > left ? left : timeout;
        }
        int n = epoll_wait(p->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                uint64_t v;
                if (read(p->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
                    continue;
                continue;
            }
            struct mx_smtp_session *s = evs[i].data.ptr;
            if (s->st != MX_SMTP_S_FREE)
                mx_smtp_session_io(s, evs[i].events);
        }
        expire(p);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static bool mail_from_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > MX_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return false;
    }
    return true;
}

static void probe_free(struct mx_smtp *p)
{
    mx_smtp_tables_free(p);
    free(p->sess);
    if (p->ssl_ctx)
        SSL_CTX_free(p->ssl_ctx);
    if (p->store)
        X509_STORE_free(p->store);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->evfd >= 0)
        close(p->evfd);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* The defaults of zero fields and the checks of p->cfg (a copy of the
 * caller's); the EHLO name and MAIL FROM are copied into p. */
static bool settle_cfg(struct mx_smtp *p, char *err, size_t errlen)
{
    struct mx_smtp_cfg *c = &p->cfg;
    c->port = c->port ? c->port : 25;
    c->conn_rate = c->conn_rate != 0 ? c->conn_rate : 20;
    c->max_conns = c->max_conns ? c->max_conns : 64;
    c->connect_ms = c->connect_ms ? c->connect_ms : 10000;
    c->greeting_ms = c->greeting_ms ? c->greeting_ms : 30000;
    c->reply_ms = c->reply_ms ? c->reply_ms : 30000;
    c->tls_ms = c->tls_ms ? c->tls_ms : 20000;
    c->linger_ms = c->linger_ms ? c->linger_ms : 1000;
    c->rcpt_per_txn = c->rcpt_per_txn ? c->rcpt_per_txn : 50;
    c->rcpt_per_conn = c->rcpt_per_conn ? c->rcpt_per_conn : 1000;
    c->rcpt_errors = c->rcpt_errors ? c->rcpt_errors : 8;
    c->cache_hosts = c->cache_hosts ? c->cache_hosts : 32768;
    c->cache_rcpts = c->cache_rcpts ? c->cache_rcpts : 65536;
    if (!(c->conn_rate > 0 && c->conn_rate <= 100000) || !isfinite(c->conn_rate)) {
        snprintf(err, errlen, "connection rate must be in (0, 100000]");
        return false;
    }
    if (c->max_conns > 65536) {
        snprintf(err, errlen, "max_conns above 65536");
        return false;
    }
    p->pace_us = (uint64_t)(1e6 / c->conn_rate);
    if (c->ehlo_name && *c->ehlo_name)
        snprintf(p->ehlo, sizeof p->ehlo, "%s", c->ehlo_name);
    else if (gethostname(p->ehlo, sizeof p->ehlo - 1) != 0 || !p->ehlo[0])
        snprintf(p->ehlo, sizeof p->ehlo, "localhost");
    p->ehlo[sizeof p->ehlo - 1] = '\0';
    if (strlen(p->ehlo) > MX_NAME_MAX || mx_name_check(p->ehlo) == MX_NAME_BAD) {
        snprintf(err, errlen, "EHLO name '%s' is not a valid host name", p->ehlo);
        return false;
    }
    c->ehlo_name = p->ehlo;
    const char *mf = c->mail_from ? c->mail_from : "";
    if (!mail_from_ok(mf)) {
        snprintf(err, errlen, "MAIL FROM address '%s' is not usable", mf);
        return false;
    }
    snprintf(p->mail_from, sizeof p->mail_from, "%s", mf);
    c->mail_from = p->mail_from;
    return true;
}

/* The caches' buckets and the session pool. */
static bool make_tables(struct mx_smtp *p, char *err, size_t errlen)
{
    p->hmask = 1023;
    p->rmask = 1023;
    p->hb = calloc(p->hmask + 1, sizeof *p->hb);
    p->rb = calloc(p->rmask + 1, sizeof *p->rb);
    p->sess = calloc(p->cfg.max_conns, sizeof *p->sess);
    if (!p->hb || !p->rb || !p->sess) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (unsigned i = p->cfg.max_conns; i-- > 0;) {
        p->sess[i].st = MX_SMTP_S_FREE;
        p->sess[i].fd = -1;
        p->sess[i].free_next = p->free_sess;
        p->free_sess = &p->sess[i];
    }
    return true;
}

/* The epoll set with its wake-up eventfd, then the probe thread. */
static bool start_loop(struct mx_smtp *p, char *err, size_t errlen)
{
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->epfd < 0 || p->evfd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        return false;
    }
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.ptr = NULL; /* the wake-up fd */
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &e) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return false;
    }
    /* The probe thread takes no signals: they belong to the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        return false;
    }
    return true;
}

struct mx_smtp *mx_smtp_create(const struct mx_smtp_cfg *cfg, char *err, size_t errlen)
{
    struct mx_smtp *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->epfd = p->evfd = -1;
    p->cfg = *cfg;
    if (!settle_cfg(p, err, errlen))
        goto fail;
    if (cfg->allow)
        p->allow = *cfg->allow;
    p->cfg.allow = &p->allow;
    p->cfg.ca_file = NULL; /* used only here */
    if (!(p->ssl_ctx = mx_smtp_tls_ctx_new(err, errlen)))
        goto fail;
    if (!(p->store = mx_smtp_tls_store_new(cfg->ca_file, err, errlen)))
        goto fail;
    if (!make_tables(p, err, errlen) || !start_loop(p, err, errlen))
        goto fail;
    return p;
fail:
    probe_free(p);
    return NULL;
}

static void wake(struct mx_smtp *p)
{
    uint64_t one = 1;
    while (write(p->evfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void mx_smtp_destroy(struct mx_smtp *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->thread, NULL);
    probe_free(p);
}

static bool name_ok(const char *s)
{
    return s && *s && strlen(s) <= MX_NAME_MAX && mx_name_check(s) != MX_NAME_BAD;
}

enum mx_status mx_smtp_submit(struct mx_smtp *p, const struct mx_ip *addr, const char *exchange,
                              const char *rcpt_domain, mx_smtp_done_fn cb, void *ud)
{
    if (!p || !addr || !cb || (addr->family != 4 && addr->family != 6) || !name_ok(exchange) ||
        (rcpt_domain && *rcpt_domain && !name_ok(rcpt_domain)))
        return MX_EINVAL;
    struct mx_smtp_req *req = calloc(1, sizeof *req);
    if (!req)
        return MX_ENOMEM;
    req->addr = *addr;
    snprintf(req->exchange, sizeof req->exchange, "%s", exchange);
    snprintf(req->rcpt, sizeof req->rcpt, "%s", rcpt_domain ? rcpt_domain : "");
    req->cb = cb;
    req->ud = ud;
    bump(&p->n_requests);
    pthread_mutex_lock(&p->lock);
    if (p->inbox_tail)
        p->inbox_tail->next = req;
    else
        p->inbox = req;
    p->inbox_tail = req;
    bool need_wake = !p->woken;
    p->woken = true;
    pthread_mutex_unlock(&p->lock);
    if (need_wake)
        wake(p);
    return MX_OK;
}

void mx_smtp_stats(struct mx_smtp *p, struct mx_smtp_stats *out)
{
    out->requests = atomic_load_explicit(&p->n_requests, memory_order_relaxed);
    out->completed = atomic_load_explicit(&p->n_completed, memory_order_relaxed);
    out->connections = atomic_load_explicit(&p->n_connections, memory_order_relaxed);
    out->facts_cached = atomic_load_explicit(&p->n_facts_cached, memory_order_relaxed);
    out->rcpt_sent = atomic_load_explicit(&p->n_rcpt_sent, memory_order_relaxed);
    out->rcpt_cached = atomic_load_explicit(&p->n_rcpt_cached, memory_order_relaxed);
    out->not_allowed = atomic_load_explicit(&p->n_not_allowed, memory_order_relaxed);
    out->tls_ok = atomic_load_explicit(&p->n_tls_ok, memory_order_relaxed);
    out->tls_failed = atomic_load_explicit(&p->n_tls_failed, memory_order_relaxed);
    out->aborted = atomic_load_explicit(&p->n_aborted, memory_order_relaxed);
}
