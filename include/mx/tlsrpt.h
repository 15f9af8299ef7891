/* TLS-RPT (RFC 8460 section 3): the `_smtp._tls.<domain>` TXT record set
 * judged. Pure.
 *
 * Readings: the strings of a record are joined without spaces; a record is a
 * TLS-RPT record when it starts with "v=TLSRPTv1" followed by ";", a blank or
 * nothing; other records are ignored. Exactly one must remain. Its fields
 * follow the ABNF (*WSP ";" *WSP between fields, a trailing ";" allowed,
 * extensions name=value). Exactly one `rua=`, holding one or more URIs
 * separated by *WSP "," *WSP, each `mailto:` with an address (local@domain)
 * or `https://` with a host; schemes compare case-insensitively; URIs are
 * printable ASCII without blanks, "," or ";" (RFC 8460 3: commas and
 * exclamation marks inside a URI must be percent-encoded). Any other URI
 * makes the record invalid. */
#ifndef MX_TLSRPT_H
#define MX_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>

#include "mx/answer.h"

#define MX_TLSRPT_MAP(X)                                                             \
    X(NONE, "none")         /* no record starting with v=TLSRPTv1 */                  \
    X(OK, "ok")                                                                      \
    X(MULTIPLE, "multiple") /* more than one TLS-RPT record */                        \
    X(SYNTAX, "syntax")     /* the record does not follow the ABNF */                 \
    X(NO_RUA, "no_rua")                                                              \
    X(DUP_RUA, "dup_rua")   /* rua= given twice */                                    \
    X(BAD_URI, "bad_uri")   /* a URI that is not mailto:addr or https://host */       \
    X(BAD_SCHEME, "bad_scheme") /* a URI of another scheme */

enum mx_tlsrpt {
#define X(n, l) MX_TLSRPT_##n,
    MX_TLSRPT_MAP(X)
#undef X
};
const char *mx_tlsrpt_name(enum mx_tlsrpt v);

#define MX_TLSRPT_RUA_MAX 256

struct mx_tlsrpt_record {
    enum mx_tlsrpt verdict;
    unsigned records;         /* TLS-RPT records seen */
    unsigned ignored;         /* other TXT records */
    unsigned n_mailto, n_https; /* URIs of the rua (when OK) */
    char rua[MX_TLSRPT_RUA_MAX]; /* the rua value as published (cut to fit), also
                                    when it is a bad URI; "" without rua= */
};

/* One record's text. NONE when it is no TLS-RPT record. */
enum mx_tlsrpt mx_tlsrpt_parse(const char *txt, size_t len, struct mx_tlsrpt_record *out);
/* The TXT answer of `_smtp._tls.<domain>` (NOERROR; NXDOMAIN and NODATA mean
 * no record, SERVFAIL a failed look-up: the caller's). */
enum mx_tlsrpt mx_tlsrpt_judge(const struct mx_answer *txt, struct mx_tlsrpt_record *out);

#endif
