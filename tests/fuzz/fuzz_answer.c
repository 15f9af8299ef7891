/* Fuzz target for the DNS wire reader: the bytes are a response to
 * "example.test" read as MX, A, AAAA, TXT, PTR, NS and SOA through
 * mx_answer_from_wire (and to a name with odd octets, as SPF macros make
 * them), and
 * mx_wire_name at several offsets. Builds as a libFuzzer target or, with
 * replay_main.c, as a corpus replay.
 *
 * Invariants (abort when violated):
 * - every kept record lies within the answer and reads back in presentation
 *   form (MX/PTR/NS names and SOA MNAME lowercase and escaped, TXT NUL-terminated, addresses
 *   of the asked family); no more records than the packet's answer count;
 *   sizes and TTL within their limits;
 * - round trip: the kept records written back as a response (a writer of
 *   our own, names from presentation form to wire) read back to the same
 *   answer: rcode, count, TTL and every record;
 * - mx_wire_name moves past the name or fails without moving, and never
 *   overruns the buffer it is given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "mx/answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WIRE_MAX 65535
/* The longest wire name written, the root's zero octet included: RFC 1035
 * (2.3.4) allows 255, and so does mx_wire_name. */
#define NAME_WIRE_MAX 255

/* A name in mx_wire_name's presentation form (\. \\ \DDD escapes, "" for
 * the root) to wire format. Returns its length, 0 when it is no name. */
static size_t name_to_wire(const char *name, unsigned char *out, size_t cap)
{
    size_t w = 0, len_at = 0;
    if (cap < NAME_WIRE_MAX)
        return 0;
    if (!*name) {
        out[0] = 0;
        return 1;
    }
    out[w++] = 0; /* the first label's length, set at its end */
    for (const char *p = name;; p++) {
        if (*p == '.' || *p == 0) {
            size_t l = w - len_at - 1;
            if (l == 0 || l > 63)
                return 0;
            out[len_at] = (unsigned char)l;
            if (*p == 0)
                break;
            len_at = w;
            out[w++] = 0;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            if (p[1] >= '0' && p[1] <= '2' && p[2] >= '0' && p[2] <= '9' && p[3] >= '0' &&
                p[3] <= '9') {
                unsigned v = (unsigned)(p[1] - '0') * 100 + (unsigned)(p[2] - '0') * 10 +
                             (unsigned)(p[3] - '0');
                if (v > 255)
                    return 0;
                c = (unsigned char)v;
                p += 3;
            } else {
                c = (unsigned char)*++p;
                if (!c)
                    return 0;
            }
        }
        if (w + 2 > NAME_WIRE_MAX)
            return 0;
        out[w++] = c;
    }
    out[w++] = 0;
    return w;
}

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static unsigned rcode_of(enum mx_rc rc)
{
    switch (rc) {
    case MX_RC_NOERROR:
        return 0;
    case MX_RC_FORMERR:
        return 1;
    case MX_RC_SERVFAIL:
        return 2;
    case MX_RC_NXDOMAIN:
        return 3;
    case MX_RC_REFUSED:
        return 5;
    default:
        return 4; /* NOTIMP: OTHER */
    }
}

/* The answer's records as a response to (example.test, qtype), every owner a
 * pointer to the question, every TTL the answer's. Returns the length, 0
 * when it does not fit in a DNS message. */
