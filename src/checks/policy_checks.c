/* Transport security policies in scans: the gathering (policy_checks.h).
 * What is asked, per domain (each only with its check):
 *   TXT _mta-sts.<domain>; with one valid STS record, A and AAAA of
 *   mta-sts.<domain>, then the policy through the MX_QT_MTA_STS provider
 *   (key "DOMAIN|ADDR,ADDR...", at most MX_STS_ADDR_MAX addresses);
 *   TXT _smtp._tls.<domain>;
 *   per usable exchange (the domain itself for implicit MX), TLSA at the
 *   RFC 7672 2.2.2 base names (mx_dane_base_names: the CNAME-expanded name
 *   first when the address answer went through a validated CNAME, then the
 *   exchange name after a validated NXDOMAIN/NODATA), shared like the
 *   exchanges' addresses; with the SMTP probe, each probed address's result
 *   (the smtp_* checks' own request) for mta_sts_tls_fails and DANE matching.
 * The rules are in policy_rules.c. */
#include <stdio.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/engine.h"
#include "mx/policy_checks.h"
#include "mx/smtp_checks.h"

/* ---- MTA-STS ---- */

/* The policy host's addresses, "ADDR,ADDR" appended to key; how many. */
static size_t host_addresses(const struct mx_answer *a, const struct mx_answer *aaaa, char *key,
                             size_t keylen)
{
    const struct mx_answer *ans[2] = {a, aaaa};
    size_t n = 0, used = strlen(key);
    for (int k = 0; k < 2; k++) {
        size_t off = 0;
        struct mx_rdata rd;
        while (n < MX_STS_ADDR_MAX && ans[k]->rc == MX_RC_NOERROR &&
               mx_answer_next(ans[k], &off, &rd)) {
            char ip[64];
            mx_ip_format(&rd.ip, ip, sizeof ip);
            int w = snprintf(key + used, keylen - used, "%s%s", n ? "," : "", ip);
            if (w < 0 || (size_t)w >= keylen - used)
                return n; /* cannot happen with the sizes below; keep what fits */
            used += (size_t)w;
            n++;
        }
    }
    return n;
}

/* The record, the policy host and the fetch; false while pending. */
static bool sts_gather(struct mx_oracle *o, const char *domain, struct mx_policy_facts *f)
{
    char name[MX_NAME_MAX + 16];
    snprintf(name, sizeof name, "_mta-sts.%s", domain);
    const struct mx_answer *txt = mx_oracle_get(o, name, MX_T_TXT, 0);
    if (!txt)
        return false;
    f->sts_rc = txt->rc;
    if (txt->rc == MX_RC_NOERROR)
        mx_sts_record_judge(txt, &f->sts);
    if (f->sts.records == 0 || f->sts.verdict != MX_STS_REC_OK)
        return true;
    snprintf(name, sizeof name, "mta-sts.%s", domain);
    const struct mx_answer *a = mx_oracle_get(o, name, MX_T_A, 0);
    const struct mx_answer *aaaa = mx_oracle_get(o, name, MX_T_AAAA, 0);
    if (!a || !aaaa)
        return false;
    /* domain, "|", and MX_STS_ADDR_MAX addresses of at most 45 characters */
    char key[MX_NAME_MAX + 2 + MX_STS_ADDR_MAX * 64];
    snprintf(key, sizeof key, "%s|", domain);
    if (host_addresses(a, aaaa, key, sizeof key) == 0) {
        if (mx_answer_failed(a) || mx_answer_failed(aaaa))
            f->host_failed = true; /* proves nothing */
        else
            f->no_address = true;
        return true;
    }
    const struct mx_answer *r = mx_oracle_get(o, key, MX_QT_MTA_STS, MX_Q_SHARED);
    if (!r)
        return false;
    f->fetch = mx_answer_blob_data(r, sizeof *f->fetch);
    f->fetch_failed = f->fetch == NULL;
    return true;
}

