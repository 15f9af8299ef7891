/* SPF (RFC 7208): record selection, parser, static tree analysis (SPEC
 * "SPF limits are static") and check_host(). All DNS data comes through an
 * mx_oracle, so every function may answer "pending": call again once the
 * scanner has the answers. */
#ifndef MX_SPF_H
#define MX_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "mx/findings.h"
#include "mx/oracle.h"

#define MX_SPF_MAX_INCLUDES 32 /* distinct include/redirect targets remembered */

enum mx_spf_result {
    MX_SPF_NONE,
    MX_SPF_NEUTRAL,
    MX_SPF_PASS,
    MX_SPF_FAIL,
    MX_SPF_SOFTFAIL,
    MX_SPF_TEMPERROR,
    MX_SPF_PERMERROR,
    MX_SPF_PENDING /* not a result: DNS answers are missing, call again */
};
const char *mx_spf_result_name(enum mx_spf_result r);

struct mx_spf_info {
    bool pending;            /* answers missing: call again */
    unsigned nrecords;       /* v=spf1 records among the domain's TXT */
    bool txt_failed;         /* the domain's TXT look-up failed (SERVFAIL/timeout) */
    bool parsed;             /* exactly one record, and it parses */
    unsigned lookups;        /* DNS-querying terms over the whole tree */
    unsigned voids;          /* void look-ups over the whole tree */
    mx_findings_t findings;  /* spf_missing .. spf_no_enforcement (not spf_mx_not_covered) */
    char record[1024];       /* the (first) record, cut to fit */
    /* every include/redirect target reached in the tree (for providers) */
    unsigned n_includes;
    char includes[MX_SPF_MAX_INCLUDES][254];
};

/* Static analysis of the SPF record of domain. Returns false while pending. */
bool mx_spf_analyze(struct mx_oracle *o, const char *domain, struct mx_spf_info *out);

struct mx_spf_trace {
    char term[256];      /* the term that decided the result, "" for default */
    unsigned lookups;    /* DNS-querying terms evaluated */
    unsigned voids;      /* void look-ups met */
    char explain[256];   /* why a permerror/temperror happened */
};

/* check_host(ip, domain, sender) of RFC 7208 section 4. helo may be NULL.
 * Returns MX_SPF_PENDING while answers are missing. */
enum mx_spf_result mx_spf_check_host(struct mx_oracle *o, const struct mx_ip *ip,
                                     const char *domain, const char *sender, const char *helo,
                                     struct mx_spf_trace *trace);

#endif
