/* The DNS wire reader (answer.h): raw responses built byte by byte here,
 * parsed by mx_answer_from_wire, compared field by field. Also the builder
 * and iteration, and mx_wire_name on its own. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/answer.h"

/* ---- a tiny response writer ---- */

struct pkt {
    size_t n;
    unsigned char b[70000];
};

#define QR 0x8000u
#define RD 0x0100u
#define RA 0x0080u
#define QNAME_OFF 12u /* the question's name, target of 0xC00C pointers */

static void put8(struct pkt *p, unsigned v)
{
    cr_assert_lt(p->n, sizeof p->b);
    p->b[p->n++] = (unsigned char)v;
}

static void put16(struct pkt *p, unsigned v)
{
    put8(p, (v >> 8) & 0xFF);
    put8(p, v & 0xFF);
}

static void put32(struct pkt *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p, v & 0xFFFF);
}

static void putbytes(struct pkt *p, const void *s, size_t n)
{
    cr_assert_leq(p->n + n, sizeof p->b);
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

/* Labels of a dotted name, without the terminating zero ("" writes nothing). */
static void put_labels(struct pkt *p, const char *name)
{
    while (*name) {
        size_t l = strcspn(name, ".");
        put8(p, (unsigned)l);
        putbytes(p, name, l);
        name += l;
        if (*name == '.')
            name++;
    }
}

static void put_name(struct pkt *p, const char *name)
{
    put_labels(p, name);
    put8(p, 0);
}

static void put_ptr(struct pkt *p, size_t off)
{
    put16(p, 0xC000u | (unsigned)off);
}

static void header(struct pkt *p, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                   unsigned ar)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, flags);
    put16(p, qd);
    put16(p, an);
    put16(p, ns);
    put16(p, ar);
}

/* Header and question for (name, type); response bit set. */
static void start(struct pkt *p, unsigned rcode, unsigned an, const char *qname, unsigned qtype)
{
    header(p, QR | RD | RA | rcode, 1, an, 0, 0);
    put_name(p, qname);
    put16(p, qtype);
    put16(p, 1);
}

/* Type, class, TTL and a placeholder rdlength (the owner is already written). */
static size_t rr_start(struct pkt *p, unsigned type, uint32_t ttl)
{
    put16(p, type);
    put16(p, 1);
    put32(p, ttl);
    size_t at = p->n;
    put16(p, 0);
    return at;
}

static void rr_end(struct pkt *p, size_t at)
{
    size_t l = p->n - at - 2;
    p->b[at] = (unsigned char)(l >> 8);
    p->b[at + 1] = (unsigned char)l;
}

static void rr_mx(struct pkt *p, const char *owner, uint32_t ttl, unsigned pref, const char *exch)
{
    if (owner)
        put_name(p, owner);
    else
        put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_MX, ttl);
    put16(p, pref);
    put_name(p, exch);
    rr_end(p, at);
}

static void rr_a(struct pkt *p, const char *owner, uint32_t ttl, unsigned a, unsigned b,
                 unsigned c, unsigned d)
{
    if (owner)
        put_name(p, owner);
    else
        put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_A, ttl);
    put8(p, a);
    put8(p, b);
    put8(p, c);
    put8(p, d);
    rr_end(p, at);
}

static void rr_cname(struct pkt *p, const char *owner, uint32_t ttl, const char *target)
{
    if (owner)
        put_name(p, owner);
    else
        put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_CNAME, ttl);
    put_name(p, target);
    rr_end(p, at);
}

/* One TXT record made of the given character-strings. */
static void rr_txt(struct pkt *p, uint32_t ttl, const char *const *strs, const size_t *lens,
                   size_t n)
{
    put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_TXT, ttl);
    for (size_t i = 0; i < n; i++) {
        put8(p, (unsigned)lens[i]);
        putbytes(p, strs[i], lens[i]);
    }
    rr_end(p, at);
}

static struct mx_answer *parse(const struct pkt *p, const char *qname, uint16_t qtype)
{
    struct mx_answer *a = mx_answer_from_wire(p->b, p->n, qname, qtype);
    cr_assert_not_null(a);
    cr_assert_eq(a->qtype, qtype);
    return a;
}

static void expect_mx(const struct mx_answer *a, unsigned i, unsigned pref, const char *name)
{
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, i, &rd), "record %u missing", i);
    cr_expect_eq(rd.pref, pref, "record %u: pref %u, want %u", i, rd.pref, pref);
    cr_expect_str_eq(rd.name, name, "record %u", i);
}

static void expect_a(const struct mx_answer *a, unsigned i, const char *text)
{
    struct mx_rdata rd;
    struct mx_ip want;
    cr_assert(mx_answer_get(a, i, &rd), "record %u missing", i);
    cr_assert(mx_ip_parse(text, &want));
    char got[64];
    mx_ip_format(&rd.ip, got, sizeof got);
    cr_expect(mx_ip_equal(&rd.ip, &want), "record %u: %s, want %s", i, got, text);
}

static struct pkt P; /* big: keep it off the stack */

/* ---- MX ---- */

Test(answer, mx_two_records_order_pref_lowercase)
{
    start(&P, 0, 2, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 3600, 20, "MX2.Example.TEST");
    rr_mx(&P, NULL, 3600, 10, "mx1.example.test");
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_not(a->cname);
    cr_expect_not(a->truncated);
    cr_expect_eq(a->count, 2);
    cr_expect_eq(a->ttl, 3600);
    cr_expect_not(mx_answer_nodata(a));
    expect_mx(a, 0, 20, "mx2.example.test");
    expect_mx(a, 1, 10, "mx1.example.test");
    free(a);
}

