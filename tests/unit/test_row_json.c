/* The JSON Lines row (row_json.c) and reading results back (results.c):
 * the object's members and types for analysed domains of many shapes;
 * CSV and JSON Lines files of the same rows read back to the same column
 * text; the tally of a row the same whether it comes from the result or
 * from either file (stats.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_oracle.h"
#include "mx/output.h"
#include "mx/results.h"
#include "mx/stats.h"

static struct mx_allowlist lab_allow;
static struct mx_providers *prov;
static char tmpdir[64];

static void setup(void)
{
    char err[MX_ERRLEN] = "";
    lab_allow.n = 0;
    cr_assert_eq(mx_allowlist_parse(&lab_allow,
                                    "192.0.2.0/24,198.51.100.0/24,203.0.113.0/24,2001:db8::/32",
                                    err, sizeof err),
                 MX_OK, "%s", err);
    unsetenv("MXSCAN_PROVIDERS");
    cr_assert_eq(mx_providers_load(NULL, &prov, err, sizeof err), MX_OK, "%s", err);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mx_test_row_json_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
    mx_providers_destroy(prov);
}

TestSuite(row_json, .init = setup, .fini = teardown);

/* ---- the domains ---- */

struct dcase {
    const char *domain;
    const char *zone;
};

#define REJECT "_dmarc.example.test TXT v=DMARC1; p=reject\n"

static const struct dcase cases[] = {
    /* 0: two exchanges, SPF and DMARC */
    {"example.test", "example.test MX 10 mx1.example.test\n"
                     "example.test MX 20 mx2.example.test\n"
                     "mx1.example.test A 192.0.2.1\nmx1.example.test AAAA 2001:db8::1\n"
                     "mx2.example.test A 192.0.2.2\n"
                     "example.test TXT v=spf1 mx -all\n" REJECT},
    /* 1: alias, a failed A beside an AAAA, a duplicate, an IP literal, a
     * private address, a null MX beside the others */
    {"example.test", "example.test MX 10 alias.example.test\n"
                     "example.test MX 20 broken.example.test\n"
                     "example.test MX 30 alias.example.test\n"
                     "example.test MX 40 192.0.2.7\n"
                     "example.test MX 50 priv.example.test\n"
                     "example.test MX 0 .\n"
                     "alias.example.test A cname 192.0.2.5\n"
                     "broken.example.test A !SERVFAIL\n"
                     "broken.example.test AAAA 2001:db8::9\n"
                     "priv.example.test A 10.0.0.1\n"
                     "example.test TXT v=spf1 a:gone.example.test a:gone2.example.test "
                     "a:gone3.example.test -all\n"},
    /* 2: implicit MX */
    {"example.test", "example.test A 192.0.2.1\nexample.test TXT v=spf1 -all\n" REJECT},
    /* 3: the domain does not exist */
    {"example.test", "other.test MX 10 mx.other.test\n"},
    /* 4: the MX query timed out */
    {"example.test", "example.test MX !TIMEOUT\n"},
    /* 5: providers and a mismatch */
    {"example.test", "example.test MX 10 example-test.mail.protection.outlook.com\n"
                     "example-test.mail.protection.outlook.com A 192.0.2.9\n"
                     "example.test TXT v=spf1 include:_spf.google.com -all\n"
                     "_spf.google.com TXT v=spf1 -all\n" REJECT},
    /* 6: DMARC of the organizational domain (sp=), a record with quotes,
     * commas, non-ASCII and a control byte */
    {"sub.example.test", "sub.example.test MX 10 mx.sub.example.test\n"
                         "mx.sub.example.test A 198.51.100.1\n"
                         "sub.example.test TXT v=spf1 -all exp=\"a,b\" caf\xc3\xa9 \x01\n"
                         "_dmarc.example.test TXT v=DMARC1; p=quarantine; sp=none\n"},
    /* 7: failed TXT look-ups: SPF temperror, DMARC unknown */
    {"example.test", "example.test MX 10 mx.example.test\nmx.example.test A 192.0.2.1\n"
                     "example.test TXT !SERVFAIL\n_dmarc.example.test TXT !TIMEOUT\n"},
    /* 8: exchanges that do not resolve, no MX and no address */
    {"example.test", "example.test MX 10 gone.example.test\n"
                     "example.test MX 20 empty.example.test\n"
                     "empty.example.test TXT x\n" REJECT},
    {"example.test", "example.test TXT v=spf1 -all\n"},
};
#define NCASES (sizeof cases / sizeof cases[0])

