/* `mxscan scan`: input -> workers -> ordered writer, with progress,
 * statistics, signals, watchdog and resume. */
#ifndef MX_SCAN_H
#define MX_SCAN_H

#include "mx/config.h"

/* Exit codes scripts can rely on. */
#define MX_EXIT_OK 0
#define MX_EXIT_FAIL 1       /* runtime failure (I/O, input error, resolver set-up) */
#define MX_EXIT_USAGE 2      /* bad command line */
#define MX_EXIT_WATCHDOG 3   /* stopped by the watchdog; resumable */
#define MX_EXIT_FINDINGS 4   /* `mxscan check`: an error finding was seen */
#define MX_EXIT_SIGINT 130
#define MX_EXIT_SIGTERM 143

int mx_scan_run(const struct mx_config *cfg);

#endif
