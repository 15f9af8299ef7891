/* Streaming domain-list reader (input.h): plain, CSV, zstd, gzip, damage. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "mx/input.h"
#include "mx/names.h"

/* ---- temp files ---- */

static char tmpdir[64];
static char made[16][128];
static size_t nmade;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mx_test_input_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    nmade = 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < nmade; i++)
        unlink(made[i]);
    rmdir(tmpdir);
}

TestSuite(input, .init = setup, .fini = teardown);

static const char *write_file(const char *name, const void *data, size_t len)
{
    cr_assert_lt(nmade, 16);
    char *path = made[nmade++];
    snprintf(path, sizeof made[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* checksum: a content checksum in the frame, as the zstd CLI writes */
static unsigned char *zstd_ck(const char *s, size_t n, size_t *outlen, int checksum)
{
    size_t cap = ZSTD_compressBound(n);
    unsigned char *buf = malloc(cap);
    cr_assert_not_null(buf);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    cr_assert_not_null(cc);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum);
    size_t r = ZSTD_compress2(cc, buf, cap, s, n);
    cr_assert_not(ZSTD_isError(r));
    ZSTD_freeCCtx(cc);
    *outlen = r;
    return buf;
}

static unsigned char *zstd_of(const char *s, size_t n, size_t *outlen)
{
    return zstd_ck(s, n, outlen, 0);
}

static unsigned char *gzip_of(const char *s, size_t n, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    unsigned char *buf = malloc(cap);
    cr_assert_not_null(buf);
    zs.next_in = (unsigned char *)(uintptr_t)s;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = cap - zs.avail_out;
    deflateEnd(&zs);
    return buf;
}

/* ---- reading everything ---- */

struct row {
    char *name;
    size_t len;
    char *raw;
    size_t rawlen;
    bool cut;
    unsigned file_index;
    uint64_t line_no;
    bool has_rank;
    int64_t rank;
};

struct run {
    struct row *rows;
    size_t n, cap;
    enum mx_status end;  /* first status that was not MX_OK */
    char err[MX_ERRLEN];
};

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Reads until the first non-OK status (continue_after_error: until MX_EEOF,
 * keeping the first error in end/err). */
static void read_all(const char *const *paths, size_t npaths, struct run *r,
                     bool continue_after_error)
{
    struct mx_input *in = NULL;
    char err[MX_ERRLEN];
    memset(r, 0, sizeof *r);
    r->end = MX_EEOF;
    enum mx_status st = mx_input_open(&in, paths, npaths, err, sizeof err);
    cr_assert_eq(st, MX_OK, "open: %s", err);
    for (unsigned guard = 0; guard < 1000000; guard++) {
        struct mx_input_line l;
        st = mx_input_next(in, &l, err, sizeof err);
        if (st == MX_OK) {
            if (r->n == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 64;
                r->rows = realloc(r->rows, r->cap * sizeof *r->rows);
                cr_assert_not_null(r->rows);
            }
            struct row *w = &r->rows[r->n++];
            w->name = dup_bytes(l.name, l.len);
            w->len = l.len;
            w->raw = dup_bytes(l.raw, l.rawlen);
            w->rawlen = l.rawlen;
            w->cut = l.cut;
            w->file_index = l.file_index;
            w->line_no = l.line_no;
            w->has_rank = l.has_rank;
            w->rank = l.rank;
            continue;
        }
        if (st != MX_EEOF && r->end == MX_EEOF) {
            r->end = st;
            snprintf(r->err, sizeof r->err, "%s", err);
        }
        if (st == MX_EEOF || !continue_after_error)
            break;
    }
    mx_input_destroy(in);
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].name);
        free(r->rows[i].raw);
    }
    free(r->rows);
}

static void read_one(const char *path, struct run *r)
{
    const char *paths[] = {path};
    read_all(paths, 1, r, false);
}

static void expect_row(const struct run *r, size_t i, const char *name, unsigned fi,
                       uint64_t line)
{
    cr_assert_lt(i, r->n, "row %zu missing (have %zu)", i, r->n);
    cr_expect_str_eq(r->rows[i].name, name, "row %zu", i);
    cr_expect_eq(r->rows[i].len, strlen(name), "row %zu len", i);
    cr_expect_eq(r->rows[i].file_index, fi, "row %zu file_index", i);
    cr_expect_eq(r->rows[i].line_no, line, "row %zu line_no %llu want %llu", i,
                 (unsigned long long)r->rows[i].line_no, (unsigned long long)line);
}

