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
#include "mx/policy_checks.h"
#include "mx/providers.h"
#include "mx/result.h"

#define MX_STATS_MAX_PROVIDERS 256
#define MX_STATS_MAX_INPUTS 1024 /* input files counted apart; rows of more files: "other" */
#define MX_STATS_MAX_VALUES 8    /* values of a column of enum mx_valcol */

_Static_assert(MX_SPFV_COUNT <= MX_STATS_MAX_VALUES && MX_DPV_COUNT <= MX_STATS_MAX_VALUES &&
                   MX_DSV_COUNT <= MX_STATS_MAX_VALUES,
               "column values must fit the tally");

/* Rows per input file, keyed by the hash of the input_file column text. */
struct mx_tally_input {
    uint64_t hash, rows;
};

struct mx_tally {
    _Atomic uint64_t domains;
    _Atomic uint64_t status[MX_RC_COUNT];
    _Atomic uint64_t mail[MX_MAIL_COUNT];
    uint64_t accepting;              /* rows whose domain accepts mail (mx_tally_accepts) */
    uint64_t findings[MX_F_COUNT];
    uint64_t findings_accepting[MX_F_COUNT];
    uint64_t severity[3];            /* domains with at least one finding of that severity */
    uint64_t values[MX_VC_COUNT][MX_STATS_MAX_VALUES]; /* spf_result, dmarc_policy, dmarc_source */
    uint64_t values_accepting[MX_VC_COUNT][MX_STATS_MAX_VALUES];
    uint64_t providers[MX_STATS_MAX_PROVIDERS];
    uint64_t spf_providers[MX_STATS_MAX_PROVIDERS];
    uint64_t provider_findings[MX_STATS_MAX_PROVIDERS][MX_F_COUNT]; /* by exchange provider */
    struct mx_tally_input inputs[MX_STATS_MAX_INPUTS];
    unsigned ninputs, last_input;
    uint64_t inputs_other;           /* rows of files past MX_STATS_MAX_INPUTS */
    uint64_t overflow_rows;          /* rows of this run with some column text cut */
    uint64_t sts_mode[MX_STS_STATE_COUNT]; /* rows per MTA-STS state (mta_sts_mode) */
    uint64_t resumed_rows;           /* rows counted from an earlier run's output */
};

/* What the statistics take from one row: filled by the worker from a
 * result (the record is recycled at once), or from the fields of a row
 * read back from a results file; added by the writer in input order. The
 * two ways give the same tally row for the same row. */
struct mx_tally_row {
    enum mx_rc status;               /* MX_RC_COUNT: unknown text */
    enum mx_mail_status mail;        /* MX_MAIL_COUNT: unknown text */
    mx_findings_t findings;
    uint16_t nprov, nsprov;
    uint16_t prov[MX_MAX_PROVIDERS], sprov[MX_MAX_PROVIDERS];
    uint8_t values[MX_VC_COUNT];     /* spf_result, dmarc_policy, dmarc_source */
    uint64_t input_hash;             /* mx_tally_input_hash of the input_file column */
    bool overflow;                   /* this run's rows only: not in a results file */
    uint8_t sts_state;               /* enum mx_sts_state; MX_STS_STATE_COUNT: not checked */
};
void mx_tally_row_from_result(struct mx_tally_row *tr, const struct mx_result *r,
                              uint64_t input_hash);
/* input_hash: mx_tally_input_hash of the row's input file, computed once
 * per file by the caller. */
/* field[c] is the text of column c (enum mx_column), as results.c reads it
 * from a CSV or JSON Lines file; p names the provider ids. */
void mx_tally_row_from_fields(struct mx_tally_row *tr, const struct mx_providers *p,
                              const char *const *field);
/* FNV-1a of the input_file column text (sanitised as the CSV writes it). */
uint64_t mx_tally_input_hash(const char *path);
/* mail_status ok, degraded or implicit: the domain accepts mail. */
bool mx_tally_accepts(enum mx_mail_status m);
void mx_tally_add(struct mx_tally *t, const struct mx_tally_row *tr);

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

/* The statistics JSON (README "Statistics", datasets/schema/stats.schema.json). */
enum mx_status mx_stats_write_json(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri);
/* The same as a jansson object (NULL when out of memory), and writing such
 * an object as mx_stats_write_json does (MX_ENOMEM when o is NULL). */
struct json_t;
struct json_t *mx_stats_json(const struct mx_tally *t, const struct mx_run_info *ri);
enum mx_status mx_stats_dump(FILE *f, const struct json_t *o);
/* The short summary table for stderr at the end of a scan. */
void mx_stats_write_summary(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri);

#endif
