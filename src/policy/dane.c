/* DANE for SMTP (RFC 7672): TLSA records, base names, matching. Readings in
 * include/mx/dane.h. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "mx/dane.h"
#include "policy_int.h"

#define NAME_FN(fn, type, MAP)                                                       \
    const char *fn(enum type v)                                                      \
    {                                                                                \
        static const char *const names[] = {MAP(MX_POLICY_LABEL)};                   \
        return (unsigned)v < sizeof names / sizeof names[0] ? names[v] : "?";        \
    }
NAME_FN(mx_tlsa_use_name, mx_tlsa_use, MX_TLSA_USE_MAP)
NAME_FN(mx_dane_state_name, mx_dane_state, MX_DANE_STATE_MAP)
NAME_FN(mx_dane_match_name, mx_dane_match, MX_DANE_MATCH_MAP)

/* Full(0) data: a DER certificate (selector 0) or SubjectPublicKeyInfo (1),
 * nothing after it. */
static bool full_data_parses(unsigned selector, const unsigned char *d, size_t n)
{
    if (n == 0 || n > 65535)
        return false;
    const unsigned char *p = d;
    bool ok;
    if (selector == 0) {
        X509 *x = d2i_X509(NULL, &p, (long)n);
        ok = x && p == d + n;
        X509_free(x);
    } else {
        EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)n);
        ok = k && p == d + n;
        EVP_PKEY_free(k);
    }
    ERR_clear_error();
    return ok;
}

enum mx_tlsa_use mx_tlsa_parse(const unsigned char *rd, size_t len, struct mx_tlsa *out)
{
    memset(out, 0, sizeof *out);
    if (len < 3)
        return out->use = MX_TLSA_MALFORMED;
    out->usage = rd[0];
    out->selector = rd[1];
    out->mtype = rd[2];
    const unsigned char *d = rd + 3;
    size_t n = len - 3;
    if (out->usage > 3)
        return out->use = MX_TLSA_BAD_USAGE;
    if (out->selector > 1)
        return out->use = MX_TLSA_BAD_SELECTOR;
    if (out->mtype > 2)
        return out->use = MX_TLSA_BAD_MTYPE;
    if ((out->mtype == 1 && n != 32) || (out->mtype == 2 && n != 64) || n == 0)
        return out->use = MX_TLSA_BAD_LENGTH;
    if (out->mtype == 0 && !full_data_parses(out->selector, d, n))
        return out->use = MX_TLSA_BAD_DATA;
    if (out->usage < 2)
        return out->use = MX_TLSA_PKIX_USAGE;
    if (out->mtype == 0) {
        unsigned int dl = 32;
        if (EVP_Digest(d, n, out->assoc, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
            ERR_clear_error();
            return out->use = MX_TLSA_BAD_DATA;
        }
        out->assoc_len = 32;
    } else {
        memcpy(out->assoc, d, n);
        out->assoc_len = (uint8_t)n;
    }
    return out->use = MX_TLSA_USABLE;
}

enum mx_dane_state mx_dane_rrset_judge(const struct mx_answer *a, struct mx_dane_rrset *out)
{
    memset(out, 0, sizeof *out);
    if (!a || (a->rc != MX_RC_NOERROR && a->rc != MX_RC_NXDOMAIN))
        return out->state = MX_DANE_FAILED;
    out->validated = a->ad;
    if (a->count == 0)
        return out->state = MX_DANE_NONE;
    size_t off = 0;
    struct mx_rdata rd;
    while (mx_answer_next(a, &off, &rd)) {
        if (out->n == MX_DANE_RR_MAX) {
            out->truncated = true;
            break;
        }
        struct mx_tlsa *t = &out->rr[out->n++];
        enum mx_tlsa_use u = mx_tlsa_parse(rd.raw, rd.raw_len, t);
        if (u == MX_TLSA_USABLE) {
            out->n_usable++;
            if (t->usage == 3)
                out->n_ee++;
            else
                out->n_ta++;
        } else {
            out->problems |= 1u << u;
        }
    }
    if (!a->ad)
        return out->state = MX_DANE_UNSIGNED;
    return out->state = out->n_usable ? MX_DANE_USABLE : MX_DANE_UNUSABLE;
}

static bool owner_for(const char *base, char *out)
{
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == '.')
        bl--;
    if (bl == 0 || bl > MX_NAME_MAX)
        return false;
    memcpy(out, "_25._tcp.", 9);
    memcpy(out + 9, base, bl);
    out[9 + bl] = '\0';
    return true;
}

unsigned mx_dane_base_names(const char *exchange, const struct mx_answer *addr,
                            char out[2][MX_DANE_OWNER_MAX + 1])
{
    unsigned n = 0;
    const char *target = addr ? mx_answer_target(addr) : NULL;
    if (target && addr->ad && addr->rc == MX_RC_NOERROR && owner_for(target, out[n]))
        n++;
    if (owner_for(exchange, out[n]))
        n++;
    return n;
}

bool mx_dane_try_next(const struct mx_answer *first)
{
    return first && first->ad && first->count == 0 &&
           (first->rc == MX_RC_NXDOMAIN || first->rc == MX_RC_NOERROR);
}

bool mx_dane_name_ok(const struct mx_smtp_result *r)
{
    return r->tls == MX_SMTP_TLS_OK && !(r->cert_problems & (1u << MX_SMTP_CERT_WRONG_NAME));
}

static const uint8_t *digest_of(const struct mx_smtp_digest *d, const struct mx_tlsa *t)
{
    bool long_digest = t->mtype == 2;
    if (t->selector == 0)
        return long_digest ? d->cert512 : d->cert;
    return long_digest ? d->spki512 : d->spki;
}

static bool same(const struct mx_smtp_digest *d, const struct mx_tlsa *t)
{
    return memcmp(digest_of(d, t), t->assoc, t->assoc_len) == 0;
}

enum mx_dane_match mx_dane_match(const struct mx_dane_rrset *set, const struct mx_smtp_result *r,
                                 bool name_ok, const char **why)
{
    if (why)
        *why = "";
    if (!set || set->n_usable == 0)
        return MX_DANE_MATCH_NOT_CHECKED;
    if (r->tls != MX_SMTP_TLS_OK || r->chain_len == 0)
        return MX_DANE_MATCH_NO_TLS;
    bool ta_seen = false, ta_chain = false;
    for (unsigned i = 0; i < set->n; i++) {
        const struct mx_tlsa *t = &set->rr[i];
        if (t->use != MX_TLSA_USABLE)
            continue;
        if (t->usage == 3) {
            if (same(&r->leaf, t))
                return MX_DANE_MATCH_EE;
            continue;
        }
        for (unsigned k = 0; k < r->chain_len; k++) {
            if (!same(&r->chain[k], t))
                continue;
            ta_seen = true;
            if (!(r->chain_links & (1u << k)))
                continue;
            ta_chain = true;
            if (name_ok)
                return MX_DANE_MATCH_TA;
        }
    }
    if (why)
        *why = ta_chain ? "name" : ta_seen ? "chain" : "";
    return MX_DANE_MATCH_MISMATCH;
}
