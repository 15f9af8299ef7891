/* DNS answers as the scanner keeps them: a small serialized record list
 * (answer.h), built from raw wire bytes or by hand in tests. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mx/answer.h"

static const char *const rc_names[] = {
#define X(e, n) n,
    MX_RC_MAP(X)
#undef X
};

const char *mx_rc_name(enum mx_rc rc)
{
    return (unsigned)rc < MX_RC_COUNT ? rc_names[rc] : "OTHER";
}

struct mx_answer *mx_answer_new(enum mx_rc rc, uint16_t qtype, uint32_t ttl, bool cname)
{
    uint32_t cap = 256;
    struct mx_answer *a = malloc(sizeof *a + cap);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->rc = rc;
    a->qtype = qtype;
    a->ttl = ttl;
    a->cname = cname;
    a->cap = cap;
    return a;
}

struct mx_answer *mx_answer_failure(enum mx_rc rc, uint16_t qtype)
{
    return mx_answer_new(rc, qtype, 0, false);
}

struct mx_answer *mx_answer_blob(uint16_t qtype, const void *data, size_t len)
{
    if (len > MX_ANSWER_MAX * 4)
        return NULL;
    struct mx_answer *a = malloc(sizeof *a + len);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->rc = MX_RC_NOERROR;
    a->qtype = qtype;
    a->size = a->cap = (uint32_t)len;
    memcpy(a->data, data, len);
    return a;
}

const void *mx_answer_blob_data(const struct mx_answer *a, size_t len)
{
    return a && a->rc == MX_RC_NOERROR && a->size >= len && a->count == 0 ? a->data : NULL;
}

/* Makes room for n more bytes; false (and truncated set) past MX_ANSWER_MAX. */
static bool reserve(struct mx_answer **ap, size_t n)
{
    struct mx_answer *a = *ap;
    if ((size_t)a->size + n <= a->cap)
        return true;
    if ((size_t)a->size + n > MX_ANSWER_MAX) {
        a->truncated = true;
        return false;
    }
    size_t cap = a->cap;
    while (cap < (size_t)a->size + n)
        cap *= 2;
    if (cap > MX_ANSWER_MAX)
        cap = MX_ANSWER_MAX;
    struct mx_answer *b = realloc(a, sizeof *a + cap);
    if (!b) {
        a->truncated = true;
        return false;
    }
    b->cap = (uint32_t)cap;
    *ap = b;
    return true;
}

bool mx_answer_add_mx(struct mx_answer **ap, uint16_t pref, const char *name)
{
    size_t nl = strlen(name);
    if (nl > 65535 || !reserve(ap, 4 + nl + 1))
        return false;
    struct mx_answer *a = *ap;
    unsigned char *p = a->data + a->size;
    p[0] = (unsigned char)(pref >> 8);
    p[1] = (unsigned char)pref;
    p[2] = (unsigned char)(nl >> 8);
    p[3] = (unsigned char)nl;
    memcpy(p + 4, name, nl + 1);
    a->size += (uint32_t)(4 + nl + 1);
    a->count++;
    return true;
}

bool mx_answer_add_ptr(struct mx_answer **ap, const char *name)
{
    return mx_answer_add_mx(ap, 0, name); /* same layout, the preference unused */
}

bool mx_answer_add_ns(struct mx_answer **ap, const char *name)
{
    return mx_answer_add_mx(ap, 0, name); /* same layout, the preference unused */
}

bool mx_answer_add_soa(struct mx_answer **ap, const char *mname, uint32_t serial)
{
    size_t nl = strlen(mname);
    if (nl > 65535 || !reserve(ap, 6 + nl + 1))
        return false;
    struct mx_answer *a = *ap;
    unsigned char *p = a->data + a->size;
    p[0] = (unsigned char)(serial >> 24);
    p[1] = (unsigned char)(serial >> 16);
    p[2] = (unsigned char)(serial >> 8);
    p[3] = (unsigned char)serial;
    p[4] = (unsigned char)(nl >> 8);
    p[5] = (unsigned char)nl;
    memcpy(p + 6, mname, nl + 1);
    a->size += (uint32_t)(6 + nl + 1);
    a->count++;
    return true;
}

bool mx_answer_add_ip(struct mx_answer **ap, const struct mx_ip *ip)
{
    size_t n = ip->family == 4 ? 4 : 16;
    if (!reserve(ap, 1 + n))
        return false;
    struct mx_answer *a = *ap;
    a->data[a->size] = ip->family;
    memcpy(a->data + a->size + 1, ip->b, n);
    a->size += (uint32_t)(1 + n);
    a->count++;
    return true;
}

