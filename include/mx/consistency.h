/* Authoritative consistency (SPEC 1.7 "Consistency"; findings ns_lame,
 * ns_mx_inconsistent, ns_serial_mismatch). Two parts:
 *
 * 1. mx_auth_*: direct, non-recursive (RD=0) questions to authoritative
 *    server addresses ("MX of example.com, asked of 192.0.2.53"). One object
 *    owns one thread running one epoll loop and c-ares channels, one per
 *    authoritative address in use (a bounded set, least recently used idle
 *    channels are closed first). Requests come in from any thread through
 *    mx_auth_submit(); results go out through a callback on that thread,
 *    for cache hits too (a callback never runs inside submit).
 *
 *    Politeness is built in:
 *      - a per-address pacer: at most cfg.server_qps packets per second to
 *        one authoritative address (default 10), each at least 1/server_qps
 *        after the one before, retries and TCP re-asks included (so at most
 *        server_qps * T + 1 packets in any span of T seconds); a scan of a
 *        registrar's portfolio sends thousands of domains to the same few
 *        servers, and this is what keeps it polite;
 *      - a global pacer over all addresses (cfg.global_qps, default 200;
 *        at most global_qps * T + 2 packets in any span T);
 *      - an answer cache keyed (address, qname, qtype) with in-flight
 *        de-duplication: an identical question is asked once per scan (within
 *        cache_max_age_s), whatever the number of domains, NS names or
 *        callers that need it. Timeouts are kept too;
 *      - an address that leaves dead_after tries in a row unanswered is
 *        presumed down for dead_hold_ms: its questions end as TIMEOUT at
 *        once (presumed = true), then one question is asked for real.
 *    Every packet gets its own query ID. UDP (EDNS, 1232 octets); a truncated
 *    answer is asked again over TCP (through the same pacers). c-ares' own
 *    retries are off (one try per query): a try without an answer within
 *    timeout_ms is sent again, up to `tries` tries per question.
 *    REFUSED and SERVFAIL are answers and are not retried: an authoritative
 *    server that says so means it.
 *    Addresses that are not globally reachable (mx_ip_is_global with
 *    cfg.allow) are never asked: MX_AUTH_NOT_ALLOWED.
 *
 *    Memory: the caller's outstanding requests, max_servers channel slots
 *    (allocated at create), cache_entries answers and at most
 *    max_idle_servers remembered idle addresses (pacer and down state).
 *
 * 2. mx_cons_*: the judgement, pure functions. Given the domain's NS names,
 *    each name's addresses and, per address, the MX and SOA answers, it says
 *    which findings hold and builds the columns. */
#ifndef MX_CONSISTENCY_H
#define MX_CONSISTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"
#include "mx/answer.h"
#include "mx/mx.h"

/* ---- direct queries ---- */

/* X(ENUM, label): how a question ended. */
#define MX_AUTH_OUTCOME_MAP(X)                                                           \
    X(NONE, "none")               /* not asked (a zeroed mx_auth_reply) */              \
    X(ANSWERED, "answered")       /* a response came: rc, aa and ans hold it */         \
    X(TIMEOUT, "timeout")         /* no response after every try (or ICMP errors) */   \
    X(NOT_ALLOWED, "not_allowed") /* not globally reachable and not allowed */          \
    X(ERROR, "error")             /* our side: unencodable name, no socket, no memory */ \
    X(ABORTED, "aborted")         /* mx_auth_destroy came first */

enum mx_auth_outcome {
#define X(e, l) MX_AUTH_##e,
    MX_AUTH_OUTCOME_MAP(X)
#undef X
};
const char *mx_auth_outcome_name(enum mx_auth_outcome o);

