/* mxscan diff OLD NEW: a streaming join of two result files by domain
 * (README "mxscan diff"). Each file is read by its own thread into
 * batches of rows, a few batches at most in flight, so memory does not
 * grow with the files. The join needs both files in the same row order:
 * it pairs rows as long as their domains agree; at the first disagreement
 * both files must be sorted by domain (bytewise) so far, and from then on
 * it is a sorted merge; any row out of order ends the diff with an error. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>

#include "mx/stats.h"
#include "mx/study.h"

#define BATCH_ROWS 256
#define QUEUE_BATCHES 4

struct batch {
    size_t n, used, cap;
    char *arena;                          /* the rows' fields, NUL-terminated */
    size_t off[BATCH_ROWS][MX_DF_COUNT];
};

/* One input file and the thread that reads it. */
struct feed {
    const char *path, *label;             /* label: OLD or NEW */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *queue[QUEUE_BATCHES];
    size_t head, count;
    bool done, no_domain;
    enum mx_status st;
    char err[MX_ERRLEN];
    atomic_bool *stop;
    struct mx_colmap map;
    struct batch *filling;                /* reader side */
    struct batch *cur;                    /* join side: the batch being read */
    size_t pos;
    uint64_t rows;
    struct mx_drow row;                   /* the current row (fields in cur) */
    char *prev;                           /* the previous row's domain */
    size_t prev_cap;
    bool sorted;                          /* every row so far at or after the one before */
};

/* ---- reader thread ---- */

static bool batch_add(struct batch *b, const char *const *f)
{
    for (unsigned i = 0; i < MX_DF_COUNT; i++) {
        size_t len = strlen(f[i]) + 1;
        if (b->used + len > b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 65536;
            while (cap < b->used + len)
                cap *= 2;
            char *a = realloc(b->arena, cap);
            if (!a)
                return false;
            b->arena = a;
            b->cap = cap;
        }
        memcpy(b->arena + b->used, f[i], len);
        b->off[b->n][i] = b->used;
        b->used += len;
    }
    b->n++;
    return true;
}

static void batch_free(struct batch *b)
{
    if (b)
        free(b->arena);
    free(b);
}

/* Hands the filled batch to the join (waits while the queue is full). */
static void push(struct feed *fd)
{
    pthread_mutex_lock(&fd->mu);
    while (fd->count == QUEUE_BATCHES && !atomic_load(fd->stop))
        pthread_cond_wait(&fd->cv, &fd->mu);
    if (atomic_load(fd->stop)) {
        batch_free(fd->filling);
    } else {
        fd->queue[(fd->head + fd->count++) % QUEUE_BATCHES] = fd->filling;
        pthread_cond_broadcast(&fd->cv);
    }
    fd->filling = NULL;
    pthread_mutex_unlock(&fd->mu);
}

static void feed_row(void *ud, const char *const *f, unsigned n, const char *const *h,
                     unsigned nh)
{
    struct feed *fd = ud;
    if (atomic_load(fd->stop))
        return;
    if (!fd->map.ready) {
        mx_colmap_build(&fd->map, h, nh);
        fd->no_domain = fd->map.idx[MX_COL_DOMAIN] < 0;
    }
    if (fd->no_domain) {
        atomic_store(fd->stop, true);
        return;
    }
    const char *cols[MX_DF_COUNT];
    for (unsigned i = 0; i < MX_DF_COUNT; i++)
        cols[i] = mx_colmap_get(&fd->map, f, n, mx_diff_columns[i]);
    if (!fd->filling)
        fd->filling = calloc(1, sizeof *fd->filling);
    if (!fd->filling || !batch_add(fd->filling, cols)) {
        snprintf(fd->err, sizeof fd->err, "out of memory");
        fd->st = MX_ENOMEM;
        atomic_store(fd->stop, true);
        return;
    }
    if (fd->filling->n == BATCH_ROWS)
        push(fd);
}

static void *reader(void *arg)
{
    struct feed *fd = arg;
    char err[MX_ERRLEN];
    enum mx_status st = mx_results_read_until(fd->path, 0, feed_row, fd, fd->stop, err, sizeof err);
    if (fd->filling)
        push(fd);
    pthread_mutex_lock(&fd->mu);
    if (st != MX_OK && fd->st == MX_OK) {
        fd->st = st;
        snprintf(fd->err, sizeof fd->err, "%s", err);
    }
    if (fd->no_domain && fd->st == MX_OK) {
        fd->st = MX_EFORMAT;
        snprintf(fd->err, sizeof fd->err, "%s is not a results file of mxscan (no 'domain' "
                 "column in its header)", fd->path);
    }
    fd->done = true;
    pthread_cond_broadcast(&fd->cv);
    pthread_mutex_unlock(&fd->mu);
    return NULL;
}

