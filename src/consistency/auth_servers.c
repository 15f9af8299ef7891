/* Authoritative addresses of the direct-query module: their table, the
 * pacers (per address and global), the heap of addresses with questions
 * to send, the bounded set of c-ares channel slots, sending, and what
 * becomes of each try. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "auth_int.h"
#include "mx/hash.h"
#include "mx/sockio.h"

#define EDNS_SIZE 1232

/* ---- pacers ----
 * next is the earliest time of the next packet.
 * Per address (politeness first): strictly spaced, every packet at least
 * gap after the one before, so at most T / gap + 1 packets in any span T
 * (server_qps + 1 in any second); a late loop turn costs a little rate.
 * Global (a ceiling on throughput): after an idle spell it restarts from
 * now (no credit piles up); otherwise packets keep their schedule, so late
 * loop turns (epoll waits in whole milliseconds) do not lower the rate.
 * Sends happen at t_k in [s_k, s_k + gap) with scheduled times s_k at
 * least gap apart: at most T / gap + 2 packets in any span T. */
static void pace_strict(uint64_t *next, uint64_t now, uint64_t gap)
{
    *next = (*next > now ? *next : now) + gap;
}

static void pace_take(uint64_t *next, uint64_t now, uint64_t gap)
{
    if (*next + gap <= now)
        *next = now;
    *next += gap;
}

/* ---- the heap of addresses with questions queued, by next_us ---- */

static void heap_set(struct mx_auth *m, size_t i, struct mx_auth_server *s)
{
    m->heap[i] = s;
    s->heap_idx = i;
}

static void heap_up(struct mx_auth *m, size_t i)
{
    struct mx_auth_server *s = m->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (m->heap[p]->next_us <= s->next_us)
            break;
        heap_set(m, i, m->heap[p]);
        i = p;
    }
    heap_set(m, i, s);
}

static void heap_down(struct mx_auth *m, size_t i)
{
    struct mx_auth_server *s = m->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        uint64_t bv = s->next_us;
        if (l < m->nheap && m->heap[l]->next_us < bv) {
            best = l;
            bv = m->heap[l]->next_us;
        }
        if (r < m->nheap && m->heap[r]->next_us < bv)
            best = r;
        if (best == i)
            break;
        heap_set(m, i, m->heap[best]);
        i = best;
    }
    heap_set(m, i, s);
}

static bool heap_push(struct mx_auth *m, struct mx_auth_server *s)
{
    if (s->heap_idx != SIZE_MAX)
        return true;
    if (m->nheap == m->heapcap) {
        size_t cap = m->heapcap ? m->heapcap * 2 : 256;
        struct mx_auth_server **h = realloc(m->heap, cap * sizeof *h);
        if (!h)
            return false;
        m->heap = h;
        m->heapcap = cap;
    }
    heap_set(m, m->nheap++, s);
    heap_up(m, s->heap_idx);
    return true;
}

static void heap_remove(struct mx_auth *m, struct mx_auth_server *s)
{
    size_t i = s->heap_idx;
    if (i == SIZE_MAX)
        return;
    s->heap_idx = SIZE_MAX;
    struct mx_auth_server *last = m->heap[--m->nheap];
    if (i == m->nheap)
        return;
    heap_set(m, i, last);
    heap_up(m, i);
    heap_down(m, last->heap_idx);
}

/* ---- slots: free and idle ones on one list, free first, then least
 * recently used ---- */

static void slot_unlist(struct mx_auth *m, struct mx_auth_slot *sl)
{
    if (!sl->listed)
        return;
    if (sl->lprev)
        sl->lprev->lnext = sl->lnext;
    else
        m->free_head = sl->lnext;
    if (sl->lnext)
        sl->lnext->lprev = sl->lprev;
    else
        m->free_tail = sl->lprev;
    sl->lprev = sl->lnext = NULL;
    sl->listed = false;
}

static void slot_list(struct mx_auth *m, struct mx_auth_slot *sl, bool front)
{
    if (sl->listed)
        return;
    sl->listed = true;
    if (front) {
        sl->lprev = NULL;
        sl->lnext = m->free_head;
        if (m->free_head)
            m->free_head->lprev = sl;
        else
            m->free_tail = sl;
        m->free_head = sl;
    } else {
        sl->lnext = NULL;
        sl->lprev = m->free_tail;
        if (m->free_tail)
            m->free_tail->lnext = sl;
        else
            m->free_head = sl;
        m->free_tail = sl;
    }
}