Test(answer, mx_name_compression)
{
    start(&P, 0, 3, "example.test", MX_T_MX);
    /* exchange "mx" + pointer to the qname */
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 5);
    size_t mx_label = P.n;
    put_labels(&P, "mx");
    put_ptr(&P, QNAME_OFF);
    rr_end(&P, at);
    /* exchange "backup" + pointer to "mx.example.test" (a pointer to a pointer) */
    put_ptr(&P, QNAME_OFF);
    at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 10);
    put_labels(&P, "backup");
    put_ptr(&P, mx_label);
    rr_end(&P, at);
    /* owner written in full with upper case, exchange entirely a pointer */
    put_name(&P, "EXAMPLE.test");
    at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 20);
    put_ptr(&P, QNAME_OFF);
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_assert_eq(a->count, 3);
    expect_mx(a, 0, 5, "mx.example.test");
    expect_mx(a, 1, 10, "backup.mx.example.test");
    expect_mx(a, 2, 20, "example.test");
    free(a);
}

Test(answer, qname_matched_case_insensitively)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    rr_mx(&P, "example.test", 60, 1, "mx.example.test");
    struct mx_answer *a = parse(&P, "Example.TEST", MX_T_MX);
    cr_expect_eq(a->count, 1);
    free(a);
}

Test(answer, null_mx_is_empty_name)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 300, 0, "");
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_assert_eq(a->count, 1);
    expect_mx(a, 0, 0, "");
    free(a);
}

Test(answer, exchange_escapes)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 1);
    static const unsigned char lab1[] = {'a', '.', 'B', '\\', 'c'};
    static const unsigned char lab2[] = {0x01, ' ', 0xFF, 0x7F, '_'};
    put8(&P, sizeof lab1);
    putbytes(&P, lab1, sizeof lab1);
    put8(&P, sizeof lab2);
    putbytes(&P, lab2, sizeof lab2);
    put_name(&P, "test");
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_assert_eq(a->count, 1);
    expect_mx(a, 0, 1, "a\\.b\\\\c.\\001\\032\\255\\127_.test");
    free(a);
}

/* ---- PTR ---- */

static void rr_ptr(struct pkt *p, const char *owner, uint32_t ttl, const char *target)
{
    if (owner)
        put_name(p, owner);
    else
        put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_PTR, ttl);
    put_name(p, target);
    rr_end(p, at);
}

Test(answer, ptr_records)
{
    const char *q = "4.3.2.1.in-addr.arpa";
    start(&P, 0, 4, q, MX_T_PTR);
    rr_ptr(&P, NULL, 300, "Mail.Example.COM");
    rr_ptr(&P, "4.3.2.1.IN-ADDR.arpa", 200, "e3.example.com");
    rr_cname(&P, "other.test", 60, "x.test"); /* another owner's record: ignored */
    /* a compressed target: "mx" + pointer to the question's "arpa" label */
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_PTR, 300);
    put_labels(&P, "mx");
    put_ptr(&P, QNAME_OFF + 16);
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, q, MX_T_PTR);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_eq(a->ttl, 200);
    cr_assert_eq(a->count, 3);
    struct mx_rdata rd;
    size_t off = 0;
    static const char *const want[] = {"mail.example.com", "e3.example.com", "mx.arpa"};
    for (unsigned i = 0; i < 3; i++) {
        cr_assert(mx_answer_next(a, &off, &rd));
        cr_expect_str_eq(rd.name, want[i]);
    }
    cr_expect(!mx_answer_next(a, &off, &rd));
    free(a);
}

Test(answer, ptr_target_past_rdlength_is_formerr)
{
    start(&P, 0, 1, "4.3.2.1.in-addr.arpa", MX_T_PTR);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_PTR, 60);
    put_name(&P, "mail.example.com");
    P.b[at + 1] = (unsigned char)(P.b[at + 1] - 3);
    struct mx_answer *a = parse(&P, "4.3.2.1.in-addr.arpa", MX_T_PTR);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, ptr_builder)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_PTR, 60, false);
    cr_assert(mx_answer_add_ptr(&a, "a.example"));
    cr_assert(mx_answer_add_ptr(&a, "b.example"));
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 1, &rd));
    cr_expect_str_eq(rd.name, "b.example");
    cr_expect_eq(a->count, 2);
    free(a);
}

/* Names from SPF macros may hold any octet (%_ is a space): the query was
 * built by ares_create_query, which takes a backslash as "next byte
 * literally"; the answer for it must be recognised. */
Test(answer, qname_with_odd_octets)
{
    const char *wire = "macro%percent  space%20url-space.example.com";
    start(&P, 0, 2, wire, MX_T_A);
    rr_a(&P, NULL, 60, 192, 0, 2, 4);
    rr_a(&P, wire, 60, 192, 0, 2, 5); /* owner written out, not a pointer */
    struct mx_answer *a = parse(&P, wire, MX_T_A);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_eq(a->count, 2);
    free(a);
    /* a backslash in a label: "\\" in the asked name */
    start(&P, 0, 1, "a\\b.example.com", MX_T_A);
    rr_a(&P, NULL, 60, 192, 0, 2, 6);
    a = parse(&P, "a\\\\b.example.com", MX_T_A);
    cr_expect_eq(a->count, 1);
    free(a);
    /* "\\." is a dot inside a label, not a label boundary */
    start(&P, 0, 1, "x.example.com", MX_T_A);
    rr_a(&P, NULL, 60, 192, 0, 2, 7);
    a = parse(&P, "x\\.example.com", MX_T_A);
    cr_expect_eq(a->count, 0, "x\\.example.com is one label, not two");
    free(a);
    /* a different name with odd octets is still foreign */
    start(&P, 0, 1, "a b.example.com", MX_T_A);
    rr_a(&P, NULL, 60, 192, 0, 2, 8);
    a = parse(&P, "a  b.example.com", MX_T_A);
    cr_expect_eq(a->count, 0);
    free(a);
}

