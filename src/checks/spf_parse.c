/* SPF records (RFC 7208): record selection, the term parser and macro
 * expansion. Terms are parsed from the text on the fly, so nothing is
 * allocated: mx_spf_parse checks a whole record once, mx_spf_next_term walks
 * it again for the analysis and check_host. */
#include <stdio.h>
#include <string.h>

#include "mx/spf.h"
#include "mx/text.h"

#define MAX_PARTS 256   /* parts of one macro value split at delimiters */
#define EXPAND_MAX 2048 /* a domain-spec before shortening to 253 */

/* c is one of the characters of set (never the terminating NUL). */
static bool in_set(int c, const char *set)
{
    return c != 0 && strchr(set, c) != NULL;
}

/* "term N 'text': why" (N counts the terms after v=spf1 from 1), or why. */
static void seterr(char *err, size_t errlen, const char *why, unsigned term, const char *t,
                   size_t tn)
{
    if (!err || errlen == 0)
        return;
    if (t)
        snprintf(err, errlen, "term %u '%.*s': %s", term, (int)(tn > 200 ? 200 : tn), t, why);
    else
        snprintf(err, errlen, "%s", why);
}

bool mx_spf_is_record(const char *txt, size_t len)
{
    static const char v[] = "v=spf1";
    if (len < 6)
        return false;
    for (size_t i = 0; i < 6; i++)
        if (mx_lower((unsigned char)txt[i]) != v[i])
            return false;
    return len == 6 || txt[6] == ' ';
}

/* ---- macros ---- */

struct macro {
    char letter;       /* as written (upper case: URL-escape); 0 for %% %_ %- */
    const char *lit;   /* expansion of %% %_ %- */
    unsigned digits;   /* 0: all parts */
    bool reverse;
    char delims[8];    /* distinct delimiters, "" for the default "." */
};

/* Parses the macro-expand at s (s[0] == '%'). Returns its length, 0 when bad. */
static size_t macro_parse(const char *s, size_t len, struct macro *m)
{
    memset(m, 0, sizeof *m);
    if (len < 2 || s[0] != '%')
        return 0;
    switch (s[1]) {
    case '%':
        m->lit = "%";
        return 2;
    case '_':
        m->lit = " ";
        return 2;
    case '-':
        m->lit = "%20";
        return 2;
    case '{':
        break;
    default:
        return 0;
    }
    size_t i = 2;
    if (i >= len || !in_set(mx_lower((unsigned char)s[i]), "slodiphcrtv"))
        return 0;
    m->letter = s[i++];
    bool have = false;
    unsigned long n = 0;
    while (i < len && mx_is_digit((unsigned char)s[i])) {
        have = true;
        if (n < 100000)
            n = n * 10 + (unsigned long)(s[i] - '0');
        i++;
    }
    if (have && n == 0)
        return 0; /* RFC 7208 7.1: the DIGIT transformer must be nonzero */
    m->digits = n > MAX_PARTS ? MAX_PARTS : (unsigned)n;
    if (i < len && mx_lower((unsigned char)s[i]) == 'r') {
        m->reverse = true;
        i++;
    }
    size_t nd = 0;
    while (i < len && in_set(s[i], ".-+,/_=")) {
        if (!memchr(m->delims, s[i], nd))
            m->delims[nd++] = s[i];
        i++;
    }
    if (i >= len || s[i] != '}')
        return 0;
    return i + 1;
}

/* Checks a macro-string. crt: the letters c, r and t are allowed (RFC 7208
 * 7.3 allows them only in explanation text). *last: the offset just after
 * the last macro-expand (0 when none). */
static bool check_macro_string(const char *s, size_t len, bool crt, bool *has_macro,
                               size_t *last)
{
    *has_macro = false;
    *last = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            struct macro m;
            size_t n = macro_parse(s + i, len - i, &m);
            if (n == 0)
                return false;
            if (m.letter && !crt && in_set(mx_lower((unsigned char)m.letter), "crt"))
                return false;
            *has_macro = true;
            i += n;
            *last = i;
            continue;
        }
        if (c < 0x21 || c > 0x7e)
            return false;
        i++;
    }
    return true;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_ok(const char *s, size_t n)
{
    bool alpha = false, hyphen = false;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (mx_is_alpha(c))
            alpha = true;
        else if (c == '-')
            hyphen = true;
        else if (!mx_is_digit(c))
            return false;
    }
    if (!mx_is_alnum((unsigned char)s[0]) || !mx_is_alnum((unsigned char)s[n - 1]))
        return false;
    return alpha || hyphen;
}

