/* The scan pipeline (scan.h):
 *
 *   reader thread -> engine workers (resolve + analyse) -> writer thread
 *        |                                                  |
 *        +-- invalid names go straight to the writer -------+
 *
 * A fixed pool of records bounds the work in progress and the writer's
 * reorder window (rows leave in input order). A signal thread turns SIGINT
 * and SIGTERM into a clean stop; the monitor thread prints progress and
 * runs the watchdog. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/engine.h"
#include "mx/input.h"
#include "mx/names.h"
#include "mx/output.h"
#include "mx/providers.h"
#include "mx/scan.h"
#include "mx/stats.h"

#define WRITER_BATCH 256 /* rows queued before the writer is woken */
#define WRITER_NAP_MS 10 /* ... or after this long */

enum stop_reason { STOP_NONE, STOP_SIGINT, STOP_SIGTERM, STOP_WATCHDOG, STOP_ERROR, STOP_STALL };

/* After a stop, workers get this long to exit before they are left
 * running (the scan still ends within 2 s of a signal). */
#define STOP_GRACE_MS 1200

static atomic_bool threads_left;

bool mx_scan_threads_left(void)
{
    return atomic_load(&threads_left);
}

/* A finished row waiting for its turn: the CSV text and what the tally
 * needs. The heavy record goes back to the pool as soon as this exists. */
struct row {
    struct row *next;
    uint64_t seq;
    enum mx_rc status;
    enum mx_mail_status mail;
    mx_findings_t findings;
    uint16_t nprov, nsprov;
    uint16_t prov[MX_MAX_PROVIDERS], sprov[MX_MAX_PROVIDERS];
    bool overflow;
    size_t len;
    char text[];
};

struct scan {
    const struct mx_config *cfg;
    struct mx_providers *providers;
    struct mx_analyze_cfg acfg;
    struct mx_engine *eng;
    struct mx_output *out;
    struct mx_input *in;
    struct mx_tally tally;
    /* pool */
    struct mx_record *recs;
    unsigned window;
    pthread_mutex_t plock;
    pthread_cond_t pcond;
    struct mx_record *free_list;
    unsigned nfree;
    unsigned lowat;             /* the reader, once it waited, waits for this many */
    bool reader_waiting;
    /* writer queue */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    struct row *wq;
    unsigned wq_len;
    bool writer_waiting;
    struct row **slots;
    unsigned reorder;           /* slots */
    uint64_t next_row;          /* next seq to write */
    _Atomic uint64_t written;   /* = next_row, for the monitor */
    uint64_t total;             /* seq after the last entry (valid when reader_done) */
    atomic_bool reader_done;
    atomic_bool writer_done;
    /* control */
    atomic_int stop;            /* enum stop_reason */
    uint64_t start_rows;        /* rows already in the output (resume) */
    uint64_t input_errors;
    bool input_failed;
    /* Set by any thread (writer, workers, monitor), read after the joins:
     * the flag is atomic, the messages are set once under elock. */
    atomic_bool output_failed;
    pthread_mutex_t elock;
    char errmsg[MX_ERRLEN];     /* why the output failed */
    char stopmsg[MX_ERRLEN];    /* why the watchdog or the stall detector stopped */
    uint64_t watchdog_since_ms; /* roll back to before this */
    uint64_t t0_ms;
    pthread_mutex_t donelock;
    pthread_cond_t donecond;
};

