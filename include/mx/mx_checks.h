/* The MX checks (SPEC 1.2-1.4 and the domain_* and mx_* findings of
 * section 2): what the other checks of mx_analyze learn about the MX set. */
#ifndef MX_MX_CHECKS_H
#define MX_MX_CHECKS_H

#include <stdbool.h>

#include "mx/analyze.h"
#include "mx/answer.h"

/* At most this many distinct exchanges are looked up per domain; more set
 * res->overflow and are listed in the mx column only. */
#define MX_EXCHANGES_MAX 64

/* One distinct exchange of the MX set, as mx_checks_mx leaves it. */
struct mx_exchange {
    const char *name;                   /* lowercase, no trailing dot; points into the
                                           MX answer (valid while the analysis runs) */
    bool looked_up;                     /* A/AAAA asked (not an IP literal or a bad name) */
    bool done;                          /* both answers are there (or not looked up) */
    bool usable;                        /* looked up, at least one global address */
    bool failed;                        /* a look-up failed and the exchange is not usable */
    const struct mx_answer *a, *aaaa;   /* NULL when not looked up or pending */
};

/* What the MX part found, for the other checks of mx_analyze. */
struct mx_mxset {
    bool mx_answered;     /* the domain's MX answer is there */
    bool exists;          /* the MX query gave NOERROR: SPF and DMARC apply */
    bool implicit;        /* no MX records: the domain's own A/AAAA stand in */
    bool complete;        /* every answer the MX part needs is there */
    unsigned n;           /* distinct exchanges (the null MX '.' is not one) */
    struct mx_exchange ex[MX_EXCHANGES_MAX];
};

/* The MX part of the procedure (SPEC 1.2-1.4): the domain's MX, the
 * exchanges' addresses or the implicit MX, the domain_* and mx_* findings,
 * the status, the mail status and the MX columns. Describes the MX set in
 * *set (filled even while pending, as far as the answers go) for the
 * other checks. Returns false while answers are pending. */
bool mx_checks_mx(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                  struct mx_result *res, struct mx_mxset *set);

/* The implicit MX (no MX records, RFC 5321 section 5.1) as a set of one
 * exchange: the domain itself with its own A/AAAA answers (asked like the
 * MX part asks them); usable when one of its addresses is globally
 * reachable or allowed. For the opt-in checks that treat it as the one
 * exchange senders try (SMTP probe, MTA-STS matching, DANE). */
void mx_checks_implicit_set(const struct mx_analyze_cfg *cfg, const char *domain,
                            struct mx_oracle *o, struct mx_mxset *one);

#endif
