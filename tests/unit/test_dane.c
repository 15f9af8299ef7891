/* DANE for SMTP (RFC 7672): TLSA rdata parsing and usability, RRset
 * judgement on the AD bit, TLSA base names through CNAMEs, and matching
 * against what the SMTP probe records of a certificate chain made here
 * (root -> intermediate -> leaf; the server presents leaf + intermediate). */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/smtp/smtp_int.h"
#include "helper_certs.h"
#include "mx/dane.h"

#define DAY 86400L

static EVP_PKEY *root_key, *inter_key, *leaf_key, *other_key;
static X509 *root, *inter, *leaf, *other;

static void setup(void)
{
    root_key = certs_key();
    inter_key = certs_key();
    leaf_key = certs_key();
    other_key = certs_key();
    root = certs_make(root_key, "dane root", NULL, NULL, NULL, -DAY, 30 * DAY, true);
    inter = certs_make(inter_key, "dane inter", NULL, root, root_key, -DAY, 30 * DAY, true);
    leaf = certs_make(leaf_key, "mx.example.test", "mx.example.test", inter, inter_key, -DAY,
                      30 * DAY, false);
    other = certs_make(other_key, "other", "other.example.test", NULL, NULL, -DAY, 30 * DAY,
                       true);
    cr_assert(root && inter && leaf && other);
}

static void teardown(void)
{
    X509_free(root);
    X509_free(inter);
    X509_free(leaf);
    X509_free(other);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(inter_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(other_key);
}

TestSuite(dane, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static size_t der_of(X509 *x, unsigned selector, unsigned char *out, size_t cap)
{
    unsigned char *der = NULL;
    int n = selector == 0 ? i2d_X509(x, &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    cr_assert_gt(n, 0);
    cr_assert_leq((size_t)n, cap);
    memcpy(out, der, (size_t)n);
    OPENSSL_free(der);
    return (size_t)n;
}

/* TLSA rdata for x with (usage, selector, mtype) into rd; returns its length. */
static size_t tlsa_for(X509 *x, unsigned u, unsigned s, unsigned m, unsigned char *rd, size_t cap)
{
    unsigned char der[4096];
    size_t n = der_of(x, s, der, sizeof der);
    rd[0] = (unsigned char)u;
    rd[1] = (unsigned char)s;
    rd[2] = (unsigned char)m;
    if (m == 0) {
        cr_assert_leq(3 + n, cap);
        memcpy(rd + 3, der, n);
        return 3 + n;
    }
    unsigned dl = 0;
    cr_assert(EVP_Digest(der, n, rd + 3, &dl, m == 1 ? EVP_sha256() : EVP_sha512(), NULL));
    return 3 + dl;
}

static struct mx_answer *tlsa_answer(bool ad)
{
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_TLSA, 3600, false);
    a->ad = ad;
    return a;
}

static void add(struct mx_answer **a, X509 *x, unsigned u, unsigned s, unsigned m)
{
    unsigned char rd[4200];
    size_t n = tlsa_for(x, u, s, m, rd, sizeof rd);
    cr_assert(mx_answer_add_raw(a, rd, n));
}

/* What the probe would record for a server presenting `chain` (leaf first)
 * for exchange name `name`. */
static void probe_result(struct mx_smtp_result *r, X509 *const *chain, int n, const char *name)
{
    memset(r, 0, sizeof *r);
    r->tls = MX_SMTP_TLS_OK;
    STACK_OF(X509) *sk = sk_X509_new_null();
    for (int i = 0; i < n; i++)
        sk_X509_push(sk, chain[i]);
    mx_smtp_cert_digest(chain[0], &r->leaf);
    for (int i = 0; i < n; i++)
        mx_smtp_cert_digest(chain[i], &r->chain[r->chain_len++]);
    r->chain_links = mx_smtp_cert_links(chain[0], sk);
    unsigned char der[4096];
    size_t dl = der_of(chain[0], 0, der, sizeof der);
    if (!mx_smtp_cert_name_ok(der, dl, name))
        r->cert_problems |= 1u << MX_SMTP_CERT_WRONG_NAME;
    sk_X509_free(sk);
}

static enum mx_dane_match match(struct mx_answer *a, const struct mx_smtp_result *r,
                                const char **why)
{
    struct mx_dane_rrset set;
    cr_assert_eq(mx_dane_rrset_judge(a, &set), MX_DANE_USABLE);
    return mx_dane_match(&set, r, mx_dane_name_ok(r), why);
}

/* ---- parsing ---- */

Test(dane, parse_usable_and_not)
{
    unsigned char rd[4200];
    struct mx_tlsa t;
    size_t n = tlsa_for(leaf, 3, 1, 1, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_USABLE);
    cr_expect_eq(t.assoc_len, 32);
    n = tlsa_for(leaf, 3, 0, 2, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_USABLE);
    cr_expect_eq(t.assoc_len, 64);
    n = tlsa_for(inter, 2, 0, 0, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_USABLE, "full certificate");
    n = tlsa_for(leaf, 3, 1, 0, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_USABLE, "full SPKI");
    n = tlsa_for(leaf, 1, 1, 1, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_PKIX_USAGE);
    n = tlsa_for(root, 0, 0, 1, rd, sizeof rd);
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_PKIX_USAGE);
    rd[0] = 4;
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_BAD_USAGE);
    rd[0] = 255;
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_BAD_USAGE);
    rd[0] = 3;
    rd[1] = 2;
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_BAD_SELECTOR);
    rd[1] = 1;
    rd[2] = 3;
    cr_expect_eq(mx_tlsa_parse(rd, n, &t), MX_TLSA_BAD_MTYPE);
    rd[2] = 1;
    cr_expect_eq(mx_tlsa_parse(rd, 3 + 31, &t), MX_TLSA_BAD_LENGTH, "31-byte SHA-256");
    cr_expect_eq(mx_tlsa_parse(rd, 3 + 33, &t), MX_TLSA_BAD_LENGTH, "33 bytes");
    rd[2] = 2;
    cr_expect_eq(mx_tlsa_parse(rd, 3 + 32, &t), MX_TLSA_BAD_LENGTH, "SHA-512 of 32 bytes");
    rd[2] = 0;
    cr_expect_eq(mx_tlsa_parse(rd, 3 + 32, &t), MX_TLSA_BAD_DATA, "a digest given as Full");
    cr_expect_eq(mx_tlsa_parse(rd, 3, &t), MX_TLSA_BAD_LENGTH, "no data");
    cr_expect_eq(mx_tlsa_parse(rd, 2, &t), MX_TLSA_MALFORMED);
}