/* Labels of 1..63 octets, at most 253 in all (s has no trailing dot). */
static bool labels_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (i == start || i - start > 63)
                return false;
            start = i + 1;
        }
    }
    return true;
}

bool mx_spf_domain_ok(const char *d)
{
    size_t n = strlen(d);
    if (!labels_ok(d, n) || !memchr(d, '.', n) || d[0] == '[')
        return false;
    /* an all-numeric top label: an address such as 192.0.2.1, no domain */
    const char *top = strrchr(d, '.') + 1;
    return top[strspn(top, "0123456789")] != 0;
}

/* domain-spec = macro-string domain-end ; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
 * A domain-spec without macros must also be a valid domain name. */
static bool check_domain_spec(const char *s, size_t len, bool *macro)
{
    size_t last;
    if (len == 0 || !check_macro_string(s, len, false, macro, &last))
        return false;
    if (*macro && last == len)
        return true;
    size_t end = s[len - 1] == '.' ? len - 1 : len;
    size_t j = end;
    while (j > last && s[j - 1] != '.')
        j--;
    if (j == last || j == 0) /* no "." toplabel after the last macro */
        return false;
    if (!toplabel_ok(s + j, end - j))
        return false;
    return *macro || labels_ok(s, end);
}

/* ---- terms ---- */

static const struct {
    const char *name;
    enum mx_spf_kind kind;
} mechanisms[] = {
    {"all", MX_SPF_K_ALL},   {"include", MX_SPF_K_INCLUDE}, {"a", MX_SPF_K_A},
    {"mx", MX_SPF_K_MX},     {"ptr", MX_SPF_K_PTR},         {"ip4", MX_SPF_K_IP4},
    {"ip6", MX_SPF_K_IP6},   {"exists", MX_SPF_K_EXISTS},
};

