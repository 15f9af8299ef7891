/* `mxscan scan`: input -> workers -> ordered writer, with progress,
 * statistics, signals, watchdog and resume. */
#ifndef MX_SCAN_H
#define MX_SCAN_H

#include <stdbool.h>

#include "mx/config.h"
#include "mx/mx.h"

int mx_scan_run(const struct mx_config *cfg);
/* True after mx_scan_run returned with a worker thread that did not stop
 * (it was left running): the caller must end the process with _exit. */
bool mx_scan_threads_left(void);

#endif
