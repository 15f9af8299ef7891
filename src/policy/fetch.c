/* The MTA-STS policy fetcher (mta_sts.h): one thread running one libcurl
 * multi loop. Requests come in through an inbox (any thread), are answered
 * from the host table (done entries are the per-scan cache, in-flight ones
 * collect waiters) or start a fetch when the pacer and the concurrency cap
 * allow. curl never resolves: every transfer gets its own DNS cache (a
 * share object) holding only the caller's pinned addresses, and a
 * socket-open callback refuses anything else. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mx/hash.h"
#include "mx/mta_sts.h"
#include "mx/names.h"
#include "mx/text.h"

struct req {
    struct req *next;
    char host[MX_NAME_MAX + 1];
    struct mx_ip addrs[MX_STS_ADDR_MAX];
    size_t n;
    mx_sts_fetch_done_fn cb;
    void *ud;
};

enum est { E_QUEUED, E_RUNNING, E_DONE };

/* One policy host: queued, being fetched, or done (then it is the cache). */
struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* done: LRU list; queued: the start queue */
    uint64_t hash;
    enum est st;
    char host[MX_NAME_MAX + 1];
    struct req *waiters;       /* to answer when done */
    struct mx_ip addrs[MX_STS_ADDR_MAX];
    size_t n;
    /* while running */
    CURL *easy;
    CURLSH *share;
    struct curl_slist *resolve, *connect_to;
    char *body;
    size_t body_len, max_bytes;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
    /* when done */
    struct mx_sts_fetch_result res;
};

struct mx_sts_fetch {
    struct mx_sts_fetch_cfg cfg; /* strings point at the copies below */
    char ca_file[4096];
    char agent[128];
    struct mx_allowlist allow;
    uint64_t pace_us;

    /* lock: submitters and the thread */
    pthread_mutex_t lock;
    struct req *inbox, *inbox_tail;
    bool stop;

    /* the thread's */
    pthread_t thread;
    CURLM *multi;
    struct entry **hb;
    size_t hmask, ndone;
    struct entry *lru_head, *lru_tail; /* done entries, head = oldest */
    struct entry *q_head, *q_tail;     /* queued for a start */
    unsigned nrunning;
    uint64_t next_start_us;

    _Atomic uint64_t n_requests, n_completed, n_fetches, n_cached, n_not_allowed, n_aborted;
};

static void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the host table ---- */

static uint64_t host_hash(const char *host)
{
    uint64_t h = mx_fnv1a(MX_FNV1A_INIT, host, strlen(host));
    return h * 0x9E3779B97F4A7C15ull;
}

static struct entry *find(struct mx_sts_fetch *f, const char *host, uint64_t h)
{
    for (struct entry *e = f->hb[(h >> 20) & f->hmask]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->host, host) == 0)
            return e;
    return NULL;
}

static void unhash(struct mx_sts_fetch *f, struct entry *e)
{
    struct entry **pp = &f->hb[(e->hash >> 20) & f->hmask];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
}

static void list_unlink(struct entry **head, struct entry **tail, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        *head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        *tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push(struct entry **head, struct entry **tail, struct entry *e)
{
    e->next = NULL;
    e->prev = *tail;
    if (*tail)
        (*tail)->next = e;
    else
        *head = e;
    *tail = e;
}

static void evict(struct mx_sts_fetch *f)
{
    while (f->ndone > f->cfg.cache_hosts && f->lru_head) {
        struct entry *e = f->lru_head;
        list_unlink(&f->lru_head, &f->lru_tail, e);
        unhash(f, e);
        f->ndone--;
        free(e);
    }
}

/* ---- answers ---- */

static void answer(struct mx_sts_fetch *f, struct req *r, const struct mx_sts_fetch_result *res,
                   bool cached)
{
    struct mx_sts_fetch_result out = *res;
    out.cached = cached;
    if (cached)
        bump(&f->n_cached);
    bump(&f->n_completed);
    r->cb(r->ud, &out);
    free(r);
}

static void answer_now(struct mx_sts_fetch *f, struct req *r, enum mx_sts_fetch_outcome o)
{
    struct mx_sts_fetch_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.host, sizeof res.host, "%s", r->host);
    res.outcome = o;
    if (o == MX_STS_FETCH_ABORTED)
        bump(&f->n_aborted);
    if (o == MX_STS_FETCH_NOT_ALLOWED)
        bump(&f->n_not_allowed);
    answer(f, r, &res, false);
}

