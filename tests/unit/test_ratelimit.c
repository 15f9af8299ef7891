/* The token bucket (ratelimit.h), with the time passed in: the grant over a
 * simulated second never exceeds rate + burst, partial grants, wait
 * estimates, unlimited rate, rate changes. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "mx/ratelimit.h"

/* Takes as much as it can every step ms for span ms; returns the total. */
static uint64_t drain(struct mx_ratelimit *rl, uint64_t t0, uint64_t span, uint64_t step,
                      unsigned want)
{
    uint64_t total = 0;
    for (uint64_t t = t0; t <= t0 + span; t += step)
        total += mx_ratelimit_take(rl, t, want);
    return total;
}

Test(ratelimit, one_second_never_exceeds_rate_plus_burst)
{
    static const uint64_t rates[] = {1, 7, 20, 100, 999, 2000, 50000};
    static const uint64_t steps[] = {1, 3, 10, 250};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        for (size_t j = 0; j < sizeof steps / sizeof steps[0]; j++) {
            struct mx_ratelimit rl;
            uint64_t t0 = 1000000;
            mx_ratelimit_init(&rl, rates[i], t0);
            uint64_t burst = rl.burst;
            cr_expect_geq(burst, 1);
            cr_expect_leq(burst, rates[i] / 20 + 1);
            /* [t0, t0 + 1000]: the bucket starts full */
            uint64_t got = drain(&rl, t0, 1000, steps[j], 1000000);
            cr_expect_leq(got, rates[i] + burst, "rate %lu step %lu: %lu in one second",
                          (unsigned long)rates[i], (unsigned long)steps[j], (unsigned long)got);
            /* and close to the rate when asked often enough (the bucket
             * holds 50 ms worth: slower askers get less) */
            if (steps[j] <= 10)
                cr_expect_geq(got, rates[i], "rate %lu step %lu: only %lu",
                          (unsigned long)rates[i], (unsigned long)steps[j], (unsigned long)got);
            /* the next seconds: at most rate each (plus the step's rounding) */
            uint64_t t1 = t0 + 1000 + steps[j];
            for (int s = 0; s < 3; s++) {
                uint64_t g = drain(&rl, t1, 999, steps[j], 1000000);
                cr_expect_leq(g, rates[i] + burst);
                t1 += 1000 + steps[j] - 1;
                (void)g;
            }
            mx_ratelimit_fini(&rl);
        }
    }
}

Test(ratelimit, sliding_window_bound)
{
    /* Any window of 1000 ms sees at most rate + burst grants. */
    struct mx_ratelimit rl;
    const uint64_t rate = 300;
    mx_ratelimit_init(&rl, rate, 0);
    static unsigned per_ms[5001];
    for (uint64_t t = 0; t <= 5000; t++)
        per_ms[t] = mx_ratelimit_take(&rl, t, (unsigned)(t % 7 + 1));
    uint64_t win = 0;
    for (uint64_t t = 0; t <= 5000; t++) {
        win += per_ms[t];
        if (t >= 1000)
            win -= per_ms[t - 1000];
        cr_assert_leq(win, rate + rl.burst, "window ending at %lu: %lu", (unsigned long)t,
                      (unsigned long)win);
    }
    mx_ratelimit_fini(&rl);
}

Test(ratelimit, partial_grants)
{
    struct mx_ratelimit rl;
    mx_ratelimit_init(&rl, 200, 0); /* burst 10 */
    cr_expect_eq(rl.burst, 10);
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 4), 4);
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 100), 6, "only what is left");
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 1), 0);
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 0), 0);
    /* 200/s = one token per 5 ms */
    cr_expect_eq(mx_ratelimit_take(&rl, 4, 1), 0);
    cr_expect_eq(mx_ratelimit_take(&rl, 5, 10), 1);
    cr_expect_eq(mx_ratelimit_take(&rl, 25, 10), 4);
    /* a long pause refills to the burst only */
    cr_expect_eq(mx_ratelimit_take(&rl, 100000, 1000), 10);
    mx_ratelimit_fini(&rl);
}

