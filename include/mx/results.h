/* Reading results files back: an earlier run's rows (resume), and later
 * the rows of finished scans (statistics, diffs). */
#ifndef MX_RESULTS_H
#define MX_RESULTS_H

#include <stdint.h>

#include "mx/mx.h"

#define MX_RESULTS_FIELD_MAX 2048 /* longer fields are cut (none we write is longer) */

/* One data row: its fields (NUL-terminated, cut to MX_RESULTS_FIELD_MAX - 1
 * bytes) and the header's fields, n of each at most. */
typedef void (*mx_results_row_fn)(void *ud, const char *const *field, unsigned nfield,
                                  const char *const *header, unsigned nheader);

/* Reads the results CSV at path (zstd-compressed or plain, told by its
 * first bytes), stopping after limit bytes of the file (0: all of it),
 * and calls row for every data row after the header. */
enum mx_status mx_results_read(const char *path, uint64_t limit, mx_results_row_fn row, void *ud,
                               char *err, size_t errlen);

#endif
