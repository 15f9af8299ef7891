/* Table-driven DNS stand-in for unit tests (see helper_oracle.h). */
#include "helper_oracle.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

struct entry {
    char name[1024];
    uint16_t type;      /* 0 = any (for !NXDOMAIN) */
    struct mx_answer *a;
    bool asked;
};

struct fake_dns {
    struct entry *e;
    size_t n, cap;
    bool lazy;
};

static uint16_t type_of(const char *t)
{
    if (!strcasecmp(t, "MX"))
        return MX_T_MX;
    if (!strcasecmp(t, "A"))
        return MX_T_A;
    if (!strcasecmp(t, "AAAA"))
        return MX_T_AAAA;
    if (!strcasecmp(t, "TXT"))
        return MX_T_TXT;
    if (!strcasecmp(t, "PTR"))
        return MX_T_PTR;
    if (!strcasecmp(t, "TLSA"))
        return MX_T_TLSA;
    if (!strcmp(t, "*"))
        return 0;
    cr_assert_fail("fake_dns: unknown type %s", t);
    return 0;
}

static struct entry *find(struct fake_dns *d, const char *name, uint16_t type)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].type == type && strcasecmp(d->e[i].name, name) == 0)
            return &d->e[i];
    return NULL;
}

static struct entry *add_entry(struct fake_dns *d, const char *name, uint16_t type)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->e = realloc(d->e, d->cap * sizeof *d->e);
        cr_assert(d->e);
    }
    struct entry *e = &d->e[d->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = type;
    return e;
}

/* NAME fields may write a byte as \DDD ("a\032b.test": a space), in place;
 * the result is an oracle name: raw bytes, a backslash doubled. */
static void unescape_name(char *name)
{
    char out[300];
    size_t o = 0;
    for (const char *p = name; *p && o + 2 < sizeof out; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '2' && p[2] && p[3]) {
            int v = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
            if (v == '\\')
                out[o++] = '\\';
            out[o++] = (char)v;
            p += 3;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
    memcpy(name, out, o + 1);
}

/* "U S M HEX" or a bare "HEX" (the whole rdata). */
static void add_tlsa(struct entry *e, const char *text)
{
    unsigned char rd[4096];
    size_t n = 0;
    unsigned u, s, m;
    int used = 0;
    if (sscanf(text, "%u %u %u %n", &u, &s, &m, &used) == 3 && used > 0) {
        rd[n++] = (unsigned char)u;
        rd[n++] = (unsigned char)s;
        rd[n++] = (unsigned char)m;
        text += used;
    }
    for (; text[0] && text[1] && n < sizeof rd; text += 2) {
        unsigned byte;
        cr_assert(isxdigit((unsigned char)text[0]) && isxdigit((unsigned char)text[1]) &&
                      sscanf(text, "%2x", &byte) == 1,
                  "fake_dns: bad TLSA hex %s", text);
        rd[n++] = (unsigned char)byte;
    }
    cr_assert(mx_answer_add_raw(&e->a, rd, n));
}

static void add_line(struct fake_dns *d, char *line)
{
    char *save = NULL;
    char *name = strtok_r(line, " \t", &save);
    if (!name || name[0] == '#')
        return;
    char *type = strtok_r(NULL, " \t", &save);
    cr_assert(type, "fake_dns: no type in line for %s", name);
    uint16_t t = type_of(type);
    uint32_t ttl = 3600;
    bool cname = false, ad = false;
    char cname_target[300] = "";
    char *rest = save;
    for (;;) {
        while (rest && (*rest == ' ' || *rest == '\t'))
            rest++;
        if (rest && strncmp(rest, "ttl=", 4) == 0) {
            ttl = (uint32_t)strtoul(rest + 4, &rest, 10);
            continue;
        }
        if (rest && strncmp(rest, "cname", 5) == 0 && (rest[5] == ' ' || rest[5] == 0)) {
            cname = true;
            rest += 5;
            continue;
        }
        if (rest && strncmp(rest, "ad", 2) == 0 && (rest[2] == ' ' || rest[2] == 0)) {
            ad = true;
            rest += 2;
            continue;
        }
        if (rest && strncmp(rest, "target=", 7) == 0) {
            size_t tl = strcspn(rest + 7, " \t");
            snprintf(cname_target, sizeof cname_target, "%.*s", (int)tl, rest + 7);
            rest += 7 + tl;
            continue;
        }
        break;
    }
    size_t nl = strlen(name);
    if (nl > 1 && name[nl - 1] == '.')
        name[nl - 1] = 0;
    unescape_name(name);
    if (rest && rest[0] == '!') {
        enum mx_rc rc = MX_RC_NOERROR;
        if (!strcmp(rest, "!NXDOMAIN"))
            rc = MX_RC_NXDOMAIN;
        else if (!strcmp(rest, "!SERVFAIL"))
            rc = MX_RC_SERVFAIL;
        else if (!strcmp(rest, "!REFUSED"))
            rc = MX_RC_REFUSED;
        else if (!strcmp(rest, "!TIMEOUT"))
            rc = MX_RC_TIMEOUT;
        else if (!strcmp(rest, "!NODATA") || !strcmp(rest, "!TOOBIG"))
            rc = MX_RC_NOERROR;
        else
            cr_assert_fail("fake_dns: unknown outcome %s", rest);
        struct entry *e = find(d, name, t);
        if (!e)
            e = add_entry(d, name, t);
        free(e->a);
        e->a = mx_answer_new(rc, t, ttl, cname);
        e->a->truncated = !strcmp(rest, "!TOOBIG"); /* records too large to keep */
        e->a->ad = ad;
        if (cname_target[0])
            cr_assert(mx_answer_set_target(&e->a, cname_target));
        return;
    }
    struct entry *e = find(d, name, t);
    if (!e) {
        e = add_entry(d, name, t);
        e->a = mx_answer_new(MX_RC_NOERROR, t, ttl, cname);
    }
    e->a->ttl = ttl;
    e->a->cname = e->a->cname || cname;
    e->a->ad = e->a->ad || ad;
    if (cname_target[0])
        cr_assert(mx_answer_set_target(&e->a, cname_target));
    if (t == MX_T_MX) {
        char *end;
        unsigned long pref = strtoul(rest, &end, 10);
        while (*end == ' ')
            end++;
        char ex[300];
        snprintf(ex, sizeof ex, "%s", end);
        size_t el = strlen(ex);
        if (el > 0 && ex[el - 1] == '.')
            ex[el - 1] = 0;
        cr_assert(mx_answer_add_mx(&e->a, (uint16_t)pref, ex));
    } else if (t == MX_T_A || t == MX_T_AAAA) {
        struct mx_ip ip;
        cr_assert(mx_ip_parse(rest, &ip), "fake_dns: bad address %s", rest);
        cr_assert(mx_answer_add_ip(&e->a, &ip));
    } else if (t == MX_T_TXT) {
        cr_assert(mx_answer_add_txt(&e->a, rest, strlen(rest)));
    } else if (t == MX_T_PTR) {
        char target[300];
        snprintf(target, sizeof target, "%s", rest);
        size_t tl = strlen(target);
        if (tl > 0 && target[tl - 1] == '.')
            target[tl - 1] = 0;
        for (char *c = target; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32); /* as the wire reader gives names */
        cr_assert(mx_answer_add_ptr(&e->a, target));
    } else if (t == MX_T_TLSA) {
        add_tlsa(e, rest);
    }
}

void fake_dns_add(struct fake_dns *d, const char *zone_text)
{
    char *copy = strdup(zone_text);
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        add_line(d, l);
    free(copy);
}

struct fake_dns *fake_dns_new(const char *zone_text)
{
    struct fake_dns *d = calloc(1, sizeof *d);
    cr_assert(d);
    d->lazy = true;
    if (zone_text)
        fake_dns_add(d, zone_text);
    return d;
}

void fake_dns_free(struct fake_dns *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->e[i].a);
    free(d->e);
    free(d);
}