/* "host<i>.example\n" for i in [0, n) */
static char *host_list(size_t n, size_t *len)
{
    char *buf = malloc(n * 24 + 1);
    cr_assert_not_null(buf);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += (size_t)sprintf(buf + w, "host%zu.example\n", i);
    *len = w;
    return buf;
}

/* every row is a complete, consecutive host line from 0 */
static void expect_hosts(const struct run *r, size_t n)
{
    cr_assert_eq(r->n, n, "rows %zu want %zu", r->n, n);
    for (size_t i = 0; i < r->n; i++) {
        char want[48];
        snprintf(want, sizeof want, "host%zu.example", i);
        cr_assert_str_eq(r->rows[i].name, want, "row %zu", i);
        cr_assert_eq(r->rows[i].line_no, i + 1);
    }
}

static void expect_complete_prefix(const struct run *r, size_t total)
{
    cr_assert_lt(r->n, total);
    for (size_t i = 0; i < r->n; i++) {
        char want[48];
        snprintf(want, sizeof want, "host%zu.example", i);
        cr_assert_str_eq(r->rows[i].name, want, "row %zu is not a complete line", i);
    }
}

/* ---- tests ---- */

Test(input, plain_list)
{
    static const char text[] = "example.com\nExample.ORG.\nb\xC3\xBC" "cher.example\n";
    struct run r;
    read_one(write_file("list.txt", text, sizeof text - 1), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 3);
    expect_row(&r, 0, "example.com", 0, 1);
    expect_row(&r, 1, "Example.ORG.", 0, 2); /* the reader does not normalise */
    expect_row(&r, 2, "b\xC3\xBC" "cher.example", 0, 3);
    cr_expect_not(r.rows[0].cut);
    run_free(&r);
}

Test(input, last_line_without_newline)
{
    static const char text[] = "a.example\nb.example";
    struct run r;
    read_one(write_file("list.txt", text, sizeof text - 1), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 2);
    expect_row(&r, 1, "b.example", 0, 2);
    run_free(&r);
}

Test(input, empty_and_tiny_files)
{
    struct run r;
    read_one(write_file("empty.txt", "", 0), &r);
    cr_expect_eq(r.end, MX_EEOF);
    cr_expect_eq(r.n, 0);
    run_free(&r);
    read_one(write_file("tiny.txt", "a\n", 2), &r); /* shorter than any magic */
    cr_expect_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 1);
    expect_row(&r, 0, "a", 0, 1);
    run_free(&r);
    /* a lone gzip magic byte pair is a truncated gzip file */
    read_one(write_file("magic.gz", "\x1f\x8b", 2), &r);
    cr_expect_eq(r.end, MX_EFORMAT);
    cr_expect_eq(r.n, 0);
    run_free(&r);
}

Test(input, csv_with_header_and_quotes)
{
    static const char text[] = "rank,domain\n"
                               "1,example.com\n"
                               "2,\"quoted.example\"\n"
                               "3,\"with,comma.example\"\n"
                               "4,\"say \"\"hi\"\"\"\n"
                               "\"5\",\"x.example\"\n"
                               "6, spaced.example \n"
                               "7,\n"
                               "8,\"broken.example\n"
                               "9,bad\"quote.example\n"
                               "rank,domain\n"
                               "\"only-quoted.example\"\n";
    struct run r;
    read_one(write_file("top.csv", text, sizeof text - 1), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 11, "rows: %zu", r.n);
    expect_row(&r, 0, "example.com", 0, 2);
    expect_row(&r, 1, "quoted.example", 0, 3);
    expect_row(&r, 2, "with,comma.example", 0, 4);
    expect_row(&r, 3, "say \"hi\"", 0, 5);
    expect_row(&r, 4, "x.example", 0, 6);
    cr_expect_eq(r.rows[4].rawlen, strlen("\"5\",\"x.example\""));
    /* libcsv trims blanks around unquoted fields; the name is normalised later anyway */
    char out[MX_NAME_MAX + 1];
    cr_expect(mx_name_normalize(r.rows[5].name, r.rows[5].len, out, sizeof out));
    cr_expect_str_eq(out, "spaced.example");
    expect_row(&r, 6, "", 0, 8);                          /* empty field: invalid row */
    expect_row(&r, 7, "8,\"broken.example", 0, 9);       /* unbalanced quote: whole line */
    expect_row(&r, 8, "9,bad\"quote.example", 0, 10);    /* stray quote: whole line */
    expect_row(&r, 9, "domain", 0, 11);                  /* a header only on top */
    expect_row(&r, 10, "only-quoted.example", 0, 12);
    cr_expect_not(mx_name_normalize(r.rows[7].name, r.rows[7].len, out, sizeof out));
    run_free(&r);
}

