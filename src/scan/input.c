/* Streaming reader of domain lists.
 *
 * Each file is read with read(2) in CHUNK-sized blocks; the first bytes pick
 * the decoder (zstd magic 28 B5 2F FD, gzip magic 1F 8B, else plain), so
 * memory stays bounded whatever the input size: two CHUNK buffers, one line
 * buffer of MX_INPUT_LINE_MAX bytes and the decoder state (zstd windows are
 * capped by libzstd's default windowLogMax).
 *
 * Lines end at LF; one trailing CR is dropped; a UTF-8 BOM at the start of
 * a file is dropped. A line longer than MX_INPUT_LINE_MAX keeps its first
 * MX_INPUT_LINE_MAX bytes (cut = true) and its name field is then that whole
 * cut line, which can never be a valid name: a cut line is one invalid row.
 *
 * Damaged compressed files: every line completed before the damage has been
 * returned; the partial line at the damage (the last line of a truncated
 * file) is NOT returned as a row; mx_input_next returns MX_EFORMAT with a
 * message naming the file. The reader then moves on: a further call reads
 * the next file. A file that cannot be opened or read gives MX_EIO.
 *
 * Name field: a line with a comma or a double quote is parsed as one CSV
 * record (libcsv, strict) and its last field is the name; a line libcsv
 * refuses is used whole, so it becomes an invalid row rather than a lost
 * one. Rank: when such a record has two or more fields and the first is
 * an integer (ASCII blanks around it allowed, an optional sign, at most 18
 * digits), it is kept as the line's rank. */
#include <csv.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "mx/hash.h"
#include "mx/input.h"
#include "mx/text.h"

#define CHUNK (64u * 1024u)

enum codec { CODEC_PLAIN, CODEC_ZSTD, CODEC_GZIP };

struct mx_input {
    char **paths;
    size_t npaths;
    size_t cur;            /* index of the current (or next) file */
    int fd;                /* -1 when no file is open */
    bool is_stdin;
    bool detected;         /* codec chosen for the current file */
    bool eof;              /* read(2) returned 0 */
    const atomic_int *cancel; /* mx_input_set_cancel */
    enum codec codec;

    unsigned char in[CHUNK];
    size_t in_pos, in_len;
    unsigned char out[CHUNK];
    const unsigned char *data; /* decoded bytes: in[] (plain) or out[] */
    size_t dpos, dlen;

    enum mx_status pending;    /* decoder error found after some output */
    char pending_msg[MX_ERRLEN];

    ZSTD_DCtx *zd;
    size_t zret;               /* last ZSTD_decompressStream result (0: frame done) */
    z_stream zs;
    bool zs_ready;
    bool member_open;          /* inside a gzip member */

    char line[MX_INPUT_LINE_MAX + 1];
    size_t line_len;
    bool line_cut;
    bool line_started;         /* bytes of a line without its LF seen */
    int tail_first_nb;         /* first non-blank byte among cut bytes, -1 none */
    uint64_t line_no;
    bool header_done;          /* the first non-skipped line of the file was seen */

    char field[MX_INPUT_LINE_MAX + 1];
    size_t field_len;
    size_t csv_fields;         /* fields of the record being parsed */
    bool first_int;            /* its first field is an integer ... */
    int64_t first_val;         /* ... of this value */
    size_t csv_rows;
    struct csv_parser csv;

    _Atomic uint64_t bytes_read; /* read by the progress monitor's thread */
    _Atomic uint64_t consumed;   /* ... up to the last line returned (about) */
    uint64_t bytes_total;
};

static const char *display(const char *path)
{
    return strcmp(path, "-") == 0 ? "(stdin)" : path;
}

static void seterr(char *err, size_t errlen, const char *path, const char *what,
                   const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, display(path), detail);
}

static void setfmt(char *err, size_t errlen, const char *path, const char *what,
                   const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s (%s)", display(path), what, detail);
}

static enum mx_status check_path(struct mx_input *in, const char *path, bool *known,
                                 char *err, size_t errlen)
{
    struct stat st;
    int fd;

    if (strcmp(path, "-") == 0) {
        *known = false;
        return MX_OK;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, path, "cannot open", strerror(errno));
        return MX_EIO;
    }
    if (fstat(fd, &st) != 0) {
        seterr(err, errlen, path, "cannot open", strerror(errno));
        close(fd);
        return MX_EIO;
    }
    close(fd);
    if (S_ISDIR(st.st_mode)) {
        seterr(err, errlen, path, "cannot open", strerror(EISDIR));
        return MX_EIO;
    }
    if (S_ISREG(st.st_mode))
        in->bytes_total += (uint64_t)st.st_size;
    else
        *known = false;
    return MX_OK;
}

