/* The shared answer cache (cache.h): misses create, in-flight entries are
 * joined, completed ones hit, failures are not kept, LRU eviction bounds the
 * table while held entries stay readable, max age expires, and a threaded
 * smoke test. Time is passed in. Run under ASan in CI for use-after-free. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/cache.h"

static struct mx_answer *mx_ans(uint16_t pref, const char *name, uint32_t ttl)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_MX, ttl, false);
    cr_assert_not_null(a);
    cr_assert(mx_answer_add_mx(&a, pref, name));
    return a;
}

static unsigned refs(struct mx_centry *e)
{
    return atomic_load(&e->refs);
}

Test(cache, miss_join_complete_hit)
{
    struct mx_cache *c = mx_cache_create(1000, 600);
    cr_assert_not_null(c);
    struct mx_waiter w1 = {0}, w2 = {0}, w3 = {0};
    bool created, wait;

    struct mx_centry *e = mx_cache_acquire(c, "example.test", MX_T_MX, true, &w1, 1000,
                                           &created, &wait);
    cr_assert_not_null(e);
    cr_expect(created);
    cr_expect(wait);
    cr_expect_eq(w1.e, e);
    cr_expect_eq(e->state, MX_CE_INFLIGHT);
    cr_expect_str_eq(e->name, "example.test");
    cr_expect_eq(e->qtype, MX_T_MX);
    cr_expect_eq(refs(e), 3, "table + caller + query");

    struct mx_centry *e2 = mx_cache_acquire(c, "example.test", MX_T_MX, true, &w2, 1001,
                                            &created, &wait);
    cr_expect_eq(e2, e, "the in-flight entry is joined");
    cr_expect_not(created);
    cr_expect(wait);
    cr_expect_eq(w2.e, e);
    cr_expect_eq(refs(e), 4);

    /* another type is another entry */
    struct mx_waiter wa = {0};
    struct mx_centry *ea = mx_cache_acquire(c, "example.test", MX_T_A, true, &wa, 1001,
                                            &created, &wait);
    cr_expect_neq(ea, e);
    cr_expect(created);

    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_eq(st.misses, 2);
    cr_expect_eq(st.joins, 1);
    cr_expect_eq(st.hits, 0);
    cr_expect_eq(st.entries, 2);

    struct mx_waiter *list = mx_cache_complete(c, e, mx_ans(10, "mx.example.test", 300), 1002);
    unsigned n = 0;
    bool saw1 = false, saw2 = false;
    for (struct mx_waiter *w = list; w; w = w->next) {
        n++;
        saw1 |= w == &w1;
        saw2 |= w == &w2;
    }
    cr_expect_eq(n, 2);
    cr_expect(saw1 && saw2, "both waiters returned");
    cr_expect_eq(e->state, MX_CE_DONE);
    cr_expect_null(e->waiters);
    mx_centry_unref(e); /* the query's reference */

    struct mx_centry *e3 = mx_cache_acquire(c, "example.test", MX_T_MX, true, &w3, 5000,
                                            &created, &wait);
    cr_expect_eq(e3, e, "completed entry is a hit");
    cr_expect_not(created);
    cr_expect_not(wait);
    cr_expect_eq(w3.e, e);
    cr_assert_not_null(e3->ans);
    cr_expect_eq(e3->ans->count, 1);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(e3->ans, 0, &rd));
    cr_expect_str_eq(rd.name, "mx.example.test");
    mx_cache_get_stats(c, &st);
    cr_expect_eq(st.hits, 1);

    mx_centry_unref(e);
    mx_centry_unref(e);
    mx_centry_unref(e);
    cr_expect_eq(refs(e), 1, "only the table's reference is left");

    mx_cache_complete(c, ea, mx_answer_failure(MX_RC_TIMEOUT, MX_T_A), 1003);
    mx_centry_unref(ea);
    mx_centry_unref(ea);
    mx_cache_destroy(c);
}

