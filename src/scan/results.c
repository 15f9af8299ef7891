/* Results files read back (results.h): zstd or plain bytes; CSV through
 * libcsv, JSON Lines through jansson, the JSON object turned into the
 * text the CSV has in each column. */
#include <csv.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "mx/result.h"
#include "mx/results.h"

#define MAXF (MX_COL_COUNT + 16)   /* columns kept; later ones are ignored */
#define JSON_LINE_MAX (64u << 20) /* a longer JSON Lines row is an error */

enum kind { UNKNOWN, CSV_FILE, JSONL_FILE };

struct reader {
    mx_results_row_fn row;
    void *ud;
    enum kind kind;
    unsigned col, nheader;
    bool header_done;
    char f[MAXF][MX_RESULTS_FIELD_MAX];
    char h[MAXF][64];
    const char *fp[MAXF], *hp[MAXF];
    struct csv_parser csv;
    /* JSON Lines: the line being gathered */
    char *line;
    size_t len, cap;
    uint64_t lineno;
    enum mx_status st;
    char *err;
    size_t errlen;
    const char *path;
    const atomic_bool *stop; /* mx_results_read_until: stop reading once true */
};

/* ---- CSV ---- */

static void on_field(void *s, size_t len, void *data)
{
    struct reader *r = data;
    if (r->col < MAXF) {
        char *dst = r->header_done ? r->f[r->col] : r->h[r->col];
        size_t cap = r->header_done ? sizeof r->f[0] : sizeof r->h[0];
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(dst, s, n);
        dst[n] = 0;
    }
    r->col++;
}

static void on_row(int c, void *data)
{
    (void)c;
    struct reader *r = data;
    unsigned n = r->col < MAXF ? r->col : MAXF;
    if (!r->header_done) {
        r->header_done = true;
        r->nheader = n;
    } else {
        r->row(r->ud, r->fp, n, r->hp, r->nheader);
    }
    r->col = 0;
}

/* ---- JSON Lines -> column text ---- */

/* Appending to a field, cut at MX_RESULTS_FIELD_MAX - 1 bytes. */
struct out {
    char *s;
    size_t n;
};

static void add(struct out *o, const char *s, size_t len)
{
    size_t room = MX_RESULTS_FIELD_MAX - 1 - o->n;
    if (len > room)
        len = room;
    memcpy(o->s + o->n, s, len);
    o->n += len;
    o->s[o->n] = 0;
}

static void adds(struct out *o, const char *s)
{
    add(o, s, strlen(s));
}

static void add_json(struct out *o, const json_t *v)
{
    char num[32];
    if (json_is_string(v))
        add(o, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        adds(o, num);
    }
}

static struct out field(struct reader *r, enum mx_column c)
{
    struct out o = {r->f[c], 0};
    o.s[0] = 0;
    return o;
}

/* A string or number member into column c (null and absent: empty). */
static void member(struct reader *r, enum mx_column c, const json_t *obj, const char *key)
{
    struct out o = field(r, c);
    add_json(&o, json_object_get(obj, key));
}

/* An array of strings, joined with ';'. */
static void joined(struct reader *r, enum mx_column c, const json_t *arr)
{
    struct out o = field(r, c);
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i)
            add(&o, ";", 1);
        add_json(&o, v);
    }
}

static bool rc_failed(const char *rc)
{
    return rc && strcmp(rc, "NOERROR") != 0 && strcmp(rc, "NXDOMAIN") != 0;
}

/* One host of the mx_addresses column (mx_checks.c render_addresses). */
static void host_text(struct out *o, const char *name, const json_t *h)
{
    const char *a = json_string_value(json_object_get(h, "a"));
    const char *aaaa = json_string_value(json_object_get(h, "aaaa"));
    const json_t *addrs = json_object_get(h, "addresses");
    if (o->n)
        add(o, ";", 1);
    adds(o, name);
    adds(o, json_is_true(json_object_get(h, "cname")) ? ">CNAME=" : "=");
    size_t i;
    const json_t *v;
    json_array_foreach(addrs, i, v)
    {
        if (i)
            add(o, ",", 1);
        add_json(o, v);
    }
    const char *failed = rc_failed(a) ? "A" : rc_failed(aaaa) ? "AAAA" : NULL;
    const char *frc = rc_failed(a) ? a : aaaa;
    if (json_array_size(addrs) > 0) {
        if (failed) {
            add(o, ",", 1);
            adds(o, failed);
            add(o, ":", 1);
            adds(o, frc);
        }
    } else if ((a && !strcmp(a, "NXDOMAIN")) || (aaaa && !strcmp(aaaa, "NXDOMAIN"))) {
        adds(o, "NXDOMAIN");
    } else {
        adds(o, failed ? frc : "NODATA");
    }
}

