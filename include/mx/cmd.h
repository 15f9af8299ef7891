/* The commands for people: `mxscan check` and `mxscan spf` (a few names,
 * human-readable output). */
#ifndef MX_CMD_H
#define MX_CMD_H

#include "mx/opts.h"

int mx_check_run(const struct mx_opts *o);
int mx_spf_cmd_run(const struct mx_opts *o);

#endif
