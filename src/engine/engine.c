/* Resolver workers (engine.h). One thread per worker; each worker owns one
 * c-ares channel per server (c-ares tries = 1: every retry goes through our
 * token bucket and to the next server), an epoll set, a send queue of cache
 * entries to query, and the records handed to it. Cross-worker wake-ups go
 * through a mailbox (mutex + eventfd). */
#include <sys/select.h>

#include <ares.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mx/engine.h"
#include "mx/ratelimit.h"
#include "mx/sockio.h"

#define TICK_MS 50
#define EV_MAX 128
#define EVFD_TAG 0xFFFFu
#define DUMP_MAX 16384 /* bytes of a worker's description of its records */

struct worker;

struct chan {
    struct worker *w;
    unsigned idx;
    ares_channel ch;
};

struct worker {
    struct mx_engine *eng;
    unsigned id;
    pthread_t th;
    bool started;
    int epfd, evfd;
    struct chan ch[MX_MAX_SERVERS];
    unsigned nch;
    struct mx_sockio *io;       /* batched UDP for all of this worker's channels */
    /* mailbox (other threads write) */
    pthread_mutex_t mlock;
    struct mx_record *in_head, *in_tail;
    struct mx_waiter *notes;
    bool mail_flagged;
    /* owned by the worker thread */
    struct mx_record *ready_head, *ready_tail;
    struct mx_record *act_head; /* active records (for the stall report) */
    struct mx_centry *sq_head, *sq_tail;
    unsigned sq_len;
    struct mx_centry *xq_head, *xq_tail; /* requests for providers, not yet handed on */
    unsigned inflight, cap;
    unsigned active;
    uint16_t next_id;
    uint64_t last_tick;
    struct mx_answer *overflow_answer;
    /* counters, read by the monitor */
    _Alignas(64) _Atomic uint64_t c_sent, c_answered, c_retried, c_timeouts, c_done, c_stuck,
        c_inflight, c_active, c_queued, c_rounds, c_send_calls, c_recv_calls, c_rec_queries;
    _Atomic uint64_t c_rcode[MX_RC_COUNT];
    /* description of the active records, on request (mx_engine_describe):
     * the worker writes dump[] when dump_req moves, then sets dump_done */
    atomic_uint dump_req, dump_done;
    size_t dump_len;
    char dump[DUMP_MAX];
    atomic_bool exited;
};

/* Test-only fault injection, from the environment variable MXSCAN_FAULT
 * (read once per engine; documented in tests/README.md):
 *   lose-answer:N   the Nth completed look-up notifies nobody (a stall)
 *   spin-worker:N   worker 0 spins forever, deaf to everything, after N
 *                   analysis runs (a worker that ignores a stop) */
struct faults {
    uint64_t lose_answer;
    uint64_t spin_worker;
};

struct mx_engine {
    const struct mx_config *cfg;
    mx_analysis_fn analyze;
    void *aud;
    mx_done_fn done;
    void *dud;
    struct mx_cache *cache;
    struct mx_ratelimit rl;
    unsigned nworkers;
    struct worker *w;
    atomic_uint next_worker;
    atomic_bool closed;
    atomic_bool aborted;
    atomic_uint dump_gen;
    _Atomic uint64_t completions; /* counted only when a fault is armed */
    struct mx_ext_provider ext[MX_EXT_MAX];
    unsigned next;
    _Atomic uint64_t ext_inflight, ext_done;
    struct faults fault;
    pthread_mutex_t xlock;        /* workers that exited: xcount, under xlock */
    pthread_cond_t xcond;
    unsigned xcount;
};

static _Thread_local struct worker *self;

/* ---- mailbox ---- */

static void wake(struct worker *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->evfd, &one, sizeof one);
    (void)r;
}

static void mail_note(struct worker *w, struct mx_waiter *h)
{
    pthread_mutex_lock(&w->mlock);
    h->next = w->notes;
    w->notes = h;
    bool flag = !w->mail_flagged;
    w->mail_flagged = true;
    pthread_mutex_unlock(&w->mlock);
    if (flag)
        wake(w);
}

static void ready_push(struct worker *w, struct mx_record *rec)
{
    rec->next = NULL;
    if (w->ready_tail)
        w->ready_tail->next = rec;
    else
        w->ready_head = rec;
    w->ready_tail = rec;
}

