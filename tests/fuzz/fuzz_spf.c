/* Fuzz target: SPF parser, macro expansion, static analysis and check_host.
 * The input is a set of lines; the TXT record of any name is one of them
 * (chosen by a hash of the name), so includes and redirects build trees,
 * loops and broken branches out of the same input.
 *
 * Invariants (abort when violated):
 * - parser: a record that parses has the terms, DNS-querying terms, all,
 *   redirect and exp its summary says, every term inside the record; and it
 *   round-trips: "v=spf1" and its terms joined by single spaces parse to the
 *   same terms. A record that does not parse says why.
 * - expansion: results end within their buffers; an expanded domain is
 *   lowercase, without a trailing dot.
 * - static analysis: only SPF codes of the table; the counts agree with the
 *   findings (more than 10 look-ups: spf_lookup_limit; more than 2 voids,
 *   and only then: spf_void_limit) and no name is fetched once the outcome
 *   is decided (at most 3 voids); the result agrees with the findings; the
 *   same answers give the same analysis.
 * - check_host: at most 11 DNS-querying terms and 3 voids are evaluated,
 *   more than 10 or 2 is a permerror; an explanation only with fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "mx/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16
#define MAX_ANSWERS 512

struct fz {
    const char *line[MAX_LINES];
    size_t len[MAX_LINES];
    size_t nlines;
    struct mx_answer *ans[MAX_ANSWERS];
    size_t nans;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static const struct mx_answer *get(void *ud, const char *name, uint16_t qtype, unsigned flags)
{
    struct fz *f = ud;
    struct mx_answer *a = NULL;
    uint32_t h = hash(name);
    (void)flags;
    if (f->nans == MAX_ANSWERS)
        return NULL; /* pending forever: the caller must cope */
    if (h % 7 == 0) {
        a = mx_answer_failure(h % 2 ? MX_RC_SERVFAIL : MX_RC_NXDOMAIN, qtype);
    } else if (qtype == MX_T_TXT) {
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
        if (a && f->nlines) {
            size_t i = h % f->nlines;
            mx_answer_add_txt(&a, f->line[i], f->len[i]);
            if (h % 5 == 0)
                mx_answer_add_txt(&a, f->line[(i + 1) % f->nlines], f->len[(i + 1) % f->nlines]);
        }
    } else if (qtype == MX_T_MX) {
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
        if (a && h % 3)
            mx_answer_add_mx(&a, 10, h % 2 ? "mx.example.com" : "");
    } else if (qtype == MX_T_PTR) {
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
        for (uint32_t k = 0; a && k < h % 13; k++) /* up to 12 names: the cut at 10 */
            mx_answer_add_ptr(&a, k % 3 == 0 ? "example.com" : k % 3 == 1 ? "mx.example.com"
                                                                             : "a\\032b.example.org");
    } else {
        struct mx_ip ip;
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
        if (a && h % 3 && mx_ip_parse(qtype == MX_T_A ? "192.0.2.1" : "2001:db8::1", &ip))
            mx_answer_add_ip(&a, &ip);
    }
    return fuzz_keep(f->ans, &f->nans, a);
}

static bool is_dns_kind(enum mx_spf_kind k)
{
    return k == MX_SPF_K_INCLUDE || k == MX_SPF_K_A || k == MX_SPF_K_MX || k == MX_SPF_K_PTR ||
           k == MX_SPF_K_EXISTS;
}

static bool same_term(const struct mx_spf_term *t, const struct mx_spf_term *u)
{
    if (t->kind != u->kind || t->qualifier != u->qualifier || t->len != u->len ||
        memcmp(t->text, u->text, t->len) != 0 || t->macro != u->macro || t->cidr4 != u->cidr4 ||
        t->cidr6 != u->cidr6 || memcmp(&t->ip, &u->ip, sizeof t->ip) != 0 ||
        (t->domain == NULL) != (u->domain == NULL) || t->domain_len != u->domain_len)
        return false;
    return !t->domain || t->domain - t->text == u->domain - u->text;
}

/* The record's summary, counted again from its terms; "v=spf1" and the
 * terms joined by single spaces into canon (room for rec->len bytes: the
 * terms are disjoint parts of the record, each after a space). Returns
 * canon's length. */
