/* The transport security policies' rules (policy_checks.h): pure functions
 * of the gathered facts. Readings (README, "Transport security policies in
 * scans"):
 * - mta_sts_invalid: a v=STSv1 record exists and the record, the fetch or
 *   the policy is not ok (RFC 8461 3.1, 3.2, 3.3). A failed look-up of the
 *   TXT record or of the policy host, and failures on our side
 *   (local_error, aborted), are not judged (state unknown); a policy host
 *   without A/AAAA, without a globally reachable address (not_allowed), a
 *   timeout or a refused connection are: no sender can fetch that policy.
 * - mta_sts_mx_mismatch: valid policy, mode testing or enforce, and an
 *   exchange of the MX set (the domain itself for implicit MX) matches no
 *   mx pattern (RFC 8461 4.1).
 * - mta_sts_tls_fails: mode enforce, and a probed address of a matching
 *   exchange greeted, then offered no STARTTLS, failed the handshake or
 *   presented a certificate not valid for the exchange name (RFC 8461 4.2,
 *   5). An address that does not greet is an smtp_* finding, not this one.
 * - tlsrpt_invalid: a v=TLSRPTv1 record exists and is not ok (RFC 8460 3).
 * - tlsrpt_missing: an STS record exists (mta-sts check) or an exchange has
 *   validated TLSA records (usable or unusable; dane check), and the TLS-RPT
 *   look-up found no record (a failed look-up proves nothing).
 * - dane_tlsa_unsigned: an exchange has TLSA records without the AD bit.
 * - dane_tlsa_invalid: a validated RRset holds an unusable record (RFC 7672
 *   3.1, 3.1.3).
 * - dane_tlsa_mismatch: with the probe, a greeted address of an exchange
 *   with usable records presents nothing they match, or no TLS at all
 *   (RFC 7672 2.2, 3.1).
 * - dane_partial: some exchanges have validated TLSA records (usable or
 *   unusable) and others none (none or unsigned); a failed TLSA look-up
 *   counts as neither. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/policy_checks.h"

static const char *const state_names[] = {
#define X(n, l) l,
    MX_STS_STATE_MAP(X)
#undef X
};

const char *mx_sts_state_name(enum mx_sts_state s)
{
    return (unsigned)s < MX_STS_STATE_COUNT ? state_names[s] : "?";
}

enum mx_sts_state mx_sts_state_from_name(const char *s)
{
    for (unsigned i = 0; i < MX_STS_STATE_COUNT; i++)
        if (strcmp(state_names[i], s) == 0)
            return (enum mx_sts_state)i;
    return MX_STS_STATE_COUNT;
}

const struct mx_sts_policy *mx_policy_valid_policy(const struct mx_policy_facts *f)
{
    if (!f->fetch || f->fetch->outcome != MX_STS_FETCH_OK ||
        f->fetch->policy.verdict != MX_STS_POL_OK)
        return NULL;
    return &f->fetch->policy;
}

/* The fetch outcomes that say nothing about the domain. */
static bool ours(enum mx_sts_fetch_outcome o)
{
    return o == MX_STS_FETCH_LOCAL_ERROR || o == MX_STS_FETCH_ABORTED;
}

enum mx_sts_state mx_policy_sts_state(const struct mx_policy_facts *f)
{
    if (f->sts_rc != MX_RC_NOERROR && f->sts_rc != MX_RC_NXDOMAIN)
        return MX_STS_STATE_UNKNOWN;
    if (f->sts.records == 0)
        return MX_STS_STATE_ABSENT;
    if (f->sts.verdict != MX_STS_REC_OK)
        return MX_STS_STATE_INVALID;
    if (f->no_address)
        return MX_STS_STATE_INVALID;
    if (f->host_failed || f->fetch_failed || !f->fetch || ours(f->fetch->outcome))
        return MX_STS_STATE_UNKNOWN;
    const struct mx_sts_policy *p = mx_policy_valid_policy(f);
    if (!p)
        return MX_STS_STATE_INVALID;
    switch (p->mode) {
    case MX_STS_MODE_ENFORCE:
        return MX_STS_STATE_ENFORCE;
    case MX_STS_MODE_TESTING:
        return MX_STS_STATE_TESTING;
    default:
        return MX_STS_STATE_NONE;
    }
}