Test(dane, rrset_states)
{
    struct mx_dane_rrset set;
    struct mx_answer *a = tlsa_answer(true);
    add(&a, leaf, 3, 1, 1);
    add(&a, leaf, 1, 1, 1);
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_USABLE);
    cr_expect_eq(set.n, 2);
    cr_expect_eq(set.n_usable, 1);
    cr_expect_eq(set.n_ee, 1);
    cr_expect_eq(set.problems, 1u << MX_TLSA_PKIX_USAGE);
    a->ad = false;
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_UNSIGNED);
    cr_expect_not(set.validated);
    free(a);
    a = tlsa_answer(true);
    add(&a, leaf, 0, 0, 1);
    unsigned char bad[] = {3, 1, 1, 0xAA};
    cr_assert(mx_answer_add_raw(&a, bad, sizeof bad));
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_UNUSABLE);
    cr_expect_eq(set.problems, (1u << MX_TLSA_PKIX_USAGE) | (1u << MX_TLSA_BAD_LENGTH));
    free(a);
    a = tlsa_answer(true);
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_NONE, "validated NODATA");
    free(a);
    a = mx_answer_failure(MX_RC_NXDOMAIN, MX_T_TLSA);
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_NONE);
    free(a);
    a = mx_answer_failure(MX_RC_SERVFAIL, MX_T_TLSA);
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_FAILED, "bogus: SERVFAIL");
    free(a);
    cr_expect_eq(mx_dane_rrset_judge(NULL, &set), MX_DANE_FAILED);
    a = tlsa_answer(true);
    for (int i = 0; i < MX_DANE_RR_MAX + 3; i++)
        add(&a, leaf, 3, 1, 1);
    cr_expect_eq(mx_dane_rrset_judge(a, &set), MX_DANE_USABLE);
    cr_expect(set.truncated);
    cr_expect_eq(set.n, MX_DANE_RR_MAX);
    free(a);
}

