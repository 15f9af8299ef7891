/* The scan pipeline (scan.h):
 *
 *   reader thread -> engine workers (resolve + analyse) -> writer thread
 *        |                                                  |
 *        +-- invalid names go straight to the writer -------+
 *
 * A fixed pool of records bounds the work in progress and the writer's
 * reorder window (rows leave in input order). A signal thread turns SIGINT
 * and SIGTERM into a clean stop; the monitor thread (monitor.c) prints
 * progress and runs the watchdog and the stall detector; resume.c decides
 * whether an interrupted scan can go on. mx_scan_run is its phases:
 * prepare (everything that can fail before the first query), start, wait,
 * stop the threads, finish (output, statistics, exit status). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/engine.h"
#include "mx/input.h"
#include "mx/monitor.h"
#include "mx/names.h"
#include "mx/optin.h"
#include "mx/output.h"
#include "mx/preflight.h"
#include "mx/providers.h"
#include "mx/resume.h"
#include "mx/scan.h"
#include "mx/stats.h"

#define WRITER_BATCH 256 /* rows queued before the writer is woken */
#define WRITER_NAP_MS 10 /* ... or after this long */
#define GO_ON (-1)       /* a phase's "no exit status yet" */

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
    struct mx_tally_row tally;
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
    uint64_t *input_hash;       /* mx_tally_input_hash of each input path */
    struct mx_monitor *mon;
    struct mx_optin *optin;     /* the opt-in checks' providers (SMTP probe ...) */
    FILE *stats;                /* --stats, opened before the first query */
    struct mx_tally tally;
    char fingerprint[80];
    char started[32];
    bool resumed;
    struct mx_checkpoint ck;
    struct mx_preflight preflight; /* the resolver probe's queries */
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
    _Atomic uint64_t seen;      /* entries taken by the reader this run */
    _Atomic uint64_t finished;  /* rows finished this run (any order) */
    uint64_t total;             /* seq after the last entry (valid when reader_done) */
    atomic_bool reader_done;
    atomic_bool writer_done;
    /* threads */
    pthread_t rth, wth, sth;
    bool have_r, have_w, have_s;
    sigset_t oldmask;
    bool masked;                /* oldmask holds the mask to restore */
    /* control */
    atomic_int stop;            /* enum mx_stop_reason */
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

static void request_stop(struct scan *s, enum mx_stop_reason why);

/* The output cannot take more rows: note why (the first cause wins) and stop. */
static void output_failure(struct scan *s, const char *msg)
{
    set_once(s, s->errmsg, "%s", msg);
    atomic_store(&s->output_failed, true);
    request_stop(s, MX_STOP_ERROR);
}

/* The monitor's watchdog or stall detector wants the scan to end. */
static void monitor_stop(void *ud, enum mx_stop_reason why, uint64_t since_ms, const char *msg)
{
    struct scan *s = ud;
    set_once(s, s->stopmsg, "%s", msg);
    if (why == MX_STOP_WATCHDOG)
        s->watchdog_since_ms = since_ms;
    request_stop(s, why);
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

static void request_stop(struct scan *s, enum mx_stop_reason why)
{
    int expected = MX_STOP_NONE;
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
    const struct mx_row_info ri = {
        .line_no = rec->line_no,
        .input_file = s->cfg->inputs[rec->file_index],
        .has_rank = rec->has_rank,
        .rank = rec->rank,
        .providers = s->providers,
    };
    enum mx_format fmt = s->cfg->format;
    size_t len = mx_output_format(fmt, r, &ri, buf, sizeof buf);
    struct row *row = len ? malloc(sizeof *row + len) : NULL;
    bool ok = row != NULL;
    if (ok && len <= sizeof buf)
        memcpy(row->text, buf, len);
    else if (ok) /* longer than buf (JSON Lines only): formatted again in place */
        ok = mx_output_format(fmt, r, &ri, row->text, len) == len;
    if (!ok) {
        free(row);
        output_failure(s, "out of memory for a finished row");
        pool_put(s, rec);
        return;
    }
    row->seq = rec->seq;
    row->len = len;
    mx_tally_row_from_result(&row->tally, r, s->input_hash[rec->file_index]);
    pool_put(s, rec);
    atomic_fetch_add_explicit(&s->finished, 1, memory_order_relaxed);
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
                mx_tally_add(&s->tally, &r->tally);
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
        /* the shard follows the name, whatever its line, rank or file */
        bool valid = mx_name_normalize(line.name, line.len, shown, sizeof shown);
        if (cfg->shard_count > 1 && mx_shard_hash(shown) % cfg->shard_count != cfg->shard_index)
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        struct mx_record *rec = pool_get(s, seq);
        if (!rec)
            break;
        atomic_fetch_add_explicit(&s->seen, 1, memory_order_relaxed);
        rec->seq = seq++;
        rec->line_no = line.line_no;
        rec->file_index = line.file_index;
        rec->has_rank = line.has_rank;
        rec->rank = line.rank;
        mx_result_reset(&rec->res);
        rec->valid = valid;
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
        request_stop(s, sig == SIGINT ? MX_STOP_SIGINT : MX_STOP_SIGTERM);
    }
}