static struct mx_result *results; /* NCASES + 1 (the last: an invalid line) */

static struct mx_row_info info_of(size_t i)
{
    struct mx_row_info ri = {
        .line_no = i + 1,
        .input_file = i % 2 ? "lists/top,1m\x01.csv" : "-",
        .has_rank = i % 3 != 0,
        .rank = (int64_t)i * 1000 - 2000,
        .providers = prov,
    };
    return ri;
}

static void analyse_all(void)
{
    results = calloc(NCASES + 1, sizeof *results);
    cr_assert_not_null(results);
    struct mx_analyze_cfg cfg = {.checks = MX_CHECK_DEFAULT, .allow = &lab_allow, .providers = prov};
    for (size_t i = 0; i < NCASES; i++) {
        struct fake_dns *d = fake_dns_new(cases[i].zone);
        fake_dns_analyze(d, &cfg, cases[i].domain, &results[i]);
        fake_dns_free(d);
    }
    mx_analyze_invalid("bad\x01na\"me\xff", &results[NCASES]);
}

static json_t *row_json(size_t i)
{
    static char buf[MX_ROW_MAX];
    struct mx_row_info ri = info_of(i);
    size_t n = mx_output_format_jsonl(&results[i], &ri, buf, sizeof buf);
    cr_assert(n > 1 && n <= sizeof buf, "row %zu: length %zu", i, n);
    cr_assert_eq(buf[n - 1], '\n');
    cr_assert_null(memchr(buf, '\n', n - 1), "row %zu: one line", i);
    json_error_t je;
    json_t *o = json_loadb(buf, n - 1, 0, &je);
    cr_assert(json_is_object(o), "row %zu: %s: %.*s", i, je.text, (int)n, buf);
    return o;
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_int_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void is_null(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_expect(v && json_is_null(v), "%s is not null", key);
}

/* The array's strings joined with ';'. */
static const char *joined(const json_t *a)
{
    static char buf[1024];
    size_t i, w = 0;
    const json_t *v;
    buf[0] = 0;
    cr_assert(json_is_array(a));
    json_array_foreach(a, i, v)
    {
        cr_assert(json_is_string(v));
        w += (size_t)snprintf(buf + w, sizeof buf - w, "%s%s", i ? ";" : "", json_string_value(v));
    }
    return buf;
}

/* ---- the object ---- */

Test(row_json, members_in_order_with_types)
{
    static const char *const keys[] = {"domain", "status", "mail_status", "mx", "findings",
                                       "mx_ttl", "implicit_mx", "providers", "spf", "dmarc",
                                       "input_file", "input_line", "rank", "cut"};
    analyse_all();
    for (size_t i = 0; i <= NCASES; i++) {
        json_t *o = row_json(i);
        /* then the opt-in checks' columns, null in a default scan */
        const size_t nkeys = sizeof keys / sizeof keys[0];
        const size_t noptin = MX_COL_COUNT - 1 - MX_COL_RANK;
        cr_expect_eq(json_object_size(o), nkeys + noptin);
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            if (k < nkeys) {
                cr_expect_str_eq(key, keys[k], "row %zu member %zu", i, k);
            } else if (k < nkeys + noptin) {
                cr_expect_str_eq(key, mx_column_header((enum mx_column)(MX_COL_RANK + 1 + k - nkeys)),
                                 "row %zu member %zu", i, k);
                cr_expect(json_is_null(v), "row %zu: %s is not null in a default scan", i, key);
            }
            k++;
        }
        cr_expect(json_is_array(json_object_get(o, "mx")));
        cr_expect(json_is_array(json_object_get(o, "findings")));
        cr_expect(json_is_object(json_object_get(o, "spf")));
        cr_expect(json_is_object(json_object_get(o, "dmarc")));
        cr_expect(json_is_boolean(json_object_get(o, "cut")));
        cr_expect_eq(num(o, "input_line"), (json_int_t)i + 1);
        struct mx_row_info ri = info_of(i);
        if (ri.has_rank)
            cr_expect_eq(num(o, "rank"), ri.rank);
        else
            is_null(o, "rank");
        cr_expect_str_eq(str(o, "input_file"), i % 2 ? "lists/top,1m\\x01.csv" : "-");
        size_t len;
        const char *f = mx_result_col(&results[i], MX_COL_FINDINGS, &len);
        cr_expect(strlen(joined(json_object_get(o, "findings"))) == len &&
                      memcmp(joined(json_object_get(o, "findings")), f, len) == 0,
                  "row %zu findings", i);
        json_decref(o);
    }
    free(results);
}

