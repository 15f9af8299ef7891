/* Inside the direct-query module (consistency.h, mx_auth_*): the objects
 * shared by auth.c (thread, requests, results), auth_cache.c (questions
 * and the answer cache) and auth_servers.c (addresses, pacers, c-ares
 * channels, sending). Every field is owned by the module's thread unless
 * marked "lock" or "atomic". */
#ifndef MX_AUTH_INT_H
#define MX_AUTH_INT_H

#include <sys/select.h> /* ares.h needs fd_set */

#include <ares.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mx/consistency.h"

/* A caller's request, waiting for its question's answer. */
struct mx_auth_req {
    struct mx_auth_req *next;
    struct mx_ip ip;
    uint16_t qtype;
    mx_auth_done_fn cb;
    void *ud;
    bool joined;                  /* joined a question in flight */
    char qname[MX_NAME_MAX + 1];  /* lowercased */
};

enum mx_auth_qstate { MX_AUTH_Q_PENDING, MX_AUTH_Q_DONE };

/* One question (address, qname, qtype): asked while PENDING, then kept as
 * the cached answer while DONE. */
struct mx_auth_q {
    struct mx_auth_q *hnext;       /* hash chain */
    struct mx_auth_q *lprev, *lnext; /* LRU of DONE questions */
    struct mx_auth_q *qnext;       /* the server's send queue, or the done list */
    struct mx_auth_server *srv;    /* PENDING: the server (holds a pending count) */
    struct mx_auth_req *waiters;   /* PENDING: requests to answer */
    uint64_t hash;
    struct mx_ip ip;
    uint16_t qtype;
    enum mx_auth_qstate st;
    bool in_table;
    bool queued;                   /* on the server's send queue */
    bool inflight;                 /* a packet is out (c-ares holds q) */
    bool want_tcp;                 /* the next try goes over TCP (truncated answer) */
    bool finished;                 /* the last c-ares callback ended the question */
    /* the outcome (set when DONE) */
    enum mx_auth_outcome outcome;
    enum mx_rc rc;
    bool aa, tcp, presumed;
    unsigned tries;
    struct mx_answer *ans;
    uint64_t done_ms;
    /* the last c-ares callback, processed by the loop */
    int cb_status;
    struct mx_answer *cb_ans;
    bool cb_tc;                    /* the response was truncated */
    char qname[];                  /* lowercased */
};

struct mx_auth_slot;

/* One c-ares channel (the sock state callback's data). */
struct mx_auth_chan {
    struct mx_auth_slot *slot;
    bool tcp;
    ares_channel ch;               /* NULL: not open */
};

/* A c-ares channel slot: the UDP channel of one address and, after a
 * truncated answer, its TCP channel. */
struct mx_auth_slot {
    struct mx_auth *m;
    unsigned idx;
    struct mx_auth_server *srv;    /* NULL: free */
    struct mx_auth_chan udp, tcp;
    unsigned inflight;
    struct mx_auth_slot *lprev, *lnext; /* free/idle list (no queries in flight) */
    bool listed;
};

/* One authoritative address. */
struct mx_auth_server {
    struct mx_auth *m;
    struct mx_auth_server *hnext;
    struct mx_auth_server *lprev, *lnext; /* idle LRU (nothing pending) */
    struct mx_auth_server *wnext;  /* waiting for a channel slot */
    struct mx_ip ip;
    uint64_t hash;
    struct mx_auth_q *qhead, *qtail; /* questions waiting to be sent */
    unsigned pending;              /* PENDING questions of this address */
    unsigned inflight;
    struct mx_auth_slot *slot;
    uint64_t next_us;              /* pacer: earliest next packet */
    size_t heap_idx;               /* SIZE_MAX: not in the heap */
    bool idle_listed, waiting;
    uint16_t id_next, id_mul;      /* query IDs: a permutation of 0..65535 */
    unsigned unanswered;           /* tries in a row without a response */
    uint64_t down_until_ms;        /* presumed down until then */
};

struct mx_auth {
    struct mx_auth_cfg cfg;
    struct mx_allowlist allow;
    uint64_t server_gap_us, global_gap_us;

    /* lock: submitters and the thread */
    pthread_mutex_t lock;
    struct mx_auth_req *inbox, *inbox_tail;
    bool stop, woken;

    pthread_t thread;
    bool started;
    int epfd, evfd;
    bool stopping;

    /* questions */
    struct mx_auth_q **qb;
    size_t qmask;
    size_t ndone;
    struct mx_auth_q *lru_head, *lru_tail; /* DONE questions, most recent first */
    struct mx_auth_q *done_head, *done_tail; /* c-ares callbacks to process */