static void active_add(struct worker *w, struct mx_record *rec)
{
    rec->aprev = NULL;
    rec->anext = w->act_head;
    if (w->act_head)
        w->act_head->aprev = rec;
    w->act_head = rec;
    w->active++;
    atomic_store_explicit(&w->c_active, w->active, memory_order_relaxed);
}

static void active_remove(struct worker *w, struct mx_record *rec)
{
    if (rec->aprev)
        rec->aprev->anext = rec->anext;
    else
        w->act_head = rec->anext;
    if (rec->anext)
        rec->anext->aprev = rec->aprev;
    rec->aprev = rec->anext = NULL;
    w->active--;
    atomic_store_explicit(&w->c_active, w->active, memory_order_relaxed);
}

static void note_local(struct worker *w, struct mx_waiter *h)
{
    struct mx_record *rec = h->rec;
    h->ready = true;
    if (--rec->pending == 0)
        ready_push(w, rec);
}

static void drain_mail(struct worker *w)
{
    pthread_mutex_lock(&w->mlock);
    struct mx_record *in = w->in_head;
    struct mx_waiter *notes = w->notes;
    w->in_head = w->in_tail = NULL;
    w->notes = NULL;
    w->mail_flagged = false;
    pthread_mutex_unlock(&w->mlock);
    while (notes) {
        struct mx_waiter *n = notes->next;
        note_local(w, notes);
        notes = n;
    }
    while (in) {
        struct mx_record *n = in->next;
        active_add(w, in);
        ready_push(w, in);
        in = n;
    }
}

/* ---- queries ---- */

static void sq_push(struct worker *w, struct mx_centry *e)
{
    w->sq_len++;
    atomic_store_explicit(&w->c_queued, w->sq_len, memory_order_relaxed);
    e->qnext = NULL;
    if (w->sq_tail)
        w->sq_tail->qnext = e;
    else
        w->sq_head = e;
    w->sq_tail = e;
}

static struct mx_centry *sq_pop(struct worker *w)
{
    struct mx_centry *e = w->sq_head;
    if (e) {
        w->sq_head = e->qnext;
        if (!w->sq_head)
            w->sq_tail = NULL;
        e->qnext = NULL;
        w->sq_len--;
        atomic_store_explicit(&w->c_queued, w->sq_len, memory_order_relaxed);
    }
    return e;
}

static void complete(struct worker *w, struct mx_centry *e, struct mx_answer *ans)
{
    struct mx_waiter *h = mx_cache_complete(w->eng->cache, e, ans, mx_now_ms());
    struct faults *f = &w->eng->fault;
    if (f->lose_answer &&
        atomic_fetch_add_explicit(&w->eng->completions, 1, memory_order_relaxed) + 1 ==
            f->lose_answer)
        h = NULL; /* fault injection: the waiters are never told */
    while (h) {
        struct mx_waiter *n = h->next;
        struct mx_record *rec = h->rec;
        if (rec->worker == w->id)
            note_local(w, h);
        else
            mail_note(&w->eng->w[rec->worker], h);
        h = n;
    }
    mx_centry_unref(e); /* the query's reference */
}

static void complete_failure(struct worker *w, struct mx_centry *e, enum mx_rc rc)
{
    struct mx_answer *a = mx_answer_failure(rc, e->qtype);
    if (!a) {
        /* Out of memory: keep the entry in flight rather than crash; the
         * record will be finished by the round limit at worst. */
        mx_centry_unref(e);
        return;
    }
    complete(w, e, a);
}

