/* How analysis code asks for DNS data. The analysis (classify, SPF, DMARC)
 * is a pure function of the answers it gets; when an answer is not there
 * yet, get() returns NULL and the request is recorded; the scanner runs the
 * analysis again once the answers have arrived. Tests plug in a table. */
#ifndef MX_ORACLE_H
#define MX_ORACLE_H

#include <stdint.h>

#include "mx/answer.h"

/* The answer is likely shared by many domains (exchange addresses, SPF
 * include targets, organizational DMARC): keep it in the shared cache. */
#define MX_Q_SHARED 1u

struct mx_oracle {
    /* name: lowercase presentation form without trailing dot. Returns NULL
     * while the answer is pending. The pointer stays valid until the
     * analysis returns. */
    const struct mx_answer *(*get)(void *ud, const char *name, uint16_t qtype, unsigned flags);
    void *ud;
};

static inline const struct mx_answer *mx_oracle_get(struct mx_oracle *o, const char *name,
                                                    uint16_t qtype, unsigned flags)
{
    return o->get(o->ud, name, qtype, flags);
}

#endif
