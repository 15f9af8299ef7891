/* `mxscan scan`: input -> workers -> ordered writer, with progress,
 * statistics, signals, watchdog and resume. */
#ifndef MX_SCAN_H
#define MX_SCAN_H

#include <stdbool.h>

#include "mx/config.h"

/* Exit codes scripts can rely on. */
#define MX_EXIT_OK 0
#define MX_EXIT_FAIL 1       /* runtime failure (I/O, input error, resolver set-up) */
#define MX_EXIT_USAGE 2      /* bad command line */
#define MX_EXIT_WATCHDOG 3   /* stopped by the watchdog; resumable */
#define MX_EXIT_FINDINGS 4   /* `mxscan check`: an error finding was seen */
#define MX_EXIT_STALL 5      /* the scan made no progress (a bug): stopped, resumable */
#define MX_EXIT_SIGINT 130
#define MX_EXIT_SIGTERM 143

int mx_scan_run(const struct mx_config *cfg);
/* True after mx_scan_run returned with a worker thread that did not stop
 * (it was left running): the caller must end the process with _exit. */
bool mx_scan_threads_left(void);

#endif