/* The entry's result is final: answer its waiters, keep it as cache. */
static void settle(struct mx_sts_fetch *f, struct entry *e)
{
    e->st = E_DONE;
    struct req *w = e->waiters;
    e->waiters = NULL;
    bool first = true;
    while (w) {
        struct req *next = w->next;
        answer(f, w, &e->res, !first);
        first = false;
        w = next;
    }
    list_push(&f->lru_head, &f->lru_tail, e);
    f->ndone++;
    evict(f);
}

/* ---- curl callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct entry *e = ud;
    size_t n = size * nmemb;
    if (e->body_len + n > e->max_bytes) {
        e->too_big = true;
        e->body_len += n;
        return 0; /* CURLE_WRITE_ERROR: the transfer stops */
    }
    if (n) {
        memcpy(e->body + e->body_len, data, n);
        e->body_len += n;
    }
    return n;
}

static bool ip_of_sockaddr(const struct sockaddr *sa, struct mx_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        ip->family = 4;
        memcpy(ip->b, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        ip->family = 6;
        memcpy(ip->b, &in6->sin6_addr, 16);
        return true;
    }
    return false;
}

/* The last guard: a socket only towards an address the caller gave. */
static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct entry *e = ud;
    struct mx_ip ip;
    if (purpose != CURLSOCKTYPE_IPCXN || !ip_of_sockaddr(&a->addr, &ip))
        return CURL_SOCKET_BAD;
    bool pinned = false;
    for (size_t i = 0; i < e->n && !pinned; i++)
        pinned = mx_ip_equal(&ip, &e->addrs[i]);
    if (!pinned)
        return CURL_SOCKET_BAD;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* ---- one transfer ---- */

static void release(struct mx_sts_fetch *f, struct entry *e)
{
    if (e->easy) {
        curl_multi_remove_handle(f->multi, e->easy);
        curl_easy_cleanup(e->easy);
        f->nrunning--;
    }
    if (e->share)
        curl_share_cleanup(e->share);
    curl_slist_free_all(e->resolve);
    curl_slist_free_all(e->connect_to);
    free(e->body);
    e->easy = NULL;
    e->share = NULL;
    e->resolve = e->connect_to = NULL;
    e->body = NULL;
}

/* "host:port:addr,addr" for CURLOPT_RESOLVE (IPv6 in brackets). */
static struct curl_slist *pin(struct curl_slist *l, const struct entry *e, unsigned port, bool *ok)
{
    char line[MX_NAME_MAX + 16 + MX_STS_ADDR_MAX * 50];
    size_t w = (size_t)snprintf(line, sizeof line, "%s:%u:", e->host, port);
    for (size_t i = 0; i < e->n; i++) {
        char a[64];
        mx_ip_format(&e->addrs[i], a, sizeof a);
        w += (size_t)snprintf(line + w, sizeof line - w, e->addrs[i].family == 6 ? "%s[%s]" : "%s%s",
                              i ? "," : "", a);
    }
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
        *ok = false;
        return l;
    }
    return n;
}

