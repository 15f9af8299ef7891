/* Authoritative consistency in the per-domain procedure (SPEC 1.7;
 * ns_lame, ns_mx_inconsistent, ns_serial_mismatch of section 2): the
 * findings, the ns_servers, ns_mx_sets and ns_serials columns and the lines
 * `mxscan check` prints, from what mx_cons_gather asks through the oracle
 * (include/mx/consistency.h). */
#ifndef MX_CONS_CHECKS_H
#define MX_CONS_CHECKS_H

#include <stdbool.h>

#include "mx/oracle.h"
#include "mx/result.h"

/* Returns false while answers are pending. A domain without NS records of
 * its own (not a zone apex, NXDOMAIN, a failed NS look-up, an alias) is not
 * judged: no finding, empty columns. */
bool mx_checks_consistency(const char *domain, struct mx_oracle *o, struct mx_result *res);

#endif