/* The exchange ends after the record's rdlength: malformed. */
Test(answer, mx_name_past_rdlength_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 1);
    put_name(&P, "mx.example.test");
    rr_end(&P, at);
    /* claim 2 bytes fewer than the name takes, then pad with 2 bytes of "next data" */
    unsigned l = (unsigned)(P.b[at] << 8 | P.b[at + 1]) - 2;
    P.b[at] = (unsigned char)(l >> 8);
    P.b[at + 1] = (unsigned char)l;
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, mx_rdata_too_short_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 1);
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

/* ---- CNAME ---- */

Test(answer, cname_chain_keeps_only_target_records)
{
    start(&P, 0, 7, "www.example.test", MX_T_A);
    /* out of order on purpose: the target's records first, the chain reversed */
    rr_a(&P, "target.example.org", 50, 192, 0, 2, 1);
    rr_a(&P, "alias.example.net", 10, 192, 0, 2, 99); /* not the end of the chain */
    rr_cname(&P, "alias.example.net", 30, "Target.Example.ORG");
    rr_a(&P, "other.example.test", 5, 192, 0, 2, 98); /* foreign */
    rr_cname(&P, NULL, 40, "alias.example.net");
    rr_a(&P, "target.example.org", 70, 192, 0, 2, 2);
    put8(&P, 0); /* root owner, CNAME: foreign */
    size_t at = rr_start(&P, MX_T_CNAME, 1);
    put_name(&P, "elsewhere.test");
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "www.example.test", MX_T_A);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect(a->cname);
    cr_assert_eq(a->count, 2);
    cr_expect_eq(a->ttl, 50, "ttl %u: the target RRset's minimum", a->ttl);
    expect_a(a, 0, "192.0.2.1");
    expect_a(a, 1, "192.0.2.2");
    free(a);
}

Test(answer, cname_to_nothing)
{
    start(&P, 0, 1, "www.example.test", MX_T_MX);
    rr_cname(&P, NULL, 40, "gone.example.net");
    struct mx_answer *a = parse(&P, "www.example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect(a->cname);
    cr_expect_eq(a->count, 0);
    cr_expect_eq(a->ttl, 0);
    cr_expect(mx_answer_nodata(a));
    free(a);
}

Test(answer, cname_loop_terminates)
{
    start(&P, 0, 2, "a.example.test", MX_T_A);
    rr_cname(&P, "a.example.test", 40, "b.example.test");
    rr_cname(&P, "b.example.test", 40, "a.example.test");
    struct mx_answer *a = parse(&P, "a.example.test", MX_T_A);
    cr_expect(a->cname);
    cr_expect_eq(a->count, 0);
    free(a);
}

Test(answer, cname_target_loop_is_formerr)
{
    start(&P, 0, 1, "www.example.test", MX_T_A);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_CNAME, 40);
    put_ptr(&P, P.n); /* points at itself */
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "www.example.test", MX_T_A);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

/* ---- rcodes ---- */

struct rccase {
    unsigned rcode;
    enum mx_rc want;
};

Test(answer, rcodes)
{
    static const struct rccase cases[] = {
        {0, MX_RC_NOERROR}, {1, MX_RC_FORMERR}, {2, MX_RC_SERVFAIL}, {3, MX_RC_NXDOMAIN},
        {4, MX_RC_OTHER},   {5, MX_RC_REFUSED}, {9, MX_RC_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        start(&P, cases[i].rcode, 0, "example.test", MX_T_MX);
        struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
        cr_expect_eq(a->rc, cases[i].want, "rcode %u: got %s, want %s", cases[i].rcode,
                     mx_rc_name(a->rc), mx_rc_name(cases[i].want));
        cr_expect_eq(a->count, 0);
        free(a);
    }
}

Test(answer, nxdomain_with_cname)
{
    start(&P, 3, 1, "www.example.test", MX_T_MX);
    rr_cname(&P, NULL, 40, "gone.example.net");
    struct mx_answer *a = parse(&P, "www.example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NXDOMAIN);
    cr_expect(a->cname);
    cr_expect_eq(a->count, 0);
    cr_expect_not(mx_answer_nodata(a));
    free(a);
}

Test(answer, rc_names)
{
    cr_expect_str_eq(mx_rc_name(MX_RC_NOERROR), "NOERROR");
    cr_expect_str_eq(mx_rc_name(MX_RC_TIMEOUT), "TIMEOUT");
    cr_expect_str_eq(mx_rc_name(MX_RC_FORMERR), "FORMERR");
    cr_expect_str_eq(mx_rc_name((enum mx_rc)99), "OTHER");
}

/* ---- TTL and foreign records ---- */

Test(answer, ttl_is_rrset_minimum)
{
    start(&P, 0, 4, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 300, 10, "a.example.test");
    rr_mx(&P, NULL, 100, 20, "b.example.test");
    rr_mx(&P, "other.test", 5, 30, "c.example.test"); /* foreign: its TTL does not count */
    rr_mx(&P, NULL, 200, 30, "c.example.test");
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->count, 3);
    cr_expect_eq(a->ttl, 100);
    free(a);
}

Test(answer, ttl_with_high_bit_is_zero)
{
    start(&P, 0, 2, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 0x80000000u, 10, "a.example.test");
    rr_mx(&P, NULL, 0xFFFFFFFFu, 20, "b.example.test");
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->count, 2);
    cr_expect_eq(a->ttl, 0); /* RFC 2181 section 8 */
    free(a);
}