Test(input, header_variants)
{
    static const char text[] = "\xEF\xBB\xBF# exported list\n\n Rank , NAME \nname.example\n";
    struct run r;
    read_one(write_file("h.csv", text, sizeof text - 1), &r);
    cr_assert_eq(r.n, 1);
    expect_row(&r, 0, "name.example", 0, 4);
    run_free(&r);
    /* a lone "domain" without comma is a name, not a header */
    read_one(write_file("h2.txt", "domain\nx.example\n", 17), &r);
    cr_assert_eq(r.n, 2);
    expect_row(&r, 0, "domain", 0, 1);
    run_free(&r);
    /* BOM before a plain first name is dropped */
    read_one(write_file("h3.txt", "\xEF\xBB\xBF" "a.example\n", 13), &r);
    cr_assert_eq(r.n, 1);
    expect_row(&r, 0, "a.example", 0, 1);
    run_free(&r);
}

Test(input, comments_and_blanks_skipped)
{
    static const char text[] = "# comment\n\n   \n\t# indented comment\n \t \r\n"
                               "example.com\n  #trailing\nfoo#bar.example\n";
    struct run r;
    read_one(write_file("c.txt", text, sizeof text - 1), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 2);
    expect_row(&r, 0, "example.com", 0, 6);
    expect_row(&r, 1, "foo#bar.example", 0, 8);
    run_free(&r);
}

Test(input, crlf)
{
    static const char text[] = "a.example\r\nb.example\r\n1,c.example\r\nd.example\r\r\n";
    struct run r;
    read_one(write_file("crlf.txt", text, sizeof text - 1), &r);
    cr_assert_eq(r.n, 4);
    expect_row(&r, 0, "a.example", 0, 1);
    cr_expect_eq(r.rows[0].rawlen, 9);
    expect_row(&r, 1, "b.example", 0, 2);
    expect_row(&r, 2, "c.example", 0, 3);
    expect_row(&r, 3, "d.example\r", 0, 4); /* only one CR is stripped */
    run_free(&r);
}

Test(input, long_line_is_cut_to_one_row)
{
    size_t big = 10000;
    char *text = malloc(3 * big + 100);
    cr_assert_not_null(text);
    size_t w = 0;
    w += (size_t)sprintf(text + w, "a.example\n");
    memset(text + w, 'x', big);
    w += big;
    text[w++] = '\n';
    /* blanks longer than the limit, then a name: still a row */
    memset(text + w, ' ', big);
    w += big;
    w += (size_t)sprintf(text + w, "late.example\n");
    /* blanks longer than the limit, then a comment: skipped */
    memset(text + w, ' ', big);
    w += big;
    w += (size_t)sprintf(text + w, "# late comment\nb.example\n");
    struct run r;
    read_one(write_file("long.txt", text, w), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 4, "rows: %zu", r.n);
    expect_row(&r, 0, "a.example", 0, 1);
    cr_expect(r.rows[1].cut);
    cr_expect_eq(r.rows[1].len, MX_INPUT_LINE_MAX);
    cr_expect_eq(r.rows[1].rawlen, MX_INPUT_LINE_MAX);
    cr_expect_eq(r.rows[1].line_no, 2);
    cr_expect(r.rows[2].cut);
    cr_expect_eq(r.rows[2].line_no, 3);
    expect_row(&r, 3, "b.example", 0, 5);
    cr_expect_not(r.rows[3].cut);
    char out[MX_NAME_MAX + 1];
    cr_expect_not(mx_name_normalize(r.rows[1].name, r.rows[1].len, out, sizeof out));
    cr_expect_not(mx_name_normalize(r.rows[2].name, r.rows[2].len, out, sizeof out));
    run_free(&r);
    free(text);
}

