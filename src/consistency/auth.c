/* The direct-query module (consistency.h, mx_auth_*): its thread and epoll
 * loop, the request inbox, dispatching requests to the cache or to a new
 * question, results out to the callers, and what callers keep of them. */
#include <ctype.h>
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

#include "auth_int.h"

#define TICK_MS 50

static const char *const outcome_names[] = {
#define X(e, l) l,
    MX_AUTH_OUTCOME_MAP(X)
#undef X
};

const char *mx_auth_outcome_name(enum mx_auth_outcome o)
{
    return (unsigned)o < sizeof outcome_names / sizeof outcome_names[0] ? outcome_names[o] : "?";
}

uint64_t mx_auth_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

unsigned mx_auth_max_ms(const struct mx_auth *m)
{
    double per_try = m->cfg.timeout_ms + 1000.0 / m->cfg.server_qps;
    double ms = (m->cfg.tries + 1) * per_try;
    return ms > 3600000 ? 3600000u : (unsigned)ms;
}

/* ---- results out ---- */

static void deliver(struct mx_auth *m, struct mx_auth_req *req, const struct mx_auth_result *r)
{
    mx_auth_bump(&m->n_completed);
    req->cb(req->ud, r);
    free(req);
}

static void result_of(const struct mx_auth_q *q, const struct mx_auth_req *req,
                      struct mx_auth_result *r)
{
    memset(r, 0, sizeof *r);
    r->server = req->ip;
    r->qname = req->qname;
    r->qtype = req->qtype;
    r->outcome = q->outcome;
    r->rc = q->rc;
    r->aa = q->aa;
    r->tcp = q->tcp;
    r->presumed = q->presumed;
    r->tries = q->tries;
    r->ans = q->outcome == MX_AUTH_ANSWERED ? q->ans : NULL;
}

void mx_auth_notify(struct mx_auth *m, struct mx_auth_q *q)
{
    struct mx_auth_req *req = q->waiters;
    q->waiters = NULL;
    while (req) {
        struct mx_auth_req *n = req->next;
        struct mx_auth_result r;
        result_of(q, req, &r);
        r.cached = req->joined;
        deliver(m, req, &r);
        req = n;
    }
}

void mx_auth_answer_req(struct mx_auth *m, struct mx_auth_req *req, enum mx_auth_outcome o)
{
    struct mx_auth_result r;
    memset(&r, 0, sizeof r);
    r.server = req->ip;
    r.qname = req->qname;
    r.qtype = req->qtype;
    r.outcome = o;
    r.rc = MX_RC_OTHER;
    deliver(m, req, &r);
}

/* ---- requests in ---- */

static void dispatch(struct mx_auth *m, struct mx_auth_req *req)
{
    if (!mx_ip_is_global(&req->ip, &m->allow)) {
        mx_auth_bump(&m->n_not_allowed);
        mx_auth_answer_req(m, req, MX_AUTH_NOT_ALLOWED);
        return;
    }
    uint64_t now = mx_now_ms();
    uint64_t h = mx_auth_key_hash(&req->ip, req->qname, req->qtype);
    struct mx_auth_q *q = mx_auth_q_find(m, h, &req->ip, req->qname, req->qtype);
    if (q && mx_auth_q_expire(m, q, now))
        q = NULL;
    if (q && q->st == MX_AUTH_Q_DONE) {
        mx_auth_bump(&m->n_cache_hits);
        mx_auth_q_touch(m, q);
        struct mx_auth_result r;
        result_of(q, req, &r);
        r.cached = true;
        deliver(m, req, &r);
        return;
    }
    if (q) {
        mx_auth_bump(&m->n_joins);
        req->joined = true;
        req->next = q->waiters;
        q->waiters = req;
        return;
    }
    struct mx_auth_server *s = mx_auth_server_get(m, &req->ip);
    q = s ? mx_auth_q_new(m, h, &req->ip, req->qname, req->qtype) : NULL;
    if (!q) {
        mx_auth_answer_req(m, req, MX_AUTH_ERROR);
        return;
    }
    mx_auth_bump(&m->n_questions);
    req->next = NULL;
    q->waiters = req;
    mx_auth_server_attach(m, s, q);
    mx_auth_server_enqueue(m, q, false);
}