Test(ratelimit, time_going_back_grants_nothing_new)
{
    struct mx_ratelimit rl;
    mx_ratelimit_init(&rl, 1000, 5000); /* burst 50 */
    cr_expect_eq(mx_ratelimit_take(&rl, 5000, 1000), 50);
    cr_expect_eq(mx_ratelimit_take(&rl, 4000, 1000), 0, "an earlier clock adds no tokens");
    cr_expect_eq(mx_ratelimit_take(&rl, 5010, 1000), 10);
    mx_ratelimit_fini(&rl);
}

Test(ratelimit, wait_ms)
{
    struct mx_ratelimit rl;
    mx_ratelimit_init(&rl, 100, 0); /* 1 token per 10 ms, burst 5 */
    cr_expect_eq(mx_ratelimit_wait_ms(&rl, 0), 0);
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 5), 5);
    cr_expect_eq(mx_ratelimit_wait_ms(&rl, 0), 10);
    cr_expect_eq(mx_ratelimit_wait_ms(&rl, 3), 7);
    cr_expect_eq(mx_ratelimit_wait_ms(&rl, 10), 0);
    cr_expect_eq(mx_ratelimit_take(&rl, 10, 1), 1);
    /* the estimate is enough: waiting that long gives a token */
    uint64_t t = 10;
    for (int i = 0; i < 50; i++) {
        uint64_t w = mx_ratelimit_wait_ms(&rl, t);
        cr_assert_gt(w, 0);
        t += w;
        cr_assert_eq(mx_ratelimit_take(&rl, t, 1), 1, "after waiting %lu ms", (unsigned long)w);
    }
    mx_ratelimit_fini(&rl);

    mx_ratelimit_init(&rl, 3, 0); /* 1 token per 333.3 ms, burst 1 */
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 9), 1);
    uint64_t w = mx_ratelimit_wait_ms(&rl, 0);
    cr_expect_eq(w, 334);
    cr_expect_eq(mx_ratelimit_take(&rl, w - 1, 1), 0);
    cr_expect_eq(mx_ratelimit_take(&rl, w, 1), 1);
    mx_ratelimit_fini(&rl);
}

Test(ratelimit, zero_is_unlimited)
{
    struct mx_ratelimit rl;
    mx_ratelimit_init(&rl, 0, 0);
    cr_expect_eq(mx_ratelimit_rate(&rl), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(mx_ratelimit_take(&rl, 0, 100000), 100000);
    cr_expect_eq(mx_ratelimit_wait_ms(&rl, 0), 0);
    mx_ratelimit_fini(&rl);
}

Test(ratelimit, set_rate)
{
    struct mx_ratelimit rl;
    mx_ratelimit_init(&rl, 1000, 0); /* burst 50 */
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 10), 10);
    mx_ratelimit_set_rate(&rl, 100); /* halved twice and more: burst 5 */
    cr_expect_eq(mx_ratelimit_rate(&rl), 100);
    cr_expect_eq(mx_ratelimit_take(&rl, 0, 1000), 5, "tokens cut to the new burst");
    cr_expect_eq(mx_ratelimit_take(&rl, 10, 1000), 1, "new rate: 1 per 10 ms");
    uint64_t got = drain(&rl, 11, 999, 1, 1000);
    cr_expect_leq(got, 100 + 5);
    cr_expect_geq(got, 99);

    mx_ratelimit_set_rate(&rl, 0);
    cr_expect_eq(mx_ratelimit_take(&rl, 1010, 12345), 12345);
    mx_ratelimit_set_rate(&rl, 1000);
    uint64_t t0 = 5000;
    got = drain(&rl, t0, 1000, 1, 1000000);
    cr_expect_leq(got, 1000 + 50, "back from unlimited: %lu", (unsigned long)got);
    mx_ratelimit_fini(&rl);
}