/* Queues e again, for the next resolver, while it has tries left. */
static bool retry(struct worker *w, struct mx_centry *e)
{
    if (e->attempt > w->eng->cfg->retries || atomic_load(&w->eng->aborted))
        return false;
    atomic_fetch_add_explicit(&w->c_retried, 1, memory_order_relaxed);
    e->server++;
    sq_push(w, e);
    return true;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct mx_centry *e = arg;
    struct worker *w = self;
    w->inflight--;
    atomic_fetch_sub_explicit(&w->c_inflight, 1, memory_order_relaxed);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
        mx_centry_unref(e);
        return;
    }
    if (status == ARES_SUCCESS && abuf && alen > 0) {
        atomic_fetch_add_explicit(&w->c_answered, 1, memory_order_relaxed);
        struct mx_answer *a = mx_answer_from_wire(abuf, (size_t)alen, e->name, e->qtype);
        if (!a) {
            complete_failure(w, e, MX_RC_OTHER);
            return;
        }
        atomic_fetch_add_explicit(&w->c_rcode[a->rc], 1, memory_order_relaxed);
        /* SERVFAIL and REFUSED may be passing (an overloaded upstream) or
         * particular to one resolver: retry them like a timeout, on the next
         * resolver when there are several (SPEC: failed "after retries"). */
        if ((a->rc == MX_RC_SERVFAIL || a->rc == MX_RC_REFUSED) && retry(w, e)) {
            free(a);
            return;
        }
        complete(w, e, a);
        return;
    }
    /* Timeout, connection refused, bad response ...: retry, then give up. */
    if (retry(w, e))
        return;
    atomic_fetch_add_explicit(&w->c_timeouts, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->c_rcode[MX_RC_TIMEOUT], 1, memory_order_relaxed);
    complete_failure(w, e, MX_RC_TIMEOUT);
}

static void send_query(struct worker *w, struct mx_centry *e)
{
    unsigned char buf[512];
    uint16_t id = w->next_id++;
    e->attempt++;
    /* With DANE every query asks for the AD bit (RFC 6840 5.7): answers are
     * cached and shared, so an exchange's addresses must carry it too. */
    size_t len = mx_dns_build_query_flags(buf, sizeof buf, id, e->name, e->qtype, 1232,
                                          w->eng->cfg->dns_ad ? MX_DNSQ_AD : 0);
    if (len == 0) {
        complete_failure(w, e, MX_RC_FORMERR);
        return;
    }
    w->inflight++;
    atomic_fetch_add_explicit(&w->c_inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->c_sent, 1, memory_order_relaxed);
    struct chan *c = &w->ch[e->server % w->nch];
    ares_send(c->ch, buf, (int)len, on_answer, e);
}

static void send_some(struct worker *w, uint64_t now)
{
    while (w->sq_head && w->inflight < w->cap) {
        unsigned room = w->cap - w->inflight;
        unsigned want = 0;
        for (struct mx_centry *e = w->sq_head; e && want < room && want < 256; e = e->qnext)
            want++;
        unsigned got = mx_ratelimit_take(&w->eng->rl, now, want);
        if (got == 0)
            return;
        for (unsigned i = 0; i < got; i++) {
            struct mx_centry *e = sq_pop(w);
            if (!e)
                break;
            send_query(w, e);
        }
    }
}

/* ---- requests for providers (engine.h: look-ups that are not DNS) ---- */

struct mx_ext_req {
    struct mx_engine *eng;
    struct mx_centry *e;
};

static void xq_push(struct worker *w, struct mx_centry *e)
{
    e->qnext = NULL;
    if (w->xq_tail)
        w->xq_tail->qnext = e;
    else
        w->xq_head = e;
    w->xq_tail = e;
}

static const struct mx_ext_provider *provider_for(const struct mx_engine *eng, uint16_t qtype)
{
    for (unsigned i = 0; i < eng->next; i++)
        if (eng->ext[i].qtype == qtype)
            return &eng->ext[i];
    return NULL;
}

/* Hands the queued requests to their providers (in the worker's loop, never
 * inside an analysis: a provider may answer at once). */
static void submit_ext(struct worker *w)
{
    struct mx_engine *eng = w->eng;
    while (w->xq_head) {
        struct mx_centry *e = w->xq_head;
        w->xq_head = e->qnext;
        if (!w->xq_head)
            w->xq_tail = NULL;
        e->qnext = NULL;
        const struct mx_ext_provider *p = provider_for(eng, e->qtype);
        struct mx_ext_req *req = p ? malloc(sizeof *req) : NULL;
        if (!req) {
            complete_failure(w, e, MX_RC_OTHER);
            continue;
        }
        req->eng = eng;
        req->e = e;
        atomic_fetch_add_explicit(&eng->ext_inflight, 1, memory_order_relaxed);
        p->submit(p->ctx, e->name, e->qtype, req);
    }
}

enum mx_status mx_engine_add_provider(struct mx_engine *e, const struct mx_ext_provider *p)
{
    if (e->next >= MX_EXT_MAX || p->qtype < MX_QT_EXT || provider_for(e, p->qtype))
        return MX_EINVAL;
    e->ext[e->next++] = *p;
    return MX_OK;
}

