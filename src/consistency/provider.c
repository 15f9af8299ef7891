/* The direct-query module as the scan engine's provider of MX_QT_AUTH_MX
 * and MX_QT_AUTH_SOA (consistency.h, engine.h): keys in, blobs out. A blob
 * carries the outcome, rcode and flags, then a copy of the answer's
 * records, so that the engine's shared cache can keep it like any answer
 * and the analysis gets back exactly what the module said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"
#include "mx/engine.h"

#define BLOB_MAGIC 0xA5u

struct blob_head {
    uint8_t magic;
    uint8_t outcome;  /* enum mx_auth_outcome */
    uint8_t rc;       /* enum mx_rc */
    uint8_t flags;    /* 1: aa, 2: tcp */
    uint32_t anslen;  /* bytes of the answer copy that follow (0: none) */
};

size_t mx_auth_key(const struct mx_ip *server, const char *qname, char *buf, size_t len)
{
    char a[64];
    mx_ip_format(server, a, sizeof a);
    int n = snprintf(buf, len, "%s|%s", a, qname);
    return n < 0 ? 0 : (size_t)n;
}

struct mx_answer *mx_auth_answer_blob(const struct mx_auth_result *r)
{
    struct blob_head h;
    memset(&h, 0, sizeof h);
    h.magic = BLOB_MAGIC;
    h.outcome = (uint8_t)r->outcome;
    h.rc = (uint8_t)r->rc;
    h.flags = (uint8_t)((r->aa ? 1u : 0u) | (r->tcp ? 2u : 0u));
    if (r->outcome == MX_AUTH_ANSWERED && r->ans)
        h.anslen = (uint32_t)mx_answer_bytes(r->ans);
    unsigned char *buf = malloc(sizeof h + h.anslen);
    if (!buf)
        return NULL;
    memcpy(buf, &h, sizeof h);
    if (h.anslen)
        memcpy(buf + sizeof h, r->ans, h.anslen);
    struct mx_answer *blob = mx_answer_blob(r->qtype == MX_T_MX ? MX_QT_AUTH_MX : MX_QT_AUTH_SOA,
                                            buf, sizeof h + h.anslen);
    free(buf);
    return blob;
}

static void done(void *ud, const struct mx_auth_result *r)
{
    /* NULL (no memory): the engine records a failure */
    mx_engine_ext_complete(ud, mx_auth_answer_blob(r));
}

static void submit(void *ctx, const char *key, uint16_t qtype, struct mx_ext_req *req)
{
    struct mx_auth *m = ctx;
    const char *bar = strchr(key, '|');
    char addr[64];
    struct mx_ip ip;
    size_t al = bar ? (size_t)(bar - key) : 0;
    if (!bar || al >= sizeof addr) {
        mx_engine_ext_complete(req, NULL);
        return;
    }
    memcpy(addr, key, al);
    addr[al] = '\0';
    uint16_t t = qtype == MX_QT_AUTH_MX ? MX_T_MX : MX_T_SOA;
    if (!mx_ip_parse(addr, &ip) || mx_auth_submit(m, &ip, bar + 1, t, done, req) != MX_OK)
        mx_engine_ext_complete(req, NULL);
}

enum mx_status mx_auth_add_providers(struct mx_auth *m, struct mx_engine *e)
{
    struct mx_ext_provider p = {MX_QT_AUTH_MX, submit, m, mx_auth_max_ms(m)};
    enum mx_status st = mx_engine_add_provider(e, &p);
    if (st != MX_OK)
        return st;
    p.qtype = MX_QT_AUTH_SOA;
    return mx_engine_add_provider(e, &p);
}

bool mx_auth_reply_from_answer(struct mx_auth_reply *dst, const struct mx_answer *a)
{
    mx_auth_reply_clear(dst);
    dst->outcome = MX_AUTH_ERROR;
    dst->rc = MX_RC_OTHER;
    struct blob_head h;
    const unsigned char *p = a && (a->qtype == MX_QT_AUTH_MX || a->qtype == MX_QT_AUTH_SOA)
                                 ? mx_answer_blob_data(a, sizeof h)
                                 : NULL;
    if (!p)
        return false;
    memcpy(&h, p, sizeof h);
    if (h.magic != BLOB_MAGIC || a->size < sizeof h + h.anslen ||
        h.outcome > MX_AUTH_ABORTED || h.rc >= MX_RC_COUNT ||
        (h.anslen && h.anslen < sizeof(struct mx_answer)))
        return false;
    if (h.anslen) {
        dst->ans = malloc(h.anslen);
        if (!dst->ans)
            return false;
        memcpy(dst->ans, p + sizeof h, h.anslen);
        dst->ans->cap = (uint32_t)(h.anslen - sizeof(struct mx_answer));
        if (mx_answer_bytes(dst->ans) != h.anslen) { /* not a copy of an answer */
            free(dst->ans);
            dst->ans = NULL;
            return false;
        }
    }
    dst->outcome = (enum mx_auth_outcome)h.outcome;
    dst->rc = (enum mx_rc)h.rc;
    dst->aa = (h.flags & 1u) != 0;
    dst->tcp = (h.flags & 2u) != 0;
    return true;
}