/* The mx and mx_addresses columns from the mx array (and implicit_mx). */
static void mx_columns(struct reader *r, const json_t *obj)
{
    struct out mx = field(r, MX_COL_MX), ad = field(r, MX_COL_MX_ADDRESSES);
    const json_t *arr = json_object_get(obj, "mx"), *e;
    size_t i;
    json_array_foreach(arr, i, e)
    {
        const json_t *ex = json_object_get(e, "exchange");
        if (i)
            add(&mx, ";", 1);
        add_json(&mx, json_object_get(e, "preference"));
        add(&mx, " ", 1);
        add_json(&mx, ex);
        /* mx_addresses: each looked-up exchange once, in order of first appearance */
        if (json_is_null(json_object_get(e, "a")) || !json_is_string(ex))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = json_equal(json_object_get(json_array_get(arr, j), "exchange"), ex);
        if (!seen)
            host_text(&ad, json_string_value(ex), e);
    }
    const json_t *imp = json_object_get(obj, "implicit_mx");
    if (json_is_object(imp))
        host_text(&ad, json_string_value(json_object_get(obj, "domain")), imp);
}

static void json_row(struct reader *r, const json_t *obj)
{
    for (unsigned c = 0; c < MX_COL_COUNT; c++)
        r->f[c][0] = 0;
    const json_t *spf = json_object_get(obj, "spf"), *dmarc = json_object_get(obj, "dmarc");
    member(r, MX_COL_DOMAIN, obj, "domain");
    member(r, MX_COL_STATUS, obj, "status");
    member(r, MX_COL_MAIL_STATUS, obj, "mail_status");
    mx_columns(r, obj);
    joined(r, MX_COL_FINDINGS, json_object_get(obj, "findings"));
    member(r, MX_COL_MX_TTL, obj, "mx_ttl");
    joined(r, MX_COL_PROVIDERS, json_object_get(obj, "providers"));
    member(r, MX_COL_SPF, spf, "record");
    member(r, MX_COL_SPF_RESULT, spf, "result");
    member(r, MX_COL_SPF_LOOKUPS, spf, "lookups");
    member(r, MX_COL_SPF_VOIDS, spf, "voids");
    joined(r, MX_COL_SPF_PROVIDERS, json_object_get(spf, "providers"));
    member(r, MX_COL_DMARC, dmarc, "record");
    member(r, MX_COL_DMARC_POLICY, dmarc, "policy");
    member(r, MX_COL_DMARC_SOURCE, dmarc, "source");
    member(r, MX_COL_INPUT_LINE, obj, "input_line");
    member(r, MX_COL_INPUT_FILE, obj, "input_file");
    member(r, MX_COL_RANK, obj, "rank");
    for (unsigned c = MX_COL_RANK + 1; c < MX_COL_COUNT; c++)
        member(r, (enum mx_column)c, obj, mx_column_header((enum mx_column)c));
    r->row(r->ud, r->fp, MX_COL_COUNT, r->hp, MX_COL_COUNT);
}

static void json_line(struct reader *r, const char *s, size_t len)
{
    r->lineno++;
    while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (len == 0 || r->st != MX_OK)
        return;
    json_error_t je;
    json_t *obj = json_loadb(s, len, 0, &je);
    if (!json_is_object(obj)) {
        snprintf(r->err, r->errlen, "%s: line %" PRIu64 " is not a JSON object: %s", r->path,
                 r->lineno, obj ? "another JSON value" : je.text);
        r->st = MX_EFORMAT;
    } else {
        json_row(r, obj);
    }
    json_decref(obj);
}

static void json_bytes(struct reader *r, const unsigned char *p, size_t n)
{
    while (n > 0 && r->st == MX_OK) {
        const unsigned char *lf = memchr(p, '\n', n);
        size_t take = lf ? (size_t)(lf - p) : n;
        if (r->len == 0 && lf) {
            json_line(r, (const char *)p, take); /* a whole line: no copy */
        } else {
            if (r->len + take > JSON_LINE_MAX) {
                snprintf(r->err, r->errlen, "%s: line %" PRIu64 " is longer than %u bytes",
                         r->path, r->lineno + 1, JSON_LINE_MAX);
                r->st = MX_EFORMAT;
                return;
            }
            if (r->len + take > r->cap) {
                size_t cap = r->cap ? r->cap : 65536;
                while (cap < r->len + take)
                    cap *= 2;
                char *b = realloc(r->line, cap);
                if (!b) {
                    snprintf(r->err, r->errlen, "out of memory");
                    r->st = MX_ENOMEM;
                    return;
                }
                r->line = b;
                r->cap = cap;
            }
            memcpy(r->line + r->len, p, take);
            r->len += take;
            if (lf) {
                json_line(r, r->line, r->len);
                r->len = 0;
            }
        }
        if (!lf)
            break;
        p += take + 1;
        n -= take + 1;
    }
}