/* ---- the loop ---- */

static void abort_inbox(struct mx_auth *m, struct mx_auth_req *in)
{
    while (in) {
        struct mx_auth_req *n = in->next;
        mx_auth_answer_req(m, in, MX_AUTH_ABORTED);
        in = n;
    }
}

static void *run(void *arg)
{
    struct mx_auth *m = arg;
    struct epoll_event evs[64];
    m->last_tick_ms = mx_now_ms();
    for (;;) {
        pthread_mutex_lock(&m->lock);
        struct mx_auth_req *in = m->inbox;
        m->inbox = m->inbox_tail = NULL;
        bool stop = m->stop;
        m->woken = false;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            abort_inbox(m, in);
            break;
        }
        while (in) {
            struct mx_auth_req *n = in->next;
            dispatch(m, in);
            in = n;
        }
        mx_auth_process_done(m);
        int timeout = mx_auth_send_some(m);
        mx_auth_process_done(m); /* failures inside ares_send */
        if (m->done_head)
            timeout = 0;
        if (m->inflight > 0 && (timeout < 0 || timeout > TICK_MS))
            timeout = TICK_MS;
        int n = epoll_wait(m->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == MX_AUTH_EVFD_TAG) {
                uint64_t v;
                if (read(m->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
                    continue;
                continue;
            }
            mx_auth_chan_event(m, evs[i].data.u64, evs[i].events);
        }
        uint64_t now = mx_now_ms();
        if (m->inflight > 0 && now - m->last_tick_ms >= TICK_MS) {
            m->last_tick_ms = now;
            mx_auth_tick(m);
        } else if (m->inflight == 0) {
            m->last_tick_ms = now;
        }
        mx_auth_process_done(m);
    }
    /* Shutdown: close the channels (c-ares ends the tries in flight), then
     * every question still pending ends as aborted. */
    m->stopping = true;
    mx_auth_close_channels(m);
    mx_auth_process_done(m);
    mx_auth_cache_abort_all(m);
    pthread_mutex_lock(&m->lock);
    struct mx_auth_req *late = m->inbox; /* submitted during destroy: not allowed, but safe */
    m->inbox = m->inbox_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    abort_inbox(m, late);
    return NULL;
}

/* ---- lifecycle ---- */

static void module_free(struct mx_auth *m)
{
    mx_auth_servers_fini(m);
    mx_auth_cache_fini(m);
    if (m->epfd >= 0)
        close(m->epfd);
    if (m->evfd >= 0)
        close(m->evfd);
    pthread_mutex_destroy(&m->lock);
    ares_library_cleanup();
    free(m);
}

