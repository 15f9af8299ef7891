/* One DNS look-up's outcome, as the scanner keeps it: the rcode class, the
 * TTL of the asked RRset, whether the answer went through a CNAME, and the
 * records of the asked type in answer order. Built by the wire reader
 * (mx_answer_from_wire) or, in tests, by mx_answer_build_*. */
#ifndef MX_ANSWER_H
#define MX_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"
#include "mx/mx.h"

#define MX_T_A 1
#define MX_T_NS 2
#define MX_T_CNAME 5
#define MX_T_SOA 6
#define MX_T_PTR 12
#define MX_T_MX 15
#define MX_T_TXT 16
#define MX_T_AAAA 28
#define MX_T_TLSA 52

/* X(ENUM, name): the outcome of one query, also the CSV `status` values. */
#define MX_RC_MAP(X)       \
    X(NOERROR, "NOERROR")   \
    X(NXDOMAIN, "NXDOMAIN") \
    X(SERVFAIL, "SERVFAIL") \
    X(REFUSED, "REFUSED")   \
    X(TIMEOUT, "TIMEOUT")   \
    X(INVALID, "INVALID")   \
    X(FORMERR, "FORMERR")   \
    X(OTHER, "OTHER")

enum mx_rc {
#define X(e, n) MX_RC_##e,
    MX_RC_MAP(X)
#undef X
    MX_RC_COUNT
};
const char *mx_rc_name(enum mx_rc rc);

struct mx_rdata {
    uint16_t pref;       /* MX */
    uint32_t serial;     /* SOA */
    const char *name;    /* MX exchange, PTR and NS target, SOA MNAME: presentation
                            form, lowercased,
                            no trailing dot, "" for the root; "." and "\\" in a label
                            escaped with a backslash, other bytes outside
                            %x21-7E as \DDD (see mx_wire_name) */
    struct mx_ip ip;     /* A, AAAA */
    const char *txt;     /* TXT: the character-strings joined without separator */
    size_t txt_len;      /* may contain NUL bytes */
    const unsigned char *raw; /* TLSA: the rdata as on the wire */
    size_t raw_len;
};

struct mx_answer {
    enum mx_rc rc;
    uint16_t qtype;
    bool cname;          /* the answer followed at least one CNAME from the qname */
    bool truncated;      /* more data than the scanner keeps (MX_ANSWER_MAX) */
    bool aa;             /* the response had the AA bit (authoritative answer) */
    bool ad;             /* the response's AD bit: the resolver validated every
                            record of the answer with DNSSEC (RFC 4035 3.2.3); a
                            validating resolver reports it when the query had AD
                            or DO set (RFC 6840 5.7, mx_dns_build_query_flags) */
    uint16_t target_len; /* length of the CNAME-expanded name (see
                            mx_answer_target), 0 when none is kept */
    uint32_t ttl;        /* smallest TTL of the records of qtype (0 when none) */
    uint16_t count;      /* records of qtype */
    uint32_t size;       /* bytes of records in data[] (the target follows them) */
    uint32_t cap;        /* bytes available in data[] */
    /* serialized records, read with mx_answer_get; aligned for any type,
       since a blob (an engine provider's result struct, mx_answer_blob) is
       read in place */
    _Alignas(max_align_t) unsigned char data[];
};

#define MX_ANSWER_MAX 16384 /* largest data[] kept for one answer */

/* Record i (0 <= i < count). Linear in i; iterate with mx_answer_iter. */
bool mx_answer_get(const struct mx_answer *a, unsigned i, struct mx_rdata *out);
/* Iteration: size_t off = 0; while (mx_answer_next(a, &off, &rd)) ... */
bool mx_answer_next(const struct mx_answer *a, size_t *off, struct mx_rdata *out);
/* The name the CNAME chain from the qname ended at (the "expanded name" of
 * RFC 7672 2.2.2), or NULL when the answer did not go through a CNAME or the
 * name was not kept. Presentation form as mx_wire_name writes it. */