static void sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct mx_auth_chan *c = data;
    struct mx_auth *m = c->slot->m;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)(c->slot->idx * 2u + (c->tcp ? 1u : 0u)) << 32 | (uint32_t)fd;
    if (!readable && !writable) {
        epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, &ev);
        return;
    }
    if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static bool chan_open(struct mx_auth *m, struct mx_auth_chan *c, const struct mx_ip *ip)
{
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    /* NOCHECKRESP: REFUSED and SERVFAIL come back to us as answers.
     * IGNTC: a truncated UDP answer too (we re-ask over TCP ourselves,
     * through the pacers). */
    o.flags = ARES_FLAG_NOCHECKRESP |
              (c->tcp ? ARES_FLAG_USEVC : (ARES_FLAG_STAYOPEN | ARES_FLAG_IGNTC));
    o.timeout = (int)m->cfg.timeout_ms;
    o.tries = 1;
    o.sock_state_cb = sock_cb;
    o.sock_state_cb_data = c;
    if (ares_init_options(&c->ch, &o, mask) != ARES_SUCCESS) {
        c->ch = NULL;
        return false;
    }
    char host[64], csv[96];
    mx_ip_format(ip, host, sizeof host);
    if (ip->family == 6)
        snprintf(csv, sizeof csv, "[%s]:%u", host, m->cfg.port);
    else
        snprintf(csv, sizeof csv, "%s:%u", host, m->cfg.port);
    if (ares_set_servers_ports_csv(c->ch, csv) != ARES_SUCCESS) {
        ares_destroy(c->ch);
        c->ch = NULL;
        return false;
    }
    return true;
}

static void chan_close(struct mx_auth_chan *c)
{
    if (c->ch) {
        ares_destroy(c->ch);
        c->ch = NULL;
    }
}

/* Detaches sl from its address and closes its channels (nothing in flight). */
static void slot_release(struct mx_auth *m, struct mx_auth_slot *sl)
{
    (void)m;
    chan_close(&sl->udp);
    chan_close(&sl->tcp);
    if (sl->srv)
        sl->srv->slot = NULL;
    sl->srv = NULL;
}

/* A slot for s: a free one, else the least recently used idle one. 0 on
 * success, 1 when every slot is busy, -1 when a channel cannot be opened. */
static int slot_acquire(struct mx_auth *m, struct mx_auth_server *s)
{
    struct mx_auth_slot *sl = m->free_head;
    if (!sl)
        return 1;
    slot_unlist(m, sl);
    if (sl->srv) {
        slot_release(m, sl);
        mx_auth_bump(&m->n_chan_evict);
    }
    if (!chan_open(m, &sl->udp, &s->ip)) {
        slot_list(m, sl, true);
        return -1;
    }
    sl->srv = s;
    s->slot = sl;
    slot_list(m, sl, false); /* idle until a query is sent */
    return 0;
}

/* ---- the address table ---- */

static uint64_t ip_hash(const struct mx_ip *ip)
{
    uint64_t h = mx_fnv1a(MX_FNV1A_INIT, &ip->family, 1);
    h = mx_fnv1a(h, ip->b, ip->family == 4 ? 4 : 16);
    return h ^ (h >> 29);
}

static uint64_t rng_next(struct mx_auth *m)
{
    /* xorshift64*: query-ID permutations, not secrets */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * 0x2545F4914F6CDD1Dull;
}

static void idle_unlink(struct mx_auth *m, struct mx_auth_server *s)
{
    if (!s->idle_listed)
        return;
    if (s->lprev)
        s->lprev->lnext = s->lnext;
    else
        m->idle_head = s->lnext;
    if (s->lnext)
        s->lnext->lprev = s->lprev;
    else
        m->idle_tail = s->lprev;
    s->lprev = s->lnext = NULL;
    s->idle_listed = false;
    m->nidle--;
}

static void idle_push(struct mx_auth *m, struct mx_auth_server *s)
{
    if (s->idle_listed)
        return;
    s->idle_listed = true;
    s->lprev = NULL;
    s->lnext = m->idle_head;
    if (m->idle_head)
        m->idle_head->lprev = s;
    else
        m->idle_tail = s;
    m->idle_head = s;
    m->nidle++;
}

static void server_free(struct mx_auth *m, struct mx_auth_server *s)
{
    struct mx_auth_server **pp = &m->sb[s->hash & m->smask];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    idle_unlink(m, s);
    if (s->slot) {
        struct mx_auth_slot *sl = s->slot;
        slot_unlist(m, sl);
        slot_release(m, sl);
        slot_list(m, sl, true);
    }
    m->nservers--;
    free(s);
}

/* Forgets the oldest idle addresses past the cap, once their pacer and
 * down state no longer matter. */
