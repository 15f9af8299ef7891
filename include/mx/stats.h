/* Aggregate statistics: per-row tallies (kept by the writer thread) and
 * the statistics JSON of SPEC section 4. */
#ifndef MX_STATS_H
#define MX_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mx/cache.h"
#include "mx/config.h"
#include "mx/engine.h"
#include "mx/providers.h"
#include "mx/result.h"

#define MX_STATS_MAX_PROVIDERS 256

struct mx_tally {
    _Atomic uint64_t domains;
    _Atomic uint64_t status[MX_RC_COUNT];
    _Atomic uint64_t mail[MX_MAIL_COUNT];
    uint64_t findings[MX_F_COUNT];
    uint64_t severity[3];            /* domains with at least one finding of that severity */
    uint64_t providers[MX_STATS_MAX_PROVIDERS];
    uint64_t spf_providers[MX_STATS_MAX_PROVIDERS];
    uint64_t overflow_rows;          /* rows with some column text cut */
    uint64_t resumed_rows;           /* rows counted from an earlier run's output */
};

/* What the statistics take from one row: filled from a result by the
 * worker (the record is recycled at once), added by the writer in input
 * order. */
struct mx_tally_row {
    enum mx_rc status;
    enum mx_mail_status mail;
    mx_findings_t findings;
    uint16_t nprov, nsprov;
    uint16_t prov[MX_MAX_PROVIDERS], sprov[MX_MAX_PROVIDERS];
    bool overflow;
};
void mx_tally_row_from_result(struct mx_tally_row *tr, const struct mx_result *r);
void mx_tally_add(struct mx_tally *t, const struct mx_tally_row *tr);
/* Adds one row given as CSV field texts (status, mail_status, findings,
 * providers, spf_providers), as read back from an earlier run's output. */
void mx_tally_add_text(struct mx_tally *t, const struct mx_providers *p, const char *status,
                       const char *mail, const char *findings, const char *providers,
                       const char *spf_providers);

struct mx_run_info {
    const struct mx_config *cfg;
    const struct mx_providers *providers;
    const struct mx_counters *counters;
    const struct mx_cache_stats *cache;
    double elapsed_s;
    const char *started, *ended;     /* ISO 8601 UTC */
    const char *stop_reason;         /* "complete", "interrupted", "watchdog", "error" */
    bool resumed;
    uint64_t input_errors;
};

void mx_stats_write_json(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri);
/* The short summary table for stderr at the end of a scan. */
void mx_stats_write_summary(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri);

#endif
