/* Program status names and the monotonic clock. */
#include <time.h>

#include "mx/mx.h"

static const char *const status_msg[] = {
#define X(name, msg) msg,
    MX_STATUS_MAP(X)
#undef X
};
static const char *const status_name[] = {
#define X(name, msg) "MX_" #name,
    MX_STATUS_MAP(X)
#undef X
};

const char *mx_strerror(enum mx_status st)
{
    if ((size_t)st >= sizeof status_msg / sizeof status_msg[0])
        return "unknown error";
    return status_msg[st];
}

const char *mx_status_name(enum mx_status st)
{
    if ((size_t)st >= sizeof status_name / sizeof status_name[0])
        return "MX_UNKNOWN";
    return status_name[st];
}

uint64_t mx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