/* ip4-cidr-length digits: "0" / %x31-39 0*1DIGIT (0..32); ip6: "0" / %x31-39 0*2DIGIT (0..128) */
static bool parse_cidr(const char *s, size_t n, unsigned max, uint8_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > (max > 99 ? 3u : 2u) || (s[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!mx_is_digit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint8_t)v;
    return true;
}

/* dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], all of s[0..n). */
static bool parse_dual_cidr(const char *s, size_t n, struct mx_spf_term *t)
{
    if (n < 2 || s[0] != '/')
        return false;
    if (s[1] == '/')
        return parse_cidr(s + 2, n - 2, 128, &t->cidr6);
    size_t i = 1;
    while (i < n && mx_is_digit((unsigned char)s[i]))
        i++;
    if (!parse_cidr(s + 1, i - 1, 32, &t->cidr4))
        return false;
    if (i == n)
        return true;
    if (n - i < 3 || s[i] != '/' || s[i + 1] != '/')
        return false;
    return parse_cidr(s + i + 2, n - i - 2, 128, &t->cidr6);
}

/* Where a dual-cidr-length at the end of s starts (n when there is none).
 * A domain-spec cannot end in "/digits", so the split is unambiguous. */
static size_t cidr_suffix(const char *s, size_t n)
{
    size_t p = n;
    while (p > 0 && mx_is_digit((unsigned char)s[p - 1]))
        p--;
    if (p == n || p == 0 || s[p - 1] != '/')
        return n;
    size_t start = p - 1;
    if (start > 0 && s[start - 1] == '/') {
        start--;
        size_t q = start;
        while (q > 0 && mx_is_digit((unsigned char)s[q - 1]))
            q--;
        if (q < start && q > 0 && s[q - 1] == '/')
            start = q - 1;
    }
    return start;
}

/* ip4/ip6 ":" network [ "/" length ] */
static bool parse_network(const char *r, size_t rl, uint8_t family, struct mx_spf_term *t)
{
    char buf[64];
    if (rl < 2 || r[0] != ':')
        return false;
    r++;
    rl--;
    const char *slash = memchr(r, '/', rl);
    size_t al = slash ? (size_t)(slash - r) : rl;
    if (al == 0 || al >= sizeof buf)
        return false;
    memcpy(buf, r, al);
    buf[al] = 0;
    if (!mx_ip_parse(buf, &t->ip) || t->ip.family != family)
        return false;
    if (!slash)
        return true;
    return parse_cidr(slash + 1, rl - al - 1, family == 4 ? 32 : 128,
                      family == 4 ? &t->cidr4 : &t->cidr6);
}

/* A modifier name=value (RFC 7208 6, 4.6.1 unknown-modifier). */
static bool parse_modifier(const char *name, size_t nl, const char *v, size_t vl,
                           struct mx_spf_term *t, const char **why)
{
    size_t last;
    t->domain = v;
    t->domain_len = vl;
    if (mx_text_ieq(name, nl, "redirect") || mx_text_ieq(name, nl, "exp")) {
        t->kind = mx_text_ieq(name, nl, "exp") ? MX_SPF_K_EXP : MX_SPF_K_REDIRECT;
        *why = "bad domain-spec";
        return check_domain_spec(v, vl, &t->macro);
    }
    t->kind = MX_SPF_K_UNKNOWN;
    *why = "bad macro-string in modifier";
    return check_macro_string(v, vl, true, &t->macro, &last);
}

/* a and mx: [":" domain-spec] [dual-cidr-length]. */
static bool parse_a_mx_arg(const char *r, size_t rl, struct mx_spf_term *t, const char **why)
{
    if (rl == 0)
        return true;
    if (r[0] == '/')
        return parse_dual_cidr(r, rl, t);
    const char *d = r + 1;
    size_t dl = rl - 1;
    size_t c = cidr_suffix(d, dl);
    if (c < dl && !parse_dual_cidr(d + c, dl - c, t)) {
        *why = "bad cidr length";
        return false;
    }
    t->domain = d;
    t->domain_len = c;
    *why = "bad domain-spec";
    return check_domain_spec(d, c, &t->macro);
}

/* The argument r[0..rl) of mechanism t->kind (after its name). */
static bool parse_mechanism_arg(const char *r, size_t rl, struct mx_spf_term *t,
                                const char **why)
{
    *why = "bad mechanism argument";
    switch (t->kind) {
    case MX_SPF_K_ALL:
        return rl == 0;
    case MX_SPF_K_INCLUDE:
    case MX_SPF_K_EXISTS:
    case MX_SPF_K_PTR:
        if (rl == 0)
            return t->kind == MX_SPF_K_PTR;
        if (r[0] != ':')
            return false;
        t->domain = r + 1;
        t->domain_len = rl - 1;
        *why = "bad domain-spec";
        return check_domain_spec(t->domain, t->domain_len, &t->macro);
    case MX_SPF_K_A:
    case MX_SPF_K_MX:
        return parse_a_mx_arg(r, rl, t, why);
    case MX_SPF_K_IP4:
    case MX_SPF_K_IP6:
        *why = "bad ip network";
        return parse_network(r, rl, t->kind == MX_SPF_K_IP4 ? 4 : 6, t);
    default:
        return false;
    }
}

static bool parse_term(const char *s, size_t n, struct mx_spf_term *t, const char **why)
{
    memset(t, 0, sizeof *t);
    t->text = s;
    t->len = n;
    t->cidr4 = 32;
    t->cidr6 = 128;
    *why = "bad term";
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x21 || c > 0x7e) {
            *why = "control or non-ASCII byte in term";
            return false;
        }
    }
    size_t i = 0;
    char q = 0;
    if (n > 0 && in_set(s[0], "+-~?")) {
        q = s[0];
        i = 1;
    }
    size_t ns = i;
    if (i >= n || !mx_is_alpha((unsigned char)s[i]))
        return false;
    while (i < n && (mx_is_alnum((unsigned char)s[i]) || in_set(s[i], "-_.")))
        i++;
    const char *name = s + ns;
    size_t nl = i - ns;
    if (i < n && s[i] == '=') {
        if (q) {
            *why = "qualifier on a modifier";
            return false;
        }
        return parse_modifier(name, nl, s + i + 1, n - i - 1, t, why);
    }
    size_t m;
    for (m = 0; m < sizeof mechanisms / sizeof mechanisms[0]; m++)
        if (mx_text_ieq(name, nl, mechanisms[m].name))
            break;
    if (m == sizeof mechanisms / sizeof mechanisms[0] || (i < n && s[i] != ':' && s[i] != '/')) {
        *why = "unknown mechanism";
        return false;
    }
    t->kind = mechanisms[m].kind;
    t->qualifier = q ? q : '+';
    return parse_mechanism_arg(s + i, n - i, t, why);
}

