/* Transport security policies in scans (SPEC 1.7, the mta_sts_*, tlsrpt_*
 * and dane_* findings of section 2): MTA-STS (RFC 8461), TLS-RPT (RFC 8460)
 * and DANE (RFC 7672) asked through the oracle like every other look-up,
 * the policy fetch through the engine's provider of MX_QT_MTA_STS, and the
 * SMTP probe's results (smtp_checks.h) when that check is on too.
 *
 * Two layers: mx_checks_policy gathers (asks the oracle, writes the
 * columns) and fills a struct mx_policy_facts; the rules that turn facts
 * into findings (mx_policy_findings), the MTA-STS state of the statistics
 * (mx_policy_sts_state) and the explanations for `mxscan check`
 * (mx_policy_notes) are pure functions of the facts. Readings in the
 * README, "Transport security policies in scans". */
#ifndef MX_POLICY_CHECKS_H
#define MX_POLICY_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "mx/dane.h"
#include "mx/mta_sts.h"
#include "mx/mx_checks.h"
#include "mx/result.h"
#include "mx/tlsrpt.h"

/* The domain's MTA-STS state: the mta_sts_mode column and the statistics'
 * `mta_sts_mode` object. */
#define MX_STS_STATE_MAP(X)                                                            \
    X(ABSENT, "absent")     /* no v=STSv1 record at _mta-sts.<domain> */                \
    X(NONE, "none")         /* a valid policy, mode none */                             \
    X(TESTING, "testing")                                                              \
    X(ENFORCE, "enforce")                                                              \
    X(INVALID, "invalid")   /* mta_sts_invalid: record, fetch or policy not ok */       \
    X(UNKNOWN, "unknown")   /* a look-up failed (or our side did): not judged */

enum mx_sts_state {
#define X(n, l) MX_STS_STATE_##n,
    MX_STS_STATE_MAP(X)
#undef X
    MX_STS_STATE_COUNT
};
const char *mx_sts_state_name(enum mx_sts_state s);
/* MX_STS_STATE_COUNT when s names no state ("" included). */
enum mx_sts_state mx_sts_state_from_name(const char *s);

/* What the gathering learnt about one exchange (the implicit MX: the
 * domain itself). Only what the rules and the notes need. */
struct mx_policy_exchange {
    const char *name;          /* points into an answer: valid during the analysis */
    bool probed;               /* usable, SMTP probe on: its addresses' results are in */
    unsigned greeted;          /* probed addresses that greeted with 2xx */
    /* MTA-STS with the probe: the first greeted address without STARTTLS or
     * without a certificate valid for the exchange name */
    bool tls_bad;
    struct mx_ip tls_bad_ip;
    const char *tls_why;       /* static text */
    /* DANE */
    bool dane_asked;           /* usable and DANE on: TLSA asked */
    enum mx_dane_state dane;
    unsigned tlsa_n, tlsa_usable;
    uint32_t tlsa_problems;    /* bits 1u << enum mx_tlsa_use */
    /* DANE with the probe: the first greeted address the usable records fail */
    bool dane_bad;
    struct mx_ip dane_bad_ip;
    enum mx_dane_match dane_match; /* MISMATCH or NO_TLS when dane_bad */
    const char *dane_why;      /* "chain", "name" or "" (mx_dane_match) */
};

/* Everything the rules read. Pointers are valid during the analysis only. */
struct mx_policy_facts {
    unsigned checks;           /* MX_CHECK_* of the scan */
    const char *domain;
    /* MTA-STS (MX_CHECK_MTA_STS) */
    enum mx_rc sts_rc;         /* the _mta-sts TXT look-up */
    struct mx_sts_record sts;  /* judged when sts_rc is NOERROR */
    bool host_failed;          /* the policy host's A/AAAA look-ups failed, no address */
    bool no_address;           /* the policy host has neither A nor AAAA */
    const struct mx_sts_fetch_result *fetch; /* NULL: no fetch answer */
    bool fetch_failed;         /* the fetch was asked and its provider failed */
    /* TLS-RPT (MX_CHECK_TLSRPT) */
    enum mx_rc rpt_rc;
    struct mx_tlsrpt_record rpt;
    /* exchanges (MTA-STS matching, DANE, the probe) */
    bool have_exchanges;       /* the MX set is complete: the per-exchange rules apply */
    unsigned n;
    struct mx_policy_exchange ex[MX_EXCHANGES_MAX];
};

/* The policy of the facts when it was fetched and is valid, else NULL. */
const struct mx_sts_policy *mx_policy_valid_policy(const struct mx_policy_facts *f);
/* The MTA-STS state (meaningful with MX_CHECK_MTA_STS). */
enum mx_sts_state mx_policy_sts_state(const struct mx_policy_facts *f);
/* The mta_sts_*, tlsrpt_* and dane_* findings of the facts (SPEC 2). */
mx_findings_t mx_policy_findings(const struct mx_policy_facts *f);
/* For `mxscan check`: one line "label: detail\n" per finding of found
 * that has a detail to show, into buf (cut at len, always terminated). */
void mx_policy_notes(const struct mx_policy_facts *f, mx_findings_t found, char *buf,
                     size_t len);

/* The gathering: the MTA-STS record, policy host and fetch, the TLS-RPT
 * record, the TLSA records of every usable exchange (set must be complete
 * for those; the domain's own records are asked as soon as the MX query
 * answered), matched against the SMTP probe's results when that check is
 * on. Adds the findings and fills the policy columns and res->policy_notes.
 * Returns false while answers are pending. */
bool mx_checks_policy(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                      const struct mx_mxset *set, struct mx_result *res);

#endif
