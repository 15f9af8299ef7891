/* What the analysis of one domain produces: the SPEC's status, mail status
 * and findings, plus the text of each CSV column. */
#ifndef MX_RESULT_H
#define MX_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/answer.h"
#include "mx/findings.h"

#define MX_MAIL_STATUS_MAP(X) \
    X(OK, "ok")               \
    X(DEGRADED, "degraded")   \
    X(BROKEN, "broken")       \
    X(IMPLICIT, "implicit")   \
    X(NO_MAIL, "no_mail")     \
    X(NXDOMAIN, "nxdomain")   \
    X(UNKNOWN, "unknown")     \
    X(INVALID, "invalid")

enum mx_mail_status {
#define X(e, n) MX_MAIL_##e,
    MX_MAIL_STATUS_MAP(X)
#undef X
    MX_MAIL_COUNT
};
const char *mx_mail_status_name(enum mx_mail_status m);

/* CSV columns in output order: X(ENUM, header, README description). */
#define MX_COLUMNS_MAP(X)                                                                       \
    X(DOMAIN, "domain", "the normalised name (A-label); for an invalid line, the input with "  \
                        "non-printable bytes written as \\xHH")                                \
    X(STATUS, "status", "outcome of the MX query: NOERROR NXDOMAIN SERVFAIL REFUSED TIMEOUT INVALID") \
    X(MAIL_STATUS, "mail_status", "ok degraded broken implicit no_mail nxdomain unknown invalid") \
    X(MX, "mx", "MX records as 'PREF EXCHANGE' separated by ';', in answer order")             \
    X(FINDINGS, "findings", "finding codes separated by ';' in the SPEC's order")              \
    X(MX_TTL, "mx_ttl", "TTL of the MX RRset in seconds (empty without MX)")                   \
    X(MX_ADDRESSES, "mx_addresses",                                                             \
      "per distinct exchange 'EXCHANGE=ADDR,ADDR' separated by ';' (the domain itself for "    \
      "implicit MX); a failed look-up shows its outcome instead of addresses, e.g. "           \
      "'mx.example=NXDOMAIN'; an alias is marked 'EXCHANGE>CNAME=...'")                        \
    X(PROVIDERS, "providers", "providers of the exchanges (from datasets/providers.csv), ';'") \
    X(SPF, "spf", "the domain's v=spf1 record (the first one when there are several)")          \
    X(SPF_RESULT, "spf_result", "none, ok, or permerror/temperror when the record is broken")  \
    X(SPF_LOOKUPS, "spf_lookups", "DNS-querying terms counted over the whole include tree")    \
    X(SPF_VOIDS, "spf_voids", "void look-ups counted over the whole include tree")             \
    X(SPF_PROVIDERS, "spf_providers", "providers authorized through SPF includes, ';'")        \
    X(DMARC, "dmarc", "the DMARC record used")                                                  \
    X(DMARC_POLICY, "dmarc_policy", "policy applied to the domain: none quarantine reject")     \
    X(DMARC_SOURCE, "dmarc_source", "where the record was found: domain or organizational (lookup_failed)")   \
    X(INPUT_LINE, "input_line", "line number of the name in its input file")

enum mx_column {
#define X(e, h, d) MX_COL_##e,
    MX_COLUMNS_MAP(X)
#undef X
    MX_COL_COUNT
};
const char *mx_column_header(enum mx_column c);
const char *mx_column_description(enum mx_column c);

#define MX_RESULT_TEXT 8192
#define MX_MAX_PROVIDERS 8

struct mx_result {
    enum mx_rc status;
    enum mx_mail_status mail;
    mx_findings_t findings;
    uint16_t n_providers;                        /* provider ids of the exchanges */
    uint16_t providers[MX_MAX_PROVIDERS];
    uint16_t n_spf_providers;                    /* provider ids authorized by SPF */
    uint16_t spf_providers[MX_MAX_PROVIDERS];
    bool overflow;                               /* some column text was cut */
    uint32_t col_off[MX_COL_COUNT];
    uint32_t col_len[MX_COL_COUNT];
    uint32_t used;
    char text[MX_RESULT_TEXT];
    /* Explanations for people (`mxscan check`), not columns: */
    char spf_problem[512]; /* why the SPF record is broken (term, target, loop) */
    char spf_cover[640];   /* the first exchange address SPF does not pass, and why */
};

void mx_result_reset(struct mx_result *r);
/* Appends to column c; columns may be appended to in any order. Text past
 * MX_RESULT_TEXT is cut and r->overflow set. */
void mx_result_append(struct mx_result *r, enum mx_column c, const char *s, size_t len);
void mx_result_appendf(struct mx_result *r, enum mx_column c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mx_result_set(struct mx_result *r, enum mx_column c, const char *s);
/* Appends a C string / an unsigned number (no printf on the hot path). */
void mx_result_appends(struct mx_result *r, enum mx_column c, const char *s);
void mx_result_append_u(struct mx_result *r, enum mx_column c, unsigned long v);
/* The column text (not NUL-terminated) and its length. */
const char *mx_result_col(const struct mx_result *r, enum mx_column c, size_t *len);
/* Fills the FINDINGS column from r->findings. */
void mx_result_render_findings(struct mx_result *r);

#endif
