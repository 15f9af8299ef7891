/* The results file: RFC 4180 CSV (libcsv quoting) or JSON Lines (jansson),
 * zstd frames or plain, and the checkpoint beside it that says how much of
 * it is durable. */
#ifndef MX_OUTPUT_H
#define MX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/config.h"
#include "mx/providers.h"
#include "mx/result.h"
#include "mx/resume.h"

struct mx_output;

/* Opens cfg->output in cfg->format. With resume, cut the file back to
 * ck->offset and append; otherwise start afresh (CSV: with the header
 * row). fingerprint is written into every checkpoint. */
enum mx_status mx_output_open(const struct mx_config *cfg, const char *fingerprint,
                              const struct mx_checkpoint *resume_from, struct mx_output **out,
                              char *err, size_t errlen);
/* Formats the CSV row of r (sanitised, quoted, with its newline) into buf;
 * thread-safe. Returns the length (cut rows still end in a newline). */
size_t mx_output_format_row(const struct mx_result *r, const struct mx_row_info *ri, char *buf,
                            size_t cap);
#define MX_ROW_MAX (MX_RESULT_TEXT * 4 + 4096)
/* Formats the JSON Lines row of r (one object and its newline) into buf;
 * thread-safe. Returns its length; when that is more than cap, buf holds
 * nothing usable and the caller calls again with cap bytes at least. 0 when
 * out of memory. */
size_t mx_output_format_jsonl(const struct mx_result *r, const struct mx_row_info *ri, char *buf,
                              size_t cap);
/* Makes jansson allocate a row's tree from a per-thread arena while
 * mx_output_format_jsonl runs (row_json.c); call before the threads that
 * use jansson start (mx_output_open does, for JSON Lines). */
void mx_output_jsonl_setup(void);
/* The row of r in format f (one of the two above). */
size_t mx_output_format(enum mx_format f, const struct mx_result *r, const struct mx_row_info *ri,
                        char *buf, size_t cap);
/* One formatted row, in input order. */
enum mx_status mx_output_line(struct mx_output *o, const char *line, size_t len, char *err,
                              size_t errlen);
/* Formats and writes one row in the output's format, in input order. */
enum mx_status mx_output_row(struct mx_output *o, const struct mx_result *r,
                             const struct mx_row_info *ri, char *err, size_t errlen);
/* Ends the frame when it is big or old enough, makes it durable and
 * records rows_done in the checkpoint. force: do it now. */
enum mx_status mx_output_sync(struct mx_output *o, uint64_t rows_done, bool force, char *err,
                              size_t errlen);
/* Cuts the output back to the newest durable point whose time is at or
 * before since_ms (watchdog roll-back); returns the rows it keeps. */
uint64_t mx_output_rollback(struct mx_output *o, uint64_t since_ms);
/* Final sync; complete marks the checkpoint as a finished scan. */
enum mx_status mx_output_close(struct mx_output *o, uint64_t rows_done, bool complete, char *err,
                               size_t errlen);
bool mx_output_resumable(const struct mx_output *o);

/* Sanitises column text for CSV: control bytes, DEL and invalid UTF-8 as
 * \xHH. Returns the length written (cut to fit). */
size_t mx_csv_sanitize(const char *s, size_t len, char *out, size_t outlen);

#endif
