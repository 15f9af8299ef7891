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
/* Opt-in (SPEC 1.7), each its own word in --checks. */
#define MX_CHECK_SMTP 8u  /* SMTP probe of every usable exchange address */
#define MX_CHECK_CONSISTENCY 16u /* MX and SOA asked of every authoritative server */
#define MX_CHECK_MTA_STS 32u /* _mta-sts TXT, the policy fetch, mx patterns ("mta-sts") */
#define MX_CHECK_DANE 64u    /* TLSA of every usable exchange, AD bit on every query */
#define MX_CHECK_TLSRPT 128u /* _smtp._tls TXT ("tlsrpt"; implied by mta-sts and dane) */

struct mx_analyze_cfg {
    unsigned checks;
    const struct mx_allowlist *allow;
    const struct mx_providers *providers; /* may be NULL */
    bool smtp_rcpt;       /* the SMTP probe also asks RCPT TO:<postmaster@domain> */
};

/* The whole procedure: MX, then SPF and DMARC, providers. domain is a valid,
 * normalised name. res is reset by the call. Returns false while pending:
 * the caller gets the missing answers and calls again (from scratch). */
bool mx_analyze(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                struct mx_result *res);

/* mx_analyze of a record (its domain into its result), in the shape of
 * the engine's analysis callback: acfg is a const struct mx_analyze_cfg *. */
struct mx_record;
bool mx_analyze_record(void *acfg, struct mx_record *rec, struct mx_oracle *o);

/* The row for an invalid input line. */
void mx_analyze_invalid(const char *shown, struct mx_result *res);

#endif
