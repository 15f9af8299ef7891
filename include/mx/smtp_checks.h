/* The SMTP probe's findings (SPEC 1.7; smtp_* of section 2) and the smtp
 * column, from the probe results the oracle hands out (qtype MX_QT_SMTP). */
#ifndef MX_SMTP_CHECKS_H
#define MX_SMTP_CHECKS_H

#include <stdbool.h>

#include "mx/mx_checks.h"
#include "mx/result.h"

/* Probes every globally reachable (or allowed) address of every usable
 * exchange of set; with cfg->smtp_rcpt also asks RCPT for domain. Returns
 * false while results are pending. */
bool mx_checks_smtp(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                    const struct mx_mxset *set, struct mx_result *res);

#endif