/* ---- join side ---- */

/* Moves to the next row: true with fd->row set; false at the end or on an
 * error (fd->st). */
static bool next_row(struct feed *fd)
{
    const char *d = fd->cur && fd->pos > 0 ? fd->row.f[MX_DF_DOMAIN] : NULL;
    if (d) {
        size_t len = strlen(d) + 1;
        if (len > fd->prev_cap) {
            char *p = realloc(fd->prev, len);
            if (!p)
                return false;
            fd->prev = p;
            fd->prev_cap = len;
        }
        memcpy(fd->prev, d, len);
    }
    if (!fd->cur || fd->pos == fd->cur->n) {
        batch_free(fd->cur);
        fd->cur = NULL;
        pthread_mutex_lock(&fd->mu);
        while (fd->count == 0 && !fd->done)
            pthread_cond_wait(&fd->cv, &fd->mu);
        if (fd->count > 0) {
            fd->cur = fd->queue[fd->head];
            fd->head = (fd->head + 1) % QUEUE_BATCHES;
            fd->count--;
            pthread_cond_broadcast(&fd->cv);
        }
        pthread_mutex_unlock(&fd->mu);
        fd->pos = 0;
        if (!fd->cur)
            return false;
    }
    for (unsigned i = 0; i < MX_DF_COUNT; i++)
        fd->row.f[i] = fd->cur->arena + fd->cur->off[fd->pos][i];
    fd->pos++;
    fd->rows++;
    if (fd->prev && fd->rows > 1 && strcmp(fd->row.f[MX_DF_DOMAIN], fd->prev) < 0)
        fd->sorted = false;
    return true;
}

static bool feed_start(struct feed *fd, const char *path, const char *label, atomic_bool *stop)
{
    memset(fd, 0, sizeof *fd);
    fd->path = path;
    fd->label = label;
    fd->stop = stop;
    fd->sorted = true;
    pthread_mutex_init(&fd->mu, NULL);
    pthread_cond_init(&fd->cv, NULL);
    return pthread_create(&fd->thread, NULL, reader, fd) == 0;
}

static void feed_end(struct feed *fd)
{
    atomic_store(fd->stop, true);
    pthread_mutex_lock(&fd->mu);
    pthread_cond_broadcast(&fd->cv);
    pthread_mutex_unlock(&fd->mu);
    pthread_join(fd->thread, NULL);
    for (size_t i = 0; i < fd->count; i++)
        batch_free(fd->queue[(fd->head + i) % QUEUE_BATCHES]);
    batch_free(fd->cur);
    batch_free(fd->filling);
    free(fd->prev);
    pthread_mutex_destroy(&fd->mu);
    pthread_cond_destroy(&fd->cv);
}

/* ---- the changes file ---- */

