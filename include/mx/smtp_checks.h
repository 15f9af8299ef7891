/* The SMTP probe's findings (SPEC 1.7; smtp_* of section 2) and the smtp
 * column, from the probe results the oracle hands out (qtype MX_QT_SMTP). */
#ifndef MX_SMTP_CHECKS_H
#define MX_SMTP_CHECKS_H

#include <stdbool.h>

#include "mx/mx_checks.h"
#include "mx/result.h"
#include "mx/smtp.h"

/* Probes every globally reachable (or allowed) address of every usable
 * exchange of set; with cfg->smtp_rcpt also asks RCPT for domain. Returns
 * false while results are pending. */
bool mx_checks_smtp(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                    const struct mx_mxset *set, struct mx_result *res);

/* The probe result of one address of exchange ex (the same request, and
 * so the same shared answer, as the smtp_* checks make); NULL while it is
 * pending (*pending set) or when the provider failed. */
const struct mx_smtp_result *mx_smtp_probe_get(const struct mx_analyze_cfg *cfg,
                                               const char *domain, struct mx_oracle *o,
                                               const char *ex, const struct mx_ip *ip,
                                               bool *pending);
/* Calls fn(r, ud) with the probe result of every globally reachable (or
 * allowed) address of exchange e, in answer order (A, then AAAA); results
 * still pending are skipped. Returns false while any is pending. */
typedef void (*mx_smtp_each_fn)(const struct mx_smtp_result *r, void *ud);
bool mx_smtp_probe_each(const struct mx_analyze_cfg *cfg, const char *domain,
                        struct mx_oracle *o, const struct mx_exchange *e, mx_smtp_each_fn fn,
                        void *ud);
/* The address accepted a connection: TCP connected and a 2xx greeting. */
bool mx_smtp_greeted(const struct mx_smtp_result *r);

#endif
