/* See helper_certs.h. */
#include "helper_certs.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>

EVP_PKEY *certs_key(void)
{
    return EVP_EC_gen("P-256");
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

X509 *certs_make(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                 EVP_PKEY *issuer_key, long not_before_s, long not_after_s, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(x), not_after_s);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(x, key);
    add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (issuer)
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (!ca)
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
    if (san) {
        char buf[2048]; /* one name, or several as "a,DNS:b" */
        snprintf(buf, sizeof buf, "DNS:%s", san);
        add_ext(x, issuer, NID_subject_alt_name, buf);
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

bool certs_write_pem(const char *path, X509 *cert, X509 *more)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = PEM_write_X509(f, cert) == 1 && (!more || PEM_write_X509(f, more) == 1);
    return fclose(f) == 0 && ok;
}
