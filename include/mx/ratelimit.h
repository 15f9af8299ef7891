/* Token bucket shared by all workers; the caller passes the time in. */
#ifndef MX_RATELIMIT_H
#define MX_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

struct mx_ratelimit {
    pthread_mutex_t lock;
    uint64_t rate;      /* tokens per second; 0 = unlimited */
    uint64_t burst;     /* bucket size */
    uint64_t tokens_milli; /* tokens * 1000 */
    uint64_t last_ms;
};

void mx_ratelimit_init(struct mx_ratelimit *rl, uint64_t rate, uint64_t now_ms);
void mx_ratelimit_fini(struct mx_ratelimit *rl);
/* Takes up to want tokens; returns how many were granted. */
unsigned mx_ratelimit_take(struct mx_ratelimit *rl, uint64_t now_ms, unsigned want);
/* Milliseconds until one token is available (0 if now). */
uint64_t mx_ratelimit_wait_ms(struct mx_ratelimit *rl, uint64_t now_ms);
/* Changes the rate (watchdog back-off); keeps the tokens. */
void mx_ratelimit_set_rate(struct mx_ratelimit *rl, uint64_t rate);
uint64_t mx_ratelimit_rate(struct mx_ratelimit *rl);

#endif
