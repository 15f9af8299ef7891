/* Reading results files back: an earlier run's rows (resume), and later
 * the rows of finished scans (statistics, diffs). CSV and JSON Lines alike:
 * a JSON Lines row is given as the text its CSV row has in each column. */
#ifndef MX_RESULTS_H
#define MX_RESULTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "mx/mx.h"

/* Longer fields are cut (none we write is longer: a column holds at most
 * MX_RESULT_TEXT bytes, 4 times that once sanitised). */
#define MX_RESULTS_FIELD_MAX (4 * 8192 + 1)

/* One data row: its fields (NUL-terminated, cut to MX_RESULTS_FIELD_MAX - 1
 * bytes) and the header's fields, n of each at most. */
typedef void (*mx_results_row_fn)(void *ud, const char *const *field, unsigned nfield,
                                  const char *const *header, unsigned nheader);

/* Reads the results file at path (zstd-compressed or plain, told by its
 * first bytes; CSV, or JSON Lines when the first byte is '{'), stopping
 * after limit bytes of the file (0: all of it), and calls row for every
 * data row (after the CSV header). A JSON Lines row comes as MX_COL_COUNT
 * fields in column order (enum mx_column), named by the column headers,
 * each the text the CSV row would have (mx_addresses rebuilt from the mx
 * array, lists joined with ';', null as empty). */
enum mx_status mx_results_read(const char *path, uint64_t limit, mx_results_row_fn row, void *ud,
                               char *err, size_t errlen);
/* The same, ending early (MX_OK, the rows so far) once *stop is true: it is
 * checked between blocks of the file, so a few more rows may come. */
enum mx_status mx_results_read_until(const char *path, uint64_t limit, mx_results_row_fn row,
                                     void *ud, const atomic_bool *stop, char *err, size_t errlen);

#endif
