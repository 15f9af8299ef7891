/* Results file (output.h): rows quoted by libcsv into a block buffer, run
 * through a zstd stream; a frame is ended every frame_bytes of CSV or
 * frame_ms, written, fsync'd, and the checkpoint beside the output is
 * replaced atomically. Everything before the checkpoint's offset is whole
 * frames of whole rows, so a resume cuts the file there and appends. */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mx/output.h"

#define BLOCK_MAX (1u << 20)
#define LINE_MAX_BYTES MX_ROW_MAX
#define HISTORY 64

struct hist {
    uint64_t ms, rows, offset;
};

struct mx_output {
    int fd;
    enum mx_format format;
    bool zstd;
    bool resumable;
    bool is_stdout;
    char ckpath[4096];
    char fingerprint[80];
    ZSTD_CCtx *cctx;
    unsigned char *zbuf;
    size_t zbuf_size;
    char *block;
    size_t block_len;
    char *line;
    uint64_t offset;          /* bytes written to the file */
    uint64_t frame_in;        /* CSV bytes in the open frame */
    uint64_t frame_start_ms;
    uint64_t frame_bytes, frame_ms;
    bool dirty;               /* rows since the last durable point */
    struct hist hist[HISTORY];
    unsigned nhist;
};

static enum mx_status write_all(int fd, const void *buf, size_t len, char *err, size_t errlen)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "write failed: %s", strerror(errno));
            return MX_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MX_OK;
}

static enum mx_status checkpoint_write(struct mx_output *o, uint64_t rows, uint64_t offset,
                                       bool complete, char *err, size_t errlen)
{
    if (!o->resumable)
        return MX_OK;
    struct mx_checkpoint ck = {.rows = rows, .offset = offset, .complete = complete};
    snprintf(ck.fingerprint, sizeof ck.fingerprint, "%s", o->fingerprint);
    return mx_checkpoint_write(o->ckpath, &ck, err, errlen);
}

static enum mx_status flush_zstd(struct mx_output *o, ZSTD_EndDirective mode, char *err,
                                 size_t errlen)
{
    ZSTD_inBuffer in = {o->block, o->block_len, 0};
    for (;;) {
        ZSTD_outBuffer out = {o->zbuf, o->zbuf_size, 0};
        size_t rem = ZSTD_compressStream2(o->cctx, &out, &in, mode);
        if (ZSTD_isError(rem)) {
            snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(rem));
            return MX_EIO;
        }
        if (out.pos > 0) {
            enum mx_status st = write_all(o->fd, o->zbuf, out.pos, err, errlen);
            if (st != MX_OK)
                return st;
            o->offset += out.pos;
        }
        bool done = mode == ZSTD_e_continue ? in.pos == in.size : rem == 0;
        if (done)
            break;
    }
    o->block_len = 0;
    return MX_OK;
}

static enum mx_status flush_block(struct mx_output *o, ZSTD_EndDirective mode, char *err,
                                  size_t errlen)
{
    if (o->zstd)
        return flush_zstd(o, mode, err, errlen);
    enum mx_status st = write_all(o->fd, o->block, o->block_len, err, errlen);
    if (st == MX_OK)
        o->offset += o->block_len;
    o->block_len = 0;
    return st;
}

static enum mx_status append(struct mx_output *o, const char *s, size_t len, char *err,
                             size_t errlen)
{
    o->dirty = true;
    while (o->block_len + len > BLOCK_MAX) {
        /* fill the block (a row may be longer than a block), flush it */
        size_t n = BLOCK_MAX - o->block_len;
        memcpy(o->block + o->block_len, s, n);
        o->block_len += n;
        o->frame_in += n;
        s += n;
        len -= n;
        enum mx_status st = flush_block(o, ZSTD_e_continue, err, errlen);
        if (st != MX_OK)
            return st;
    }
    memcpy(o->block + o->block_len, s, len);
    o->block_len += len;
    o->frame_in += len;
    return MX_OK;
}