bool mx_answer_add_txt(struct mx_answer **ap, const char *txt, size_t len)
{
    if (len > 65535 || !reserve(ap, 2 + len + 1))
        return false;
    struct mx_answer *a = *ap;
    unsigned char *p = a->data + a->size;
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)len;
    memcpy(p + 2, txt, len);
    p[2 + len] = 0;
    a->size += (uint32_t)(2 + len + 1);
    a->count++;
    return true;
}

bool mx_answer_next(const struct mx_answer *a, size_t *off, struct mx_rdata *out)
{
    size_t o = *off;
    if (o >= a->size)
        return false;
    const unsigned char *p = a->data + o;
    memset(out, 0, sizeof *out);
    switch (a->qtype) {
    case MX_T_SOA: {
        size_t nl = (size_t)p[4] << 8 | p[5];
        out->serial = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        out->name = (const char *)p + 6;
        *off = o + 6 + nl + 1;
        return true;
    }
    case MX_T_MX:
    case MX_T_NS:
    case MX_T_PTR: {
        size_t nl = (size_t)p[2] << 8 | p[3];
        out->pref = (uint16_t)(p[0] << 8 | p[1]);
        out->name = (const char *)p + 4;
        *off = o + 4 + nl + 1;
        return true;
    }
    case MX_T_TXT: {
        size_t l = (size_t)p[0] << 8 | p[1];
        out->txt = (const char *)p + 2;
        out->txt_len = l;
        *off = o + 2 + l + 1;
        return true;
    }
    default: {
        size_t n = p[0] == 4 ? 4 : 16;
        out->ip.family = p[0];
        memcpy(out->ip.b, p + 1, n);
        *off = o + 1 + n;
        return true;
    }
    }
}

bool mx_answer_get(const struct mx_answer *a, unsigned i, struct mx_rdata *out)
{
    size_t off = 0;
    for (unsigned k = 0; mx_answer_next(a, &off, out); k++)
        if (k == i)
            return true;
    return false;
}

/* ---- wire format ---- */

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* One label byte in presentation form (lowercased) into esc (at most 4
 * bytes, no NUL); returns its length. */
static size_t escape_byte(unsigned char ch, char *esc)
{
    if (ch >= 'A' && ch <= 'Z') {
        esc[0] = (char)(ch + 32);
        return 1;
    }
    if (ch == '.' || ch == '\\') {
        esc[0] = '\\';
        esc[1] = (char)ch;
        return 2;
    }
    if (ch > 0x20 && ch < 0x7f) {
        esc[0] = (char)ch;
        return 1;
    }
    esc[0] = '\\';
    esc[1] = (char)('0' + ch / 100);
    esc[2] = (char)('0' + ch / 10 % 10);
    esc[3] = (char)('0' + ch % 10);
    return 4;
}

bool mx_wire_name(const unsigned char *buf, size_t len, size_t *off, char *out, size_t outlen)
{
    size_t o = *off, end = 0, w = 0, wire_len = 0;
    bool jumped = false;
    unsigned jumps = 0;
    if (outlen == 0)
        return false;
    for (;;) {
        if (o >= len)
            return false;
        unsigned c = buf[o];
        if ((c & 0xC0) == 0xC0) {
            if (o + 1 >= len)
                return false;
            size_t target = (size_t)(c & 0x3F) << 8 | buf[o + 1];
            if (!jumped)
                end = o + 2;
            jumped = true;
            if (++jumps > 64 || target >= len)
                return false;
            o = target;
            continue;
        }
        if ((c & 0xC0) != 0)
            return false; /* extended label types are not supported */
        o++;
        if (c == 0)
            break;
        if (o + c > len)
            return false;
        wire_len += 1 + c;
        if (wire_len > 255)
            return false;
        if (w > 0) {
            if (w + 1 >= outlen)
                return false;
            out[w++] = '.';
        }
        for (unsigned i = 0; i < c; i++) {
            if (w + 4 < outlen) {
                w += escape_byte(buf[o + i], out + w);
                continue;
            }
            char esc[5];
            size_t el = escape_byte(buf[o + i], esc);
            if (w + el >= outlen)
                return false;
            memcpy(out + w, esc, el);
            w += el;
        }
        o += c;
    }
    out[w] = 0;
    *off = jumped ? end : o;
    return true;
}

static enum mx_rc map_rcode(unsigned rcode)
{
    switch (rcode) {
    case 0:
        return MX_RC_NOERROR;
    case 1:
        return MX_RC_FORMERR;
    case 2:
        return MX_RC_SERVFAIL;
    case 3:
        return MX_RC_NXDOMAIN;
    case 5:
        return MX_RC_REFUSED;
    default:
        return MX_RC_OTHER;
    }
}

#define MAX_CHAIN 16

