/* Certificates made in-process with OpenSSL for the SMTP probe's tests:
 * an EC P-256 key, and certificates with chosen names, issuers and dates. */
#ifndef MX_TEST_HELPER_CERTS_H
#define MX_TEST_HELPER_CERTS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>

EVP_PKEY *certs_key(void);
/* issuer NULL: self-signed. Validity from now+not_before_s to now+not_after_s
 * (seconds, may be negative). san: one DNS name or NULL. */
X509 *certs_make(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                 EVP_PKEY *issuer_key, long not_before_s, long not_after_s, bool ca);
/* Writes cert (and more, may be NULL) as PEM into path. */
bool certs_write_pem(const char *path, X509 *cert, X509 *more);

#endif
