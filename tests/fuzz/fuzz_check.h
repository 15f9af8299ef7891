/* Invariants of the fuzz targets: a violated one prints the condition and
 * its place, then aborts (a crash for libFuzzer, a failed corpus replay for
 * ctest). */
#ifndef MX_FUZZ_CHECK_H
#define MX_FUZZ_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/answer.h"
#include "mx/findings.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* The bits of the findings from first to last (codes of the table). */
static inline mx_findings_t fuzz_findings_range(enum mx_finding first, enum mx_finding last)
{
    mx_findings_t m = 0;
    for (unsigned f = first; f <= (unsigned)last; f++)
        m |= MX_FBIT(f);
    return m;
}

/* Only codes of the table, and only those of the family [first, last]; the
 * default checks never report an opt-in code. */
static inline bool fuzz_findings_within(mx_findings_t f, enum mx_finding first,
                                        enum mx_finding last)
{
    return MX_F_COUNT <= 64 && last < MX_F_FIRST_OPT_IN &&
           (f & ~fuzz_findings_range(first, last)) == 0;
}

/* An oracle's answers, kept (in ans[*n], room for them checked by the
 * caller) until the analysis is over, then freed together. */
static inline const struct mx_answer *fuzz_keep(struct mx_answer **ans, size_t *n,
                                                struct mx_answer *a)
{
    if (a)
        ans[(*n)++] = a;
    return a;
}

static inline void fuzz_forget(struct mx_answer **ans, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(ans[i]);
    *n = 0;
}

/* A string field ends within its buffer. */
#define CHECK_STR(field) CHECK(memchr((field), 0, sizeof(field)) != NULL)

#endif