static mx_findings_t sts_findings(const struct mx_policy_facts *f)
{
    enum mx_sts_state st = mx_policy_sts_state(f);
    if (st == MX_STS_STATE_INVALID)
        return MX_FBIT(MX_F_MTA_STS_INVALID);
    if (st != MX_STS_STATE_TESTING && st != MX_STS_STATE_ENFORCE)
        return 0;
    const struct mx_sts_policy *p = mx_policy_valid_policy(f);
    mx_findings_t out = 0;
    for (unsigned i = 0; f->have_exchanges && i < f->n; i++) {
        const struct mx_policy_exchange *x = &f->ex[i];
        if (!mx_sts_policy_matches(p, x->name))
            out |= MX_FBIT(MX_F_MTA_STS_MX_MISMATCH);
        else if (st == MX_STS_STATE_ENFORCE && x->tls_bad)
            out |= MX_FBIT(MX_F_MTA_STS_TLS_FAILS);
    }
    return out;
}

static bool validated(enum mx_dane_state s)
{
    return s == MX_DANE_USABLE || s == MX_DANE_UNUSABLE;
}

/* The DANE findings; *with: exchanges with validated TLSA records. */
static mx_findings_t dane_findings(const struct mx_policy_facts *f, unsigned *with)
{
    mx_findings_t out = 0;
    unsigned without = 0;
    *with = 0;
    for (unsigned i = 0; f->have_exchanges && i < f->n; i++) {
        const struct mx_policy_exchange *x = &f->ex[i];
        if (!x->dane_asked)
            continue;
        if (x->dane == MX_DANE_UNSIGNED)
            out |= MX_FBIT(MX_F_DANE_TLSA_UNSIGNED);
        if (validated(x->dane) && x->tlsa_usable < x->tlsa_n)
            out |= MX_FBIT(MX_F_DANE_TLSA_INVALID);
        if (x->dane_bad)
            out |= MX_FBIT(MX_F_DANE_TLSA_MISMATCH);
        if (validated(x->dane))
            (*with)++;
        else if (x->dane == MX_DANE_NONE || x->dane == MX_DANE_UNSIGNED)
            without++;
    }
    if (*with > 0 && without > 0)
        out |= MX_FBIT(MX_F_DANE_PARTIAL);
    return out;
}

mx_findings_t mx_policy_findings(const struct mx_policy_facts *f)
{
    mx_findings_t out = 0;
    unsigned with = 0;
    if (f->checks & MX_CHECK_MTA_STS)
        out |= sts_findings(f);
    if (f->checks & MX_CHECK_DANE)
        out |= dane_findings(f, &with);
    if (f->checks & MX_CHECK_TLSRPT) {
        bool rpt_known = f->rpt_rc == MX_RC_NOERROR || f->rpt_rc == MX_RC_NXDOMAIN;
        bool deployed = ((f->checks & MX_CHECK_MTA_STS) && f->sts.records > 0) || with > 0;
        if (f->rpt.records > 0 && f->rpt.verdict != MX_TLSRPT_OK)
            out |= MX_FBIT(MX_F_TLSRPT_INVALID);
        if (rpt_known && f->rpt.records == 0 && deployed)
            out |= MX_FBIT(MX_F_TLSRPT_MISSING);
    }
    return out;
}

/* ---- notes for `mxscan check` ---- */

struct out {
    char *buf;
    size_t len, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->pos + 1 >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n;
    if (o->pos >= o->len)
        o->pos = o->len - 1; /* cut: vsnprintf left it terminated */
}

static const char *record_reason(enum mx_sts_rec v)
{
    switch (v) {
    case MX_STS_REC_MULTIPLE:
        return "more than one record starts with v=STSv1 (RFC 8461 3.1 wants exactly one)";
    case MX_STS_REC_SYNTAX:
        return "the record does not follow the syntax of RFC 8461 3.1";
    case MX_STS_REC_NO_ID:
        return "the record has no id= field (RFC 8461 3.1)";
    case MX_STS_REC_BAD_ID:
        return "id= is not 1 to 32 letters and digits (RFC 8461 3.1)";
    case MX_STS_REC_DUP_ID:
        return "id= is given twice (RFC 8461 3.1)";
    default:
        return mx_sts_rec_name(v);
    }
}