static bool start(struct mx_sts_fetch *f, struct entry *e)
{
    const struct mx_sts_fetch_cfg *c = &f->cfg;
    bool ok = true;
    char url[MX_NAME_MAX + 64];
    snprintf(url, sizeof url, "https://%s/.well-known/mta-sts.txt", e->host);
    e->max_bytes = c->max_bytes;
    e->body = malloc(c->max_bytes ? c->max_bytes : 1);
    e->easy = curl_easy_init();
    if (e->easy)
        f->nrunning++; /* release() counts it down */
    e->share = curl_share_init();
    if (!e->body || !e->easy || !e->share)
        return false;
    e->resolve = pin(NULL, e, 443, &ok);
    if (c->port != 443) {
        char line[2 * MX_NAME_MAX + 32];
        snprintf(line, sizeof line, "%s:443:%s:%u", e->host, e->host, c->port);
        e->resolve = pin(e->resolve, e, c->port, &ok);
        struct curl_slist *n = curl_slist_append(NULL, line);
        ok = ok && n;
        e->connect_to = n;
    }
    CURL *h = e->easy;
#define SET(opt, val) ok = ok && curl_easy_setopt(h, opt, val) == CURLE_OK
    /* its own DNS cache: the pinned addresses only, gone with the transfer */
    ok = ok && curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) == CURLSHE_OK;
    SET(CURLOPT_SHARE, e->share);
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_RESOLVE, e->resolve);
    if (e->connect_to)
        SET(CURLOPT_CONNECT_TO, e->connect_to);
    SET(CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open);
    SET(CURLOPT_OPENSOCKETDATA, e);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (f->ca_file[0]) {
        SET(CURLOPT_CAINFO, f->ca_file);
        SET(CURLOPT_CAPATH, NULL);
    }
    SET(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_bytes);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, e);
    SET(CURLOPT_USERAGENT, f->agent);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, e->errbuf);
    SET(CURLOPT_PRIVATE, e);
    SET(CURLOPT_FORBID_REUSE, 1L);
#undef SET
    e->errbuf[0] = '\0';
    if (!ok || curl_multi_add_handle(f->multi, h) != CURLM_OK)
        return false;
    e->st = E_RUNNING;
    bump(&f->n_fetches);
    return true;
}

/* text/plain, parameters ignored (RFC 8461 3.3) */
static bool text_plain(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

static enum mx_sts_fetch_outcome map_error(CURLcode rc, struct entry *e, long verify)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return MX_STS_FETCH_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
        return MX_STS_FETCH_CONNECT_FAILED;
    case CURLE_PEER_FAILED_VERIFICATION:
        /* curl checks the name itself and then reports no X509 error, or
         * "unspecified": say what it was */
        if ((verify == 0 || verify == X509_V_ERR_UNSPECIFIED) &&
            (strstr(e->errbuf, "host name") || strstr(e->errbuf, "hostname")))
            verify = X509_V_ERR_HOSTNAME_MISMATCH;
        e->res.cert_verify_error = (int)verify;
        {
            const char *why = verify && verify != X509_V_ERR_UNSPECIFIED
                                  ? X509_verify_cert_error_string(verify)
                                  : e->errbuf;
            mx_text_copy_shown(e->res.cert_error, sizeof e->res.cert_error, why, strlen(why));
        }
        return MX_STS_FETCH_CERT_INVALID;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return MX_STS_FETCH_TLS_ERROR;
    case CURLE_FILESIZE_EXCEEDED:
        return MX_STS_FETCH_TOO_BIG;
    case CURLE_WRITE_ERROR:
        return e->too_big ? MX_STS_FETCH_TOO_BIG : MX_STS_FETCH_LOCAL_ERROR;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_COULDNT_RESOLVE_HOST: /* a pinned name not found: ours */
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_FAILED_INIT:
        return MX_STS_FETCH_LOCAL_ERROR;
    default:
        return MX_STS_FETCH_HTTP_ERROR;
    }
}

