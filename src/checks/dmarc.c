/* DMARC (RFC 7489): record selection at _dmarc.<domain>, fallback to the
 * organizational domain (RFC 7489 6.6.3, libpsl through mx_name_org_domain),
 * tag validation (RFC 7489 6.3/6.4).
 *
 * Tag names and keyword values compare case-insensitively, as the quoted
 * strings of RFC 7489's ABNF do (RFC 5234 2.3); the version value is spelled
 * with %x codes there, so it must be exactly "DMARC1". */
#include <stdio.h>
#include <string.h>

#include "mx/dmarc.h"
#include "mx/names.h"
#include "mx/text.h"

#define NAME_BUF 256

static bool is_wsp(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_wsp((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_wsp((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

const char *mx_dmarc_policy_name(enum mx_dmarc_policy p)
{
    switch (p) {
    case MX_DMARC_P_NONE:
        return "none";
    case MX_DMARC_P_QUARANTINE:
        return "quarantine";
    case MX_DMARC_P_REJECT:
        return "reject";
    default:
        return "unset";
    }
}

/* One tag "v = DMARC1" (any case, blanks around '='), up to len. */
static bool is_v_dmarc1(const char *txt, size_t len)
{
    size_t i = 0;
    while (i < len && is_wsp((unsigned char)txt[i]))
        i++;
    if (i >= len || mx_lower((unsigned char)txt[i]) != 'v')
        return false;
    i++;
    while (i < len && is_wsp((unsigned char)txt[i]))
        i++;
    if (i >= len || txt[i] != '=')
        return false;
    i++;
    while (i < len && is_wsp((unsigned char)txt[i]))
        i++;
    if (len - i < 6 || !mx_text_ieq(txt + i, 6, "dmarc1"))
        return false;
    i += 6;
    return i == len || is_wsp((unsigned char)txt[i]) || txt[i] == ';';
}

/* A DMARC record: its first tag is v=DMARC1, or (the SPEC's "v=DMARC1 not
 * first", an invalid DMARC record) some later tag is. TXT records without
 * any v=DMARC1 tag are not DMARC records and are ignored. */
bool mx_dmarc_is_record(const char *txt, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || txt[i] == ';') {
            if (is_v_dmarc1(txt + start, i - start))
                return true;
            start = i + 1;
        }
    }
    return false;
}

/* ---- tag values ---- */

static bool policy_of(const char *v, size_t n, enum mx_dmarc_policy *p)
{
    if (mx_text_ieq(v, n, "none"))
        *p = MX_DMARC_P_NONE;
    else if (mx_text_ieq(v, n, "quarantine"))
        *p = MX_DMARC_P_QUARANTINE;
    else if (mx_text_ieq(v, n, "reject"))
        *p = MX_DMARC_P_REJECT;
    else
        return false;
    return true;
}

/* A list of items separated by ':' (blanks allowed around it); each item
 * must be accepted by ok(). The items joined by ':' go to out (cut to fit). */
static bool colon_list(const char *v, size_t n, bool (*ok)(const char *, size_t), char *out,
                       size_t outlen)
{
    size_t o = 0, start = 0;
    out[0] = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ':')
            continue;
        const char *item = v + start;
        size_t il = i - start;
        trim(&item, &il);
        if (!ok(item, il))
            return false;
        if (start && o + 1 < outlen)
            out[o++] = ':';
        for (size_t k = 0; k < il && o + 1 < outlen; k++)
            out[o++] = (char)mx_lower((unsigned char)item[k]);
        out[o] = 0;
        start = i + 1;
    }
    return true;
}

static bool fo_item(const char *s, size_t n)
{
    return n == 1 && (s[0] == '0' || s[0] == '1' || mx_lower((unsigned char)s[0]) == 'd' ||
                      mx_lower((unsigned char)s[0]) == 's');
}

static bool rf_item(const char *s, size_t n)
{
    return mx_text_ieq(s, n, "afrf") || mx_text_ieq(s, n, "iodef");
}

static bool uri_char(int c)
{
    return mx_is_alpha(c) || mx_is_digit(c) || (c != 0 && strchr("-._~:/?#[]@!$&'()*+;=%", c));
}

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (RFC 7489 6.4),
 * checked loosely: a scheme, ':', something, URI characters. */
static bool uri_ok(const char *s, size_t n)
{
    size_t i = 0;
    const char *bang = NULL;
    for (size_t k = n; k > 0; k--)
        if (s[k - 1] == '!') {
            bang = s + k - 1;
            break;
        }
    if (bang) { /* size limit suffix */
        size_t b = (size_t)(bang - s), d = b + 1;
        while (d < n && mx_is_digit((unsigned char)s[d]))
            d++;
        if (d > b + 1 && (d == n || (d + 1 == n && strchr("kmgtKMGT", s[d]))))
            n = b;
    }
    if (n == 0 || !mx_is_alpha((unsigned char)s[0]))
        return false;
    while (i < n && (mx_is_alpha((unsigned char)s[i]) || mx_is_digit((unsigned char)s[i]) ||
                     s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':' || i + 1 == n)
        return false;
    for (i++; i < n; i++)
        if (!uri_char((unsigned char)s[i]))
            return false;
    return true;
}

static bool uri_list_ok(const char *v, size_t n)
{
    size_t start = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        const char *item = v + start;
        size_t il = i - start;
        trim(&item, &il);
        if (!uri_ok(item, il))
            return false;
        start = i + 1;
    }
    return true;
}

static bool number(const char *v, size_t n, size_t maxdigits, unsigned long *out)
{
    unsigned long x = 0;
    if (n == 0 || n > maxdigits)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!mx_is_digit((unsigned char)v[i]))
            return false;
        if (x < 100000000000UL)
            x = x * 10 + (unsigned long)(v[i] - '0');
    }
    *out = x > 4294967295UL ? 4294967295UL : x;
    return true;
}

