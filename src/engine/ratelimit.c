/* Token bucket (curl's rlimit and zmap's rate splitting, one bucket for all
 * workers so that --rate is a hard ceiling across threads). */
#include "mx/ratelimit.h"

static uint64_t burst_for(uint64_t rate)
{
    uint64_t b = rate / 20; /* 50 ms worth */
    return b ? b : 1;
}

void mx_ratelimit_init(struct mx_ratelimit *rl, uint64_t rate, uint64_t now_ms)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->burst = burst_for(rate);
    rl->tokens_milli = rl->burst * 1000;
    rl->last_ms = now_ms;
}

void mx_ratelimit_fini(struct mx_ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

static void refill_locked(struct mx_ratelimit *rl, uint64_t now_ms)
{
    if (now_ms > rl->last_ms) {
        uint64_t add = (now_ms - rl->last_ms) * rl->rate; /* milli-tokens */
        uint64_t cap = rl->burst * 1000;
        rl->tokens_milli = rl->tokens_milli + add > cap ? cap : rl->tokens_milli + add;
        rl->last_ms = now_ms;
    }
}

unsigned mx_ratelimit_take(struct mx_ratelimit *rl, uint64_t now_ms, unsigned want)
{
    if (want == 0)
        return 0;
    pthread_mutex_lock(&rl->lock);
    if (rl->rate == 0) {
        pthread_mutex_unlock(&rl->lock);
        return want;
    }
    refill_locked(rl, now_ms);
    uint64_t have = rl->tokens_milli / 1000;
    unsigned got = have < want ? (unsigned)have : want;
    rl->tokens_milli -= (uint64_t)got * 1000;
    pthread_mutex_unlock(&rl->lock);
    return got;
}

uint64_t mx_ratelimit_wait_ms(struct mx_ratelimit *rl, uint64_t now_ms)
{
    pthread_mutex_lock(&rl->lock);
    uint64_t wait = 0;
    if (rl->rate != 0) {
        refill_locked(rl, now_ms);
        if (rl->tokens_milli < 1000)
            wait = (1000 - rl->tokens_milli + rl->rate - 1) / rl->rate;
    }
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void mx_ratelimit_set_rate(struct mx_ratelimit *rl, uint64_t rate)
{
    pthread_mutex_lock(&rl->lock);
    rl->rate = rate;
    rl->burst = burst_for(rate);
    if (rl->tokens_milli > rl->burst * 1000)
        rl->tokens_milli = rl->burst * 1000;
    pthread_mutex_unlock(&rl->lock);
}

uint64_t mx_ratelimit_rate(struct mx_ratelimit *rl)
{
    pthread_mutex_lock(&rl->lock);
    uint64_t r = rl->rate;
    pthread_mutex_unlock(&rl->lock);
    return r;
}