Test(dane, base_names)
{
    char names[2][MX_DANE_OWNER_MAX + 1];
    struct mx_answer *a = mx_answer_new(MX_RC_NOERROR, MX_T_A, 300, false);
    a->ad = true;
    cr_assert_eq(mx_dane_base_names("mx.example.test", a, names), 1);
    cr_expect_str_eq(names[0], "_25._tcp.mx.example.test");
    free(a);
    /* a validated CNAME chain: the expanded name first, then the original */
    a = mx_answer_new(MX_RC_NOERROR, MX_T_A, 300, true);
    cr_assert(mx_answer_set_target(&a, "smtp.provider.test"));
    a->ad = true;
    cr_assert_eq(mx_dane_base_names("mx.example.test.", a, names), 2);
    cr_expect_str_eq(names[0], "_25._tcp.smtp.provider.test");
    cr_expect_str_eq(names[1], "_25._tcp.mx.example.test");
    /* not validated: the original name alone */
    a->ad = false;
    cr_assert_eq(mx_dane_base_names("mx.example.test", a, names), 1);
    cr_expect_str_eq(names[0], "_25._tcp.mx.example.test");
    free(a);
    /* when to go on to the second name */
    struct mx_answer *t = tlsa_answer(true);
    cr_expect(mx_dane_try_next(t), "validated NODATA");
    add(&t, leaf, 3, 1, 1);
    cr_expect_not(mx_dane_try_next(t), "records found");
    free(t);
    t = mx_answer_failure(MX_RC_NXDOMAIN, MX_T_TLSA);
    cr_expect_not(mx_dane_try_next(t), "NXDOMAIN, not validated");
    t->ad = true;
    cr_expect(mx_dane_try_next(t), "validated NXDOMAIN");
    free(t);
    t = mx_answer_failure(MX_RC_SERVFAIL, MX_T_TLSA);
    t->ad = true;
    cr_expect_not(mx_dane_try_next(t), "a failure never moves on");
    free(t);
}

/* ---- matching ---- */

Test(dane, ee_matches_leaf_in_every_form)
{
    X509 *chain[] = {leaf, inter};
    struct mx_smtp_result r;
    probe_result(&r, chain, 2, "mx.example.test");
    unsigned forms[][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}};
    for (size_t i = 0; i < 6; i++) {
        struct mx_answer *a = tlsa_answer(true);
        add(&a, leaf, 3, forms[i][0], forms[i][1]);
        cr_expect_eq(match(a, &r, NULL), MX_DANE_MATCH_EE, "3 %u %u", forms[i][0], forms[i][1]);
        free(a);
        /* the intermediate's key in an EE record does not match */
        a = tlsa_answer(true);
        add(&a, inter, 3, forms[i][0], forms[i][1]);
        cr_expect_eq(match(a, &r, NULL), MX_DANE_MATCH_MISMATCH, "3 %u %u of the CA",
                     forms[i][0], forms[i][1]);
        free(a);
    }
}

Test(dane, ee_ignores_name_and_dates)
{
    EVP_PKEY *k = certs_key();
    X509 *old = certs_make(k, "whatever", "elsewhere.test", NULL, NULL, -60 * DAY, -30 * DAY,
                           false);
    X509 *chain[] = {old};
    struct mx_smtp_result r;
    probe_result(&r, chain, 1, "mx.example.test");
    cr_expect(r.cert_problems & (1u << MX_SMTP_CERT_WRONG_NAME));
    struct mx_answer *a = tlsa_answer(true);
    add(&a, old, 3, 1, 1);
    cr_expect_eq(match(a, &r, NULL), MX_DANE_MATCH_EE, "expired, self-signed, other name");
    free(a);
    X509_free(old);
    EVP_PKEY_free(k);
}

Test(dane, ta_matches_presented_issuer)
{
    X509 *chain[] = {leaf, inter};
    struct mx_smtp_result r;
    probe_result(&r, chain, 2, "mx.example.test");
    cr_expect_eq(r.chain_links, 0x3, "leaf to itself and to the intermediate");
    const char *why;
    struct mx_answer *a = tlsa_answer(true);
    add(&a, inter, 2, 1, 1);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_TA);
    free(a);
    a = tlsa_answer(true);
    add(&a, inter, 2, 0, 2);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_TA, "2 0 2");
    free(a);
    a = tlsa_answer(true);
    add(&a, inter, 2, 0, 0);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_TA, "2 0 0");
    free(a);
    /* the root is not presented: RFC 7672 3.1.2 wants the TA in the chain */
    a = tlsa_answer(true);
    add(&a, root, 2, 1, 1);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_MISMATCH);
    cr_expect_str_eq(why, "");
    free(a);
    /* presented with the root: matches */
    X509 *full[] = {leaf, inter, root};
    probe_result(&r, full, 3, "mx.example.test");
    a = tlsa_answer(true);
    add(&a, root, 2, 1, 1);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_TA);
    free(a);
}

