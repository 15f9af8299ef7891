/* The SMTP probe (SPEC 1.7, opt-in): for an exchange address, connect to
 * port 25, read the greeting, EHLO, note STARTTLS; when it is offered, the TLS
 * handshake and the certificate facts; optionally MAIL FROM:<> and
 * RCPT TO:<postmaster@DOMAIN>; then QUIT. Never DATA.
 *
 * One probe object owns one thread running one epoll loop; every connection
 * is a non-blocking state machine in that loop (no thread per connection, no
 * blocking I/O). Requests come in from any thread through mx_smtp_submit();
 * results go out through a callback that runs on the probe thread, for cache
 * hits too (so a caller never sees its callback run inside submit).
 *
 * Politeness is built in, not left to callers:
 *   - a connection pacer: at most cfg.conn_rate new connections per second
 *     over all addresses, evenly spaced (a token bucket of depth one);
 *   - at most one connection per remote address at a time (requests for an
 *     address queue behind each other), and at most cfg.max_conns overall;
 *   - a deadline on every step (connect, greeting, each reply, handshake);
 *   - a per-address cache: the EHLO/STARTTLS/TLS facts of an address are
 *     learnt by one conversation per scan, however many domains and exchange
 *     names share the address. Certificate validity is judged per exchange
 *     name from the chain seen in that one conversation (SNI carried the
 *     exchange name of the request that opened it: the `sni` field);
 *   - RCPT probes for several domains of one address share a connection:
 *     MAIL FROM:<> once, then one RCPT per domain (one command at a time, no
 *     pipelining), RSET after rcpt_per_txn recipients, QUIT after
 *     rcpt_per_conn recipients or rcpt_errors rejections (under Postfix's
 *     default soft error limit, so the probe never runs into tarpitting);
 *   - the RCPT answer of an (address, domain) pair is cached too.
 * Addresses that are not globally reachable (mx_ip_is_global with cfg.allow)
 * are never contacted: their requests complete with MX_SMTP_CONN_NOT_ALLOWED.
 *
 * Memory is bounded by the caller's outstanding requests (the engine's record
 * pool), max_conns connection slots allocated at create time, and the two
 * caches (cache_hosts addresses, cache_rcpts pairs; least recently used
 * entries go first). */
#ifndef MX_SMTP_H
#define MX_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"
#include "mx/mx.h"

/* ---- result vocabulary (X-macro tables: enum + stable lower-case label) ---- */

/* TCP connect outcome of the conversation that learnt the facts. */
#define MX_SMTP_CONN_MAP(X)                                                          \
    X(NONE, "none")               /* no connection attempted (aborted) */          \
    X(OK, "ok")                   /* connected */                                   \
    X(REFUSED, "refused")         /* RST: nothing listens */                        \
    X(TIMEOUT, "timeout")         /* no answer within connect_ms */                 \
    X(UNREACHABLE, "unreachable") /* network or host unreachable, other errors */   \
    X(NOT_ALLOWED, "not_allowed") /* not globally reachable and not allowed */      \
    X(LOCAL_ERROR, "local_error") /* our side: no socket, no port (not cached) */

/* Where a conversation stopped. */
#define MX_SMTP_STEP_MAP(X)                                                          \
    X(NONE, "none") X(CONNECT, "connect") X(GREETING, "greeting") X(EHLO, "ehlo")    \
    X(HELO, "helo") X(STARTTLS, "starttls") X(TLS, "tls") X(MAIL, "mail")             \
    X(RCPT, "rcpt") X(RSET, "rset") X(QUIT, "quit")

/* Why a conversation stopped before its QUIT (OK: it did not). */
#define MX_SMTP_END_MAP(X)                                                           \
    X(OK, "ok")                                                                      \
    X(NO_CONNECT, "no_connect") /* see conn */                                     \
    X(TIMEOUT, "timeout")       /* a step's deadline passed */                       \
    X(CLOSED, "closed")         /* the server closed or reset the connection */     \
    X(BAD_REPLY, "bad_reply")   /* a reply that is not SMTP */                       \
    X(TOO_LONG, "too_long")     /* a reply longer than MX_SMTP_REPLY_MAX */         \
    X(TLS_ERROR, "tls_error")   /* the TLS handshake failed */                       \
    X(REJECTED, "rejected")     /* greeting not 2xx, EHLO and HELO refused, 421 */   \
    X(LOCAL_ERROR, "local_error")                                                    \
    X(ABORTED, "aborted")       /* mx_smtp_destroy before an answer */