static void sts_fetch_column(const struct mx_policy_facts *f, struct mx_result *res)
{
    enum mx_column c = MX_COL_MTA_STS_FETCH;
    const struct mx_sts_fetch_result *r = f->fetch;
    if (f->host_failed)
        mx_result_set(res, c, "host_lookup_failed");
    else if (f->no_address)
        mx_result_set(res, c, "no_address");
    else if (f->fetch_failed)
        mx_result_set(res, c, "local_error");
    if (!r)
        return;
    mx_result_set(res, c, mx_sts_fetch_outcome_name(r->outcome));
    if (r->outcome == MX_STS_FETCH_HTTP_STATUS || r->outcome == MX_STS_FETCH_REDIRECT)
        mx_result_appendf(res, c, ":%ld", r->status);
    else if (r->outcome == MX_STS_FETCH_BAD_CONTENT_TYPE)
        mx_result_appendf(res, c, ":%s", r->content_type);
    else if (r->outcome == MX_STS_FETCH_CERT_INVALID && r->cert_error[0])
        mx_result_appendf(res, c, ":%s", r->cert_error);
}

static void sts_columns(const struct mx_policy_facts *f, struct mx_result *res)
{
    mx_result_set(res, MX_COL_MTA_STS_MODE, mx_sts_state_name(mx_policy_sts_state(f)));
    if (mx_rc_failed(f->sts_rc))
        mx_result_set(res, MX_COL_MTA_STS_RECORD, "lookup_failed");
    else if (f->sts.records > 0)
        mx_result_set(res, MX_COL_MTA_STS_RECORD, mx_sts_rec_name(f->sts.verdict));
    mx_result_set(res, MX_COL_MTA_STS_ID, f->sts.id);
    sts_fetch_column(f, res);
    if (!f->fetch || f->fetch->outcome != MX_STS_FETCH_OK)
        return;
    const struct mx_sts_policy *p = &f->fetch->policy;
    mx_result_set(res, MX_COL_MTA_STS_POLICY, mx_sts_pol_name(p->verdict));
    if (p->verdict != MX_STS_POL_OK) {
        if (p->bad_line)
            mx_result_appendf(res, MX_COL_MTA_STS_POLICY, ":%u", p->bad_line);
        return;
    }
    mx_result_append_u(res, MX_COL_MTA_STS_MAX_AGE, p->max_age);
    for (unsigned i = 0; i < p->n_mx; i++) { /* straight into the row: any length is safe */
        if (i)
            mx_result_append(res, MX_COL_MTA_STS_MX, ";", 1);
        mx_result_appends(res, MX_COL_MTA_STS_MX, mx_sts_policy_mx(p, i));
    }
}

/* ---- TLS-RPT ---- */

static bool rpt_gather(struct mx_oracle *o, const char *domain, struct mx_policy_facts *f)
{
    char name[MX_NAME_MAX + 16];
    snprintf(name, sizeof name, "_smtp._tls.%s", domain);
    const struct mx_answer *txt = mx_oracle_get(o, name, MX_T_TXT, 0);
    if (!txt)
        return false;
    f->rpt_rc = txt->rc;
    if (txt->rc == MX_RC_NOERROR)
        mx_tlsrpt_judge(txt, &f->rpt);
    return true;
}

static void rpt_columns(const struct mx_policy_facts *f, struct mx_result *res)
{
    if (mx_rc_failed(f->rpt_rc))
        mx_result_set(res, MX_COL_TLSRPT, "lookup_failed");
    else
        mx_result_set(res, MX_COL_TLSRPT, mx_tlsrpt_name(f->rpt.records ? f->rpt.verdict
                                                                        : MX_TLSRPT_NONE));
    if (f->rpt.records > 0)
        mx_result_set(res, MX_COL_TLSRPT_RUA, f->rpt.rua);
}

/* ---- DANE ---- */

/* The address answer whose CNAME expansion gives the TLSA base name: A,
 * or AAAA when only AAAA has records. */
static const struct mx_answer *address_answer(const struct mx_exchange *e)
{
    if (e->a && e->a->rc == MX_RC_NOERROR && e->a->count > 0)
        return e->a;
    if (e->aaaa && e->aaaa->rc == MX_RC_NOERROR && e->aaaa->count > 0)
        return e->aaaa;
    return e->a;
}

/* The TLSA records of one exchange into *set, the owner name asked last
 * into owner; false while pending. */