static void idle_trim(struct mx_auth *m)
{
    uint64_t now_us = mx_auth_now_us(), now_ms = now_us / 1000;
    while (m->nidle > m->cfg.max_idle_servers) {
        struct mx_auth_server *s = m->idle_tail;
        if (s->next_us > now_us || s->down_until_ms > now_ms)
            break;
        server_free(m, s);
    }
}

struct mx_auth_server *mx_auth_server_get(struct mx_auth *m, const struct mx_ip *ip)
{
    uint64_t h = ip_hash(ip);
    for (struct mx_auth_server *s = m->sb[h & m->smask]; s; s = s->hnext)
        if (s->hash == h && mx_ip_equal(&s->ip, ip))
            return s;
    idle_trim(m);
    struct mx_auth_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->ip = *ip;
    s->hash = h;
    s->heap_idx = SIZE_MAX;
    uint64_t r = rng_next(m);
    s->id_next = (uint16_t)r;
    s->id_mul = (uint16_t)((r >> 16) | 1u); /* odd: a permutation of 0..65535 */
    s->hnext = m->sb[h & m->smask];
    m->sb[h & m->smask] = s;
    m->nservers++;
    idle_push(m, s);
    return s;
}

bool mx_auth_server_down(struct mx_auth *m, const struct mx_auth_server *s, uint64_t now_ms)
{
    (void)m;
    return s->down_until_ms > now_ms;
}

void mx_auth_server_attach(struct mx_auth *m, struct mx_auth_server *s, struct mx_auth_q *q)
{
    q->srv = s;
    s->pending++;
    idle_unlink(m, s);
}

/* Puts s on the heap when it has questions to send and nothing blocks it. */
static void reschedule(struct mx_auth *m, struct mx_auth_server *s)
{
    if (s->qhead && !s->waiting && s->heap_idx == SIZE_MAX)
        (void)heap_push(m, s); /* ENOMEM: picked up at the next reschedule */
}

void mx_auth_server_enqueue(struct mx_auth *m, struct mx_auth_q *q, bool front)
{
    struct mx_auth_server *s = q->srv;
    q->queued = true;
    if (front) {
        q->qnext = s->qhead;
        s->qhead = q;
        if (!s->qtail)
            s->qtail = q;
    } else {
        q->qnext = NULL;
        if (s->qtail)
            s->qtail->qnext = q;
        else
            s->qhead = q;
        s->qtail = q;
    }
    reschedule(m, s);
}

static struct mx_auth_q *dequeue(struct mx_auth_server *s)
{
    struct mx_auth_q *q = s->qhead;
    if (q) {
        s->qhead = q->qnext;
        if (!s->qhead)
            s->qtail = NULL;
        q->qnext = NULL;
        q->queued = false;
    }
    return q;
}

static void wait_remove(struct mx_auth *m, struct mx_auth_server *s)
{
    if (!s->waiting)
        return;
    struct mx_auth_server **pp = &m->wait_head, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (*pp)
        *pp = s->wnext;
    if (m->wait_tail == s)
        m->wait_tail = prev;
    s->wnext = NULL;
    s->waiting = false;
}

void mx_auth_server_release(struct mx_auth *m, struct mx_auth_q *q)
{
    struct mx_auth_server *s = q->srv;
    if (!s)
        return;
    if (q->queued) { /* shutdown: drop it from the queue */
        struct mx_auth_q **pp = &s->qhead, *prev = NULL;
        while (*pp && *pp != q) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        if (*pp)
            *pp = q->qnext;
        if (s->qtail == q)
            s->qtail = prev;
        q->queued = false;
        q->qnext = NULL;
    }
    q->srv = NULL;
    s->pending--;
    if (!s->qhead) {
        heap_remove(m, s);
        wait_remove(m, s);
    }
    if (s->pending == 0)
        idle_push(m, s);
}

/* ---- sending ---- */

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct mx_auth_q *q = arg;
    struct mx_auth *m = q->srv->m;
    q->cb_status = status;
    free(q->cb_ans);
    q->cb_ans = NULL;
    q->cb_tc = false;
    if (status == ARES_SUCCESS && abuf && alen >= 12) {
        q->cb_tc = (abuf[2] & 0x02) != 0;
        q->cb_ans = mx_answer_from_wire(abuf, (size_t)alen, q->qname, q->qtype);
    } else if (status == ARES_SUCCESS) {
        q->cb_status = ARES_EBADRESP;
    }
    q->qnext = NULL;
    if (m->done_tail)
        m->done_tail->qnext = q;
    else
        m->done_head = q;
    m->done_tail = q;
}