#define MX_SMTP_TLS_MAP(X)                                                           \
    X(SKIPPED, "skipped")         /* not tried: the conversation ended first */     \
    X(NOT_OFFERED, "not_offered") /* EHLO did not advertise STARTTLS */             \
    X(REFUSED, "refused")         /* STARTTLS answered with other than 220 */       \
    X(FAILED, "failed")           /* handshake failed (tls_error says why) */       \
    X(OK, "ok")

/* Certificate verdict for the request's exchange name; the first problem in
 * this order is the verdict, cert_problems has them all (bit 1u << enum). */
#define MX_SMTP_CERT_MAP(X)                                                          \
    X(NONE, "none")                         /* no TLS, so no certificate */         \
    X(VALID, "valid")                                                                \
    X(SELF_SIGNED, "self_signed")           /* leaf or chain ends in a self-signed \
                                               certificate not in the store */      \
    X(INCOMPLETE_CHAIN, "incomplete_chain") /* no issuer found in the presented    \
                                               chain or the store (a missing        \
                                               intermediate, or a private CA) */    \
    X(EXPIRED, "expired")                   /* a certificate's notAfter passed */   \
    X(NOT_YET_VALID, "not_yet_valid")                                                \
    X(WRONG_NAME, "wrong_name")             /* leaf not valid for the exchange */   \
    X(OTHER, "other")                       /* any other verification error, see   \
                                               cert_verify_error */

/* What became of a RCPT probe. */
#define MX_SMTP_RCPT_MAP(X)                                                          \
    X(NOT_ASKED, "not_asked")         /* facts-only request */                      \
    X(REPLIED, "replied")             /* rcpt_code/rcpt_text hold the answer */     \
    X(MAIL_REJECTED, "mail_rejected") /* MAIL FROM:<> refused: mail_code, text */   \
    X(NOT_REACHED, "not_reached")     /* no RCPT answer: rcpt_end says why */

