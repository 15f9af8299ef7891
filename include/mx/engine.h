/* Resolver workers: each owns c-ares channels (one per server) and an
 * epoll loop, sends under the shared token bucket and in-flight cap, and
 * runs the analysis of its records, asking the shared cache for answers. */
#ifndef MX_ENGINE_H
#define MX_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mx/answer.h"
#include "mx/cache.h"
#include "mx/config.h"
#include "mx/oracle.h"
#include "mx/record.h"

struct mx_engine;

/* Runs the analysis of rec (from scratch); false while answers are pending. */
typedef bool (*mx_analysis_fn)(void *ud, struct mx_record *rec, struct mx_oracle *o);
/* rec is finished; called from a worker thread. */
typedef void (*mx_done_fn)(void *ud, struct mx_record *rec);

/* Per-worker counters, summed by mx_engine_counters. */
struct mx_counters {
    uint64_t sent, answered, retried, timeouts;
    uint64_t rcode[MX_RC_COUNT];
    uint64_t inflight;
    uint64_t records_done;
    uint64_t stuck;           /* analyses that asked for nothing yet were pending */
    uint64_t active;          /* records handed to workers and not finished */
    uint64_t queued;          /* look-ups waiting in the workers' send queues */
    uint64_t rounds;          /* analysis runs (progress, for the stall detector) */
    uint64_t send_calls, recv_calls; /* sendmmsg/recvmmsg system calls */
    uint64_t record_queries;  /* look-ups started by the finished records (first tries) */
    uint64_t ext_inflight, ext_done; /* provider requests (SMTP probe ...) */
    unsigned ext_max_ms;      /* the slowest provider's longest request */
};

/* analyze(aud, ...) runs the records' analysis, done(dud, ...) takes
 * finished records. */
enum mx_status mx_engine_create(const struct mx_config *cfg, mx_analysis_fn analyze, void *aud,
                                mx_done_fn done, void *dud, struct mx_engine **out, char *err,
                                size_t errlen);
enum mx_status mx_engine_start(struct mx_engine *e, char *err, size_t errlen);
/* Hands rec (valid name) to a worker. Thread-safe. */
void mx_engine_submit(struct mx_engine *e, struct mx_record *rec);
/* No more submissions: workers exit when their records are done. */
void mx_engine_close(struct mx_engine *e);
/* Abandon the work in progress: workers exit as soon as they can. */
void mx_engine_abort(struct mx_engine *e);
void mx_engine_join(struct mx_engine *e);
/* Waits at most ms for every worker to exit (after abort or close); false
 * when one did not (it is then left running: the caller must not destroy
 * the engine, and ends the process instead). */
bool mx_engine_join_timed(struct mx_engine *e, unsigned ms);
/* Writes, for each worker, the records it holds and what each waits for
 * (at most max_recs per worker); a worker that does not answer within
 * wait_ms is named as busy. For the stall detector; thread-safe. */
void mx_engine_describe(struct mx_engine *e, FILE *f, unsigned max_recs, unsigned wait_ms);
/* After join: drop the answers a record still holds (abandoned records). */
void mx_engine_release(struct mx_record *rec);
void mx_engine_destroy(struct mx_engine *e);

/* What mx_engine_run_all does around the run: setup after the engine is
 * made (register providers), teardown after the records are done (stop
 * them), before the engine goes. Either may be NULL. */
struct mx_engine_hooks {
    enum mx_status (*setup)(void *ud, struct mx_engine *e, char *err, size_t errlen);
    void (*teardown)(void *ud);
    void *ud;
};

/* Runs analyze over the valid records of recs[0..n) with an engine of its
 * own and returns when every one is finished (`mxscan check`, `spf`, the
 * resolver probe); its counters into *counters when not NULL. */
enum mx_status mx_engine_run_all(const struct mx_config *cfg, struct mx_record *recs, size_t n,
                                 mx_analysis_fn analyze, void *aud,
                                 const struct mx_engine_hooks *hooks,
                                 struct mx_counters *counters, char *err, size_t errlen);

/* ---- look-ups that are not DNS queries ----
 * An analysis asks for them through the oracle like DNS answers, with a
 * qtype of MX_QT_EXT or above and a key as the name (the provider says
 * what the key holds): the SMTP probe of an address, an MTA-STS policy
 * fetch, a query to an authoritative server. The engine hands each new
 * request (the shared cache still removes duplicates) to the provider
 * registered for its qtype, from a worker's loop; the provider answers
 * from any thread with mx_engine_ext_complete, with a blob answer or a
 * DNS answer. A request nobody provides for fails (MX_RC_OTHER). */
#define MX_QT_EXT 0xFF00u
#define MX_QT_SMTP 0xFF01u      /* key "ADDR|EXCHANGE" or "ADDR|EXCHANGE|RCPTDOMAIN" */
#define MX_QT_MTA_STS 0xFF02u   /* key "DOMAIN|ADDR[,ADDR...]" */
#define MX_QT_AUTH_MX 0xFF03u   /* key "SERVERADDR|QNAME" */
#define MX_QT_AUTH_SOA 0xFF04u  /* key "SERVERADDR|QNAME" */

struct mx_ext_req; /* one request; pass it back to mx_engine_ext_complete */
typedef void (*mx_ext_submit_fn)(void *ctx, const char *key, uint16_t qtype,
                                 struct mx_ext_req *req);
struct mx_ext_provider {
    uint16_t qtype;
    mx_ext_submit_fn submit;
    void *ctx;
    unsigned max_ms; /* the longest a request may take (the stall detector waits that long) */
};
/* Before mx_engine_start. At most MX_EXT_MAX providers. */
#define MX_EXT_MAX 8
enum mx_status mx_engine_add_provider(struct mx_engine *e, const struct mx_ext_provider *p);
/* Thread-safe; takes ans (NULL: a failure). Exactly once per request. */
void mx_engine_ext_complete(struct mx_ext_req *req, struct mx_answer *ans);

void mx_engine_counters(struct mx_engine *e, struct mx_counters *out);
void mx_engine_cache_stats(struct mx_engine *e, struct mx_cache_stats *out);
/* Watchdog back-off: the current global rate and setting it (0 = unlimited). */
uint64_t mx_engine_rate(struct mx_engine *e);
void mx_engine_set_rate(struct mx_engine *e, uint64_t qps);

#endif