static void finish(struct mx_auth *m, struct mx_auth_q *q, enum mx_auth_outcome o, enum mx_rc rc)
{
    q->outcome = o;
    q->rc = rc;
    mx_auth_q_finish(m, q, mx_now_ms());
}

static void send_one(struct mx_auth *m, struct mx_auth_server *s, struct mx_auth_q *q)
{
    struct mx_auth_slot *sl = s->slot;
    struct mx_auth_chan *c = q->want_tcp ? &sl->tcp : &sl->udp;
    if (!c->ch && !chan_open(m, c, &s->ip)) {
        finish(m, q, MX_AUTH_ERROR, MX_RC_OTHER);
        return;
    }
    unsigned char buf[512];
    uint16_t id = (uint16_t)((uint32_t)s->id_next * s->id_mul);
    s->id_next++;
    size_t len = mx_dns_build_query_flags(buf, sizeof buf, id, q->qname, q->qtype, EDNS_SIZE,
                                          MX_DNSQ_NORD);
    if (len == 0) {
        finish(m, q, MX_AUTH_ERROR, MX_RC_OTHER);
        return;
    }
    q->tries++;
    q->inflight = true;
    s->inflight++;
    if (sl->inflight++ == 0)
        slot_unlist(m, sl);
    m->inflight++;
    mx_auth_bump(&m->n_sent);
    if (q->want_tcp)
        mx_auth_bump(&m->n_sent_tcp);
    ares_send(c->ch, buf, (int)len, on_reply, q);
}

/* Ends every queued question of an address presumed down. */
static void drain_down(struct mx_auth *m, struct mx_auth_server *s)
{
    struct mx_auth_q *q;
    while ((q = dequeue(s)) != NULL) {
        q->presumed = q->tries == 0;
        if (q->presumed)
            mx_auth_bump(&m->n_presumed);
        finish(m, q, MX_AUTH_TIMEOUT, MX_RC_TIMEOUT);
    }
}

static int ms_until(uint64_t at_us, uint64_t now_us)
{
    uint64_t d = at_us > now_us ? (at_us - now_us + 999) / 1000 : 0;
    return d > 1000 ? 1000 : (int)d;
}

int mx_auth_send_some(struct mx_auth *m)
{
    for (;;) {
        if (m->nheap == 0)
            return -1;
        uint64_t now_us = mx_auth_now_us();
        struct mx_auth_server *s = m->heap[0];
        if (mx_auth_server_down(m, s, now_us / 1000)) {
            heap_remove(m, s);
            drain_down(m, s);
            continue;
        }
        if (s->next_us > now_us)
            return ms_until(s->next_us, now_us);
        if (m->global_next_us > now_us)
            return ms_until(m->global_next_us, now_us);
        /* after a spell presumed down: one question at a time until one is answered */
        if (s->unanswered >= m->cfg.dead_after && s->inflight > 0) {
            heap_remove(m, s);
            continue;
        }
        if (!s->slot) {
            int r = slot_acquire(m, s);
            if (r > 0) { /* every slot busy: wait for one */
                heap_remove(m, s);
                s->waiting = true;
                s->wnext = NULL;
                if (m->wait_tail)
                    m->wait_tail->wnext = s;
                else
                    m->wait_head = s;
                m->wait_tail = s;
                continue;
            }
            if (r < 0) {
                struct mx_auth_q *q;
                heap_remove(m, s);
                while ((q = dequeue(s)) != NULL)
                    finish(m, q, MX_AUTH_ERROR, MX_RC_OTHER);
                continue;
            }
        }
        struct mx_auth_q *q = dequeue(s);
        pace_strict(&s->next_us, now_us, m->server_gap_us);
        pace_take(&m->global_next_us, now_us, m->global_gap_us);
        if (s->qhead)
            heap_down(m, s->heap_idx); /* next_us only grew */
        else
            heap_remove(m, s);
        send_one(m, s, q);
    }
}

/* A slot went idle: hand it to an address waiting for one. */
static void slot_idle(struct mx_auth *m, struct mx_auth_slot *sl)
{
    slot_list(m, sl, false);
    struct mx_auth_server *w = m->wait_head;
    if (w) {
        m->wait_head = w->wnext;
        if (!m->wait_head)
            m->wait_tail = NULL;
        w->wnext = NULL;
        w->waiting = false;
        reschedule(m, w);
    }
}

