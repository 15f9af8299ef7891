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

const char *mx_strerror(enum mx_status st);
const char *mx_status_name(enum mx_status st);

/* Monotonic time in milliseconds (CLOCK_MONOTONIC). */
uint64_t mx_now_ms(void);

#endif