static void set_once(struct scan *s, char *buf, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_once(struct scan *s, char *buf, const char *fmt, ...)
{
    pthread_mutex_lock(&s->elock);
    if (!buf[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, MX_ERRLEN, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->elock);
}

static void request_stop(struct scan *s, int why);

/* The output cannot take more rows: note why (the first cause wins) and stop. */
static void output_failure(struct scan *s, const char *msg)
{
    set_once(s, s->errmsg, "%s", msg);
    atomic_store(&s->output_failed, true);
    request_stop(s, STOP_ERROR);
}

static bool progress_enabled(const struct mx_config *cfg)
{
    return !cfg->quiet && (cfg->progress || isatty(STDERR_FILENO));
}

/* ---- pool ---- */

/* A free record for input entry seq; waits while the pool is empty or the
 * reorder window is full (seq too far ahead of the writer). Once it had to
 * wait, it waits for a batch of free records (lowat), so that reader and
 * workers do not wake each other for every single record. */
static struct mx_record *pool_get(struct scan *s, uint64_t seq)
{
    pthread_mutex_lock(&s->plock);
    if (!s->free_list || seq - atomic_load(&s->written) >= s->reorder) {
        while ((s->nfree < s->lowat || seq - atomic_load(&s->written) >= s->reorder) &&
               !atomic_load(&s->stop)) {
            s->reader_waiting = true;
            pthread_cond_wait(&s->pcond, &s->plock);
        }
    }
    s->reader_waiting = false;
    struct mx_record *r = s->free_list;
    if (r) {
        s->free_list = r->next;
        s->nfree--;
    }
    pthread_mutex_unlock(&s->plock);
    return r;
}

static void pool_put(struct scan *s, struct mx_record *r)
{
    pthread_mutex_lock(&s->plock);
    r->next = s->free_list;
    s->free_list = r;
    s->nfree++;
    if (s->reader_waiting && s->nfree >= s->lowat) {
        s->reader_waiting = false;
        pthread_cond_signal(&s->pcond);
    }
    pthread_mutex_unlock(&s->plock);
}

static void request_stop(struct scan *s, int why)
{
    int expected = STOP_NONE;
    if (!atomic_compare_exchange_strong(&s->stop, &expected, (int)why))
        return;
    pthread_mutex_lock(&s->plock);
    pthread_cond_broadcast(&s->pcond);
    pthread_mutex_unlock(&s->plock);
    pthread_mutex_lock(&s->wlock);
    pthread_cond_broadcast(&s->wcond);
    pthread_mutex_unlock(&s->wlock);
    if (s->eng)
        mx_engine_abort(s->eng);
}

/* ---- engine callbacks ---- */

/* Turns a finished record into a row for the writer (in the worker's
 * thread, so formatting runs in parallel) and recycles the record. */
static void finish_record(struct scan *s, struct mx_record *rec)
{
    static _Thread_local char buf[MX_ROW_MAX];
    if (rec->held_overflow)
        rec->res.overflow = true;
    const struct mx_result *r = &rec->res;
    size_t len = mx_output_format_row(r, rec->line_no, buf, sizeof buf);
    struct row *row = malloc(sizeof *row + len);
    if (!row) {
        output_failure(s, "out of memory for a finished row");
        pool_put(s, rec);
        return;
    }
    row->seq = rec->seq;
    row->status = r->status;
    row->mail = r->mail;
    row->findings = r->findings;
    row->nprov = r->n_providers;
    row->nsprov = r->n_spf_providers;
    memcpy(row->prov, r->providers, sizeof row->prov);
    memcpy(row->sprov, r->spf_providers, sizeof row->sprov);
    row->overflow = r->overflow;
    row->len = len;
    memcpy(row->text, buf, len);
    pool_put(s, rec);
    pthread_mutex_lock(&s->wlock);
    row->next = s->wq;
    s->wq = row;
    /* Wake the writer for a batch, not for every row (it also looks every
     * WRITER_NAP_MS by itself). */
    if (++s->wq_len >= WRITER_BATCH && s->writer_waiting) {
        s->writer_waiting = false;
        pthread_cond_signal(&s->wcond);
    }
    pthread_mutex_unlock(&s->wlock);
}

static void done_cb(void *ud, struct mx_record *rec)
{
    finish_record(ud, rec);
}

/* ---- writer ---- */

static void *writer_main(void *arg)
{
    struct scan *s = arg;
    char err[MX_ERRLEN];
    for (;;) {
        pthread_mutex_lock(&s->wlock);
        while (s->wq_len < WRITER_BATCH && !atomic_load(&s->stop) &&
               !(atomic_load(&s->reader_done) && s->next_row == s->total)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += WRITER_NAP_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            s->writer_waiting = true;
            int wr = pthread_cond_timedwait(&s->wcond, &s->wlock, &ts);
            s->writer_waiting = false;
            if (wr == ETIMEDOUT)
                break;
        }
        struct row *q = s->wq;
        s->wq = NULL;
        s->wq_len = 0;
        pthread_mutex_unlock(&s->wlock);
        while (q) {
            struct row *n = q->next;
            s->slots[q->seq % s->reorder] = q;
            q = n;
        }
        uint64_t before = s->next_row;
        for (;;) {
            struct row *r = s->slots[s->next_row % s->reorder];
            if (!r || r->seq != s->next_row)
                break;
            s->slots[s->next_row % s->reorder] = NULL;
            if (!atomic_load(&s->output_failed)) {
                if (mx_output_line(s->out, r->text, r->len, err, sizeof err) != MX_OK)
                    output_failure(s, err);
                mx_tally_add_parts(&s->tally, r->status, r->mail, r->findings, r->prov, r->nprov,
                                   r->sprov, r->nsprov, r->overflow);
            }
            s->next_row++;
            free(r);
        }
        if (s->next_row != before) {
            atomic_store_explicit(&s->written, s->next_row, memory_order_relaxed);
            pthread_mutex_lock(&s->plock);
            pthread_cond_broadcast(&s->pcond); /* room in the reorder window */
            pthread_mutex_unlock(&s->plock);
        }
        if (atomic_load(&s->stop))
            break;
        if (!atomic_load(&s->output_failed) &&
            mx_output_sync(s->out, s->next_row, false, err, sizeof err) != MX_OK) {
            output_failure(s, err);
            break;
        }
        if (atomic_load(&s->reader_done) && s->next_row == s->total)
            break;
    }
    atomic_store(&s->writer_done, true);
    pthread_mutex_lock(&s->donelock);
    pthread_cond_broadcast(&s->donecond);
    pthread_mutex_unlock(&s->donelock);
    return NULL;
}

/* ---- reader ---- */

static void *reader_main(void *arg)
{
    struct scan *s = arg;
    const struct mx_config *cfg = s->cfg;
    uint64_t skip = s->start_rows, seq = s->start_rows;
    char err[MX_ERRLEN];
    /* An invalid line is shown whole (escaped), not cut to a name's size. */
    static char shown[MX_INPUT_LINE_MAX * 4 + 1];
    uint64_t last_line = 0;
    unsigned last_file = 0;
    struct mx_input_line line;
    while (!atomic_load(&s->stop)) {
        enum mx_status st = mx_input_next(s->in, &line, err, sizeof err);
        if (st == MX_EEOF || st == MX_EINTR)
            break; /* the end, or a stop while waiting for input */
        if (st != MX_OK) {
            if (last_line)
                fprintf(stderr, "mxscan: %s; the last complete line read was line %" PRIu64
                                " of %s\n",
                        err, last_line, cfg->inputs[last_file]);
            else
                fprintf(stderr, "mxscan: %s\n", err);
            s->input_errors++;
            s->input_failed = true;
            break;
        }
        last_line = line.line_no;
        last_file = line.file_index;
        if (cfg->shard_count > 1 &&
            mx_input_shard_hash(line.raw, line.rawlen) % cfg->shard_count != cfg->shard_index)
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        struct mx_record *rec = pool_get(s, seq);
        if (!rec)
            break;
        rec->seq = seq++;
        rec->line_no = line.line_no;
        rec->file_index = line.file_index;
        mx_result_reset(&rec->res);
        rec->valid = mx_name_normalize(line.name, line.len, shown, sizeof shown);
        if (rec->valid)
            memcpy(rec->domain, shown, strlen(shown) + 1);
        if (!rec->valid) {
            mx_analyze_invalid(shown, &rec->res);
            finish_record(s, rec);
        } else {
            mx_engine_submit(s->eng, rec);
        }
    }
    pthread_mutex_lock(&s->wlock);
    s->total = seq;
    atomic_store(&s->reader_done, true);
    pthread_cond_signal(&s->wcond);
    pthread_mutex_unlock(&s->wlock);
    mx_engine_close(s->eng);
    return NULL;
}

/* ---- signals ---- */

static void *signal_main(void *arg)
{
    struct scan *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2); /* internal: end of the scan */
    int n = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR2)
            return NULL;
        if (++n >= 2) {
            /* Second signal: stop at once; the checkpoint on disk still
             * describes a durable, resumable output. */
            static const char msg[] =
                "\nmxscan: second signal, stopping at once; rerun with --resume to continue\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
            (void)w;
            _exit(sig == SIGINT ? MX_EXIT_SIGINT : MX_EXIT_SIGTERM);
        }
        if (!s->cfg->quiet)
            fprintf(stderr, "\nmxscan: %s received, stopping (again to stop at once)\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
        request_stop(s, sig == SIGINT ? STOP_SIGINT : STOP_SIGTERM);
    }
}