/* The next space-separated term at or after *off. */
static bool next_raw(const char *txt, size_t len, size_t *off, const char **ts, size_t *tn)
{
    size_t i = *off;
    while (i < len && txt[i] == ' ')
        i++;
    if (i >= len) {
        *off = len;
        return false;
    }
    size_t j = i;
    while (j < len && txt[j] != ' ')
        j++;
    *ts = txt + i;
    *tn = j - i;
    *off = j;
    return true;
}

bool mx_spf_parse(const char *txt, size_t len, struct mx_spf_record *out, char *err,
                  size_t errlen)
{
    struct mx_spf_term t;
    const char *ts, *why;
    size_t tn, off = 6;

    memset(out, 0, sizeof *out);
    out->txt = txt;
    out->len = len;
    if (err && errlen)
        err[0] = 0;
    if (!mx_spf_is_record(txt, len)) {
        seterr(err, errlen, "not an SPF record (v=spf1)", 0, NULL, 0);
        return false;
    }
    while (next_raw(txt, len, &off, &ts, &tn)) {
        if (!parse_term(ts, tn, &t, &why)) {
            seterr(err, errlen, why, out->nterms + 1, ts, tn);
            return false;
        }
        out->nterms++;
        switch (t.kind) {
        case MX_SPF_K_INCLUDE:
        case MX_SPF_K_A:
        case MX_SPF_K_MX:
        case MX_SPF_K_PTR:
        case MX_SPF_K_EXISTS:
            out->ndns++;
            break;
        case MX_SPF_K_ALL:
            if (!out->has_all) {
                out->has_all = true;
                out->all_qualifier = t.qualifier;
            }
            break;
        case MX_SPF_K_REDIRECT:
            if (out->has_redirect) {
                seterr(err, errlen, "redirect= more than once", out->nterms, ts, tn);
                return false;
            }
            out->has_redirect = true;
            out->redirect = t;
            break;
        case MX_SPF_K_EXP:
            if (out->has_exp) {
                seterr(err, errlen, "exp= more than once", out->nterms, ts, tn);
                return false;
            }
            out->has_exp = true;
            break;
        default:
            break;
        }
    }
    return true;
}

bool mx_spf_next_term(const struct mx_spf_record *rec, size_t *off, struct mx_spf_term *t)
{
    const char *ts, *why;
    size_t tn;
    if (*off < 6)
        *off = 6;
    if (!next_raw(rec->txt, rec->len, off, &ts, &tn))
        return false;
    return parse_term(ts, tn, t, &why);
}

/* ---- expansion ---- */

static bool put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n >= outlen)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = 0;
    return true;
}

/* %{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (upper case, as
 * RFC 7208 7.4 writes them: it shows in explanations; names fold case). */
static void ip_dotted(const struct mx_ip *ip, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (ip->family == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", ip->b[0], ip->b[1], ip->b[2], ip->b[3]);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < 16 && o + 4 < len; i++) {
        buf[o++] = hex[ip->b[i] >> 4];
        buf[o++] = '.';
        buf[o++] = hex[ip->b[i] & 15];
        buf[o++] = i == 15 ? 0 : '.';
    }
    if (len)
        buf[o < len ? o : len - 1] = 0;
}

/* The value of a macro letter (before transformers), RFC 7208 7.3. */
static const char *macro_value(const struct mx_spf_macro_ctx *c, char letter, char *buf,
                               size_t len)
{
    const char *sender = c->sender ? c->sender : "";
    const char *at = strrchr(sender, '@');
    switch (mx_lower((unsigned char)letter)) {
    case 's':
        if (!c->sender || !at || at == sender) {
            snprintf(buf, len, "postmaster@%s", at ? at + 1 : (c->sender ? sender : c->domain));
            return buf;
        }
        return sender;
    case 'l':
        if (!c->sender || !at || at == sender)
            return "postmaster";
        snprintf(buf, len, "%.*s", (int)(at - sender), sender);
        return buf;
    case 'o':
        if (!c->sender)
            return c->domain;
        return at ? at + 1 : sender;
    case 'd':
        return c->domain;
    case 'i':
        ip_dotted(c->ip, buf, len);
        return buf;
    case 'c':
        mx_ip_format(c->ip, buf, len);
        return buf;
    case 'v':
        return c->ip->family == 4 ? "in-addr" : "ip6";
    case 'h':
        return c->helo ? c->helo : c->domain;
    case 'p':
        return c->ptr ? c->ptr : "unknown";
    case 'r':
        return c->receiver ? c->receiver : "unknown";
    case 't':
        snprintf(buf, len, "%llu", (unsigned long long)c->now);
        return buf;
    default:
        return "unknown";
    }
}

