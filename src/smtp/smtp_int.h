/* Inside the SMTP probe: the objects shared by probe.c (thread, requests,
 * answers, scheduling), tables.c (hosts, queues, the RCPT answer cache),
 * session.c (one connection's state machine) and tls.c (OpenSSL context and
 * certificate facts). Every field below is owned by the probe thread
 * unless marked "lock". */
#ifndef MX_SMTP_INT_H
#define MX_SMTP_INT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mx/smtp.h"

struct mx_smtp_req {
    struct mx_smtp_req *next;
    struct mx_ip addr;
    char exchange[MX_NAME_MAX + 1];
    char rcpt[MX_NAME_MAX + 1]; /* "" = facts only */
    mx_smtp_done_fn cb;
    void *ud;
    bool retried; /* already re-asked once after a 452 inside a transaction */
    bool fresh;   /* queued when the facts were learnt: not from the cache */
};

enum mx_smtp_where { MX_SMTP_H_IDLE, MX_SMTP_H_READY, MX_SMTP_H_BUSY };

/* One remote address: its queue, its session (at most one), its facts. */
struct mx_smtp_host {
    struct mx_smtp_host *hnext;             /* hash chain */
    struct mx_smtp_host *prev, *next;       /* idle (LRU) list or ready list */
    enum mx_smtp_where where;
    struct mx_ip ip;
    uint64_t hash;
    struct mx_smtp_req *qhead, *qtail;      /* pending requests, FIFO */
    struct mx_smtp_session *s;              /* the one connection, or NULL */
    bool known;                             /* facts learnt */
    bool no_tls;                            /* TLS did not work: RCPT in plain */
    unsigned failures;                      /* RCPT sessions in a row without an answer */
    enum mx_smtp_end last_end;              /* how the last RCPT session ended */
    struct mx_smtp_result facts;            /* exchange/rcpt fields unused */
    uint32_t chain_problems;                /* name-independent certificate problems */
    unsigned char *leaf;                    /* leaf certificate (DER), for names */
    size_t leaf_len;
    uint16_t mail_code;                     /* MAIL FROM refused: its reply */
    char mail_text[MX_SMTP_TEXT_MAX];
};

enum mx_smtp_sst {
    MX_SMTP_S_FREE,
    MX_SMTP_S_CONNECT,   /* waiting for connect() */
    MX_SMTP_S_REPLY,     /* sending a command (or none) and reading its reply */
    MX_SMTP_S_HANDSHAKE, /* TLS handshake */
    MX_SMTP_S_IDLE,      /* lingering for more RCPT requests */
    MX_SMTP_S_CLOSING    /* QUIT answered: waiting for the server to close */
};

#define MX_SMTP_INBUF 4096
#define MX_SMTP_OUTBUF 600

struct mx_smtp_session {
    struct mx_smtp *p;
    struct mx_smtp_host *h;
    struct mx_smtp_session *free_next;
    enum mx_smtp_sst st;
    enum mx_smtp_step step;         /* the command whose reply is awaited */
    uint64_t deadline;              /* ms, mx_now_ms() clock */
    int fd;
    uint32_t ev;                    /* epoll events registered */
    SSL *ssl;
    bool tls_on;
    bool plain_only;                /* do not try STARTTLS */
    bool facts_session;             /* this conversation learns the facts */
    bool facts_given;
    bool progress;                  /* answered a queued request (or must be
                                       retried in plain after TLS failed) */
    bool in_txn;
    unsigned txn_rcpts, conn_rcpts, conn_errors;
    uint16_t mail_code;             /* of the open transaction */
    enum mx_smtp_end end;           /* how it ended */
    char sni[MX_NAME_MAX + 1];
    struct mx_smtp_result facts;    /* being learnt (facts_session) */
    struct mx_smtp_reply reply;
    size_t inlen, outlen, outoff;
    char in[MX_SMTP_INBUF];
    char out[MX_SMTP_OUTBUF];
};

/* An RCPT answer kept for an (address, domain) pair. */
struct mx_smtp_rc {
    struct mx_smtp_rc *hnext;       /* hash chain */
    struct mx_smtp_rc *prev, *next; /* LRU */
    uint64_t hash;
    struct mx_ip ip;
    uint16_t mail_code, code;
    size_t domlen;
    char data[]; /* domain NUL text NUL */
};

struct mx_smtp {
    /* settings, fixed after create */
    struct mx_smtp_cfg cfg;     /* strings point into the copies below */
    char ehlo[MX_NAME_MAX + 1];
    char mail_from[MX_NAME_MAX + 3];
    struct mx_allowlist allow;
    uint64_t pace_us;           /* 1e6 / conn_rate */

    /* lock: submitters and the probe thread */
    pthread_mutex_t lock;
    struct mx_smtp_req *inbox, *inbox_tail;
    bool stop;
    bool woken;

    /* probe thread */
    pthread_t thread;
    int epfd, evfd;
    SSL_CTX *ssl_ctx;
    X509_STORE *store;
    struct mx_smtp_host **hb;   /* host hash buckets */
    size_t hmask, hcount;
    struct mx_smtp_host *idle_head, *idle_tail; /* LRU: head = oldest */
    struct mx_smtp_host *ready_head, *ready_tail;
    struct mx_smtp_session *sess; /* max_conns slots */
    struct mx_smtp_session *free_sess;
    unsigned nactive;
    uint64_t next_conn_us;      /* pacer: no new connection before this */
    struct mx_smtp_rc **rb;     /* RCPT cache buckets */
    size_t rmask, rcount;
    struct mx_smtp_rc *rc_head, *rc_tail; /* LRU: head = oldest */
    bool stopping;
    uint64_t stop_by;           /* ms: sessions still open then are cut */