size_t mx_csv_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        /* fast path: a run of printable ASCII */
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] < 0x7f)
            run++;
        if (run > i) {
            size_t n = run - i;
            if (w + n >= outlen)
                n = outlen > w + 1 ? outlen - w - 1 : 0;
            memcpy(out + w, p + i, n);
            w += n;
            if (n < run - i)
                break;
            i = run;
            continue;
        }
        unsigned c = p[i];
        size_t n = 0; /* length of a valid UTF-8 sequence at i */
        if (c >= 0x20 && c < 0x7f)
            n = 1;
        else if (c >= 0xC2 && c <= 0xDF && i + 1 < len && (p[i + 1] & 0xC0) == 0x80)
            n = 2;
        else if (c >= 0xE0 && c <= 0xEF && i + 2 < len && (p[i + 1] & 0xC0) == 0x80 &&
                 (p[i + 2] & 0xC0) == 0x80 && !(c == 0xE0 && p[i + 1] < 0xA0) &&
                 !(c == 0xED && p[i + 1] > 0x9F))
            n = 3;
        else if (c >= 0xF0 && c <= 0xF4 && i + 3 < len && (p[i + 1] & 0xC0) == 0x80 &&
                 (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80 &&
                 !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] > 0x8F))
            n = 4;
        if (n > 0) {
            if (w + n >= outlen)
                break;
            memcpy(out + w, p + i, n);
            w += n;
            i += n;
        } else {
            if (w + 4 >= outlen)
                break;
            static const char hex[] = "0123456789abcdef";
            out[w++] = '\\';
            out[w++] = 'x';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
            i++;
        }
    }
    return w;
}

/* Appends one field to buf at w (quoted by libcsv when it needs quotes). */
static size_t put_field(char *buf, size_t cap, size_t w, char *tmp, size_t tmpcap, const char *s,
                        size_t len)
{
    size_t n = mx_csv_sanitize(s, len, tmp, tmpcap);
    bool quote = n > 0 && (tmp[0] == ' ' || tmp[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        if (tmp[i] == '"' || tmp[i] == ',')
            quote = true;
    if (!quote) {
        if (w + n + 2 < cap) {
            memcpy(buf + w, tmp, n);
            w += n;
        }
        return w;
    }
    if (!memchr(tmp, '"', n)) {
        /* Nothing to escape: the quoted field is the text between quotes
         * (what csv_write writes, without its per-byte cost). */
        if (w + n + 4 < cap) {
            buf[w++] = '"';
            memcpy(buf + w, tmp, n);
            w += n;
            buf[w++] = '"';
        }
        return w;
    }
    size_t need = csv_write(buf + w, cap - w - 2, tmp, n);
    if (w + need + 2 < cap)
        w += need;
    return w;
}

/* Decimal text of v at the end of num[32]; returns where it starts. */
static const char *decimal(char num[32], uint64_t v, bool neg)
{
    size_t i = 32;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg)
        num[--i] = '-';
    return num + i;
}

size_t mx_output_format_row(const struct mx_result *r, const struct mx_row_info *ri, char *buf,
                            size_t cap)
{
    static _Thread_local char tmp[MX_ROW_MAX / 2];
    size_t w = 0;
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        if (c > 0 && w + 2 < cap)
            buf[w++] = ',';
        size_t len;
        const char *s;
        char num[32];
        switch ((enum mx_column)c) {
        case MX_COL_STATUS:
            s = mx_rc_name(r->status);
            len = strlen(s);
            break;
        case MX_COL_MAIL_STATUS:
            s = mx_mail_status_name(r->mail);
            len = strlen(s);
            break;
        case MX_COL_INPUT_LINE:
            s = decimal(num, ri->line_no, false);
            len = (size_t)(num + sizeof num - s);
            break;
        case MX_COL_INPUT_FILE:
            s = ri->input_file ? ri->input_file : "";
            len = strlen(s);
            break;
        case MX_COL_RANK:
            s = "";
            len = 0;
            if (ri->has_rank) {
                uint64_t m = ri->rank < 0 ? 0 - (uint64_t)ri->rank : (uint64_t)ri->rank;
                s = decimal(num, m, ri->rank < 0);
                len = (size_t)(num + sizeof num - s);
            }
            break;
        default:
            s = mx_result_col(r, (enum mx_column)c, &len);
            break;
        }
        w = put_field(buf, cap, w, tmp, sizeof tmp, s, len);
    }
    buf[w++] = '\n';
    return w;
}

size_t mx_output_format(enum mx_format f, const struct mx_result *r, const struct mx_row_info *ri,
                        char *buf, size_t cap)
{
    if (f == MX_FORMAT_JSONL)
        return mx_output_format_jsonl(r, ri, buf, cap);
    return mx_output_format_row(r, ri, buf, cap);
}

