/* Results files read back (results.h): libcsv over a zstd stream or plain
 * bytes. */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "mx/result.h"
#include "mx/results.h"

#define MAXF (MX_COL_COUNT + 16) /* columns kept; later ones are ignored */

struct reader {
    mx_results_row_fn row;
    void *ud;
    unsigned col, nheader;
    bool header_done;
    char f[MAXF][MX_RESULTS_FIELD_MAX];
    char h[MAXF][64];
    const char *fp[MAXF], *hp[MAXF];
};

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

/* Feeds the file's bytes (decompressed when z) to the CSV parser. */
static enum mx_status feed(FILE *f, bool z, uint64_t limit, struct csv_parser *csv,
                           struct reader *r, const char *path, char *err, size_t errlen)
{
    enum mx_status st = MX_OK;
    ZSTD_DCtx *d = z ? ZSTD_createDCtx() : NULL;
    size_t inb = ZSTD_DStreamInSize(), outb = ZSTD_DStreamOutSize();
    unsigned char *in = malloc(inb), *out = malloc(outb);
    if ((z && !d) || !in || !out) {
        snprintf(err, errlen, "out of memory");
        st = MX_ENOMEM;
        goto done;
    }
    uint64_t left = limit ? limit : UINT64_MAX;
    while (left > 0) {
        size_t got = fread(in, 1, left < inb ? (size_t)left : inb, f);
        if (got == 0)
            break;
        left -= got;
        if (!z) {
            csv_parse(csv, in, got, on_field, on_row, r);
            continue;
        }
        ZSTD_inBuffer ib = {in, got, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = {out, outb, 0};
            size_t rc = ZSTD_decompressStream(d, &ob, &ib);
            if (ZSTD_isError(rc)) {
                snprintf(err, errlen, "%s is not a readable zstd file: %s", path,
                         ZSTD_getErrorName(rc));
                st = MX_EFORMAT;
                goto done;
            }
            csv_parse(csv, out, ob.pos, on_field, on_row, r);
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        st = MX_EIO;
    }
done:
    ZSTD_freeDCtx(d);
    free(in);
    free(out);
    return st;
}

enum mx_status mx_results_read(const char *path, uint64_t limit, mx_results_row_fn row, void *ud,
                               char *err, size_t errlen)
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
    for (unsigned i = 0; i < MAXF; i++) {
        r->fp[i] = r->f[i];
        r->hp[i] = r->h[i];
    }
    unsigned char magic[4] = {0};
    bool z = fread(magic, 1, 4, f) == 4 && magic[0] == 0x28 && magic[1] == 0xB5 &&
             magic[2] == 0x2F && magic[3] == 0xFD;
    rewind(f);
    struct csv_parser csv;
    csv_init(&csv, CSV_STRICT_FINI);
    enum mx_status st = feed(f, z, limit, &csv, r, path, err, errlen);
    if (st == MX_OK)
        csv_fini(&csv, on_field, on_row, r);
    csv_free(&csv);
    free(r);
    fclose(f);
    return st;
}