Test(dane, ta_needs_chain_and_name)
{
    /* an unrelated CA certificate presented along: its digest matches the
     * record but the leaf does not chain to it */
    X509 *chain[] = {leaf, inter, other};
    struct mx_smtp_result r;
    probe_result(&r, chain, 3, "mx.example.test");
    cr_expect_eq(r.chain_links & 0x4, 0);
    const char *why;
    struct mx_answer *a = tlsa_answer(true);
    add(&a, other, 2, 1, 1);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_MISMATCH);
    cr_expect_str_eq(why, "chain");
    free(a);
    /* the right TA, but the leaf is for another name */
    probe_result(&r, chain, 2, "mail.elsewhere.test");
    a = tlsa_answer(true);
    add(&a, inter, 2, 1, 1);
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_MISMATCH);
    cr_expect_str_eq(why, "name");
    free(a);
}

Test(dane, ta_dates)
{
    /* an expired intermediate as TA still anchors (its dates are the
     * record's business); an expired leaf under a TA does not verify */
    EVP_PKEY *ik = certs_key(), *lk = certs_key();
    X509 *old_inter = certs_make(ik, "old inter", NULL, root, root_key, -60 * DAY, -DAY, true);
    X509 *l2 = certs_make(lk, "mx.example.test", "mx.example.test", old_inter, ik, -DAY, DAY,
                          false);
    X509 *chain[] = {l2, old_inter};
    struct mx_smtp_result r;
    probe_result(&r, chain, 2, "mx.example.test");
    struct mx_answer *a = tlsa_answer(true);
    add(&a, old_inter, 2, 1, 1);
    cr_expect_eq(match(a, &r, NULL), MX_DANE_MATCH_TA);
    free(a);
    X509 *l3 = certs_make(lk, "mx.example.test", "mx.example.test", inter, inter_key,
                          -60 * DAY, -DAY, false);
    X509 *chain3[] = {l3, inter};
    probe_result(&r, chain3, 2, "mx.example.test");
    a = tlsa_answer(true);
    add(&a, inter, 2, 1, 1);
    const char *why;
    cr_expect_eq(match(a, &r, &why), MX_DANE_MATCH_MISMATCH);
    cr_expect_str_eq(why, "chain");
    free(a);
    X509_free(old_inter);
    X509_free(l2);
    X509_free(l3);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
}

Test(dane, no_tls_and_nothing_usable)
{
    struct mx_dane_rrset set;
    struct mx_answer *a = tlsa_answer(true);
    add(&a, leaf, 3, 1, 1);
    cr_assert_eq(mx_dane_rrset_judge(a, &set), MX_DANE_USABLE);
    struct mx_smtp_result r;
    memset(&r, 0, sizeof r);
    r.tls = MX_SMTP_TLS_NOT_OFFERED;
    cr_expect_eq(mx_dane_match(&set, &r, true, NULL), MX_DANE_MATCH_NO_TLS);
    free(a);
    a = tlsa_answer(true);
    add(&a, leaf, 1, 1, 1);
    cr_assert_eq(mx_dane_rrset_judge(a, &set), MX_DANE_UNUSABLE);
    X509 *chain[] = {leaf, inter};
    probe_result(&r, chain, 2, "mx.example.test");
    cr_expect_eq(mx_dane_match(&set, &r, true, NULL), MX_DANE_MATCH_NOT_CHECKED,
                 "PKIX-EE is not used");
    free(a);
    /* one usable record among unusable ones decides */
    a = tlsa_answer(true);
    add(&a, root, 0, 0, 1);
    add(&a, leaf, 3, 1, 2);
    cr_expect_eq(match(a, &r, NULL), MX_DANE_MATCH_EE);
    free(a);
}