void mx_auth_process_done(struct mx_auth *m)
{
    while (m->done_head) {
        struct mx_auth_q *q = m->done_head;
        m->done_head = q->qnext;
        if (!m->done_head)
            m->done_tail = NULL;
        q->qnext = NULL;
        struct mx_auth_server *s = q->srv;
        struct mx_auth_slot *sl = s->slot;
        q->inflight = false;
        s->inflight--;
        m->inflight--;
        if (sl && --sl->inflight == 0 && !m->stopping)
            slot_idle(m, sl);
        struct mx_answer *ans = q->cb_ans;
        q->cb_ans = NULL;
        if (m->stopping || q->cb_status == ARES_EDESTRUCTION ||
            q->cb_status == ARES_ECANCELLED) {
            free(ans); /* shutdown: ended as aborted afterwards */
            continue;
        }
        uint64_t now_ms = mx_now_ms();
        if (q->cb_status == ARES_SUCCESS) {
            mx_auth_bump(&m->n_responses);
            s->unanswered = 0;
            s->down_until_ms = 0;
            if (!ans) {
                finish(m, q, MX_AUTH_ERROR, MX_RC_OTHER);
            } else if (q->cb_tc && !q->want_tcp) {
                free(ans); /* truncated: ask again over TCP */
                q->want_tcp = true;
                mx_auth_server_enqueue(m, q, true);
            } else {
                q->ans = ans;
                q->aa = ans->aa;
                q->tcp = q->want_tcp;
                finish(m, q, MX_AUTH_ANSWERED, ans->rc);
            }
        } else {
            free(ans);
            mx_auth_bump(&m->n_unanswered);
            if (++s->unanswered >= m->cfg.dead_after)
                s->down_until_ms = now_ms + m->cfg.dead_hold_ms;
            unsigned limit = m->cfg.tries + (q->want_tcp ? 1u : 0u);
            if (q->tries < limit && !mx_auth_server_down(m, s, now_ms))
                mx_auth_server_enqueue(m, q, true);
            else
                finish(m, q, MX_AUTH_TIMEOUT, MX_RC_TIMEOUT);
        }
        reschedule(m, s);
    }
}

void mx_auth_chan_event(struct mx_auth *m, uint64_t tag, uint32_t events)
{
    unsigned ci = (unsigned)(tag >> 32);
    int fd = (int)(uint32_t)tag;
    if (ci / 2 >= m->cfg.max_servers)
        return;
    struct mx_auth_slot *sl = &m->slots[ci / 2];
    struct mx_auth_chan *c = (ci & 1) ? &sl->tcp : &sl->udp;
    if (!c->ch)
        return;
    ares_socket_t rfd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(c->ch, rfd, wfd);
}

void mx_auth_tick(struct mx_auth *m)
{
    for (unsigned i = 0; i < m->cfg.max_servers; i++) {
        struct mx_auth_slot *sl = &m->slots[i];
        if (sl->inflight == 0)
            continue;
        if (sl->udp.ch)
            ares_process_fd(sl->udp.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        if (sl->tcp.ch)
            ares_process_fd(sl->tcp.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
}

void mx_auth_close_channels(struct mx_auth *m)
{
    for (unsigned i = 0; m->slots && i < m->cfg.max_servers; i++) {
        chan_close(&m->slots[i].udp);
        chan_close(&m->slots[i].tcp);
    }
}

/* ---- set-up ---- */

bool mx_auth_servers_init(struct mx_auth *m, char *err, size_t errlen)
{
    size_t n = 1024;
    while (n < m->cfg.max_idle_servers && n < ((size_t)1 << 20))
        n <<= 1;
    m->smask = n - 1;
    m->sb = calloc(n, sizeof *m->sb);
    m->slots = calloc(m->cfg.max_servers, sizeof *m->slots);
    if (!m->sb || !m->slots) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (unsigned i = 0; i < m->cfg.max_servers; i++) {
        struct mx_auth_slot *sl = &m->slots[i];
        sl->m = m;
        sl->idx = i;
        sl->udp.slot = sl->tcp.slot = sl;
        sl->tcp.tcp = true;
        slot_list(m, sl, false);
    }
    m->rng = mx_auth_now_us() ^ (uint64_t)(uintptr_t)m ^ 0x9E3779B97F4A7C15ull;
    if (!m->rng)
        m->rng = 1;
    return true;
}

void mx_auth_servers_fini(struct mx_auth *m)
{
    mx_auth_close_channels(m);
    if (m->sb) {
        for (size_t b = 0; b <= m->smask; b++) {
            struct mx_auth_server *s = m->sb[b];
            while (s) {
                struct mx_auth_server *n = s->hnext;
                free(s);
                s = n;
            }
        }
    }
    free(m->sb);
    free(m->slots);
    free(m->heap);
    m->sb = NULL;
    m->slots = NULL;
    m->heap = NULL;
}