void mx_engine_ext_complete(struct mx_ext_req *req, struct mx_answer *ans)
{
    struct mx_engine *eng = req->eng;
    struct mx_centry *e = req->e;
    free(req);
    if (!ans)
        ans = mx_answer_failure(MX_RC_OTHER, e->qtype);
    if (!ans) {
        mx_centry_unref(e); /* out of memory: the record ends by the stall rules */
        return;
    }
    struct mx_waiter *h = mx_cache_complete(eng->cache, e, ans, mx_now_ms());
    while (h) { /* not a worker's thread: every waiter goes through its mailbox */
        struct mx_waiter *n = h->next;
        struct mx_record *rec = h->rec;
        mail_note(&eng->w[rec->worker], h);
        h = n;
    }
    mx_centry_unref(e);
    atomic_fetch_sub_explicit(&eng->ext_inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&eng->ext_done, 1, memory_order_relaxed);
}

/* ---- the oracle records see ---- */

struct octx {
    struct worker *w;
    struct mx_record *rec;
};

static const struct mx_answer *oracle_get(void *ud, const char *name, uint16_t qtype,
                                          unsigned flags)
{
    struct octx *x = ud;
    struct mx_record *rec = x->rec;
    struct worker *w = x->w;
    for (unsigned i = 0; i < rec->nheld; i++) {
        struct mx_waiter *h = &rec->held[i];
        if (h->e->qtype == qtype && strcmp(h->e->name, name) == 0)
            return h->ready ? h->e->ans : NULL;
    }
    if (rec->nheld >= MX_HELD_MAX) {
        rec->held_overflow = true;
        return w->overflow_answer;
    }
    struct mx_waiter *h = &rec->held[rec->nheld];
    h->rec = rec;
    h->ready = false;
    h->next = NULL;
    bool created, wait;
    struct mx_centry *e = mx_cache_acquire(w->eng->cache, name, qtype, (flags & MX_Q_SHARED) != 0,
                                           h, mx_now_ms(), &created, &wait);
    if (!e)
        return w->overflow_answer;
    rec->nheld++;
    if (created && qtype >= MX_QT_EXT) {
        xq_push(w, e);
    } else if (created) {
        rec->queries++;
        e->attempt = 0;
        e->server = (uint8_t)(w->next_id % w->nch);
        sq_push(w, e);
    }
    if (wait) {
        rec->pending++;
        return NULL;
    }
    h->ready = true;
    return e->ans;
}

void mx_engine_release(struct mx_record *rec)
{
    for (unsigned i = 0; i < rec->nheld; i++)
        mx_centry_unref(rec->held[i].e);
    rec->nheld = 0;
    rec->pending = 0;
}

static void run_record(struct worker *w, struct mx_record *rec)
{
    struct octx x = {w, rec};
    struct mx_oracle o = {oracle_get, &x};
    rec->rounds++;
    uint64_t r = atomic_fetch_add_explicit(&w->c_rounds, 1, memory_order_relaxed) + 1;
    if (w->eng->fault.spin_worker && w->id == 0 && r >= w->eng->fault.spin_worker)
        for (volatile unsigned spin = 1; spin;) /* fault injection: deaf forever */
            ;
    bool done = w->eng->analyze(w->eng->aud, rec, &o);
    if (done && rec->pending > 0) {
        /* The analysis reached its verdict without some answer it asked
         * for (e.g. one exchange matched before another's addresses came).
         * The record's waiters are still linked into those cache entries:
         * finishing it now would recycle a record that the entries will
         * later notify (its pending count then wraps and it never becomes
         * ready again: the stall of issue 9). Wait for them; the analysis
         * runs again with every answer it asked for, so the row does not
         * depend on which answer came first. */
        done = false;
    }
    if (!done && rec->pending == 0) {
        /* Nothing is awaited, yet the analysis wants more: a bug or the
         * round limit. Finish rather than spin. */
        atomic_fetch_add_explicit(&w->c_stuck, 1, memory_order_relaxed);
        done = true;
    }
    if (done) {
        mx_engine_release(rec);
        active_remove(w, rec);
        atomic_fetch_add_explicit(&w->c_rec_queries, rec->queries, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->c_done, 1, memory_order_relaxed);
        w->eng->done(w->eng->dud, rec);
    }
}

/* ---- diagnostics: what the active records wait for ---- */