struct mx_auth_result {
    struct mx_ip server;        /* the request, echoed */
    const char *qname;          /* lowercased, no trailing dot */
    uint16_t qtype;
    enum mx_auth_outcome outcome;
    enum mx_rc rc;              /* ANSWERED: the rcode (FORMERR also for a malformed
                                   response); TIMEOUT: MX_RC_TIMEOUT; else MX_RC_OTHER */
    bool aa;                    /* ANSWERED: the AA bit */
    bool tcp;                   /* answered over TCP after a truncated UDP answer */
    bool cached;                /* no packet of its own: from the cache, or joined an
                                   identical question in flight */
    bool presumed;              /* TIMEOUT without asking: the address was presumed down */
    unsigned tries;             /* packets the question took (UDP and TCP) */
    const struct mx_answer *ans; /* ANSWERED: the records of qtype in the answer
                                   section (never NULL then); NULL otherwise */
};

struct mx_auth_cfg {
    uint16_t port;              /* 0: 53 (labs use others) */
    double server_qps;          /* packets per second to one address; 0: 10 */
    double global_qps;          /* packets per second, all addresses; 0: 200 */
    unsigned timeout_ms;        /* per try; 0: 2000 */
    unsigned tries;             /* tries per question; 0: 3. A truncated UDP answer
                                   is asked again over TCP at once (that packet is
                                   one try more): at most tries + 1 packets */
    unsigned max_servers;       /* addresses with an open channel at once; 0: 256 */
    unsigned max_idle_servers;  /* idle addresses remembered (pacer, down state);
                                   0: 65536 */
    unsigned cache_entries;     /* answers kept (LRU); 0: 100000 */
    unsigned cache_max_age_s;   /* reuse an answer at most this long; 0: 600 */
    unsigned dead_after;        /* unanswered tries in a row that make an address
                                   presumed down; 0: 9 */
    unsigned dead_hold_ms;      /* how long it stays presumed down; 0: 30000 */
    const struct mx_allowlist *allow; /* copied; NULL: only globally reachable */
};

struct mx_auth_stats {
    uint64_t requests;          /* submitted */
    uint64_t completed;         /* callbacks made */
    uint64_t questions;         /* distinct questions asked (cache misses sent) */
    uint64_t sent;              /* packets sent, UDP and TCP */
    uint64_t sent_tcp;          /* of which TCP (after truncation) */
    uint64_t responses;         /* responses received */
    uint64_t unanswered;        /* tries that got no response */
    uint64_t cache_hits;        /* answered from the cache */
    uint64_t joins;             /* joined an identical question in flight */
    uint64_t not_allowed;       /* refused by the address policy */
    uint64_t presumed;          /* ended as TIMEOUT because the address was presumed down */
    uint64_t channel_evictions; /* channels closed to make room for another address */
    uint64_t cache_evictions;
};

struct mx_auth;

/* Runs on the module's thread; r is valid only during the call (copy it,
 * e.g. with mx_auth_reply_set). Keep it short. It may call mx_auth_submit,
 * never mx_auth_destroy. */
typedef void (*mx_auth_done_fn)(void *ud, const struct mx_auth_result *r);

/* Starts the thread. NULL with err filled on failure (bad settings, no
 * epoll, c-ares initialisation). */
struct mx_auth *mx_auth_create(const struct mx_auth_cfg *cfg, char *err, size_t errlen);
/* Stops the thread: questions not yet answered end as MX_AUTH_ABORTED (on
 * the module's thread), then everything is freed. Must not race with
 * mx_auth_submit. NULL is a no-op. */
void mx_auth_destroy(struct mx_auth *a);
/* Thread-safe. qname: presentation form (escapes as mx_dns_build_query
 * takes them), at most MX_NAME_MAX octets, compared case-insensitively.
 * MX_OK: cb will be called exactly once, on the module's thread.
 * MX_EINVAL (no callback, bad family, name too long or empty) or MX_ENOMEM:
 * it won't. */
enum mx_status mx_auth_submit(struct mx_auth *a, const struct mx_ip *server, const char *qname,
                              uint16_t qtype, mx_auth_done_fn cb, void *ud);
/* Counters, read at any time (relaxed). */
void mx_auth_stats(struct mx_auth *a, struct mx_auth_stats *out);

