/* MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record set judged, the
 * policy text parsed, the policy's `mx` patterns matched against exchange
 * names (all pure), and a non-blocking policy fetcher (libcurl's multi
 * interface in a thread of its own, like the SMTP probe).
 *
 * Readings of the RFC (also in the README, "Transport security policies"):
 *   - TXT (3.1): the strings of one record are joined without spaces. A
 *     record is an STS record when it starts with "v=STSv1" followed by ";",
 *     a space or tab, or nothing (so "v=STSv1 id=1" counts, and is judged a
 *     syntax error, rather than being discarded as the RFC's "records that do
 *     not begin with v=STSv1;" would have it: a scanner should report it).
 *     Other records are ignored. Exactly one STS record must remain; its
 *     fields follow the ABNF (delimiter *WSP ";" *WSP, a trailing one
 *     allowed, extensions name=value); exactly one `id=` of 1-32 letters and
 *     digits. A field named "id" with another value is a bad id, two ids are
 *     invalid.
 *   - Policy (3.2): lines end in LF or CRLF; each line is `key: value` with
 *     the key at the start of the line (no leading blanks), trailing blanks
 *     allowed; keys are case-sensitive; empty lines are skipped (lenient:
 *     many policies end in a blank line). `version: STSv1`, `mode`
 *     testing|enforce|none and `max_age` (1-10 digits, at most 31557600) are
 *     required; `mx` (["*."] Domain) once or more unless the mode is none.
 *     Unknown keys are ignored when they are syntactically valid extensions;
 *     a repeated version, mode or max_age: the first counts (dup_keys is set).
 *   - Matching (3.4, 4.1): case-insensitive, a trailing dot of the exchange
 *     ignored; "*.example.com" covers exactly one more left-most label
 *     ("mx.example.com", not "example.com" nor "a.mx.example.com"). */
#ifndef MX_MTA_STS_H
#define MX_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"
#include "mx/answer.h"
#include "mx/mx.h"

/* ---- the TXT record set ---- */

#define MX_STS_REC_MAP(X)                                                            \
    X(NONE, "none")         /* no record starting with v=STSv1: no MTA-STS */         \
    X(OK, "ok")                                                                      \
    X(MULTIPLE, "multiple") /* more than one STS record */                            \
    X(SYNTAX, "syntax")     /* the record does not follow the ABNF */                 \
    X(NO_ID, "no_id")       /* no id= field */                                        \
    X(BAD_ID, "bad_id")     /* id= not 1-32 letters and digits */                     \
    X(DUP_ID, "dup_id")     /* more than one id= */

enum mx_sts_rec {
#define X(n, l) MX_STS_REC_##n,
    MX_STS_REC_MAP(X)
#undef X
};
const char *mx_sts_rec_name(enum mx_sts_rec v);

#define MX_STS_ID_MAX 32

struct mx_sts_record {
    enum mx_sts_rec verdict;
    unsigned records; /* STS records seen (starting with v=STSv1) */
    unsigned ignored; /* other TXT records at the name */
    char id[MX_STS_ID_MAX + 1]; /* the id when OK (else "") */
};

/* One record's text (strings joined). MX_STS_REC_NONE when it is no STS
 * record at all. id (MX_STS_ID_MAX + 1 bytes) gets the id when OK. */
enum mx_sts_rec mx_sts_record_parse(const char *txt, size_t len, char *id);
/* The TXT answer of `_mta-sts.<domain>` (NOERROR; other outcomes are the
 * caller's: NXDOMAIN/NODATA mean no MTA-STS, SERVFAIL a failed look-up). */
enum mx_sts_rec mx_sts_record_judge(const struct mx_answer *txt, struct mx_sts_record *out);

/* ---- the policy ---- */

#define MX_STS_MODE_MAP(X) X(NONE, "none") X(TESTING, "testing") X(ENFORCE, "enforce")
enum mx_sts_mode {
#define X(n, l) MX_STS_MODE_##n,
    MX_STS_MODE_MAP(X)
#undef X
};
const char *mx_sts_mode_name(enum mx_sts_mode v);

