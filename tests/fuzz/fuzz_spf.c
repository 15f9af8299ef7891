/* Fuzz target: SPF parser, macro expansion, static analysis and check_host.
 * The input is a set of lines; the TXT record of any name is one of them
 * (chosen by a hash of the name), so includes and redirects build trees,
 * loops and broken branches out of the same input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (!a)
        return NULL;
    f->ans[f->nans++] = a;
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz f;
    const char *txt = (const char *)data;
    struct mx_spf_record rec;
    struct mx_spf_term t;
    struct mx_ip ip4, ip6;
    char err[128], out[256];

    memset(&f, 0, sizeof f);
    for (size_t start = 0, i = 0; i <= size && f.nlines < MAX_LINES; i++)
        if (i == size || data[i] == '\n') {
            f.line[f.nlines] = txt + start;
            f.len[f.nlines++] = i - start;
            start = i + 1;
        }

    mx_ip_parse("192.0.2.1", &ip4);
    mx_ip_parse("2001:db8::1", &ip6);
    struct mx_spf_macro_ctx ctx = {
        .ip = &ip4, .sender = "a-b.c@example.com", .domain = "example.com"};
    for (size_t l = 0; l < f.nlines; l++) {
        mx_spf_is_record(f.line[l], f.len[l]);
        mx_spf_expand_explain(&ctx, f.line[l], f.len[l], out, sizeof out);
        if (!mx_spf_parse(f.line[l], f.len[l], &rec, err, sizeof err))
            continue;
        size_t off = 0;
        while (mx_spf_next_term(&rec, &off, &t))
            if (t.domain) {
                mx_spf_expand(&ctx, t.domain, t.domain_len, out, sizeof out);
                mx_spf_expand_domain(&ctx, t.domain, t.domain_len, out, sizeof out);
            }
    }

    struct mx_oracle o = {get, &f};
    struct mx_spf_info info;
    struct mx_spf_trace tr;
    mx_spf_analyze(&o, "example.com", &info);
    mx_spf_check_host(&o, &ip4, "example.com", NULL, NULL, &tr);
    mx_spf_check_host(&o, &ip6, "example.com", "x@example.org", "helo.example.net", &tr);
    mx_spf_check_host_explain(&o, &ip4, "example.com", "a b@example.org", NULL, 1, &tr);
    for (size_t i = 0; i < f.nans; i++)
        free(f.ans[i]);
    return 0;
}
