/* The per-domain procedure of SPEC section 1: the MX part (classify.c),
 * then SPF, DMARC and the providers, composed into one mx_result. Every
 * part asks the oracle for what it needs in the same pass, so a domain
 * takes few round trips: MX first, then exchange addresses, SPF and DMARC
 * together, then whatever those answers lead to. */
#include <stdio.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/cons_checks.h"
#include "mx/dmarc.h"
#include "mx/mx_checks.h"
#include "mx/names.h"
#include "mx/policy_checks.h"
#include "mx/record.h"
#include "mx/smtp_checks.h"
#include "mx/spf.h"
#include "mx/text.h"

/* SPEC "SPF is missing or broken". */
#define SPF_BROKEN_MASK                                                                      \
    (MX_FBIT(MX_F_SPF_MISSING) | MX_FBIT(MX_F_SPF_MULTIPLE) | MX_FBIT(MX_F_SPF_SYNTAX) |    \
     MX_FBIT(MX_F_SPF_INCLUDE_BROKEN) | MX_FBIT(MX_F_SPF_LOOKUP_LIMIT) |                   \
     MX_FBIT(MX_F_SPF_VOID_LIMIT))

static void spf_columns(const struct mx_spf_info *spf, struct mx_result *res)
{
    enum mx_spf_value v;
    if (spf->nrecords > 0)
        mx_result_set(res, MX_COL_SPF, spf->record);
    switch (spf->result) {
    case MX_SPF_NONE:
        v = MX_SPFV_NONE;
        break;
    case MX_SPF_TEMPERROR:
        v = MX_SPFV_TEMPERROR;
        break;
    case MX_SPF_PERMERROR:
        v = MX_SPFV_PERMERROR;
        break;
    default:
        v = MX_SPFV_OK; /* the outcome depends on the client address */
        break;
    }
    res->spf_result = (uint8_t)v;
    mx_result_set(res, MX_COL_SPF_RESULT, mx_value_name(MX_VC_SPF_RESULT, v));
    if (spf->parsed) {
        res->spf_counted = true;
        res->spf_lookups = spf->lookups;
        res->spf_voids = spf->voids;
        mx_result_append_u(res, MX_COL_SPF_LOOKUPS, spf->lookups);
        mx_result_append_u(res, MX_COL_SPF_VOIDS, spf->voids);
    }
}

/* What `mxscan check` says about the first address SPF does not pass. */
static void note_uncovered(struct mx_result *res, const char *ex, const struct mx_ip *ip,
                           enum mx_spf_result r, const struct mx_spf_trace *t)
{
    if (!res->explain)
        return;
    char a[64];
    mx_ip_format(ip, a, sizeof a);
    snprintf(res->explain->spf_cover, sizeof res->explain->spf_cover, "%s %s gets %s from check_host (%s%s)", ex,
             a, mx_spf_result_name(r), t->term[0] ? "decided by " : "no term matched",
             t->term);
}

/* spf_mx_not_covered: every address of every self-hosted exchange (same
 * organizational domain as the domain) must get pass from check_host with
 * the sender postmaster@<domain>. Returns false while answers are pending. */
static bool check_coverage(struct mx_oracle *o, const char *domain, const struct mx_mxset *set,
                           struct mx_result *res)
{
    char org[MX_NAME_MAX + 1], eorg[MX_NAME_MAX + 1];
    char sender[MX_NAME_MAX + 16];
    bool done = true, covered = true;

    mx_name_org_domain(domain, org, sizeof org);
    mx_text_join(sender, sizeof sender, "postmaster@", domain);
    for (unsigned i = 0; i < set->n; i++) {
        const struct mx_exchange *e = &set->ex[i];
        if (!e->looked_up || !e->a || !e->aaaa)
            continue;
        /* The exchange's organizational domain is a suffix of its name:
         * only a name at or below the domain's can share it (and only
         * then is libpsl asked). */
        if (!mx_name_has_suffix(e->name, org))
            continue;
        mx_name_org_domain(e->name, eorg, sizeof eorg);
        if (strcmp(org, eorg) != 0)
            continue;
        const struct mx_answer *ans[2] = {e->a, e->aaaa};
        for (int k = 0; k < 2; k++) {
            size_t off = 0;
            struct mx_rdata rd;
            if (ans[k]->rc != MX_RC_NOERROR)
                continue;
            while (mx_answer_next(ans[k], &off, &rd)) {
                struct mx_spf_trace trace;
                enum mx_spf_result r =
                    mx_spf_check_host(o, &rd.ip, domain, sender, NULL, &trace);
                if (r == MX_SPF_PENDING)
                    done = false;
                else if (r != MX_SPF_PASS && r != MX_SPF_TEMPERROR) {
                    if (covered) /* a failed look-up proves nothing */
                        note_uncovered(res, e->name, &rd.ip, r, &trace);
                    covered = false;
                }
            }
        }
    }
    if (!covered)
        res->findings |= MX_FBIT(MX_F_SPF_MX_NOT_COVERED);
    return done;
}

