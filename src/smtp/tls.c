/* TLS for the SMTP probe: the client context, the trust store, and the
 * certificate facts of a finished handshake. The handshake itself verifies
 * nothing (opportunistic STARTTLS, as senders do it); the chain is judged
 * afterwards against the trust store, once per address, and the leaf is
 * matched against each exchange name separately, so one handshake serves
 * every name that shares the address. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_int.h"

void mx_smtp_tls_error(char *out, size_t outlen, const char *fallback)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e; /* the last one queued is the most specific */
    if (last) {
        const char *why = ERR_reason_error_string(last);
        if (why) {
            snprintf(out, outlen, "%s", why);
            return;
        }
        ERR_error_string_n(last, out, outlen);
        return;
    }
    snprintf(out, outlen, "%s", fallback);
}

SSL_CTX *mx_smtp_tls_ctx_new(char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        mx_smtp_tls_error(err, errlen, "SSL_CTX_new failed");
        return NULL;
    }
    /* Measure what the server offers, as an opportunistic sender would take
     * it: every protocol version and cipher OpenSSL still has (security level
     * 0), no verification during the handshake (done afterwards). */
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, 0);
    if (SSL_CTX_set_cipher_list(ctx, "ALL:!aNULL:!eNULL:@SECLEVEL=0") != 1) {
        mx_smtp_tls_error(err, errlen, "cipher list refused");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A server that closes without close_notify is a close, not an error. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
    return ctx;
}

X509_STORE *mx_smtp_tls_store_new(const char *ca_file, char *err, size_t errlen)
{
    X509_STORE *st = X509_STORE_new();
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int ok = ca_file && *ca_file ? X509_STORE_load_file(st, ca_file)
                                 : X509_STORE_set_default_paths(st);
    if (ok != 1) {
        char why[128];
        mx_smtp_tls_error(why, sizeof why, "unreadable");
        snprintf(err, errlen, "trust store %s: %s", ca_file && *ca_file ? ca_file : "(system)",
                 why);
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

static unsigned problem_of(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return 1u << MX_SMTP_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return 1u << MX_SMTP_CERT_NOT_YET_VALID;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return 1u << MX_SMTP_CERT_SELF_SIGNED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return 1u << MX_SMTP_CERT_INCOMPLETE_CHAIN;
    case X509_V_ERR_HOSTNAME_MISMATCH:
        return 1u << MX_SMTP_CERT_WRONG_NAME;
    default:
        return 1u << MX_SMTP_CERT_OTHER;
    }
}

struct verify_seen {
    uint32_t problems;
    int first;
};

static int verify_idx = -1;
static pthread_once_t verify_once = PTHREAD_ONCE_INIT;

static void verify_idx_init(void)
{
    verify_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Notes every error and carries on, so one pass yields all the problems. */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    if (!ok) {
        struct verify_seen *seen = X509_STORE_CTX_get_ex_data(ctx, verify_idx);
        int e = X509_STORE_CTX_get_error(ctx);
        if (seen) {
            seen->problems |= problem_of(e);
            if (!seen->first)
                seen->first = e;
        }
    }
    return 1;
}

uint32_t mx_smtp_cert_verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) *chain,
                             int *first_error)
{
    struct verify_seen seen = {0, 0};
    pthread_once(&verify_once, verify_idx_init);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || verify_idx < 0 || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        seen.problems = 1u << MX_SMTP_CERT_OTHER;
        seen.first = X509_V_ERR_UNSPECIFIED;
        goto out;
    }
    X509_STORE_CTX_set_ex_data(ctx, verify_idx, &seen);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(ctx) != 1 && !seen.problems) {
        int e = X509_STORE_CTX_get_error(ctx);
        seen.problems = problem_of(e);
        seen.first = e ? e : X509_V_ERR_UNSPECIFIED;
    }
out:
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    if (first_error)
        *first_error = seen.first;
    return seen.problems;
}

bool mx_smtp_cert_name_ok(const unsigned char *der, size_t len, const char *name)
{
    if (!der || len == 0 || len > (size_t)INT32_MAX)
        return false;
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (!x) {
        ERR_clear_error();
        return false;
    }
    int ok = X509_check_host(x, name, strlen(name), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
    X509_free(x);
    return ok == 1;
}

enum mx_smtp_cert mx_smtp_cert_verdict(uint32_t problems)
{
    static const enum mx_smtp_cert order[] = {
        MX_SMTP_CERT_SELF_SIGNED, MX_SMTP_CERT_INCOMPLETE_CHAIN, MX_SMTP_CERT_EXPIRED,
        MX_SMTP_CERT_NOT_YET_VALID, MX_SMTP_CERT_WRONG_NAME, MX_SMTP_CERT_OTHER};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (problems & (1u << order[i]))
            return order[i];
    return MX_SMTP_CERT_VALID;
}

static void digest(const EVP_MD *md, const unsigned char *data, size_t len, uint8_t *out,
                   size_t outlen)
{
    unsigned int n = (unsigned)outlen;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1 || n != outlen)
        memset(out, 0, outlen);
}