Test(input, long_csv_line_name_is_invalid)
{
    /* the cut falls inside a long first column; the short tail must not pass as a name */
    size_t big = 5000;
    char *text = malloc(big + 100);
    cr_assert_not_null(text);
    memset(text, 'x', big);
    size_t w = big;
    w += (size_t)sprintf(text + w, ",ok.example\n");
    struct run r;
    read_one(write_file("longcsv.csv", text, w), &r);
    cr_assert_eq(r.n, 1);
    cr_expect(r.rows[0].cut);
    char out[MX_NAME_MAX + 1];
    cr_expect_not(mx_name_normalize(r.rows[0].name, r.rows[0].len, out, sizeof out));
    run_free(&r);
    free(text);
}

Test(input, nul_bytes_in_a_line)
{
    static const char text[] = "a.example\nex\0ample.com\n\0\nb.example\n1,c\0.example\n";
    struct run r;
    read_one(write_file("nul.txt", text, sizeof text - 1), &r);
    cr_assert_eq(r.end, MX_EEOF);
    cr_assert_eq(r.n, 5);
    expect_row(&r, 0, "a.example", 0, 1);
    cr_expect_eq(r.rows[1].len, 12);
    cr_expect_eq(memcmp(r.rows[1].name, "ex\0ample.com", 12), 0);
    cr_expect_eq(r.rows[2].len, 1);
    expect_row(&r, 3, "b.example", 0, 4);
    cr_expect_eq(r.rows[4].len, 10);
    cr_expect_eq(memcmp(r.rows[4].name, "c\0.example", 10), 0);
    char out[MX_NAME_MAX + 1];
    cr_expect_not(mx_name_normalize(r.rows[1].name, r.rows[1].len, out, sizeof out));
    cr_expect_not(mx_name_normalize(r.rows[2].name, r.rows[2].len, out, sizeof out));
    run_free(&r);
}

Test(input, zstd_and_gzip_match_plain)
{
    size_t n = 50000, len, zlen, glen; /* ~800 kB: many chunks and blocks */
    char *text = host_list(n, &len);
    unsigned char *z = zstd_of(text, len, &zlen);
    unsigned char *g = gzip_of(text, len, &glen);
    const char *paths[] = {write_file("l.txt", text, len), write_file("l.bin", z, zlen),
                           write_file("l.gz", g, glen)};
    for (int i = 0; i < 3; i++) {
        struct run r;
        read_one(paths[i], &r);
        cr_assert_eq(r.end, MX_EEOF, "%s: %s", paths[i], r.err);
        expect_hosts(&r, n);
        run_free(&r);
    }
    /* progress counters: compressed bytes read, sum of sizes */
    struct mx_input *in;
    char err[MX_ERRLEN];
    cr_assert_eq(mx_input_open(&in, paths, 3, err, sizeof err), MX_OK);
    cr_expect_eq(mx_input_bytes_total(in), len + zlen + glen);
    cr_expect_eq(mx_input_bytes_read(in), 0);
    struct mx_input_line l;
    size_t rows = 0;
    while (mx_input_next(in, &l, err, sizeof err) == MX_OK)
        rows++;
    cr_expect_eq(rows, 3 * n);
    cr_expect_eq(mx_input_bytes_read(in), len + zlen + glen);
    mx_input_destroy(in);
    free(text);
    free(z);
    free(g);
}

Test(input, concatenated_members_and_frames)
{
    static const char part1[] = "a.example\nb.exa";
    static const char part2[] = "mple\nc.example\n";
    size_t l1, l2, z1, z2;
    unsigned char *g1 = gzip_of(part1, sizeof part1 - 1, &l1);
    unsigned char *g2 = gzip_of(part2, sizeof part2 - 1, &l2);
    unsigned char *f1 = zstd_of(part1, sizeof part1 - 1, &z1);
    unsigned char *f2 = zstd_of(part2, sizeof part2 - 1, &z2);
    unsigned char buf[1024];
    memcpy(buf, g1, l1);
    memcpy(buf + l1, g2, l2);
    const char *gz = write_file("cat.gz", buf, l1 + l2);
    memcpy(buf, f1, z1);
    memcpy(buf + z1, f2, z2);
    const char *zs = write_file("cat.zst", buf, z1 + z2);
    const char *paths[] = {gz, zs};
    for (int i = 0; i < 2; i++) {
        struct run r;
        read_one(paths[i], &r);
        cr_assert_eq(r.end, MX_EEOF, "%s", r.err);
        cr_assert_eq(r.n, 3);
        expect_row(&r, 0, "a.example", 0, 1);
        expect_row(&r, 1, "b.example", 0, 2); /* spans the two members */
        expect_row(&r, 2, "c.example", 0, 3);
        run_free(&r);
    }
    free(g1);
    free(g2);
    free(f1);
    free(f2);
}