    /* servers */
    struct mx_auth_server **sb;
    size_t smask;
    size_t nservers, nidle;
    struct mx_auth_server *idle_head, *idle_tail; /* most recent first */
    struct mx_auth_server **heap;  /* servers with questions queued, by next_us */
    size_t nheap, heapcap;
    struct mx_auth_server *wait_head, *wait_tail;
    uint64_t global_next_us;
    uint64_t rng;

    /* channel slots */
    struct mx_auth_slot *slots;
    struct mx_auth_slot *free_head, *free_tail; /* free, then idle (LRU first) */
    unsigned inflight;
    uint64_t last_tick_ms;

    /* counters (atomic) */
    _Atomic uint64_t n_requests, n_completed, n_questions, n_sent, n_sent_tcp, n_responses,
        n_unanswered, n_cache_hits, n_joins, n_not_allowed, n_presumed, n_chan_evict,
        n_cache_evict;
};

uint64_t mx_auth_now_us(void);
/* The longest one question may take (provider.c: the engine's max_ms). */
unsigned mx_auth_max_ms(const struct mx_auth *m);
static inline void mx_auth_bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* auth.c: answer every waiter of q (DONE) and free the requests. */
void mx_auth_notify(struct mx_auth *m, struct mx_auth_q *q);
/* auth.c: one request answered without a question (not allowed, error). */
void mx_auth_answer_req(struct mx_auth *m, struct mx_auth_req *req, enum mx_auth_outcome o);

/* auth_cache.c */
bool mx_auth_cache_init(struct mx_auth *m);
void mx_auth_cache_fini(struct mx_auth *m);
uint64_t mx_auth_key_hash(const struct mx_ip *ip, const char *qname, uint16_t qtype);
struct mx_auth_q *mx_auth_q_find(struct mx_auth *m, uint64_t h, const struct mx_ip *ip,
                                 const char *qname, uint16_t qtype);
struct mx_auth_q *mx_auth_q_new(struct mx_auth *m, uint64_t h, const struct mx_ip *ip,
                                const char *qname, uint16_t qtype);
/* Ends a PENDING question: notifies its waiters, keeps it as a cached
 * answer (or drops it for ERROR/ABORTED), evicting the oldest past the cap. */
void mx_auth_q_finish(struct mx_auth *m, struct mx_auth_q *q, uint64_t now_ms);
/* A DONE question too old to reuse is dropped; true when q was freed. */
bool mx_auth_q_expire(struct mx_auth *m, struct mx_auth_q *q, uint64_t now_ms);
/* Moves q to the front of the LRU. */
void mx_auth_q_touch(struct mx_auth *m, struct mx_auth_q *q);
/* Ends every PENDING question as ABORTED (shutdown; channels already gone). */
void mx_auth_cache_abort_all(struct mx_auth *m);

/* auth_servers.c */
bool mx_auth_servers_init(struct mx_auth *m, char *err, size_t errlen);
void mx_auth_servers_fini(struct mx_auth *m);
struct mx_auth_server *mx_auth_server_get(struct mx_auth *m, const struct mx_ip *ip);
/* Makes q a pending question of s (s is then not idle). */
void mx_auth_server_attach(struct mx_auth *m, struct mx_auth_server *s, struct mx_auth_q *q);
/* Queues q on its server (front: a retry goes before new questions). */
void mx_auth_server_enqueue(struct mx_auth *m, struct mx_auth_q *q, bool front);
/* The question is no longer pending at its server. */
void mx_auth_server_release(struct mx_auth *m, struct mx_auth_q *q);
/* True while the address is presumed down. */
bool mx_auth_server_down(struct mx_auth *m, const struct mx_auth_server *s, uint64_t now_ms);
/* Sends what the pacers allow; returns the epoll timeout in ms (-1: none). */
int mx_auth_send_some(struct mx_auth *m);
/* Processes an epoll event of a channel socket (u64 tag). */
void mx_auth_chan_event(struct mx_auth *m, uint64_t tag, uint32_t events);
/* c-ares timeouts (every TICK_MS while queries are in flight). */
void mx_auth_tick(struct mx_auth *m);
/* Processes the c-ares callbacks gathered on the done list. */
void mx_auth_process_done(struct mx_auth *m);
/* Destroys every channel (callbacks end in-flight tries). */
void mx_auth_close_channels(struct mx_auth *m);

#define MX_AUTH_EVFD_TAG UINT64_MAX

#endif