static void late_signal(int sig)
{
    _exit(sig == SIGINT ? MX_EXIT_SIGINT : MX_EXIT_SIGTERM);
}

/* ---- monitor: progress, status file, watchdog ---- */

struct monitor {
    struct scan *s;
    pthread_t th;
    atomic_bool quit;
};

static void fmt_duration(char *buf, size_t len, double secs)
{
    if (secs < 0 || secs > 1e7) {
        snprintf(buf, len, "--:--");
        return;
    }
    unsigned long t = (unsigned long)secs;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%02lu:%02lu", t / 60, t % 60);
}

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    struct scan *s = m->s;
    const struct mx_config *cfg = s->cfg;
    bool show = progress_enabled(cfg);
    bool tty = isatty(STDERR_FILENO);
    FILE *status = NULL;
    if (cfg->status_file) {
        status = fopen(cfg->status_file, "w");
        if (!status)
            fprintf(stderr, "mxscan: cannot write status file %s: %s\n", cfg->status_file,
                    strerror(errno));
    }
    struct mx_counters prev;
    memset(&prev, 0, sizeof prev);
    uint64_t prev_rows = atomic_load(&s->written);
    double rates[5] = {0};
    unsigned nrates = 0;
    uint64_t base_rate = mx_engine_rate(s->eng);
    unsigned bad_secs = 0, good_secs = 0;
    uint64_t bad_since = 0;
    /* Stall detector: records wait, yet nothing at all happens (no query
     * sent or ended, no analysis run). Every query ends within the timeout,
     * so a healthy scan never stays still for longer than that. */
    uint64_t still_since = mx_now_ms(), prev_motion = UINT64_MAX;
    uint64_t stall_ms = (uint64_t)cfg->stall_s * 1000;
    if (stall_ms < 2ull * cfg->timeout_ms + 2000)
        stall_ms = 2ull * cfg->timeout_ms + 2000;
    while (!atomic_load(&m->quit)) {
        for (int i = 0; i < 10 && !atomic_load(&m->quit); i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&m->quit))
            break;
        uint64_t now = mx_now_ms();
        struct mx_counters c;
        mx_engine_counters(s->eng, &c);
        uint64_t rows = atomic_load(&s->written);
        double el = (double)(now - s->t0_ms) / 1000.0;
        rates[nrates++ % 5] = (double)(rows - prev_rows);
        double cur = 0;
        unsigned k = nrates < 5 ? nrates : 5;
        for (unsigned i = 0; i < k; i++)
            cur += rates[i];
        cur = k ? cur / k : 0;
        double avg = el > 0 ? (double)(rows - s->start_rows) / el : 0;
        /* Watchdog: the share of failed look-ups over the last second. */
        uint64_t d_to = c.timeouts - prev.timeouts;
        uint64_t d_fail = d_to + (c.rcode[MX_RC_SERVFAIL] - prev.rcode[MX_RC_SERVFAIL]) +
                          (c.rcode[MX_RC_REFUSED] - prev.rcode[MX_RC_REFUSED]);
        uint64_t d_all = (c.answered - prev.answered) + d_to;
        bool bad = d_all >= 10 && (double)d_fail > cfg->watchdog_ratio * (double)d_all;
        if (bad) {
            if (bad_secs == 0 && bad_since == 0)
                bad_since = now - 1000;
            bad_secs++;
            good_secs = 0;
            if (cfg->watchdog_backoff_s && bad_secs % cfg->watchdog_backoff_s == 0) {
                uint64_t r = mx_engine_rate(s->eng);
                uint64_t sent_rate = c.sent - prev.sent;
                uint64_t nr = (r ? r : (sent_rate ? sent_rate : 100)) / 2;
                if (nr < 10)
                    nr = 10;
                mx_engine_set_rate(s->eng, nr);
                if (!cfg->quiet)
                    fprintf(stderr, "\nmxscan: %.0f%% of look-ups failing; rate lowered to %" PRIu64
                                    " queries/s\n",
                            100.0 * (double)d_fail / (double)d_all, nr);
            }
            if (cfg->watchdog_stop_s && now - bad_since >= (uint64_t)cfg->watchdog_stop_s * 1000) {
                uint64_t margin = (uint64_t)cfg->timeout_ms * (cfg->retries + 1) + 2000;
                s->watchdog_since_ms = bad_since > margin ? bad_since - margin : 0;
                set_once(s, s->stopmsg,
                         "the resolver failed %.0f%% of look-ups for %u s; stopped. The output "
                         "was cut back to before the trouble began; rerun the same command with "
                         "--resume once the resolver is healthy",
                         100.0 * (double)d_fail / (double)d_all, cfg->watchdog_stop_s);
                request_stop(s, STOP_WATCHDOG);
            }
        } else if (d_all > 0) {
            good_secs++;
            if (good_secs >= (cfg->watchdog_backoff_s ? cfg->watchdog_backoff_s : 5)) {
                bad_secs = 0;
                bad_since = 0;
                uint64_t r = mx_engine_rate(s->eng);
                if (r != base_rate) {
                    uint64_t nr = base_rate == 0 || r * 2 >= base_rate ? base_rate : r * 2;
                    mx_engine_set_rate(s->eng, nr);
                    good_secs = 0;
                }
            }
        }
        uint64_t total = mx_input_bytes_total(s->in), done_b = mx_input_bytes_read(s->in);
        double pct = total ? 100.0 * (double)done_b / (double)total : -1;
        char eta[32], els[32];
        fmt_duration(els, sizeof els, el);
        fmt_duration(eta, sizeof eta,
                     pct > 0 && pct < 100 ? el * (100.0 - pct) / pct : (pct >= 100 ? 0 : -1));
        if (show) {
            char pbuf[32];
            if (pct >= 0)
                snprintf(pbuf, sizeof pbuf, "%5.1f%%", pct);
            else
                snprintf(pbuf, sizeof pbuf, "  -   ");
            fprintf(stderr,
                    "%s%s %s %" PRIu64 " done, %.0f/s (avg %.0f/s), %" PRIu64 " q in flight, "
                    "%" PRIu64 " timeouts, NX %" PRIu64 " SF %" PRIu64 ", ETA %s%s",
                    tty ? "\r" : "", els, pbuf, rows, cur, avg, c.inflight, c.timeouts,
                    atomic_load(&s->tally.status[MX_RC_NXDOMAIN]),
                    atomic_load(&s->tally.status[MX_RC_SERVFAIL]), eta, tty ? "\033[K" : "\n");
            fflush(stderr);
        }
        if (status) {
            fprintf(status,
                    "{\"elapsed_seconds\":%.1f,\"rows\":%" PRIu64 ",\"percent\":%.2f,"
                    "\"rows_per_second\":%.1f,\"queries_sent\":%" PRIu64 ",\"in_flight\":%" PRIu64
                    ",\"timeouts\":%" PRIu64 ",\"retried\":%" PRIu64 ",\"rate_limit\":%" PRIu64
                    "}\n",
                    el, rows, pct, cur, c.sent, c.inflight, c.timeouts, c.retried,
                    mx_engine_rate(s->eng));
            fflush(status);
        }
        uint64_t motion = c.sent + c.answered + c.retried + c.timeouts + c.rounds;
        if (c.active == 0 || motion != prev_motion) {
            still_since = now;
            prev_motion = motion;
        } else if (now - still_since >= stall_ms && !atomic_load(&s->stop)) {
            if (show && tty)
                fputc('\n', stderr);
            fprintf(stderr,
                    "mxscan: stalled: %" PRIu64 " domains wait, %" PRIu64 " look-ups in flight, "
                    "%" PRIu64 " queued, and nothing has happened for %.0f s. This is a bug in "
                    "mxscan; please report it with the lines below.\n",
                    c.active, c.inflight, c.queued, (double)(now - still_since) / 1000.0);
            mx_engine_describe(s->eng, stderr, 20, 1000);
            set_once(s, s->stopmsg,
                     "stopped after a stall; every row before the first stuck domain is "
                     "written: rerun the same command with --resume to continue");
            request_stop(s, STOP_STALL);
        }
        prev = c;
        prev_rows = rows;
    }
    if (show && tty)
        fputc('\n', stderr);
    if (status)
        fclose(status);
    return NULL;
}

