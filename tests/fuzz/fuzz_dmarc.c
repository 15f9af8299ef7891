/* Fuzz target: DMARC selection, tag parser and discovery. The input lines
 * are the TXT records of every _dmarc name (all of them SERVFAIL when the
 * input starts with '!').
 *
 * Invariants (abort when violated):
 * - parser: a record that parses is a DMARC record, has a policy, pct
 *   0..100, adkim/aspf r or s, strings ending within their buffers; and it
 *   round-trips: the record written back from what was parsed ("v=DMARC1;
 *   p=...; sp=...; pct=...", every tag) parses to the same values.
 * - discovery: only DMARC codes of the table, and the selection the
 *   answers call for: a failed look-up judges nothing; no DMARC record is
 *   dmarc_missing alone; several are dmarc_invalid; one is valid exactly
 *   when it parses, with its p= as the policy and dmarc_none for p=none;
 *   the same answers give the same result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "mx/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    const uint8_t *data;
    size_t size;
    struct mx_answer *ans[8];
    size_t nans;
};

static const struct mx_answer *get(void *ud, const char *name, uint16_t qtype, unsigned flags)
{
    struct fz *f = ud;
    struct mx_answer *a;
    (void)name;
    (void)flags;
    if (f->nans == 8)
        return NULL;
    if (f->size > 0 && f->data[0] == '!')
        a = mx_answer_failure(MX_RC_SERVFAIL, qtype);
    else
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
    for (size_t start = 0, i = 0; a && i <= f->size; i++)
        if (i == f->size || f->data[i] == '\n') {
            mx_answer_add_txt(&a, (const char *)f->data + start, i - start);
            start = i + 1;
        }
    return fuzz_keep(f->ans, &f->nans, a);
}

/* Printable ASCII without a backslash, and room to spare: a rua/ruf text
 * that mx_dmarc_parse keeps as it is, so it can be written back. */
static bool plain(const char *s, size_t cap)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\')
            return false;
    return n + 1 < cap;
}

static void check_round_trip(const struct mx_dmarc_record *r)
{
    static char buf[1024];
    struct mx_dmarc_record again;
    char err[128];
    /* fo and rf are cut to fit their buffers: a full one may be cut */
    if (strlen(r->fo) + 1 >= sizeof r->fo || strlen(r->rf) + 1 >= sizeof r->rf)
        return;
    bool uris = plain(r->rua, sizeof r->rua) && plain(r->ruf, sizeof r->ruf);
    int n = snprintf(buf, sizeof buf, "v=DMARC1; p=%s%s%s; pct=%u; adkim=%c; aspf=%c; fo=%s; "
                                      "rf=%s; ri=%lu%s%s%s%s",
                     mx_dmarc_policy_name(r->p), r->sp ? "; sp=" : "",
                     r->sp ? mx_dmarc_policy_name(r->sp) : "", r->pct, r->adkim, r->aspf, r->fo,
                     r->rf, r->ri, uris && r->rua[0] ? "; rua=" : "", uris ? r->rua : "",
                     uris && r->ruf[0] ? "; ruf=" : "", uris ? r->ruf : "");
    CHECK(n > 0 && (size_t)n < sizeof buf);
    CHECK(mx_dmarc_parse(buf, (size_t)n, &again, err, sizeof err));
    CHECK(again.p == r->p && again.sp == r->sp && again.pct == r->pct &&
          again.adkim == r->adkim && again.aspf == r->aspf && again.ri == r->ri &&
          strcmp(again.fo, r->fo) == 0 && strcmp(again.rf, r->rf) == 0);
    /* an empty rua= or ruf= is bad and not written back: only good stays good */
    if (uris)
        CHECK(strcmp(again.rua, r->rua) == 0 && strcmp(again.ruf, r->ruf) == 0 &&
              (r->uri_bad || !again.uri_bad));
}