Test(cache, private_entries_never_hit)
{
    struct mx_cache *c = mx_cache_create(1000, 600);
    struct mx_waiter w1 = {0}, w2 = {0}, w3 = {0};
    bool created, wait;
    struct mx_centry *s = mx_cache_acquire(c, "example.test", MX_T_TXT, true, &w3, 10,
                                           &created, &wait);
    mx_cache_complete(c, s, mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 1, false), 10);
    mx_centry_unref(s);

    struct mx_centry *p1 = mx_cache_acquire(c, "example.test", MX_T_TXT, false, &w1, 20,
                                            &created, &wait);
    cr_assert_not_null(p1);
    cr_expect(created, "private: always a new query");
    cr_expect(wait);
    cr_expect_neq(p1, s, "not the shared entry either");
    cr_expect_not(p1->in_table);
    cr_expect_eq(refs(p1), 2, "caller + query");
    struct mx_waiter *l = mx_cache_complete(c, p1, mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 1, false), 21);
    cr_expect_eq(l, &w1);
    cr_expect_null(l->next);
    mx_centry_unref(p1);

    struct mx_centry *p2 = mx_cache_acquire(c, "example.test", MX_T_TXT, false, &w2, 22,
                                            &created, &wait);
    cr_expect(created);
    cr_expect_neq(p2, p1);
    mx_cache_complete(c, p2, mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 1, false), 23);
    mx_centry_unref(p2);
    mx_centry_unref(p2);
    mx_centry_unref(p1);

    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_eq(st.entries, 1, "private entries stay out of the table");
    cr_expect_eq(st.hits, 0);
    mx_centry_unref(s);
    mx_cache_destroy(c);
}

Test(cache, failures_not_kept)
{
    static const enum mx_rc failed[] = {MX_RC_SERVFAIL, MX_RC_TIMEOUT, MX_RC_REFUSED,
                                        MX_RC_FORMERR};
    struct mx_cache *c = mx_cache_create(1000, 600);
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
        struct mx_waiter w = {0}, w2 = {0};
        bool created, wait;
        struct mx_centry *e = mx_cache_acquire(c, "fail.test", MX_T_MX, true, &w, 100, &created,
                                               &wait);
        cr_assert(created, "%s: a miss", mx_rc_name(failed[i]));
        mx_cache_complete(c, e, mx_answer_failure(failed[i], MX_T_MX), 101);
        cr_expect_not(e->in_table);
        /* the caller still reads the failure */
        cr_expect_eq(e->ans->rc, failed[i]);
        mx_centry_unref(e);
        mx_centry_unref(e);
        struct mx_centry *again = mx_cache_acquire(c, "fail.test", MX_T_MX, true, &w2, 102,
                                                   &created, &wait);
        cr_expect(created, "%s is not kept: the next acquire is a miss", mx_rc_name(failed[i]));
        mx_cache_complete(c, again, mx_answer_failure(failed[i], MX_T_MX), 103);
        mx_centry_unref(again);
        mx_centry_unref(again);
    }
    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_eq(st.entries, 0);
    cr_expect_eq(st.hits, 0);

    /* NXDOMAIN and NODATA are answers: kept */
    static const enum mx_rc kept[] = {MX_RC_NXDOMAIN, MX_RC_NOERROR};
    for (size_t i = 0; i < 2; i++) {
        struct mx_waiter w = {0};
        bool created, wait;
        char name[32];
        snprintf(name, sizeof name, "kept%zu.test", i);
        struct mx_centry *e = mx_cache_acquire(c, name, MX_T_MX, true, &w, 100, &created, &wait);
        mx_cache_complete(c, e, mx_answer_new(kept[i], MX_T_MX, 0, false), 101);
        mx_centry_unref(e);
        mx_centry_unref(e);
        e = mx_cache_acquire(c, name, MX_T_MX, true, &w, 102, &created, &wait);
        cr_expect_not(created, "%s is kept", mx_rc_name(kept[i]));
        cr_expect_not(wait);
        cr_expect_eq(e->ans->rc, kept[i]);
        mx_centry_unref(e);
    }
    mx_cache_destroy(c);
}