Test(answer, foreign_records_ignored)
{
    start(&P, 0, 5, "example.test", MX_T_MX);
    rr_mx(&P, "sub.example.test", 60, 1, "evil.example.test");
    rr_a(&P, NULL, 60, 192, 0, 2, 1);          /* other type at the qname */
    rr_mx(&P, "example.test.evil", 60, 2, "evil2.example.test");
    rr_mx(&P, NULL, 60, 3, "good.example.test");
    rr_cname(&P, "unrelated.test", 60, "x.test"); /* a CNAME not on the chain */
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_not(a->cname);
    cr_assert_eq(a->count, 1);
    expect_mx(a, 0, 3, "good.example.test");
    free(a);
}

Test(answer, authority_and_additional_ignored)
{
    header(&P, QR | RD | RA, 1, 1, 1, 1);
    put_name(&P, "example.test");
    put16(&P, MX_T_MX);
    put16(&P, 1);
    rr_mx(&P, NULL, 60, 1, "mx.example.test");
    rr_mx(&P, NULL, 60, 2, "authority.example.test");
    rr_a(&P, "mx.example.test", 60, 192, 0, 2, 1);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_assert_eq(a->count, 1);
    expect_mx(a, 0, 1, "mx.example.test");
    free(a);
}

/* ---- malformed ---- */

Test(answer, every_truncation_is_formerr)
{
    start(&P, 0, 2, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 60, 10, "mx1.example.test");
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 20);
    put_labels(&P, "mx2");
    put_ptr(&P, QNAME_OFF);
    rr_end(&P, at);
    struct mx_answer *full = parse(&P, "example.test", MX_T_MX);
    cr_assert_eq(full->rc, MX_RC_NOERROR);
    cr_assert_eq(full->count, 2);
    free(full);
    for (size_t len = 0; len < P.n; len++) {
        /* a copy of exactly len bytes, so ASan sees any read past it */
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, P.b, len);
        struct mx_answer *a = mx_answer_from_wire(cut, len, "example.test", MX_T_MX);
        cr_assert_not_null(a);
        cr_expect_eq(a->rc, MX_RC_FORMERR, "cut at %zu of %zu: %s", len, P.n, mx_rc_name(a->rc));
        free(a);
        free(cut);
    }
}

Test(answer, not_a_response_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    rr_mx(&P, NULL, 60, 10, "mx.example.test");
    P.b[2] &= 0x7F; /* clear QR */
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    cr_expect_eq(a->count, 0);
    free(a);
}

Test(answer, compression_loop_in_exchange_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 10);
    size_t here = P.n;
    put_labels(&P, "mx");
    put_ptr(&P, here); /* "mx" then back to "mx" ... */
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, compression_loop_in_owner_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    size_t here = P.n;
    put_ptr(&P, here); /* the owner points at itself */
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 10);
    put_name(&P, "mx.example.test");
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, pointer_past_end_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_MX);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_MX, 60);
    put16(&P, 10);
    put_ptr(&P, 0x3FFF);
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, bad_rdlength_for_a_is_formerr)
{
    static const unsigned lens[] = {0, 3, 5, 16};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        start(&P, 0, 1, "example.test", MX_T_A);
        put_ptr(&P, QNAME_OFF);
        size_t at = rr_start(&P, MX_T_A, 60);
        for (unsigned i = 0; i < lens[k]; i++)
            put8(&P, i + 1);
        rr_end(&P, at);
        struct mx_answer *a = parse(&P, "example.test", MX_T_A);
        cr_expect_eq(a->rc, MX_RC_FORMERR, "rdlength %u", lens[k]);
        free(a);
    }
}

Test(answer, aaaa_records)
{
    start(&P, 0, 2, "example.test", MX_T_AAAA);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_AAAA, 60);
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    putbytes(&P, v6, 16);
    rr_end(&P, at);
    put_ptr(&P, QNAME_OFF);
    at = rr_start(&P, MX_T_AAAA, 60);
    putbytes(&P, v6, 4); /* short: malformed */
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_AAAA);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
    P.n -= 2 + 4 + 10; /* drop the bad record */
    P.b[7] = 1;
    a = parse(&P, "example.test", MX_T_AAAA);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_assert_eq(a->count, 1);
    expect_a(a, 0, "2001:db8::1");
    free(a);
}

Test(answer, short_header_is_formerr)
{
    static const unsigned char b[11] = {0x12, 0x34, 0x81, 0x80};
    struct mx_answer *a = mx_answer_from_wire(b, sizeof b, "example.test", MX_T_MX);
    cr_assert_not_null(a);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
    a = mx_answer_from_wire(b, 0, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

/* ---- TXT ---- */

Test(answer, txt_strings_joined_without_separator)
{
    start(&P, 0, 2, "example.test", MX_T_TXT);
    const char *s1[] = {"v=spf1 ", "include:_spf.example.test", " -all"};
    const size_t l1[] = {7, 25, 5};
    rr_txt(&P, 300, s1, l1, 3);
    const char *s2[] = {"", "x"};
    const size_t l2[] = {0, 1};
    rr_txt(&P, 200, s2, l2, 2);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_assert_eq(a->count, 2);
    cr_expect_eq(a->ttl, 200);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 37);
    cr_expect(memcmp(rd.txt, "v=spf1 include:_spf.example.test -all", 37) == 0);
    cr_expect_eq(rd.txt[rd.txt_len], 0, "kept NUL-terminated");
    cr_assert(mx_answer_get(a, 1, &rd));
    cr_expect_eq(rd.txt_len, 1);
    cr_expect_eq(rd.txt[0], 'x');
    free(a);
}

Test(answer, txt_with_nul_byte)
{
    start(&P, 0, 1, "example.test", MX_T_TXT);
    const char *s[] = {"a\0b", "\0"};
    const size_t l[] = {3, 1};
    rr_txt(&P, 300, s, l, 2);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_assert_eq(a->count, 1);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 4);
    cr_expect(memcmp(rd.txt, "a\0b\0", 4) == 0);
    free(a);
}

