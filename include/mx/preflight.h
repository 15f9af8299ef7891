/* Before a scan sends its first query for the input: is anybody there?
 * Each resolver gets a probe (". SOA"); one that never answers, or
 * answers REFUSED, is named. */
#ifndef MX_PREFLIGHT_H
#define MX_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "mx/answer.h"
#include "mx/config.h"

/* Probes every resolver of cfg, says on stderr which ones fail and why
 * (quiet does not silence that). Returns false when none answers: a scan
 * against them would only write timeouts. */
struct mx_preflight {
    uint64_t sent, answered, retried, timeouts; /* the probe queries, for the statistics */
    uint64_t rcode[MX_RC_COUNT];
};
bool mx_preflight_resolvers(const struct mx_config *cfg, struct mx_preflight *pf);

#endif