static void check_record(const char *txt, size_t len)
{
    struct mx_dmarc_record r;
    char err[128];
    bool is = mx_dmarc_is_record(txt, len);
    if (!mx_dmarc_parse(txt, len, &r, err, sizeof err)) {
        CHECK(err[0] != 0);
        CHECK_STR(err);
        return;
    }
    CHECK(is);
    CHECK(r.p != MX_DMARC_P_UNSET && r.p <= MX_DMARC_P_REJECT && r.sp <= MX_DMARC_P_REJECT);
    CHECK(r.pct <= 100 && (r.adkim == 'r' || r.adkim == 's') && (r.aspf == 'r' || r.aspf == 's'));
    CHECK_STR(r.rua);
    CHECK_STR(r.ruf);
    CHECK_STR(r.fo);
    CHECK_STR(r.rf);
    check_round_trip(&r);
}

static bool same_info(const struct mx_dmarc_info *a, const struct mx_dmarc_info *b)
{
    return a->pending == b->pending && a->lookup_failed == b->lookup_failed &&
           a->source == b->source && a->valid == b->valid && a->policy == b->policy &&
           a->findings == b->findings && strcmp(a->record, b->record) == 0 &&
           strcmp(a->error, b->error) == 0;
}

/* The analysis against the domain's answer (the first one asked): every
 * _dmarc name has the same records here, so the domain's decide. */
static void check_analysis(bool done, const struct mx_dmarc_info *in, const struct mx_answer *a)
{
    const mx_findings_t F = in->findings;
    CHECK(done == !in->pending);
    if (in->pending) {
        CHECK(F == 0 && !in->valid && in->source == MX_DMARC_SRC_NONE);
        return;
    }
    CHECK(fuzz_findings_within(F, MX_F_DMARC_MISSING, MX_F_DMARC_NONE));
    CHECK_STR(in->record);
    CHECK_STR(in->error);
    CHECK(a != NULL);
    if (a->rc != MX_RC_NOERROR && a->rc != MX_RC_NXDOMAIN) {
        CHECK(in->lookup_failed && F == 0 && !in->valid && in->source == MX_DMARC_SRC_NONE);
        return;
    }
    struct mx_rdata rd, first = {0};
    unsigned n = 0; /* DMARC records, the first of them in first */
    for (size_t off = 0; mx_answer_next(a, &off, &rd);) {
        if (!mx_dmarc_is_record(rd.txt, rd.txt_len))
            continue;
        if (n++ == 0)
            first = rd;
    }
    CHECK(!in->lookup_failed);
    if (n == 0) {
        CHECK(F == MX_FBIT(MX_F_DMARC_MISSING) && in->source == MX_DMARC_SRC_NONE &&
              !in->valid && in->record[0] == 0);
        return;
    }
    CHECK(in->source == MX_DMARC_SRC_DOMAIN && in->record[0] != 0);
    if (n > 1) {
        CHECK(F == MX_FBIT(MX_F_DMARC_INVALID) && !in->valid && in->error[0] != 0);
        return;
    }
    struct mx_dmarc_record r;
    bool ok = mx_dmarc_parse(first.txt, first.txt_len, &r, NULL, 0);
    CHECK(in->valid == ok);
    if (!ok) {
        CHECK(F == MX_FBIT(MX_F_DMARC_INVALID) && in->error[0] != 0);
        return;
    }
    CHECK(in->policy == r.p && in->error[0] == 0);
    CHECK(F == (r.p == MX_DMARC_P_NONE ? MX_FBIT(MX_F_DMARC_NONE) : 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size, {0}, 0};
    struct mx_dmarc_info info, again;

    for (size_t start = 0, i = 0; i <= size; i++)
        if (i == size || data[i] == '\n') {
            check_record((const char *)data + start, i - start);
            start = i + 1;
        }
    struct mx_oracle o = {get, &f};
    bool done = mx_dmarc_analyze(&o, "mail.example.co.uk", &info);
    check_analysis(done, &info, f.nans ? f.ans[0] : NULL);
    fuzz_forget(f.ans, &f.nans);
    CHECK(mx_dmarc_analyze(&o, "mail.example.co.uk", &again) == done);
    CHECK(same_info(&info, &again)); /* a pure function of the answers */
    fuzz_forget(f.ans, &f.nans);
    return 0;
}
