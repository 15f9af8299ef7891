/* MTA-STS (RFC 8461), the pure parts: the `_mta-sts` TXT record set, the
 * policy text, the `mx` pattern match. Readings in include/mx/mta_sts.h. */
#include <stdio.h>
#include <string.h>

#include "mx/mta_sts.h"
#include "mx/names.h"
#include "policy_int.h"

#define NAME_FN(fn, type, MAP)                                                       \
    const char *fn(enum type v)                                                      \
    {                                                                                \
        static const char *const names[] = {MAP(MX_POLICY_LABEL)};                   \
        return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";        \
    }
NAME_FN(mx_sts_rec_name, mx_sts_rec, MX_STS_REC_MAP)
NAME_FN(mx_sts_mode_name, mx_sts_mode, MX_STS_MODE_MAP)
NAME_FN(mx_sts_pol_name, mx_sts_pol, MX_STS_POL_MAP)
NAME_FN(mx_sts_fetch_outcome_name, mx_sts_fetch_outcome, MX_STS_FETCH_MAP)

/* ---- TXT record (RFC 8461 3.1) ---- */

enum mx_sts_rec mx_sts_record_parse(const char *txt, size_t len, char *id)
{
    static const char ver[] = "v=STSv1";
    const size_t vl = sizeof ver - 1;
    id[0] = '\0';
    if (len < vl || memcmp(txt, ver, vl) != 0 ||
        (len > vl && txt[vl] != ';' && !mx_policy_wsp(txt[vl])))
        return MX_STS_REC_NONE;
    struct mx_policy_fields fl;
    if (!mx_policy_fields_split(txt + vl, len - vl, &fl))
        return MX_STS_REC_SYNTAX;
    unsigned ids = 0;
    bool bad_id = false;
    for (unsigned i = 0; i < fl.n; i++) {
        const struct mx_policy_field *f = &fl.f[i];
        if (f->nlen != 2 || memcmp(f->name, "id", 2) != 0) {
            if (!mx_policy_ext_value_ok(f->value, f->vlen))
                return MX_STS_REC_SYNTAX;
            continue;
        }
        ids++;
        bool ok = f->vlen >= 1 && f->vlen <= MX_STS_ID_MAX;
        for (size_t k = 0; ok && k < f->vlen; k++)
            ok = mx_policy_alnum(f->value[k]);
        if (!ok) {
            bad_id = true;
        } else if (ids == 1) {
            memcpy(id, f->value, f->vlen);
            id[f->vlen] = '\0';
        }
    }
    enum mx_sts_rec v = bad_id ? MX_STS_REC_BAD_ID
                        : ids == 0 ? MX_STS_REC_NO_ID
                        : ids > 1  ? MX_STS_REC_DUP_ID
                                   : MX_STS_REC_OK;
    if (v != MX_STS_REC_OK)
        id[0] = '\0';
    return v;
}

enum mx_sts_rec mx_sts_record_judge(const struct mx_answer *txt, struct mx_sts_record *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = MX_STS_REC_NONE;
    size_t off = 0;
    struct mx_rdata rd;
    while (txt && mx_answer_next(txt, &off, &rd)) {
        char id[MX_STS_ID_MAX + 1];
        enum mx_sts_rec v = mx_sts_record_parse(rd.txt, rd.txt_len, id);
        if (v == MX_STS_REC_NONE) {
            out->ignored++;
            continue;
        }
        if (++out->records == 1) {
            out->verdict = v;
            memcpy(out->id, id, sizeof id);
        }
    }
    if (out->records > 1) {
        out->verdict = MX_STS_REC_MULTIPLE;
        out->id[0] = '\0';
    }
    return out->verdict;
}

/* ---- policy text (RFC 8461 3.2) ---- */

const char *mx_sts_policy_mx(const struct mx_sts_policy *p, unsigned i)
{
    if (i >= p->n_mx)
        return NULL;
    const char *s = p->mx_buf;
    while (i--)
        s += strlen(s) + 1;
    return s;
}

/* ["*."] Domain (RFC 5321: LDH labels), lowercased into out. */
static bool mx_pattern_ok(const char *v, size_t n, char *out, size_t outlen)
{
    if (n == 0 || n >= outlen)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = mx_policy_lower(v[i]);
    out[n] = '\0';
    const char *dom = out;
    if (n > 2 && out[0] == '*' && out[1] == '.')
        dom = out + 2;
    return strlen(dom) <= MX_NAME_MAX && strchr(dom, '_') == NULL &&
           mx_name_check(dom) == MX_NAME_OK;
}

static enum mx_sts_pol fail(struct mx_sts_policy *p, enum mx_sts_pol v, unsigned line)
{
    if (p->verdict == MX_STS_POL_OK) {
        p->verdict = v;
        p->bad_line = line;
    }
    return p->verdict;
}

/* One line (no terminator); problems go to p->verdict. */
static void policy_line(struct mx_sts_policy *p, const char *s, size_t n, unsigned line,
                        bool *seen_version, bool *seen_mode, bool *seen_age)
{
    while (n > 0 && mx_policy_wsp(s[n - 1]))
        n--; /* trailing *WSP */
    if (n == 0)
        return; /* an empty line: skipped */
    size_t k = 0;
    while (k < n && mx_policy_extname_char(s[k], k))
        k++;
    if (k == 0 || k > 32 || k >= n || s[k] != ':') {
        fail(p, MX_STS_POL_BAD_LINE, line);
        return;
    }
    const char *key = s;
    size_t kl = k++;
    while (k < n && mx_policy_wsp(s[k]))
        k++;
    const char *v = s + k;
    size_t vl = n - k;
    /* the value: printable ASCII, UTF-8 bytes, inner spaces */
    if (vl == 0) {
        fail(p, MX_STS_POL_BAD_LINE, line);
        return;
    }
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) { /* a tab inside a value too */
            fail(p, MX_STS_POL_BAD_LINE, line);
            return;
        }
    }