static size_t write_response(const struct mx_answer *a, unsigned char *buf)
{
    size_t w = 12, n;
    struct mx_rdata rd;
    size_t off = 0;

    memset(buf, 0, 12);
    buf[0] = 0x12;
    buf[1] = 0x34;
    buf[2] = 0x81; /* QR, RD */
    buf[3] = (unsigned char)(0x80 | rcode_of(a->rc));
    put16(buf + 4, 1);
    put16(buf + 6, a->count);
    n = name_to_wire("example.test", buf + w, WIRE_MAX - w);
    CHECK(n > 0);
    w += n;
    put16(buf + w, a->qtype);
    put16(buf + w + 2, 1);
    w += 4;
    while (mx_answer_next(a, &off, &rd)) {
        unsigned char rdata[NAME_WIRE_MAX + 1 + 20]; /* the longest: SOA */
        const unsigned char *rp = rdata;
        size_t rl = 0;
        if (w + 12 > WIRE_MAX)
            return 0;
        buf[w] = 0xC0;
        buf[w + 1] = 12;
        put16(buf + w + 2, a->qtype);
        put16(buf + w + 4, 1);
        put16(buf + w + 6, a->ttl >> 16);
        put16(buf + w + 8, a->ttl & 0xFFFF);
        w += 12; /* rdlength at w - 2 */
        switch (a->qtype) {
        case MX_T_MX:
            put16(rdata, rd.pref);
            rl = 2 + name_to_wire(rd.name, rdata + 2, sizeof rdata - 2);
            CHECK(rl > 2); /* a name the reader gave writes back */
            break;
        case MX_T_PTR:
        case MX_T_NS:
            rl = name_to_wire(rd.name, rdata, sizeof rdata);
            CHECK(rl > 0);
            break;
        case MX_T_SOA: /* MNAME, RNAME (the root), SERIAL, four zero timers */
            rl = name_to_wire(rd.name, rdata, sizeof rdata);
            CHECK(rl > 0);
            memset(rdata + rl, 0, 21);
            rdata[rl + 1] = (unsigned char)(rd.serial >> 24);
            rdata[rl + 2] = (unsigned char)(rd.serial >> 16);
            rdata[rl + 3] = (unsigned char)(rd.serial >> 8);
            rdata[rl + 4] = (unsigned char)rd.serial;
            rl += 21;
            break;
        case MX_T_TXT: /* character-strings of up to 255 bytes */
            for (size_t done = 0, first = 1; first || done < rd.txt_len; first = 0) {
                size_t cl = rd.txt_len - done > 255 ? 255 : rd.txt_len - done;
                if (w + rl + 1 + cl > WIRE_MAX)
                    return 0;
                buf[w + rl] = (unsigned char)cl;
                memcpy(buf + w + rl + 1, rd.txt + done, cl);
                rl += 1 + cl;
                done += cl;
            }
            rp = NULL; /* written in place */
            break;
        default:
            rl = rd.ip.family == 4 ? 4 : 16;
            memcpy(rdata, rd.ip.b, rl);
            break;
        }
        if (rl > 0xFFFF || w + rl > WIRE_MAX)
            return 0;
        if (rp)
            memcpy(buf + w, rp, rl);
        put16(buf + w - 2, rl);
        w += rl;
    }
    return w;
}

static bool same_rdata(uint16_t qtype, const struct mx_rdata *x, const struct mx_rdata *y)
{
    switch (qtype) {
    case MX_T_MX:
    case MX_T_PTR:
    case MX_T_NS:
        return x->pref == y->pref && strcmp(x->name, y->name) == 0;
    case MX_T_SOA:
        return x->serial == y->serial && strcmp(x->name, y->name) == 0;
    case MX_T_TXT:
        return x->txt_len == y->txt_len && memcmp(x->txt, y->txt, x->txt_len) == 0;
    default:
        return x->ip.family == y->ip.family && memcmp(x->ip.b, y->ip.b, sizeof x->ip.b) == 0;
    }
}