enum mx_status mx_input_open(struct mx_input **out, const char *const *paths, size_t npaths,
                             char *err, size_t errlen)
{
    struct mx_input *in = NULL;
    enum mx_status st = MX_OK;
    bool known = true;

    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    in = calloc(1, sizeof *in);
    if (!in) {
        st = MX_ENOMEM;
        goto out;
    }
    in->fd = -1;
    in->pending = MX_OK;
    in->npaths = npaths;
    in->paths = calloc(npaths ? npaths : 1, sizeof *in->paths);
    in->zd = ZSTD_createDCtx();
    if (!in->paths || !in->zd || csv_init(&in->csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        st = MX_ENOMEM;
        goto out;
    }
    if (inflateInit2(&in->zs, 15 + 32) != Z_OK) {
        st = MX_ENOMEM;
        goto out;
    }
    in->zs_ready = true;
    for (size_t i = 0; i < npaths; i++) {
        in->paths[i] = strdup(paths[i]);
        if (!in->paths[i]) {
            st = MX_ENOMEM;
            goto out;
        }
        st = check_path(in, paths[i], &known, err, errlen);
        if (st != MX_OK)
            goto out;
    }
    if (!known)
        in->bytes_total = 0;
    *out = in;
    in = NULL;
out:
    if (st == MX_ENOMEM && err && errlen)
        snprintf(err, errlen, "input: %s", mx_strerror(st));
    mx_input_destroy(in);
    return st;
}

static void close_file(struct mx_input *in)
{
    if (in->fd >= 0 && !in->is_stdin)
        close(in->fd);
    in->fd = -1;
    in->cur++;
}

static enum mx_status open_file(struct mx_input *in, char *err, size_t errlen)
{
    const char *path = in->paths[in->cur];

    in->is_stdin = strcmp(path, "-") == 0;
    if (in->is_stdin) {
        in->fd = STDIN_FILENO;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            seterr(err, errlen, path, "cannot open", strerror(errno));
            in->cur++;
            return MX_EIO;
        }
    }
    in->detected = false;
    in->eof = false;
    in->in_pos = in->in_len = 0;
    in->dpos = in->dlen = 0;
    in->data = in->in;
    in->pending = MX_OK;
    in->zret = 1;
    in->member_open = false;
    in->line_len = 0;
    in->line_cut = false;
    in->line_started = false;
    in->tail_first_nb = -1;
    in->line_no = 0;
    in->header_done = false;
    return MX_OK;
}

/* Appends up to CHUNK - in_len bytes to in[]; sets eof at the end. */
static enum mx_status read_more(struct mx_input *in, char *err, size_t errlen)
{
    ssize_t r;

    if (in->in_pos == in->in_len)
        in->in_pos = in->in_len = 0;
    while (in->cancel) {
        if (atomic_load(in->cancel))
            return MX_EINTR;
        struct pollfd p = {.fd = in->fd, .events = POLLIN};
        if (poll(&p, 1, 100) != 0)
            break; /* readable, or an error that read() will report */
    }
    do {
        r = read(in->fd, in->in + in->in_len, CHUNK - in->in_len);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        seterr(err, errlen, in->paths[in->cur], "cannot read", strerror(errno));
        return MX_EIO;
    }
    if (r == 0)
        in->eof = true;
    in->in_len += (size_t)r;
    atomic_fetch_add_explicit(&in->bytes_read, (uint64_t)r, memory_order_relaxed);
    return MX_OK;
}

static enum mx_status detect(struct mx_input *in, char *err, size_t errlen)
{
    static const unsigned char zmagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    enum mx_status st;

    while (in->in_len < 4 && !in->eof) {
        st = read_more(in, err, errlen);
        if (st != MX_OK)
            return st;
    }
    in->codec = CODEC_PLAIN;
    if (in->in_len >= 4 && memcmp(in->in, zmagic, 4) == 0) {
        in->codec = CODEC_ZSTD;
        ZSTD_DCtx_reset(in->zd, ZSTD_reset_session_only);
    } else if (in->in_len >= 2 && in->in[0] == 0x1F && in->in[1] == 0x8B) {
        in->codec = CODEC_GZIP;
    }
    in->detected = true;
    return MX_OK;
}