static const char *qtype_name(uint16_t t)
{
    switch (t) {
    case MX_T_A:
        return "A";
    case MX_T_MX:
        return "MX";
    case MX_T_TXT:
        return "TXT";
    case MX_T_AAAA:
        return "AAAA";
    case MX_T_PTR:
        return "PTR";
    case MX_T_TLSA:
        return "TLSA";
    case MX_QT_SMTP:
        return "SMTP probe";
    case MX_QT_MTA_STS:
        return "MTA-STS fetch";
    default:
        return "?";
    }
}

static void dump_printf(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void dump_printf(struct worker *w, const char *fmt, ...)
{
    if (w->dump_len >= DUMP_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->dump + w->dump_len, DUMP_MAX - w->dump_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->dump_len += (size_t)n;
    if (w->dump_len >= DUMP_MAX)
        w->dump_len = DUMP_MAX - 1;
}

/* Runs in the worker's thread, when mx_engine_describe asks. */
static void write_dump(struct worker *w, unsigned req)
{
    unsigned max = req >> 20 ? req >> 20 : 20;
    unsigned n = 0;
    w->dump_len = 0;
    w->dump[0] = 0;
    dump_printf(w, "worker %u: %u active records, %u look-ups in flight, %u queued\n", w->id,
                w->active, w->inflight, w->sq_len);
    for (struct mx_record *r = w->act_head; r; r = r->anext) {
        if (n++ >= max) {
            dump_printf(w, "  ... and %u more\n", w->active - max);
            break;
        }
        dump_printf(w, "  row %" PRIu64 " (input line %" PRIu64 ") %s: %u analysis runs, "
                       "%u answers awaited:",
                    r->seq + 1, r->line_no, r->domain, r->rounds, r->pending);
        unsigned shown = 0;
        for (unsigned i = 0; i < r->nheld; i++) {
            const struct mx_waiter *h = &r->held[i];
            if (h->ready)
                continue;
            bool answered = mx_cache_entry_done(w->eng->cache, h->e);
            dump_printf(w, " %s/%s (%s)", h->e->name, qtype_name(h->e->qtype),
                        answered ? "answered, never delivered" : "in flight or queued");
            shown++;
        }
        dump_printf(w, "%s\n", shown ? "" : " nothing");
    }
}

static void maybe_dump(struct worker *w)
{
    unsigned req = atomic_load_explicit(&w->dump_req, memory_order_acquire);
    if (req != atomic_load_explicit(&w->dump_done, memory_order_relaxed)) {
        write_dump(w, req);
        atomic_store_explicit(&w->dump_done, req, memory_order_release);
    }
}

void mx_engine_describe(struct mx_engine *e, FILE *f, unsigned max_recs, unsigned wait_ms)
{
    /* The request word carries a generation (low 20 bits) and max_recs. */
    unsigned gen = (atomic_fetch_add(&e->dump_gen, 1) + 1) & 0xFFFFFu;
    if (max_recs > 4095)
        max_recs = 4095;
    unsigned req = (max_recs << 20) | gen;
    for (unsigned i = 0; i < e->nworkers; i++) {
        atomic_store_explicit(&e->w[i].dump_req, req, memory_order_release);
        wake(&e->w[i]);
    }
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct worker *w = &e->w[i];
        uint64_t t0 = mx_now_ms();
        while (atomic_load_explicit(&w->dump_done, memory_order_acquire) != req &&
               !atomic_load(&w->exited) && mx_now_ms() - t0 < wait_ms) {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (atomic_load_explicit(&w->dump_done, memory_order_acquire) == req)
            fwrite(w->dump, 1, w->dump_len, f);
        else if (atomic_load(&w->exited))
            fprintf(f, "worker %u: exited\n", i);
        else
            fprintf(f, "worker %u: does not answer (busy for over %u ms: a loop that does "
                       "not return?)\n",
                    i, wait_ms);
    }
}

/* ---- event loop ---- */

static void sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct chan *c = data;
    struct epoll_event ev = {0};
    ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)c->idx << 32 | (uint32_t)fd;
    if (!readable && !writable) {
        epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, fd, &ev);
        return;
    }
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mx_engine *eng = w->eng;
    struct epoll_event evs[EV_MAX];
    self = w;
    w->last_tick = mx_now_ms();
    for (;;) {
        if (atomic_load_explicit(&eng->aborted, memory_order_relaxed))
            break;
        drain_mail(w);
        maybe_dump(w);
        while (w->ready_head) {
            struct mx_record *rec = w->ready_head;
            w->ready_head = rec->next;
            if (!w->ready_head)
                w->ready_tail = NULL;
            run_record(w, rec);
        }
        uint64_t now = mx_now_ms();
        send_some(w, now);
        submit_ext(w);
        if (atomic_load(&eng->closed) && w->active == 0 && !w->ready_head) {
            pthread_mutex_lock(&w->mlock);
            bool empty = !w->in_head && !w->notes;
            pthread_mutex_unlock(&w->mlock);
            if (empty)
                break;
        }
        int timeout = TICK_MS;
        bool unsent = mx_sockio_flush(w->io);
        struct mx_sockio_stats ios;
        mx_sockio_get_stats(w->io, &ios);
        atomic_store_explicit(&w->c_send_calls, ios.send_calls, memory_order_relaxed);
        atomic_store_explicit(&w->c_recv_calls, ios.recv_calls, memory_order_relaxed);
        if (unsent)
            timeout = 1; /* the socket buffer was full: try again soon */
        else if (w->sq_head && w->inflight < w->cap) {
            uint64_t rw = mx_ratelimit_wait_ms(&eng->rl, now);
            timeout = rw < TICK_MS ? (int)rw : TICK_MS;
            if (timeout == 0)
                timeout = 1;
        }
        int n = epoll_wait(w->epfd, evs, EV_MAX, timeout);
        for (int i = 0; i < n; i++) {
            uint32_t idx = (uint32_t)(evs[i].data.u64 >> 32);
            int fd = (int)(uint32_t)evs[i].data.u64;
            if (idx == EVFD_TAG) {
                uint64_t v;
                ssize_t r = read(w->evfd, &v, sizeof v);
                (void)r;
                continue;
            }
            if (idx >= w->nch)
                continue;
            ares_socket_t rfd = (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd
                                                                               : ARES_SOCKET_BAD;
            ares_socket_t wfd = (evs[i].events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
            ares_process_fd(w->ch[idx].ch, rfd, wfd);
        }
        now = mx_now_ms();
        if (now - w->last_tick >= TICK_MS) {
            w->last_tick = now;
            for (unsigned c = 0; c < w->nch; c++)
                ares_process_fd(w->ch[c].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        }
    }
    maybe_dump(w);
    atomic_store(&w->exited, true);
    pthread_mutex_lock(&eng->xlock);
    eng->xcount++;
    pthread_cond_broadcast(&eng->xcond);
    pthread_mutex_unlock(&eng->xlock);
    return NULL;
}

/* ---- set-up ---- */

static uint64_t fault_arg(const char *spec, const char *key)
{
    const char *p = strstr(spec, key);
    if (!p)
        return 0;
    return strtoull(p + strlen(key), NULL, 10);
}

static enum mx_status chan_init(struct worker *w, unsigned idx, const struct mx_server *s,
                                const struct mx_config *cfg, char *err, size_t errlen)
{
    struct chan *c = &w->ch[idx];
    c->w = w;
    c->idx = idx;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
               ARES_OPT_SOCK_RCVBUF | ARES_OPT_SOCK_SNDBUF;
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN;
    o.timeout = (int)cfg->timeout_ms;
    o.tries = 1;
    o.sock_state_cb = sock_cb;
    o.sock_state_cb_data = c;
    o.socket_receive_buffer_size = 4 << 20;
    o.socket_send_buffer_size = 1 << 20;
    int rc = ares_init_options(&c->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares initialisation failed: %s", ares_strerror(rc));
        return MX_EDNS;
    }
    mx_sockio_attach(w->io, c->ch);
    char csv[192];
    if (s->v6)
        snprintf(csv, sizeof csv, "[%s]:%u", s->host, s->port);
    else
        snprintf(csv, sizeof csv, "%s:%u", s->host, s->port);
    rc = ares_set_servers_ports_csv(c->ch, csv);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "bad resolver address %s: %s", csv, ares_strerror(rc));
        ares_destroy(c->ch);
        c->ch = NULL;
        return MX_EINVAL;
    }
    return MX_OK;
}