Test(answer, txt_empty_rdata)
{
    start(&P, 0, 1, "example.test", MX_T_TXT);
    rr_txt(&P, 300, NULL, NULL, 0);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_assert_eq(a->count, 1);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 0);
    free(a);
}

Test(answer, txt_string_past_rdlength_is_formerr)
{
    start(&P, 0, 1, "example.test", MX_T_TXT);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_TXT, 60);
    put8(&P, 10); /* says 10, has 3 */
    putbytes(&P, "abc", 3);
    rr_end(&P, at);
    put8(&P, 0); /* a trailing byte, so the string's claim stays inside the packet */
    putbytes(&P, "0123456789", 10);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_FORMERR);
    free(a);
}

Test(answer, txt_16k_sets_truncated)
{
    start(&P, 0, 2, "example.test", MX_T_TXT);
    const char *small[] = {"v=spf1 -all"};
    const size_t sl[] = {11};
    rr_txt(&P, 300, small, sl, 1);
    /* one record of 66 strings of 255 bytes (16830 bytes of text) */
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_TXT, 300);
    char chunk[255];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 66; i++) {
        put8(&P, 255);
        putbytes(&P, chunk, 255);
    }
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect(a->truncated);
    cr_expect_leq(a->size, MX_ANSWER_MAX);
    cr_expect_leq(a->size, a->cap);
    cr_expect_geq(a->count, 1);
    /* what is kept is well-formed: the iteration sees exactly count records */
    size_t off = 0;
    unsigned n = 0;
    struct mx_rdata rd;
    while (mx_answer_next(a, &off, &rd)) {
        cr_assert_leq(off, a->size);
        n++;
    }
    cr_expect_eq(n, a->count);
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 11);
    free(a);
}

/* A TXT record of 66 strings of 255 bytes: more than an answer keeps. */
static void put_big_txt(char fill)
{
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_TXT, 300);
    char chunk[255];
    memset(chunk, fill, sizeof chunk);
    for (int i = 0; i < 66; i++) {
        put8(&P, 255);
        putbytes(&P, chunk, 255);
    }
    rr_end(&P, at);
}

Test(answer, txt_too_big_is_not_nodata)
{
    start(&P, 0, 1, "example.test", MX_T_TXT);
    put_big_txt('y');
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_eq(a->count, 0);
    cr_expect(a->truncated);
    /* records exist: no NODATA, no void look-up for SPF */
    cr_expect_not(mx_answer_nodata(a));
    cr_expect_not(mx_answer_void(a));
    free(a);
}

Test(answer, txt_policy_records_kept_first)
{
    /* 5 records of 4,000 bytes of other text, then the SPF record last:
     * the SPF record is kept although the others do not all fit */
    start(&P, 0, 6, "example.test", MX_T_TXT);
    static char junk[4000];
    memset(junk, 'j', sizeof junk);
    for (int r = 0; r < 5; r++) {
        put_ptr(&P, QNAME_OFF);
        size_t at = rr_start(&P, MX_T_TXT, 300);
        for (int i = 0; i < 16; i++) {
            put8(&P, 250);
            putbytes(&P, junk, 250);
        }
        rr_end(&P, at);
    }
    const char *spf[] = {"v=spf1 -all"};
    const size_t sl[] = {11};
    rr_txt(&P, 300, spf, sl, 1);
    struct mx_answer *a = parse(&P, "example.test", MX_T_TXT);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect(a->truncated);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 11);
    cr_expect(memcmp(rd.txt, "v=spf1 -all", 11) == 0);
    cr_expect_eq(a->count, 5); /* the SPF record and 4 of the 5 others */
    free(a);
}

/* ---- builder, iteration, failure ---- */

Test(answer, failure_answer)
{
    struct mx_answer *a = mx_answer_failure(MX_RC_TIMEOUT, MX_T_AAAA);
    cr_assert_not_null(a);
    cr_expect_eq(a->rc, MX_RC_TIMEOUT);
    cr_expect_eq(a->qtype, MX_T_AAAA);
    cr_expect_eq(a->count, 0);
    cr_expect_eq(a->ttl, 0);
    cr_expect_not(a->cname);
    cr_expect_not(a->truncated);
    cr_expect_not(mx_answer_nodata(a));
    struct mx_rdata rd;
    size_t off = 0;
    cr_expect_not(mx_answer_next(a, &off, &rd));
    cr_expect_not(mx_answer_get(a, 0, &rd));
    free(a);
}

Test(answer, builder_get_and_next)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_MX, 77, false);
    cr_assert_not_null(a);
    char name[64];
    for (unsigned i = 0; i < 100; i++) { /* past the initial capacity: realloc */
        snprintf(name, sizeof name, "mx%u.example.test", i);
        cr_assert(mx_answer_add_mx(&a, (uint16_t)i, name));
    }
    cr_expect_eq(a->count, 100);
    cr_expect_eq(a->ttl, 77);
    size_t off = 0;
    unsigned i = 0;
    struct mx_rdata rd;
    while (mx_answer_next(a, &off, &rd)) {
        snprintf(name, sizeof name, "mx%u.example.test", i);
        cr_expect_eq(rd.pref, i);
        cr_expect_str_eq(rd.name, name);
        i++;
    }
    cr_expect_eq(i, 100);
    cr_assert(mx_answer_get(a, 42, &rd));
    cr_expect_str_eq(rd.name, "mx42.example.test");
    cr_expect_not(mx_answer_get(a, 100, &rd));
    free(a);
}

