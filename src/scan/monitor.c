/* The scan's monitor thread (monitor.h): progress line, status file,
 * watchdog and stall detector, once a second. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/monitor.h"

#define TICK_MS 1000
#define RING 6 /* samples kept for the recent rates: 5 seconds */

struct sample {
    uint64_t t_ms, done, sent, answered, timeouts;
};

struct mx_monitor {
    struct mx_monitor_src src;
    pthread_t th;
    atomic_bool quit;
    FILE *status;
    bool show, tty;
    struct mx_counters prev;
    struct sample ring[RING];
    unsigned nring;
    /* watchdog */
    uint64_t base_rate, bad_since;
    unsigned bad_secs, good_secs;
    /* stall detector */
    uint64_t still_since, prev_motion, stall_ms;
    bool stalled;
};

/* ---- progress figures ---- */

uint64_t mx_progress_total(uint64_t start_rows, uint64_t seen, bool reader_done,
                           uint64_t bytes_consumed, uint64_t bytes_total, bool *exact)
{
    *exact = reader_done;
    if (reader_done)
        return start_rows + seen;
    if (!bytes_total || !bytes_consumed || !seen)
        return 0;
    if (bytes_consumed >= bytes_total)
        return start_rows + seen; /* everything read, not all taken yet: close enough */
    /* the entries seen stand for the share of the file consumed (resumed
     * rows were skipped over in that same share) */
    double est = (double)(start_rows + seen) * (double)bytes_total / (double)bytes_consumed;
    return (uint64_t)est;
}