static void finish(struct mx_sts_fetch *f, struct entry *e, CURLcode rc)
{
    struct mx_sts_fetch_result *r = &e->res;
    memset(r, 0, sizeof *r);
    snprintf(r->host, sizeof r->host, "%s", e->host);
    long status = 0, verify = 0;
    char *ct = NULL, *ip = NULL;
    curl_off_t total = 0;
    curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e->easy, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(e->easy, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(e->easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(e->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
    r->status = status;
    if (ct)
        snprintf(r->content_type, sizeof r->content_type, "%s", ct);
    if (ip && *ip)
        mx_ip_parse(ip, &r->peer);
    r->elapsed_ms = total > 0 ? (uint32_t)(total / 1000) : 0;
    r->body_len = e->body_len;
    if (rc == CURLE_OK) {
        if (status >= 300 && status < 400)
            r->outcome = MX_STS_FETCH_REDIRECT;
        else if (status != 200)
            r->outcome = MX_STS_FETCH_HTTP_STATUS;
        else if (!text_plain(ct))
            r->outcome = MX_STS_FETCH_BAD_CONTENT_TYPE;
        else
            r->outcome = MX_STS_FETCH_OK;
    } else {
        r->outcome = map_error(rc, e, verify);
        if (r->outcome != MX_STS_FETCH_CERT_INVALID)
        {
            const char *why = e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc);
            mx_text_copy_shown(r->error, sizeof r->error, why, strlen(why));
        }
    }
    if (r->outcome == MX_STS_FETCH_OK)
        mx_sts_policy_parse(e->body, e->body_len, &r->policy);
    release(f, e);
    settle(f, e);
}

/* ---- the loop ---- */

static void dispatch(struct mx_sts_fetch *f, struct req *r)
{
    struct mx_ip keep[MX_STS_ADDR_MAX];
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (mx_ip_is_global(&r->addrs[i], &f->allow))
            keep[k++] = r->addrs[i];
    if (r->n == 0) {
        answer_now(f, r, MX_STS_FETCH_NO_ADDRESS);
        return;
    }
    if (k == 0) {
        answer_now(f, r, MX_STS_FETCH_NOT_ALLOWED);
        return;
    }
    uint64_t h = host_hash(r->host);
    struct entry *e = find(f, r->host, h);
    if (e && e->st == E_DONE) {
        list_unlink(&f->lru_head, &f->lru_tail, e); /* most recently used */
        list_push(&f->lru_head, &f->lru_tail, e);
        answer(f, r, &e->res, true);
        return;
    }
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            answer_now(f, r, MX_STS_FETCH_LOCAL_ERROR);
            return;
        }
        e->hash = h;
        snprintf(e->host, sizeof e->host, "%s", r->host);
        memcpy(e->addrs, keep, k * sizeof keep[0]);
        e->n = k;
        e->st = E_QUEUED;
        size_t b = (h >> 20) & f->hmask;
        e->hnext = f->hb[b];
        f->hb[b] = e;
        list_push(&f->q_head, &f->q_tail, e);
    }
    /* waiters in arrival order */
    r->next = NULL;
    struct req **pp = &e->waiters;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
}

static void start_some(struct mx_sts_fetch *f)
{
    while (f->q_head && f->nrunning < f->cfg.max_fetches) {
        uint64_t t = now_us();
        if (t < f->next_start_us)
            return;
        struct entry *e = f->q_head;
        list_unlink(&f->q_head, &f->q_tail, e);
        f->next_start_us = t + f->pace_us;
        if (!start(f, e)) {
            memset(&e->res, 0, sizeof e->res);
            snprintf(e->res.host, sizeof e->res.host, "%s", e->host);
            e->res.outcome = MX_STS_FETCH_LOCAL_ERROR;
            snprintf(e->res.error, sizeof e->res.error, "could not set up the transfer");
            release(f, e);
            unhash(f, e); /* not cached: our failure */
            struct req *w = e->waiters;
            e->waiters = NULL;
            while (w) {
                struct req *next = w->next;
                answer(f, w, &e->res, false);
                w = next;
            }
            free(e);
        }
    }
}

/* Everything still waiting is answered ABORTED; running transfers end. */
static void abort_all(struct mx_sts_fetch *f, struct req *inbox)
{
    while (inbox) {
        struct req *r = inbox;
        inbox = r->next;
        answer_now(f, r, MX_STS_FETCH_ABORTED);
    }
    for (size_t b = 0; b <= f->hmask; b++) {
        struct entry *e = f->hb[b];
        while (e) {
            struct entry *next = e->hnext;
            if (e->st != E_DONE) {
                release(f, e);
                struct req *w = e->waiters;
                while (w) {
                    struct req *wn = w->next;
                    answer_now(f, w, MX_STS_FETCH_ABORTED);
                    w = wn;
                }
                e->waiters = NULL;
            }
            free(e);
            e = next;
        }
        f->hb[b] = NULL;
    }
    f->lru_head = f->lru_tail = f->q_head = f->q_tail = NULL;
    f->ndone = 0;
}