#define MX_STS_POL_MAP(X)                                                              \
    X(OK, "ok")                                                                        \
    X(BAD_LINE, "bad_line")       /* not "key: value", bad characters, leading blank */ \
    X(NO_VERSION, "no_version")                                                        \
    X(BAD_VERSION, "bad_version") /* version other than STSv1 */                       \
    X(NO_MODE, "no_mode")                                                              \
    X(BAD_MODE, "bad_mode")                                                            \
    X(NO_MAX_AGE, "no_max_age")                                                        \
    X(BAD_MAX_AGE, "bad_max_age") /* not 1-10 digits, or above 31557600 */             \
    X(NO_MX, "no_mx")             /* mode testing or enforce without mx */             \
    X(BAD_MX, "bad_mx")           /* an mx value that is not ["*."] Domain */

enum mx_sts_pol {
#define X(n, l) MX_STS_POL_##n,
    MX_STS_POL_MAP(X)
#undef X
};
const char *mx_sts_pol_name(enum mx_sts_pol v);

#define MX_STS_MAX_AGE_MAX 31557600u
#define MX_STS_MX_BUF 2048 /* bytes for the mx patterns, NUL-separated */

struct mx_sts_policy {
    enum mx_sts_pol verdict;
    unsigned bad_line;       /* 1-based line of the first problem, 0: none */
    enum mx_sts_mode mode;
    uint32_t max_age;
    bool dup_keys;           /* version, mode or max_age given twice (first counts) */
    bool mx_truncated;       /* more patterns than fit in mx_buf (the rest not kept) */
    unsigned n_mx;           /* patterns kept, lowercased */
    size_t mx_len;           /* bytes used in mx_buf */
    char mx_buf[MX_STS_MX_BUF]; /* "p1\0p2\0...": iterate with mx_sts_policy_mx */
};

/* Parses a policy body of len bytes (no NUL needed; a NUL byte is a bad
 * line). Returns out->verdict. */
enum mx_sts_pol mx_sts_policy_parse(const char *text, size_t len, struct mx_sts_policy *out);
/* Pattern i (0 <= i < n_mx), NULL past the end. */
const char *mx_sts_policy_mx(const struct mx_sts_policy *p, unsigned i);

/* RFC 8461 4.1: does the pattern ("mx.example.com" or "*.example.com")
 * cover the exchange name? */
bool mx_sts_mx_match(const char *pattern, const char *exchange);
/* Does any pattern of the policy cover the exchange? */
bool mx_sts_policy_matches(const struct mx_sts_policy *p, const char *exchange);

/* ---- the fetcher ----
 *
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt over validated HTTPS
 * (RFC 8461 3.3): the certificate must chain to the trust store and be
 * valid for mta-sts.<domain>; redirects are not followed (a 3xx is an
 * outcome); the answer must be 200 with Content-Type text/plain
 * (parameters ignored); bodies over max_bytes are cut off (too_big).
 * curl never resolves a name: the caller passes the addresses it resolved
 * through the scanner's own DNS (A/AAAA of mta-sts.<domain>) and they are
 * pinned with CURLOPT_RESOLVE; a fetch without addresses is refused
 * (no_address), addresses that are not globally reachable (mx_ip_is_global
 * with cfg.allow) are dropped, and with none left the fetch is not made
 * (not_allowed). A socket-open callback refuses any other address as a last
 * guard; proxies from the environment are ignored.
 *
 * One fetch per policy host per scan: the outcome is cached by host name
 * (cache_hosts entries, least recently used go first) and requests for a
 * host being fetched wait for that fetch (the addresses of the request that
 * started it are used). NO_ADDRESS, NOT_ALLOWED and LOCAL_ERROR are not
 * cached. Politeness: at most fetch_rate new
 * fetches per second, evenly spaced, and max_fetches at a time. */

#define MX_STS_FETCH_MAP(X)                                                             \
    X(OK, "ok")                     /* 200, text/plain, within the size limit */        \
    X(HTTP_STATUS, "http_status")   /* a status other than 200 and 3xx: see status */  \
    X(REDIRECT, "redirect")         /* a 3xx: not followed (RFC 8461 3.3) */            \
    X(BAD_CONTENT_TYPE, "bad_content_type") /* not text/plain: content_type */        \
    X(TOO_BIG, "too_big")           /* body over max_bytes */                           \
    X(TIMEOUT, "timeout")           /* no complete answer within timeout_ms */          \
    X(CONNECT_FAILED, "connect_failed") /* no address accepted a connection */         \
    X(TLS_ERROR, "tls_error")       /* the TLS handshake failed */                      \
    X(CERT_INVALID, "cert_invalid") /* certificate not valid for the host: cert_error */ \
    X(HTTP_ERROR, "http_error")     /* not HTTP, or the connection broke: error */     \
    X(NO_ADDRESS, "no_address")     /* the caller gave no address */                   \
    X(NOT_ALLOWED, "not_allowed")   /* no address is globally reachable or allowed */  \
    X(LOCAL_ERROR, "local_error")   /* our side: out of memory, curl refused options */ \
    X(ABORTED, "aborted")           /* mx_sts_fetch_destroy before the answer */