Test(answer, builder_ip_and_txt)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_A, 5, true);
    struct mx_ip ip4, ip6;
    cr_assert(mx_ip_parse("192.0.2.7", &ip4));
    cr_assert(mx_ip_parse("2001:db8::7", &ip6));
    cr_assert(mx_answer_add_ip(&a, &ip4));
    cr_assert(mx_answer_add_ip(&a, &ip6));
    cr_expect(a->cname);
    expect_a(a, 0, "192.0.2.7");
    expect_a(a, 1, "2001:db8::7");
    free(a);

    a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 5, false);
    cr_assert(mx_answer_add_txt(&a, "x\0y", 3));
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.txt_len, 3);
    cr_expect(memcmp(rd.txt, "x\0y", 3) == 0);
    free(a);
}

Test(answer, builder_stops_at_max)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 5, false);
    static char big[4000];
    memset(big, 'z', sizeof big);
    unsigned added = 0;
    for (int i = 0; i < 10; i++)
        if (mx_answer_add_txt(&a, big, sizeof big))
            added++;
    cr_expect_eq(added, 4); /* 4 * 4003 fits in 16384, 5 do not */
    cr_expect_eq(a->count, 4);
    cr_expect(a->truncated);
    cr_expect_leq(a->size, MX_ANSWER_MAX);
    cr_expect_leq(a->cap, MX_ANSWER_MAX);
    free(a);
}

/* ---- mx_wire_name ---- */

Test(wire_name, plain_pointer_and_root)
{
    struct pkt *p = &P;
    p->n = 0;
    put_name(p, "Mail.Example.Test"); /* 0 .. 18 */
    size_t second = p->n;
    put_labels(p, "a");
    put_ptr(p, 5); /* "example.test" */
    size_t root = p->n;
    put8(p, 0);
    char out[256];
    size_t off = 0;
    cr_assert(mx_wire_name(p->b, p->n, &off, out, sizeof out));
    cr_expect_str_eq(out, "mail.example.test");
    cr_expect_eq(off, second);
    off = second;
    cr_assert(mx_wire_name(p->b, p->n, &off, out, sizeof out));
    cr_expect_str_eq(out, "a.example.test");
    cr_expect_eq(off, root, "advanced past the pointer, not the target");
    off = root;
    cr_assert(mx_wire_name(p->b, p->n, &off, out, sizeof out));
    cr_expect_str_eq(out, "");
    cr_expect_eq(off, root + 1);
}

Test(wire_name, output_too_small)
{
    P.n = 0;
    put_name(&P, "abc.de"); /* "abc.de" needs 7 bytes */
    char out[16];
    size_t off = 0;
    cr_expect_not(mx_wire_name(P.b, P.n, &off, out, 6));
    cr_expect_eq(off, 0, "offset untouched on failure");
    cr_expect(mx_wire_name(P.b, P.n, &off, out, 7));
    cr_expect_str_eq(out, "abc.de");
    off = 0;
    cr_expect_not(mx_wire_name(P.b, P.n, &off, out, 0));
}

Test(wire_name, too_long_and_bad_labels)
{
    char out[1024];
    size_t off = 0;
    /* 4 labels of 63 + terminator = 257 wire bytes: too long */
    P.n = 0;
    char l63[63];
    memset(l63, 'a', sizeof l63);
    for (int i = 0; i < 4; i++) {
        put8(&P, 63);
        putbytes(&P, l63, 63);
    }
    put8(&P, 0);
    cr_expect_not(mx_wire_name(P.b, P.n, &off, out, sizeof out));
    /* 3 labels of 63 + one of 61: 255 bytes, the maximum */
    P.n = 0;
    for (int i = 0; i < 3; i++) {
        put8(&P, 63);
        putbytes(&P, l63, 63);
    }
    put8(&P, 61);
    putbytes(&P, l63, 61);
    put8(&P, 0);
    off = 0;
    cr_expect(mx_wire_name(P.b, P.n, &off, out, sizeof out));
    cr_expect_eq(strlen(out), 253);
    /* 3 labels of 63 + one of 62: 256 bytes, one too many */
    P.n = 0;
    for (int i = 0; i < 3; i++) {
        put8(&P, 63);
        putbytes(&P, l63, 63);
    }
    put8(&P, 62);
    putbytes(&P, l63, 62);
    put8(&P, 0);
    off = 0;
    cr_expect_not(mx_wire_name(P.b, P.n, &off, out, sizeof out));
    /* extended label types 0x40, 0x80 */
    static const unsigned char ext1[] = {0x41, 'a', 0};
    static const unsigned char ext2[] = {0x81, 'a', 0};
    off = 0;
    cr_expect_not(mx_wire_name(ext1, sizeof ext1, &off, out, sizeof out));
    off = 0;
    cr_expect_not(mx_wire_name(ext2, sizeof ext2, &off, out, sizeof out));
    /* label running past the end, missing terminator, half a pointer */
    static const unsigned char past[] = {5, 'a', 'b'};
    static const unsigned char noterm[] = {1, 'a'};
    static const unsigned char halfptr[] = {1, 'a', 0xC0};
    off = 0;
    cr_expect_not(mx_wire_name(past, sizeof past, &off, out, sizeof out));
    off = 0;
    cr_expect_not(mx_wire_name(noterm, sizeof noterm, &off, out, sizeof out));
    off = 0;
    cr_expect_not(mx_wire_name(halfptr, sizeof halfptr, &off, out, sizeof out));
    off = 5;
    cr_expect_not(mx_wire_name(past, sizeof past, &off, out, sizeof out));
}