#define KEY(lit) (kl == sizeof lit - 1 && memcmp(key, lit, kl) == 0)
    if (KEY("version")) {
        if (*seen_version) {
            p->dup_keys = true;
            return;
        }
        *seen_version = true;
        if (!(vl == 5 && memcmp(v, "STSv1", 5) == 0))
            fail(p, MX_STS_POL_BAD_VERSION, line);
    } else if (KEY("mode")) {
        if (*seen_mode) {
            p->dup_keys = true;
            return;
        }
        *seen_mode = true;
        if (vl == 7 && memcmp(v, "testing", 7) == 0)
            p->mode = MX_STS_MODE_TESTING;
        else if (vl == 7 && memcmp(v, "enforce", 7) == 0)
            p->mode = MX_STS_MODE_ENFORCE;
        else if (vl == 4 && memcmp(v, "none", 4) == 0)
            p->mode = MX_STS_MODE_NONE;
        else
            fail(p, MX_STS_POL_BAD_MODE, line);
    } else if (KEY("max_age")) {
        if (*seen_age) {
            p->dup_keys = true;
            return;
        }
        *seen_age = true;
        uint64_t a = 0;
        bool ok = vl >= 1 && vl <= 10;
        for (size_t i = 0; ok && i < vl; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            a = a * 10 + (uint64_t)(v[i] - '0');
        }
        if (!ok || a > MX_STS_MAX_AGE_MAX)
            fail(p, MX_STS_POL_BAD_MAX_AGE, line);
        else
            p->max_age = (uint32_t)a;
    } else if (KEY("mx")) {
        char pat[MX_NAME_MAX + 3];
        if (!mx_pattern_ok(v, vl, pat, sizeof pat)) {
            fail(p, MX_STS_POL_BAD_MX, line);
            return;
        }
        size_t pl = strlen(pat);
        if (p->mx_len + pl + 1 > sizeof p->mx_buf) {
            p->mx_truncated = true;
            return;
        }
        memcpy(p->mx_buf + p->mx_len, pat, pl + 1);
        p->mx_len += pl + 1;
        p->n_mx++;
    }
    /* any other key: an extension, ignored */
#undef KEY
}

enum mx_sts_pol mx_sts_policy_parse(const char *text, size_t len, struct mx_sts_policy *p)
{
    memset(p, 0, sizeof *p);
    p->verdict = MX_STS_POL_OK;
    bool seen_version = false, seen_mode = false, seen_age = false;
    unsigned line = 0;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        size_t n = e - i;
        line++;
        if (n > 0 && text[i + n - 1] == '\r')
            n--; /* CRLF */
        bool clean = true;
        for (size_t k = 0; k < n; k++)
            if (text[i + k] == '\0' || text[i + k] == '\r')
                clean = false;
        if (!clean)
            fail(p, MX_STS_POL_BAD_LINE, line);
        else if (n > 0 && mx_policy_wsp(text[i]) && !mx_policy_blank(text + i, n))
            fail(p, MX_STS_POL_BAD_LINE, line); /* no leading blanks before a key */
        else
            policy_line(p, text + i, n, line, &seen_version, &seen_mode, &seen_age);
        i = e + 1;
    }
    if (p->verdict != MX_STS_POL_OK)
        return p->verdict;
    if (!seen_version)
        return fail(p, MX_STS_POL_NO_VERSION, 0);
    if (!seen_mode)
        return fail(p, MX_STS_POL_NO_MODE, 0);
    if (!seen_age)
        return fail(p, MX_STS_POL_NO_MAX_AGE, 0);
    if (p->n_mx == 0 && !p->mx_truncated && p->mode != MX_STS_MODE_NONE)
        return fail(p, MX_STS_POL_NO_MX, 0);
    return p->verdict;
}

/* ---- mx patterns (RFC 8461 4.1) ---- */

/* a equals b[0..bl) ignoring ASCII case, a NUL-terminated. */
static bool ieq_n(const char *a, const char *b, size_t bl)
{
    size_t al = strlen(a);
    if (al != bl)
        return false;
    for (size_t i = 0; i < al; i++)
        if (mx_policy_lower(a[i]) != mx_policy_lower(b[i]))
            return false;
    return true;
}

bool mx_sts_mx_match(const char *pattern, const char *exchange)
{
    size_t el = strlen(exchange);
    if (el > 0 && exchange[el - 1] == '.')
        el--;
    if (el == 0 || !pattern[0])
        return false;
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* exactly one more label, left-most: "x.<rest>" with x non-empty
         * and without dots */
        const char *dot = memchr(exchange, '.', el);
        if (!dot || dot == exchange)
            return false;
        size_t rest = el - (size_t)(dot + 1 - exchange);
        return ieq_n(pattern + 2, dot + 1, rest);
    }
    return ieq_n(pattern, exchange, el);
}

bool mx_sts_policy_matches(const struct mx_sts_policy *p, const char *exchange)
{
    for (unsigned i = 0; i < p->n_mx; i++)
        if (mx_sts_mx_match(mx_sts_policy_mx(p, i), exchange))
            return true;
    return false;
}
