/* A handful of records through an engine of their own, waiting for all of
 * them (engine.h: mx_engine_run_all); `mxscan check` and `mxscan spf`. */
#include <pthread.h>
#include <stdio.h>

#include "mx/engine.h"

struct batch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t left;
};

static void batch_done(void *ud, struct mx_record *rec)
{
    (void)rec;
    struct batch *b = ud;
    pthread_mutex_lock(&b->lock);
    b->left--;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

enum mx_status mx_engine_run_all(const struct mx_config *cfg, struct mx_record *recs, size_t n,
                                 mx_analysis_fn analyze, void *aud,
                                 const struct mx_engine_hooks *hooks,
                                 struct mx_counters *counters, char *err, size_t errlen)
{
    struct batch b = {.left = 0};
    struct mx_engine *eng = NULL;
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    enum mx_status st = mx_engine_create(cfg, analyze, aud, batch_done, &b, &eng, err, errlen);
    bool set_up = false;
    if (st == MX_OK && hooks && hooks->setup) {
        st = hooks->setup(hooks->ud, eng, err, errlen);
        set_up = st == MX_OK;
    }
    if (st == MX_OK)
        st = mx_engine_start(eng, err, errlen);
    if (st == MX_OK) {
        size_t valid = 0;
        for (size_t i = 0; i < n; i++)
            valid += recs[i].valid;
        b.left = valid;
        for (size_t i = 0; i < n; i++)
            if (recs[i].valid)
                mx_engine_submit(eng, &recs[i]);
        pthread_mutex_lock(&b.lock);
        while (b.left > 0)
            pthread_cond_wait(&b.cond, &b.lock);
        pthread_mutex_unlock(&b.lock);
        mx_engine_close(eng);
        mx_engine_join(eng);
        if (counters)
            mx_engine_counters(eng, counters);
    }
    if (hooks && hooks->teardown && (set_up || !hooks->setup))
        hooks->teardown(hooks->ud);
    mx_engine_destroy(eng); /* joins the workers */
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.cond);
    return st;
}
