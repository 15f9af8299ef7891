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
    X(INPUT_LINE, "input_line", "line number of the name in its input file")                  \
    X(INPUT_FILE, "input_file", "the input file the name came from, as given ('-' for stdin)")  \
    X(RANK, "rank", "first CSV field of the input line when the line has two or more fields "  \
                    "and that field is an integer (e.g. rank,domain); empty otherwise")  \
    X(SMTP, "smtp", "--checks ...,smtp: per probed exchange address 'EXCHANGE@ADDR connect=... " \
                    "greeting=CODE starttls=yes|no tls=VERSION|outcome cert=VERDICT [rcpt=CODE]', ';'") \
    X(NS_SERVERS, "ns_servers",                                                                 \
      "--checks ...,consistency: per NS name (sorted) 'NAME=ADDR STATE,ADDR STATE' or "         \
      "'NAME=no_address' / 'NAME=lookup_failed', ';'; STATE: auth timeout refused servfail "     \
      "not_auth bad_answer not_allowed unknown")                                                \
    X(NS_MX_SETS, "ns_mx_sets",                                                                 \
      "--checks ...,consistency: per distinct MX set of the authoritative answers "             \
      "'{PREF EXCHANGE ...}@ADDR,ADDR' ('none' for no MX, 'nxdomain'), ';'")                   \
    X(NS_SERIALS, "ns_serials",                                                                 \
      "--checks ...,consistency: per distinct SOA serial of the authoritative answers "         \
      "'SERIAL@ADDR,ADDR', ';'")                                                              \
    X(MTA_STS_MODE, "mta_sts_mode", "--checks ...,mta-sts: absent none testing enforce invalid " \
                                    "unknown (a look-up failed: not judged)")                  \
    X(MTA_STS_RECORD, "mta_sts_record", "verdict on the _mta-sts TXT record: ok multiple syntax " \
                                        "no_id bad_id dup_id, lookup_failed; empty when absent") \
    X(MTA_STS_ID, "mta_sts_id", "the record's id= (when the record is ok)")                    \
    X(MTA_STS_FETCH, "mta_sts_fetch", "outcome of the policy fetch: ok http_status:CODE "       \
                                      "redirect:CODE bad_content_type:TYPE too_big timeout "  \
                                      "connect_failed tls_error cert_invalid:REASON http_error " \
                                      "not_allowed no_address host_lookup_failed local_error") \
    X(MTA_STS_POLICY, "mta_sts_policy", "verdict on the fetched policy: ok or the problem "     \
                                        "(bad_mode, no_mx, ...) with ':LINE'")                  \
    X(MTA_STS_MAX_AGE, "mta_sts_max_age", "the valid policy's max_age in seconds")             \
    X(MTA_STS_MX, "mta_sts_mx", "the valid policy's mx patterns, ';'")                         \
    X(TLSRPT, "tlsrpt", "--checks ...,mta-sts/dane/tlsrpt: verdict on the _smtp._tls TXT "      \
                        "record: none ok multiple syntax no_rua dup_rua bad_uri bad_scheme "    \
                        "lookup_failed")                                                       \
    X(TLSRPT_RUA, "tlsrpt_rua", "the TLS-RPT record's rua= value")                              \
    X(DANE, "dane", "--checks ...,dane: per usable exchange 'EXCHANGE[>BASE]=STATE[:USABLE/"    \
                    "RECORDS]', STATE none unsigned unusable usable failed, ';'")              \
    X(DANE_MATCH, "dane_match", "--checks ...,dane,smtp: per probed address of an exchange "    \
                                "with usable TLSA 'EXCHANGE@ADDR=match_ee|match_ta|mismatch[:"  \
                                "chain|name]|no_tls|not_reached', ';'")

enum mx_column {
#define X(e, h, d) MX_COL_##e,
    MX_COLUMNS_MAP(X)
#undef X
    MX_COL_COUNT
};
const char *mx_column_header(enum mx_column c);
const char *mx_column_description(enum mx_column c);

/* Values of the spf_result, dmarc_policy and dmarc_source columns:
 * X(ENUM, text). EMPTY (0) is the empty column: not looked up, or no value. */
#define MX_SPF_RESULT_MAP(X) \
    X(EMPTY, "")             \
    X(NONE, "none")          \
    X(OK, "ok")              \
    X(PERMERROR, "permerror") \
    X(TEMPERROR, "temperror")
#define MX_DMARC_POLICY_MAP(X) \
    X(EMPTY, "")               \
    X(NONE, "none")            \
    X(QUARANTINE, "quarantine") \
    X(REJECT, "reject")
#define MX_DMARC_SOURCE_MAP(X)       \
    X(EMPTY, "")                     \
    X(DOMAIN, "domain")              \
    X(ORGANIZATIONAL, "organizational") \
    X(LOOKUP_FAILED, "lookup_failed")

enum mx_spf_value {
#define X(e, n) MX_SPFV_##e,
    MX_SPF_RESULT_MAP(X)
#undef X
    MX_SPFV_COUNT
};
enum mx_dmarc_policy_value {
#define X(e, n) MX_DPV_##e,
    MX_DMARC_POLICY_MAP(X)
#undef X
    MX_DPV_COUNT
};
enum mx_dmarc_source_value {
#define X(e, n) MX_DSV_##e,
    MX_DMARC_SOURCE_MAP(X)
#undef X
    MX_DSV_COUNT
};