static size_t recount(const struct mx_spf_record *rec, char *canon)
{
    struct mx_spf_term t;
    size_t off = 0, w = 6;
    unsigned n = 0, ndns = 0, nredirect = 0, nexp = 0;
    bool all = false;
    char allq = 0;

    memcpy(canon, rec->txt, 6); /* "v=spf1" in the record's case */
    while (mx_spf_next_term(rec, &off, &t)) {
        CHECK(off <= rec->len && t.len > 0 && t.text >= rec->txt &&
              t.text + t.len <= rec->txt + rec->len && !memchr(t.text, ' ', t.len));
        CHECK(!t.domain || (t.domain >= t.text && t.domain + t.domain_len <= t.text + t.len));
        CHECK(t.cidr4 <= 32 && t.cidr6 <= 128);
        if (t.kind < MX_SPF_K_REDIRECT)
            CHECK(t.qualifier != 0 && strchr("+-~?", t.qualifier) != NULL);
        else
            CHECK(t.qualifier == 0);
        ndns += is_dns_kind(t.kind);
        if (t.kind == MX_SPF_K_ALL && !all) {
            all = true;
            allq = t.qualifier;
        }
        nredirect += t.kind == MX_SPF_K_REDIRECT;
        nexp += t.kind == MX_SPF_K_EXP;
        CHECK(w + 1 + t.len <= rec->len);
        canon[w++] = ' ';
        memcpy(canon + w, t.text, t.len);
        w += t.len;
        n++;
    }
    CHECK(n == rec->nterms && ndns == rec->ndns && all == rec->has_all);
    CHECK(!all || allq == rec->all_qualifier);
    CHECK(nredirect <= 1 && (nredirect == 1) == rec->has_redirect);
    CHECK(nexp <= 1 && (nexp == 1) == rec->has_exp);
    CHECK(!rec->has_redirect || (rec->redirect.kind == MX_SPF_K_REDIRECT && rec->redirect.domain));
    return w;
}

static void check_record(const char *txt, size_t len)
{
    struct mx_spf_record rec, again;
    struct mx_spf_term t, u;
    char err[128];
    bool is = mx_spf_is_record(txt, len);

    if (!mx_spf_parse(txt, len, &rec, err, sizeof err)) {
        CHECK(err[0] != 0 && memchr(err, 0, sizeof err) != NULL); /* says why */
        return;
    }
    CHECK(is && rec.txt == txt && rec.len == len && err[0] == 0);
    char *canon = malloc(len);
    if (!canon)
        return;
    size_t w = recount(&rec, canon);
    CHECK(mx_spf_parse(canon, w, &again, err, sizeof err));
    CHECK(again.nterms == rec.nterms && again.ndns == rec.ndns && again.has_all == rec.has_all &&
          again.all_qualifier == rec.all_qualifier && again.has_redirect == rec.has_redirect &&
          again.has_exp == rec.has_exp);
    size_t o1 = 0, o2 = 0;
    while (mx_spf_next_term(&rec, &o1, &t)) {
        CHECK(mx_spf_next_term(&again, &o2, &u));
        CHECK(same_term(&t, &u));
    }
    CHECK(!mx_spf_next_term(&again, &o2, &u));
    free(canon);
}

static void check_expansions(const struct mx_spf_macro_ctx *ctx, const char *s, size_t len)
{
    char out[256];
    if (mx_spf_expand(ctx, s, len, out, sizeof out))
        CHECK_STR(out);
    if (mx_spf_expand_explain(ctx, s, len, out, sizeof out))
        CHECK_STR(out);
    if (mx_spf_expand_domain(ctx, s, len, out, sizeof out)) {
        CHECK_STR(out);
        size_t n = strlen(out);
        CHECK(n > 0 && out[n - 1] != '.');
        for (size_t i = 0; i < n; i++)
            CHECK(out[i] < 'A' || out[i] > 'Z');
    }
}

static bool same_info(const struct mx_spf_info *a, const struct mx_spf_info *b)
{
    if (a->pending != b->pending || a->nrecords != b->nrecords ||
        a->txt_failed != b->txt_failed || a->parsed != b->parsed || a->lookups != b->lookups ||
        a->voids != b->voids || a->findings != b->findings || a->result != b->result ||
        a->n_includes != b->n_includes || strcmp(a->record, b->record) != 0 ||
        strcmp(a->all, b->all) != 0 || strcmp(a->error, b->error) != 0)
        return false;
    for (unsigned i = 0; i < a->n_includes; i++)
        if (strcmp(a->includes[i], b->includes[i]) != 0)
            return false;
    return true;
}