Test(cache, waiters_of_failed_entry_still_get_it)
{
    struct mx_cache *c = mx_cache_create(1000, 600);
    struct mx_waiter w1 = {0}, w2 = {0};
    bool created, wait;
    struct mx_centry *e = mx_cache_acquire(c, "x.test", MX_T_A, true, &w1, 1, &created, &wait);
    mx_cache_acquire(c, "x.test", MX_T_A, true, &w2, 1, &created, &wait);
    struct mx_waiter *l = mx_cache_complete(c, e, mx_answer_failure(MX_RC_SERVFAIL, MX_T_A), 2);
    unsigned n = 0;
    for (; l; l = l->next) {
        n++;
        cr_expect_eq(l->e->ans->rc, MX_RC_SERVFAIL);
    }
    cr_expect_eq(n, 2);
    mx_centry_unref(e); /* query */
    mx_centry_unref(e); /* w1 */
    mx_centry_unref(e); /* w2: freed here */
    mx_cache_destroy(c);
}

Test(cache, eviction_bounds_table_held_entry_stays_readable)
{
    const size_t cap = 128;
    struct mx_cache *c = mx_cache_create(cap, 0);
    struct mx_waiter w = {0};
    bool created, wait;
    /* held: completed, the caller keeps its reference */
    struct mx_centry *held = mx_cache_acquire(c, "held.test", MX_T_MX, true, &w, 0, &created,
                                              &wait);
    mx_cache_complete(c, held, mx_ans(7, "mx.held.test", 60), 0);
    mx_centry_unref(held); /* the query's */

    char name[64];
    for (unsigned i = 0; i < 20000; i++) {
        struct mx_waiter wi = {0};
        snprintf(name, sizeof name, "d%u.example.test", i);
        struct mx_centry *e = mx_cache_acquire(c, name, MX_T_MX, true, &wi, i, &created, &wait);
        cr_assert_not_null(e);
        cr_assert(created);
        mx_cache_complete(c, e, mx_ans(1, name, 60), i);
        mx_centry_unref(e);
        mx_centry_unref(e);
    }
    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_geq(st.evictions, 20000 - 2 * cap, "evictions %lu", (unsigned long)st.evictions);
    cr_expect_leq(st.entries, 2 * cap, "entries %lu", (unsigned long)st.entries);
    cr_expect_eq(st.misses, 20001);

    /* the held entry was evicted (its shard saw hundreds of newer ones) ... */
    cr_expect_not(held->in_table);
    /* ... but is still whole until its last reference goes */
    cr_expect_eq(refs(held), 1);
    cr_assert_not_null(held->ans);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(held->ans, 0, &rd));
    cr_expect_eq(rd.pref, 7);
    cr_expect_str_eq(rd.name, "mx.held.test");
    cr_expect_str_eq(held->name, "held.test");

    /* a new acquire of that name is a miss: a new entry */
    struct mx_waiter w2 = {0};
    struct mx_centry *again = mx_cache_acquire(c, "held.test", MX_T_MX, true, &w2, 30000,
                                               &created, &wait);
    cr_expect(created);
    cr_expect_neq(again, held);
    mx_cache_complete(c, again, mx_ans(8, "mx2.held.test", 60), 30000);
    mx_centry_unref(again);
    mx_centry_unref(again);
    mx_centry_unref(held); /* freed now */
    mx_cache_destroy(c);
}

