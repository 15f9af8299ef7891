/* The results file (output.h): CSV sanitising and quoting, plain and zstd
 * output decompressed and compared, checkpoints after sync and close,
 * resume (cut back and append: one valid stream), roll-back, and which
 * outputs can have a checkpoint. Files go to a fresh directory under /tmp. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mx/output.h"

/* ---- mx_csv_sanitize ---- */

struct scase {
    const char *in;
    size_t len;
    const char *want;
};

#define S(lit, want) {lit, sizeof(lit) - 1, want}

Test(sanitize, table)
{
    static const struct scase cases[] = {
        S("", ""),
        S("plain text, with = ; signs", "plain text, with = ; signs"),
        S("a\x01z", "a\\x01z"),
        S("\t\n\r", "\\x09\\x0a\\x0d"),
        S("nul\0byte", "nul\\x00byte"),
        S("del\x7f", "del\\x7f"),
        S("\x1f ", "\\x1f "),
        /* valid multi-byte UTF-8 kept */
        S("caf\xc3\xa9", "caf\xc3\xa9"),
        S("\xe2\x82\xac", "\xe2\x82\xac"),                 /* U+20AC */
        S("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"),         /* U+1F600 */
        S("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),         /* U+10FFFF */
        S("\xed\x9f\xbf", "\xed\x9f\xbf"),                 /* U+D7FF */
        S("\xee\x80\x80", "\xee\x80\x80"),                 /* U+E000 */
        S("\xc2\x80", "\xc2\x80"),                         /* U+0080 (a C1 control, valid UTF-8) */
        /* overlongs */
        S("\xc0\xaf", "\\xc0\\xaf"),
        S("\xc1\xbf", "\\xc1\\xbf"),
        S("\xe0\x80\xaf", "\\xe0\\x80\\xaf"),
        S("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf"),
        S("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"),
        S("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf"),
        /* surrogates */
        S("\xed\xa0\x80", "\\xed\\xa0\\x80"),
        S("\xed\xbf\xbf", "\\xed\\xbf\\xbf"),
        /* beyond U+10FFFF, and bytes never in UTF-8 */
        S("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"),
        S("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"),
        S("\xff\xfe", "\\xff\\xfe"),
        /* lone continuation bytes, sequences cut short */
        S("\x80x", "\\x80x"),
        S("\xc3", "\\xc3"),
        S("\xe2\x82", "\\xe2\\x82"),
        S("\xf0\x9f\x98", "\\xf0\\x9f\\x98"),
        S("\xc3x", "\\xc3x"),
        S("\xe2\x82x", "\\xe2\\x82x"),
        S("\xc3\xa9\xc3", "\xc3\xa9\\xc3"),
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = mx_csv_sanitize(cases[i].in, cases[i].len, out, sizeof out);
        cr_expect_eq(n, strlen(cases[i].want), "case %zu: length %zu, want %zu ('%.*s')", i, n,
                     strlen(cases[i].want), (int)n, out);
        if (n == strlen(cases[i].want))
            cr_expect(memcmp(out, cases[i].want, n) == 0, "case %zu: '%.*s', want '%s'", i,
                      (int)n, out, cases[i].want);
    }
}

Test(sanitize, cut_to_fit_never_splits)
{
    char out[16];
    memset(out, '#', sizeof out);
    size_t n = mx_csv_sanitize("abcdef", 6, out, 4);
    cr_expect_leq(n, 4);
    cr_expect(memcmp(out, "abcdef", n) == 0);
    cr_expect_eq(out[4], '#', "wrote past outlen");
    /* an escape that does not fit is left out whole */
    n = mx_csv_sanitize("ab\x01", 3, out, 5);
    cr_expect_eq(n, 2);
    /* so is a multi-byte character */
    n = mx_csv_sanitize("a\xe2\x82\xac", 4, out, 4);
    cr_expect_eq(n, 1);
    n = mx_csv_sanitize("abc", 3, out, 0);
    cr_expect_eq(n, 0);
    /* every output length is bounded */
    static const char in[] = "x\x01\xc3\xa9\xff\xe2\x82\xacyz";
    for (size_t cap = 0; cap < 32; cap++) {
        memset(out, '#', sizeof out);
        n = mx_csv_sanitize(in, sizeof in - 1, out, cap < sizeof out ? cap : sizeof out);
        cr_expect_leq(n, cap);
        if (cap < sizeof out)
            for (size_t k = cap; k < sizeof out; k++)
                cr_assert_eq(out[k], '#', "cap %zu: byte %zu written", cap, k);
    }
}

/* ---- files ---- */

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/mx_test_output_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    static const char *const names[] = {"out.zst", "out.zst.ckpt", "out.zst.ckpt.tmp", "out.csv",
                                        "out.csv.ckpt", "out.csv.ckpt.tmp"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(output, .init = mkdir_tmp, .fini = rm_tmp);

static char *path_of(const char *name)
{
    static char p[2][256];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* Decompresses all frames (one stream); counts them. */
static char *unzstd(const unsigned char *in, size_t n, size_t *outlen, unsigned *frames)
{
    *frames = 0;
    for (size_t off = 0; off < n;) {
        size_t fl = ZSTD_findFrameCompressedSize(in + off, n - off);
        cr_assert(!ZSTD_isError(fl), "frame %u at %zu: %s", *frames, off, ZSTD_getErrorName(fl));
        off += fl;
        (*frames)++;
    }
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t cap = 1 << 16, w = 0;
    char *out = malloc(cap);
    ZSTD_inBuffer ib = {in, n, 0};
    size_t ret = 0;
    while (ib.pos < ib.size) {
        if (cap - w < ZSTD_DStreamOutSize()) {
            cap *= 2;
            out = realloc(out, cap);
        }
        ZSTD_outBuffer ob = {out + w, cap - w, 0};
        ret = ZSTD_decompressStream(ds, &ob, &ib);
        cr_assert(!ZSTD_isError(ret), "zstd: %s", ZSTD_getErrorName(ret));
        w += ob.pos;
    }
    cr_assert_eq(ret, 0, "the stream ends inside a frame");
    ZSTD_freeDStream(ds);
    out = realloc(out, w + 1);
    out[w] = 0;
    *outlen = w;
    return out;
}

/* The whole file as CSV text (decompressed when zst). */
static char *csv_text(const char *path, unsigned *frames)
{
    size_t n;
    unsigned char *raw = slurp(path, &n);
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".csv") == 0) {
        *frames = 0;
        return (char *)raw;
    }
    size_t tl;
    char *t = unzstd(raw, n, &tl, frames);
    cr_assert_eq(strlen(t), tl, "NUL byte in the CSV");
    free(raw);
    return t;
}

static void header_line(char *buf, size_t cap)
{
    buf[0] = 0;
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        if (c)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, mx_column_header((enum mx_column)c), cap - strlen(buf) - 1);
    }
    strncat(buf, "\n", cap - strlen(buf) - 1);
}