static void check_analysis(bool done, const struct mx_spf_info *in)
{
    const mx_findings_t F = in->findings;
    const mx_findings_t perm = MX_FBIT(MX_F_SPF_MULTIPLE) | MX_FBIT(MX_F_SPF_SYNTAX) |
                               MX_FBIT(MX_F_SPF_LOOKUP_LIMIT) | MX_FBIT(MX_F_SPF_VOID_LIMIT);

    CHECK(done == !in->pending);
    if (in->pending) { /* answers missing: nothing judged yet */
        CHECK(F == 0 && in->lookups == 0 && in->voids == 0 && !in->parsed);
        return;
    }
    /* mx_spf_analyze reports spf_missing .. spf_no_enforcement, never
     * spf_mx_not_covered (the caller's check_host does) */
    CHECK(fuzz_findings_within(F, MX_F_SPF_MISSING, MX_F_SPF_NO_ENFORCEMENT));
    CHECK_STR(in->record);
    CHECK_STR(in->all);
    CHECK_STR(in->error);
    CHECK(in->n_includes <= MX_SPF_MAX_INCLUDES);
    for (unsigned i = 0; i < in->n_includes; i++) {
        CHECK_STR(in->includes[i]);
        CHECK(in->includes[i][0] != 0);
        for (unsigned k = 0; k < i; k++)
            CHECK(strcmp(in->includes[i], in->includes[k]) != 0);
    }
    CHECK(in->all[0] == 0 ||
          (strlen(in->all) == 4 && strchr("+-~?", in->all[0]) && strcmp(in->all + 1, "all") == 0));
    if (in->txt_failed) {
        CHECK(F == 0 && in->result == MX_SPF_TEMPERROR && in->nrecords == 0);
        return;
    }
    CHECK((F & MX_FBIT(MX_F_SPF_MISSING)) == (in->nrecords == 0 ? MX_FBIT(MX_F_SPF_MISSING) : 0));
    CHECK(!(F & MX_FBIT(MX_F_SPF_MULTIPLE)) == (in->nrecords <= 1));
    CHECK(in->parsed == (in->nrecords == 1 && !(F & MX_FBIT(MX_F_SPF_SYNTAX))));
    if (in->nrecords == 0)
        CHECK(F == MX_FBIT(MX_F_SPF_MISSING) && in->result == MX_SPF_NONE);
    if (!in->parsed) {
        CHECK(in->lookups == 0 && in->voids == 0 && in->n_includes == 0 && in->all[0] == 0);
        CHECK(in->nrecords == 0 || in->result == MX_SPF_PERMERROR);
        return;
    }
    /* the limits: counted over the whole tree, no fetch once decided */
    CHECK(in->voids <= 3);
    CHECK(in->lookups <= 10 || (F & MX_FBIT(MX_F_SPF_LOOKUP_LIMIT)));
    CHECK((in->voids > 2) == !!(F & MX_FBIT(MX_F_SPF_VOID_LIMIT)));
    CHECK(!(F & perm) || in->result == MX_SPF_PERMERROR);
    CHECK(in->result == MX_SPF_NEUTRAL || in->result == MX_SPF_TEMPERROR ||
          in->result == MX_SPF_PERMERROR);
    CHECK(in->result != MX_SPF_NEUTRAL || !(F & MX_FBIT(MX_F_SPF_INCLUDE_BROKEN)));
    CHECK(!((F & MX_FBIT(MX_F_SPF_PASS_ALL)) && (F & MX_FBIT(MX_F_SPF_NO_ENFORCEMENT))));
    CHECK(!(F & MX_FBIT(MX_F_SPF_PASS_ALL)) || strcmp(in->all, "+all") == 0);
}

static void check_trace(enum mx_spf_result r, const struct mx_spf_trace *tr, bool explain)
{
    CHECK(r <= MX_SPF_PENDING);
    CHECK_STR(tr->term);
    CHECK_STR(tr->explain);
    CHECK_STR(tr->explanation);
    if (r == MX_SPF_PENDING)
        return;
    CHECK(tr->lookups <= 11 && tr->voids <= 3);
    CHECK((tr->lookups <= 10 && tr->voids <= 2) || r == MX_SPF_PERMERROR);
    CHECK(tr->explanation[0] == 0 || (explain && r == MX_SPF_FAIL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz f;
    static struct mx_spf_info info, again;
    const char *txt = (const char *)data;
    struct mx_spf_record rec;
    struct mx_spf_term t;
    struct mx_ip ip4, ip6;
    char err[128];

    memset(&f, 0, sizeof f);
    for (size_t start = 0, i = 0; i <= size && f.nlines < MAX_LINES; i++)
        if (i == size || data[i] == '\n') {
            f.line[f.nlines] = txt + start;
            f.len[f.nlines++] = i - start;
            start = i + 1;
        }

    CHECK(mx_ip_parse("192.0.2.1", &ip4) && mx_ip_parse("2001:db8::1", &ip6));
    struct mx_spf_macro_ctx ctx = {
        .ip = &ip4, .sender = "a-b.c@example.com", .domain = "example.com"};
    for (size_t l = 0; l < f.nlines; l++) {
        check_record(f.line[l], f.len[l]);
        check_expansions(&ctx, f.line[l], f.len[l]);
        if (!mx_spf_parse(f.line[l], f.len[l], &rec, err, sizeof err))
            continue;
        size_t off = 0;
        while (mx_spf_next_term(&rec, &off, &t))
            if (t.domain)
                check_expansions(&ctx, t.domain, t.domain_len);
    }

    struct mx_oracle o = {get, &f};
    struct mx_spf_trace tr;
    check_analysis(mx_spf_analyze(&o, "example.com", &info), &info);
    fuzz_forget(f.ans, &f.nans);
    mx_spf_analyze(&o, "example.com", &again);
    CHECK(same_info(&info, &again)); /* a pure function of the answers */
    fuzz_forget(f.ans, &f.nans);
    check_trace(mx_spf_check_host(&o, &ip4, "example.com", NULL, NULL, &tr), &tr, false);
    check_trace(mx_spf_check_host(&o, &ip6, "example.com", "x@example.org", "helo.example.net",
                                  &tr),
                &tr, false);
    check_trace(mx_spf_check_host_explain(&o, &ip4, "example.com", "a b@example.org", NULL, 1,
                                          &tr),
                &tr, true);
    fuzz_forget(f.ans, &f.nans);
    return 0;
}