Test(cache, lru_keeps_recently_used)
{
    /* capacity 64: one entry per shard; find two names in one shard by probing */
    struct mx_cache *c = mx_cache_create(64 * 2, 0);
    bool created, wait;
    struct mx_waiter w = {0};
    struct mx_centry *a = mx_cache_acquire(c, "a.test", MX_T_MX, true, &w, 0, &created, &wait);
    mx_cache_complete(c, a, mx_ans(1, "a", 60), 0);
    mx_centry_unref(a);
    mx_centry_unref(a);
    /* Keep touching a.test while filling: with a hit before every insert, a.test
     * stays at the head of its shard's LRU and survives. */
    char name[64];
    for (unsigned i = 0; i < 5000; i++) {
        struct mx_waiter wh = {0}, wi = {0};
        struct mx_centry *h = mx_cache_acquire(c, "a.test", MX_T_MX, true, &wh, i, &created,
                                               &wait);
        cr_assert_not(created, "a.test evicted at step %u despite being used", i);
        mx_centry_unref(h);
        snprintf(name, sizeof name, "f%u.test", i);
        struct mx_centry *e = mx_cache_acquire(c, name, MX_T_MX, true, &wi, i, &created, &wait);
        mx_cache_complete(c, e, mx_ans(1, name, 60), i);
        mx_centry_unref(e);
        mx_centry_unref(e);
    }
    mx_cache_destroy(c);
}

Test(cache, max_age_expiry)
{
    struct mx_cache *c = mx_cache_create(1000, 10); /* 10 s */
    struct mx_waiter w = {0};
    bool created, wait;
    struct mx_centry *e = mx_cache_acquire(c, "age.test", MX_T_MX, true, &w, 1000, &created,
                                           &wait);
    mx_cache_complete(c, e, mx_ans(1, "mx.age.test", 60), 1000);
    mx_centry_unref(e);

    struct mx_centry *h = mx_cache_acquire(c, "age.test", MX_T_MX, true, &w, 11000, &created,
                                           &wait);
    cr_expect_not(created, "exactly max age: still fresh");
    cr_expect_eq(h, e);
    mx_centry_unref(h);

    struct mx_centry *n = mx_cache_acquire(c, "age.test", MX_T_MX, true, &w, 1000 + 10001,
                                           &created, &wait);
    cr_expect(created, "older than max age: a miss");
    cr_expect_neq(n, e);
    cr_expect_not(e->in_table);
    cr_expect_eq(e->ans->count, 1, "the caller's old entry is still readable");
    mx_centry_unref(e); /* the caller's: freed */
    mx_cache_complete(c, n, mx_ans(2, "mx2.age.test", 60), 20000);
    mx_centry_unref(n);
    mx_centry_unref(n);
    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_eq(st.entries, 1);
    mx_cache_destroy(c);
}

/* Workers read the clock at slightly different moments: an acquire whose
 * now_ms is a little before the entry's done_ms must still be a hit. */
Test(cache, acquire_time_before_completion_is_a_hit)
{
    struct mx_cache *c = mx_cache_create(1000, 600);
    struct mx_waiter w = {0};
    bool created, wait;
    struct mx_centry *e = mx_cache_acquire(c, "skew.test", MX_T_MX, true, &w, 5000, &created,
                                           &wait);
    mx_cache_complete(c, e, mx_ans(1, "mx.skew.test", 60), 5000);
    mx_centry_unref(e);
    mx_centry_unref(e);
    struct mx_centry *h = mx_cache_acquire(c, "skew.test", MX_T_MX, true, &w, 4999, &created,
                                           &wait);
    cr_expect_not(created, "an entry completed 1 ms 'later' is fresh, not expired");
    cr_expect_eq(h, e);
    mx_centry_unref(h);
    mx_cache_destroy(c);
}

Test(cache, max_age_zero_never_expires)
{
    struct mx_cache *c = mx_cache_create(1000, 0);
    struct mx_waiter w = {0};
    bool created, wait;
    struct mx_centry *e = mx_cache_acquire(c, "z.test", MX_T_MX, true, &w, 0, &created, &wait);
    mx_cache_complete(c, e, mx_ans(1, "mx.z.test", 60), 0);
    mx_centry_unref(e);
    mx_centry_unref(e);
    struct mx_centry *h = mx_cache_acquire(c, "z.test", MX_T_MX, true, &w, UINT64_MAX / 2,
                                           &created, &wait);
    cr_expect_not(created);
    mx_centry_unref(h);
    mx_cache_destroy(c);
}

