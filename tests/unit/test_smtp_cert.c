/* Certificate judgement of the SMTP probe (src/smtp/tls.c) on certificates
 * made in the test: a valid chain, expired, not yet valid, self-signed, a
 * missing intermediate, names and wildcards, the verdict order, the DANE
 * digests and the notAfter rendering. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

#include "../../src/smtp/smtp_int.h"
#include "helper_certs.h"

#define DAY 86400L

static EVP_PKEY *root_key, *inter_key, *leaf_key;
static X509 *root, *inter;
static X509_STORE *store;

static void setup(void)
{
    root_key = certs_key();
    inter_key = certs_key();
    leaf_key = certs_key();
    cr_assert(root_key && inter_key && leaf_key);
    root = certs_make(root_key, "test root", NULL, NULL, NULL, -DAY, 30 * DAY, true);
    inter = certs_make(inter_key, "test inter", NULL, root, root_key, -DAY, 30 * DAY, true);
    cr_assert(root && inter);
    store = X509_STORE_new();
    cr_assert(store && X509_STORE_add_cert(store, root) == 1);
}

static void teardown(void)
{
    X509_STORE_free(store);
    X509_free(root);
    X509_free(inter);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(inter_key);
    EVP_PKEY_free(leaf_key);
}

TestSuite(smtp_cert, .init = setup, .fini = teardown);

/* problems of leaf presented with the given extra chain certificate */
static uint32_t judge(X509 *leaf, X509 *extra, int *first)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, leaf);
    if (extra)
        sk_X509_push(chain, extra);
    uint32_t pr = mx_smtp_cert_verify(store, leaf, chain, first);
    sk_X509_free(chain);
    return pr;
}

static bool name_ok(X509 *x, const char *name)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    cr_assert_gt(len, 0);
    bool ok = mx_smtp_cert_name_ok(der, (size_t)len, name);
    OPENSSL_free(der);
    return ok;
}

Test(smtp_cert, valid_chain)
{
    X509 *leaf = certs_make(leaf_key, "mx.lab.test", "mx.lab.test", root, root_key, -DAY,
                            10 * DAY, false);
    int first = -1;
    cr_expect_eq(judge(leaf, NULL, &first), 0);
    cr_expect_eq(first, 0);
    cr_expect_eq(mx_smtp_cert_verdict(0), MX_SMTP_CERT_VALID);
    cr_expect(name_ok(leaf, "mx.lab.test"));
    cr_expect(name_ok(leaf, "MX.LAB.TEST"));
    cr_expect_not(name_ok(leaf, "mx2.lab.test"));
    cr_expect_not(name_ok(leaf, "lab.test"));
    X509_free(leaf);
}

Test(smtp_cert, wildcard_names)
{
    X509 *leaf =
        certs_make(leaf_key, "wild", "*.lab.test", root, root_key, -DAY, 10 * DAY, false);
    cr_expect(name_ok(leaf, "mx.lab.test"));
    cr_expect_not(name_ok(leaf, "a.mx.lab.test")); /* one label only */
    cr_expect_not(name_ok(leaf, "lab.test"));
    X509_free(leaf);
    leaf = certs_make(leaf_key, "part", "mx*.lab.test", root, root_key, -DAY, 10 * DAY, false);
    cr_expect_not(name_ok(leaf, "mx1.lab.test")); /* no partial wildcards */
    X509_free(leaf);
    cr_expect_not(mx_smtp_cert_name_ok(NULL, 0, "mx.lab.test"));
    cr_expect_not(mx_smtp_cert_name_ok((const unsigned char *)"junk", 4, "mx.lab.test"));
}

Test(smtp_cert, expired_and_not_yet_valid)
{
    X509 *old = certs_make(leaf_key, "mx", "mx.lab.test", root, root_key, -20 * DAY, -10 * DAY,
                           false);
    int first = 0;
    uint32_t pr = judge(old, NULL, &first);
    cr_expect_eq(pr, 1u << MX_SMTP_CERT_EXPIRED);
    cr_expect_eq(first, X509_V_ERR_CERT_HAS_EXPIRED);
    cr_expect_eq(mx_smtp_cert_verdict(pr), MX_SMTP_CERT_EXPIRED);
    X509 *early =
        certs_make(leaf_key, "mx", "mx.lab.test", root, root_key, 5 * DAY, 10 * DAY, false);
    pr = judge(early, NULL, &first);
    cr_expect_eq(pr, 1u << MX_SMTP_CERT_NOT_YET_VALID);
    cr_expect_eq(mx_smtp_cert_verdict(pr), MX_SMTP_CERT_NOT_YET_VALID);
    X509_free(old);
    X509_free(early);
}