/* The three columns with a fixed set of values, for the tables above. */
enum mx_valcol { MX_VC_SPF_RESULT, MX_VC_DMARC_POLICY, MX_VC_DMARC_SOURCE, MX_VC_COUNT };
unsigned mx_value_count(enum mx_valcol c);
/* The column text of value v ("" for EMPTY and unknown values). */
const char *mx_value_name(enum mx_valcol c, unsigned v);
/* The value of a column text; EMPTY (0) when s is empty or unknown. */
unsigned mx_value_from_text(enum mx_valcol c, const char *s);
/* The column header of c (spf_result, dmarc_policy, dmarc_source). */
const char *mx_valcol_header(enum mx_valcol c);

/* Outcome of the address look-ups of one exchange (or of the domain for
 * implicit MX), X(ENUM, text): the `lookup` member of the JSON Lines row. */
#define MX_LOOKUP_MAP(X)                \
    X(OK, "ok")                         \
    X(PRIVATE, "private")               \
    X(NXDOMAIN, "nxdomain")             \
    X(NO_ADDRESS, "no_address")         \
    X(LOOKUP_FAILED, "lookup_failed")   \
    X(NOT_LOOKED_UP, "not_looked_up")

enum mx_lookup {
#define X(e, n) MX_LOOKUP_##e,
    MX_LOOKUP_MAP(X)
#undef X
    MX_LOOKUP_COUNT
};
const char *mx_lookup_name(enum mx_lookup l);

#define MX_RESULT_TEXT 8192
#define MX_MAX_PROVIDERS 8
#define MX_RESULT_MX_MAX 64 /* MX records and looked-up hosts described structurally */

/* One MX record, in answer order (structured view of the mx column). */
struct mx_result_mx {
    uint16_t pref;
    int16_t host;       /* index into hosts[], -1 when not looked up (null MX, IP
                           literal, invalid name, past MX_EXCHANGES_MAX) */
    uint16_t name_off;  /* the exchange, within the mx column text ("." for the null MX) */
    uint16_t name_len;
};

/* A looked-up exchange, or the domain itself for implicit MX (structured
 * view of the mx_addresses column). */
struct mx_result_host {
    uint8_t lookup;     /* enum mx_lookup */
    uint8_t rc[2];      /* outcome of the A and the AAAA look-up (enum mx_rc) */
    bool cname;         /* an answer went through a CNAME */
    uint16_t naddr;     /* addresses, written "ADDR,ADDR" ... */
    uint16_t addr_off;  /* ... at this offset within the mx_addresses column text */
    uint16_t addr_len;
};

struct mx_result {
    enum mx_rc status;
    enum mx_mail_status mail;
    mx_findings_t findings;
    uint16_t n_providers;                        /* provider ids of the exchanges */
    uint16_t providers[MX_MAX_PROVIDERS];
    uint16_t n_spf_providers;                    /* provider ids authorized by SPF */
    uint16_t spf_providers[MX_MAX_PROVIDERS];
    bool overflow;                               /* some column text was cut */
    /* Structured view of some columns (JSON Lines, statistics), filled
     * where their text is. */
    bool has_mx_ttl;
    uint32_t mx_ttl;
    uint8_t spf_result;                          /* enum mx_spf_value */
    uint8_t dmarc_policy;                        /* enum mx_dmarc_policy_value */
    uint8_t dmarc_source;                        /* enum mx_dmarc_source_value */
    bool spf_counted;                            /* spf_lookups, spf_voids are set */
    uint32_t spf_lookups, spf_voids;
    bool implicit;                               /* no MX: hosts[0] is the domain itself */
    bool mx_cut;                                 /* more MX records than mx[] holds */
    uint16_t nmx, nhosts;
    struct mx_result_mx mx[MX_RESULT_MX_MAX];
    struct mx_result_host hosts[MX_RESULT_MX_MAX];
    uint32_t col_off[MX_COL_COUNT];
    uint32_t col_len[MX_COL_COUNT];
    uint32_t used;
    char text[MX_RESULT_TEXT];
    /* Explanations for people (`mxscan check`), not columns; NULL in scans,
     * whose rows never show them (6.8 KiB less in each of the window's
     * records). mx_result_reset empties it and keeps the pointer. */
    struct mx_explain *explain;
};

struct mx_explain {
    char spf_problem[512];   /* why the SPF record is broken (term, target, loop) */
    char spf_cover[640];     /* the first exchange address SPF does not pass, and why */
    char smtp_talk[2048];    /* the SMTP probe's conversations, a line each */
    char ns_talk[2048];      /* what each authoritative server answered, a line each */
    char policy_notes[1536]; /* "code: detail" lines for the policy findings */
};

/* Where a row came from: the columns that are not in struct mx_result. */
struct mx_providers;
struct mx_row_info {
    uint64_t line_no;                     /* input_line */
    const char *input_file;               /* input_file: the path as given, "-" for stdin */
    bool has_rank;                        /* rank */
    int64_t rank;
    const struct mx_providers *providers; /* names of the result's provider ids (JSON
                                             Lines; the CSV has their text); may be NULL */
};

/* Empties r for a new row; keeps r->explain (and empties what it points to).
 * A result starts zeroed (calloc, static) or with explain set. */
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