Test(input, truncated_zstd)
{
    size_t n = 50000, len, zlen;
    char *text = host_list(n, &len);
    unsigned char *z = zstd_of(text, len, &zlen);
    const char *path = write_file("trunc.zst", z, zlen - 100);
    struct run r;
    read_one(path, &r);
    cr_assert_eq(r.end, MX_EFORMAT);
    cr_expect_gt(r.n, 0);
    expect_complete_prefix(&r, n);
    cr_expect_not_null(strstr(r.err, path), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "truncated"), "%s", r.err);
    run_free(&r);
    free(text);
    free(z);
}

Test(input, truncated_gzip)
{
    size_t n = 50000, len, glen;
    char *text = host_list(n, &len);
    unsigned char *g = gzip_of(text, len, &glen);
    const char *path = write_file("trunc.gz", g, glen / 2);
    struct run r;
    read_one(path, &r);
    cr_assert_eq(r.end, MX_EFORMAT);
    cr_expect_gt(r.n, 1000);
    expect_complete_prefix(&r, n);
    cr_expect_not_null(strstr(r.err, path), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "truncated"), "%s", r.err);
    run_free(&r);
    /* only the 8-byte trailer missing: every line is decoded and terminated,
     * so all of them are rows, and the file is still reported truncated */
    path = write_file("trailer.gz", g, glen - 8);
    read_one(path, &r);
    cr_assert_eq(r.end, MX_EFORMAT);
    expect_hosts(&r, n);
    run_free(&r);
    free(text);
    free(g);
}

Test(input, truncated_partial_line_is_not_a_row)
{
    static const char text[] = "a.example\nb.example\npartial.exam";
    size_t glen, zlen;
    unsigned char *g = gzip_of(text, sizeof text - 1, &glen);
    unsigned char *z = zstd_of(text, sizeof text - 1, &zlen);
    /* gzip without its trailer: all data decodes, the stream is incomplete */
    const char *gp = write_file("p.gz", g, glen - 8);
    struct run r;
    read_one(gp, &r);
    cr_assert_eq(r.end, MX_EFORMAT);
    cr_assert_eq(r.n, 2);
    expect_row(&r, 1, "b.example", 0, 2);
    run_free(&r);
    /* zstd frame with its checksum/last bytes missing */
    const char *zp = write_file("p.zst", z, zlen - 1);
    read_one(zp, &r);
    cr_assert_eq(r.end, MX_EFORMAT);
    cr_assert_leq(r.n, 2);
    for (size_t i = 0; i < r.n; i++)
        cr_expect_neq(strcmp(r.rows[i].name, "partial.exam"), 0);
    run_free(&r);
    free(g);
    free(z);
}

Test(input, corrupt_gzip_and_zstd)
{
    size_t n = 50000, len, glen, zlen;
    char *text = host_list(n, &len);
    unsigned char *g = gzip_of(text, len, &glen);
    unsigned char *z = zstd_ck(text, len, &zlen, 1);
    for (size_t i = glen / 2; i < glen / 2 + 64; i++)
        g[i] ^= 0x5a;
    for (size_t i = zlen / 2; i < zlen / 2 + 64; i++)
        z[i] ^= 0x5a;
    const char *paths[] = {write_file("bad.gz", g, glen), write_file("bad.zst", z, zlen)};
    for (int i = 0; i < 2; i++) {
        struct run r;
        read_one(paths[i], &r);
        cr_assert_eq(r.end, MX_EFORMAT, "%s: %s", paths[i], mx_status_name(r.end));
        cr_expect_not_null(strstr(r.err, paths[i]), "%s", r.err);
        cr_expect_not_null(strstr(r.err, "corrupt"), "%s", r.err);
        /* rows before the damage are complete host lines (zstd may catch
         * the damage before decoding a block, and gzip may decode garbage
         * that happens to contain newlines before the check fails: only
         * the rows before the damaged offset are checked) */
        for (size_t k = 0; k < r.n && k < 1000; k++) {
            char want[48];
            snprintf(want, sizeof want, "host%zu.example", k);
            cr_assert_str_eq(r.rows[k].name, want);
        }
        run_free(&r);
    }
    /* a damaged zstd frame header */
    size_t hl;
    unsigned char *h = zstd_of("x.example\n", 10, &hl);
    h[4] = 0xff;
    struct run rh;
    read_one(write_file("hdr.zst", h, hl), &rh);
    cr_expect_eq(rh.end, MX_EFORMAT);
    cr_expect_eq(rh.n, 0);
    cr_expect_not_null(strstr(rh.err, "corrupt"), "%s", rh.err);
    run_free(&rh);
    free(h);
    /* garbage after a gzip member */
    unsigned char buf[256];
    size_t sl;
    unsigned char *s = gzip_of("x.example\n", 10, &sl);
    memcpy(buf, s, sl);
    memcpy(buf + sl, "junk\n", 5);
    struct run r;
    read_one(write_file("junk.gz", buf, sl + 5), &r);
    cr_expect_eq(r.end, MX_EFORMAT);
    cr_assert_eq(r.n, 1);
    expect_row(&r, 0, "x.example", 0, 1);
    run_free(&r);
    free(s);
    free(text);
    free(g);
    free(z);
}