struct rr {
    size_t owner_off; /* offset of the owner name */
    bool is_qname;    /* the owner is the asked name */
    uint16_t type;
    uint32_t ttl;
    size_t rdata;     /* offset */
    uint16_t rdlen;
};

/* Skips a name without decoding it. */
static bool skip_name(const unsigned char *buf, size_t len, size_t *off)
{
    size_t o = *off;
    for (;;) {
        if (o >= len)
            return false;
        unsigned c = buf[o];
        if ((c & 0xC0) == 0xC0) {
            *off = o + 2;
            return o + 2 <= len;
        }
        if (c & 0xC0)
            return false;
        o += 1 + c;
        if (c == 0) {
            *off = o;
            return o <= len;
        }
    }
}

/* The query name as mx_wire_name writes the question back: the query was
 * built from qname by mx_dns_build_query, where \DDD is a decimal byte, a
 * backslash before another character takes it literally, and every other
 * byte stands for itself. Most names have nothing to rewrite and are
 * copied. false when it does not fit. */
static bool canonical_qname(const char *qname, char *out, size_t outlen)
{
    size_t w = 0;
    for (const char *p = qname; *p; p++) {
        char esc[5];
        size_t el;
        unsigned char ch = (unsigned char)*p;
        if (ch == '.') {
            esc[0] = '.';
            el = 1;
        } else {
            if (ch == '\\' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
                p[3] >= '0' && p[3] <= '9') {
                unsigned v = (unsigned)(p[1] - '0') * 100 + (unsigned)(p[2] - '0') * 10 +
                             (unsigned)(p[3] - '0');
                if (v > 255)
                    return false;
                ch = (unsigned char)v;
                p += 3;
            } else if (ch == '\\' && p[1]) {
                ch = (unsigned char)*++p;
            }
            el = escape_byte(ch, esc);
        }
        if (w + el >= outlen)
            return false;
        memcpy(out + w, esc, el);
        w += el;
    }
    out[w] = 0;
    return true;
}

static bool owner_is(const unsigned char *buf, size_t len, size_t off, const char *name)
{
    char tmp[1024];
    size_t o = off;
    if (!mx_wire_name(buf, len, &o, tmp, sizeof tmp))
        return false;
    return strcasecmp(tmp, name) == 0;
}

