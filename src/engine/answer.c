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

/* An empty answer with room for cap bytes of data. */
static struct mx_answer *alloc_answer(enum mx_rc rc, uint16_t qtype, uint32_t cap)
{
    struct mx_answer *a = malloc(sizeof *a + cap);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->rc = rc;
    a->qtype = qtype;
    a->cap = cap;
    return a;
}

struct mx_answer *mx_answer_new(enum mx_rc rc, uint16_t qtype, uint32_t ttl, bool cname)
{
    struct mx_answer *a = alloc_answer(rc, qtype, 256);
    if (a) {
        a->ttl = ttl;
        a->cname = cname;
    }
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
    struct mx_answer *a = alloc_answer(MX_RC_NOERROR, qtype, (uint32_t)len);
    if (!a)
        return NULL;
    a->size = (uint32_t)len;
    memcpy(a->data, data, len);
    return a;
}

const void *mx_answer_blob_data(const struct mx_answer *a, size_t len)
{
    return a && a->rc == MX_RC_NOERROR && a->size >= len && a->count == 0 ? a->data : NULL;
}

/* Bytes kept after the records: the CNAME target and its NUL. */
static size_t tail_len(const struct mx_answer *a)
{
    return a->target_len ? (size_t)a->target_len + 1 : 0;
}

/* Makes room for n more bytes; false (and truncated set) past MX_ANSWER_MAX. */
static bool reserve(struct mx_answer **ap, size_t n)
{
    struct mx_answer *a = *ap;
    size_t used = (size_t)a->size + tail_len(a);
    if (used + n <= a->cap)
        return true;
    if (used + n > MX_ANSWER_MAX) {
        a->truncated = true;
        return false;
    }
    size_t cap = a->cap;
    while (cap < used + n)
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

/* Room for a record of n bytes at the end of the records (the kept target,
 * if any, moves up); NULL when it does not fit. The caller fills it and
 * counts the record; size is already advanced. */
static unsigned char *append(struct mx_answer **ap, size_t n)
{
    if (!reserve(ap, n))
        return NULL;
    struct mx_answer *a = *ap;
    unsigned char *p = a->data + a->size;
    if (a->target_len)
        memmove(p + n, p, tail_len(a));
    a->size += (uint32_t)n;
    a->count++;
    return p;
}

size_t mx_answer_bytes(const struct mx_answer *a)
{
    return sizeof *a + a->size + tail_len(a);
}

const char *mx_answer_target(const struct mx_answer *a)
{
    return a->target_len ? (const char *)a->data + a->size : NULL;
}

bool mx_answer_set_target(struct mx_answer **ap, const char *name)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > 1023)
        return false;
    size_t old = tail_len(*ap);
    if (nl + 1 > old && !reserve(ap, nl + 1 - old))
        return false;
    struct mx_answer *a = *ap;
    memcpy(a->data + a->size, name, nl + 1);
    a->target_len = (uint16_t)nl;
    return true;
}

bool mx_answer_add_mx(struct mx_answer **ap, uint16_t pref, const char *name)
{
    size_t nl = strlen(name);
    unsigned char *p = nl > 65535 ? NULL : append(ap, 4 + nl + 1);
    if (!p)
        return false;
    p[0] = (unsigned char)(pref >> 8);
    p[1] = (unsigned char)pref;
    p[2] = (unsigned char)(nl >> 8);
    p[3] = (unsigned char)nl;
    memcpy(p + 4, name, nl + 1);
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
    unsigned char *p = nl > 65535 ? NULL : append(ap, 6 + nl + 1);
    if (!p)
        return false;
    p[0] = (unsigned char)(serial >> 24);
    p[1] = (unsigned char)(serial >> 16);
    p[2] = (unsigned char)(serial >> 8);
    p[3] = (unsigned char)serial;
    p[4] = (unsigned char)(nl >> 8);
    p[5] = (unsigned char)nl;
    memcpy(p + 6, mname, nl + 1);
    return true;
}

bool mx_answer_add_ip(struct mx_answer **ap, const struct mx_ip *ip)
{
    size_t n = ip->family == 4 ? 4 : 16;
    unsigned char *p = append(ap, 1 + n);
    if (!p)
        return false;
    p[0] = ip->family;
    memcpy(p + 1, ip->b, n);
    return true;
}

/* TXT and raw rdata share a layout: length (2 bytes), bytes, NUL. */
static bool add_bytes(struct mx_answer **ap, const void *bytes, size_t len)
{
    unsigned char *p = len > 65535 ? NULL : append(ap, 2 + len + 1);
    if (!p)
        return false;
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)len;
    if (len)
        memcpy(p + 2, bytes, len);
    p[2 + len] = 0;
    return true;
}

bool mx_answer_add_txt(struct mx_answer **ap, const char *txt, size_t len)
{
    return add_bytes(ap, txt, len);
}