Test(input, several_files_in_a_row)
{
    static const char t0[] = "a.example\n# c\nb.example\n";
    static const char t1[] = "rank,domain\n1,c.example\n2,d.example";
    static const char t2[] = "\ne.example\n";
    size_t l1, l2;
    unsigned char *g = gzip_of(t1, sizeof t1 - 1, &l1);
    unsigned char *z = zstd_of(t2, sizeof t2 - 1, &l2);
    const char *paths[] = {write_file("0.txt", t0, sizeof t0 - 1), write_file("1.gz", g, l1),
                           write_file("2.zst", z, l2), write_file("3.txt", "", 0),
                           write_file("4.txt", "f.example\n", 10)};
    struct run r;
    read_all(paths, 5, &r, false);
    cr_assert_eq(r.end, MX_EEOF, "%s", r.err);
    cr_assert_eq(r.n, 6);
    expect_row(&r, 0, "a.example", 0, 1);
    expect_row(&r, 1, "b.example", 0, 3);
    expect_row(&r, 2, "c.example", 1, 2);
    expect_row(&r, 3, "d.example", 1, 3);
    expect_row(&r, 4, "e.example", 2, 2);
    expect_row(&r, 5, "f.example", 4, 1);
    run_free(&r);
    free(g);
    free(z);
}

Test(input, continues_after_a_damaged_file)
{
    size_t glen;
    unsigned char *g = gzip_of("a.example\nb.example\n", 20, &glen);
    const char *paths[] = {write_file("t.gz", g, glen - 4), write_file("ok.txt", "c.example\n", 10)};
    struct run r;
    read_all(paths, 2, &r, true);
    cr_assert_eq(r.end, MX_EFORMAT);
    cr_assert_eq(r.n, 3);
    expect_row(&r, 1, "b.example", 0, 2);
    expect_row(&r, 2, "c.example", 1, 1);
    run_free(&r);
    free(g);
}

Test(input, open_errors)
{
    struct mx_input *in = (struct mx_input *)1;
    char err[MX_ERRLEN];
    char missing[128];
    snprintf(missing, sizeof missing, "%s/does-not-exist.txt", tmpdir);
    const char *paths[] = {write_file("ok.txt", "a\n", 2), missing};
    cr_assert_eq(mx_input_open(&in, paths, 2, err, sizeof err), MX_EIO);
    cr_expect_null(in);
    cr_expect_not_null(strstr(err, "cannot open"), "%s", err);
    cr_expect_not_null(strstr(err, missing), "%s", err);
    cr_expect_not_null(strstr(err, "No such file"), "%s", err);

    const char *dir[] = {tmpdir};
    cr_assert_eq(mx_input_open(&in, dir, 1, err, sizeof err), MX_EIO);
    cr_expect_not_null(strstr(err, tmpdir), "%s", err);

    /* a file that vanishes between open and read */
    const char *gone[] = {write_file("gone.txt", "a\n", 2), paths[0]};
    cr_assert_eq(mx_input_open(&in, gone, 2, err, sizeof err), MX_OK);
    cr_expect_eq(mx_input_bytes_total(in), 4);
    unlink(gone[0]);
    struct mx_input_line l;
    cr_expect_eq(mx_input_next(in, &l, err, sizeof err), MX_EIO);
    cr_expect_not_null(strstr(err, "gone.txt"), "%s", err);
    cr_assert_eq(mx_input_next(in, &l, err, sizeof err), MX_OK);
    cr_expect_eq(l.file_index, 1);
    cr_expect_eq(mx_input_next(in, &l, err, sizeof err), MX_EEOF);
    cr_expect_eq(mx_input_next(in, &l, err, sizeof err), MX_EEOF);
    mx_input_destroy(in);
}