enum mx_status mx_engine_create(const struct mx_config *cfg, mx_analysis_fn analyze, void *aud,
                                mx_done_fn done, void *dud, struct mx_engine **out, char *err,
                                size_t errlen)
{
    enum mx_status st = MX_ENOMEM;
    struct mx_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return MX_ENOMEM;
    }
    e->cfg = cfg;
    e->analyze = analyze;
    e->aud = aud;
    e->done = done;
    e->dud = dud;
    e->nworkers = cfg->threads ? cfg->threads : 1;
    pthread_mutex_init(&e->xlock, NULL);
    pthread_cond_init(&e->xcond, NULL);
    const char *fs = getenv("MXSCAN_FAULT");
    if (fs) {
        e->fault.lose_answer = fault_arg(fs, "lose-answer:");
        e->fault.spin_worker = fault_arg(fs, "spin-worker:");
    }
    mx_ratelimit_init(&e->rl, cfg->rate, mx_now_ms());
    e->cache = mx_cache_create(cfg->cache_entries, cfg->cache_max_age_s);
    e->w = calloc(e->nworkers, sizeof *e->w);
    if (!e->cache || !e->w) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    int arc = ares_library_init(ARES_LIB_INIT_ALL);
    if (arc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(arc));
        st = MX_EDNS;
        goto fail;
    }
    unsigned conc = cfg->concurrency ? cfg->concurrency : 1;
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct worker *w = &e->w[i];
        w->eng = e;
        w->id = i;
        w->epfd = -1;
        w->evfd = -1;
        pthread_mutex_init(&w->mlock, NULL);
        /* The cap is split so that the sum never exceeds --concurrency. */
        w->cap = conc / e->nworkers + (i < conc % e->nworkers ? 1u : 0u);
        if (w->cap == 0)
            w->cap = 1;
        w->next_id = (uint16_t)(0x1234u + i * 7919u);
        w->overflow_answer = mx_answer_failure(MX_RC_OTHER, 0);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->io = mx_sockio_create(4 << 20, 1 << 20);
        if (w->epfd < 0 || w->evfd < 0 || !w->overflow_answer || !w->io) {
            snprintf(err, errlen, "cannot create event loop: %s", strerror(errno));
            st = MX_EIO;
            goto fail;
        }
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.u64 = (uint64_t)EVFD_TAG << 32 | (uint32_t)w->evfd;
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev);
        w->nch = (unsigned)cfg->nservers;
        for (unsigned c = 0; c < w->nch; c++) {
            st = chan_init(w, c, &cfg->servers[c], cfg, err, errlen);
            if (st != MX_OK)
                goto fail;
        }
    }
    *out = e;
    return MX_OK;