static bool tlsa_of(struct mx_oracle *o, const struct mx_exchange *e, struct mx_dane_rrset *set,
                    char owner[MX_DANE_OWNER_MAX + 1])
{
    char owners[2][MX_DANE_OWNER_MAX + 1];
    unsigned n = mx_dane_base_names(e->name, address_answer(e), owners);
    owner[0] = 0;
    if (n == 0) { /* a name too long for "_25._tcp." */
        mx_dane_rrset_judge(NULL, set);
        return true;
    }
    unsigned used = 0;
    const struct mx_answer *t = mx_oracle_get(o, owners[0], MX_T_TLSA, MX_Q_SHARED);
    if (!t)
        return false;
    if (n > 1 && mx_dane_try_next(t)) {
        used = 1;
        t = mx_oracle_get(o, owners[1], MX_T_TLSA, MX_Q_SHARED);
        if (!t)
            return false;
    }
    mx_dane_rrset_judge(t, set);
    memcpy(owner, owners[used], sizeof owners[used]);
    return true;
}

/* "EXCHANGE[>BASE]=STATE[:USABLE/RECORDS]" */
static void dane_column(struct mx_result *res, const char *ex, const char *owner,
                        const struct mx_dane_rrset *set)
{
    enum mx_column c = MX_COL_DANE;
    if (res->col_len[c] > 0)
        mx_result_append(res, c, ";", 1);
    mx_result_appends(res, c, ex);
    const char *base = strncmp(owner, "_25._tcp.", 9) == 0 ? owner + 9 : owner;
    if (base[0] && strcmp(base, ex) != 0) {
        mx_result_append(res, c, ">", 1);
        mx_result_appends(res, c, base);
    }
    mx_result_append(res, c, "=", 1);
    mx_result_appends(res, c, mx_dane_state_name(set->state));
    if (set->n > 0)
        mx_result_appendf(res, c, ":%u/%u%s", set->n_usable, set->n, set->truncated ? "+" : "");
}

/* ---- the probe's results ---- */

static const char *tls_problem(const struct mx_smtp_result *r)
{
    if (r->ehlo_code / 100 != 2)
        return "EHLO refused, so no STARTTLS";
    if (!r->starttls)
        return "no STARTTLS offered";
    switch (r->tls) {
    case MX_SMTP_TLS_REFUSED:
        return "STARTTLS refused";
    case MX_SMTP_TLS_FAILED:
        return "the TLS handshake failed";
    case MX_SMTP_TLS_OK:
        break;
    default:
        return "no TLS";
    }
    switch (r->cert) {
    case MX_SMTP_CERT_EXPIRED:
        return "the certificate has expired";
    case MX_SMTP_CERT_NOT_YET_VALID:
        return "the certificate is not yet valid";
    case MX_SMTP_CERT_WRONG_NAME:
        return "the certificate is not valid for the exchange name";
    case MX_SMTP_CERT_SELF_SIGNED:
        return "the certificate is self-signed";
    case MX_SMTP_CERT_INCOMPLETE_CHAIN:
        return "the certificate chain is incomplete (or from an unknown CA)";
    default:
        return "the certificate does not validate";
    }
}

/* "EXCHANGE@ADDR=MATCH[:WHY]" */
static void match_column(struct mx_result *res, const struct mx_smtp_result *r, const char *m,
                         const char *why)
{
    char ip[64];
    mx_ip_format(&r->addr, ip, sizeof ip);
    if (res->col_len[MX_COL_DANE_MATCH] > 0)
        mx_result_append(res, MX_COL_DANE_MATCH, ";", 1);
    mx_result_appendf(res, MX_COL_DANE_MATCH, "%s@%s=%s%s%s", r->exchange, ip, m,
                      why && why[0] ? ":" : "", why ? why : "");
}

/* One probed address: TLS for MTA-STS, the TLSA match when tlsa is set. */
static void judge_address(const struct mx_smtp_result *r, const struct mx_dane_rrset *tlsa,
                          struct mx_policy_exchange *x, struct mx_result *res)
{
    if (r->conn == MX_SMTP_CONN_NOT_ALLOWED)
        return;
    if (!mx_smtp_greeted(r)) {
        if (tlsa)
            match_column(res, r, "not_reached", NULL);
        return;
    }
    x->greeted++;
    if (!(r->tls == MX_SMTP_TLS_OK && r->cert == MX_SMTP_CERT_VALID) && !x->tls_bad) {
        x->tls_bad = true;
        x->tls_bad_ip = r->addr;
        x->tls_why = tls_problem(r);
    }
    if (!tlsa)
        return;
    const char *why = "";
    enum mx_dane_match m = mx_dane_match(tlsa, r, mx_dane_name_ok(r), &why);
    match_column(res, r, mx_dane_match_name(m), why);
    if ((m == MX_DANE_MATCH_MISMATCH || m == MX_DANE_MATCH_NO_TLS) && !x->dane_bad) {
        x->dane_bad = true;
        x->dane_bad_ip = r->addr;
        x->dane_match = m;
        x->dane_why = why;
    }
}

