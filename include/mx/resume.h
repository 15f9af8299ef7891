/* Resume: the checkpoint beside an output (how much of it is durable), the
 * fingerprint of a scan (its inputs and the options that shape its rows),
 * the checks before an interrupted scan is continued, and the rows of the
 * earlier run read back for the statistics. */
#ifndef MX_RESUME_H
#define MX_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/config.h"
#include "mx/providers.h"
#include "mx/stats.h"

struct mx_checkpoint {
    char fingerprint[80];  /* of the inputs and the options that shape the rows */
    uint64_t rows;         /* input entries covered by the durable output */
    uint64_t offset;       /* bytes of output that are durable */
    bool complete;
};

/* The checkpoint path for an output path (false when the output cannot be
 * resumed: stdout, devices, pipes). */
bool mx_checkpoint_path(const char *output, char *buf, size_t len);
enum mx_status mx_checkpoint_read(const char *path, struct mx_checkpoint *ck, char *err,
                                  size_t errlen);
/* Replaces the checkpoint at path atomically (write, fsync, rename). */
enum mx_status mx_checkpoint_write(const char *path, const struct mx_checkpoint *ck, char *err,
                                   size_t errlen);

/* "i=<inputs>,o=<options>": FNV-1a over the input paths, sizes and first
 * 64 KiB, and over the options that shape the rows. */
void mx_resume_fingerprint(const struct mx_config *cfg, char *out, size_t len);

enum mx_resume_verdict {
    MX_RESUME_CONTINUE, /* go on: *ck filled, the earlier rows counted into the tally */
    MX_RESUME_COMPLETE, /* the scan is already complete: nothing to do */
    MX_RESUME_REFUSED,  /* err says why; *exit_code says how to end */
    MX_RESUME_FRESH,    /* killed before anything was durable: start afresh */
};

/* --resume: reads the checkpoint beside cfg->output, compares fingerprints,
 * and reads back the rows the checkpoint covers. */
enum mx_resume_verdict mx_resume_check(const struct mx_config *cfg, const char *fingerprint,
                                       const struct mx_providers *prov, struct mx_checkpoint *ck,
                                       struct mx_tally *tally, int *exit_code, char *err,
                                       size_t errlen);

/* Without --resume: false (err says why) when the output holds an
 * interrupted scan, which only --force may overwrite. */
bool mx_resume_guard(const struct mx_config *cfg, char *err, size_t errlen);

/* After a complete scan: the checkpoint has served (a complete output is
 * recognised by having none). */
void mx_resume_done(const struct mx_config *cfg);

/* Counts the rows of the results file at path, up to offset bytes, into t. */
enum mx_status mx_tally_from_output(struct mx_tally *t, const struct mx_providers *p,
                                    const char *path, uint64_t offset, char *err, size_t errlen);

#endif
