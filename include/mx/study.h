/* Studying finished scans: `mxscan stats` (statistics recomputed from
 * result files, e.g. the shards of one scan) and `mxscan diff` (per-domain
 * changes between two scans). README "mxscan stats", "mxscan diff". */
#ifndef MX_STUDY_H
#define MX_STUDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mx/result.h"

struct json_t;

/* ---- columns of a results file, found by header name ---- */

/* idx[c]: the field of column c (enum mx_column) in a row, -1 when the file
 * has no such column. Other columns (e.g. opt-in ones added later) are
 * ignored, wherever they are. */
struct mx_colmap {
    int idx[MX_COL_COUNT];
    bool ready;
};
void mx_colmap_build(struct mx_colmap *m, const char *const *header, unsigned nheader);
/* The text of column c in a row of nfield fields ("" when absent). */
const char *mx_colmap_get(const struct mx_colmap *m, const char *const *field, unsigned nfield,
                          enum mx_column c);

/* ---- mxscan stats ---- */

/* What the rows cannot give, taken from the scans' own --stats files:
 * merges the run members of the statistics objects runs[0..n) into
 * merged (the statistics of the rows). With n == 0 they are null
 * (unknown). names[i] names runs[i] in messages. Counters are summed and marked ("summed_over_files"); see
 * README "mxscan stats" for each member. warn receives lines about
 * disagreeing configurations (may be NULL). Returns false (err set) when
 * a run file lacks a member or disagrees with the rows. */
bool mx_stats_merge_runs(struct json_t *merged, struct json_t *const *runs,
                         const char *const *names, size_t n, void (*warn)(const char *line),
                         char *err, size_t errlen);

/* The commands: argv[0] is the command's name; returns the exit status. */
int mx_stats_cmd(int argc, char **argv);
int mx_diff_cmd(int argc, char **argv);
void mx_stats_usage(FILE *f);
void mx_diff_usage(FILE *f);

/* ---- mxscan diff: comparing one domain's two rows ---- */

#define MX_DIFF_KINDS(X)                \
    X(ADDED, "added")                   \
    X(REMOVED, "removed")               \
    X(MX, "mx_changed")                 \
    X(PROVIDERS, "providers_changed")   \
    X(MAIL_STATUS, "mail_status_changed") \
    X(FINDINGS_GAINED, "findings_gained") \
    X(FINDINGS_LOST, "findings_lost")   \
    X(SPF, "spf_changed")               \
    X(DMARC_POLICY, "dmarc_policy_changed")

enum mx_diff_kind {
#define X(e, n) MX_DK_##e,
    MX_DIFF_KINDS(X)
#undef X
    MX_DK_COUNT
};
const char *mx_diff_kind_name(enum mx_diff_kind k);

/* The columns a diff reads from each row. */
#define MX_DIFF_FIELDS(X)              \
    X(DOMAIN, MX_COL_DOMAIN)           \
    X(MAIL_STATUS, MX_COL_MAIL_STATUS) \
    X(MX, MX_COL_MX)                   \
    X(PROVIDERS, MX_COL_PROVIDERS)     \
    X(FINDINGS, MX_COL_FINDINGS)       \
    X(SPF, MX_COL_SPF)                 \
    X(SPF_RESULT, MX_COL_SPF_RESULT)   \
    X(DMARC_POLICY, MX_COL_DMARC_POLICY)

enum mx_diff_field {
#define X(e, c) MX_DF_##e,
    MX_DIFF_FIELDS(X)
#undef X
    MX_DF_COUNT
};
extern const enum mx_column mx_diff_columns[MX_DF_COUNT];

/* One row as the diff sees it (strings owned by the caller). */
struct mx_drow {
    const char *f[MX_DF_COUNT];
};

/* The change of one domain: kinds (bit per enum mx_diff_kind) and the
 * finding codes gained and lost (bit per enum mx_finding). */
struct mx_dchange {
    uint32_t kinds;
    mx_findings_t gained, lost;
};

/* Compares a domain's old and new rows (either NULL: added or removed). */
void mx_diff_compare(const struct mx_drow *old, const struct mx_drow *new_,
                     struct mx_dchange *out);
/* Two ';'-lists hold the same items, whatever their order. */
bool mx_diff_same_set(const char *a, const char *b);
/* mail_status old -> new is "became broken": the domain accepted mail (ok,
 * degraded or implicit) and now is broken (MX records, none usable). */
bool mx_diff_became_broken(const char *old_status, const char *new_status);
/* ... and the reverse: it was broken and now accepts mail. */
bool mx_diff_recovered(const char *old_status, const char *new_status);

/* ---- mxscan diff: the summary ---- */

struct mx_dsummary; /* counts of every kind, transitions, provider moves */
struct mx_dsummary *mx_dsummary_create(void);
void mx_dsummary_free(struct mx_dsummary *s);
/* Counts one domain (old/new as given to mx_diff_compare). */
bool mx_dsummary_add(struct mx_dsummary *s, const struct mx_drow *old, const struct mx_drow *new_,
                     const struct mx_dchange *c);
/* The summary JSON (README "mxscan diff"); a new reference. */
struct json_t *mx_dsummary_json(const struct mx_dsummary *s, const char *old_path,
                                const char *new_path, uint64_t old_rows, uint64_t new_rows);

/* ---- mxscan diff: the changes file ---- */

/* The changed domain's row of the changes file into buf (CSV with libcsv
 * quoting, or one JSON object; with its newline). Returns the length, or 0
 * when it does not fit (or out of memory). */
size_t mx_diff_format(bool jsonl, const struct mx_drow *old, const struct mx_drow *new_,
                      const struct mx_dchange *c, char *buf, size_t cap);
/* The CSV header row of the changes file (with its newline). */
const char *mx_diff_csv_header(void);

#endif