/* EHLO keywords recorded in ext (bit 1u << enum). */
#define MX_SMTP_EXT_MAP(X)                                                           \
    X(STARTTLS, "STARTTLS") X(PIPELINING, "PIPELINING") X(SIZE, "SIZE")               \
    X(8BITMIME, "8BITMIME") X(SMTPUTF8, "SMTPUTF8") X(CHUNKING, "CHUNKING")           \
    X(DSN, "DSN") X(ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES") X(AUTH, "AUTH")       \
    X(REQUIRETLS, "REQUIRETLS")

enum mx_smtp_conn {
#define X(n, l) MX_SMTP_CONN_##n,
    MX_SMTP_CONN_MAP(X)
#undef X
};
enum mx_smtp_step {
#define X(n, l) MX_SMTP_STEP_##n,
    MX_SMTP_STEP_MAP(X)
#undef X
};
enum mx_smtp_end {
#define X(n, l) MX_SMTP_END_##n,
    MX_SMTP_END_MAP(X)
#undef X
};
enum mx_smtp_tls {
#define X(n, l) MX_SMTP_TLS_##n,
    MX_SMTP_TLS_MAP(X)
#undef X
};
enum mx_smtp_cert {
#define X(n, l) MX_SMTP_CERT_##n,
    MX_SMTP_CERT_MAP(X)
#undef X
};
enum mx_smtp_rcpt {
#define X(n, l) MX_SMTP_RCPT_##n,
    MX_SMTP_RCPT_MAP(X)
#undef X
};
enum mx_smtp_ext {
#define X(n, l) MX_SMTP_EXT_##n,
    MX_SMTP_EXT_MAP(X)
#undef X
};

const char *mx_smtp_conn_name(enum mx_smtp_conn v);
const char *mx_smtp_step_name(enum mx_smtp_step v);
const char *mx_smtp_end_name(enum mx_smtp_end v);
const char *mx_smtp_tls_name(enum mx_smtp_tls v);
const char *mx_smtp_cert_name(enum mx_smtp_cert v);
const char *mx_smtp_rcpt_name(enum mx_smtp_rcpt v);
const char *mx_smtp_ext_name(enum mx_smtp_ext v);

/* ---- result (fixed size: nothing for the caller to free) ---- */

#define MX_SMTP_TEXT_MAX 160 /* reply text kept, NUL included */
#define MX_SMTP_CHAIN_MAX 8  /* presented certificates whose digests are kept */

struct mx_smtp_digest {
    uint8_t cert[32];    /* SHA-256 of the certificate (DER): DANE x 0 1 */
    uint8_t spki[32];    /* SHA-256 of its SubjectPublicKeyInfo (DER): DANE x 1 1 */
    uint8_t cert512[64]; /* SHA-512 of the certificate: DANE x 0 2 */
    uint8_t spki512[64]; /* SHA-512 of the SubjectPublicKeyInfo: DANE x 1 2 */
};

struct mx_smtp_result {
    /* the request, echoed */
    struct mx_ip addr;
    char exchange[MX_NAME_MAX + 1];
    char rcpt_domain[MX_NAME_MAX + 1]; /* "" for a facts-only request */

    /* the facts: from the first conversation with this address. end and
     * end_step say where that conversation stopped before its facts were
     * complete (MX_SMTP_END_OK: greeting, EHLO and STARTTLS/TLS all done) */
    bool cached;                 /* learnt before this request (no new connection) */
    enum mx_smtp_conn conn;
    enum mx_smtp_step end_step;
    enum mx_smtp_end end;
    uint16_t greeting_code;      /* 0: none received */
    uint16_t ehlo_code;          /* reply to EHLO; to HELO when helo is set */
    bool helo;                   /* EHLO refused with 5xx, HELO sent instead */
    uint32_t ext;                /* EHLO keywords (bits of enum mx_smtp_ext); after
                                    TLS, the keywords of the second EHLO */
    bool starttls;               /* STARTTLS advertised in the first EHLO */
    uint16_t starttls_code;      /* reply to STARTTLS; 0: not sent */
    enum mx_smtp_tls tls;
    char tls_version[16];        /* "TLSv1.3" */
    char tls_cipher[64];
    char tls_error[96];          /* handshake failure (OpenSSL's reason) */
    char sni[MX_NAME_MAX + 1];   /* server name sent in the handshake */
    uint16_t reply_text_code;    /* code of the reply that ended the conversation */
    char reply_text[MX_SMTP_TEXT_MAX]; /* its text (e.g. a 554 greeting) */

    /* the certificate: judged for this request's exchange name */
    enum mx_smtp_cert cert;
    uint32_t cert_problems;      /* bits 1u << enum mx_smtp_cert */
    int cert_verify_error;       /* first X509_V_ERR_* seen, 0: none */
    char cert_not_after[21];     /* leaf notAfter, "2026-01-31T23:59:59Z" */
    struct mx_smtp_digest leaf;
    unsigned chain_len;          /* presented certificates, leaf first */
    bool chain_truncated;        /* more than MX_SMTP_CHAIN_MAX presented */
    struct mx_smtp_digest chain[MX_SMTP_CHAIN_MAX];
    uint16_t chain_links;        /* bit i: the leaf verifies (signatures, dates,
                                    server purpose; not the name) through the
                                    presented chain up to chain[i] taken as the
                                    trust anchor, whose own dates are not judged:
                                    what a DANE-TA(2) match needs (RFC 7671 5.2.2) */

    /* RCPT (requests with a rcpt_domain) */
    enum mx_smtp_rcpt rcpt;
    enum mx_smtp_end rcpt_end;   /* for NOT_REACHED: how the conversation ended */
    bool rcpt_cached;            /* answer of an earlier identical request */
    uint16_t mail_code;          /* reply to MAIL FROM; 0: not sent */
    uint16_t rcpt_code;          /* reply to RCPT TO; 0: not sent */
    char rcpt_text[MX_SMTP_TEXT_MAX]; /* text of a 4xx/5xx to MAIL or RCPT */
};

/* One line of "key=value" fields (texts quoted, escaped); for test drivers,
 * logs and `mxscan check`. Returns the length it needed (like snprintf). */
size_t mx_smtp_result_format(const struct mx_smtp_result *r, char *buf, size_t len);

/* ---- the probe ---- */

struct mx_smtp_cfg {
    uint16_t port;            /* 0: 25 */
    const char *ehlo_name;    /* NULL: this host's name (gethostname); set a
                                 name that identifies the scan (and resolves) */
    const char *mail_from;    /* NULL or "": the null reverse path <> */
    double conn_rate;         /* new connections per second, all addresses; 0: 20 */
    unsigned max_conns;       /* concurrent connections; 0: 64 */
    unsigned connect_ms;      /* 0: 10000 */
    unsigned greeting_ms;     /* 0: 30000 */
    unsigned reply_ms;        /* each other reply; 0: 30000 (QUIT: at most 2000) */
    unsigned tls_ms;          /* TLS handshake; 0: 20000 */
    unsigned linger_ms;       /* keep an idle connection this long for more RCPT
                                 requests for its address; 0: 1000 */
    unsigned rcpt_per_txn;    /* recipients per MAIL transaction; 0: 50 */
    unsigned rcpt_per_conn;   /* recipients per connection; 0: 1000 */
    unsigned rcpt_errors;     /* 4xx/5xx RCPT replies per connection before QUIT; 0: 8 */
    unsigned cache_hosts;     /* addresses whose facts are kept; 0: 65536 */
    unsigned cache_rcpts;     /* (address, domain) answers kept; 0: 65536 */
    const char *ca_file;      /* PEM trust store replacing the system's; NULL: system */
    const struct mx_allowlist *allow; /* copied; NULL: only globally reachable */
};

/* Counters, read at any time (relaxed). */
struct mx_smtp_stats {
    uint64_t requests;        /* submitted */
    uint64_t completed;       /* callbacks made */
    uint64_t connections;     /* connect() calls */
    uint64_t facts_cached;    /* requests answered from the address cache */
    uint64_t rcpt_sent;       /* RCPT commands */
    uint64_t rcpt_cached;     /* RCPT answers from the pair cache */
    uint64_t not_allowed;     /* requests refused by the address policy */
    uint64_t tls_ok, tls_failed;
    uint64_t aborted;
};

struct mx_smtp;

/* Runs on the probe thread; r is valid only during the call. Keep it short
 * (copy r, hand it to the worker that owns the record, wake that worker): it
 * holds up every conversation. It may call mx_smtp_submit, never
 * mx_smtp_destroy. */
typedef void (*mx_smtp_done_fn)(void *ud, const struct mx_smtp_result *r);

/* Starts the probe thread. NULL with err filled on failure (bad settings,
 * unreadable ca_file, no epoll). The cfg strings are copied. */
struct mx_smtp *mx_smtp_create(const struct mx_smtp_cfg *cfg, char *err, size_t errlen);

/* Stops the thread within about 2.5 s: requests still waiting are answered
 * at once with end/rcpt_end MX_SMTP_END_ABORTED (on the probe thread);
 * conversations past their facts end with QUIT, others are cut; whatever
 * has not closed after 2.5 s is cut too. Must not race with mx_smtp_submit.
 * NULL is a no-op. */
void mx_smtp_destroy(struct mx_smtp *p);

/* Thread-safe. exchange: the MX host name (certificate name, SNI); rcpt_domain
 * NULL or "": EHLO/STARTTLS/TLS facts only; otherwise also the answer to
 * RCPT TO:<postmaster@rcpt_domain>. Names must be valid host names
 * (mx_name_check, underscores allowed). MX_OK: cb will be called exactly once,
 * on the probe thread. MX_EINVAL (bad names or family) or MX_ENOMEM: it won't. */
enum mx_status mx_smtp_submit(struct mx_smtp *p, const struct mx_ip *addr, const char *exchange,
                              const char *rcpt_domain, mx_smtp_done_fn cb, void *ud);

void mx_smtp_stats(struct mx_smtp *p, struct mx_smtp_stats *out);

/* ---- reply parser (used by the probe; public for tests) ---- */

#define MX_SMTP_REPLY_MAX 65536 /* bytes of one reply, all lines */
#define MX_SMTP_REPLY_LINES 512 /* lines of one reply */

enum mx_smtp_parse {
    MX_SMTP_PARSE_MORE,    /* the reply is not complete: feed more bytes */
    MX_SMTP_PARSE_DONE,    /* a complete reply; *used bytes were consumed */
    MX_SMTP_PARSE_BAD,     /* not an SMTP reply (RFC 5321 4.2) */
    MX_SMTP_PARSE_TOO_LONG /* over MX_SMTP_REPLY_MAX bytes or _LINES lines */
};

struct mx_smtp_reply {
    /* results, valid after DONE */
    uint16_t code;
    unsigned lines;
    uint32_t ext;                /* EHLO keywords on lines 2..n */
    bool text_truncated;
    char text[MX_SMTP_TEXT_MAX]; /* the lines' texts joined with ' ' */
    /* parser state */
    unsigned st, digits, line_code;
    size_t total, textlen, kwlen;
    bool last, kw_done, kw_over;
    char kw[24];
};

void mx_smtp_reply_reset(struct mx_smtp_reply *r);
/* Consumes bytes of one reply; lines end in LF (a CR before it is dropped).
 * After DONE, bytes past *used belong to the next reply. */
enum mx_smtp_parse mx_smtp_reply_feed(struct mx_smtp_reply *r, const char *buf, size_t len,
                                      size_t *used);

#endif