static void dmarc_columns(const struct mx_dmarc_info *dm, struct mx_result *res)
{
    res->findings |= dm->findings;
    if (dm->lookup_failed) {
        /* Unknown, not missing: say so, or the row reads like one scanned
         * without the DMARC check. */
        res->dmarc_source = MX_DSV_LOOKUP_FAILED;
        mx_result_set(res, MX_COL_DMARC_SOURCE, "lookup_failed");
        return;
    }
    if (dm->source == MX_DMARC_SRC_NONE)
        return;
    mx_result_set(res, MX_COL_DMARC, dm->record);
    res->dmarc_source =
        dm->source == MX_DMARC_SRC_DOMAIN ? MX_DSV_DOMAIN : MX_DSV_ORGANIZATIONAL;
    mx_result_set(res, MX_COL_DMARC_SOURCE, mx_value_name(MX_VC_DMARC_SOURCE, res->dmarc_source));
    if (dm->valid && dm->policy != MX_DMARC_P_UNSET) {
        res->dmarc_policy = dm->policy == MX_DMARC_P_NONE         ? MX_DPV_NONE
                            : dm->policy == MX_DMARC_P_QUARANTINE ? MX_DPV_QUARANTINE
                                                                  : MX_DPV_REJECT;
        mx_result_set(res, MX_COL_DMARC_POLICY,
                      mx_value_name(MX_VC_DMARC_POLICY, res->dmarc_policy));
    }
}

static void add_id(uint16_t *ids, uint16_t *n, uint16_t id, struct mx_result *res,
                   enum mx_column col, const struct mx_providers *prov)
{
    if (id == MX_PROVIDER_NONE)
        return;
    for (uint16_t i = 0; i < *n; i++)
        if (ids[i] == id)
            return;
    if (*n >= MX_MAX_PROVIDERS) {
        res->overflow = true;
        return;
    }
    ids[(*n)++] = id;
    if (res->col_len[col] > 0)
        mx_result_append(res, col, ";", 1);
    const char *name = mx_providers_name(prov, id);
    mx_result_append(res, col, name, strlen(name));
}

/* provider_mismatch (SPEC precise rules): the exchanges belong to mailbox
 * provider P (every exchange, the null MX's "." aside, is attributed to P,
 * usable or not: MX left at a former provider that has already removed the
 * tenant is the case to catch), and SPF authorizes another mailbox
 * provider but not P. */
static bool provider_mismatch(const struct mx_providers *prov, const struct mx_mxset *set,
                              const struct mx_spf_info *spf)
{
    uint16_t p = MX_PROVIDER_NONE;
    for (unsigned i = 0; i < set->n; i++) {
        uint16_t id = mx_providers_by_exchange(prov, set->ex[i].name);
        if (id == MX_PROVIDER_NONE || (i > 0 && id != p))
            return false;
        p = id;
    }
    if (set->n == 0 || mx_providers_kind(prov, p) != MX_PROVIDER_MAILBOX)
        return false;
    bool has_p = false, other = false;
    for (unsigned i = 0; i < spf->n_includes && i < MX_SPF_MAX_INCLUDES; i++) {
        uint16_t q = mx_providers_by_include(prov, spf->includes[i]);
        if (q == p)
            has_p = true;
        else if (q != MX_PROVIDER_NONE && mx_providers_kind(prov, q) == MX_PROVIDER_MAILBOX)
            other = true;
    }
    return other && !has_p;
}