void fake_dns_add_blob(struct fake_dns *d, const char *key, uint16_t qtype, const void *data,
                       size_t len)
{
    struct entry *e = find(d, key, qtype);
    if (!e)
        e = add_entry(d, key, qtype);
    free(e->a);
    e->a = mx_answer_blob(qtype, data, len);
    cr_assert(e->a);
}

void fake_dns_set_lazy(struct fake_dns *d, bool lazy)
{
    d->lazy = lazy;
}

/* Synthesized answers (NXDOMAIN / NODATA) live here until the next call. */
static const struct mx_answer *get(void *ud, const char *name, uint16_t qtype, unsigned flags)
{
    (void)flags;
    struct fake_dns *d = ud;
    struct entry *e = find(d, name, qtype);
    if (!e) {
        struct entry *any = find(d, name, 0);
        bool exists = false;
        for (size_t i = 0; i < d->n && !any; i++)
            if (strcasecmp(d->e[i].name, name) == 0)
                exists = true;
        e = add_entry(d, name, qtype);
        if (any)
            e->a = mx_answer_new(any->a->rc, qtype, 3600, false);
        else
            e->a = mx_answer_new(exists ? MX_RC_NOERROR : MX_RC_NXDOMAIN, qtype, 3600, false);
    }
    if (!e->asked) {
        e->asked = true;
        if (d->lazy)
            return NULL;
    }
    return e->a;
}

struct mx_oracle fake_dns_oracle(struct fake_dns *d)
{
    struct mx_oracle o = {get, d};
    return o;
}

unsigned fake_dns_asked_count(const struct fake_dns *d)
{
    unsigned n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->e[i].asked;
    return n;
}

bool fake_dns_was_asked(const struct fake_dns *d, const char *name, const char *type)
{
    uint16_t t = type_of(type);
    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].type == t && d->e[i].asked && strcasecmp(d->e[i].name, name) == 0)
            return true;
    return false;
}

void fake_dns_analyze(struct fake_dns *d, const struct mx_analyze_cfg *cfg, const char *domain,
                      struct mx_result *res)
{
    struct mx_oracle o = fake_dns_oracle(d);
    for (int round = 0; round < 64; round++)
        if (mx_analyze(cfg, domain, &o, res))
            return;
    cr_assert_fail("analysis of %s still pending after 64 rounds", domain);
}

const char *fake_findings(const struct mx_result *res)
{
    static char buf[2048];
    size_t len;
    const char *s = mx_result_col(res, MX_COL_FINDINGS, &len);
    snprintf(buf, sizeof buf, "%.*s", (int)len, s);
    return buf;
}