struct mx_auth *mx_auth_create(const struct mx_auth_cfg *cfg, char *err, size_t errlen)
{
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares initialisation failed");
        return NULL;
    }
    struct mx_auth *m = calloc(1, sizeof *m);
    if (!m) {
        ares_library_cleanup();
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->epfd = m->evfd = -1;
    m->cfg = *cfg;
    struct mx_auth_cfg *c = &m->cfg;
    c->port = c->port ? c->port : 53;
    c->server_qps = c->server_qps != 0 ? c->server_qps : 10;
    c->global_qps = c->global_qps != 0 ? c->global_qps : 200;
    c->timeout_ms = c->timeout_ms ? c->timeout_ms : 2000;
    c->tries = c->tries ? c->tries : 3;
    c->max_servers = c->max_servers ? c->max_servers : 256;
    c->max_idle_servers = c->max_idle_servers ? c->max_idle_servers : 65536;
    c->cache_entries = c->cache_entries ? c->cache_entries : 100000;
    c->cache_max_age_s = c->cache_max_age_s ? c->cache_max_age_s : 600;
    c->dead_after = c->dead_after ? c->dead_after : 9;
    c->dead_hold_ms = c->dead_hold_ms ? c->dead_hold_ms : 30000;
    if (!isfinite(c->server_qps) || !(c->server_qps > 0 && c->server_qps <= 100000) ||
        !isfinite(c->global_qps) || !(c->global_qps > 0 && c->global_qps <= 1000000)) {
        snprintf(err, errlen, "query rates must be in (0, 100000] per server, (0, 1000000] in all");
        goto fail;
    }
    if (c->max_servers > 16384 || c->tries > 20 || c->timeout_ms > 600000) {
        snprintf(err, errlen, "max_servers above 16384, tries above 20 or timeout above 600 s");
        goto fail;
    }
    m->server_gap_us = (uint64_t)ceil(1e6 / c->server_qps);
    m->global_gap_us = (uint64_t)ceil(1e6 / c->global_qps);
    if (cfg->allow)
        m->allow = *cfg->allow;
    c->allow = &m->allow;
    if (!mx_auth_cache_init(m)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!mx_auth_servers_init(m, err, errlen))
        goto fail;
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    m->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->epfd < 0 || m->evfd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.u64 = MX_AUTH_EVFD_TAG;
    if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->evfd, &e) != 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    /* The module's thread takes no signals: they belong to the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, run, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    m->started = true;
    return m;
fail:
    module_free(m);
    return NULL;
}

static void wake(struct mx_auth *m)
{
    uint64_t one = 1;
    while (write(m->evfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

void mx_auth_destroy(struct mx_auth *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_mutex_unlock(&m->lock);
    wake(m);
    if (m->started)
        pthread_join(m->thread, NULL);
    module_free(m);
}

enum mx_status mx_auth_submit(struct mx_auth *m, const struct mx_ip *server, const char *qname,
                              uint16_t qtype, mx_auth_done_fn cb, void *ud)
{
    if (!m || !server || !cb || !qname || (server->family != 4 && server->family != 6))
        return MX_EINVAL;
    size_t nl = strlen(qname);
    if (nl > 0 && qname[nl - 1] == '.')
        nl--; /* one trailing dot */
    if (nl == 0 || nl > MX_NAME_MAX)
        return MX_EINVAL;
    struct mx_auth_req *req = calloc(1, sizeof *req);
    if (!req)
        return MX_ENOMEM;
    req->ip = *server;
    req->qtype = qtype;
    req->cb = cb;
    req->ud = ud;
    for (size_t i = 0; i < nl; i++)
        req->qname[i] = (char)tolower((unsigned char)qname[i]);
    req->qname[nl] = '\0';
    mx_auth_bump(&m->n_requests);
    pthread_mutex_lock(&m->lock);
    if (m->inbox_tail)
        m->inbox_tail->next = req;
    else
        m->inbox = req;
    m->inbox_tail = req;
    bool need_wake = !m->woken;
    m->woken = true;
    pthread_mutex_unlock(&m->lock);
    if (need_wake)
        wake(m);
    return MX_OK;
}

void mx_auth_stats(struct mx_auth *m, struct mx_auth_stats *out)
{
#define LOAD(f) atomic_load_explicit(&m->f, memory_order_relaxed)
    out->requests = LOAD(n_requests);
    out->completed = LOAD(n_completed);
    out->questions = LOAD(n_questions);
    out->sent = LOAD(n_sent);
    out->sent_tcp = LOAD(n_sent_tcp);
    out->responses = LOAD(n_responses);
    out->unanswered = LOAD(n_unanswered);
    out->cache_hits = LOAD(n_cache_hits);
    out->joins = LOAD(n_joins);
    out->not_allowed = LOAD(n_not_allowed);
    out->presumed = LOAD(n_presumed);
    out->channel_evictions = LOAD(n_chan_evict);
    out->cache_evictions = LOAD(n_cache_evict);
#undef LOAD
}

/* ---- what callers keep ---- */

void mx_auth_reply_clear(struct mx_auth_reply *r)
{
    free(r->ans);
    memset(r, 0, sizeof *r);
}

bool mx_auth_reply_set(struct mx_auth_reply *dst, const struct mx_auth_result *r)
{
    mx_auth_reply_clear(dst);
    dst->outcome = r->outcome;
    dst->rc = r->rc;
    dst->aa = r->aa;
    dst->tcp = r->tcp;
    if (r->outcome == MX_AUTH_ANSWERED && r->ans) {
        size_t n = mx_answer_bytes(r->ans);
        dst->ans = malloc(n);
        if (!dst->ans) {
            dst->outcome = MX_AUTH_ERROR;
            return false;
        }
        memcpy(dst->ans, r->ans, n);
        dst->ans->cap = (uint32_t)(n - sizeof *r->ans);
    }
    return true;
}