static void check_round_trip(const struct mx_answer *a)
{
    static unsigned char wire[WIRE_MAX];
    struct mx_rdata x, y;
    size_t ox = 0, oy = 0;
    if (a->truncated)
        return; /* records were dropped: nothing to compare with */
    size_t len = write_response(a, wire);
    if (len == 0)
        return;
    struct mx_answer *b = mx_answer_from_wire(wire, len, "example.test", a->qtype);
    if (!b)
        return; /* out of memory */
    CHECK(b->rc == a->rc && b->qtype == a->qtype && b->count == a->count && b->ttl == a->ttl &&
          !b->truncated && !b->cname);
    while (mx_answer_next(a, &ox, &x)) {
        CHECK(mx_answer_next(b, &oy, &y));
        CHECK(same_rdata(a->qtype, &x, &y));
    }
    CHECK(!mx_answer_next(b, &oy, &y));
    free(b);
}

static void check(const struct mx_answer *a, uint16_t qtype, const uint8_t *data, size_t size)
{
    if (!a)
        return; /* out of memory */
    CHECK(a->qtype == qtype && (unsigned)a->rc < MX_RC_COUNT && a->size <= a->cap &&
          a->cap <= MX_ANSWER_MAX && a->ttl <= 0x7fffffffu);
    CHECK(a->rc != MX_RC_TIMEOUT && a->rc != MX_RC_INVALID); /* not outcomes of a packet */
    if (size >= 12) /* records come from the answer section only */
        CHECK(a->count <= ((unsigned)data[6] << 8 | data[7]));
    else
        CHECK(a->count == 0 && a->rc == MX_RC_FORMERR);
    if (a->count == 0 && !a->truncated) /* (a record dropped for size keeps its TTL) */
        CHECK(a->ttl == 0);
    size_t off = 0, prev = 0;
    unsigned n = 0;
    struct mx_rdata rd;
    while (mx_answer_next(a, &off, &rd)) {
        CHECK(off > prev && off <= a->size);
        prev = off;
        switch (qtype) {
        case MX_T_MX:
        case MX_T_PTR:
        case MX_T_NS:
        case MX_T_SOA:
            CHECK(strlen(rd.name) <= 1023);
            for (const char *p = rd.name; *p; p++)
                CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f &&
                      !(*p >= 'A' && *p <= 'Z')); /* presentation form: escaped, lowercase */
            break;
        case MX_T_TXT:
            CHECK(rd.txt_len <= MX_ANSWER_MAX && rd.txt[rd.txt_len] == 0);
            break;
        default:
            CHECK(rd.ip.family == (qtype == MX_T_A ? 4 : 6));
            break;
        }
        n++;
    }
    CHECK(n == a->count && off == a->size);
    if (n > 0)
        CHECK(mx_answer_get(a, n - 1, &rd));
    CHECK(!mx_answer_get(a, n, &rd));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {MX_T_MX, MX_T_A,   MX_T_AAAA, MX_T_TXT,
                                     MX_T_PTR, MX_T_NS, MX_T_SOA};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct mx_answer *a = mx_answer_from_wire(data, size, "example.test", types[i]);
        check(a, types[i], data, size);
        if (a)
            check_round_trip(a);
        free(a);
    }
    struct mx_answer *odd = mx_answer_from_wire(data, size, "a b%\\\\c\\.d.test", MX_T_A);
    check(odd, MX_T_A, data, size);
    free(odd);
    /* names at the question, at each of the first offsets and near the end */
    char out[1024];
    for (size_t o = 0; o < size && o < 64; o++) {
        size_t off = o;
        if (mx_wire_name(data, size, &off, out, sizeof out)) {
            CHECK(off > o && off <= size && strlen(out) <= 1023);
            unsigned char wire[NAME_WIRE_MAX];
            CHECK(name_to_wire(out, wire, sizeof wire) > 0); /* a decoded name encodes again */
        } else {
            CHECK(off == o);
        }
        /* a tiny buffer must fail cleanly or fit */
        off = o;
        char small[8];
        if (mx_wire_name(data, size, &off, small, sizeof small))
            CHECK(strlen(small) < sizeof small);
    }
    if (size > 2) {
        size_t off = size - 2;
        (void)mx_wire_name(data, size, &off, out, sizeof out);
    }
    return 0;
}