enum mx_sts_fetch_outcome {
#define X(n, l) MX_STS_FETCH_##n,
    MX_STS_FETCH_MAP(X)
#undef X
};
const char *mx_sts_fetch_outcome_name(enum mx_sts_fetch_outcome v);

#define MX_STS_ADDR_MAX 8 /* addresses per fetch (the first ones are kept) */

struct mx_sts_fetch_result {
    char host[MX_NAME_MAX + 1];     /* mta-sts.<domain> */
    bool cached;                    /* answered from an earlier fetch */
    enum mx_sts_fetch_outcome outcome;
    long status;                    /* HTTP status, 0: none */
    char content_type[64];
    char cert_error[96];            /* CERT_INVALID: OpenSSL's reason, e.g.
                                       "certificate has expired" */
    int cert_verify_error;          /* its X509_V_ERR_* code (0: unknown) */
    char error[128];                /* other failures: curl's message */
    size_t body_len;                /* bytes received (up to max_bytes + 1) */
    uint32_t elapsed_ms;
    struct mx_ip peer;              /* the address that answered (family 0: none) */
    struct mx_sts_policy policy;    /* parsed when outcome is OK; zeroed otherwise
                                       (its verdict then reads OK: look at
                                       outcome first) */
};

/* One "key=value" line for drivers and logs (like mx_smtp_result_format). */
size_t mx_sts_fetch_result_format(const struct mx_sts_fetch_result *r, char *buf, size_t len);

struct mx_sts_fetch_cfg {
    unsigned timeout_ms;     /* whole fetch (connect, TLS, answer); 0: 20000 */
    unsigned connect_ms;     /* TCP+TLS connect per attempt; 0: 10000 */
    size_t max_bytes;        /* body limit; 0: 65536 (RFC 8461 3.3: 64 KiB) */
    double fetch_rate;       /* new fetches per second; 0: 20 */
    unsigned max_fetches;    /* concurrent fetches; 0: 32 */
    unsigned cache_hosts;    /* policy hosts whose outcome is kept; 0: 16384 */
    uint16_t port;           /* 0: 443; another port for labs (CURLOPT_CONNECT_TO:
                                the URL, Host header and certificate name stay
                                https://mta-sts.<domain>/) */
    const char *ca_file;     /* PEM trust store instead of the system's; NULL: system */
    const char *user_agent;  /* NULL: "mxscan/<version> (MTA-STS policy check)" */
    const struct mx_allowlist *allow; /* copied; NULL: only globally reachable */
};

struct mx_sts_fetch_stats {
    uint64_t requests, completed, fetches, cached, not_allowed, aborted;
};

struct mx_sts_fetch;

/* Runs on the fetcher's thread; r is valid during the call only. Keep it
 * short. It may call mx_sts_fetch_submit, never mx_sts_fetch_destroy. */
typedef void (*mx_sts_fetch_done_fn)(void *ud, const struct mx_sts_fetch_result *r);

/* Starts the thread; NULL with err filled on failure. Strings are copied. */
struct mx_sts_fetch *mx_sts_fetch_create(const struct mx_sts_fetch_cfg *cfg, char *err,
                                         size_t errlen);
/* Stops within about a second: waiting and running fetches are answered
 * ABORTED (on the fetcher thread). Must not race with submit. NULL: no-op. */
void mx_sts_fetch_destroy(struct mx_sts_fetch *f);
/* Thread-safe. domain: the policy domain (a valid host name); the host is
 * "mta-sts." + domain. addrs: the addresses of that host from the caller's
 * DNS (n may be 0: the answer is then NO_ADDRESS, also cached). MX_OK: cb
 * is called exactly once, on the fetcher thread; MX_EINVAL (bad name) or
 * MX_ENOMEM: it is not. */
enum mx_status mx_sts_fetch_submit(struct mx_sts_fetch *f, const char *domain,
                                   const struct mx_ip *addrs, size_t n,
                                   mx_sts_fetch_done_fn cb, void *ud);
void mx_sts_fetch_stats(struct mx_sts_fetch *f, struct mx_sts_fetch_stats *out);

#endif
