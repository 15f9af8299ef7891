/* Questions and the answer cache of the direct-query module: one table
 * keyed (address, qname, qtype) holds the questions in flight (later
 * askers join them) and the answered ones (LRU, bounded, aged). */
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"
#include "mx/hash.h"

bool mx_auth_cache_init(struct mx_auth *m)
{
    size_t n = 1024;
    while (n < m->cfg.cache_entries && n < ((size_t)1 << 22))
        n <<= 1;
    m->qmask = n - 1;
    m->qb = calloc(n, sizeof *m->qb);
    return m->qb != NULL;
}

static void q_free(struct mx_auth_q *q)
{
    free(q->ans);
    free(q->cb_ans);
    free(q);
}

void mx_auth_cache_fini(struct mx_auth *m)
{
    if (!m->qb)
        return;
    for (size_t b = 0; b <= m->qmask; b++) {
        struct mx_auth_q *q = m->qb[b];
        while (q) {
            struct mx_auth_q *n = q->hnext;
            q_free(q);
            q = n;
        }
    }
    free(m->qb);
    m->qb = NULL;
}

uint64_t mx_auth_key_hash(const struct mx_ip *ip, const char *qname, uint16_t qtype)
{
    uint64_t h = mx_fnv1a(MX_FNV1A_INIT, &ip->family, 1);
    h = mx_fnv1a(h, ip->b, ip->family == 4 ? 4 : 16);
    unsigned char t[2] = {(unsigned char)(qtype >> 8), (unsigned char)qtype};
    h = mx_fnv1a(h, t, 2);
    h = mx_fnv1a(h, qname, strlen(qname));
    return h ^ (h >> 29); /* the bucket comes from the low bits: mix the high ones in */
}

struct mx_auth_q *mx_auth_q_find(struct mx_auth *m, uint64_t h, const struct mx_ip *ip,
                                 const char *qname, uint16_t qtype)
{
    for (struct mx_auth_q *q = m->qb[h & m->qmask]; q; q = q->hnext)
        if (q->hash == h && q->qtype == qtype && mx_ip_equal(&q->ip, ip) &&
            strcmp(q->qname, qname) == 0)
            return q;
    return NULL;
}

struct mx_auth_q *mx_auth_q_new(struct mx_auth *m, uint64_t h, const struct mx_ip *ip,
                                const char *qname, uint16_t qtype)
{
    size_t nl = strlen(qname);
    struct mx_auth_q *q = calloc(1, sizeof *q + nl + 1);
    if (!q)
        return NULL;
    memcpy(q->qname, qname, nl + 1);
    q->hash = h;
    q->ip = *ip;
    q->qtype = qtype;
    q->st = MX_AUTH_Q_PENDING;
    q->hnext = m->qb[h & m->qmask];
    m->qb[h & m->qmask] = q;
    q->in_table = true;
    return q;
}

static void unhash(struct mx_auth *m, struct mx_auth_q *q)
{
    struct mx_auth_q **pp = &m->qb[q->hash & m->qmask];
    while (*pp && *pp != q)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = q->hnext;
    q->in_table = false;
}

static void lru_unlink(struct mx_auth *m, struct mx_auth_q *q)
{
    if (q->lprev)
        q->lprev->lnext = q->lnext;
    else
        m->lru_head = q->lnext;
    if (q->lnext)
        q->lnext->lprev = q->lprev;
    else
        m->lru_tail = q->lprev;
    q->lprev = q->lnext = NULL;
}

static void lru_push_front(struct mx_auth *m, struct mx_auth_q *q)
{
    q->lprev = NULL;
    q->lnext = m->lru_head;
    if (m->lru_head)
        m->lru_head->lprev = q;
    else
        m->lru_tail = q;
    m->lru_head = q;
}

void mx_auth_q_touch(struct mx_auth *m, struct mx_auth_q *q)
{
    if (q->st != MX_AUTH_Q_DONE || m->lru_head == q)
        return;
    lru_unlink(m, q);
    lru_push_front(m, q);
}

/* Drops a DONE question from the table and the LRU. */
static void drop_done(struct mx_auth *m, struct mx_auth_q *q)
{
    unhash(m, q);
    lru_unlink(m, q);
    m->ndone--;
    q_free(q);
}

bool mx_auth_q_expire(struct mx_auth *m, struct mx_auth_q *q, uint64_t now_ms)
{
    if (q->st != MX_AUTH_Q_DONE ||
        now_ms - q->done_ms < (uint64_t)m->cfg.cache_max_age_s * 1000u)
        return false;
    drop_done(m, q);
    return true;
}

void mx_auth_q_finish(struct mx_auth *m, struct mx_auth_q *q, uint64_t now_ms)
{
    mx_auth_server_release(m, q);
    q->st = MX_AUTH_Q_DONE;
    q->done_ms = now_ms;
    mx_auth_notify(m, q);
    if (q->outcome == MX_AUTH_ERROR || q->outcome == MX_AUTH_ABORTED) {
        unhash(m, q); /* our failure, not the server's: the next asker tries again */
        q_free(q);
        return;
    }
    lru_push_front(m, q);
    m->ndone++;
    while (m->ndone > m->cfg.cache_entries && m->lru_tail) {
        drop_done(m, m->lru_tail);
        mx_auth_bump(&m->n_cache_evict);
    }
}

void mx_auth_cache_abort_all(struct mx_auth *m)
{
    uint64_t now = mx_now_ms();
    for (size_t b = 0; b <= m->qmask; b++) {
        struct mx_auth_q *q = m->qb[b];
        while (q) {
            struct mx_auth_q *n = q->hnext;
            if (q->st == MX_AUTH_Q_PENDING) {
                q->outcome = MX_AUTH_ABORTED;
                q->rc = MX_RC_OTHER;
                mx_auth_q_finish(m, q, now);
            }
            q = n;
        }
    }
}