/* ---- the scan engine's provider of authoritative questions ----
 * The engine (engine.h) asks providers for look-ups that are not recursive
 * DNS: an analysis asks the oracle for qtype MX_QT_AUTH_MX or MX_QT_AUTH_SOA
 * with the key "SERVERADDR|QNAME" (mx_auth_key), the engine hands each new
 * key to this module, and the answer comes back as a blob that
 * mx_auth_reply_from_answer turns into a reply for the judgement. */
struct mx_engine;
/* Registers m for MX_QT_AUTH_MX and MX_QT_AUTH_SOA; before mx_engine_start.
 * The provider's max_ms (for the stall detector) is the longest one
 * question may take: (tries + 1) * (timeout_ms + 1000 / server_qps).
 * Stop order: mx_engine_close or _abort, mx_engine_join; then
 * mx_auth_destroy (it answers what is still out, as aborted, into the
 * engine, and joins the module's thread, which may still be inside
 * mx_engine_ext_complete); then mx_engine_destroy. */
enum mx_status mx_auth_add_providers(struct mx_auth *m, struct mx_engine *e);
/* The oracle key of (server, qname) into buf: "ADDR|QNAME"; returns the
 * length it needed (like snprintf). */
size_t mx_auth_key(const struct mx_ip *server, const char *qname, char *buf, size_t len);
/* The oracle's answer the provider makes of a result (a blob of qtype
 * MX_QT_AUTH_MX or _SOA, as r->qtype is MX or SOA); NULL on ENOMEM. Tests
 * use it to feed a table oracle. */
struct mx_answer *mx_auth_answer_blob(const struct mx_auth_result *r);

/* ---- what the caller keeps of a result ---- */

struct mx_auth_reply {
    enum mx_auth_outcome outcome; /* MX_AUTH_NONE: not asked */
    enum mx_rc rc;
    bool aa;
    bool tcp;
    struct mx_answer *ans;        /* owned copy (malloc'ed), ANSWERED only */
};

/* Copies r into dst (clearing what dst held). false on ENOMEM (dst then
 * holds outcome MX_AUTH_ERROR). */
bool mx_auth_reply_set(struct mx_auth_reply *dst, const struct mx_auth_result *r);
void mx_auth_reply_clear(struct mx_auth_reply *r);
/* The oracle's answer to an MX_QT_AUTH_* key as a reply (a copy: clear it).
 * Anything that is not this module's blob (the engine's own failure, e.g.
 * no provider) gives outcome MX_AUTH_ERROR and false. */
bool mx_auth_reply_from_answer(struct mx_auth_reply *dst, const struct mx_answer *a);

/* ---- judgement (pure) ---- */

#define MX_CONS_NS_MAX 16    /* NS names judged; more are cut (verdict.cut) */
#define MX_CONS_ADDR_MAX 64  /* addresses judged over all names */

/* How one NS name's addresses were found (through the recursive resolver). */
#define MX_CONS_NS_MAP(X)                                                             \
    X(ADDRESSES, "ok")              /* at least one A or AAAA address */              \
    X(NO_ADDRESS, "no_address")     /* A and AAAA: NXDOMAIN or NODATA, no address */  \
    X(LOOKUP_FAILED, "lookup_failed") /* no address, and a look-up failed (SERVFAIL, \
                                       timeout): proves nothing, not judged */

/* What one address is, judged from its MX and SOA answers. */
#define MX_CONS_STATE_MAP(X)                                                          \
    X(AUTH, "auth")                 /* MX and SOA answered with AA (NOERROR/NXDOMAIN) */ \
    X(TIMEOUT, "timeout")           /* no response (after the tries) */               \
    X(REFUSED, "refused")                                                             \
    X(SERVFAIL, "servfail")                                                           \
    X(NOT_AUTH, "not_auth")         /* responded without AA (a referral, a cache) */  \
    X(BAD_ANSWER, "bad_answer")     /* FORMERR, NOTIMP, other rcodes, malformed */    \
    X(NOT_ALLOWED, "not_allowed")   /* not globally reachable: never asked */         \
    X(UNKNOWN, "unknown")           /* not asked, our error or aborted: not judged */