/* A decoder error: returned now, or after the bytes decoded in this call. */
static enum mx_status decode_error(struct mx_input *in, size_t produced, const char *what,
                                   const char *detail, char *err, size_t errlen)
{
    if (produced == 0) {
        setfmt(err, errlen, in->paths[in->cur], what, detail);
        return MX_EFORMAT;
    }
    setfmt(in->pending_msg, sizeof in->pending_msg, in->paths[in->cur], what, detail);
    in->pending = MX_EFORMAT;
    in->data = in->out;
    in->dpos = 0;
    in->dlen = produced;
    return MX_OK;
}

static enum mx_status fill_plain(struct mx_input *in, char *err, size_t errlen)
{
    for (;;) {
        if (in->in_pos < in->in_len) {
            in->data = in->in;
            in->dpos = in->in_pos;
            in->dlen = in->in_len;
            in->in_pos = in->in_len;
            return MX_OK;
        }
        if (in->eof)
            return MX_EEOF;
        enum mx_status st = read_more(in, err, errlen);
        if (st != MX_OK)
            return st;
    }
}

/* The decoder wants more compressed bytes: read them, or at the end of the
 * file say whether it ended cleanly (MX_EEOF) or in the middle of a frame
 * or member (open: a truncated file). */
static enum mx_status need_input(struct mx_input *in, bool open, const char *what, char *err,
                                 size_t errlen)
{
    if (!in->eof)
        return read_more(in, err, errlen);
    if (open) {
        setfmt(err, errlen, in->paths[in->cur], what, "unexpected end of data");
        return MX_EFORMAT;
    }
    return MX_EEOF;
}

static enum mx_status fill_zstd(struct mx_input *in, char *err, size_t errlen)
{
    for (;;) {
        /* zret == 0: the frame is decoded and flushed; called again without
         * input, libzstd would return the next frame's header size */
        if (in->in_pos == in->in_len && in->zret == 0) {
            if (in->eof)
                return MX_EEOF;
            enum mx_status st = read_more(in, err, errlen);
            if (st != MX_OK)
                return st;
            continue;
        }
        ZSTD_inBuffer ib = {in->in, in->in_len, in->in_pos};
        ZSTD_outBuffer ob = {in->out, CHUNK, 0};
        size_t r = ZSTD_decompressStream(in->zd, &ob, &ib);
        in->in_pos = ib.pos;
        if (ZSTD_isError(r))
            return decode_error(in, ob.pos, "corrupt zstd data", ZSTD_getErrorName(r), err,
                                errlen);
        in->zret = r;
        if (ob.pos > 0) {
            in->data = in->out;
            in->dpos = 0;
            in->dlen = ob.pos;
            return MX_OK;
        }
        if (in->in_pos < in->in_len)
            continue;
        enum mx_status st = need_input(in, in->zret != 0, "truncated zstd file", err, errlen);
        if (st != MX_OK)
            return st;
    }
}

static enum mx_status fill_gzip(struct mx_input *in, char *err, size_t errlen)
{
    for (;;) {
        if (!in->member_open && in->in_pos < in->in_len) {
            inflateReset(&in->zs);
            in->member_open = true;
        }
        size_t produced = 0;
        if (in->member_open) {
            in->zs.next_in = in->in + in->in_pos;
            in->zs.avail_in = (uInt)(in->in_len - in->in_pos);
            in->zs.next_out = in->out;
            in->zs.avail_out = CHUNK;
            int r = inflate(&in->zs, Z_NO_FLUSH);
            in->in_pos = in->in_len - in->zs.avail_in;
            produced = CHUNK - in->zs.avail_out;
            if (r == Z_STREAM_END) {
                in->member_open = false;
            } else if (r != Z_OK && r != Z_BUF_ERROR) {
                return decode_error(in, produced, "corrupt gzip data",
                                    in->zs.msg ? in->zs.msg : zError(r), err, errlen);
            }
            if (produced > 0) {
                in->data = in->out;
                in->dpos = 0;
                in->dlen = produced;
                return MX_OK;
            }
        }
        if (in->in_pos < in->in_len)
            continue;
        enum mx_status st = need_input(in, in->member_open, "truncated gzip file", err, errlen);
        if (st != MX_OK)
            return st;
    }
}

/* Makes decoded bytes available at data[dpos..dlen): MX_OK, MX_EEOF at the
 * clean end of the current file, or an error. */