static void *run(void *arg)
{
    struct mx_sts_fetch *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        struct req *in = f->inbox;
        f->inbox = f->inbox_tail = NULL;
        bool stop = f->stop;
        pthread_mutex_unlock(&f->lock);
        if (stop) {
            abort_all(f, in);
            return NULL;
        }
        while (in) {
            struct req *r = in;
            in = r->next;
            dispatch(f, r);
        }
        start_some(f);
        int running = 0;
        curl_multi_perform(f->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct entry *e = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&e);
            CURLcode rc = m->data.result;
            if (e)
                finish(f, e, rc);
        }
        start_some(f);
        long t = 1000;
        curl_multi_timeout(f->multi, &t);
        if (t < 0 || t > 1000)
            t = 1000;
        if (f->q_head && f->nrunning < f->cfg.max_fetches) {
            uint64_t now = now_us();
            long wait = f->next_start_us > now ? (long)((f->next_start_us - now + 999) / 1000) : 0;
            if (wait < t)
                t = wait;
        }
        if (t > 0)
            curl_multi_poll(f->multi, NULL, 0, (int)t, NULL);
    }
}

/* ---- lifecycle ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void fetch_free(struct mx_sts_fetch *f)
{
    if (f->multi)
        curl_multi_cleanup(f->multi);
    free(f->hb);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

struct mx_sts_fetch *mx_sts_fetch_create(const struct mx_sts_fetch_cfg *cfg, char *err,
                                         size_t errlen)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    struct mx_sts_fetch *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->cfg = *cfg;
    struct mx_sts_fetch_cfg *c = &f->cfg;
    c->timeout_ms = c->timeout_ms ? c->timeout_ms : 20000;
    c->connect_ms = c->connect_ms ? c->connect_ms : 10000;
    c->max_bytes = c->max_bytes ? c->max_bytes : 65536;
    c->fetch_rate = c->fetch_rate != 0 ? c->fetch_rate : 20;
    c->max_fetches = c->max_fetches ? c->max_fetches : 32;
    c->cache_hosts = c->cache_hosts ? c->cache_hosts : 16384;
    c->port = c->port ? c->port : 443;
    if (!(c->fetch_rate > 0 && c->fetch_rate <= 100000) || !isfinite(c->fetch_rate)) {
        snprintf(err, errlen, "fetch rate must be in (0, 100000]");
        goto fail;
    }
    if (c->max_bytes > (64u << 20) || c->max_fetches > 4096) {
        snprintf(err, errlen, "max_bytes above 64 MiB or max_fetches above 4096");
        goto fail;
    }
    f->pace_us = (uint64_t)(1e6 / c->fetch_rate);
    if (cfg->ca_file && *cfg->ca_file) {
        if (strlen(cfg->ca_file) >= sizeof f->ca_file || access(cfg->ca_file, R_OK) != 0) {
            snprintf(err, errlen, "CA file %s: %s", cfg->ca_file,
                     strlen(cfg->ca_file) >= sizeof f->ca_file ? "name too long"
                                                               : strerror(errno));
            goto fail;
        }
        snprintf(f->ca_file, sizeof f->ca_file, "%s", cfg->ca_file);
    }
    c->ca_file = f->ca_file[0] ? f->ca_file : NULL;
    snprintf(f->agent, sizeof f->agent, "%s",
             cfg->user_agent && *cfg->user_agent ? cfg->user_agent
                                                 : "mxscan/" MX_VERSION " (MTA-STS policy check)");
    c->user_agent = f->agent;
    if (cfg->allow)
        f->allow = *cfg->allow;
    c->allow = &f->allow;
    f->hmask = 4095;
    f->hb = calloc(f->hmask + 1, sizeof *f->hb);
    f->multi = curl_multi_init();
    if (!f->hb || !f->multi) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->max_fetches);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, run, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    return f;
fail:
    fetch_free(f);
    return NULL;
}

void mx_sts_fetch_destroy(struct mx_sts_fetch *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    pthread_join(f->thread, NULL);
    fetch_free(f);
}

enum mx_status mx_sts_fetch_submit(struct mx_sts_fetch *f, const char *domain,
                                   const struct mx_ip *addrs, size_t n, mx_sts_fetch_done_fn cb,
                                   void *ud)
{
    if (!f || !domain || !cb || (n && !addrs))
        return MX_EINVAL;
    size_t dl = strlen(domain);
    if (dl == 0 || dl + 8 > MX_NAME_MAX || mx_name_check(domain) == MX_NAME_BAD)
        return MX_EINVAL;
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return MX_ENOMEM;
    snprintf(r->host, sizeof r->host, "mta-sts.%s", domain);
    for (char *p = r->host; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    for (size_t i = 0; i < n && r->n < MX_STS_ADDR_MAX; i++)
        if (addrs[i].family == 4 || addrs[i].family == 6)
            r->addrs[r->n++] = addrs[i];
    if (n && !r->n) {
        free(r);
        return MX_EINVAL;
    }
    r->cb = cb;
    r->ud = ud;
    bump(&f->n_requests);
    pthread_mutex_lock(&f->lock);
    if (f->inbox_tail)
        f->inbox_tail->next = r;
    else
        f->inbox = r;
    f->inbox_tail = r;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    return MX_OK;
}

void mx_sts_fetch_stats(struct mx_sts_fetch *f, struct mx_sts_fetch_stats *out)
{
    out->requests = atomic_load_explicit(&f->n_requests, memory_order_relaxed);
    out->completed = atomic_load_explicit(&f->n_completed, memory_order_relaxed);
    out->fetches = atomic_load_explicit(&f->n_fetches, memory_order_relaxed);
    out->cached = atomic_load_explicit(&f->n_cached, memory_order_relaxed);
    out->not_allowed = atomic_load_explicit(&f->n_not_allowed, memory_order_relaxed);
    out->aborted = atomic_load_explicit(&f->n_aborted, memory_order_relaxed);
}

/* ---- rendering ---- */

