/* The probe's tables: hosts by address (hash, idle LRU and ready lists,
 * request queues) and the RCPT answer cache (hash and LRU). Probe thread
 * only. */
#include <stdlib.h>
#include <string.h>

#include "mx/hash.h"
#include "smtp_int.h"

/* ---- RCPT answer cache ---- */

static uint64_t hash_ip(const struct mx_ip *ip)
{
    unsigned char key[17];
    key[0] = ip->family;
    memcpy(key + 1, ip->b, 16);
    return mx_fnv1a(MX_FNV1A_INIT, key, sizeof key);
}

static uint64_t hash_rc(const struct mx_ip *ip, const char *domain)
{
    uint64_t h = hash_ip(ip) ^ mx_fnv1a(MX_FNV1A_INIT, domain, strlen(domain));
    return h * 0x9E3779B97F4A7C15ull; /* mix before masking */
}

static void rc_unlink_lru(struct mx_smtp *p, struct mx_smtp_rc *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        p->rc_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        p->rc_tail = e->prev;
    e->prev = e->next = NULL;
}

static void rc_push_lru(struct mx_smtp *p, struct mx_smtp_rc *e)
{
    e->prev = p->rc_tail;
    e->next = NULL;
    if (p->rc_tail)
        p->rc_tail->next = e;
    else
        p->rc_head = e;
    p->rc_tail = e;
}

struct mx_smtp_rc *mx_smtp_rc_find(struct mx_smtp *p, const struct mx_ip *ip, const char *domain)
{
    uint64_t hv = hash_rc(ip, domain);
    for (struct mx_smtp_rc *e = p->rb[hv & p->rmask]; e; e = e->hnext)
        if (e->hash == hv && mx_ip_equal(&e->ip, ip) && strcmp(e->data, domain) == 0) {
            rc_unlink_lru(p, e);
            rc_push_lru(p, e);
            return e;
        }
    return NULL;
}