/* ---- fingerprint ---- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void fingerprint(const struct mx_config *cfg, char *out, size_t len)
{
    uint64_t hi = 1469598103934665603ull, ho = 1469598103934665603ull;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const char *p = cfg->inputs[i];
        hi = fnv(hi, p, strlen(p) + 1);
        struct stat st;
        if (strcmp(p, "-") != 0 && stat(p, &st) == 0) {
            uint64_t size = (uint64_t)st.st_size;
            hi = fnv(hi, &size, sizeof size);
            FILE *f = fopen(p, "rb");
            if (f) {
                unsigned char buf[65536];
                size_t n = fread(buf, 1, sizeof buf, f);
                hi = fnv(hi, buf, n);
                fclose(f);
            }
        }
    }
    char opt[1024];
    int n = snprintf(opt, sizeof opt, "v1 checks=%u shard=%u/%u out=%s providers=%s",
                     cfg->checks, cfg->shard_index, cfg->shard_count,
                     cfg->output && strlen(cfg->output) > 4 &&
                             strcmp(cfg->output + strlen(cfg->output) - 4, ".csv") == 0
                         ? "csv"
                         : "zst",
                     cfg->providers_path ? cfg->providers_path : "default");
    ho = fnv(ho, opt, (size_t)n);
    ho = fnv(ho, &cfg->allow.n, sizeof cfg->allow.n);
    for (size_t i = 0; i < cfg->allow.n; i++) {
        char a[64];
        mx_ip_format(&cfg->allow.r[i].ip, a, sizeof a);
        ho = fnv(ho, a, strlen(a));
        ho = fnv(ho, &cfg->allow.r[i].len, 1);
    }
    snprintf(out, len, "i=%016" PRIx64 ",o=%016" PRIx64, hi, ho);
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the scan ---- */