Test(row_json, exchanges_and_hosts)
{
    analyse_all();
    json_t *o = row_json(0);
    cr_expect_str_eq(str(o, "mail_status"), "ok");
    cr_expect_eq(num(o, "mx_ttl"), 3600);
    const json_t *mx = json_object_get(o, "mx");
    cr_assert_eq(json_array_size(mx), 2);
    const json_t *e = json_array_get(mx, 0);
    cr_expect_eq(num(e, "preference"), 10);
    cr_expect_str_eq(str(e, "exchange"), "mx1.example.test");
    cr_expect_str_eq(str(e, "lookup"), "ok");
    cr_expect(json_is_false(json_object_get(e, "cname")));
    cr_expect_str_eq(joined(json_object_get(e, "addresses")), "192.0.2.1;2001:db8::1");
    cr_expect_str_eq(str(e, "a"), "NOERROR");
    cr_expect_str_eq(str(e, "aaaa"), "NOERROR");
    is_null(o, "implicit_mx");
    const json_t *spf = json_object_get(o, "spf");
    cr_expect_str_eq(str(spf, "record"), "v=spf1 mx -all");
    cr_expect_str_eq(str(spf, "result"), "ok");
    cr_expect_eq(num(spf, "lookups"), 1);
    cr_expect_eq(num(spf, "voids"), 0);
    const json_t *dm = json_object_get(o, "dmarc");
    cr_expect_str_eq(str(dm, "policy"), "reject");
    cr_expect_str_eq(str(dm, "source"), "domain");
    cr_expect(json_is_false(json_object_get(o, "cut")));
    json_decref(o);

    o = row_json(1);
    mx = json_object_get(o, "mx");
    cr_assert_eq(json_array_size(mx), 6);
    static const struct {
        const char *ex, *lookup, *addrs, *a, *aaaa;
        bool cname;
    } want[] = {
        {"alias.example.test", "ok", "192.0.2.5", "NOERROR", "NOERROR", true},
        {"broken.example.test", "ok", "2001:db8::9", "SERVFAIL", "NOERROR", false},
        {"alias.example.test", "ok", "192.0.2.5", "NOERROR", "NOERROR", true},
        {"192.0.2.7", "not_looked_up", "", NULL, NULL, false},
        {"priv.example.test", "private", "10.0.0.1", "NOERROR", "NOERROR", false},
        {".", "not_looked_up", "", NULL, NULL, false},
    };
    for (size_t k = 0; k < 6; k++) {
        e = json_array_get(mx, k);
        cr_expect_str_eq(str(e, "exchange"), want[k].ex, "entry %zu", k);
        cr_expect_str_eq(str(e, "lookup"), want[k].lookup, "entry %zu", k);
        cr_expect_str_eq(joined(json_object_get(e, "addresses")), want[k].addrs, "entry %zu", k);
        cr_expect_eq(json_is_true(json_object_get(e, "cname")), want[k].cname, "entry %zu", k);
        if (want[k].a) {
            cr_expect_str_eq(str(e, "a"), want[k].a, "entry %zu", k);
            cr_expect_str_eq(str(e, "aaaa"), want[k].aaaa, "entry %zu", k);
        } else {
            is_null(e, "a");
            is_null(e, "aaaa");
        }
    }
    cr_expect_eq(num(json_object_get(o, "spf"), "voids"), 3);
    json_decref(o);

    o = row_json(2); /* implicit */
    cr_expect_eq(json_array_size(json_object_get(o, "mx")), 0);
    is_null(o, "mx_ttl");
    const json_t *imp = json_object_get(o, "implicit_mx");
    cr_assert(json_is_object(imp));
    cr_expect_str_eq(str(imp, "lookup"), "ok");
    cr_expect_str_eq(joined(json_object_get(imp, "addresses")), "192.0.2.1");
    json_decref(o);

    o = row_json(8); /* nxdomain and no address */
    mx = json_object_get(o, "mx");
    cr_expect_str_eq(str(json_array_get(mx, 0), "lookup"), "nxdomain");
    cr_expect_str_eq(str(json_array_get(mx, 1), "lookup"), "no_address");
    json_decref(o);
    free(results);
}