enum tag { T_V, T_P, T_SP, T_PCT, T_ADKIM, T_ASPF, T_FO, T_RF, T_RI, T_RUA, T_RUF, T_COUNT };
static const char *const tag_names[T_COUNT] = {"v",  "p",  "sp", "pct", "adkim", "aspf",
                                               "fo", "rf", "ri", "rua", "ruf"};

static bool fail(char *err, size_t errlen, const char *why, const char *v, size_t n)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%.*s%s", why, v ? " '" : "", v ? (int)(n > 60 ? 60 : n) : 0,
                 v ? v : "", v ? "'" : "");
    return false;
}

static bool tag_value(struct mx_dmarc_record *r, enum tag t, const char *v, size_t n, char *err,
                      size_t errlen)
{
    unsigned long x;
    switch (t) {
    case T_V:
        return fail(err, errlen, "v= is not the first tag", NULL, 0);
    case T_P:
        return policy_of(v, n, &r->p) || fail(err, errlen, "bad p=", v, n);
    case T_SP:
        return policy_of(v, n, &r->sp) || fail(err, errlen, "bad sp=", v, n);
    case T_PCT:
        if (!number(v, n, 3, &x) || x > 100)
            return fail(err, errlen, "bad pct=", v, n);
        r->pct = (unsigned)x;
        return true;
    case T_ADKIM:
    case T_ASPF:
        if (n != 1 || (mx_lower((unsigned char)v[0]) != 'r' && mx_lower((unsigned char)v[0]) != 's'))
            return fail(err, errlen, t == T_ADKIM ? "bad adkim=" : "bad aspf=", v, n);
        *(t == T_ADKIM ? &r->adkim : &r->aspf) = (char)mx_lower((unsigned char)v[0]);
        return true;
    case T_FO:
        return colon_list(v, n, fo_item, r->fo, sizeof r->fo) ||
               fail(err, errlen, "bad fo=", v, n);
    case T_RF:
        return colon_list(v, n, rf_item, r->rf, sizeof r->rf) ||
               fail(err, errlen, "bad rf=", v, n);
    case T_RI:
        if (!number(v, n, 20, &x))
            return fail(err, errlen, "bad ri=", v, n);
        r->ri = x;
        return true;
    case T_RUA:
    case T_RUF:
        mx_text_copy_shown(t == T_RUA ? r->rua : r->ruf, sizeof r->rua, v, n);
        if (!uri_list_ok(v, n))
            r->uri_bad = true;
        return true;
    default:
        return true;
    }
}