static enum mx_status fill(struct mx_input *in, char *err, size_t errlen)
{
    enum mx_status st;

    if (in->pending != MX_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s", in->pending_msg);
        st = in->pending;
        in->pending = MX_OK;
        return st;
    }
    if (!in->detected) {
        st = detect(in, err, errlen);
        if (st != MX_OK)
            return st;
    }
    switch (in->codec) {
    case CODEC_ZSTD:
        return fill_zstd(in, err, errlen);
    case CODEC_GZIP:
        return fill_gzip(in, err, errlen);
    case CODEC_PLAIN:
    default:
        return fill_plain(in, err, errlen);
    }
}

static void append(struct mx_input *in, const unsigned char *p, size_t n)
{
    size_t room = MX_INPUT_LINE_MAX - in->line_len;
    size_t take = n < room ? n : room;

    if (n > 0)
        in->line_started = true;
    memcpy(in->line + in->line_len, p, take);
    in->line_len += take;
    if (take == n)
        return;
    in->line_cut = true;
    for (size_t i = take; i < n && in->tail_first_nb < 0; i++)
        if (!mx_is_space(p[i]))
            in->tail_first_nb = p[i];
}

/* The next physical line into line[]: MX_OK, MX_EEOF after the last file,
 * or an error (the current file is then closed). */
static enum mx_status physical_line(struct mx_input *in, char *err, size_t errlen)
{
    enum mx_status st;