size_t mx_sts_fetch_result_format(const struct mx_sts_fetch_result *r, char *buf, size_t len)
{
    struct mx_text_out o = {buf, len, 0};
    if (buf && len)
        buf[0] = '\0';
    char ip[64] = "-";
    if (r->peer.family)
        mx_ip_format(&r->peer, ip, sizeof ip);
    mx_text_put(&o, "host=%s cached=%d outcome=%s status=%ld", r->host, r->cached,
        mx_sts_fetch_outcome_name(r->outcome), r->status);
    mx_text_put_quoted(&o, "content_type", r->content_type);
    mx_text_put(&o, " body_len=%zu peer=%s elapsed_ms=%u cert_verify_error=%d", r->body_len, ip,
        r->elapsed_ms, r->cert_verify_error);
    mx_text_put_quoted(&o, "cert_error", r->cert_error);
    mx_text_put_quoted(&o, "error", r->error);
    if (r->outcome == MX_STS_FETCH_OK) {
        const struct mx_sts_policy *p = &r->policy;
        mx_text_put(&o, " policy=%s policy_line=%u mode=%s max_age=%u dup_keys=%d mx_truncated=%d mx=",
            mx_sts_pol_name(p->verdict), p->bad_line, mx_sts_mode_name(p->mode),
            (unsigned)p->max_age, p->dup_keys, p->mx_truncated);
        for (unsigned i = 0; i < p->n_mx; i++)
            mx_text_put(&o, "%s%s", i ? "," : "", mx_sts_policy_mx(p, i));
        if (!p->n_mx)
            mx_text_put(&o, "-");
    } else {
        mx_text_put(&o, " policy=- policy_line=0 mode=- max_age=- dup_keys=0 mx_truncated=0 mx=-");
    }
    return o.need;
}