enum mx_status mx_output_line(struct mx_output *o, const char *line, size_t len, char *err,
                              size_t errlen)
{
    return append(o, line, len, err, errlen);
}

enum mx_status mx_output_row(struct mx_output *o, const struct mx_result *r,
                             const struct mx_row_info *ri, char *err, size_t errlen)
{
    size_t w = mx_output_format(o->format, r, ri, o->line, LINE_MAX_BYTES);
    if (w <= LINE_MAX_BYTES)
        return w ? append(o, o->line, w, err, errlen) : MX_ENOMEM;
    char *big = malloc(w);
    if (!big) {
        snprintf(err, errlen, "out of memory");
        return MX_ENOMEM;
    }
    size_t w2 = mx_output_format(o->format, r, ri, big, w);
    enum mx_status st = w2 == w ? append(o, big, w, err, errlen) : MX_ENOMEM;
    free(big);
    return st;
}

/* The CSV header row (JSON Lines has none). */
static enum mx_status write_header(struct mx_output *o, char *err, size_t errlen)
{
    if (o->format != MX_FORMAT_CSV)
        return MX_OK;
    size_t w = 0;
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        const char *h = mx_column_header((enum mx_column)c);
        size_t l = strlen(h);
        if (c > 0)
            o->line[w++] = ',';
        memcpy(o->line + w, h, l);
        w += l;
    }
    o->line[w++] = '\n';
    return append(o, o->line, w, err, errlen);
}

static enum mx_status make_durable(struct mx_output *o, uint64_t rows, bool complete, char *err,
                                   size_t errlen)
{
    enum mx_status st = flush_block(o, ZSTD_e_end, err, errlen);
    if (st != MX_OK)
        return st;
    if (o->resumable && fsync(o->fd) != 0) {
        snprintf(err, errlen, "cannot sync output: %s", strerror(errno));
        return MX_EIO;
    }
    st = checkpoint_write(o, rows, o->offset, complete, err, errlen);
    if (st != MX_OK)
        return st;
    if (o->nhist == HISTORY) {
        memmove(o->hist, o->hist + 1, (HISTORY - 1) * sizeof o->hist[0]);
        o->nhist--;
    }
    o->hist[o->nhist++] = (struct hist){mx_now_ms(), rows, o->offset};
    o->frame_in = 0;
    o->frame_start_ms = mx_now_ms();
    o->dirty = false;
    return MX_OK;
}

enum mx_status mx_output_sync(struct mx_output *o, uint64_t rows_done, bool force, char *err,
                              size_t errlen)
{
    if (!o->dirty)
        return MX_OK;
    uint64_t now = mx_now_ms();
    if (!force && o->frame_in < o->frame_bytes && now - o->frame_start_ms < o->frame_ms)
        return MX_OK;
    return make_durable(o, rows_done, false, err, errlen);
}

uint64_t mx_output_rollback(struct mx_output *o, uint64_t since_ms)
{
    /* Only durable points exist after a sync, so discard what is pending. */
    o->block_len = 0;
    if (o->zstd)
        ZSTD_CCtx_reset(o->cctx, ZSTD_reset_session_only);
    unsigned k = 0;
    bool found = false;
    for (unsigned i = 0; i < o->nhist; i++)
        if (o->hist[i].ms <= since_ms) {
            k = i;
            found = true;
        }
    struct hist h = found ? o->hist[k] : o->hist[0];
    if (ftruncate(o->fd, (off_t)h.offset) == 0) {
        lseek(o->fd, (off_t)h.offset, SEEK_SET);
        o->offset = h.offset;
    }
    char err[MX_ERRLEN];
    checkpoint_write(o, h.rows, h.offset, false, err, sizeof err);
    o->nhist = found ? k + 1 : 1;
    o->dirty = false;
    o->frame_in = 0;
    if (o->offset == 0) /* back to before the header was durable: write it again */
        write_header(o, err, sizeof err);
    return h.rows;
}

enum mx_status mx_output_close(struct mx_output *o, uint64_t rows_done, bool complete, char *err,
                               size_t errlen)
{
    enum mx_status st = MX_OK;
    if (o->dirty || complete)
        st = make_durable(o, rows_done, complete, err, errlen);
    if (!o->is_stdout && o->fd >= 0 && close(o->fd) != 0 && st == MX_OK) {
        snprintf(err, errlen, "cannot close output: %s", strerror(errno));
        st = MX_EIO;
    }
    ZSTD_freeCCtx(o->cctx);
    free(o->zbuf);
    free(o->block);
    free(o->line);
    free(o);
    return st;
}