void mx_smtp_cert_digest(X509 *x, struct mx_smtp_digest *d)
{
    memset(d, 0, sizeof *d);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    if (len > 0) {
        digest(EVP_sha256(), der, (size_t)len, d->cert, sizeof d->cert);
        digest(EVP_sha512(), der, (size_t)len, d->cert512, sizeof d->cert512);
    }
    OPENSSL_free(der);
    unsigned char *spki = NULL;
    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    if (len > 0) {
        digest(EVP_sha256(), spki, (size_t)len, d->spki, sizeof d->spki);
        digest(EVP_sha512(), spki, (size_t)len, d->spki512, sizeof d->spki512);
    }
    OPENSSL_free(spki);
    ERR_clear_error();
}

static int links_idx = -1;
static pthread_once_t links_once = PTHREAD_ONCE_INIT;

static void links_idx_init(void)
{
    links_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Accepts the trust anchor's own validity dates (the TLSA record vouches for
 * it), nothing else. */
static int links_cb(int ok, X509_STORE_CTX *ctx)
{
    if (ok)
        return ok;
    int e = X509_STORE_CTX_get_error(ctx);
    X509 *ta = X509_STORE_CTX_get_ex_data(ctx, links_idx);
    if ((e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID) && ta &&
        X509_STORE_CTX_get_current_cert(ctx) == ta)
        return 1;
    return 0;
}

uint16_t mx_smtp_cert_links(X509 *leaf, STACK_OF(X509) *chain)
{
    uint16_t mask = 0;
    int n = chain ? sk_X509_num(chain) : 0;
    pthread_once(&links_once, links_idx_init);
    if (links_idx < 0)
        return 0;
    for (int i = 0; i < n && i < MX_SMTP_CHAIN_MAX; i++) {
        X509 *ta = sk_X509_value(chain, i);
        X509_STORE *st = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (st && ctx && X509_STORE_add_cert(st, ta) == 1 &&
            X509_STORE_CTX_init(ctx, st, leaf, chain) == 1) {
            X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
            X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
            X509_STORE_CTX_set_ex_data(ctx, links_idx, ta);
            X509_STORE_CTX_set_verify_cb(ctx, links_cb);
            if (X509_verify_cert(ctx) == 1)
                mask = (uint16_t)(mask | 1u << i);
        }
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(st);
    }
    ERR_clear_error();
    return mask;
}

void mx_smtp_cert_not_after(X509 *x, char *out, size_t outlen)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const ASN1_TIME *t = X509_get0_notAfter(x);
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (t && ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint32_t mx_smtp_tls_inspect(SSL *ssl, X509_STORE *store, struct mx_smtp_result *r,
                             unsigned char **leaf_der, size_t *leaf_len)
{
    *leaf_der = NULL;
    *leaf_len = 0;
    snprintf(r->tls_version, sizeof r->tls_version, "%s", SSL_get_version(ssl));
    const char *cipher = SSL_get_cipher_name(ssl);
    snprintf(r->tls_cipher, sizeof r->tls_cipher, "%s", cipher ? cipher : "");
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (!leaf) {
        r->cert_verify_error = X509_V_ERR_UNSPECIFIED;
        return 1u << MX_SMTP_CERT_OTHER; /* no certificate at all */
    }
    mx_smtp_cert_not_after(leaf, r->cert_not_after, sizeof r->cert_not_after);
    mx_smtp_cert_digest(leaf, &r->leaf);
    /* On the client side the presented chain starts with the leaf. */
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain ? sk_X509_num(chain) : 0;
    r->chain_len = 0;
    for (int i = 0; i < n; i++) {
        if (r->chain_len == MX_SMTP_CHAIN_MAX) {
            r->chain_truncated = true;
            break;
        }
        mx_smtp_cert_digest(sk_X509_value(chain, i), &r->chain[r->chain_len++]);
    }
    r->chain_links = mx_smtp_cert_links(leaf, chain);
    unsigned char *der = NULL;
    int dlen = i2d_X509(leaf, &der);
    if (dlen > 0) {
        *leaf_der = malloc((size_t)dlen);
        if (*leaf_der) {
            memcpy(*leaf_der, der, (size_t)dlen);
            *leaf_len = (size_t)dlen;
        }
    }
    OPENSSL_free(der);
    uint32_t problems = mx_smtp_cert_verify(store, leaf, chain, &r->cert_verify_error);
    ERR_clear_error();
    return problems;
}