fail:
    mx_engine_destroy(e);
    return st;
}

enum mx_status mx_engine_start(struct mx_engine *e, char *err, size_t errlen)
{
    for (unsigned i = 0; i < e->nworkers; i++) {
        int rc = pthread_create(&e->w[i].th, NULL, worker_main, &e->w[i]);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
            mx_engine_abort(e);
            return MX_EIO;
        }
        e->w[i].started = true;
    }
    return MX_OK;
}

void mx_engine_submit(struct mx_engine *e, struct mx_record *rec)
{
    unsigned i = atomic_fetch_add(&e->next_worker, 1) % e->nworkers;
    struct worker *w = &e->w[i];
    rec->worker = i;
    rec->next = NULL;
    rec->pending = 0;
    rec->rounds = 0;
    rec->queries = 0;
    rec->nheld = 0;
    rec->held_overflow = false;
    pthread_mutex_lock(&w->mlock);
    if (w->in_tail)
        w->in_tail->next = rec;
    else
        w->in_head = rec;
    w->in_tail = rec;
    bool flag = !w->mail_flagged;
    w->mail_flagged = true;
    pthread_mutex_unlock(&w->mlock);
    if (flag)
        wake(w);
}

void mx_engine_close(struct mx_engine *e)
{
    atomic_store(&e->closed, true);
    for (unsigned i = 0; i < e->nworkers; i++)
        wake(&e->w[i]);
}

void mx_engine_abort(struct mx_engine *e)
{
    atomic_store(&e->aborted, true);
    for (unsigned i = 0; i < e->nworkers; i++)
        if (e->w[i].evfd >= 0)
            wake(&e->w[i]);
}