struct writer {
    FILE *f;
    bool is_stdout, jsonl;
    ZSTD_CCtx *z;                         /* NULL: plain */
    unsigned char *zbuf;
    size_t zcap;
    char *row;                            /* MX_DIFF_ROW_MAX bytes */
    bool failed;
};

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void wr_bytes(struct writer *w, const void *p, size_t n, ZSTD_EndDirective mode)
{
    if (!w->z) {
        w->failed |= n > 0 && fwrite(p, 1, n, w->f) != n;
        return;
    }
    ZSTD_inBuffer in = {p, n, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
        left = ZSTD_compressStream2(w->z, &out, &in, mode);
        if (ZSTD_isError(left) || fwrite(w->zbuf, 1, out.pos, w->f) != out.pos) {
            w->failed = true;
            return;
        }
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
}

static bool wr_open(struct writer *w, const char *path, bool jsonl)
{
    memset(w, 0, sizeof *w);
    w->jsonl = jsonl;
    w->is_stdout = strcmp(path, "-") == 0;
    w->f = w->is_stdout ? stdout : fopen(path, "wb");
    w->row = malloc(MX_DIFF_ROW_MAX);
    if (!w->f || !w->row)
        return false;
    if (!w->is_stdout && !ends_with(path, ".csv") && !ends_with(path, ".jsonl")) {
        w->z = ZSTD_createCCtx();
        w->zcap = ZSTD_CStreamOutSize();
        w->zbuf = malloc(w->zcap);
        if (!w->z || !w->zbuf)
            return false;
        ZSTD_CCtx_setParameter(w->z, ZSTD_c_compressionLevel, 3);
        ZSTD_CCtx_setParameter(w->z, ZSTD_c_checksumFlag, 1);
    }
    if (!jsonl) {
        const char *h = mx_diff_csv_header();
        wr_bytes(w, h, strlen(h), ZSTD_e_continue);
    }
    return true;
}

/* Returns false when writing failed. */
static bool wr_close(struct writer *w)
{
    if (w->z)
        wr_bytes(w, "", 0, ZSTD_e_end);
    if (w->f)
        w->failed |= (w->is_stdout ? fflush(w->f) : fclose(w->f)) != 0;
    ZSTD_freeCCtx(w->z);
    free(w->zbuf);
    free(w->row);
    return !w->failed;
}

/* ---- the join ---- */

struct diff {
    struct feed old, new_;
    struct writer out;                    /* out.f NULL: no changes file */
    struct mx_dsummary *sum;
    bool merging;                         /* past the first disagreement */
    char err[MX_ERRLEN + 512];
};

/* One domain (old or new NULL: added or removed). */
static bool emit(struct diff *d, const struct mx_drow *old, const struct mx_drow *new_)
{
    struct mx_dchange c;
    mx_diff_compare(old, new_, &c);
    if (!mx_dsummary_add(d->sum, old, new_, &c)) {
        snprintf(d->err, sizeof d->err, "out of memory");
        return false;
    }
    if (c.kinds && d->out.f) {
        size_t n = mx_diff_format(d->out.jsonl, old, new_, &c, d->out.row, MX_DIFF_ROW_MAX);
        wr_bytes(&d->out, d->out.row, n, ZSTD_e_continue);
        if (d->out.failed) {
            snprintf(d->err, sizeof d->err, "cannot write the changes file: %s", strerror(errno));
            return false;
        }
    }
    return true;
}

static bool order_error(struct diff *d)
{
    struct feed *bad = !d->old.sorted ? &d->old : &d->new_;
    if (d->merging)
        snprintf(d->err, sizeof d->err,
                 "%s (%s) is not sorted by domain: row %llu, '%.200s', comes after '%.200s'; "
                 "diff needs both files in the same order: scans of the same input (input "
                 "order), or both sorted by domain (see README 'mxscan diff' to sort them)",
                 bad->label, bad->path, (unsigned long long)bad->rows,
                 bad->row.f[MX_DF_DOMAIN], bad->prev ? bad->prev : "");
    else
        snprintf(d->err, sizeof d->err,
                 "OLD and NEW part at row %llu/%llu ('%.200s' and '%.200s') and %s is not "
                 "sorted by domain; diff needs both files in the same order: scans of the "
                 "same input (input order), or both sorted by domain (see README 'mxscan "
                 "diff' to sort them)",
                 (unsigned long long)d->old.rows, (unsigned long long)d->new_.rows,
                 d->old.row.f[MX_DF_DOMAIN], d->new_.row.f[MX_DF_DOMAIN], bad->label);
    return false;
}

static bool join(struct diff *d)
{
    bool ho = next_row(&d->old), hn = next_row(&d->new_);
    while (ho || hn) {
        if (d->merging && (!d->old.sorted || !d->new_.sorted))
            return order_error(d);
        int cmp = !ho ? 1 : !hn ? -1
                                : strcmp(d->old.row.f[MX_DF_DOMAIN], d->new_.row.f[MX_DF_DOMAIN]);
        if (cmp != 0 && ho && hn && !d->merging) {
            if (!d->old.sorted || !d->new_.sorted)
                return order_error(d);
            d->merging = true;
        }
        if (!emit(d, cmp <= 0 ? &d->old.row : NULL, cmp >= 0 ? &d->new_.row : NULL))
            return false;
        if (cmp <= 0)
            ho = next_row(&d->old);
        if (cmp >= 0)
            hn = next_row(&d->new_);
    }
    for (struct feed *f = &d->old; f; f = f == &d->old ? &d->new_ : NULL)
        if (f->st != MX_OK) {
            snprintf(d->err, sizeof d->err, "%s", f->err);
            return false;
        }
    return true;
}

/* ---- the command ---- */

struct diff_args {
    const char *output, *summary, *format;
};

void mx_diff_usage(FILE *f)
{
    fprintf(f,
            "usage: mxscan diff [options] OLD NEW\n\n"
            "Per domain, what changed between two scans (result files, CSV or JSON Lines,\n"
            "zstd or plain): added, removed, mx_changed, providers_changed,\n"
            "mail_status_changed, findings_gained, findings_lost, spf_changed,\n"
            "dmarc_policy_changed. Writes the changed domains (-o) and a summary JSON: the\n"
            "count of each kind, mail status moves and how many domains became broken,\n"
            "provider moves 'A -> B', DMARC policy moves, findings gained and lost per code.\n\n"
            "Both files must list their rows in the same order: scans of the same input\n"
            "(input order), or both sorted by domain (bytewise, e.g. LC_ALL=C sort; see\n"
            "README 'mxscan diff'). A file out of order stops the diff with an error.\n"
            "Memory stays small whatever the size of the files.\n\n"
            "options:\n"
            "  -o, --output FILE    the changed domains; zstd-compressed unless FILE is '-'\n"
            "                       or ends in .csv or .jsonl (default: none)\n"
            "      --format FORMAT  csv or jsonl (default: jsonl when FILE ends in .jsonl or\n"
            "                       .jsonl.zst, else csv)\n"
            "      --summary FILE   the summary JSON (default '-': stdout)\n"
            "  -h, --help           this text\n\n"
            "exit status: 0 compared (changes or not), 1 failure (unreadable file, not a\n"
            "results file, files out of order), 2 usage error. See README.md.\n");
}

static void set_opt(void *ud, int ch, const char *arg)
{
    struct diff_args *a = ud;
    if (ch == 'o')
        a->output = arg;
    else if (ch == 'S')
        a->summary = arg;
    else if (ch == 'F')
        a->format = arg;
}

/* Returns -1 to go on, else the exit status. */
static int diff_parse(struct diff_args *a, int argc, char **argv)
{
    static const struct option lo[] = {{"output", required_argument, NULL, 'o'},
                                       {"summary", required_argument, NULL, 'S'},
                                       {"format", required_argument, NULL, 'F'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int rc = mx_study_getopt("diff", argc, argv, lo, ":o:h", set_opt, a, mx_diff_usage);
    if (rc >= 0)
        return rc;
    if (a->format && strcmp(a->format, "csv") != 0 && strcmp(a->format, "jsonl") != 0)
        return mx_study_usage_error("diff", "--format is csv or jsonl, not ", a->format);
    if (argc - optind != 2)
        return mx_study_usage_error("diff", "give two result files, OLD and NEW", NULL);
    return -1;
}

static bool write_summary(const char *path, json_t *o)
{
    bool std = !path || strcmp(path, "-") == 0;
    FILE *f = std ? stdout : fopen(path, "w");
    bool ok = f && o && json_dumpf(o, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
    if (f)
        ok = ((std ? fflush(f) : fclose(f)) == 0) && ok;
    if (!ok)
        fprintf(stderr, "mxscan diff: cannot write the summary to %s: %s\n",
                std ? "stdout" : path, o ? strerror(errno) : "out of memory");
    return ok;
}

static int diff_run(const struct diff_args *a, const char *oldp, const char *newp)
{
    struct diff *d = calloc(1, sizeof *d);
    atomic_bool stop = false;
    if (!d || !(d->sum = mx_dsummary_create())) {
        free(d);
        fprintf(stderr, "mxscan diff: out of memory\n");
        return MX_EXIT_FAIL;
    }
    bool jsonl = a->format ? strcmp(a->format, "jsonl") == 0
                           : a->output && (ends_with(a->output, ".jsonl") ||
                                           ends_with(a->output, ".jsonl.zst"));
    bool ok = !a->output || wr_open(&d->out, a->output, jsonl);
    if (!ok)
        snprintf(d->err, sizeof d->err, "cannot write %s: %s", a->output, strerror(errno));
    bool started = ok && feed_start(&d->old, oldp, "OLD", &stop);
    bool started2 = started && feed_start(&d->new_, newp, "NEW", &stop);
    ok = started2 && join(d);
    if (started)
        feed_end(&d->old);
    if (started2)
        feed_end(&d->new_);
    if (a->output && !wr_close(&d->out) && ok) {
        ok = false;
        snprintf(d->err, sizeof d->err, "cannot write %s: %s", a->output, strerror(errno));
    }
    if (ok) {
        json_t *s = mx_dsummary_json(d->sum, oldp, newp, d->old.rows, d->new_.rows);
        ok = write_summary(a->summary, s);
        json_decref(s);
    } else {
        fprintf(stderr, "mxscan diff: %s\n", d->err[0] ? d->err : "cannot start a thread");
        if (a->output && strcmp(a->output, "-") != 0)
            unlink(a->output); /* no partial diff left behind */
    }
    mx_dsummary_free(d->sum);
    free(d);
    return ok ? MX_EXIT_OK : MX_EXIT_FAIL;
}

int mx_diff_cmd(int argc, char **argv)
{
    struct diff_args a = {0};
    int rc = diff_parse(&a, argc, argv);
    return rc >= 0 ? rc : diff_run(&a, argv[optind], argv[optind + 1]);
}