Test(row_json, spf_dmarc_providers_and_failures)
{
    analyse_all();
    json_t *o = row_json(3); /* NXDOMAIN: nothing but the MX query */
    cr_expect_str_eq(str(o, "status"), "NXDOMAIN");
    const json_t *spf = json_object_get(o, "spf"), *dm = json_object_get(o, "dmarc");
    is_null(spf, "record");
    is_null(spf, "result");
    is_null(spf, "lookups");
    is_null(dm, "policy");
    is_null(dm, "source");
    json_decref(o);

    o = row_json(4);
    cr_expect_str_eq(str(o, "status"), "TIMEOUT");
    cr_expect_str_eq(str(o, "mail_status"), "unknown");
    json_decref(o);

    o = row_json(5);
    cr_expect_str_eq(joined(json_object_get(o, "providers")), "microsoft");
    spf = json_object_get(o, "spf");
    cr_expect_str_eq(joined(json_object_get(spf, "providers")), "google");
    cr_expect_str_eq(joined(json_object_get(o, "findings")), "provider_mismatch");
    json_decref(o);

    o = row_json(6);
    dm = json_object_get(o, "dmarc");
    cr_expect_str_eq(str(dm, "source"), "organizational");
    cr_expect_str_eq(str(dm, "policy"), "none");
    spf = json_object_get(o, "spf");
    /* (the SPF module shows a control byte of a record as '?') */
    cr_expect_str_eq(str(spf, "record"), "v=spf1 -all exp=\"a,b\" caf\xc3\xa9 ?");
    json_decref(o);

    o = row_json(7);
    spf = json_object_get(o, "spf");
    cr_expect_str_eq(str(spf, "result"), "temperror");
    is_null(spf, "record");
    dm = json_object_get(o, "dmarc");
    cr_expect_str_eq(str(dm, "source"), "lookup_failed");
    is_null(dm, "policy");
    json_decref(o);

    o = row_json(NCASES); /* an invalid line, written as the CSV writes it */
    cr_expect_str_eq(str(o, "domain"), "bad\\x01na\"me\\xff");
    cr_expect_str_eq(str(o, "status"), "INVALID");
    json_decref(o);
    free(results);
}

Test(row_json, more_mx_records_than_described_are_cut)
{
    char zone[70 * 40 + 64] = "";
    for (int i = 0; i < 70; i++) {
        char line[48];
        snprintf(line, sizeof line, "example.test MX %d mx.example.test\n", i);
        strcat(zone, line);
    }
    strcat(zone, "mx.example.test A 192.0.2.1\n");
    struct mx_result *r = calloc(1, sizeof *r);
    struct fake_dns *d = fake_dns_new(zone);
    struct mx_analyze_cfg cfg = {.checks = MX_CHECK_MX, .allow = &lab_allow, .providers = prov};
    fake_dns_analyze(d, &cfg, "example.test", r);
    fake_dns_free(d);
    cr_expect(r->mx_cut);
    static char buf[MX_ROW_MAX];
    struct mx_row_info ri = {.line_no = 1, .input_file = "-"};
    size_t n = mx_output_format_jsonl(r, &ri, buf, sizeof buf);
    json_t *o = json_loadb(buf, n - 1, 0, NULL);
    cr_assert_not_null(o);
    cr_expect_eq(json_array_size(json_object_get(o, "mx")), MX_RESULT_MX_MAX);
    cr_expect(json_is_true(json_object_get(o, "cut")));
    /* every described record points at the one exchange */
    const json_t *last = json_array_get(json_object_get(o, "mx"), MX_RESULT_MX_MAX - 1);
    cr_expect_str_eq(json_string_value(json_object_get(last, "lookup")), "ok");
    json_decref(o);
    free(r);
}

Test(row_json, a_row_longer_than_the_buffer)
{
    analyse_all();
    struct mx_row_info ri = info_of(0);
    char big[8192];
    size_t n = mx_output_format_jsonl(&results[0], &ri, big, sizeof big);
    cr_assert(n > 100 && n < sizeof big);
    char small[64];
    size_t need = mx_output_format_jsonl(&results[0], &ri, small, sizeof small);
    cr_expect_eq(need, n, "the length needed is returned");
    char *exact = malloc(need);
    cr_expect_eq(mx_output_format_jsonl(&results[0], &ri, exact, need), n);
    cr_expect(memcmp(exact, big, n) == 0);
    /* one byte short: the newline does not fit */
    cr_expect_gt(mx_output_format_jsonl(&results[0], &ri, exact, n - 1), n - 1);
    free(exact);
    free(results);
}

/* ---- files read back ---- */

struct rows {
    char (*f)[MX_COL_COUNT][512];
    size_t n;
    struct mx_tally_row *tally;
};