static void fetch_reason(struct out *o, const struct mx_sts_fetch_result *r)
{
    put(o, "GET https://%s/.well-known/mta-sts.txt: %s", r->host,
        mx_sts_fetch_outcome_name(r->outcome));
    switch (r->outcome) {
    case MX_STS_FETCH_HTTP_STATUS:
        put(o, " %ld (RFC 8461 3.3 wants 200)", r->status);
        break;
    case MX_STS_FETCH_REDIRECT:
        put(o, " %ld, which senders do not follow (RFC 8461 3.3)", r->status);
        break;
    case MX_STS_FETCH_BAD_CONTENT_TYPE:
        put(o, " '%s', not text/plain (RFC 8461 3.2)", r->content_type);
        break;
    case MX_STS_FETCH_TOO_BIG:
        put(o, ": more than the 64 KiB senders read (RFC 8461 3.3)");
        break;
    case MX_STS_FETCH_CERT_INVALID:
        put(o, ": %s (RFC 8461 3.3 wants a certificate valid for %s)",
            r->cert_error[0] ? r->cert_error : "not valid", r->host);
        break;
    case MX_STS_FETCH_NOT_ALLOWED:
        put(o, ": no address of the policy host is globally reachable");
        break;
    case MX_STS_FETCH_OK:
        put(o, ", but the policy is %s", mx_sts_pol_name(r->policy.verdict));
        if (r->policy.bad_line)
            put(o, " at line %u", r->policy.bad_line);
        put(o, " (RFC 8461 3.2)");
        break;
    default:
        if (r->error[0])
            put(o, " (%s)", r->error);
        break;
    }
}

static void note_sts_invalid(struct out *o, const struct mx_policy_facts *f)
{
    put(o, "%s: ", mx_finding_label(MX_F_MTA_STS_INVALID));
    if (f->sts.verdict != MX_STS_REC_OK)
        put(o, "_mta-sts.%s: %s", f->domain, record_reason(f->sts.verdict));
    else if (f->no_address)
        put(o, "mta-sts.%s has no A or AAAA record: the policy cannot be fetched", f->domain);
    else if (f->fetch)
        fetch_reason(o, f->fetch);
    put(o, "\n");
}

static void note_mismatch(struct out *o, const struct mx_policy_facts *f)
{
    const struct mx_sts_policy *p = mx_policy_valid_policy(f);
    for (unsigned i = 0; p && i < f->n; i++) {
        if (mx_sts_policy_matches(p, f->ex[i].name))
            continue;
        put(o, "%s: %s matches none of the policy's mx patterns (",
            mx_finding_label(MX_F_MTA_STS_MX_MISMATCH), f->ex[i].name);
        for (unsigned k = 0; k < p->n_mx; k++)
            put(o, "%s%s", k ? ", " : "", mx_sts_policy_mx(p, k));
        put(o, "%s)\n", p->mx_truncated ? ", ..." : "");
        return;
    }
}

static void note_tls_fails(struct out *o, const struct mx_policy_facts *f)
{
    const struct mx_sts_policy *p = mx_policy_valid_policy(f);
    for (unsigned i = 0; p && i < f->n; i++) {
        const struct mx_policy_exchange *x = &f->ex[i];
        if (!x->tls_bad || !mx_sts_policy_matches(p, x->name))
            continue;
        char a[64];
        mx_ip_format(&x->tls_bad_ip, a, sizeof a);
        put(o, "%s: %s (%s): %s\n", mx_finding_label(MX_F_MTA_STS_TLS_FAILS), x->name, a,
            x->tls_why ? x->tls_why : "no valid TLS");
        return;
    }
}

static void note_tlsrpt(struct out *o, const struct mx_policy_facts *f)
{
    put(o, "%s: _smtp._tls.%s: %s", mx_finding_label(MX_F_TLSRPT_INVALID), f->domain,
        mx_tlsrpt_name(f->rpt.verdict));
    if (f->rpt.verdict == MX_TLSRPT_MULTIPLE)
        put(o, " (%u records start with v=TLSRPTv1)", f->rpt.records);
    else if (f->rpt.rua[0])
        put(o, " (rua=%s)", f->rpt.rua);
    put(o, "\n");
}

