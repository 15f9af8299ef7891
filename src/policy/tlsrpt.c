/* TLS-RPT (RFC 8460 3): the `_smtp._tls` TXT record. Readings in
 * include/mx/tlsrpt.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mx/names.h"
#include "mx/tlsrpt.h"
#include "policy_int.h"

const char *mx_tlsrpt_name(enum mx_tlsrpt v)
{
    static const char *const names[] = {MX_TLSRPT_MAP(MX_POLICY_LABEL)};
    return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";
}

static bool uri_chars_ok(const char *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c < 0x21 || c > 0x7e || c == ',' || c == ';')
            return false;
    }
    return n > 0;
}

/* A host name (LDH, underscores refused) or a bracketed address literal,
 * optionally followed by ":port". */
static bool host_ok(const char *h, size_t n)
{
    char tmp[MX_NAME_MAX + 1];
    if (n > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        return close && close > h + 1 &&
               (close + 1 == h + n || close[1] == ':');
    }
    const char *colon = memchr(h, ':', n);
    size_t hl = colon ? (size_t)(colon - h) : n;
    if (colon) {
        size_t pl = n - hl - 1;
        if (pl == 0 || pl > 5)
            return false;
        for (size_t i = 0; i < pl; i++)
            if (colon[1 + i] < '0' || colon[1 + i] > '9')
                return false;
    }
    if (hl == 0 || hl > MX_NAME_MAX)
        return false;
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    if (tmp[hl - 1] == '.')
        tmp[hl - 1] = '\0';
    return tmp[0] && mx_name_check(tmp) == MX_NAME_OK;
}

/* mailto:local@domain[?query] or https://host[:port][/path...] */
static enum mx_tlsrpt uri_check(const char *u, size_t n, struct mx_tlsrpt_record *out)
{
    if (!uri_chars_ok(u, n))
        return MX_TLSRPT_BAD_URI;
    if (n >= 7 && strncasecmp(u, "mailto:", 7) == 0) {
        const char *a = u + 7;
        size_t al = n - 7;
        const char *q = memchr(a, '?', al);
        if (q)
            al = (size_t)(q - a);
        const char *at = memchr(a, '@', al);
        if (!at || at == a || (size_t)(at - a) + 1 >= al ||
            memchr(at + 1, '@', al - (size_t)(at - a) - 1) ||
            !host_ok(at + 1, al - (size_t)(at - a) - 1))
            return MX_TLSRPT_BAD_URI;
        out->n_mailto++;
        return MX_TLSRPT_OK;
    }
    if (n >= 6 && strncasecmp(u, "https:", 6) == 0) {
        if (n < 8 || u[6] != '/' || u[7] != '/')
            return MX_TLSRPT_BAD_URI;
        const char *h = u + 8;
        size_t hl = n - 8;
        for (size_t i = 0; i < hl; i++)
            if (h[i] == '/' || h[i] == '?' || h[i] == '#') {
                hl = i;
                break;
            }
        if (memchr(h, '@', hl)) /* no user info */
            return MX_TLSRPT_BAD_URI;
        if (!host_ok(h, hl))
            return MX_TLSRPT_BAD_URI;
        out->n_https++;
        return MX_TLSRPT_OK;
    }
    /* a scheme at all? */
    size_t k = 0;
    while (k < n && (mx_policy_alnum(u[k]) || (k > 0 && (u[k] == '+' || u[k] == '-' || u[k] == '.'))))
        k++;
    return k > 0 && k < n && u[k] == ':' ? MX_TLSRPT_BAD_SCHEME : MX_TLSRPT_BAD_URI;
}

static enum mx_tlsrpt rua_check(const char *v, size_t n, struct mx_tlsrpt_record *out)
{
    if (n == 0)
        return MX_TLSRPT_BAD_URI;
    size_t i = 0;
    for (;;) {
        size_t e = i;
        while (e < n && v[e] != ',' && !mx_policy_wsp(v[e]))
            e++;
        enum mx_tlsrpt r = uri_check(v + i, e - i, out);
        if (r != MX_TLSRPT_OK)
            return r;
        while (e < n && mx_policy_wsp(v[e]))
            e++;
        if (e == n)
            return MX_TLSRPT_OK;
        if (v[e] != ',')
            return MX_TLSRPT_BAD_URI; /* two URIs without a comma */
        e++;
        while (e < n && mx_policy_wsp(v[e]))
            e++;
        i = e;
    }
}

enum mx_tlsrpt mx_tlsrpt_parse(const char *txt, size_t len, struct mx_tlsrpt_record *out)
{
    static const char ver[] = "v=TLSRPTv1";
    const size_t vl = sizeof ver - 1;
    out->n_mailto = out->n_https = 0;
    out->rua[0] = '\0';
    if (len < vl || memcmp(txt, ver, vl) != 0 ||
        (len > vl && txt[vl] != ';' && !mx_policy_wsp(txt[vl])))
        return MX_TLSRPT_NONE;
    struct mx_policy_fields fl;
    if (!mx_policy_fields_split(txt + vl, len - vl, &fl))
        return MX_TLSRPT_SYNTAX;
    const struct mx_policy_field *rua = NULL;
    for (unsigned i = 0; i < fl.n; i++) {
        const struct mx_policy_field *f = &fl.f[i];
        if (f->nlen == 3 && memcmp(f->name, "rua", 3) == 0) {
            if (rua)
                return MX_TLSRPT_DUP_RUA;
            rua = f;
        } else if (!mx_policy_ext_value_ok(f->value, f->vlen)) {
            return MX_TLSRPT_SYNTAX;
        }
    }
    if (!rua)
        return MX_TLSRPT_NO_RUA;
    enum mx_tlsrpt r = rua_check(rua->value, rua->vlen, out);
    /* kept whatever the verdict: a bad URI is what a report shows */
    size_t n = rua->vlen < sizeof out->rua - 1 ? rua->vlen : sizeof out->rua - 1;
    memcpy(out->rua, rua->value, n);
    out->rua[n] = '\0';
    if (r != MX_TLSRPT_OK)
        out->n_mailto = out->n_https = 0;
    return r;
}

enum mx_tlsrpt mx_tlsrpt_judge(const struct mx_answer *txt, struct mx_tlsrpt_record *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = MX_TLSRPT_NONE;
    size_t off = 0;
    struct mx_rdata rd;
    struct mx_tlsrpt_record one;
    while (txt && mx_answer_next(txt, &off, &rd)) {
        enum mx_tlsrpt v = mx_tlsrpt_parse(rd.txt, rd.txt_len, &one);
        if (v == MX_TLSRPT_NONE) {
            out->ignored++;
            continue;
        }
        if (++out->records == 1) {
            out->verdict = v;
            out->n_mailto = one.n_mailto;
            out->n_https = one.n_https;
            memcpy(out->rua, one.rua, sizeof out->rua);
        }
    }
    if (out->records > 1) {
        out->verdict = MX_TLSRPT_MULTIPLE;
        out->n_mailto = out->n_https = 0;
        out->rua[0] = '\0';
    }
    return out->verdict;
}