    for (;;) {
        if (in->fd < 0) {
            if (in->cur >= in->npaths)
                return MX_EEOF;
            st = open_file(in, err, errlen);
            if (st != MX_OK)
                return st;
        }
        if (in->dpos == in->dlen) {
            st = fill(in, err, errlen);
            if (st == MX_EEOF) {
                bool last = in->line_started;
                close_file(in);
                if (last)
                    break;
                continue;
            }
            if (st != MX_OK) {
                close_file(in);
                in->line_len = 0;
                in->line_started = false;
                return st;
            }
        }
        const unsigned char *p = in->data + in->dpos;
        size_t n = in->dlen - in->dpos;
        const unsigned char *lf = memchr(p, '\n', n);
        if (!lf) {
            append(in, p, n);
            in->dpos = in->dlen;
            continue;
        }
        append(in, p, (size_t)(lf - p));
        in->dpos += (size_t)(lf - p) + 1;
        break;
    }
    in->line_no++;
    if (!in->line_cut && in->line_len > 0 && in->line[in->line_len - 1] == '\r')
        in->line_len--;
    if (in->line_no == 1 && in->line_len >= 3 && memcmp(in->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(in->line, in->line + 3, in->line_len - 3);
        in->line_len -= 3;
    }
    in->line[in->line_len] = 0;
    return MX_OK;
}

static int first_nonblank(const struct mx_input *in)
{
    for (size_t i = 0; i < in->line_len; i++)
        if (!mx_is_space((unsigned char)in->line[i]))
            return (unsigned char)in->line[i];
    return in->line_cut ? in->tail_first_nb : -1;
}

/* An integer field: blanks around it, an optional sign, 1 to 18 digits. */
static bool parse_rank(const char *s, size_t len, int64_t *out)
{
    size_t b = 0, e = len;
    while (b < e && mx_is_space((unsigned char)s[b]))
        b++;
    while (e > b && mx_is_space((unsigned char)s[e - 1]))
        e--;
    bool neg = false;
    if (b < e && (s[b] == '-' || s[b] == '+'))
        neg = s[b++] == '-';
    if (b == e || e - b > 18)
        return false;
    int64_t v = 0;
    for (size_t i = b; i < e; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static void csv_field(void *s, size_t len, void *data)
{
    struct mx_input *in = data;
    if (in->csv_fields++ == 0)
        in->first_int = parse_rank(s, len, &in->first_val);
    if (len > MX_INPUT_LINE_MAX)
        len = MX_INPUT_LINE_MAX;
    if (len > 0)
        memcpy(in->field, s, len);
    in->field[len] = 0;
    in->field_len = len;
}

static void csv_row(int c, void *data)
{
    struct mx_input *in = data;
    (void)c;
    in->csv_rows++;
}

static int no_term(unsigned char c)
{
    (void)c;
    return 0;
}

/* Last CSV field of line[] into field[]; false when libcsv refuses it. */
static bool parse_csv(struct mx_input *in)
{
    size_t used;
    bool ok;

    in->field_len = 0;
    in->field[0] = 0;
    in->csv_rows = 0;
    in->csv_fields = 0;
    in->first_int = false;
    csv_set_term_func(&in->csv, no_term);
    used = csv_parse(&in->csv, in->line, in->line_len, csv_field, csv_row, in);
    ok = used == in->line_len && csv_error(&in->csv) == CSV_SUCCESS &&
         csv_fini(&in->csv, csv_field, csv_row, in) == 0 && in->csv_rows == 1;
    if (!ok) {
        /* a parser left in an error state is not reusable: start afresh */
        csv_free(&in->csv);
        csv_init(&in->csv, CSV_STRICT | CSV_STRICT_FINI);
    }
    return ok;
}

static bool is_header_name(const char *s, size_t n)
{
    char buf[8];
    size_t b = 0;
    size_t e = n;
    while (b < e && mx_is_space((unsigned char)s[b]))
        b++;
    while (e > b && mx_is_space((unsigned char)s[e - 1]))
        e--;
    if (e - b >= sizeof buf)
        return false;
    for (size_t i = b; i < e; i++) {
        char c = s[i];
        buf[i - b] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    buf[e - b] = 0;
    return strcmp(buf, "domain") == 0 || strcmp(buf, "name") == 0;
}

enum mx_status mx_input_next(struct mx_input *in, struct mx_input_line *out, char *err,
                             size_t errlen)
{
    enum mx_status st;

    if (err && errlen)
        err[0] = 0;
    for (;;) {
        in->line_len = 0;
        in->line_cut = false;
        in->line_started = false;
        in->tail_first_nb = -1;
        st = physical_line(in, err, errlen);
        if (st != MX_OK)
            return st;
        int nb = first_nonblank(in);
        if (nb < 0 || nb == '#')
            continue;

        const char *name = in->line;
        size_t len = in->line_len;
        bool comma = memchr(in->line, ',', in->line_len) != NULL;
        out->has_rank = false;
        out->rank = 0;
        if (!in->line_cut && (comma || memchr(in->line, '"', in->line_len))) {
            if (parse_csv(in)) {
                name = in->field;
                len = in->field_len;
                if (in->csv_fields >= 2 && in->first_int) {
                    out->has_rank = true;
                    out->rank = in->first_val;
                }
            }
        }
        bool first = !in->header_done;
        in->header_done = true;
        if (first && comma && !in->line_cut && is_header_name(name, len))
            continue;

        out->name = name;
        out->len = len;
        out->raw = in->line;
        out->rawlen = in->line_len;
        out->cut = in->line_cut;
        /* the file may already be closed (last line without LF): cur moved on */
        out->file_index = (unsigned)(in->fd < 0 ? in->cur - 1 : in->cur);
        out->line_no = in->line_no;
        /* Raw bytes behind the lines returned so far: what was read, less
         * what still waits in the buffers (plain: the parse position; a
         * compressed file: what the decoder has not taken yet). */
        uint64_t left = in->codec == CODEC_PLAIN ? in->dlen - in->dpos : in->in_len - in->in_pos;
        uint64_t rd = atomic_load_explicit(&in->bytes_read, memory_order_relaxed);
        atomic_store_explicit(&in->consumed, rd > left ? rd - left : 0, memory_order_relaxed);
        return MX_OK;
    }
}

void mx_input_set_cancel(struct mx_input *in, const atomic_int *flag)
{
    in->cancel = flag;
}

uint64_t mx_input_bytes_read(const struct mx_input *in)
{
    return atomic_load_explicit(&in->bytes_read, memory_order_relaxed);
}

uint64_t mx_input_bytes_consumed(const struct mx_input *in)
{
    return atomic_load_explicit(&in->consumed, memory_order_relaxed);
}

uint64_t mx_input_bytes_total(const struct mx_input *in)
{
    return in->bytes_total;
}

void mx_input_destroy(struct mx_input *in)
{
    if (!in)
        return;
    if (in->fd >= 0 && !in->is_stdin)
        close(in->fd);
    if (in->paths) {
        for (size_t i = 0; i < in->npaths; i++)
            free(in->paths[i]);
        free(in->paths);
    }
    if (in->zs_ready)
        inflateEnd(&in->zs);
    ZSTD_freeDCtx(in->zd);
    csv_free(&in->csv);
    free(in);
}

uint64_t mx_shard_hash(const char *domain)
{
    return mx_fnv1a(MX_FNV1A_INIT, domain, strlen(domain));
}