static void fmt_duration(char *buf, size_t len, double secs)
{
    if (secs < 0 || secs > 1e7) {
        snprintf(buf, len, "--:--");
        return;
    }
    unsigned long t = (unsigned long)(secs + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%02lu:%02lu", t / 60, t % 60);
}

void mx_progress_format(const struct mx_progress *p, uint64_t in_flight, uint64_t timeouts,
                        char *buf, size_t len)
{
    char el[32], eta[32], of[64], pct[32], ans[32];
    fmt_duration(el, sizeof el, p->elapsed_s);
    fmt_duration(eta, sizeof eta, p->eta_s);
    if (p->total)
        snprintf(of, sizeof of, " of %s%" PRIu64, p->exact ? "" : "~", p->total);
    else
        of[0] = 0;
    if (p->percent >= 0)
        snprintf(pct, sizeof pct, " (%.1f%%)", p->percent);
    else
        pct[0] = 0;
    if (p->answered_share >= 0)
        snprintf(ans, sizeof ans, "%.1f%%", 100.0 * p->answered_share);
    else
        snprintf(ans, sizeof ans, "-");
    snprintf(buf, len,
             "%s  %" PRIu64 "%s done%s  %.0f domains/s  %.0f q/s  answered %s  in flight %" PRIu64
             "  timeouts %" PRIu64 "  ETA %s",
             el, p->done, of, pct, p->rows_per_s, p->queries_per_s, ans, in_flight, timeouts,
             eta);
}

/* Queries per domain before any domain is finished: measured on the lab
 * populations (MX-only 1.9, default checks 3.9), per check. */
static double prior_qpd(unsigned checks)
{
    return 1.9 + (checks & MX_CHECK_SPF ? 1.2 : 0) + (checks & MX_CHECK_DMARC ? 0.8 : 0);
}

#define PRIOR_WEIGHT 100.0 /* domains' worth of belief in prior_qpd */

/* The work left is counted in queries: the domains not finished need as
 * many queries each as those finished did (smoothed towards a prior: the
 * first to finish are the cheap ones), less what the ones in progress have
 * already sent; at the recent query rate. Right from the first second,
 * when the pipeline is still filling and rows per second says little. */
static double eta(const struct mx_progress *p, const struct mx_counters *c, unsigned checks)
{
    if (p->queries_per_s > 0) {
        double qpd = ((double)c->record_queries + PRIOR_WEIGHT * prior_qpd(checks)) /
                     ((double)c->records_done + PRIOR_WEIGHT);
        double started = (double)(c->sent - c->retried) - (double)c->record_queries;
        double left = (double)(p->total - p->done) * qpd - (started > 0 ? started : 0);
        return left > 0 ? left / p->queries_per_s : 0;
    }
    return p->rows_per_s > 0 ? (double)(p->total - p->done) / p->rows_per_s : -1;
}

static void compute(struct mx_monitor *m, const struct mx_counters *c, uint64_t now,
                    struct mx_progress *p)
{
    const struct mx_monitor_src *s = &m->src;
    uint64_t fin = atomic_load_explicit(s->finished, memory_order_relaxed);
    uint64_t seen = atomic_load_explicit(s->seen, memory_order_relaxed);
    bool rdone = atomic_load(s->reader_done);
    memset(p, 0, sizeof *p);
    p->elapsed_s = (double)(now - s->t0_ms) / 1000.0;
    p->done = s->start_rows + fin;
    p->total = mx_progress_total(s->start_rows, seen, rdone, mx_input_bytes_consumed(s->in),
                                 mx_input_bytes_total(s->in), &p->exact);
    if (p->total && p->done > p->total)
        p->total = p->done;
    p->percent = p->total ? 100.0 * (double)p->done / (double)p->total : -1;
    /* recent rates over the samples of the last seconds */
    struct sample cur = {now, fin, c->sent, c->answered, c->timeouts};
    struct sample start = {s->t0_ms, 0, 0, 0, 0};
    m->ring[m->nring++ % RING] = cur;
    unsigned k = m->nring < RING ? m->nring : RING;
    const struct sample *old = &m->ring[(m->nring - k) % RING];
    double dt = (double)(cur.t_ms - old->t_ms) / 1000.0;
    if (dt <= 0) { /* first tick: since the start */
        dt = p->elapsed_s;
        old = &start;
    }
    if (dt > 0) {
        p->rows_per_s = (double)(cur.done - old->done) / dt;
        p->queries_per_s = (double)(cur.sent - old->sent) / dt;
    }
    uint64_t ended = (cur.answered - old->answered) + (cur.timeouts - old->timeouts);
    p->answered_share = ended ? (double)(cur.answered - old->answered) / (double)ended : -1;
    p->eta_s = -1;
    if (p->exact && p->done >= p->total)
        p->eta_s = 0;
    else if (p->total)
        p->eta_s = eta(p, c, s->cfg->checks);
}

/* ---- outputs ---- */

static void show_line(struct mx_monitor *m, const struct mx_progress *p,
                      const struct mx_counters *c)
{
    char line[256];
    mx_progress_format(p, c->inflight, c->timeouts, line, sizeof line);
    fprintf(stderr, "%s%s%s", m->tty ? "\r" : "", line, m->tty ? "\033[K" : "\n");
    fflush(stderr);
}

static void status_write(struct mx_monitor *m, const struct mx_progress *p,
                         const struct mx_counters *c)
{
    json_t *o = json_pack(
        "{s:f, s:I, s:I, s:b, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "elapsed_seconds", p->elapsed_s, "domains_done", (json_int_t)p->done,
        "domains_total", (json_int_t)p->total, "total_exact", p->exact, "percent",
        p->percent, "eta_seconds", p->eta_s, "domains_per_second", p->rows_per_s,
        "queries_per_second", p->queries_per_s, "answered_share", p->answered_share,
        "rows_written", (json_int_t)atomic_load(m->src.written), "queries_sent",
        (json_int_t)c->sent, "answered", (json_int_t)c->answered, "timeouts",
        (json_int_t)c->timeouts, "retried", (json_int_t)c->retried, "in_flight",
        (json_int_t)c->inflight, "active", (json_int_t)c->active, "rate_limit",
        (json_int_t)mx_engine_rate(m->src.eng));
    if (o) {
        json_dumpf(o, m->status, JSON_COMPACT | JSON_REAL_PRECISION(6));
        fputc('\n', m->status);
        fflush(m->status);
        json_decref(o);
    }
}

/* ---- watchdog: a resolver that fails most look-ups ---- */

static void watchdog_bad(struct mx_monitor *m, const struct mx_counters *c, uint64_t now,
                         double share)
{
    const struct mx_config *cfg = m->src.cfg;
    if (m->bad_secs == 0 && m->bad_since == 0)
        m->bad_since = now - TICK_MS;
    m->bad_secs++;
    m->good_secs = 0;
    if (cfg->watchdog_backoff_s && m->bad_secs % cfg->watchdog_backoff_s == 0) {
        uint64_t r = mx_engine_rate(m->src.eng);
        uint64_t sent_rate = c->sent - m->prev.sent;
        uint64_t nr = (r ? r : (sent_rate ? sent_rate : 100)) / 2;
        if (nr < 10)
            nr = 10;
        mx_engine_set_rate(m->src.eng, nr);
        if (!cfg->quiet)
            fprintf(stderr, "\nmxscan: %.0f%% of look-ups failing; rate lowered to %" PRIu64
                            " queries/s\n",
                    100.0 * share, nr);
    }
    if (cfg->watchdog_stop_s && now - m->bad_since >= (uint64_t)cfg->watchdog_stop_s * 1000) {
        uint64_t margin = (uint64_t)cfg->timeout_ms * (cfg->retries + 1) + 2000;
        char msg[MX_ERRLEN];
        snprintf(msg, sizeof msg,
                 "the resolver failed %.0f%% of look-ups for %u s; stopped. The output was cut "
                 "back to before the trouble began; rerun the same command with --resume once "
                 "the resolver is healthy",
                 100.0 * share, cfg->watchdog_stop_s);
        m->src.stop(m->src.ud, MX_STOP_WATCHDOG,
                    m->bad_since > margin ? m->bad_since - margin : 0, msg);
    }
}

static void watchdog_tick(struct mx_monitor *m, const struct mx_counters *c, uint64_t now)
{
    const struct mx_config *cfg = m->src.cfg;
    const struct mx_counters *pv = &m->prev;
    uint64_t d_to = c->timeouts - pv->timeouts;
    uint64_t d_fail = d_to + (c->rcode[MX_RC_SERVFAIL] - pv->rcode[MX_RC_SERVFAIL]) +
                      (c->rcode[MX_RC_REFUSED] - pv->rcode[MX_RC_REFUSED]);
    uint64_t d_all = (c->answered - pv->answered) + d_to;
    if (d_all >= 10 && (double)d_fail > cfg->watchdog_ratio * (double)d_all) {
        watchdog_bad(m, c, now, (double)d_fail / (double)d_all);
        return;
    }
    if (d_all == 0)
        return;
    m->good_secs++;
    if (m->good_secs >= (cfg->watchdog_backoff_s ? cfg->watchdog_backoff_s : 5)) {
        m->bad_secs = 0;
        m->bad_since = 0;
        uint64_t r = mx_engine_rate(m->src.eng);
        if (r != m->base_rate) {
            uint64_t nr = m->base_rate == 0 || r * 2 >= m->base_rate ? m->base_rate : r * 2;
            mx_engine_set_rate(m->src.eng, nr);
            m->good_secs = 0;
        }
    }
}

/* ---- stall detector: domains wait and nothing at all happens ---- */

static void stall_tick(struct mx_monitor *m, const struct mx_counters *c, uint64_t now)
{
    /* Every query ends within the timeout, so a healthy scan never stays
     * still (no query sent or ended, no analysis run) for longer. */
    uint64_t motion =
        c->sent + c->answered + c->retried + c->timeouts + c->rounds + c->ext_done;
    if (c->active == 0 || motion != m->prev_motion) {
        m->still_since = now;
        m->prev_motion = motion;
        return;
    }
    /* A provider's request (an SMTP conversation ...) may take longer than
     * a DNS query: while one is out, wait as long as it may take. */
    uint64_t limit = m->stall_ms;
    if (c->ext_inflight && limit < (uint64_t)c->ext_max_ms + 2000)
        limit = (uint64_t)c->ext_max_ms + 2000;
    if (m->stalled || now - m->still_since < limit)
        return;
    m->stalled = true;
    if (m->show && m->tty)
        fputc('\n', stderr);
    fprintf(stderr,
            "mxscan: stalled: %" PRIu64 " domains wait, %" PRIu64 " look-ups in flight, %" PRIu64
            " queued, and nothing has happened for %.0f s. This is a bug in mxscan; please "
            "report it with the lines below.\n",
            c->active, c->inflight, c->queued, (double)(now - m->still_since) / 1000.0);
    mx_engine_describe(m->src.eng, stderr, 20, 1000);
    m->src.stop(m->src.ud, MX_STOP_STALL, 0,
                "stopped after a stall; every row before the first stuck domain is written: "
                "rerun the same command with --resume to continue");
}

/* ---- the thread ---- */

static void tick(struct mx_monitor *m)
{
    uint64_t now = mx_now_ms();
    struct mx_counters c;
    struct mx_progress p;
    mx_engine_counters(m->src.eng, &c);
    compute(m, &c, now, &p);
    watchdog_tick(m, &c, now);
    if (m->show)
        show_line(m, &p, &c);
    if (m->status)
        status_write(m, &p, &c);
    stall_tick(m, &c, now);
    m->prev = c;
}

static void *monitor_main(void *arg)
{
    struct mx_monitor *m = arg;
    while (!atomic_load(&m->quit)) {
        for (int i = 0; i < 10 && !atomic_load(&m->quit); i++) {
            struct timespec ts = {0, TICK_MS / 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (!atomic_load(&m->quit))
            tick(m);
    }
    if (m->show && m->tty)
        fputc('\n', stderr);
    return NULL;
}

struct mx_monitor *mx_monitor_start(const struct mx_monitor_src *src, char *err, size_t errlen)
{
    const struct mx_config *cfg = src->cfg;
    struct mx_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->src = *src;
    m->tty = isatty(STDERR_FILENO);
    m->show = !cfg->quiet && (cfg->progress || m->tty);
    m->base_rate = mx_engine_rate(src->eng);
    m->still_since = mx_now_ms();
    m->prev_motion = UINT64_MAX;
    m->stall_ms = (uint64_t)cfg->stall_s * 1000;
    if (m->stall_ms < 2ull * cfg->timeout_ms + 2000)
        m->stall_ms = 2ull * cfg->timeout_ms + 2000;
    if (cfg->status_file && !(m->status = fopen(cfg->status_file, "w"))) {
        snprintf(err, errlen, "cannot write the status file %s: %s", cfg->status_file,
                 strerror(errno));
        free(m);
        return NULL;
    }
    if (pthread_create(&m->th, NULL, monitor_main, m) != 0) {
        snprintf(err, errlen, "cannot start the monitor thread");
        if (m->status)
            fclose(m->status);
        free(m);
        return NULL;
    }
    return m;
}

void mx_monitor_stop(struct mx_monitor *m)
{
    if (!m)
        return;
    atomic_store(&m->quit, true);
    pthread_join(m->th, NULL);
    if (m->status)
        fclose(m->status);
    free(m);
}