struct mx_answer *mx_answer_from_wire(const unsigned char *buf, size_t len, const char *asked,
                                      uint16_t qtype)
{
    char qname[1024];
    if (!canonical_qname(asked, qname, sizeof qname))
        return mx_answer_failure(MX_RC_FORMERR, qtype);
    if (len < 12)
        return mx_answer_failure(MX_RC_FORMERR, qtype);
    unsigned qd = rd16(buf + 4), an = rd16(buf + 6);
    enum mx_rc rc = map_rcode(buf[3] & 0x0F);
    if (!(buf[2] & 0x80)) /* not a response */
        return mx_answer_failure(MX_RC_FORMERR, qtype);
    size_t off = 12;
    /* Owners are most often a pointer to the question's name: decode that
     * once and recognise the pointer, rather than decode every owner. */
    bool q_is_qname = false;
    if (qd > 0) {
        char qn[1024];
        size_t qo = 12;
        q_is_qname = mx_wire_name(buf, len, &qo, qn, sizeof qn) && strcasecmp(qn, qname) == 0;
    }
    for (unsigned i = 0; i < qd; i++) {
        if (!skip_name(buf, len, &off) || off + 4 > len)
            return mx_answer_failure(MX_RC_FORMERR, qtype);
        off += 4;
    }
    /* Collect the answer section's record headers (bounded). */
    enum { MAX_RR = 512 };
    static _Thread_local struct rr rrs[MAX_RR];
    unsigned n = 0;
    for (unsigned i = 0; i < an; i++) {
        size_t owner = off;
        if (!skip_name(buf, len, &off) || off + 10 > len)
            return mx_answer_failure(MX_RC_FORMERR, qtype);
        uint16_t type = rd16(buf + off);
        uint32_t ttl = (uint32_t)buf[off + 4] << 24 | (uint32_t)buf[off + 5] << 16 |
                       (uint32_t)buf[off + 6] << 8 | buf[off + 7];
        uint16_t rdlen = rd16(buf + off + 8);
        off += 10;
        if (off + rdlen > len)
            return mx_answer_failure(MX_RC_FORMERR, qtype);
        if (n < MAX_RR && (type == qtype || type == MX_T_CNAME)) {
            /* an undecodable owner (pointer loop ...) is malformed, not foreign */
            if (qd > 0 && buf[owner] == 0xC0 && buf[owner + 1] == 0x0C) {
                rrs[n].is_qname = q_is_qname;
            } else {
                char oname[1024];
                size_t oo = owner;
                if (!mx_wire_name(buf, len, &oo, oname, sizeof oname))
                    return mx_answer_failure(MX_RC_FORMERR, qtype);
                rrs[n].is_qname = strcasecmp(oname, qname) == 0;
            }
            rrs[n].owner_off = owner;
            rrs[n].type = type;
            rrs[n].ttl = ttl > 0x7fffffffu ? 0 : ttl; /* RFC 2181 8 */
            rrs[n].rdata = off;
            rrs[n].rdlen = rdlen;
            n++;
        }
        off += rdlen;
    }
    /* Follow the CNAME chain from the qname (records may come in any order). */
    char cur[1024];
    size_t ql = strnlen(qname, sizeof cur - 1);
    memcpy(cur, qname, ql);
    cur[ql] = 0;
    bool cname = false;
    for (unsigned step = 0; step < MAX_CHAIN; step++) {
        bool moved = false;
        for (unsigned i = 0; i < n; i++) {
            if (rrs[i].type != MX_T_CNAME || qtype == MX_T_CNAME)
                continue;
            if (!(step == 0 ? rrs[i].is_qname : owner_is(buf, len, rrs[i].owner_off, cur)))
                continue;
            size_t o = rrs[i].rdata;
            char target[1024];
            if (!mx_wire_name(buf, len, &o, target, sizeof target) ||
                o > rrs[i].rdata + rrs[i].rdlen)
                return mx_answer_failure(MX_RC_FORMERR, qtype);
            memcpy(cur, target, strlen(target) + 1);
            cname = true;
            moved = true;
            break;
        }
        if (!moved)
            break;
    }
    struct mx_answer *a = mx_answer_new(rc, qtype, 0, cname);
    if (!a)
        return NULL;
    a->aa = (buf[2] & 0x04) != 0;
    bool first = true;
    for (unsigned i = 0; i < n; i++) {
        if (rrs[i].type != qtype ||
            !(cname ? owner_is(buf, len, rrs[i].owner_off, cur) : rrs[i].is_qname))
            continue;
        const unsigned char *rd = buf + rrs[i].rdata;
        size_t rl = rrs[i].rdlen;
        bool ok = true;
        if (qtype == MX_T_A || qtype == MX_T_AAAA) {
            struct mx_ip ip = {.family = qtype == MX_T_A ? 4 : 6};
            size_t want = qtype == MX_T_A ? 4 : 16;
            if (rl != want)
                ok = false;
            else {
                memcpy(ip.b, rd, want);
                mx_answer_add_ip(&a, &ip);
            }
        } else if (qtype == MX_T_MX) {
            char name[1024];
            size_t o = rrs[i].rdata + 2;
            if (rl < 3 || !mx_wire_name(buf, len, &o, name, sizeof name) ||
                o != rrs[i].rdata + rl)
                ok = false;
            else
                mx_answer_add_mx(&a, rd16(rd), name);
        } else if (qtype == MX_T_TXT) {
            char tmp[65536 / 4];
            size_t w = 0, p = 0;
            while (p < rl) {
                size_t sl = rd[p];
                if (p + 1 + sl > rl) {
                    ok = false;
                    break;
                }
                if (w + sl <= sizeof tmp) {
                    memcpy(tmp + w, rd + p + 1, sl);
                    w += sl;
                } else {
                    a->truncated = true;
                }
                p += 1 + sl;
            }
            if (ok)
                mx_answer_add_txt(&a, tmp, w);
        } else if (qtype == MX_T_PTR || qtype == MX_T_NS) {
            char name[1024];
            size_t o = rrs[i].rdata;
            if (!mx_wire_name(buf, len, &o, name, sizeof name) || o != rrs[i].rdata + rl)
                ok = false;
            else
                mx_answer_add_ptr(&a, name);
        } else if (qtype == MX_T_SOA) {
            char mname[1024], rname[1024];
            size_t o = rrs[i].rdata;
            if (!mx_wire_name(buf, len, &o, mname, sizeof mname) ||
                !mx_wire_name(buf, len, &o, rname, sizeof rname) || o + 20 != rrs[i].rdata + rl)
                ok = false;
            else
                mx_answer_add_soa(&a, mname,
                                  (uint32_t)buf[o] << 24 | (uint32_t)buf[o + 1] << 16 |
                                      (uint32_t)buf[o + 2] << 8 | buf[o + 3]);
        }
        if (!ok) {
            free(a);
            return mx_answer_failure(MX_RC_FORMERR, qtype);
        }
        if (first || rrs[i].ttl < a->ttl)
            a->ttl = rrs[i].ttl;
        first = false;
    }
    return a;
}