static void rc_drop_oldest(struct mx_smtp *p)
{
    struct mx_smtp_rc *e = p->rc_head;
    if (!e)
        return;
    rc_unlink_lru(p, e);
    for (struct mx_smtp_rc **pp = &p->rb[e->hash & p->rmask]; *pp; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    free(e);
    p->rcount--;
}

static void rc_grow(struct mx_smtp *p)
{
    size_t n = (p->rmask + 1) * 2;
    struct mx_smtp_rc **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i <= p->rmask; i++) {
        struct mx_smtp_rc *e = p->rb[i], *nx;
        for (; e; e = nx) {
            nx = e->hnext;
            e->hnext = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(p->rb);
    p->rb = nb;
    p->rmask = n - 1;
}

void mx_smtp_rc_store(struct mx_smtp *p, const struct mx_ip *ip, const char *domain,
                     uint16_t mail_code, uint16_t code, const char *text)
{
    size_t dl = strlen(domain), tl = strlen(text);
    struct mx_smtp_rc *e = malloc(sizeof *e + dl + tl + 2);
    if (!e)
        return; /* a cache, not a promise */
    e->hash = hash_rc(ip, domain);
    e->ip = *ip;
    e->mail_code = mail_code;
    e->code = code;
    e->domlen = dl;
    memcpy(e->data, domain, dl + 1);
    memcpy(e->data + dl + 1, text, tl + 1);
    while (p->rcount >= p->cfg.cache_rcpts && p->rc_head)
        rc_drop_oldest(p);
    if (p->rcount >= p->rmask + 1)
        rc_grow(p);
    e->hnext = p->rb[e->hash & p->rmask];
    p->rb[e->hash & p->rmask] = e;
    rc_push_lru(p, e);
    p->rcount++;
}

/* ---- hosts ---- */

static void list_unlink(struct mx_smtp *p, struct mx_smtp_host *h)
{
    struct mx_smtp_host **head, **tail;
    if (h->where == MX_SMTP_H_IDLE) {
        head = &p->idle_head;
        tail = &p->idle_tail;
    } else if (h->where == MX_SMTP_H_READY) {
        head = &p->ready_head;
        tail = &p->ready_tail;
    } else {
        return;
    }
    if (h->prev)
        h->prev->next = h->next;
    else if (*head == h)
        *head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    else if (*tail == h)
        *tail = h->prev;
    h->prev = h->next = NULL;
}

static void list_push(struct mx_smtp_host **head, struct mx_smtp_host **tail,
                      struct mx_smtp_host *h)
{
    h->prev = *tail;
    h->next = NULL;
    if (*tail)
        (*tail)->next = h;
    else
        *head = h;
    *tail = h;
}

void mx_smtp_host_place(struct mx_smtp *p, struct mx_smtp_host *h, enum mx_smtp_where w)
{
    list_unlink(p, h);
    h->where = w;
    if (w == MX_SMTP_H_IDLE)
        list_push(&p->idle_head, &p->idle_tail, h);
    else if (w == MX_SMTP_H_READY)
        list_push(&p->ready_head, &p->ready_tail, h);
}

static void host_free(struct mx_smtp_host *h)
{
    free(h->leaf);
    free(h);
}

/* Drops the least recently used idle hosts beyond cache_hosts. */
void mx_smtp_host_evict(struct mx_smtp *p)
{
    while (p->hcount > p->cfg.cache_hosts && p->idle_head) {
        struct mx_smtp_host *h = p->idle_head;
        list_unlink(p, h);
        for (struct mx_smtp_host **pp = &p->hb[h->hash & p->hmask]; *pp; pp = &(*pp)->hnext)
            if (*pp == h) {
                *pp = h->hnext;
                break;
            }
        host_free(h);
        p->hcount--;
    }
}

static void host_grow(struct mx_smtp *p)
{
    size_t n = (p->hmask + 1) * 2;
    struct mx_smtp_host **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i <= p->hmask; i++) {
        struct mx_smtp_host *h = p->hb[i], *nx;
        for (; h; h = nx) {
            nx = h->hnext;
            h->hnext = nb[h->hash & (n - 1)];
            nb[h->hash & (n - 1)] = h;
        }
    }
    free(p->hb);
    p->hb = nb;
    p->hmask = n - 1;
}

struct mx_smtp_host *mx_smtp_host_get(struct mx_smtp *p, const struct mx_ip *ip)
{
    uint64_t hv = hash_ip(ip) * 0x9E3779B97F4A7C15ull;
    for (struct mx_smtp_host *h = p->hb[hv & p->hmask]; h; h = h->hnext)
        if (h->hash == hv && mx_ip_equal(&h->ip, ip))
            return h;
    struct mx_smtp_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ip = *ip;
    h->hash = hv;
    h->where = MX_SMTP_H_BUSY; /* in no list until placed */
    if (p->hcount >= p->hmask + 1)
        host_grow(p);
    h->hnext = p->hb[hv & p->hmask];
    p->hb[hv & p->hmask] = h;
    p->hcount++;
    return h;
}

void mx_smtp_enqueue(struct mx_smtp_host *h, struct mx_smtp_req *req)
{
    req->next = NULL;
    if (h->qtail)
        h->qtail->next = req;
    else
        h->qhead = req;
    h->qtail = req;
}

struct mx_smtp_req *mx_smtp_dequeue(struct mx_smtp_host *h)
{
    struct mx_smtp_req *req = h->qhead;
    if (req) {
        h->qhead = req->next;
        if (!h->qhead)
            h->qtail = NULL;
        req->next = NULL;
    }
    return req;
}

const char *mx_smtp_rc_text(const struct mx_smtp_rc *e)
{
    return e->data + e->domlen + 1;
}

void mx_smtp_tables_free(struct mx_smtp *p)
{
    if (p->hb) {
        for (size_t b = 0; b <= p->hmask; b++) {
            struct mx_smtp_host *h = p->hb[b], *nx;
            for (; h; h = nx) {
                nx = h->hnext;
                host_free(h);
            }
        }
        free(p->hb);
    }
    while (p->rc_head)
        rc_drop_oldest(p);
    free(p->rb);
}
