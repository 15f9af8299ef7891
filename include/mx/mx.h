/* mxscan: version, program status codes (errors of the program, not DNS
 * outcomes: a DNS outcome is data, see answer.h). */
#ifndef MX_MX_H
#define MX_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_VERSION "0.1.0"
#define MX_ERRLEN 256
#define MX_NAME_MAX 253 /* presentation length of a host name, no trailing dot */

#define MX_STATUS_MAP(X)                                          \
    X(OK, "success")                                              \
    X(ENOMEM, "out of memory")                                    \
    X(EINVAL, "invalid argument")                                 \
    X(EIO, "input/output error")                                  \
    X(EFORMAT, "malformed data")                                  \
    X(ETOOBIG, "data too large")                                  \
    X(EDNS, "DNS library error")                                  \
    X(EEOF, "end of input")                                       \
    X(EINTR, "interrupted")

enum mx_status {
#define X(name, msg) MX_##name,
    MX_STATUS_MAP(X)
#undef X
};

/* Exit statuses of the mxscan program, the ones scripts rely on (README
 * "Exit status"). */
#define MX_EXIT_OK 0
#define MX_EXIT_FAIL 1       /* runtime failure (I/O, input error, resolver set-up) */
#define MX_EXIT_USAGE 2      /* bad command line */
#define MX_EXIT_WATCHDOG 3   /* stopped by the watchdog; resumable */
#define MX_EXIT_FINDINGS 4   /* `mxscan check`: an error finding was seen */
#define MX_EXIT_STALL 5      /* the scan made no progress (a bug): stopped, resumable */
/* `mxscan spf`: one status per check_host() result (pass is 0). */
#define MX_EXIT_SPF_FAIL 10
#define MX_EXIT_SPF_SOFTFAIL 11
#define MX_EXIT_SPF_NEUTRAL 12
#define MX_EXIT_SPF_NONE 13
#define MX_EXIT_SPF_TEMPERROR 14
#define MX_EXIT_SPF_PERMERROR 15
#define MX_EXIT_SIGINT 130
#define MX_EXIT_SIGTERM 143

const char *mx_strerror(enum mx_status st);
const char *mx_status_name(enum mx_status st);

/* Monotonic time in milliseconds (CLOCK_MONOTONIC). */
uint64_t mx_now_ms(void);

#endif