int mx_scan_run(const struct mx_config *cfg)
{
    int rc = MX_EXIT_FAIL;
    char err[MX_ERRLEN] = "";
    char fp[80], started[32], ended[32];
    struct scan *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "mxscan: out of memory\n");
        return MX_EXIT_FAIL;
    }
    pthread_t rth, wth, sth;
    bool have_r = false, have_w = false, have_s = false;
    struct monitor mon = {.s = s};
    bool have_m = false;
    struct mx_checkpoint ck;
    bool resumed = false;
    iso_now(started, sizeof started);
    s->cfg = cfg;
    s->t0_ms = mx_now_ms();
    pthread_mutex_init(&s->plock, NULL);
    pthread_cond_init(&s->pcond, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    pthread_cond_init(&s->wcond, NULL);
    pthread_mutex_init(&s->donelock, NULL);
    pthread_mutex_init(&s->elock, NULL);
    pthread_cond_init(&s->donecond, NULL);

    if (mx_providers_load(cfg->providers_path, &s->providers, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: providers: %s\n", err);
        goto out;
    }
    s->acfg.checks = cfg->checks;
    s->acfg.allow = &cfg->allow;
    s->acfg.providers = s->providers;
    fingerprint(cfg, fp, sizeof fp);

    if (cfg->resume) {
        char ckpath[4200];
        if (!mx_checkpoint_path(cfg->output, ckpath, sizeof ckpath)) {
            fprintf(stderr, "mxscan: --resume needs a regular output file (-o FILE)\n");
            rc = MX_EXIT_USAGE;
            goto out;
        }
        if (mx_checkpoint_read(ckpath, &ck, err, sizeof err) != MX_OK) {
            fprintf(stderr, "mxscan: %s; nothing to resume: run the scan without --resume\n", err);
            goto out;
        }
        if (strncmp(ck.fingerprint, fp, 19) != 0) {
            fprintf(stderr, "mxscan: cannot resume %s: the input files differ from the "
                            "interrupted scan's (name, size or content). Resume with the same "
                            "inputs, or start afresh without --resume\n",
                    cfg->output);
            goto out;
        }
        if (strcmp(ck.fingerprint, fp) != 0) {
            fprintf(stderr, "mxscan: cannot resume %s: options that shape the rows (--checks, "
                            "--allow-address, --shard, --providers, output format) differ from "
                            "the interrupted scan's. Use the same options, or start afresh "
                            "without --resume\n",
                    cfg->output);
            goto out;
        }
        if (ck.complete) {
            if (!cfg->quiet)
                fprintf(stderr, "mxscan: %s is already complete (%" PRIu64 " rows)\n",
                        cfg->output, ck.rows);
            rc = MX_EXIT_OK;
            goto out;
        }
        if (mx_tally_from_output(&s->tally, s->providers, cfg->output, ck.offset, err,
                                 sizeof err) != MX_OK) {
            fprintf(stderr, "mxscan: cannot read back %s: %s\n", cfg->output, err);
            goto out;
        }
        s->start_rows = ck.rows;
        resumed = true;
        if (!cfg->quiet)
            fprintf(stderr, "mxscan: resuming %s after %" PRIu64 " rows\n", cfg->output, ck.rows);
    }

    if (mx_input_open(&s->in, cfg->inputs, cfg->ninputs, err, sizeof err) != MX_OK) {
        /* Before any query: a usage problem (exit 2), like a bad option. */
        fprintf(stderr, "mxscan: %s; check the INPUT arguments\n", err);
        rc = MX_EXIT_USAGE;
        goto out;
    }
    mx_input_set_cancel(s->in, &s->stop);
    if (mx_output_open(cfg, fp, resumed ? &ck : NULL, &s->out, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        goto out;
    }
    s->window = cfg->window ? cfg->window : 1024;
    s->recs = calloc(s->window, sizeof *s->recs);
    s->reorder = cfg->reorder > s->window ? cfg->reorder : s->window;
    s->slots = calloc(s->reorder, sizeof *s->slots);
    if (!s->recs || !s->slots) {
        fprintf(stderr, "mxscan: out of memory for a window of %u domains; lower --window\n",
                s->window);
        goto out;
    }
    for (unsigned i = 0; i < s->window; i++) {
        s->recs[i].next = s->free_list;
        s->free_list = &s->recs[i];
    }
    s->nfree = s->window;
    s->lowat = s->window / 16 ? s->window / 16 : 1;
    s->next_row = s->start_rows;
    atomic_store(&s->written, s->start_rows);
    if (mx_engine_create(cfg, mx_analyze_record, &s->acfg, done_cb, s, &s->eng, err,
                         sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        goto out;
    }

    /* Signals go to the signal thread only. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    have_s = pthread_create(&sth, NULL, signal_main, s) == 0;
    if (mx_engine_start(s->eng, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        goto stop_threads;
    }
    have_w = pthread_create(&wth, NULL, writer_main, s) == 0;
    have_r = pthread_create(&rth, NULL, reader_main, s) == 0;
    have_m = pthread_create(&mon.th, NULL, monitor_main, &mon) == 0;
    if (!have_w || !have_r) {
        fprintf(stderr, "mxscan: cannot start threads\n");
        request_stop(s, STOP_ERROR);
    }

    /* Wait for the writer to finish (all rows) or a stop. */
    pthread_mutex_lock(&s->donelock);
    while (have_w && !atomic_load(&s->writer_done))
        pthread_cond_wait(&s->donecond, &s->donelock);
    pthread_mutex_unlock(&s->donelock);

stop_threads:
    if (atomic_load(&s->stop) != STOP_NONE)
        mx_engine_abort(s->eng);
    if (have_w)
        pthread_join(wth, NULL);
    if (have_r)
        pthread_join(rth, NULL); /* a stop reaches it within 100 ms, even on a quiet pipe */
    /* Workers get a bounded time to stop; one that does not is left
     * running (a signal must end the scan within 2 s whatever they do). */
    bool left = !mx_engine_join_timed(s->eng, atomic_load(&s->stop) != STOP_NONE ? STOP_GRACE_MS
                                                                               : 30000);
    if (left) {
        atomic_store(&threads_left, true);
        if (atomic_load(&s->stop) == STOP_NONE)
            request_stop(s, STOP_ERROR);
        fprintf(stderr, "mxscan: a worker thread did not stop within %.1f s; ending without it\n",
                (double)STOP_GRACE_MS / 1000.0);
    }
    if (have_m) {
        atomic_store(&mon.quit, true);
        pthread_join(mon.th, NULL);
    }
    if (have_s) {
        pthread_kill(sth, SIGUSR2);
        pthread_join(sth, NULL);
    }
    /* From here on a signal (pending, or a second one) stops at once with
     * the scan's exit status; the checkpoint on disk stays resumable. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = late_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    int why = atomic_load(&s->stop);
    bool complete = why == STOP_NONE && !s->input_failed && !atomic_load(&s->output_failed);
    uint64_t rows = s->next_row;
    if (why == STOP_WATCHDOG && s->out && mx_output_resumable(s->out)) {
        rows = mx_output_rollback(s->out, s->watchdog_since_ms);
        memset(&s->tally, 0, sizeof s->tally);
        char ckp[4200];
        struct mx_checkpoint ck2;
        if (mx_checkpoint_path(cfg->output, ckp, sizeof ckp) &&
            mx_checkpoint_read(ckp, &ck2, err, sizeof err) == MX_OK)
            mx_tally_from_output(&s->tally, s->providers, cfg->output, ck2.offset, err,
                                 sizeof err);
    }
    if (s->out) {
        bool failed = atomic_load(&s->output_failed);
        enum mx_status st = mx_output_close(s->out, rows, complete && !failed, err, sizeof err);
        s->out = NULL;
        if (st != MX_OK && !failed)
            output_failure(s, err);
    }
    struct mx_counters c;
    struct mx_cache_stats cs;
    mx_engine_counters(s->eng, &c);
    mx_engine_cache_stats(s->eng, &cs);
    iso_now(ended, sizeof ended);
    static const char *const reasons[] = {"complete", "interrupted", "terminated", "watchdog",
                                          "error",    "stalled"};
    struct mx_run_info ri = {
        .cfg = cfg,
        .providers = s->providers,
        .counters = &c,
        .cache = &cs,
        .elapsed_s = (double)(mx_now_ms() - s->t0_ms) / 1000.0,
        .started = started,
        .ended = ended,
        .stop_reason = s->input_failed && why == STOP_NONE ? "input error" : reasons[why],
        .resumed = resumed,
        .input_errors = s->input_errors,
    };
    if (cfg->stats_path) {
        FILE *f = strcmp(cfg->stats_path, "-") == 0 ? stdout : fopen(cfg->stats_path, "w");
        if (!f) {
            set_once(s, s->errmsg, "cannot write statistics %s: %s", cfg->stats_path,
                     strerror(errno));
            atomic_store(&s->output_failed, true);
        } else {
            mx_stats_write_json(f, &s->tally, &ri);
            if (f != stdout && fclose(f) != 0) {
                set_once(s, s->errmsg, "cannot write statistics %s: %s", cfg->stats_path,
                         strerror(errno));
                atomic_store(&s->output_failed, true);
            }
        }
    }
    if (!cfg->quiet)
        mx_stats_write_summary(stderr, &s->tally, &ri);
    if (atomic_load(&s->output_failed)) {
        fprintf(stderr, "mxscan: output failed: %s. The output up to the last checkpoint is "
                        "intact: fix the cause (e.g. free disk space) and rerun with --resume\n",
                s->errmsg);
        rc = MX_EXIT_FAIL;
    } else if (why == STOP_STALL) {
        fprintf(stderr, "mxscan: %s (%" PRIu64 " rows written)\n", s->stopmsg, rows);
        rc = MX_EXIT_STALL;
    } else if (why == STOP_WATCHDOG) {
        fprintf(stderr, "mxscan: %s (%" PRIu64 " rows kept)\n", s->stopmsg, rows);
        rc = MX_EXIT_WATCHDOG;
    } else if (why == STOP_SIGINT || why == STOP_SIGTERM) {
        if (!cfg->quiet)
            fprintf(stderr, "mxscan: stopped after %" PRIu64 " rows; rerun the same command "
                            "with --resume to continue\n",
                    rows);
        rc = why == STOP_SIGINT ? MX_EXIT_SIGINT : MX_EXIT_SIGTERM;
    } else if (s->input_failed) {
        fprintf(stderr, "mxscan: stopped at an input error after %" PRIu64 " rows\n", rows);
        rc = MX_EXIT_FAIL;
    } else {
        rc = MX_EXIT_OK;
    }
    if (c.stuck && !cfg->quiet)
        fprintf(stderr, "mxscan: warning: %" PRIu64 " analyses ended early (internal limit)\n",
                c.stuck);

out:
    if (s->out) {
        char e2[MX_ERRLEN];
        mx_output_close(s->out, s->next_row, false, e2, sizeof e2);
    }
    if (atomic_load(&threads_left))
        return rc; /* a worker still runs and uses s: leave it all to the exit */
    if (s->eng) {
        mx_engine_destroy(s->eng);
        for (unsigned i = 0; s->recs && i < s->window; i++)
            mx_engine_release(&s->recs[i]);
    }
    mx_input_destroy(s->in);
    mx_providers_destroy(s->providers);
    free(s->recs);
    for (unsigned i = 0; s->slots && i < s->reorder; i++)
        free(s->slots[i]);
    while (s->wq) {
        struct row *n = s->wq->next;
        free(s->wq);
        s->wq = n;
    }
    free(s->slots);
    free(s);
    return rc;
}