static struct mx_config config(const char *path)
{
    struct mx_config c;
    memset(&c, 0, sizeof c);
    c.output = path;
    c.zstd_level = 3;
    c.frame_bytes = 1 << 20;
    c.frame_ms = 3600 * 1000; /* only forced syncs end frames */
    return c;
}

static struct mx_result R;

/* Row info for input line n of "in.txt" (no rank). */
static const struct mx_row_info *info(uint64_t n)
{
    static struct mx_row_info ri;
    ri = (struct mx_row_info){.line_no = n, .input_file = "in.txt"};
    return &ri;
}

/* A simple row: domain dN.test, NOERROR, ok, MX "10 mx.dN.test". */
/* The empty fields after rank (columns a default scan leaves empty). */
static const char *tail(void)
{
    static char t[MX_COL_COUNT + 1];
    size_t n = MX_COL_COUNT - 1 - MX_COL_RANK;
    memset(t, ',', n);
    t[n] = 0;
    return t;
}

static const char *simple_row(unsigned i, char *expect, size_t cap)
{
    char d[32], mx[48];
    mx_result_reset(&R);
    R.status = MX_RC_NOERROR;
    R.mail = MX_MAIL_OK;
    snprintf(d, sizeof d, "d%u.test", i);
    snprintf(mx, sizeof mx, "10 mx.d%u.test", i);
    mx_result_set(&R, MX_COL_DOMAIN, d);
    mx_result_set(&R, MX_COL_MX, mx);
    snprintf(expect, cap, "%s,NOERROR,ok,%s,,,,,,,,,,,,,%u,in.txt,%s\n", d, mx, i, tail());
    return expect;
}