bool mx_engine_join_timed(struct mx_engine *e, unsigned ms)
{
    unsigned started = 0;
    for (unsigned i = 0; i < e->nworkers; i++)
        started += e->w[i].started;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->xlock);
    while (e->xcount < started)
        if (pthread_cond_timedwait(&e->xcond, &e->xlock, &ts) == ETIMEDOUT)
            break;
    bool all = e->xcount >= started;
    pthread_mutex_unlock(&e->xlock);
    if (all) {
        mx_engine_join(e);
        return true;
    }
    /* Left running: detach what did not exit (join the rest). */
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct worker *w = &e->w[i];
        if (!w->started)
            continue;
        if (atomic_load(&w->exited))
            pthread_join(w->th, NULL);
        else
            pthread_detach(w->th);
        w->started = false;
    }
    return false;
}

void mx_engine_join(struct mx_engine *e)
{
    for (unsigned i = 0; i < e->nworkers; i++) {
        if (e->w[i].started) {
            pthread_join(e->w[i].th, NULL);
            e->w[i].started = false;
        }
    }
}

void mx_engine_destroy(struct mx_engine *e)
{
    if (!e)
        return;
    mx_engine_join(e);
    for (unsigned i = 0; e->w && i < e->nworkers; i++) {
        struct worker *w = &e->w[i];
        self = w;
        for (unsigned c = 0; c < MX_MAX_SERVERS; c++)
            if (w->ch[c].ch) {
                ares_destroy(w->ch[c].ch); /* callbacks drop the queries' refs */
                w->ch[c].ch = NULL;
            }
        self = NULL;
        struct mx_centry *q;
        while ((q = sq_pop(w)) != NULL)
            mx_centry_unref(q);
        while ((q = w->xq_head) != NULL) {
            w->xq_head = q->qnext;
            mx_centry_unref(q);
        }
        mx_sockio_destroy(w->io);
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->evfd >= 0)
            close(w->evfd);
        free(w->overflow_answer);
        pthread_mutex_destroy(&w->mlock);
    }
    free(e->w);
    pthread_mutex_destroy(&e->xlock);
    pthread_cond_destroy(&e->xcond);
    mx_cache_destroy(e->cache);
    mx_ratelimit_fini(&e->rl);
    ares_library_cleanup();
    free(e);
}

void mx_engine_counters(struct mx_engine *e, struct mx_counters *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct worker *w = &e->w[i];
        out->sent += atomic_load_explicit(&w->c_sent, memory_order_relaxed);
        out->answered += atomic_load_explicit(&w->c_answered, memory_order_relaxed);
        out->retried += atomic_load_explicit(&w->c_retried, memory_order_relaxed);
        out->timeouts += atomic_load_explicit(&w->c_timeouts, memory_order_relaxed);
        out->records_done += atomic_load_explicit(&w->c_done, memory_order_relaxed);
        out->stuck += atomic_load_explicit(&w->c_stuck, memory_order_relaxed);
        out->inflight += atomic_load_explicit(&w->c_inflight, memory_order_relaxed);
        out->active += atomic_load_explicit(&w->c_active, memory_order_relaxed);
        out->queued += atomic_load_explicit(&w->c_queued, memory_order_relaxed);
        out->rounds += atomic_load_explicit(&w->c_rounds, memory_order_relaxed);
        out->send_calls += atomic_load_explicit(&w->c_send_calls, memory_order_relaxed);
        out->recv_calls += atomic_load_explicit(&w->c_recv_calls, memory_order_relaxed);
        out->record_queries += atomic_load_explicit(&w->c_rec_queries, memory_order_relaxed);
        for (int r = 0; r < MX_RC_COUNT; r++)
            out->rcode[r] += atomic_load_explicit(&w->c_rcode[r], memory_order_relaxed);
    }
    out->ext_inflight = atomic_load_explicit(&e->ext_inflight, memory_order_relaxed);
    out->ext_done = atomic_load_explicit(&e->ext_done, memory_order_relaxed);
    for (unsigned i = 0; i < e->next; i++)
        if (e->ext[i].max_ms > out->ext_max_ms)
            out->ext_max_ms = e->ext[i].max_ms;
}

void mx_engine_cache_stats(struct mx_engine *e, struct mx_cache_stats *out)
{
    mx_cache_get_stats(e->cache, out);
}

uint64_t mx_engine_rate(struct mx_engine *e)
{
    return mx_ratelimit_rate(&e->rl);
}

void mx_engine_set_rate(struct mx_engine *e, uint64_t qps)
{
    mx_ratelimit_set_rate(&e->rl, qps);
}