static void problems(struct out *o, uint32_t bits)
{
    bool first = true;
    for (unsigned u = 0; u < 32; u++)
        if (bits & (1u << u)) {
            put(o, "%s%s", first ? "" : ", ", mx_tlsa_use_name((enum mx_tlsa_use)u));
            first = false;
        }
}

static void note_dane(struct out *o, const struct mx_policy_facts *f, enum mx_finding code)
{
    for (unsigned i = 0; i < f->n; i++) {
        const struct mx_policy_exchange *x = &f->ex[i];
        char a[64];
        if (code == MX_F_DANE_TLSA_UNSIGNED && x->dane_asked && x->dane == MX_DANE_UNSIGNED) {
            put(o, "%s: %s: TLSA records (%u) in an answer without the AD bit: the resolver "
                   "did not validate them\n",
                mx_finding_label(code), x->name, x->tlsa_n);
            return;
        }
        if (code == MX_F_DANE_TLSA_INVALID && x->dane_asked && validated(x->dane) &&
            x->tlsa_usable < x->tlsa_n) {
            put(o, "%s: %s: %u of %u TLSA records unusable (", mx_finding_label(code), x->name,
                x->tlsa_n - x->tlsa_usable, x->tlsa_n);
            problems(o, x->tlsa_problems);
            put(o, ")\n");
            return;
        }
        if (code == MX_F_DANE_TLSA_MISMATCH && x->dane_bad) {
            mx_ip_format(&x->dane_bad_ip, a, sizeof a);
            put(o, "%s: %s (%s): %s", mx_finding_label(code), x->name, a,
                x->dane_match == MX_DANE_MATCH_NO_TLS
                    ? "no TLS (no STARTTLS, or the handshake failed)"
                    : "no usable TLSA record matches the presented certificates");
            if (x->dane_why && !strcmp(x->dane_why, "chain"))
                put(o, "; a DANE-TA record matches a presented certificate the leaf does not "
                       "chain to");
            else if (x->dane_why && !strcmp(x->dane_why, "name"))
                put(o, "; a DANE-TA record matches, but the leaf is not valid for the name "
                       "(RFC 7672 3.2.2)");
            put(o, "\n");
            return;
        }
    }
}

static void note_partial(struct out *o, const struct mx_policy_facts *f)
{
    put(o, "%s: validated TLSA at", mx_finding_label(MX_F_DANE_PARTIAL));
    for (int pass = 0; pass < 2; pass++) {
        unsigned shown = 0;
        if (pass == 1)
            put(o, "; none at");
        for (unsigned i = 0; i < f->n; i++) {
            const struct mx_policy_exchange *x = &f->ex[i];
            bool with = x->dane_asked && validated(x->dane);
            bool without = x->dane_asked && (x->dane == MX_DANE_NONE || x->dane == MX_DANE_UNSIGNED);
            if ((pass == 0 && with) || (pass == 1 && without))
                put(o, "%s %s", shown++ ? "," : "", x->name);
        }
    }
    put(o, "\n");
}

void mx_policy_notes(const struct mx_policy_facts *f, mx_findings_t found, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    if (len == 0)
        return;
    buf[0] = 0;
    if (found & MX_FBIT(MX_F_MTA_STS_INVALID))
        note_sts_invalid(&o, f);
    if (found & MX_FBIT(MX_F_MTA_STS_MX_MISMATCH))
        note_mismatch(&o, f);
    if (found & MX_FBIT(MX_F_MTA_STS_TLS_FAILS))
        note_tls_fails(&o, f);
    if (found & MX_FBIT(MX_F_TLSRPT_INVALID))
        note_tlsrpt(&o, f);
    static const enum mx_finding dane[] = {MX_F_DANE_TLSA_UNSIGNED, MX_F_DANE_TLSA_INVALID,
                                           MX_F_DANE_TLSA_MISMATCH};
    for (size_t i = 0; i < sizeof dane / sizeof dane[0]; i++)
        if (found & MX_FBIT(dane[i]))
            note_dane(&o, f, dane[i]);
    if (found & MX_FBIT(MX_F_DANE_PARTIAL))
        note_partial(&o, f);
}