const char *mx_answer_target(const struct mx_answer *a);
/* "NODATA": NOERROR with no record of the asked type (an answer whose
 * records were all too large to keep is not NODATA). */
static inline bool mx_answer_nodata(const struct mx_answer *a)
{
    return a->rc == MX_RC_NOERROR && a->count == 0 && !a->truncated;
}
/* The look-up ended without a DNS answer (SERVFAIL, REFUSED, timeout, a
 * malformed reply ...): it proves nothing either way. */
static inline bool mx_rc_failed(enum mx_rc rc)
{
    return rc != MX_RC_NOERROR && rc != MX_RC_NXDOMAIN;
}
static inline bool mx_answer_failed(const struct mx_answer *a)
{
    return mx_rc_failed(a->rc);
}
/* A void look-up (RFC 7208 4.6.4): the name does not exist, or has no
 * record of the asked type. */
static inline bool mx_answer_void(const struct mx_answer *a)
{
    return a->rc == MX_RC_NXDOMAIN || mx_answer_nodata(a);
}

/* Parses a raw DNS response to a query for (qname, qtype). Malformed input
 * gives rc MX_RC_FORMERR, never a crash. The result is malloc'ed; free().
 * qname is the name as the query was built from it (ares_create_query: a
 * backslash takes the next byte literally, every other byte is itself, so
 * a label may hold spaces or '%' from SPF macros); it is compared with the
 * records' owners in mx_wire_name's form. */
struct mx_answer *mx_answer_from_wire(const unsigned char *buf, size_t len, const char *qname,
                                      uint16_t qtype);
/* An answer carrying only an outcome (timeout, servfail ...). malloc'ed. */
struct mx_answer *mx_answer_failure(enum mx_rc rc, uint16_t qtype);

/* An answer that carries a module's result instead of DNS records (the
 * SMTP probe, policy fetches): rc NOERROR, qtype as given, the len bytes
 * of data copied. malloc'ed. */
struct mx_answer *mx_answer_blob(uint16_t qtype, const void *data, size_t len);
/* The bytes of a blob answer (NULL when a is no blob of at least len). */
const void *mx_answer_blob_data(const struct mx_answer *a, size_t len);
/* Bytes of a in use, header included (records and the kept target): a
 * copy of that many bytes, its cap set to the copy's data bytes, is a
 * whole answer. */
size_t mx_answer_bytes(const struct mx_answer *a);

/* Builder, for tests and for the wire reader. */
struct mx_answer *mx_answer_new(enum mx_rc rc, uint16_t qtype, uint32_t ttl, bool cname);
bool mx_answer_add_mx(struct mx_answer **a, uint16_t pref, const char *name);
/* A PTR record (answers of qtype MX_T_PTR). */
bool mx_answer_add_ptr(struct mx_answer **a, const char *name);
/* An NS record (answers of qtype MX_T_NS). */
bool mx_answer_add_ns(struct mx_answer **a, const char *name);
/* A SOA record (answers of qtype MX_T_SOA): its MNAME and SERIAL. */
bool mx_answer_add_soa(struct mx_answer **a, const char *mname, uint32_t serial);
bool mx_answer_add_ip(struct mx_answer **a, const struct mx_ip *ip);
bool mx_answer_add_txt(struct mx_answer **a, const char *txt, size_t len);
/* A record kept as its raw rdata (answers of qtype MX_T_TLSA). */
bool mx_answer_add_raw(struct mx_answer **a, const unsigned char *rdata, size_t len);
/* Records the CNAME-expanded name (mx_answer_target); may come before or
 * after the records. */
bool mx_answer_set_target(struct mx_answer **a, const char *name);

/* Decodes a possibly compressed name at buf[*off] into presentation form
 * (lowercase, escapes \. \\ \DDD, "" for root). Advances *off past the name
 * in place. Returns false on loops, overruns or over-long names. */
bool mx_wire_name(const unsigned char *buf, size_t len, size_t *off, char *out, size_t outlen);

#endif