Test(cache, destroy_with_inflight_and_held)
{
    struct mx_cache *c = mx_cache_create(100, 600);
    struct mx_waiter w1 = {0}, w2 = {0};
    bool created, wait;
    struct mx_centry *inflight = mx_cache_acquire(c, "i.test", MX_T_MX, true, &w1, 0, &created,
                                                  &wait);
    struct mx_centry *done = mx_cache_acquire(c, "d.test", MX_T_MX, true, &w2, 0, &created,
                                              &wait);
    mx_cache_complete(c, done, mx_ans(1, "mx.d.test", 60), 0);
    mx_cache_destroy(c);
    /* the table's references are gone; ours remain valid */
    cr_expect_eq(refs(inflight), 2);
    cr_expect_eq(refs(done), 2);
    cr_expect_eq(done->ans->count, 1);
    mx_centry_unref(inflight);
    mx_centry_unref(inflight);
    mx_centry_unref(done);
    mx_centry_unref(done);
}

/* ---- threads ---- */

#define NTHREADS 4
#define OPS 100000
#define NKEYS 37

struct worker {
    struct mx_cache *c;
    unsigned id;
    unsigned long created, hits, joined, completed;
};

static void *work(void *arg)
{
    struct worker *wk = arg;
    char name[32];
    unsigned seed = wk->id * 2654435761u + 1;
    for (unsigned i = 0; i < OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 16) % NKEYS;
        snprintf(name, sizeof name, "k%u.test", k);
        struct mx_waiter w = {0};
        bool created, wait;
        uint64_t now = i;
        struct mx_centry *e = mx_cache_acquire(wk->c, name, MX_T_MX, true, &w, now, &created,
                                               &wait);
        if (!e)
            abort();
        if (created) {
            wk->created++;
            struct mx_answer *a;
            if (k % 5 == 0)
                a = mx_answer_failure(MX_RC_SERVFAIL, MX_T_MX);
            else {
                a = mx_answer_new(MX_RC_NOERROR, MX_T_MX, 60, false);
                mx_answer_add_mx(&a, (uint16_t)k, name);
            }
            /* the waiter list: each joined waiter holds a reference; here the
             * joiners are other threads' stack waiters, which they drop themselves */
            struct mx_waiter *l = mx_cache_complete(wk->c, e, a, now);
            while (l) {
                struct mx_waiter *next = l->next; /* l may be gone once ready */
                __atomic_store_n(&l->ready, true, __ATOMIC_RELEASE);
                l = next;
            }
            wk->completed++;
            mx_centry_unref(e); /* the query's reference */
        } else if (wait) {
            wk->joined++;
            /* wait for the owner to complete (spin; it is another thread) */
            while (!__atomic_load_n(&w.ready, __ATOMIC_ACQUIRE))
                sched_yield();
        } else {
            wk->hits++;
        }
        /* read the answer: must be whole */
        const struct mx_answer *a = e->ans;
        if (!a || a->qtype != MX_T_MX)
            abort();
        if (a->rc == MX_RC_NOERROR) {
            struct mx_rdata rd;
            if (!mx_answer_get(a, 0, &rd) || rd.pref != k || strcmp(rd.name, name) != 0)
                abort();
        }
        mx_centry_unref(e);
    }
    return NULL;
}

Test(cache, threads_smoke, .timeout = 120)
{
    struct mx_cache *c = mx_cache_create(16 * 64, 1);
    pthread_t t[NTHREADS];
    struct worker wk[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++) {
        wk[i] = (struct worker){.c = c, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, work, &wk[i]), 0);
    }
    unsigned long created = 0, hits = 0, joined = 0;
    for (unsigned i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        created += wk[i].created;
        hits += wk[i].hits;
        joined += wk[i].joined;
    }
    struct mx_cache_stats st;
    mx_cache_get_stats(c, &st);
    cr_expect_eq(created + hits + joined, (unsigned long)NTHREADS * OPS);
    cr_expect_eq(st.misses, created);
    cr_expect_eq(st.hits, hits);
    cr_expect_eq(st.joins, joined);
    cr_expect_leq(st.entries, NKEYS);
    cr_expect_gt(hits, 0);
    mx_cache_destroy(c);
}