bool mx_output_resumable(const struct mx_output *o)
{
    return o->resumable;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

enum mx_status mx_output_open(const struct mx_config *cfg, const char *fingerprint,
                              const struct mx_checkpoint *resume_from, struct mx_output **out,
                              char *err, size_t errlen)
{
    struct mx_output *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return MX_ENOMEM;
    }
    o->fd = -1;
    o->format = cfg->format;
    if (o->format == MX_FORMAT_JSONL)
        mx_output_jsonl_setup();
    snprintf(o->fingerprint, sizeof o->fingerprint, "%s", fingerprint);
    o->frame_bytes = cfg->frame_bytes;
    o->frame_ms = cfg->frame_ms;
    o->frame_start_ms = mx_now_ms();
    o->block = malloc(BLOCK_MAX);
    o->line = malloc(LINE_MAX_BYTES);
    if (!o->block || !o->line)
        goto nomem;
    const char *path = cfg->output;
    if (!path || strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        o->is_stdout = true;
    } else {
        o->zstd = !ends_with(path, cfg->format == MX_FORMAT_JSONL ? ".jsonl" : ".csv");
        o->resumable = mx_checkpoint_path(path, o->ckpath, sizeof o->ckpath);
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
        if (!resume_from)
            flags |= O_TRUNC;
        o->fd = open(path, flags, 0644);
        if (o->fd < 0) {
            snprintf(err, errlen, "cannot open output %s: %s", path, strerror(errno));
            mx_output_close(o, 0, false, err + strlen(err), 0);
            return MX_EIO;
        }
        struct stat st;
        if (fstat(o->fd, &st) == 0 && !S_ISREG(st.st_mode))
            o->resumable = false;
        if (resume_from) {
            if ((uint64_t)st.st_size < resume_from->offset) {
                snprintf(err, errlen,
                         "output %s is shorter (%lld bytes) than its checkpoint says (%llu): "
                         "it was changed since; start the scan afresh without --resume",
                         path, (long long)st.st_size, (unsigned long long)resume_from->offset);
                close(o->fd);
                o->fd = -1;
                mx_output_close(o, 0, false, err + strlen(err), 0);
                return MX_EFORMAT;
            }
            if (ftruncate(o->fd, (off_t)resume_from->offset) != 0 ||
                lseek(o->fd, (off_t)resume_from->offset, SEEK_SET) < 0) {
                snprintf(err, errlen, "cannot cut %s back to its checkpoint: %s", path,
                         strerror(errno));
                mx_output_close(o, 0, false, err + strlen(err), 0);
                return MX_EIO;
            }
            o->offset = resume_from->offset;
        }
    }
    if (o->zstd) {
        o->cctx = ZSTD_createCCtx();
        o->zbuf_size = ZSTD_CStreamOutSize();
        o->zbuf = malloc(o->zbuf_size);
        if (!o->cctx || !o->zbuf)
            goto nomem;
        ZSTD_CCtx_setParameter(o->cctx, ZSTD_c_compressionLevel, cfg->zstd_level);
        ZSTD_CCtx_setParameter(o->cctx, ZSTD_c_checksumFlag, 1);
    }
    uint64_t rows0 = resume_from ? resume_from->rows : 0;
    o->hist[0] = (struct hist){mx_now_ms(), rows0, o->offset};
    o->nhist = 1;
    if (!resume_from || resume_from->offset == 0) {
        /* The checkpoint exists before any row does: a kill at any moment
         * leaves a resumable state. */
        enum mx_status st = checkpoint_write(o, 0, 0, false, err, errlen);
        if (st == MX_OK)
            st = write_header(o, err, errlen);
        if (st != MX_OK) {
            char e2[8];
            o->dirty = false;
            mx_output_close(o, 0, false, e2, 0);
            return st;
        }
        o->hist[0].rows = 0;
    }
    *out = o;
    return MX_OK;
nomem:
    snprintf(err, errlen, "out of memory");
    {
        char e2[8];
        mx_output_close(o, 0, false, e2, 0);
    }
    return MX_ENOMEM;
}