static void collect(void *ud, const char *const *field, unsigned nfield, const char *const *header,
                    unsigned nheader)
{
    struct rows *r = ud;
    cr_assert_geq(nfield, MX_COL_COUNT);
    cr_assert_geq(nheader, MX_COL_COUNT);
    cr_assert_lt(r->n, NCASES + 1);
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        cr_expect_str_eq(header[c], mx_column_header((enum mx_column)c));
        snprintf(r->f[r->n][c], sizeof r->f[0][0], "%s", field[c]);
    }
    mx_tally_row_from_fields(&r->tally[r->n], prov, field);
    r->n++;
}

static void write_and_read(enum mx_format fmt, const char *name, struct rows *rows)
{
    char path[160], err[MX_ERRLEN];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    struct mx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.output = path;
    cfg.format = fmt;
    cfg.zstd_level = 3;
    cfg.frame_bytes = 1 << 20;
    cfg.frame_ms = 3600 * 1000;
    struct mx_output *o;
    cr_assert_eq(mx_output_open(&cfg, "fp", NULL, &o, err, sizeof err), MX_OK, "%s", err);
    for (size_t i = 0; i <= NCASES; i++) {
        struct mx_row_info ri = info_of(i);
        cr_assert_eq(mx_output_row(o, &results[i], &ri, err, sizeof err), MX_OK, "%s", err);
    }
    cr_assert_eq(mx_output_close(o, NCASES + 1, true, err, sizeof err), MX_OK, "%s", err);
    rows->f = calloc(NCASES + 1, sizeof *rows->f);
    rows->tally = calloc(NCASES + 1, sizeof *rows->tally);
    rows->n = 0;
    cr_assert_eq(mx_results_read(path, 0, collect, rows, err, sizeof err), MX_OK, "%s", err);
    cr_assert_eq(rows->n, NCASES + 1);
}

Test(row_json, csv_and_jsonl_read_back_alike)
{
    analyse_all();
    struct rows csv, jsonl, jsonl_plain;
    write_and_read(MX_FORMAT_CSV, "out.csv.zst", &csv);
    write_and_read(MX_FORMAT_JSONL, "out.jsonl.zst", &jsonl);
    write_and_read(MX_FORMAT_JSONL, "out.jsonl", &jsonl_plain);
    for (size_t i = 0; i <= NCASES; i++) {
        for (unsigned c = 0; c < MX_COL_COUNT; c++) {
            cr_expect_str_eq(jsonl.f[i][c], csv.f[i][c], "row %zu column %s", i,
                             mx_column_header((enum mx_column)c));
            cr_expect_str_eq(jsonl_plain.f[i][c], csv.f[i][c]);
        }
        /* the tally of a row: from the result, from the CSV, from JSON Lines */
        struct mx_tally_row live;
        struct mx_row_info ri = info_of(i);
        mx_tally_row_from_result(&live, &results[i], mx_tally_input_hash(ri.input_file));
        live.overflow = false; /* this run's rows only */
        cr_expect(memcmp(&live, &csv.tally[i], sizeof live) == 0, "row %zu: CSV tally", i);
        cr_expect(memcmp(&live, &jsonl.tally[i], sizeof live) == 0, "row %zu: JSONL tally", i);
    }
    cr_expect_str_eq(csv.f[1][MX_COL_MX_ADDRESSES],
                     "alias.example.test>CNAME=192.0.2.5;"
                     "broken.example.test=2001:db8::9,A:SERVFAIL;"
                     "priv.example.test=10.0.0.1");
    free(csv.f);
    free(csv.tally);
    free(jsonl.f);
    free(jsonl.tally);
    free(jsonl_plain.f);
    free(jsonl_plain.tally);
    free(results);
}

Test(row_json, not_an_object_is_an_error)
{
    char path[160], err[MX_ERRLEN] = "";
    snprintf(path, sizeof path, "%s/bad.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"domain\":\"a.test\",\"status\":\"NOERROR\"}\n{\"domain\": [1,\n", f);
    fclose(f);
    struct rows r = {calloc(NCASES + 1, sizeof *r.f), 0, calloc(NCASES + 1, sizeof *r.tally)};
    cr_expect_eq(mx_results_read(path, 0, collect, &r, err, sizeof err), MX_EFORMAT);
    cr_expect_eq(r.n, 1);
    cr_expect(strstr(err, "line 2") != NULL, "%s", err);
    free(r.f);
    free(r.tally);
}