struct probed {
    const struct mx_dane_rrset *tlsa;
    struct mx_policy_exchange *x;
    struct mx_result *res;
};

static void probed_address(const struct mx_smtp_result *r, void *ud)
{
    struct probed *p = ud;
    judge_address(r, p->tlsa, p->x, p->res);
}

/* The probe results of every allowed address of e; false while pending. */
static bool probe_exchange(const struct mx_analyze_cfg *cfg, const char *domain,
                           struct mx_oracle *o, const struct mx_exchange *e,
                           const struct mx_dane_rrset *tlsa, struct mx_policy_exchange *x,
                           struct mx_result *res)
{
    struct probed p = {tlsa, x, res};
    x->probed = mx_smtp_probe_each(cfg, domain, o, e, probed_address, &p);
    return x->probed;
}

/* ---- the exchanges ---- */

/* One usable exchange: its TLSA records, its probe results. */
static bool one_exchange(const struct mx_analyze_cfg *cfg, const char *domain,
                         struct mx_oracle *o, const struct mx_exchange *e,
                         struct mx_policy_exchange *x, struct mx_result *res)
{
    struct mx_dane_rrset tlsa;
    char owner[MX_DANE_OWNER_MAX + 1];
    const struct mx_dane_rrset *match = NULL;
    if (cfg->checks & MX_CHECK_DANE) {
        if (!tlsa_of(o, e, &tlsa, owner))
            return false;
        x->dane_asked = true;
        x->dane = tlsa.state;
        x->tlsa_n = tlsa.n;
        x->tlsa_usable = tlsa.n_usable;
        x->tlsa_problems = tlsa.problems;
        dane_column(res, e->name, owner, &tlsa);
        if (tlsa.state == MX_DANE_USABLE)
            match = &tlsa;
    }
    if (cfg->checks & MX_CHECK_SMTP)
        return probe_exchange(cfg, domain, o, e, match, x, res);
    return true;
}

static bool exchanges_gather(const struct mx_analyze_cfg *cfg, const char *domain,
                             struct mx_oracle *o, const struct mx_mxset *set,
                             struct mx_policy_facts *f, struct mx_result *res)
{
    struct mx_mxset one;
    bool done = true;
    if (set->implicit) { /* the domain itself is the one exchange senders try */
        mx_checks_implicit_set(cfg, domain, o, &one);
        set = &one;
    }
    for (unsigned i = 0; i < set->n && f->n < MX_EXCHANGES_MAX; i++) {
        const struct mx_exchange *e = &set->ex[i];
        struct mx_policy_exchange *x = &f->ex[f->n++];
        x->name = e->name;
        if (e->usable && (cfg->checks & (MX_CHECK_DANE | MX_CHECK_SMTP)) &&
            !one_exchange(cfg, domain, o, e, x, res))
            done = false;
    }
    return done;
}

bool mx_checks_policy(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                      const struct mx_mxset *set, struct mx_result *res)
{
    struct mx_policy_facts f;
    memset(&f, 0, sizeof f);
    f.checks = cfg->checks;
    f.domain = domain;
    f.sts_rc = f.rpt_rc = MX_RC_NOERROR;
    bool done = true;
    if ((cfg->checks & MX_CHECK_MTA_STS) && !sts_gather(o, domain, &f))
        done = false;
    if ((cfg->checks & MX_CHECK_TLSRPT) && !rpt_gather(o, domain, &f))
        done = false;
    if (!set->complete)
        return false; /* the exchanges are not known yet */
    if ((cfg->checks & (MX_CHECK_MTA_STS | MX_CHECK_DANE)) &&
        !exchanges_gather(cfg, domain, o, set, &f, res))
        done = false;
    if (!done)
        return false;
    f.have_exchanges = true;
    if (cfg->checks & MX_CHECK_MTA_STS)
        sts_columns(&f, res);
    if (cfg->checks & MX_CHECK_TLSRPT)
        rpt_columns(&f, res);
    mx_findings_t found = mx_policy_findings(&f);
    res->findings |= found;
    if (res->explain)
        mx_policy_notes(&f, found, res->explain->policy_notes,
                        sizeof res->explain->policy_notes);
    return true;
}