enum mx_cons_ns_state {
#define X(e, l) MX_CONS_NS_##e,
    MX_CONS_NS_MAP(X)
#undef X
};
enum mx_cons_state {
#define X(e, l) MX_CONS_##e,
    MX_CONS_STATE_MAP(X)
#undef X
};
const char *mx_cons_ns_state_name(enum mx_cons_ns_state s);
const char *mx_cons_state_name(enum mx_cons_state s);

/* One address of an NS name, with what it said. */
struct mx_cons_addr {
    struct mx_ip ip;
    struct mx_auth_reply mx, soa;
};

/* One NS name of the domain's NS set. */
struct mx_cons_ns {
    const char *name;             /* lowercase, no trailing dot */
    enum mx_cons_ns_state state;  /* ADDRESSES when naddrs > 0 */
    size_t naddrs;
    const struct mx_cons_addr *addrs;
};

/* The per-address view of the verdict, in canonical order: NS names sorted,
 * an address under its first name (sorted), addresses sorted (IPv4 first).
 * An address named by several NS names is judged once. */
struct mx_cons_av {
    const struct mx_cons_addr *in;
    unsigned ns;                  /* index into the input's ns[] of its first name */
    enum mx_cons_state state;
    bool mx_auth;                 /* its MX answer counts for the MX comparison */
    bool soa_auth;                /* its SOA answer had AA and a SOA record */
    uint32_t serial;              /* when soa_auth */
    int mx_set;                   /* index into mx_sets, -1 when not compared */
    int serial_set;               /* index into serials, -1 */
};

struct mx_cons_group {
    unsigned first;               /* index into av[] of the first member */
    uint64_t members;             /* bit i: av[i] */
};

struct mx_cons_verdict {
    bool lame, mx_inconsistent, serial_mismatch; /* the three findings */
    bool judged;                  /* at least one NS name: the check applied */
    bool cut;                     /* NS names or addresses past the maxima were ignored */
    unsigned lame_names;          /* NS names with a lame address or no address */
    unsigned nav;
    struct mx_cons_av av[MX_CONS_ADDR_MAX];
    unsigned asked;               /* addresses that were asked (not NOT_ALLOWED/UNKNOWN) */
    unsigned authoritative;       /* addresses in state AUTH */
    unsigned nmx_sets;            /* distinct MX sets among authoritative MX answers */
    struct mx_cons_group mx_sets[MX_CONS_ADDR_MAX];
    unsigned nserials;            /* distinct serials among authoritative SOA answers */
    struct mx_cons_group serials[MX_CONS_ADDR_MAX];
    /* ns order: ns_order[k] is the input index of the k-th name in canonical order */
    unsigned nns;
    unsigned ns_order[MX_CONS_NS_MAX];
};

/* The addresses of n in ascending order (IPv4 first): the smallest after
 * last (the first when last is NULL); NULL after the largest. */
const struct mx_cons_addr *mx_cons_next_addr(const struct mx_cons_ns *n,
                                             const struct mx_cons_addr *last);

/* Judges a domain's NS set. ns[0..nns) with their addresses and answers;
 * the verdict points into the input, which must outlive it. The rules
 * (README "Authoritative consistency"):
 *   lame: a name with NO_ADDRESS, or an address in state TIMEOUT, REFUSED,
 *         SERVFAIL, NOT_AUTH, BAD_ANSWER or NOT_ALLOWED;
 *   mx_inconsistent: the MX answers with AA (NOERROR or NXDOMAIN) form more
 *         than one set of (preference, exchange) pairs, order, duplicates and
 *         TTLs aside; NXDOMAIN and "no MX" are sets of their own;
 *   serial_mismatch: the SOA answers with AA and a SOA record carry more
 *         than one serial. */
void mx_cons_judge(const struct mx_cons_ns *ns, size_t nns, struct mx_cons_verdict *out);

/* ---- gathering, through the oracle (gather.c) ----
 * What one domain's judgement needs, asked through the scan engine's oracle
 * in one analysis pass: NS of the domain (per domain), A and AAAA of each NS
 * name (MX_Q_SHARED: one look-up per scan for names shared by thousands of
 * domains), then MX and SOA of the domain from every address
 * (MX_QT_AUTH_MX/SOA, answered by this module as the engine's provider).
 * At most MX_CONS_NS_MAX names (the first in answer order) and
 * MX_CONS_NS_ADDR_MAX addresses per name (A first, in answer order). */