struct part {
    size_t off, len;
};

static bool expand_macro(const struct mx_spf_macro_ctx *c, const struct macro *m, char *out,
                         size_t outlen, size_t *o)
{
    char vbuf[512];
    struct part parts[MAX_PARTS];
    size_t np = 0;
    const char *v = macro_value(c, m->letter, vbuf, sizeof vbuf);
    size_t vl = strlen(v), start = 0;
    const char *delims = m->delims[0] ? m->delims : ".";

    for (size_t i = 0; i <= vl; i++) {
        if (i == vl || in_set(v[i], delims)) {
            if (np == MAX_PARTS)
                return false;
            parts[np].off = start;
            parts[np].len = i - start;
            np++;
            start = i + 1;
        }
    }
    if (m->reverse)
        for (size_t i = 0; i < np / 2; i++) {
            struct part tmp = parts[i];
            parts[i] = parts[np - 1 - i];
            parts[np - 1 - i] = tmp;
        }
    size_t first = (m->digits && m->digits < np) ? np - m->digits : 0;
    bool escape = m->letter >= 'A' && m->letter <= 'Z';
    for (size_t i = first; i < np; i++) {
        if (i > first && !put(out, outlen, o, ".", 1))
            return false;
        for (size_t k = 0; k < parts[i].len; k++) {
            unsigned char ch = (unsigned char)v[parts[i].off + k];
            if (escape && !mx_is_alnum(ch) && !in_set(ch, "-._~")) {
                char e[4];
                snprintf(e, sizeof e, "%%%02X", ch);
                if (!put(out, outlen, o, e, 3))
                    return false;
            } else if (!put(out, outlen, o, (const char *)&v[parts[i].off + k], 1)) {
                return false;
            }
        }
    }
    return true;
}

bool mx_spf_expand(const struct mx_spf_macro_ctx *c, const char *s, size_t len, char *out,
                   size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return false;
    out[0] = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '%') {
            if (!put(out, outlen, &o, s + i, 1))
                return false;
            i++;
            continue;
        }
        struct macro m;
        size_t n = macro_parse(s + i, len - i, &m);
        if (n == 0)
            return false;
        if (m.lit ? !put(out, outlen, &o, m.lit, strlen(m.lit))
                  : !expand_macro(c, &m, out, outlen, &o))
            return false;
        i += n;
    }
    return true;
}

bool mx_spf_expand_domain(const struct mx_spf_macro_ctx *c, const char *spec, size_t len,
                          char *out, size_t outlen)
{
    char buf[EXPAND_MAX];
    if (!mx_spf_expand(c, spec, len, buf, sizeof buf))
        return false;
    size_t n = strlen(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)mx_lower((unsigned char)buf[i]);
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = 0;
    const char *p = buf;
    while (n > 253) { /* RFC 7208 4.8: drop labels from the left */
        const char *dot = memchr(p, '.', n);
        if (!dot)
            return false;
        n -= (size_t)(dot + 1 - p);
        p = dot + 1;
    }
    if (!labels_ok(p, n))
        return false;
    /* Any octet may stand in a label (%_ gives a space): the name goes to
     * the resolver as it is, a backslash escaped for ares_create_query. */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 2 >= outlen)
            return false;
        if (p[i] == '\\')
            out[o++] = '\\';
        out[o++] = p[i];
    }
    out[o] = 0;
    return true;
}

bool mx_spf_uses_macro(const char *s, size_t len, char letter)
{
    for (size_t i = 0; i < len;) {
        struct macro m;
        size_t n = s[i] == '%' ? macro_parse(s + i, len - i, &m) : 0;
        if (n == 0) {
            i++;
            continue;
        }
        if (m.letter && mx_lower((unsigned char)m.letter) == letter)
            return true;
        i += n;
    }
    return false;
}

bool mx_spf_expand_explain(const struct mx_spf_macro_ctx *c, const char *s, size_t len,
                           char *out, size_t outlen)
{
    /* explain-string = *( macro-string / SP ): visible ASCII and spaces only */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return mx_spf_expand(c, s, len, out, outlen);
}