    /* counters (relaxed atomics: read by mx_smtp_stats from any thread) */
    _Atomic uint64_t n_requests, n_completed, n_connections, n_facts_cached, n_rcpt_sent,
        n_rcpt_cached, n_not_allowed, n_tls_ok, n_tls_failed, n_aborted;
};

/* ---- probe.c, called by session.c ---- */
/* The facts of a session are complete (or the session died before they
 * were): store them in the host and answer the facts-only requests. The
 * session has put chain_problems and leaf into the host already. */
void mx_smtp_host_facts(struct mx_smtp *p, struct mx_smtp_host *h,
                        const struct mx_smtp_result *facts);
/* The next queued RCPT request of h after answering what the caches can;
 * NULL when none is left. It stays queued until answered. */
struct mx_smtp_req *mx_smtp_host_next_rcpt(struct mx_smtp *p, struct mx_smtp_host *h);
/* Answers the head RCPT request of h. */
void mx_smtp_rcpt_answer(struct mx_smtp *p, struct mx_smtp_host *h, enum mx_smtp_rcpt what,
                         uint16_t mail_code, uint16_t rcpt_code, const char *text);
/* MAIL FROM was refused: answers every queued RCPT request, remembers it. */
void mx_smtp_mail_refused(struct mx_smtp *p, struct mx_smtp_host *h, uint16_t code,
                          const char *text);
/* The session is over (fd closed): requeue or answer what is left. */
void mx_smtp_session_done(struct mx_smtp *p, struct mx_smtp_session *s);
/* Some other address waits for a connection slot. */
bool mx_smtp_slot_wanted(const struct mx_smtp *p);

/* ---- tables.c ---- */
/* The host of an address, made (in no list) when new; NULL: no memory. */
struct mx_smtp_host *mx_smtp_host_get(struct mx_smtp *p, const struct mx_ip *ip);
/* Moves h to the idle list (as most recently used), the ready list, or to
 * none (busy). */
void mx_smtp_host_place(struct mx_smtp *p, struct mx_smtp_host *h, enum mx_smtp_where w);
/* Drops least recently used idle hosts beyond cache_hosts. */
void mx_smtp_host_evict(struct mx_smtp *p);
void mx_smtp_enqueue(struct mx_smtp_host *h, struct mx_smtp_req *req);
struct mx_smtp_req *mx_smtp_dequeue(struct mx_smtp_host *h);
struct mx_smtp_rc *mx_smtp_rc_find(struct mx_smtp *p, const struct mx_ip *ip, const char *domain);
void mx_smtp_rc_store(struct mx_smtp *p, const struct mx_ip *ip, const char *domain,
                      uint16_t mail_code, uint16_t code, const char *text);
const char *mx_smtp_rc_text(const struct mx_smtp_rc *e);
void mx_smtp_tables_free(struct mx_smtp *p);

/* ---- session.c ---- */
void mx_smtp_session_start(struct mx_smtp *p, struct mx_smtp_host *h, uint64_t now);
void mx_smtp_session_io(struct mx_smtp_session *s, uint32_t events);
void mx_smtp_session_timeout(struct mx_smtp_session *s);
/* A RCPT request was queued for the host of a lingering session. */
void mx_smtp_session_kick(struct mx_smtp_session *s);
/* Ends the session now, without QUIT (shutdown or slot needed). */
void mx_smtp_session_abort(struct mx_smtp_session *s, enum mx_smtp_end why);
/* Sends QUIT on a lingering session. */
void mx_smtp_session_quit(struct mx_smtp_session *s);

/* ---- tls.c ---- */
SSL_CTX *mx_smtp_tls_ctx_new(char *err, size_t errlen);
X509_STORE *mx_smtp_tls_store_new(const char *ca_file, char *err, size_t errlen);
/* After a handshake: version, cipher, digests, notAfter into r; returns the
 * name-independent problems; *leaf gets the leaf's DER (malloc, or NULL). */
uint32_t mx_smtp_tls_inspect(SSL *ssl, X509_STORE *store, struct mx_smtp_result *r,
                             unsigned char **leaf, size_t *leaf_len);
/* Certificate checks, public to the unit tests. */
uint32_t mx_smtp_cert_verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) *chain,
                             int *first_error);
bool mx_smtp_cert_name_ok(const unsigned char *der, size_t len, const char *name);
enum mx_smtp_cert mx_smtp_cert_verdict(uint32_t problems);
void mx_smtp_cert_digest(X509 *x, struct mx_smtp_digest *d);
/* Bit i set when leaf verifies through chain up to its certificate i taken as
 * the only trust anchor (partial chain; the anchor's dates not judged). */
uint16_t mx_smtp_cert_links(X509 *leaf, STACK_OF(X509) *chain);
void mx_smtp_cert_not_after(X509 *x, char *out, size_t outlen);
/* OpenSSL's reason for the last failure, drained from its error queue. */
void mx_smtp_tls_error(char *out, size_t outlen, const char *fallback);

#endif
