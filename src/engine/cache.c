/* Shared answer cache (cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mx/cache.h"
#include "mx/hash.h"

#define NSHARDS 64 /* the shard is the hash's low 6 bits ... */
#define BUCKET_SHIFT 32 /* ... and the bucket its high bits: two independent choices */

struct shard {
    pthread_mutex_t lock;
    struct mx_centry **buckets; /* nbuckets (a power of two) heads */
    struct mx_centry *lru_head, *lru_tail; /* head = most recent */
    size_t count;
    uint64_t hits, misses, joins, evictions;
} __attribute__((aligned(64)));

struct mx_cache {
    size_t cap_per_shard;
    size_t bucket_mask;
    uint64_t max_age_ms;
    struct shard shards[NSHARDS];
};

/* FNV-1a, then a final avalanche (MurmurHash3's fmix64), so that the low
 * bits (shard) and the high bits (bucket) are both well mixed. */
static uint64_t hash_key(const char *name, uint16_t qtype)
{
    uint64_t h = mx_fnv1a(MX_FNV1A_INIT, name, strlen(name));
    h = mx_fnv1a(h, &qtype, sizeof qtype);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static struct mx_centry **bucket_of(const struct mx_cache *c, struct shard *s, uint64_t h)
{
    return &s->buckets[(h >> BUCKET_SHIFT) & c->bucket_mask];
}

struct mx_cache *mx_cache_create(size_t capacity, unsigned max_age_s)
{
    struct mx_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap_per_shard = capacity / NSHARDS ? capacity / NSHARDS : 1;
    c->max_age_ms = (uint64_t)max_age_s * 1000u;
    /* About one entry per bucket when full (in-flight entries come on top). */
    size_t nb = 256;
    while (nb < c->cap_per_shard)
        nb <<= 1;
    c->bucket_mask = nb - 1;
    bool ok = true;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&c->shards[i].lock, NULL);
        c->shards[i].buckets = calloc(nb, sizeof *c->shards[i].buckets);
        ok = ok && c->shards[i].buckets;
    }
    if (!ok) {
        mx_cache_destroy(c);
        return NULL;
    }
    return c;
}

void mx_centry_ref(struct mx_centry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void mx_centry_unref(struct mx_centry *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        free(e->ans);
        free(e);
    }
}

static void lru_unlink(struct shard *s, struct mx_centry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else if (s->lru_head == e)
        s->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else if (s->lru_tail == e)
        s->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_head(struct shard *s, struct mx_centry *e)
{
    e->lprev = NULL;
    e->lnext = s->lru_head;
    if (s->lru_head)
        s->lru_head->lprev = e;
    s->lru_head = e;
    if (!s->lru_tail)
        s->lru_tail = e;
}

/* Removes e from the table (not from the LRU) and drops the table's ref. */
static void table_remove_locked(struct mx_cache *c, struct shard *s, struct mx_centry *e)
{
    struct mx_centry **pp = bucket_of(c, s, e->hash);
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
    e->in_table = false;
    s->count--;
    mx_centry_unref(e);
}

static void evict_locked(struct mx_cache *c, struct shard *s)
{
    while (s->count > c->cap_per_shard && s->lru_tail) {
        struct mx_centry *e = s->lru_tail;
        lru_unlink(s, e);
        table_remove_locked(c, s, e);
        s->evictions++;
    }
}

static struct mx_centry *new_entry(const char *name, uint16_t qtype, uint64_t h)
{
    size_t nl = strlen(name);
    struct mx_centry *e = calloc(1, sizeof *e + nl + 1);
    if (!e)
        return NULL;
    memcpy(e->name, name, nl + 1);
    e->qtype = qtype;
    e->hash = h;
    e->state = MX_CE_INFLIGHT;
    atomic_init(&e->refs, 0);
    return e;
}

struct mx_centry *mx_cache_acquire(struct mx_cache *c, const char *name, uint16_t qtype,
                                   bool shared, struct mx_waiter *w, uint64_t now_ms,
                                   bool *created, bool *wait)
{
    uint64_t h = hash_key(name, qtype);
    struct shard *s = &c->shards[h % NSHARDS];
    *created = false;
    *wait = false;
    if (!shared) {
        struct mx_centry *e = new_entry(name, qtype, h);
        if (!e)
            return NULL;
        atomic_init(&e->refs, 2); /* caller + query */
        e->waiters = w;
        w->next = NULL;
        w->e = e;
        *created = true;
        *wait = true;
        return e;
    }
    pthread_mutex_lock(&s->lock);
    struct mx_centry **head = bucket_of(c, s, h);
    struct mx_centry *e = *head;
    while (e && !(e->hash == h && e->qtype == qtype && strcmp(e->name, name) == 0))
        e = e->hnext;
    /* now_ms may be a little behind done_ms (another worker's clock read) */
    if (e && e->state == MX_CE_DONE && c->max_age_ms && now_ms > e->done_ms &&
        now_ms - e->done_ms > c->max_age_ms) {
        lru_unlink(s, e);
        table_remove_locked(c, s, e);
        e = NULL;
    }
    if (e) {
        mx_centry_ref(e);
        w->e = e;
        if (e->state == MX_CE_DONE) {
            s->hits++;
            lru_unlink(s, e);
            lru_push_head(s, e);
        } else {
            s->joins++;
            w->next = e->waiters;
            e->waiters = w;
            *wait = true;
        }
        pthread_mutex_unlock(&s->lock);
        return e;
    }
    s->misses++;
    e = new_entry(name, qtype, h);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    atomic_init(&e->refs, 3); /* table + caller + query */
    e->in_table = true;
    e->hnext = *head;
    *head = e;
    s->count++;
    e->waiters = w;
    w->next = NULL;
    w->e = e;
    *created = true;
    *wait = true;
    evict_locked(c, s);
    pthread_mutex_unlock(&s->lock);
    return e;
}

static bool keepable(const struct mx_answer *a)
{
    return a->rc == MX_RC_NOERROR || a->rc == MX_RC_NXDOMAIN;
}

struct mx_waiter *mx_cache_complete(struct mx_cache *c, struct mx_centry *e,
                                    struct mx_answer *ans, uint64_t now_ms)
{
    struct shard *s = &c->shards[e->hash % NSHARDS];
    pthread_mutex_lock(&s->lock);
    e->ans = ans;
    e->done_ms = now_ms;
    e->state = MX_CE_DONE;
    struct mx_waiter *w = e->waiters;
    e->waiters = NULL;
    if (e->in_table) {
        if (keepable(ans)) {
            lru_push_head(s, e);
            evict_locked(c, s);
        } else {
            table_remove_locked(c, s, e);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return w;
}

bool mx_cache_entry_done(struct mx_cache *c, struct mx_centry *e)
{
    struct shard *s = &c->shards[e->hash % NSHARDS];
    pthread_mutex_lock(&s->lock);
    bool done = e->state == MX_CE_DONE;
    pthread_mutex_unlock(&s->lock);
    return done;
}

void mx_cache_get_stats(struct mx_cache *c, struct mx_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        out->hits += s->hits;
        out->misses += s->misses;
        out->joins += s->joins;
        out->evictions += s->evictions;
        out->entries += s->count;
        pthread_mutex_unlock(&s->lock);
    }
}

void mx_cache_destroy(struct mx_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &c->shards[i];
        for (size_t b = 0; s->buckets && b <= c->bucket_mask; b++) {
            struct mx_centry *e = s->buckets[b];
            while (e) {
                struct mx_centry *n = e->hnext;
                e->in_table = false;
                mx_centry_unref(e);
                e = n;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}