Test(wire_name, pointer_loops)
{
    char out[1024];
    /* two pointers pointing at each other */
    static const unsigned char two[] = {0xC0, 2, 0xC0, 0};
    size_t off = 0;
    cr_expect_not(mx_wire_name(two, sizeof two, &off, out, sizeof out));
    /* a label then a pointer back to it: grows until too long, or loops */
    static const unsigned char grow[] = {1, 'a', 0xC0, 0};
    off = 0;
    cr_expect_not(mx_wire_name(grow, sizeof grow, &off, out, sizeof out));
}

/* ---- NS, SOA and the AA bit (authoritative consistency, issue 15) ---- */

static void rr_soa(struct pkt *p, uint32_t ttl, const char *mname, const char *rname,
                   uint32_t serial)
{
    put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_SOA, ttl);
    put_name(p, mname);
    put_name(p, rname);
    put32(p, serial);
    put32(p, 3600);
    put32(p, 600);
    put32(p, 86400);
    put32(p, 300);
    rr_end(p, at);
}

Test(answer, ns_records)
{
    start(&P, 0, 2, "example.test", MX_T_NS);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_NS, 600);
    put_name(&P, "NS1.Example.TEST");
    rr_end(&P, at);
    put_ptr(&P, QNAME_OFF);
    at = rr_start(&P, MX_T_NS, 300);
    put_labels(&P, "ns2");
    put_ptr(&P, QNAME_OFF);
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_NS);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_eq(a->ttl, 300);
    cr_assert_eq(a->count, 2);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_str_eq(rd.name, "ns1.example.test");
    cr_assert(mx_answer_get(a, 1, &rd));
    cr_expect_str_eq(rd.name, "ns2.example.test");
    cr_expect_not(a->aa, "RD|RA response without AA");
    free(a);
}

Test(answer, soa_record_serial_and_aa)
{
    header(&P, QR | 0x0400u, 1, 1, 0, 0);
    put_name(&P, "example.test");
    put16(&P, MX_T_SOA);
    put16(&P, 1);
    rr_soa(&P, 900, "ns1.example.test", "hostmaster.example.test", 4000000001u);
    struct mx_answer *a = parse(&P, "example.test", MX_T_SOA);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect(a->aa);
    cr_expect_eq(a->ttl, 900);
    cr_assert_eq(a->count, 1);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.serial, 4000000001u);
    cr_expect_str_eq(rd.name, "ns1.example.test");
    free(a);
}

Test(answer, soa_bad_rdlength_is_formerr)
{
    for (int delta = -1; delta <= 1; delta += 2) {
        start(&P, 0, 1, "example.test", MX_T_SOA);
        put_ptr(&P, QNAME_OFF);
        size_t at = rr_start(&P, MX_T_SOA, 900);
        put_name(&P, "ns1.example.test");
        put_name(&P, "hostmaster.example.test");
        for (int i = 0; i < 5; i++)
            put32(&P, 7);
        if (delta > 0)
            put8(&P, 0); /* a stray byte inside the rdata */
        rr_end(&P, at);
        if (delta < 0) {
            P.b[at + 1] = (unsigned char)(P.b[at + 1] - 1); /* the last byte outside */
        }
        struct mx_answer *a = mx_answer_from_wire(P.b, P.n, "example.test", MX_T_SOA);
        cr_assert_not_null(a);
        cr_expect_eq(a->rc, MX_RC_FORMERR, "rdlength off by %d", delta);
        free(a);
    }
}

Test(answer, referral_without_aa_is_nodata_not_aa)
{
    /* a referral: no answer records, NS in the authority section */
    header(&P, QR, 1, 0, 1, 0);
    put_name(&P, "example.test");
    put16(&P, MX_T_MX);
    put16(&P, 1);
    put_ptr(&P, QNAME_OFF);
    size_t at = rr_start(&P, MX_T_NS, 300);
    put_name(&P, "ns.elsewhere.test");
    rr_end(&P, at);
    struct mx_answer *a = parse(&P, "example.test", MX_T_MX);
    cr_expect_eq(a->rc, MX_RC_NOERROR);
    cr_expect_not(a->aa);
    cr_expect(mx_answer_nodata(a));
    free(a);
}

Test(answer, ns_and_soa_builders)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_SOA, 60, false);
    cr_assert(mx_answer_add_soa(&a, "ns.example.test", 2024060101u));
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_expect_eq(rd.serial, 2024060101u);
    cr_expect_str_eq(rd.name, "ns.example.test");
    free(a);
    a = mx_answer_new(MX_RC_NOERROR, MX_T_NS, 60, false);
    cr_assert(mx_answer_add_ns(&a, "a.ns.test"));
    cr_assert(mx_answer_add_ns(&a, "b.ns.test"));
    cr_assert_eq(a->count, 2);
    cr_assert(mx_answer_get(a, 1, &rd));
    cr_expect_str_eq(rd.name, "b.ns.test");
    free(a);
}

/* ---- DNSSEC: the AD bit, TLSA rdata, the CNAME-expanded name ---- */

#define AD 0x0020u

static void rr_tlsa(struct pkt *p, const char *owner, uint32_t ttl, unsigned usage, unsigned sel,
                    unsigned mt, const unsigned char *data, size_t n)
{
    if (owner)
        put_name(p, owner);
    else
        put_ptr(p, QNAME_OFF);
    size_t at = rr_start(p, MX_T_TLSA, ttl);
    put8(p, usage);
    put8(p, sel);
    put8(p, mt);
    putbytes(p, data, n);
    rr_end(p, at);
}