Test(smtp_cert, self_signed)
{
    X509 *leaf = certs_make(leaf_key, "mx", "mx.lab.test", NULL, NULL, -DAY, 10 * DAY, false);
    int first = 0;
    uint32_t pr = judge(leaf, NULL, &first);
    cr_expect(pr & (1u << MX_SMTP_CERT_SELF_SIGNED), "problems %#x", pr);
    cr_expect_eq(first, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    cr_expect_eq(mx_smtp_cert_verdict(pr), MX_SMTP_CERT_SELF_SIGNED);
    cr_expect(name_ok(leaf, "mx.lab.test")); /* the name is fine, the trust is not */
    X509_free(leaf);
}

Test(smtp_cert, missing_intermediate)
{
    X509 *leaf =
        certs_make(leaf_key, "mx", "mx.lab.test", inter, inter_key, -DAY, 10 * DAY, false);
    int first = 0;
    uint32_t pr = judge(leaf, NULL, &first);
    cr_expect_eq(pr, 1u << MX_SMTP_CERT_INCOMPLETE_CHAIN, "problems %#x", pr);
    cr_expect_eq(first, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    /* the same leaf with its intermediate presented is valid */
    cr_expect_eq(judge(leaf, inter, &first), 0);
    X509_free(leaf);
}

Test(smtp_cert, every_problem_is_kept)
{
    /* expired and self-signed: both noted, self-signed is the verdict */
    X509 *leaf =
        certs_make(leaf_key, "mx", "mx.lab.test", NULL, NULL, -20 * DAY, -10 * DAY, false);
    uint32_t pr = judge(leaf, NULL, NULL);
    cr_expect(pr & (1u << MX_SMTP_CERT_EXPIRED), "problems %#x", pr);
    cr_expect(pr & (1u << MX_SMTP_CERT_SELF_SIGNED), "problems %#x", pr);
    cr_expect_eq(mx_smtp_cert_verdict(pr), MX_SMTP_CERT_SELF_SIGNED);
    X509_free(leaf);
    cr_expect_eq(mx_smtp_cert_verdict((1u << MX_SMTP_CERT_WRONG_NAME) |
                                      (1u << MX_SMTP_CERT_EXPIRED)),
                 MX_SMTP_CERT_EXPIRED);
    cr_expect_eq(mx_smtp_cert_verdict(1u << MX_SMTP_CERT_WRONG_NAME), MX_SMTP_CERT_WRONG_NAME);
    cr_expect_eq(mx_smtp_cert_verdict(1u << MX_SMTP_CERT_OTHER), MX_SMTP_CERT_OTHER);
}

Test(smtp_cert, digests_and_not_after)
{
    X509 *leaf = certs_make(leaf_key, "mx", "mx.lab.test", root, root_key, -DAY, DAY, false);
    cr_assert(ASN1_TIME_set_string(X509_getm_notAfter(leaf), "20300102030405Z") == 1);
    char buf[32];
    mx_smtp_cert_not_after(leaf, buf, sizeof buf);
    cr_expect_str_eq(buf, "2030-01-02T03:04:05Z");

    struct mx_smtp_digest d;
    mx_smtp_cert_digest(leaf, &d);
    /* the same digests computed another way: DER by hand, EVP_Digest */
    unsigned char *der = NULL, want[32];
    unsigned int n = 32;
    int len = i2d_X509(leaf, &der);
    cr_assert_gt(len, 0);
    cr_assert(EVP_Digest(der, (size_t)len, want, &n, EVP_sha256(), NULL) == 1);
    cr_expect_arr_eq(d.cert, want, 32);
    OPENSSL_free(der);
    der = NULL;
    len = i2d_PUBKEY(leaf_key, &der); /* SubjectPublicKeyInfo of the key */
    cr_assert_gt(len, 0);
    cr_assert(EVP_Digest(der, (size_t)len, want, &n, EVP_sha256(), NULL) == 1);
    cr_expect_arr_eq(d.spki, want, 32);
    OPENSSL_free(der);
    X509_free(leaf);
}

Test(smtp_cert, lab_ca_file_and_bad_file)
{
    char err[256];
    char path[] = "/tmp/mx_smtp_ca_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert(certs_write_pem(path, root, NULL));
    X509_STORE *st = mx_smtp_tls_store_new(path, err, sizeof err);
    cr_assert(st, "%s", err);
    X509 *leaf = certs_make(leaf_key, "mx", "mx.lab.test", root, root_key, -DAY, DAY, false);
    cr_expect_eq(mx_smtp_cert_verify(st, leaf, NULL, NULL), 0);
    X509_free(leaf);
    X509_STORE_free(st);
    unlink(path);
    cr_expect_null(mx_smtp_tls_store_new("/nonexistent/ca.pem", err, sizeof err));
    cr_expect(strstr(err, "/nonexistent/ca.pem") != NULL, "%s", err);
}