static void providers(const struct mx_analyze_cfg *cfg, const struct mx_mxset *set,
                      const struct mx_spf_info *spf, struct mx_result *res)
{
    const struct mx_providers *prov = cfg->providers;
    for (unsigned i = 0; i < set->n; i++)
        add_id(res->providers, &res->n_providers,
               mx_providers_by_exchange(prov, set->ex[i].name), res, MX_COL_PROVIDERS, prov);
    if (!spf)
        return;
    for (unsigned i = 0; i < spf->n_includes && i < MX_SPF_MAX_INCLUDES; i++)
        add_id(res->spf_providers, &res->n_spf_providers,
               mx_providers_by_include(prov, spf->includes[i]), res, MX_COL_SPF_PROVIDERS,
               prov);
    if (provider_mismatch(prov, set, spf))
        res->findings |= MX_FBIT(MX_F_PROVIDER_MISMATCH);
}

bool mx_analyze(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                struct mx_result *res)
{
    struct mx_mxset set;
    struct mx_spf_info spf;
    struct mx_dmarc_info dm;
    bool done, spf_done = false;

    mx_result_reset(res);
    mx_result_set(res, MX_COL_DOMAIN, domain);
    /* The MX part always runs: it gives the status and the mail status. */
    done = mx_checks_mx(cfg, domain, o, res, &set);
    if (!set.mx_answered)
        return false;
    if (!set.exists)
        goto out; /* NXDOMAIN or a failed MX query: nothing else is asked */
    if ((cfg->checks & MX_CHECK_SMTP) && set.complete &&
        !mx_checks_smtp(cfg, domain, o, &set, res))
        done = false;
    /* MTA-STS, TLS-RPT, DANE: the domain's own records are asked at once,
     * the exchanges' TLSA records once the MX set is complete. */
    if ((cfg->checks & (MX_CHECK_MTA_STS | MX_CHECK_DANE | MX_CHECK_TLSRPT)) &&
        !mx_checks_policy(cfg, domain, o, &set, res))
        done = false;

    if (cfg->checks & MX_CHECK_SPF) {
        spf_done = mx_spf_analyze(o, domain, &spf);
        if (!spf_done) {
            done = false;
        } else {
            res->findings |= spf.findings & ~MX_FBIT(MX_F_SPF_MX_NOT_COVERED);
            spf_columns(&spf, res);
            if (spf.error[0] && res->explain)
                snprintf(res->explain->spf_problem, sizeof res->explain->spf_problem, "%s",
                         spf.error);
            if (spf.parsed && spf.nrecords == 1 && !set.implicit &&
                !check_coverage(o, domain, &set, res))
                done = false;
        }
    }
    if (cfg->checks & MX_CHECK_DMARC) {
        if (!mx_dmarc_analyze(o, domain, &dm)) {
            done = false;
        } else {
            dmarc_columns(&dm, res);
            if (spf_done && dm.valid &&
                (dm.policy == MX_DMARC_P_QUARANTINE || dm.policy == MX_DMARC_P_REJECT) &&
                (spf.findings & SPF_BROKEN_MASK))
                res->findings |= MX_FBIT(MX_F_DMARC_ENFORCED_WITHOUT_SPF);
        }
    }
    if (done && cfg->providers)
        providers(cfg, &set, spf_done ? &spf : NULL, res);
out:
    /* Consistency last (a domain holds at most MX_HELD_MAX look-ups: the
     * default checks come first), and also where the MX look-up failed:
     * lame servers are a common cause. A domain that does not exist has no
     * servers. */
    if ((cfg->checks & MX_CHECK_CONSISTENCY) && res->status != MX_RC_NXDOMAIN &&
        !mx_checks_consistency(domain, o, res))
        done = false;
    if (!done)
        return false;
    mx_result_render_findings(res);
    return true;
}

void mx_analyze_invalid(const char *shown, struct mx_result *res)
{
    mx_result_reset(res);
    res->status = MX_RC_INVALID;
    res->mail = MX_MAIL_INVALID;
    res->findings = MX_FBIT(MX_F_DOMAIN_INVALID_NAME);
    mx_result_set(res, MX_COL_DOMAIN, shown);
    mx_result_render_findings(res);
}

bool mx_analyze_record(void *acfg, struct mx_record *rec, struct mx_oracle *o)
{
    return mx_analyze(acfg, rec->domain, o, &rec->res);
}