Test(answer, ad_bit_recorded)
{
    header(&P, QR | RD | RA | AD, 1, 1, 0, 0);
    put_name(&P, "mx.example.test");
    put16(&P, MX_T_A);
    put16(&P, 1);
    rr_a(&P, NULL, 300, 192, 0, 2, 1);
    struct mx_answer *a = parse(&P, "mx.example.test", MX_T_A);
    cr_expect(a->ad);
    free(a);
    start(&P, 0, 1, "mx.example.test", MX_T_A);
    rr_a(&P, NULL, 300, 192, 0, 2, 1);
    a = parse(&P, "mx.example.test", MX_T_A);
    cr_expect_not(a->ad);
    free(a);
    /* a validated NXDOMAIN keeps the bit too */
    header(&P, QR | RD | RA | AD | 3, 1, 0, 0, 0);
    put_name(&P, "_25._tcp.mx.example.test");
    put16(&P, MX_T_TLSA);
    put16(&P, 1);
    a = parse(&P, "_25._tcp.mx.example.test", MX_T_TLSA);
    cr_expect_eq(a->rc, MX_RC_NXDOMAIN);
    cr_expect(a->ad);
    free(a);
}

Test(answer, tlsa_records_kept_raw)
{
    unsigned char h[32], big[300];
    for (unsigned i = 0; i < sizeof h; i++)
        h[i] = (unsigned char)(i * 7);
    memset(big, 0xAB, sizeof big);
    header(&P, QR | RD | RA | AD, 1, 3, 0, 0);
    put_name(&P, "_25._tcp.mx.example.test");
    put16(&P, MX_T_TLSA);
    put16(&P, 1);
    rr_tlsa(&P, NULL, 3600, 3, 1, 1, h, sizeof h);
    rr_tlsa(&P, NULL, 1800, 2, 0, 0, big, sizeof big);
    rr_tlsa(&P, "_25._tcp.other.example.test", 60, 3, 1, 1, h, sizeof h); /* foreign */
    struct mx_answer *a = parse(&P, "_25._tcp.mx.example.test", MX_T_TLSA);
    cr_expect(a->ad);
    cr_assert_eq(a->count, 2);
    cr_expect_eq(a->ttl, 1800);
    struct mx_rdata rd;
    cr_assert(mx_answer_get(a, 0, &rd));
    cr_assert_eq(rd.raw_len, 3 + sizeof h);
    cr_expect_eq(rd.raw[0], 3);
    cr_expect_eq(rd.raw[1], 1);
    cr_expect_eq(rd.raw[2], 1);
    cr_expect_arr_eq(rd.raw + 3, h, sizeof h);
    cr_assert(mx_answer_get(a, 1, &rd));
    cr_assert_eq(rd.raw_len, 3 + sizeof big);
    cr_expect_eq(rd.raw[0], 2);
    cr_expect_arr_eq(rd.raw + 3, big, sizeof big);
    cr_expect_null(mx_answer_target(a));
    free(a);
}

Test(answer, cname_target_kept)
{
    unsigned char h[32] = {1, 2, 3};
    header(&P, QR | RD | RA | AD, 1, 3, 0, 0);
    put_name(&P, "_25._tcp.mx.example.test");
    put16(&P, MX_T_TLSA);
    put16(&P, 1);
    rr_cname(&P, NULL, 300, "_25._tcp.Mid.example.test");
    rr_cname(&P, "_25._tcp.mid.example.test", 300, "_25._tcp.host.provider.test");
    rr_tlsa(&P, "_25._tcp.host.provider.test", 600, 3, 1, 1, h, sizeof h);
    struct mx_answer *a = parse(&P, "_25._tcp.mx.example.test", MX_T_TLSA);
    cr_expect(a->cname);
    cr_assert_eq(a->count, 1);
    cr_assert_not_null(mx_answer_target(a));
    cr_expect_str_eq(mx_answer_target(a), "_25._tcp.host.provider.test");
    free(a);
    /* addresses through a CNAME: the expanded name is the TLSA base candidate */
    start(&P, 0, 2, "mx.example.test", MX_T_A);
    rr_cname(&P, NULL, 300, "smtp.provider.test");
    rr_a(&P, "smtp.provider.test", 300, 192, 0, 2, 9);
    a = parse(&P, "mx.example.test", MX_T_A);
    cr_expect_str_eq(mx_answer_target(a), "smtp.provider.test");
    expect_a(a, 0, "192.0.2.9");
    free(a);
}

Test(answer, target_survives_records_added_after_it)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_TXT, 60, true);
    cr_assert(mx_answer_set_target(&a, "alias.example.test"));
    char txt[200];
    memset(txt, 'x', sizeof txt);
    for (int i = 0; i < 40; i++) /* forces reallocations */
        cr_assert(mx_answer_add_txt(&a, txt, sizeof txt));
    cr_expect_eq(a->count, 40);
    cr_expect_str_eq(mx_answer_target(a), "alias.example.test");
    size_t off = 0;
    struct mx_rdata rd;
    unsigned n = 0;
    while (mx_answer_next(a, &off, &rd)) {
        cr_expect_eq(rd.txt_len, sizeof txt);
        n++;
    }
    cr_expect_eq(n, 40);
    cr_assert(mx_answer_set_target(&a, "b.test")); /* replaced, shorter */
    cr_expect_str_eq(mx_answer_target(a), "b.test");
    free(a);
}
