/* Shared answer cache with in-flight de-duplication: the first asker of a
 * (name, type) queries it, later askers wait on the same entry. Bounded
 * (LRU per shard), thread-safe (sharded mutexes), reference counted: an
 * entry evicted while records still hold it lives until they let go. */
#ifndef MX_CACHE_H
#define MX_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/answer.h"

struct mx_cache;
struct mx_centry;

/* A record's hold on an entry; also the node of the entry's waiter list
 * and of a worker's notification list. Lives inside the record. */
struct mx_waiter {
    struct mx_waiter *next;
    struct mx_centry *e;
    void *rec;
    bool ready;        /* e->ans may be read (set by the record's worker) */
};

enum mx_centry_state { MX_CE_INFLIGHT, MX_CE_DONE };

struct mx_centry {
    struct mx_centry *hnext;           /* hash chain */
    struct mx_centry *lprev, *lnext;   /* LRU of done entries in the table */
    struct mx_centry *qnext;           /* a worker's send queue */
    struct mx_waiter *waiters;
    struct mx_answer *ans;             /* set when done */
    atomic_uint refs;
    uint64_t hash;
    uint64_t done_ms;
    uint16_t qtype;
    uint8_t state;                     /* enum mx_centry_state, under the shard lock */
    bool in_table;
    uint8_t attempt;                   /* tries so far (owner worker only) */
    uint8_t server;                    /* next server index (owner worker only) */
    char name[];
};

struct mx_cache_stats {
    uint64_t hits, misses, joins, evictions, entries;
};

struct mx_cache *mx_cache_create(size_t capacity, unsigned max_age_s);
void mx_cache_destroy(struct mx_cache *c);

/* Gets the entry for (name, qtype) with one reference for the caller.
 * shared=false makes a private entry that is never put in the table.
 * *created: the entry is new and the caller must query it (it gets a
 * second reference for that query). Otherwise, when the entry is still in
 * flight, w is put on its waiter list and *wait is set. NULL on ENOMEM. */
struct mx_centry *mx_cache_acquire(struct mx_cache *c, const char *name, uint16_t qtype,
                                   bool shared, struct mx_waiter *w, uint64_t now_ms,
                                   bool *created, bool *wait);
/* Completes an in-flight entry (takes ownership of ans) and returns its
 * detached waiter list. Failed look-ups are not kept in the table. */
struct mx_waiter *mx_cache_complete(struct mx_cache *c, struct mx_centry *e,
                                    struct mx_answer *ans, uint64_t now_ms);
/* True when e has been answered (for diagnostics; takes the shard lock). */
bool mx_cache_entry_done(struct mx_cache *c, struct mx_centry *e);
void mx_centry_ref(struct mx_centry *e);
void mx_centry_unref(struct mx_centry *e);
void mx_cache_get_stats(struct mx_cache *c, struct mx_cache_stats *out);

#endif