/* ---- either ---- */

/* Decoded bytes of the file: the first one tells the format ('{' is JSON
 * Lines; a CSV starts with its header row). */
static void consume(struct reader *r, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (r->kind == UNKNOWN) {
        r->kind = p[0] == '{' ? JSONL_FILE : CSV_FILE;
        if (r->kind == JSONL_FILE)
            for (unsigned c = 0; c < MX_COL_COUNT; c++)
                snprintf(r->h[c], sizeof r->h[c], "%s", mx_column_header((enum mx_column)c));
    }
    if (r->kind == CSV_FILE)
        csv_parse(&r->csv, p, n, on_field, on_row, r);
    else
        json_bytes(r, p, n);
}

/* Feeds the file's bytes (decompressed when z) to the parser. */
static enum mx_status feed(FILE *f, bool z, uint64_t limit, struct reader *r)
{
    enum mx_status st = MX_OK;
    ZSTD_DCtx *d = z ? ZSTD_createDCtx() : NULL;
    size_t inb = ZSTD_DStreamInSize(), outb = ZSTD_DStreamOutSize();
    unsigned char *in = malloc(inb), *out = malloc(outb);
    if ((z && !d) || !in || !out) {
        snprintf(r->err, r->errlen, "out of memory");
        st = MX_ENOMEM;
        goto done;
    }
    uint64_t left = limit ? limit : UINT64_MAX;
    while (left > 0 && r->st == MX_OK && !(r->stop && atomic_load(r->stop))) {
        size_t got = fread(in, 1, left < inb ? (size_t)left : inb, f);
        if (got == 0)
            break;
        left -= got;
        if (!z) {
            consume(r, in, got);
            continue;
        }
        ZSTD_inBuffer ib = {in, got, 0};
        while (ib.pos < ib.size && r->st == MX_OK) {
            ZSTD_outBuffer ob = {out, outb, 0};
            size_t rc = ZSTD_decompressStream(d, &ob, &ib);
            if (ZSTD_isError(rc)) {
                snprintf(r->err, r->errlen, "%s is not a readable zstd file: %s", r->path,
                         ZSTD_getErrorName(rc));
                st = MX_EFORMAT;
                goto done;
            }
            consume(r, out, ob.pos);
        }
    }
    if (ferror(f)) {
        snprintf(r->err, r->errlen, "cannot read %s: %s", r->path, strerror(errno));
        st = MX_EIO;
    }
done:
    ZSTD_freeDCtx(d);
    free(in);
    free(out);
    return st != MX_OK ? st : r->st;
}

enum mx_status mx_results_read(const char *path, uint64_t limit, mx_results_row_fn row, void *ud,
                               char *err, size_t errlen)
{
    return mx_results_read_until(path, limit, row, ud, NULL, err, errlen);
}

enum mx_status mx_results_read_until(const char *path, uint64_t limit, mx_results_row_fn row,
                                     void *ud, const atomic_bool *stop, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return MX_EIO;
    }
    struct reader *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return MX_ENOMEM;
    }
    r->row = row;
    r->ud = ud;
    r->err = err;
    r->errlen = errlen;
    r->path = path;
    r->stop = stop;
    for (unsigned i = 0; i < MAXF; i++) {
        r->fp[i] = r->f[i];
        r->hp[i] = r->h[i];
    }
    unsigned char magic[4] = {0};
    bool z = fread(magic, 1, 4, f) == 4 && magic[0] == 0x28 && magic[1] == 0xB5 &&
             magic[2] == 0x2F && magic[3] == 0xFD;
    rewind(f);
    csv_init(&r->csv, CSV_STRICT_FINI);
    enum mx_status st = feed(f, z, limit, r);
    if (st == MX_OK && r->kind == CSV_FILE)
        csv_fini(&r->csv, on_field, on_row, r);
    if (st == MX_OK && r->kind == JSONL_FILE && r->len > 0) {
        json_line(r, r->line, r->len); /* a last line without its newline */
        st = r->st;
    }
    csv_free(&r->csv);
    free(r->line);
    free(r);
    fclose(f);
    return st;
}
