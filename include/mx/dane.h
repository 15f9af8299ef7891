/* DANE for SMTP (RFC 7672, RFC 7671, RFC 6698): TLSA records at
 * `_25._tcp.<exchange>` parsed and judged, the TLSA base names to ask for an
 * exchange, and the records matched against the certificates the SMTP probe
 * saw (include/mx/smtp.h). Pure.
 *
 * Readings:
 *   - Usable for SMTP (RFC 7672 3.1): DANE-TA(2) and DANE-EE(3), selector
 *     Cert(0) or SPKI(1), matching type Full(0), SHA2-256(1) (32 bytes) or
 *     SHA2-512(2) (64 bytes). PKIX-TA(0) and PKIX-EE(1) are unusable: RFC
 *     7672 3.1.3 says SMTP clients treat them as unusable (there is no
 *     agreed set of public CAs for MTA-to-MTA TLS). Other values, a digest
 *     of the wrong length, Full(0) data that is not a DER certificate or
 *     SubjectPublicKeyInfo, no data at all, or rdata under 3 bytes are unusable too.
 *   - Judged only when validated: a TLSA answer without the AD bit is
 *     "unsigned" whatever it holds (senders ignore it). The caller must ask
 *     with the AD (or DO) bit (mx_dns_build_query_flags) through a
 *     validating resolver.
 *   - Matching: DANE-EE(3) against the leaf only, with no name or date
 *     check (RFC 7672 3.1.1); DANE-TA(2) against every presented
 *     certificate, and a match counts only when the leaf verifies through
 *     the presented chain up to that certificate (the probe's chain_links;
 *     the anchor's own dates are not judged) and the leaf is valid for a
 *     reference identifier (RFC 7672 3.2.2: the exchange name, or the TLSA
 *     base name when it came from a CNAME; the caller passes name_ok).
 *     Full(0) records are compared through their SHA-256: the probe keeps
 *     the digests, not the DER (equal digests mean equal data).
 *   - TLSA base names (RFC 7672 2.2.2), mx_dane_base_names: when the
 *     exchange's address answer went through CNAMEs and was validated (AD),
 *     the CNAME-expanded name first, then the exchange name itself only if
 *     the first answer is a validated NXDOMAIN or NODATA; otherwise the
 *     exchange name alone. (RFC 7672 does not use TLSA records of a host
 *     whose addresses are not validated at all; a scanner still asks, so
 *     that TLSA records that no sender can use are reported.) */
#ifndef MX_DANE_H
#define MX_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/answer.h"
#include "mx/mx.h"
#include "mx/smtp.h"

#define MX_TLSA_USE_MAP(X)                                                           \
    X(USABLE, "usable")                                                              \
    X(PKIX_USAGE, "pkix_usage")     /* usage 0 or 1: not for SMTP (RFC 7672 3.1.3) */   \
    X(BAD_USAGE, "bad_usage")       /* usage above 3 */                              \
    X(BAD_SELECTOR, "bad_selector") /* selector above 1 */                           \
    X(BAD_MTYPE, "bad_mtype")       /* matching type above 2 */                      \
    X(BAD_LENGTH, "bad_length")     /* digest not 32/64 bytes, or no data */         \
    X(BAD_DATA, "bad_data")         /* Full(0) data that does not parse */           \
    X(MALFORMED, "malformed")       /* rdata under 3 bytes */

enum mx_tlsa_use {
#define X(n, l) MX_TLSA_##n,
    MX_TLSA_USE_MAP(X)
#undef X
};
const char *mx_tlsa_use_name(enum mx_tlsa_use v);

/* One TLSA record as kept for matching. */
struct mx_tlsa {
    uint8_t usage, selector, mtype;
    enum mx_tlsa_use use;
    uint8_t assoc_len;  /* bytes of assoc: 32 or 64 (0 when unusable) */
    uint8_t assoc[64];  /* the digest; for Full(0) records the SHA-256 of the data */
};

/* Parses one TLSA rdata (usage, selector, matching type, data). */
enum mx_tlsa_use mx_tlsa_parse(const unsigned char *rdata, size_t len, struct mx_tlsa *out);

#define MX_DANE_STATE_MAP(X)                                                         \
    X(NONE, "none")         /* no TLSA records (NXDOMAIN or NODATA) */                \
    X(UNSIGNED, "unsigned") /* TLSA records, but the answer was not validated */      \
    X(UNUSABLE, "unusable") /* validated, none of the records is usable */            \
    X(USABLE, "usable")     /* validated, at least one usable record */               \
    X(FAILED, "failed")     /* the look-up failed: SERVFAIL (a validating resolver   \
                               says so for bogus signatures), timeout, refused */

enum mx_dane_state {
#define X(n, l) MX_DANE_##n,
    MX_DANE_STATE_MAP(X)
#undef X
};
const char *mx_dane_state_name(enum mx_dane_state v);

#define MX_DANE_RR_MAX 16 /* records kept per RRset (more: truncated) */

struct mx_dane_rrset {
    enum mx_dane_state state;
    bool validated;     /* the answer carried the AD bit */
    unsigned n;         /* records kept */
    unsigned n_usable;
    unsigned n_ee, n_ta; /* usable DANE-EE / DANE-TA records */
    uint32_t problems;  /* bits 1u << enum mx_tlsa_use of the unusable ones */
    bool truncated;
    struct mx_tlsa rr[MX_DANE_RR_MAX];
};

/* Judges a TLSA answer (any outcome; NULL counts as FAILED). */
enum mx_dane_state mx_dane_rrset_judge(const struct mx_answer *tlsa, struct mx_dane_rrset *out);

/* RFC 7672 2.2.2. exchange: the MX host name; addr: its A (or AAAA) answer
 * as looked up with the AD bit. Writes up to 2 owner names
 * ("_25._tcp.<base>") into out, in the order to ask; returns how many. */
#define MX_DANE_OWNER_MAX (MX_NAME_MAX + 10)
unsigned mx_dane_base_names(const char *exchange, const struct mx_answer *addr,
                            char out[2][MX_DANE_OWNER_MAX + 1]);
/* After the answer for the first owner name: ask the second one too? (a
 * validated NXDOMAIN or NODATA) */
bool mx_dane_try_next(const struct mx_answer *first);

#define MX_DANE_MATCH_MAP(X)                                                         \
    X(NOT_CHECKED, "not_checked") /* no usable record */                            \
    X(NO_TLS, "no_tls")           /* the exchange gave no certificate: no STARTTLS, \
                                     failed handshake, no connection */            \
    X(EE, "match_ee")             /* a DANE-EE record matches the leaf */             \
    X(TA, "match_ta")             /* a DANE-TA record matches (chain and name) */     \
    X(MISMATCH, "mismatch")       /* usable records, none matches */

enum mx_dane_match {
#define X(n, l) MX_DANE_MATCH_##n,
    MX_DANE_MATCH_MAP(X)
#undef X
};
const char *mx_dane_match_name(enum mx_dane_match v);

/* The leaf is valid for the request's exchange name, as the probe judged it
 * (no WRONG_NAME problem); a default for name_ok. */
bool mx_dane_name_ok(const struct mx_smtp_result *r);

/* Matches the usable records of set against what the probe saw. name_ok:
 * the leaf is valid for a reference identifier (for DANE-TA). When a TA
 * record matches a presented certificate but the chain or the name does
 * not hold, *why (may be NULL) says so: "chain" or "name" (else ""). */
enum mx_dane_match mx_dane_match(const struct mx_dane_rrset *set, const struct mx_smtp_result *r,
                                 bool name_ok, const char **why);

#endif