static void late_signal(int sig)
{
    _exit(sig == SIGINT ? MX_EXIT_SIGINT : MX_EXIT_SIGTERM);
}

/* A signal while the scan is being prepared (resolver probe, files), before
 * the signal thread takes over: nothing was scanned, and an output already
 * made is empty with its checkpoint (or none), which --resume starts
 * afresh. Stop at once with the scan's exit status. */
static void early_signal(int sig)
{
    static const char msg[] = "mxscan: stopped by a signal before the scan started; nothing "
                              "was scanned\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    late_signal(sig);
}

static void catch_early_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = early_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


/* ---- phases ---- */

static struct scan *scan_new(const struct mx_config *cfg)
{
    struct scan *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    s->t0_ms = mx_now_ms();
    iso_now(s->started, sizeof s->started);
    pthread_mutex_init(&s->plock, NULL);
    pthread_cond_init(&s->pcond, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    pthread_cond_init(&s->wcond, NULL);
    pthread_mutex_init(&s->donelock, NULL);
    pthread_cond_init(&s->donecond, NULL);
    pthread_mutex_init(&s->elock, NULL);
    return s;
}

/* The earlier run of --resume: GO_ON, or the exit status. */
static int prepare_resume(struct scan *s)
{
    const struct mx_config *cfg = s->cfg;
    char err[MX_ERRLEN];
    int code = MX_EXIT_FAIL;
    switch (mx_resume_check(cfg, s->fingerprint, s->providers, &s->ck, &s->tally, &code, err,
                            sizeof err)) {
    case MX_RESUME_COMPLETE:
        if (!cfg->quiet)
            fprintf(stderr, "mxscan: %s is already complete (it has no checkpoint); nothing to "
                            "resume\n",
                    cfg->output);
        return MX_EXIT_OK;
    case MX_RESUME_REFUSED:
        fprintf(stderr, "mxscan: %s\n", err);
        return code;
    case MX_RESUME_FRESH:
        if (!cfg->quiet)
            fprintf(stderr, "mxscan: %s holds no rows and no checkpoint (stopped before its "
                            "first one); starting afresh\n",
                    cfg->output);
        return GO_ON;
    case MX_RESUME_CONTINUE:
        break;
    }
    s->start_rows = s->ck.rows;
    s->resumed = true;
    if (!cfg->quiet)
        fprintf(stderr, "mxscan: resuming %s after %" PRIu64 " rows\n", cfg->output, s->ck.rows);
    return GO_ON;
}

/* An output path we will write: '-' is stdout; else the file must be
 * writable, or its directory when it does not exist yet. */
static bool writable(const char *path, char *why, size_t len)
{
    if (!path || strcmp(path, "-") == 0)
        return true;
    if (access(path, F_OK) == 0) {
        if (access(path, W_OK) == 0)
            return true;
        snprintf(why, len, "%s is not writable: %s", path, strerror(errno));
        return false;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (access(dir, W_OK) == 0)
        return true;
    snprintf(why, len, "cannot create %s: %s", path, strerror(errno));
    return false;
}

/* Every file the scan will write, before anything is asked or written. */
static int check_paths(const struct mx_config *cfg)
{
    static const char *const opt[] = {"-o/--output", "--stats", "--status-file"};
    const char *path[] = {cfg->output, cfg->stats_path, cfg->status_file};
    char why[MX_ERRLEN];
    for (int i = 0; i < 3; i++)
        if (!writable(path[i], why, sizeof why)) {
            fprintf(stderr, "mxscan: %s; check %s\n", why, opt[i]);
            return MX_EXIT_USAGE;
        }
    return GO_ON;
}

/* Opens the inputs, the statistics file and the output. */
static int prepare_files(struct scan *s)
{
    const struct mx_config *cfg = s->cfg;
    char err[MX_ERRLEN];
    if (mx_input_open(&s->in, cfg->inputs, cfg->ninputs, err, sizeof err) != MX_OK) {
        /* Before any query: a usage problem (exit 2), like a bad option. */
        fprintf(stderr, "mxscan: %s; check the INPUT arguments\n", err);
        return MX_EXIT_USAGE;
    }
    mx_input_set_cancel(s->in, &s->stop);
    /* each file's key in the statistics, once rather than per row */
    if (!(s->input_hash = calloc(cfg->ninputs ? cfg->ninputs : 1, sizeof *s->input_hash))) {
        fprintf(stderr, "mxscan: out of memory\n");
        return MX_EXIT_FAIL;
    }
    for (size_t i = 0; i < cfg->ninputs; i++)
        s->input_hash[i] = mx_tally_input_hash(cfg->inputs[i]);
    if (cfg->stats_path) {
        s->stats = strcmp(cfg->stats_path, "-") == 0 ? stdout : fopen(cfg->stats_path, "w");
        if (!s->stats) {
            fprintf(stderr, "mxscan: cannot write the statistics file %s: %s; check --stats\n",
                    cfg->stats_path, strerror(errno));
            return MX_EXIT_USAGE;
        }
    }
    if (mx_output_open(cfg, s->fingerprint, s->resumed ? &s->ck : NULL, &s->out, err,
                       sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        return MX_EXIT_FAIL;
    }
    return GO_ON;
}

/* The record pool and the reorder window. */
static int prepare_pool(struct scan *s)
{
    const struct mx_config *cfg = s->cfg;
    s->window = cfg->window ? cfg->window : 1024;
    s->recs = calloc(s->window, sizeof *s->recs);
    s->reorder = cfg->reorder > s->window ? cfg->reorder : s->window;
    s->slots = calloc(s->reorder, sizeof *s->slots);
    if (!s->recs || !s->slots) {
        fprintf(stderr, "mxscan: out of memory for a window of %u domains; lower --window\n",
                s->window);
        return MX_EXIT_FAIL;
    }
    for (unsigned i = 0; i < s->window; i++) {
        s->recs[i].next = s->free_list;
        s->free_list = &s->recs[i];
    }
    s->nfree = s->window;
    s->lowat = s->window / 16 ? s->window / 16 : 1;
    s->next_row = s->start_rows;
    atomic_store(&s->written, s->start_rows);
    return GO_ON;
}

/* Everything that can fail before the first query. */
static int scan_prepare(struct scan *s)
{
    const struct mx_config *cfg = s->cfg;
    char err[MX_ERRLEN];
    int rc;
    if (mx_providers_load(cfg->providers_path, &s->providers, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: providers: %s\n", err);
        return MX_EXIT_FAIL;
    }
    s->acfg.checks = cfg->checks;
    s->acfg.smtp_rcpt = cfg->smtp_rcpt;
    s->acfg.allow = &cfg->allow;
    s->acfg.providers = s->providers;
    mx_resume_fingerprint(cfg, s->fingerprint, sizeof s->fingerprint);
    catch_early_signals();
    if (cfg->resume && (rc = prepare_resume(s)) != GO_ON)
        return rc;
    if (!cfg->resume && !mx_resume_guard(cfg, err, sizeof err)) {
        fprintf(stderr, "mxscan: %s\n", err);
        return MX_EXIT_USAGE;
    }
    if ((rc = check_paths(cfg)) != GO_ON)
        return rc;
    if (!mx_preflight_resolvers(cfg, &s->preflight)) {
        fprintf(stderr, "mxscan: no resolver answers; nothing was scanned or written\n");
        return MX_EXIT_FAIL;
    }
    /* Signals go to the signal thread only: block them before any thread
     * is made (the SMTP probe's and the policy fetcher's come first), so
     * that none inherits them, and before the output exists, so that a
     * signal from then on stops the scan as an interrupted one (with its
     * statistics and checkpoint); until the signal thread runs they wait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, &s->oldmask);
    s->masked = true;
    if ((rc = prepare_files(s)) != GO_ON || (rc = prepare_pool(s)) != GO_ON)
        return rc;
    if (mx_engine_create(cfg, mx_analyze_record, &s->acfg, done_cb, s, &s->eng, err,
                         sizeof err) != MX_OK ||
        mx_optin_start(cfg, s->eng, &s->optin, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        return MX_EXIT_FAIL;
    }
    struct mx_monitor_src ms = {
        .cfg = cfg, .eng = s->eng, .in = s->in, .seen = &s->seen, .finished = &s->finished,
        .written = &s->written, .reader_done = &s->reader_done, .start_rows = s->start_rows,
        .t0_ms = s->t0_ms, .stop = monitor_stop, .ud = s,
    };
    if (!(s->mon = mx_monitor_start(&ms, err, sizeof err))) {
        fprintf(stderr, "mxscan: %s\n", err);
        return strstr(err, "status file") ? MX_EXIT_USAGE : MX_EXIT_FAIL;
    }
    return GO_ON;
}

/* Signals to the signal thread; workers, writer and reader started. */
static void scan_start(struct scan *s)
{
    char err[MX_ERRLEN];
    signal(SIGPIPE, SIG_IGN);
    s->have_s = pthread_create(&s->sth, NULL, signal_main, s) == 0;
    if (mx_engine_start(s->eng, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        set_once(s, s->errmsg, "%s", err);
        request_stop(s, MX_STOP_ERROR);
        return;
    }
    s->have_w = pthread_create(&s->wth, NULL, writer_main, s) == 0;
    s->have_r = pthread_create(&s->rth, NULL, reader_main, s) == 0;
    if (!s->have_w || !s->have_r) {
        fprintf(stderr, "mxscan: cannot start threads\n");
        request_stop(s, MX_STOP_ERROR);
    }
}

/* Until the writer has every row, or a stop. */
static void scan_wait(struct scan *s)
{
    pthread_mutex_lock(&s->donelock);
    while (s->have_w && !atomic_load(&s->writer_done) && atomic_load(&s->stop) == MX_STOP_NONE)
        pthread_cond_wait(&s->donecond, &s->donelock);
    pthread_mutex_unlock(&s->donelock);
}

static void scan_stop_threads(struct scan *s)
{
    bool stopped = atomic_load(&s->stop) != MX_STOP_NONE;
    if (stopped)
        mx_engine_abort(s->eng);
    if (s->have_w)
        pthread_join(s->wth, NULL);
    if (s->have_r)
        pthread_join(s->rth, NULL); /* a stop reaches it within 100 ms, even on a quiet pipe */
    /* Workers get a bounded time to stop; one that does not is left
     * running (a signal must end the scan within 2 s whatever they do). */
    if (!mx_engine_join_timed(s->eng, stopped ? STOP_GRACE_MS : 30000)) {
        atomic_store(&threads_left, true);
        if (atomic_load(&s->stop) == MX_STOP_NONE)
            request_stop(s, MX_STOP_ERROR);
        fprintf(stderr, "mxscan: a worker thread did not stop within %.1f s; ending without it\n",
                (double)STOP_GRACE_MS / 1000.0);
    }
    mx_monitor_stop(s->mon);
    s->mon = NULL;
    if (!atomic_load(&threads_left)) {
        mx_optin_stop(s->optin); /* requests still out are answered as aborted */
        s->optin = NULL;
    }
    if (s->have_s) {
        pthread_kill(s->sth, SIGUSR2);
        pthread_join(s->sth, NULL);
    }
    /* From here on a signal (pending, or a second one) stops at once with
     * the scan's exit status; the checkpoint on disk stays resumable. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = late_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_sigmask(SIG_SETMASK, &s->oldmask, NULL);
    s->masked = false;
}

/* Closes the output (after a watchdog stop: cut back to before the
 * trouble, rows counted afresh); returns the rows it holds. */
static uint64_t finish_output(struct scan *s, enum mx_stop_reason why)
{
    const struct mx_config *cfg = s->cfg;
    char err[MX_ERRLEN];
    bool complete = why == MX_STOP_NONE && !s->input_failed && !atomic_load(&s->output_failed);
    uint64_t rows = s->next_row;
    if (why == MX_STOP_WATCHDOG && mx_output_resumable(s->out)) {
        rows = mx_output_rollback(s->out, s->watchdog_since_ms);
        memset(&s->tally, 0, sizeof s->tally);
        char ckp[4200];
        struct mx_checkpoint ck2;
        if (mx_checkpoint_path(cfg->output, ckp, sizeof ckp) &&
            mx_checkpoint_read(ckp, &ck2, err, sizeof err) == MX_OK)
            mx_tally_from_output(&s->tally, s->providers, cfg->output, ck2.offset, err,
                                 sizeof err);
    }
    bool failed = atomic_load(&s->output_failed);
    enum mx_status st = mx_output_close(s->out, rows, complete && !failed, err, sizeof err);
    s->out = NULL;
    if (st != MX_OK && !failed)
        output_failure(s, err);
    else if (complete && !failed)
        mx_resume_done(cfg); /* nothing left beside a finished output */
    return rows;
}

static void write_stats(struct scan *s, enum mx_stop_reason why, const struct mx_counters *c)
{
    static const char *const reasons[] = {"complete", "interrupted", "terminated", "watchdog",
                                          "error",    "stalled"};
    struct mx_cache_stats cs;
    char ended[32];
    mx_engine_cache_stats(s->eng, &cs);
    iso_now(ended, sizeof ended);
    struct mx_run_info ri = {
        .cfg = s->cfg,
        .providers = s->providers,
        .counters = c,
        .cache = &cs,
        .elapsed_s = (double)(mx_now_ms() - s->t0_ms) / 1000.0,
        .started = s->started,
        .ended = ended,
        .stop_reason = s->input_failed && why == MX_STOP_NONE ? "input error" : reasons[why],
        .resumed = s->resumed,
        .input_errors = s->input_errors,
    };
    if (s->stats) {
        mx_stats_write_json(s->stats, &s->tally, &ri);
        if (s->stats != stdout && fclose(s->stats) != 0) {
            set_once(s, s->errmsg, "cannot write statistics %s: %s", s->cfg->stats_path,
                     strerror(errno));
            atomic_store(&s->output_failed, true);
        }
        s->stats = NULL;
    }
    if (!s->cfg->quiet)
        mx_stats_write_summary(stderr, &s->tally, &ri);
}

/* The message and exit status of how the scan ended. */
static int exit_status(struct scan *s, enum mx_stop_reason why, uint64_t rows)
{
    const struct mx_config *cfg = s->cfg;
    if (atomic_load(&s->output_failed)) {
        fprintf(stderr, "mxscan: output failed: %s. The output up to the last checkpoint is "
                        "intact: fix the cause (e.g. free disk space) and rerun with --resume\n",
                s->errmsg);
        return MX_EXIT_FAIL;
    }
    switch (why) {
    case MX_STOP_STALL:
        fprintf(stderr, "mxscan: %s (%" PRIu64 " rows written)\n", s->stopmsg, rows);
        return MX_EXIT_STALL;
    case MX_STOP_WATCHDOG:
        fprintf(stderr, "mxscan: %s (%" PRIu64 " rows kept)\n", s->stopmsg, rows);
        return MX_EXIT_WATCHDOG;
    case MX_STOP_SIGINT:
    case MX_STOP_SIGTERM:
        if (!cfg->quiet)
            fprintf(stderr, "mxscan: stopped after %" PRIu64 " rows; rerun the same command "
                            "with --resume to continue\n",
                    rows);
        return why == MX_STOP_SIGINT ? MX_EXIT_SIGINT : MX_EXIT_SIGTERM;
    case MX_STOP_ERROR:
        return MX_EXIT_FAIL;
    case MX_STOP_NONE:
        break;
    }
    if (s->input_failed) {
        fprintf(stderr, "mxscan: stopped at an input error after %" PRIu64 " rows\n", rows);
        return MX_EXIT_FAIL;
    }
    /* A complete scan in which most domains could not be looked up says
     * more about the resolver than about the domains: not a quiet success. */
    uint64_t looked = rows - atomic_load(&s->tally.status[MX_RC_INVALID]);
    uint64_t failed = atomic_load(&s->tally.status[MX_RC_TIMEOUT]) +
                      atomic_load(&s->tally.status[MX_RC_SERVFAIL]) +
                      atomic_load(&s->tally.status[MX_RC_REFUSED]);
    if (looked >= 10 && (double)failed > cfg->watchdog_ratio * (double)looked) {
        fprintf(stderr,
                "mxscan: the scan is complete, but the MX look-up failed (timeout, SERVFAIL, "
                "REFUSED) for %" PRIu64 " of %" PRIu64 " domains: check the resolver before "
                "using these rows (exit status 3)\n",
                failed, looked);
        return MX_EXIT_WATCHDOG;
    }
    return MX_EXIT_OK;
}

static int scan_finish(struct scan *s)
{
    enum mx_stop_reason why = (enum mx_stop_reason)atomic_load(&s->stop);
    uint64_t rows = finish_output(s, why);
    struct mx_counters c;
    mx_engine_counters(s->eng, &c);
    /* every query this run sent is counted, the probe's too */
    c.sent += s->preflight.sent;
    c.answered += s->preflight.answered;
    c.retried += s->preflight.retried;
    c.timeouts += s->preflight.timeouts;
    for (int r = 0; r < MX_RC_COUNT; r++)
        c.rcode[r] += s->preflight.rcode[r];
    write_stats(s, why, &c);
    int rc = exit_status(s, why, rows);
    if (c.stuck && !s->cfg->quiet)
        fprintf(stderr, "mxscan: warning: %" PRIu64 " analyses ended early (internal limit)\n",
                c.stuck);
    return rc;
}

static void scan_free(struct scan *s)
{
    if (s->out) {
        char e2[MX_ERRLEN];
        mx_output_close(s->out, s->next_row, false, e2, sizeof e2);
    }
    if (s->stats && s->stats != stdout)
        fclose(s->stats);
    mx_monitor_stop(s->mon);
    if (s->masked) /* prepare failed after blocking the signals */
        pthread_sigmask(SIG_SETMASK, &s->oldmask, NULL);
    if (atomic_load(&threads_left))
        return; /* a worker still runs and uses s: leave it all to the exit */
    mx_optin_stop(s->optin);
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
    free(s->input_hash);
    free(s);
}

int mx_scan_run(const struct mx_config *cfg)
{
    struct scan *s = scan_new(cfg);
    if (!s) {
        fprintf(stderr, "mxscan: out of memory\n");
        return MX_EXIT_FAIL;
    }
    int rc = scan_prepare(s);
    if (rc == GO_ON) {
        scan_start(s);
        scan_wait(s);
        scan_stop_threads(s);
        rc = scan_finish(s);
    }
    scan_free(s);
    return rc;
}