bool mx_dmarc_parse(const char *txt, size_t len, struct mx_dmarc_record *out, char *err,
                    size_t errlen)
{
    unsigned seen = 0, index = 0;
    size_t pos = 0;

    memset(out, 0, sizeof *out);
    out->pct = 100;
    out->adkim = out->aspf = 'r';
    out->ri = 86400;
    snprintf(out->fo, sizeof out->fo, "0");
    snprintf(out->rf, sizeof out->rf, "afrf");
    if (err && errlen)
        err[0] = 0;
    for (;;) {
        const char *semi = memchr(txt + pos, ';', len - pos);
        size_t end = semi ? (size_t)(semi - txt) : len;
        const char *seg = txt + pos;
        size_t sl = end - pos;
        trim(&seg, &sl);
        const char *eq = memchr(seg, '=', sl);
        const char *name = seg, *val = eq ? eq + 1 : seg + sl;
        size_t nl = eq ? (size_t)(eq - seg) : sl, vl = eq ? sl - nl - 1 : 0;
        trim(&name, &nl);
        trim(&val, &vl);
        if (index == 0) {
            if (!eq || !mx_text_ieq(name, nl, "v"))
                return fail(err, errlen, "v=DMARC1 is not the first tag", NULL, 0);
            if (vl != 6 || memcmp(val, "DMARC1", 6) != 0)
                return fail(err, errlen, "version is not DMARC1:", val, vl);
            seen |= 1u << T_V;
        } else if (sl > 0 && eq) { /* empty or '='-less segments: ignored like unknown tags */
            for (unsigned t = 0; t < T_COUNT; t++) {
                if (!mx_text_ieq(name, nl, tag_names[t]))
                    continue;
                if (seen & (1u << t))
                    return fail(err, errlen, "duplicate tag", name, nl);
                seen |= 1u << t;
                if (!tag_value(out, (enum tag)t, val, vl, err, errlen))
                    return false;
            }
        }
        index++;
        if (!semi)
            break;
        pos = end + 1;
    }
    if (out->p == MX_DMARC_P_UNSET)
        return fail(err, errlen, "p= missing", NULL, 0);
    return true;
}

/* ---- discovery ---- */

/* Selects among the TXT records of one _dmarc name. false when none is a
 * DMARC record (the caller goes on to the organizational domain). */
static bool judge(const struct mx_answer *a, enum mx_dmarc_source src, struct mx_dmarc_info *out)
{
    struct mx_rdata rd, first;
    struct mx_dmarc_record rec;
    size_t off = 0;
    unsigned n = 0;

    memset(&first, 0, sizeof first);
    while (mx_answer_next(a, &off, &rd))
        if (mx_dmarc_is_record(rd.txt, rd.txt_len) && n++ == 0)
            first = rd;
    if (n == 0)
        return false;
    out->source = src;
    mx_text_copy_shown(out->record, sizeof out->record, first.txt, first.txt_len);
    if (n > 1) {
        snprintf(out->error, sizeof out->error, "%u DMARC records", n);
        out->findings |= MX_FBIT(MX_F_DMARC_INVALID);
        return true;
    }
    if (!mx_dmarc_parse(first.txt, first.txt_len, &rec, out->error, sizeof out->error)) {
        out->findings |= MX_FBIT(MX_F_DMARC_INVALID);
        return true;
    }
    out->valid = true;
    out->policy = (src == MX_DMARC_SRC_ORG && rec.sp != MX_DMARC_P_UNSET) ? rec.sp : rec.p;
    if (out->policy == MX_DMARC_P_NONE)
        out->findings |= MX_FBIT(MX_F_DMARC_NONE);
    return true;
}

bool mx_dmarc_analyze(struct mx_oracle *o, const char *domain, struct mx_dmarc_info *out)
{
    char dom[NAME_BUF], org[NAME_BUF], q[NAME_BUF + 8], oq[NAME_BUF + 8];
    const struct mx_answer *a = NULL, *b = NULL;
    size_t n = strlen(domain);

    memset(out, 0, sizeof *out);
    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n >= sizeof dom)
        n = sizeof dom - 1;
    for (size_t i = 0; i < n; i++)
        dom[i] = (char)mx_lower((unsigned char)domain[i]);
    dom[n] = 0;
    mx_name_org_domain(dom, org, sizeof org);
    bool try_org = org[0] && strcmp(org, dom) != 0;
    mx_text_join(q, sizeof q, "_dmarc.", dom);
    mx_text_join(oq, sizeof oq, "_dmarc.", org);

    /* A name over 253 octets cannot exist: no record there. */
    bool q_ok = strlen(q) <= MX_NAME_MAX;
    if (q_ok)
        a = mx_oracle_get(o, q, MX_T_TXT, 0);
    /* The organizational record is shared by all its subdomains: ask for it
     * in the same pass rather than one round trip later. */
    if (try_org)
        b = mx_oracle_get(o, oq, MX_T_TXT, MX_Q_SHARED);
    if (q_ok && !a)
        goto pending;
    if (a && mx_answer_failed(a)) {
        out->lookup_failed = true;
        return true;
    }
    if (a && judge(a, MX_DMARC_SRC_DOMAIN, out))
        return true;
    if (try_org) {
        if (!b)
            goto pending;
        if (mx_answer_failed(b)) {
            out->lookup_failed = true;
            return true;
        }
        if (judge(b, MX_DMARC_SRC_ORG, out))
            return true;
    }
    out->findings |= MX_FBIT(MX_F_DMARC_MISSING);
    return true;

pending:
    memset(out, 0, sizeof *out);
    out->pending = true;
    return false;
}
