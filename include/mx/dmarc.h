/* DMARC (RFC 7489): record discovery at the domain, then at the
 * organizational domain (libpsl), selection and tag validation. */
#ifndef MX_DMARC_H
#define MX_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "mx/findings.h"
#include "mx/oracle.h"

enum mx_dmarc_policy { MX_DMARC_P_UNSET, MX_DMARC_P_NONE, MX_DMARC_P_QUARANTINE, MX_DMARC_P_REJECT };
enum mx_dmarc_source { MX_DMARC_SRC_NONE, MX_DMARC_SRC_DOMAIN, MX_DMARC_SRC_ORG };

struct mx_dmarc_record {
    enum mx_dmarc_policy p, sp;
    unsigned pct;                 /* 0..100, default 100 */
    char adkim, aspf;             /* 'r' or 's' */
    char rua[256], ruf[256];
    char fo[16], rf[32];
    unsigned long ri;             /* default 86400 */
    bool uri_bad;                 /* a rua/ruf URI does not parse (SPEC: not a reason
                                     for dmarc_invalid; rua/ruf keep the text) */
};

/* Selection (RFC 7489 6.6.3): the record starts with the tag v=DMARC1
 * (blanks allowed around '=', letters in any case; mx_dmarc_parse then
 * requires the value spelled DMARC1). Other TXT records are ignored. */
bool mx_dmarc_is_record(const char *txt, size_t len);

/* Parses one record; false (with a reason in err) when invalid. */
bool mx_dmarc_parse(const char *txt, size_t len, struct mx_dmarc_record *out, char *err,
                    size_t errlen);

struct mx_dmarc_info {
    bool pending;
    bool lookup_failed;              /* a look-up failed: result unknown */
    enum mx_dmarc_source source;
    bool valid;
    enum mx_dmarc_policy policy;     /* the policy judged for this domain (sp= at org level) */
    mx_findings_t findings;          /* dmarc_missing, dmarc_invalid, dmarc_none */
    char record[512];                /* the record used (cut to fit) */
    char error[128];                 /* why dmarc_invalid, "" otherwise */
};

/* Returns false while pending. */
bool mx_dmarc_analyze(struct mx_oracle *o, const char *domain, struct mx_dmarc_info *out);
/* "none", "quarantine", "reject"; "unset" for MX_DMARC_P_UNSET. */
const char *mx_dmarc_policy_name(enum mx_dmarc_policy p);

#endif
