/* The unit that flows through the pipeline: one input name, its held
 * answers while it is being analysed, and its result row. */
#ifndef MX_RECORD_H
#define MX_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "mx/cache.h"
#include "mx/result.h"

#define MX_HELD_MAX 96 /* distinct look-ups one domain may hold */

struct mx_record {
    struct mx_record *next;   /* queue link (one queue at a time) */
    struct mx_record *aprev, *anext; /* the worker's list of active records */
    uint64_t seq;             /* input order */
    uint64_t line_no;
    unsigned file_index;
    bool has_rank;            /* the input line's rank (struct mx_input_line) */
    int64_t rank;
    unsigned worker;
    bool valid;               /* a normalised name to look up */
    bool held_overflow;       /* MX_HELD_MAX was reached */
    unsigned pending;         /* answers awaited */
    unsigned rounds;          /* analysis runs */
    unsigned queries;         /* look-ups this record started (not joined, not cached) */
    unsigned nheld;
    struct mx_waiter held[MX_HELD_MAX];
    char domain[MX_NAME_MAX + 1];
    void *job;                /* caller's data (e.g. `mxscan spf`) */
    struct mx_result res;
};

#endif