#define MX_CONS_NS_ADDR_MAX 8

struct mx_cons_work {
    enum mx_rc ns_rc;         /* the NS look-up's outcome */
    bool apex;                /* NOERROR with NS records owned by the domain itself
                                 (not through a CNAME): the check applies */
    size_t nns;               /* NS records (more than MX_CONS_NS_MAX: the rest cut) */
    char names[MX_CONS_NS_MAX][MX_NAME_MAX + 1];
    struct mx_cons_ns ns[MX_CONS_NS_MAX];
    struct mx_cons_addr addrs[MX_CONS_NS_MAX][MX_CONS_NS_ADDR_MAX];
};

struct mx_oracle;
/* One analysis pass: fills w (cleared first) from the oracle's answers.
 * Returns false while answers are pending (run again from scratch, like
 * every analysis). Judge with mx_cons_judge(w->ns, w->nns, ...) when
 * w->apex. Clear w with mx_cons_work_clear (the replies own copies). */
bool mx_cons_gather(struct mx_cons_work *w, const char *domain, struct mx_oracle *o);
void mx_cons_work_clear(struct mx_cons_work *w);

/* ---- columns ----
 * Text forms (CSV cells). Lists use ';' between items, like the mx column.
 *   ns_servers:  per NS name in canonical order, "NAME=ADDR state,ADDR state"
 *                or "NAME=no_address" / "NAME=lookup_failed"; e.g.
 *                "ns1.a.test=192.0.2.1 auth,2001:db8::1 timeout;ns2.a.test=no_address"
 *   ns_mx_sets:  per distinct MX set "SET@ADDR,ADDR" where SET is the set's
 *                records "PREF EXCHANGE" sorted (preference, then name), each
 *                once, joined with ' ' inside braces; "none" for no MX (NODATA),
 *                "nxdomain" for NXDOMAIN; e.g.
 *                "{10 mx1.a.test 20 mx2.a.test}@192.0.2.1,192.0.2.2;
 *                {10 mail.old.test}@192.0.2.3"
 *   ns_serials:  per distinct serial "SERIAL@ADDR,ADDR", e.g.
 *                "2024060101@192.0.2.1,192.0.2.2;2024010101@192.0.2.3"
 * Each returns the length it needed (like snprintf); buf may be NULL when len
 * is 0. Groups appear in canonical address order of their first member. */
size_t mx_cons_format_servers(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v,
                              char *buf, size_t len);
size_t mx_cons_format_mx_sets(const struct mx_cons_verdict *v, char *buf, size_t len);
size_t mx_cons_format_serials(const struct mx_cons_verdict *v, char *buf, size_t len);

/* For people (`mxscan check`): one line per address of each NS name in
 * canonical order, '\n'-terminated, saying what it answered, e.g.
 *   "ns3.a.test 192.0.2.3: auth; MX {10 mail.old.test} (NOERROR, AA);
 *    SOA serial 2024010101 (NOERROR, AA)"
 *   "ns5.a.test 192.0.2.5: lame (refused); MX REFUSED; SOA REFUSED"
 *   "ns9.a.test: lame (no_address: neither A nor AAAA)"
 * Returns the length it needed (like snprintf). */
size_t mx_cons_format_detail(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v,
                             char *buf, size_t len);

/* Structured form (for JSON output): a jansson object
 *   {"findings": [...], "servers": [{"name", "state", "addresses": [{"address",
 *    "state", "mx": {"outcome","rcode","aa"}, "soa": {...}, "serial"}]}],
 *    "mx_sets": [{"mx": [[PREF, "EXCHANGE"], ...] | null, "rcode", "servers": [...]}],
 *    "serials": [{"serial", "servers": [...]}]}
 * Returned as a new reference (json_t *, declared void * to keep jansson out
 * of this header); NULL on ENOMEM. */
void *mx_cons_to_json(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v);

#endif