Test(input, row_count_property)
{
    /* a pseudo-random mix: N non-skipped lines give exactly N rows */
    static const char *const kinds[] = {
        "x.example", "", "   ", "# c", "1,y.example", "\"q,z\"", "bad name", "a..b",
        "\t", "2,\"unterminated", "  #", "caf\xC3\xA9.example", "\xff\xfe", "\r",
    };
    static const bool counted[] = {true, false, false, false, true, true, true, true,
                                   false, true, false, true, true, false};
    size_t nk = sizeof kinds / sizeof kinds[0];
    char *text = malloc(200000);
    cr_assert_not_null(text);
    size_t w = 0, want = 0;
    unsigned seed = 12345;
    /* the first line is not a header candidate */
    w += (size_t)sprintf(text + w, "first.example\n");
    want++;
    for (int i = 0; i < 10000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % nk;
        w += (size_t)sprintf(text + w, "%s\n", kinds[k]);
        want += counted[k];
    }
    size_t glen;
    unsigned char *g = gzip_of(text, w, &glen);
    const char *paths[] = {write_file("mix.txt", text, w), write_file("mix.gz", g, glen)};
    struct run r;
    read_all(paths, 2, &r, false);
    cr_assert_eq(r.end, MX_EEOF, "%s", r.err);
    cr_expect_eq(r.n, 2 * want, "rows %zu want %zu", r.n, 2 * want);
    run_free(&r);
    free(text);
    free(g);
}

Test(input, shard_hash)
{
    /* 64-bit FNV-1a reference values, of the domain column as written */
    cr_expect_eq(mx_shard_hash(""), UINT64_C(0xcbf29ce484222325));
    cr_expect_eq(mx_shard_hash("a"), UINT64_C(0xaf63dc4c8601ec8c));
    cr_expect_eq(mx_shard_hash("foobar"), UINT64_C(0x85944171f73967e8));
    cr_expect_neq(mx_shard_hash("foobaR"), mx_shard_hash("foobar"));
}

/* The rank: the first CSV field, when the line has two fields or more and
 * that field is an integer. */
Test(input, rank_of_csv_lines)
{
    static const char text[] = "rank,domain\n"
                               "1,one.example\n"
                               " 42 ,spaced.example\n"
                               "\"7\",quoted.example\n"
                               "-3,negative.example\n"
                               "+5,plus.example\n"
                               "007,zeros.example\n"
                               "123456789012345678,big.example\n"
                               "1234567890123456789,toobig.example\n"
                               "x1,word.example\n"
                               "1.5,real.example\n"
                               ",empty.example\n"
                               "plain.example\n"
                               "9,8,three.example\n"
                               "99\n"
                               "10,\"broken.example\n";
    struct run r;
    read_one(write_file("ranks.csv", text, sizeof text - 1), &r);
    cr_assert_eq(r.n, 15, "rows: %zu", r.n);
    static const struct {
        const char *name;
        bool has;
        int64_t rank;
    } want[] = {
        {"one.example", true, 1},
        {"spaced.example", true, 42},
        {"quoted.example", true, 7},
        {"negative.example", true, -3},
        {"plus.example", true, 5},
        {"zeros.example", true, 7},
        {"big.example", true, 123456789012345678},
        {"toobig.example", false, 0},
        {"word.example", false, 0},
        {"real.example", false, 0},
        {"empty.example", false, 0},
        {"plain.example", false, 0},
        {"three.example", true, 9},
        {"99", false, 0},                     /* one field: the name, no rank */
        {"10,\"broken.example", false, 0},    /* refused by libcsv: the whole line */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        expect_row(&r, i, want[i].name, 0, i + 2);
        cr_expect_eq(r.rows[i].has_rank, want[i].has, "row %zu has_rank", i);
        cr_expect_eq(r.rows[i].rank, want[i].rank, "row %zu rank %lld", i,
                     (long long)r.rows[i].rank);
    }
    run_free(&r);
}