static enum mx_status put_simple(struct mx_output *o, unsigned i, char *text, size_t cap)
{
    char line[256], err[MX_ERRLEN];
    simple_row(i, line, sizeof line);
    strncat(text, line, cap - strlen(text) - 1);
    enum mx_status st = mx_output_row(o, &R, info(i), err, sizeof err);
    cr_assert_eq(st, MX_OK, "%s", err);
    return st;
}

static struct mx_checkpoint read_ck(const char *out)
{
    char ck[512], err[MX_ERRLEN];
    cr_assert(mx_checkpoint_path(out, ck, sizeof ck));
    struct mx_checkpoint c;
    cr_assert_eq(mx_checkpoint_read(ck, &c, err, sizeof err), MX_OK, "%s", err);
    return c;
}

static off_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

static void quoting_rows(const char *name)
{
    const char *path = path_of(name);
    struct mx_config cfg = config(path);
    struct mx_output *o = NULL;
    char err[MX_ERRLEN];
    cr_assert_eq(mx_output_open(&cfg, "fp-1", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    cr_expect(mx_output_resumable(o));

    mx_result_reset(&R);
    R.status = MX_RC_NOERROR;
    R.mail = MX_MAIL_OK;
    mx_result_set(&R, MX_COL_DOMAIN, "example.test");
    mx_result_set(&R, MX_COL_MX, "10 a.example.test;20 b.example.test");
    mx_result_set(&R, MX_COL_FINDINGS, "spf_missing");
    mx_result_set(&R, MX_COL_MX_TTL, "3600");
    mx_result_set(&R, MX_COL_MX_ADDRESSES, "a.example.test=192.0.2.1,192.0.2.2;b.example.test=NXDOMAIN");
    mx_result_set(&R, MX_COL_SPF, "v=spf1 include:\"q\" -all");
    mx_result_set(&R, MX_COL_SPF_RESULT, "ok");
    mx_result_set(&R, MX_COL_DMARC, " v=DMARC1; p=none");
    mx_result_set(&R, MX_COL_DMARC_POLICY, "none ");
    cr_assert_eq(mx_output_row(o, &R, info(1), err, sizeof err), MX_OK, "%s", err);

    mx_result_reset(&R);
    R.status = MX_RC_INVALID;
    R.mail = MX_MAIL_INVALID;
    mx_result_set(&R, MX_COL_DOMAIN, "bad\x01na\"me\xff\n");
    mx_result_set(&R, MX_COL_FINDINGS, "domain_invalid_name");
    cr_assert_eq(mx_output_row(o, &R, info(2), err, sizeof err), MX_OK, "%s", err);

    cr_assert_eq(mx_output_sync(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    struct mx_checkpoint ck = read_ck(path);
    cr_expect_eq(ck.rows, 2);
    cr_expect_eq(ck.offset, (uint64_t)file_size(path));
    cr_expect_not(ck.complete);
    cr_expect_str_eq(ck.fingerprint, "fp-1");

    cr_assert_eq(mx_output_close(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    ck = read_ck(path);
    cr_expect_eq(ck.rows, 2);
    cr_expect(ck.complete);
    cr_expect_eq(ck.offset, (uint64_t)file_size(path));

    char want[4096];
    header_line(want, sizeof want);
    strcat(want, "example.test,NOERROR,ok,10 a.example.test;20 b.example.test,spf_missing,3600,"
                 "\"a.example.test=192.0.2.1,192.0.2.2;b.example.test=NXDOMAIN\",,"
                 "\"v=spf1 include:\"\"q\"\" -all\",ok,,,,\" v=DMARC1; p=none\",\"none \",,1,in.txt,");
    strcat(want, tail());
    strcat(want, "\n\"bad\\x01na\"\"me\\xff\\x0a\",INVALID,invalid,,domain_invalid_name,,,,,,,,,,,,2,in.txt,");
    strcat(want, tail());
    strcat(want, "\n");
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(output, csv_plain_quoting)
{
    quoting_rows("out.csv");
}

Test(output, zstd_quoting_and_checkpoint)
{
    quoting_rows("out.zst");
}

Test(output, checkpoint_at_open_and_unforced_sync)
{
    const char *path = path_of("out.zst");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], text[8192] = "";
    cr_assert_eq(mx_output_open(&cfg, "fp-2", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    /* the checkpoint exists before any row */
    struct mx_checkpoint ck = read_ck(path);
    cr_expect_eq(ck.rows, 0);
    cr_expect_eq(ck.offset, 0);
    cr_expect_not(ck.complete);
    put_simple(o, 1, text, sizeof text);
    /* not big or old enough: nothing becomes durable */
    cr_assert_eq(mx_output_sync(o, 1, false, err, sizeof err), MX_OK);
    ck = read_ck(path);
    cr_expect_eq(ck.rows, 0);
    cr_expect_eq(file_size(path), 0);
    cr_assert_eq(mx_output_close(o, 1, false, err, sizeof err), MX_OK, "%s", err);
    ck = read_ck(path);
    cr_expect_eq(ck.rows, 1);
    cr_expect_not(ck.complete);
}

Test(output, frames_by_size)
{
    const char *path = path_of("out.zst");
    struct mx_config cfg = config(path);
    cfg.frame_bytes = 200;
    struct mx_output *o;
    char err[MX_ERRLEN], want[16384];
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    for (unsigned i = 1; i <= 60; i++) {
        put_simple(o, i, want, sizeof want);
        cr_assert_eq(mx_output_sync(o, i, false, err, sizeof err), MX_OK, "%s", err);
        struct mx_checkpoint ck = read_ck(path);
        cr_assert_eq(ck.offset, (uint64_t)file_size(path), "row %u", i);
    }
    cr_assert_eq(mx_output_close(o, 60, true, err, sizeof err), MX_OK, "%s", err);
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want);
    cr_expect_gt(frames, 5, "frames: %u", frames);
    free(got);
}

static void resume_case(const char *name)
{
    const char *path = path_of(name);
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], want[8192];
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp-r", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    for (unsigned i = 1; i <= 3; i++)
        put_simple(o, i, want, sizeof want);
    cr_assert_eq(mx_output_sync(o, 3, true, err, sizeof err), MX_OK, "%s", err);
    cr_assert_eq(mx_output_close(o, 3, false, err, sizeof err), MX_OK, "%s", err);
    struct mx_checkpoint ck = read_ck(path);
    cr_assert_eq(ck.rows, 3);
    cr_assert_eq(ck.offset, (uint64_t)file_size(path));

    /* a crash mid-frame leaves bytes past the checkpoint */
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "\x28\xb5\x2f\xfd garbage,of,a,half,written,frame", 36), 36);
    close(fd);
    cr_assert_gt((uint64_t)file_size(path), ck.offset);

    cfg.resume = true;
    cr_assert_eq(mx_output_open(&cfg, "fp-r", &ck, &o, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq((uint64_t)file_size(path), ck.offset, "cut back to the checkpoint");
    for (unsigned i = 4; i <= 6; i++)
        put_simple(o, i, want, sizeof want);
    cr_assert_eq(mx_output_close(o, 6, true, err, sizeof err), MX_OK, "%s", err);
    ck = read_ck(path);
    cr_expect_eq(ck.rows, 6);
    cr_expect(ck.complete);
    cr_expect_str_eq(ck.fingerprint, "fp-r");
    cr_expect_eq(ck.offset, (uint64_t)file_size(path));
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want, "one header, rows 1..6 in order");
    free(got);
}

Test(output, resume_zstd)
{
    resume_case("out.zst");
}

Test(output, resume_plain)
{
    resume_case("out.csv");
}

Test(output, resume_from_offset_zero_writes_header)
{
    /* a run killed before its first sync: checkpoint 0/0, junk in the file */
    const char *path = path_of("out.zst");
    FILE *f = fopen(path, "wb");
    fputs("\x28\xb5\x2f\xfdjunk", f);
    fclose(f);
    struct mx_checkpoint ck = {.fingerprint = "fp", .rows = 0, .offset = 0};
    struct mx_config cfg = config(path);
    cfg.resume = true;
    struct mx_output *o;
    char err[MX_ERRLEN], want[4096];
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp", &ck, &o, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 1, want, sizeof want);
    cr_assert_eq(mx_output_close(o, 1, true, err, sizeof err), MX_OK, "%s", err);
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(output, resume_shorter_file_refused)
{
    const char *path = path_of("out.zst");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], text[4096] = "";
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 1, text, sizeof text);
    cr_assert_eq(mx_output_close(o, 1, false, err, sizeof err), MX_OK, "%s", err);
    struct mx_checkpoint ck = read_ck(path);
    cr_assert_gt(ck.offset, 10);
    cr_assert_eq(truncate(path, (off_t)ck.offset - 10), 0);
    o = NULL;
    enum mx_status st = mx_output_open(&cfg, "fp", &ck, &o, err, sizeof err);
    cr_expect_eq(st, MX_EFORMAT, "%s", mx_status_name(st));
    cr_expect_null(o);
    cr_expect_gt(strlen(err), 0);
}

Test(output, rollback_discards_pending_rows)
{
    const char *path = path_of("out.zst");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], want[8192], junk[8192] = "";
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 1, want, sizeof want);
    put_simple(o, 2, want, sizeof want);
    cr_assert_eq(mx_output_sync(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 3, junk, sizeof junk);
    put_simple(o, 4, junk, sizeof junk);
    uint64_t kept = mx_output_rollback(o, UINT64_MAX);
    cr_expect_eq(kept, 2);
    struct mx_checkpoint ck = read_ck(path);
    cr_expect_eq(ck.rows, 2);
    cr_expect_eq(ck.offset, (uint64_t)file_size(path));
    /* the scan redoes rows 3 and 4 */
    put_simple(o, 3, want, sizeof want);
    put_simple(o, 4, want, sizeof want);
    cr_assert_eq(mx_output_close(o, 4, true, err, sizeof err), MX_OK, "%s", err);
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(output, rollback_before_first_sync_keeps_header)
{
    const char *path = path_of("out.zst");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], want[8192], junk[8192] = "";
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 1, junk, sizeof junk);
    uint64_t kept = mx_output_rollback(o, 0);
    cr_expect_eq(kept, 0);
    put_simple(o, 1, want, sizeof want);
    put_simple(o, 2, want, sizeof want);
    cr_assert_eq(mx_output_close(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want, "the header must survive a roll-back to the start");
    free(got);
}

Test(output, rollback_to_older_point)
{
    const char *path = path_of("out.csv");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN], want[8192], junk[8192] = "";
    header_line(want, sizeof want);
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    put_simple(o, 1, want, sizeof want);
    cr_assert_eq(mx_output_sync(o, 1, true, err, sizeof err), MX_OK, "%s", err);
    /* wait for the clock to move so the two durable points differ in time */
    uint64_t t1 = mx_now_ms();
    while (mx_now_ms() == t1)
        ;
    put_simple(o, 2, junk, sizeof junk);
    cr_assert_eq(mx_output_sync(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(mx_output_rollback(o, t1), 1);
    put_simple(o, 2, want, sizeof want);
    cr_assert_eq(mx_output_close(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    unsigned frames;
    char *got = csv_text(path, &frames);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(output, checkpoint_paths)
{
    char buf[256];
    cr_expect_not(mx_checkpoint_path("-", buf, sizeof buf));
    cr_expect_not(mx_checkpoint_path(NULL, buf, sizeof buf));
    cr_expect_not(mx_checkpoint_path("/dev/null", buf, sizeof buf));
    cr_expect_not(mx_checkpoint_path("/tmp", buf, sizeof buf), "a directory");
    const char *p = path_of("out.zst"); /* does not exist yet: fine */
    cr_assert(mx_checkpoint_path(p, buf, sizeof buf));
    char want[300];
    snprintf(want, sizeof want, "%s.ckpt", p);
    cr_expect_str_eq(buf, want);
    cr_expect_not(mx_checkpoint_path(p, buf, strlen(p) + 5), "no room for the NUL");
    cr_expect(mx_checkpoint_path(p, buf, strlen(p) + 6));
}

Test(output, dev_null_not_resumable)
{
    struct mx_config cfg = config("/dev/null");
    struct mx_output *o;
    char err[MX_ERRLEN], text[4096] = "";
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    cr_expect_not(mx_output_resumable(o));
    put_simple(o, 1, text, sizeof text);
    cr_expect_eq(mx_output_sync(o, 1, true, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(mx_output_close(o, 1, true, err, sizeof err), MX_OK, "%s", err);
    cr_expect_neq(access("/dev/null.ckpt", F_OK), 0);
}

Test(output, checkpoint_read_errors)
{
    char err[MX_ERRLEN];
    struct mx_checkpoint ck;
    const char *p = path_of("out.zst.ckpt");
    cr_expect_eq(mx_checkpoint_read(p, &ck, err, sizeof err), MX_EIO);
    FILE *f = fopen(p, "w");
    fputs("mxscan-checkpoint 1\nfingerprint abc\nrows 5\n", f); /* no offset */
    fclose(f);
    cr_expect_eq(mx_checkpoint_read(p, &ck, err, sizeof err), MX_EFORMAT);
    f = fopen(p, "w");
    fputs("mxscan-checkpoint 2\nfingerprint abc\nrows 5\noffset 9\ncomplete 0\n", f);
    fclose(f);
    cr_expect_eq(mx_checkpoint_read(p, &ck, err, sizeof err), MX_EFORMAT);
    f = fopen(p, "w");
    fputs("mxscan-checkpoint 1\nfingerprint abc\nrows 5\noffset 9\ncomplete 1\n", f);
    fclose(f);
    cr_assert_eq(mx_checkpoint_read(p, &ck, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(ck.rows, 5);
    cr_expect_eq(ck.offset, 9);
    cr_expect(ck.complete);
    cr_expect_str_eq(ck.fingerprint, "abc");
}

Test(output, long_row_is_cut_not_overrun)
{
    const char *path = path_of("out.csv");
    struct mx_config cfg = config(path);
    struct mx_output *o;
    char err[MX_ERRLEN];
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    /* the worst case: every byte of text becomes a 4-byte escape, split
     * over several columns, plus quotes */
    static char ctl[MX_RESULT_TEXT];
    memset(ctl, 0x01, sizeof ctl);
    mx_result_reset(&R);
    mx_result_append(&R, MX_COL_SPF, ctl, MX_RESULT_TEXT / 2);
    mx_result_append(&R, MX_COL_DMARC, ctl, MX_RESULT_TEXT / 2 - 1);
    mx_result_append(&R, MX_COL_MX, "\"", 1);
    cr_assert_eq(mx_output_row(o, &R, info(1), err, sizeof err), MX_OK, "%s", err);
    memset(ctl, '"', sizeof ctl);
    mx_result_reset(&R);
    mx_result_append(&R, MX_COL_SPF, ctl, MX_RESULT_TEXT);
    cr_assert_eq(mx_output_row(o, &R, info(2), err, sizeof err), MX_OK, "%s", err);
    cr_assert_eq(mx_output_close(o, 2, true, err, sizeof err), MX_OK, "%s", err);
    size_t n;
    unsigned char *raw = slurp(path, &n);
    unsigned lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += raw[i] == '\n';
    cr_expect_eq(lines, 3, "header and two rows, each ending in a newline");
    cr_expect_eq(raw[n - 1], '\n');
    free(raw);
}