bool mx_answer_add_raw(struct mx_answer **ap, const unsigned char *rdata, size_t len)
{
    return add_bytes(ap, rdata, len);
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
    case MX_T_TLSA: {
        size_t l = (size_t)p[0] << 8 | p[1];
        out->raw = p + 2;
        out->raw_len = l;
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
        if (wire_len + 1 > 255) /* with the root label: RFC 1035 3.1 */
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

/* The text of a TXT record, its strings joined, into tmp (cap bytes).
 * -1 when malformed, 0 when longer than cap (not kept: a cut record would
 * read as another record), else 1 with *w the length. */
static int txt_join(const unsigned char *rd, size_t rl, char *tmp, size_t cap, size_t *w)
{
    size_t p = 0;
    *w = 0;
    bool fits = true;
    while (p < rl) {
        size_t sl = rd[p];
        if (p + 1 + sl > rl)
            return -1;
        if (*w + sl <= cap)
            memcpy(tmp + *w, rd + p + 1, sl);
        else
            fits = false;
        *w += sl;
        p += 1 + sl;
    }
    return fits ? 1 : 0;
}

static bool policy_txt(const char *t, size_t n)
{
    return n >= 2 && (t[0] == 'v' || t[0] == 'V') && t[1] == '=';
}

/* Adds the record r to *ap. -1: malformed (the answer is FORMERR); 0: not
 * added (TXT of the other pass, or past what is kept: truncated is set);
 * 1: added. pass 0 takes only TXT policy records, pass 1 the rest. */
/* A SOA record: MNAME, RNAME, then five 32-bit numbers, SERIAL first. */
static int add_soa(struct mx_answer **ap, const unsigned char *buf, size_t len, const struct rr *r)
{
    char mname[1024], rname[1024];
    size_t o = r->rdata;
    if (!mx_wire_name(buf, len, &o, mname, sizeof mname) ||
        !mx_wire_name(buf, len, &o, rname, sizeof rname) || o + 20 != r->rdata + r->rdlen)
        return -1;
    uint32_t serial = (uint32_t)buf[o] << 24 | (uint32_t)buf[o + 1] << 16 |
                      (uint32_t)buf[o + 2] << 8 | buf[o + 3];
    return mx_answer_add_soa(ap, mname, serial) ? 1 : 0;
}

static int add_rr(struct mx_answer **ap, const unsigned char *buf, size_t len,
                  const struct rr *r, uint16_t qtype, int pass)
{
    const unsigned char *rd = buf + r->rdata;
    size_t rl = r->rdlen;
    char name[1024];
    size_t o;
    switch (qtype) {
    case MX_T_A:
    case MX_T_AAAA: {
        struct mx_ip ip = {.family = qtype == MX_T_A ? 4 : 6};
        size_t want = qtype == MX_T_A ? 4 : 16;
        if (rl != want)
            return -1;
        memcpy(ip.b, rd, want);
        return mx_answer_add_ip(ap, &ip) ? 1 : 0;
    }
    case MX_T_MX:
        o = r->rdata + 2;
        if (rl < 3 || !mx_wire_name(buf, len, &o, name, sizeof name) || o != r->rdata + rl)
            return -1;
        return mx_answer_add_mx(ap, rd16(rd), name) ? 1 : 0;
    case MX_T_TXT: {
        static _Thread_local char tmp[MX_ANSWER_MAX];
        size_t w;
        int j = txt_join(rd, rl, tmp, sizeof tmp, &w);
        if (j < 0)
            return -1;
        bool pol = j > 0 ? policy_txt(tmp, w) : (rl > 2 && policy_txt((const char *)rd + 1, rd[0]));
        if (pol != (pass == 0))
            return 0;
        if (j == 0) {
            (*ap)->truncated = true;
            return 0;
        }
        return mx_answer_add_txt(ap, tmp, w) ? 1 : 0;
    }
    case MX_T_PTR:
        o = r->rdata;
        if (!mx_wire_name(buf, len, &o, name, sizeof name) || o != r->rdata + rl)
            return -1;
        return mx_answer_add_ptr(ap, name) ? 1 : 0;
    case MX_T_NS:
        o = r->rdata;
        if (!mx_wire_name(buf, len, &o, name, sizeof name) || o != r->rdata + rl)
            return -1;
        return mx_answer_add_ns(ap, name) ? 1 : 0;
    case MX_T_SOA:
        return add_soa(ap, buf, len, r);
    case MX_T_TLSA:
        return mx_answer_add_raw(ap, rd, rl) ? 1 : 0;
    default:
        return 0;
    }
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
    a->ad = (buf[3] & 0x20) != 0;
    if (cname)
        mx_answer_set_target(&a, cur); /* best effort: a name that does not fit is not kept */
    bool first = true;
    /* TXT: policy records ("v=...": SPF, DMARC, MTA-STS, TLS-RPT) first, so
     * that an answer larger than the scanner keeps loses other text first. */
    for (int pass = qtype == MX_T_TXT ? 0 : 1; pass < 2; pass++)
        for (unsigned i = 0; i < n; i++) {
            if (rrs[i].type != qtype ||
                !(cname ? owner_is(buf, len, rrs[i].owner_off, cur) : rrs[i].is_qname))
                continue;
            int r = add_rr(&a, buf, len, &rrs[i], qtype, pass);
            if (r < 0) {
                free(a);
                return mx_answer_failure(MX_RC_FORMERR, qtype);
            }
            if (r == 0)
                continue;
            if (first || rrs[i].ttl < a->ttl)
                a->ttl = rrs[i].ttl;
            first = false;
        }
    return a;
}
