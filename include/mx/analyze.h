/* The whole per-domain procedure of SPEC section 1 as one pure function of
 * the DNS answers an mx_oracle hands out. */
#ifndef MX_ANALYZE_H
#define MX_ANALYZE_H

#include <stdbool.h>

#include "mx/addr.h"
#include "mx/oracle.h"
#include "mx/providers.h"
#include "mx/result.h"

#define MX_CHECK_MX 1u    /* MX, exchange addresses, implicit A/AAAA */
#define MX_CHECK_SPF 2u   /* TXT of the domain, SPF tree, spf_mx_not_covered */
#define MX_CHECK_DMARC 4u /* _dmarc TXT */
#define MX_CHECK_DEFAULT (MX_CHECK_MX | MX_CHECK_SPF | MX_CHECK_DMARC)

struct mx_analyze_cfg {
    unsigned checks;
    const struct mx_allowlist *allow;
    const struct mx_providers *providers; /* may be NULL */
};

/* At most this many distinct exchanges are looked up per domain; more set
 * res->overflow and are listed in the mx column only. */
#define MX_EXCHANGES_MAX 64

/* One distinct exchange of the MX set, as mx_classify_run leaves it. */
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

/* mx_classify_mx, also describing the MX set in *set (filled even while
 * pending, as far as the answers go). */
bool mx_classify_run(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                     struct mx_result *res, struct mx_mxset *set);

/* Classifies the MX part (SPEC 1.2-1.3, the domain_* and mx_* findings and
 * the mail status). Returns false while answers are pending. */
bool mx_classify_mx(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                    struct mx_result *res);

/* The whole procedure: MX, then SPF and DMARC, providers. domain is a valid,
 * normalised name. res is reset by the call. Returns false while pending:
 * the caller gets the missing answers and calls again (from scratch). */
bool mx_analyze(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                struct mx_result *res);

/* The row for an invalid input line. */
void mx_analyze_invalid(const char *shown, struct mx_result *res);

#endif
