/* check_host() of RFC 7208 sections 4 to 6 over an mx_oracle, with the
 * ptr mechanism and %{p} (PTR look-up of the client address, names
 * validated by A/AAAA, section 5.5) and, for `mxscan spf` only, the exp=
 * explanation of a fail (section 6.2).
 *
 * The evaluation is sequential (first match wins), but to save round trips
 * a mechanism whose answer is pending is treated as "no match" for the rest
 * of the pass, so the look-ups of the later terms (and of the redirect) are
 * requested in the same pass; any definite outcome reached after a pending
 * mechanism is reported as MX_SPF_PENDING, since the pending one may have
 * matched first. The scanner then calls again from scratch. */
#include <stdio.h>
#include <string.h>

#include "mx/names.h"
#include "mx/spf.h"

#define MAX_MX_NAMES 10 /* RFC 7208 4.6.4: exchanges of one mx mechanism */
#define MAX_PTR_NAMES 10 /* RFC 7208 4.6.4: PTR names validated, the rest ignored */
#define MAX_DEPTH 16    /* include/redirect nesting (the term limit stops loops first) */
#define NAME_BUF 256

enum match { M_NO, M_YES, M_PENDING, M_TEMPERROR, M_PERMERROR };

struct eval {
    struct mx_oracle *o;
    struct mx_ip ip;
    const char *sender;
    const char *helo;
    unsigned lookups, voids;
    bool pending; /* some answer was missing: the result is not final */
    struct mx_spf_trace *trace;
    bool explain;              /* remember the exp= of the record that fails */
    uint64_t now;              /* %{t} in the explanation */
    char exp_spec[512];        /* that exp= domain-spec, "" when none */
    char exp_domain[NAME_BUF]; /* that record's domain: %{d} of the explanation */
};

/* Validated names of the client address (RFC 7208 5.5). */
struct ptr_names {
    unsigned n;
    char name[MAX_PTR_NAMES][NAME_BUF];
};

const char *mx_spf_result_name(enum mx_spf_result r)
{
    switch (r) {
    case MX_SPF_NONE:
        return "none";
    case MX_SPF_NEUTRAL:
        return "neutral";
    case MX_SPF_PASS:
        return "pass";
    case MX_SPF_FAIL:
        return "fail";
    case MX_SPF_SOFTFAIL:
        return "softfail";
    case MX_SPF_TEMPERROR:
        return "temperror";
    case MX_SPF_PERMERROR:
        return "permerror";
    case MX_SPF_PENDING:
        return "pending";
    }
    return "?";
}

static void explain(struct eval *e, const char *why, const char *what)
{
    if (e->trace->explain[0])
        return;
    snprintf(e->trace->explain, sizeof e->trace->explain, "%.120s%s%.120s", why, what ? ": " : "",
             what ? what : "");
}

static void set_term(struct eval *e, const struct mx_spf_term *t)
{
    size_t n = t->len < sizeof e->trace->term - 1 ? t->len : sizeof e->trace->term - 1;
    memcpy(e->trace->term, t->text, n);
    e->trace->term[n] = 0;
}

/* A void look-up; M_PERMERROR once there are more than two. */
static enum match add_void(struct eval *e, const char *target)
{
    if (++e->voids > MX_SPF_MAX_VOIDS) {
        explain(e, "more than 2 void look-ups", target);
        return M_PERMERROR;
    }
    return M_NO;
}

static enum match match_addrs(const struct mx_answer *a, const struct mx_ip *ip, uint8_t len)
{
    struct mx_rdata rd;
    struct mx_cidr c;
    size_t off = 0;
    while (mx_answer_next(a, &off, &rd)) {
        c.ip = rd.ip;
        c.len = len;
        if (mx_cidr_contains(&c, ip))
            return M_YES;
    }
    return M_NO;
}

static uint8_t cidr_for(const struct eval *e, const struct mx_spf_term *t)
{
    return e->ip.family == 4 ? t->cidr4 : t->cidr6;
}

static enum match mech_a(struct eval *e, const char *target, const struct mx_spf_term *t,
                         unsigned flags)
{
    uint16_t qt = e->ip.family == 4 ? MX_T_A : MX_T_AAAA;
    const struct mx_answer *a = mx_oracle_get(e->o, target, qt, flags);
    if (!a)
        return M_PENDING;
    if (mx_answer_void(a))
        return add_void(e, target);
    if (mx_answer_failed(a)) {
        explain(e, "address look-up failed", target);
        return M_TEMPERROR;
    }
    return match_addrs(a, &e->ip, cidr_for(e, t));
}

static enum match mech_mx(struct eval *e, const char *target, const struct mx_spf_term *t,
                          unsigned flags)
{
    uint16_t qt = e->ip.family == 4 ? MX_T_A : MX_T_AAAA;
    const struct mx_answer *a = mx_oracle_get(e->o, target, MX_T_MX, flags);
    struct mx_rdata rd;
    size_t off = 0;
    unsigned n = 0;
    bool pending = false, failed = false;

    if (!a)
        return M_PENDING;
    if (mx_answer_void(a))
        return add_void(e, target);
    if (mx_answer_failed(a)) {
        explain(e, "MX look-up failed", target);
        return M_TEMPERROR;
    }
    while (mx_answer_next(a, &off, &rd))
        if (rd.name[0] && ++n > MAX_MX_NAMES) {
            explain(e, "more than 10 MX names", target);
            return M_PERMERROR;
        }
    off = 0;
    while (mx_answer_next(a, &off, &rd)) {
        if (!rd.name[0]) /* null MX: no host */
            continue;
        const struct mx_answer *x = mx_oracle_get(e->o, rd.name, qt, MX_Q_SHARED);
        if (!x)
            pending = true;
        else if (mx_answer_failed(x))
            failed = true;
        else if (match_addrs(x, &e->ip, cidr_for(e, t)) == M_YES)
            return M_YES;
    }
    if (pending)
        return M_PENDING;
    if (failed) {
        explain(e, "exchange address look-up failed", target);
        return M_TEMPERROR;
    }
    return M_NO;
}

static enum match mech_exists(struct eval *e, const char *target, unsigned flags)
{
    const struct mx_answer *a = mx_oracle_get(e->o, target, MX_T_A, flags);
    if (!a)
        return M_PENDING;
    if (mx_answer_void(a))
        return add_void(e, target);
    if (mx_answer_failed(a)) {
        explain(e, "exists look-up failed", target);
        return M_TEMPERROR;
    }
    return M_YES;
}

/* RFC 7208 5.5: the names of the PTR records of the client address (the
 * first 10 in answer order; the others are ignored) whose A (IPv4 client)
 * or AAAA (IPv6) records hold the address. under: only names equal to it or
 * below it are validated (the ptr mechanism needs no others); NULL: all
 * (%{p}). A failed PTR look-up gives no name; a failed address look-up
 * skips its name. Names with bytes outside host-name syntax (escaped by
 * the wire reader) are skipped. Look-ups share the cache: the same address
 * is checked for many domains. */
static enum match validated(struct eval *e, const char *under, struct ptr_names *out)
{
    char rev[96];
    uint16_t qt = e->ip.family == 4 ? MX_T_A : MX_T_AAAA;
    uint8_t full = e->ip.family == 4 ? 32 : 128;
    struct mx_rdata rd;
    size_t off = 0;
    unsigned k = 0;
    bool pending = false;

    /* the reverse-mapping name: in-addr.arpa, or nibbles under ip6.arpa */
    static const char revspec[] = "%{ir}.%{v}.arpa";
    struct mx_spf_macro_ctx rc = {.ip = &e->ip, .domain = ""};
    out->n = 0;
    if (!mx_spf_expand_domain(&rc, revspec, sizeof revspec - 1, rev, sizeof rev))
        return M_NO;
    const struct mx_answer *pa = mx_oracle_get(e->o, rev, MX_T_PTR, MX_Q_SHARED);
    if (!pa)
        return M_PENDING;
    if (pa->rc != MX_RC_NOERROR)
        return M_NO;
    while (k < MAX_PTR_NAMES && mx_answer_next(pa, &off, &rd)) {
        k++;
        size_t nl = strlen(rd.name);
        if (nl == 0 || nl >= NAME_BUF || strchr(rd.name, '\\'))
            continue;
        if (under && !mx_name_has_suffix(rd.name, under))
            continue;
        const struct mx_answer *a = mx_oracle_get(e->o, rd.name, qt, MX_Q_SHARED);
        if (!a) {
            pending = true;
            continue;
        }
        if (a->rc != MX_RC_NOERROR || match_addrs(a, &e->ip, full) != M_YES)
            continue;
        memcpy(out->name[out->n++], rd.name, nl + 1);
    }
    return pending ? M_PENDING : M_NO;
}

/* ptr[:domain]: some validated name is the target or below it. */
static enum match mech_ptr(struct eval *e, const char *target)
{
    struct ptr_names v;
    if (validated(e, target, &v) == M_PENDING)
        return M_PENDING;
    return v.n > 0 ? M_YES : M_NO;
}

/* %{p} (RFC 7208 7.3): the validated name that is the domain, else one
 * below the domain, else any (the first in answer order); "unknown" when
 * none validates. */
static enum match ptr_macro(struct eval *e, const char *domain, char *out, size_t outlen)
{
    struct ptr_names v;
    const char *pick = NULL;
    if (validated(e, NULL, &v) == M_PENDING)
        return M_PENDING;
    for (unsigned i = 0; i < v.n && !pick; i++)
        if (strcmp(v.name[i], domain) == 0)
            pick = v.name[i];
    for (unsigned i = 0; i < v.n && !pick; i++)
        if (mx_name_has_suffix(v.name[i], domain))
            pick = v.name[i];
    if (!pick && v.n > 0)
        pick = v.name[0];
    snprintf(out, outlen, "%s", pick ? pick : "unknown");
    return M_YES;
}

/* Expands a domain-spec of the record of domain into target, looking up
 * %{p} first when the spec uses it. M_YES: done; M_NO: the expansion is no
 * domain name; M_PENDING. */
static enum match expand_target(struct eval *e, const char *domain, const char *spec,
                                size_t len, char *target, size_t tlen)
{
    char p[NAME_BUF];
    struct mx_spf_macro_ctx ctx = {&e->ip, e->sender, domain, e->helo, NULL, NULL, e->now};
    if (mx_spf_uses_macro(spec, len, 'p')) {
        if (ptr_macro(e, domain, p, sizeof p) == M_PENDING)
            return M_PENDING;
        ctx.ptr = p;
    }
    return mx_spf_expand_domain(&ctx, spec, len, target, tlen) ? M_YES : M_NO;
}

static enum mx_spf_result check(struct eval *e, const char *domain, unsigned depth,
                                bool in_include, bool *was_void);

/* include (RFC 7208 5.2) and redirect targets: check_host of the target,
 * counting a target without TXT as a void look-up. */
static enum mx_spf_result recurse(struct eval *e, const char *target, unsigned depth,
                                  bool in_include, enum match *void_err)
{
    bool v = false;
    enum mx_spf_result r = check(e, target, depth + 1, in_include, &v);
    *void_err = v ? add_void(e, target) : M_NO;
    return r;
}

static enum match mech_include(struct eval *e, const char *target, unsigned depth)
{
    enum match verr;
    enum mx_spf_result r = recurse(e, target, depth, true, &verr);
    if (verr == M_PERMERROR)
        return M_PERMERROR;
    switch (r) {
    case MX_SPF_PASS:
        return M_YES;
    case MX_SPF_FAIL:
    case MX_SPF_SOFTFAIL:
    case MX_SPF_NEUTRAL:
        return M_NO;
    case MX_SPF_TEMPERROR:
        return M_TEMPERROR;
    case MX_SPF_PENDING:
        return M_PENDING;
    case MX_SPF_NONE:
        explain(e, "include target has no SPF record", target);
        return M_PERMERROR;
    default:
        return M_PERMERROR;
    }
}

static enum mx_spf_result qualifier_result(char q)
{
    switch (q) {
    case '-':
        return MX_SPF_FAIL;
    case '~':
        return MX_SPF_SOFTFAIL;
    case '?':
        return MX_SPF_NEUTRAL;
    default:
        return MX_SPF_PASS;
    }
}

/* RFC 7208 6.2: the record of domain fails; its exp= (if any) gives the
 * explanation. Included records never get here (their fail is a no-match). */
static void note_exp(struct eval *e, const struct mx_spf_record *rec, const char *domain)
{
    struct mx_spf_term t;
    size_t off = 0;
    e->exp_spec[0] = 0;
    while (mx_spf_next_term(rec, &off, &t))
        if (t.kind == MX_SPF_K_EXP && t.domain_len < sizeof e->exp_spec) {
            memcpy(e->exp_spec, t.domain, t.domain_len);
            e->exp_spec[t.domain_len] = 0;
            snprintf(e->exp_domain, sizeof e->exp_domain, "%s", domain);
        }
}

/* Fetches and selects the record of domain. NONE, TEMPERROR, PERMERROR or
 * PENDING; MX_SPF_PASS means "rec is filled". */
static enum mx_spf_result fetch(struct eval *e, const char *domain, unsigned depth,
                                bool *was_void, struct mx_spf_record *rec)
{
    const struct mx_answer *txt = mx_oracle_get(e->o, domain, MX_T_TXT, depth ? MX_Q_SHARED : 0);
    struct mx_rdata rd, first;
    size_t off = 0;
    unsigned n = 0;
    char err[128];

    memset(&first, 0, sizeof first);
    if (!txt)
        return MX_SPF_PENDING;
    if (mx_answer_void(txt)) {
        *was_void = true;
        return MX_SPF_NONE;
    }
    if (mx_answer_failed(txt)) {
        explain(e, "TXT look-up failed", domain);
        return MX_SPF_TEMPERROR;
    }
    while (mx_answer_next(txt, &off, &rd))
        if (mx_spf_is_record(rd.txt, rd.txt_len) && n++ == 0)
            first = rd;
    if (n == 0 && txt->truncated) {
        /* its TXT records are larger than the scanner keeps: one may be SPF */
        explain(e, "TXT answer larger than mxscan keeps", domain);
        return MX_SPF_TEMPERROR;
    }
    if (n == 0)
        return MX_SPF_NONE;
    if (n > 1) {
        explain(e, "more than one SPF record", domain);
        return MX_SPF_PERMERROR;
    }
    if (!mx_spf_parse(first.txt, first.txt_len, rec, err, sizeof err)) {
        explain(e, err, domain);
        return MX_SPF_PERMERROR;
    }
    return MX_SPF_PASS;
}

static enum mx_spf_result check(struct eval *e, const char *domain, unsigned depth,
                                bool in_include, bool *was_void)
{
    struct mx_spf_record rec;
    struct mx_spf_term t;
    char target[NAME_BUF];
    size_t off = 0;
    enum mx_spf_result r;

    *was_void = false;
    if (depth > MAX_DEPTH) {
        explain(e, "include/redirect nesting too deep", domain);
        return MX_SPF_PERMERROR;
    }
    if (!mx_spf_domain_ok(domain)) {
        explain(e, "not a valid domain name (RFC 7208 4.3)", domain);
        return MX_SPF_NONE;
    }
    r = fetch(e, domain, depth, was_void, &rec);
    if (r != MX_SPF_PASS)
        return r;

    while (mx_spf_next_term(&rec, &off, &t)) {
        enum match m = M_NO;
        unsigned flags = (depth && !t.macro) ? MX_Q_SHARED : 0;
        switch (t.kind) {
        case MX_SPF_K_ALL:
            m = M_YES;
            break;
        case MX_SPF_K_IP4:
        case MX_SPF_K_IP6: {
            struct mx_cidr c = {t.ip, cidr_for(e, &t)};
            m = mx_cidr_contains(&c, &e->ip) ? M_YES : M_NO;
            break;
        }
        case MX_SPF_K_A:
        case MX_SPF_K_MX:
        case MX_SPF_K_PTR:
        case MX_SPF_K_EXISTS:
        case MX_SPF_K_INCLUDE:
            if (++e->lookups > MX_SPF_MAX_LOOKUPS) {
                explain(e, "more than 10 DNS-querying terms", NULL);
                m = M_PERMERROR;
                break;
            }
            if (t.domain) {
                enum match x =
                    expand_target(e, domain, t.domain, t.domain_len, target, sizeof target);
                if (x == M_PENDING) {
                    m = M_PENDING;
                    break;
                }
                if (x == M_NO) {
                    /* not a usable name: nothing to find there; an include
                     * of it is check_host "none" (RFC 7208 4.3), so permerror */
                    if (t.kind == MX_SPF_K_INCLUDE) {
                        explain(e, "include target is not a valid domain", NULL);
                        m = M_PERMERROR;
                    }
                    break;
                }
            } else {
                snprintf(target, sizeof target, "%s", domain);
            }
            if (t.kind == MX_SPF_K_A)
                m = mech_a(e, target, &t, flags);
            else if (t.kind == MX_SPF_K_MX)
                m = mech_mx(e, target, &t, flags);
            else if (t.kind == MX_SPF_K_EXISTS)
                m = mech_exists(e, target, flags);
            else if (t.kind == MX_SPF_K_PTR)
                m = mech_ptr(e, target);
            else
                m = mech_include(e, target, depth);
            break;
        default:
            continue; /* modifiers */
        }
        if (m == M_NO)
            continue;
        if (m == M_PENDING) {
            e->pending = true;
            continue;
        }
        if (e->pending)
            return MX_SPF_PENDING;
        set_term(e, &t);
        if (m == M_YES) {
            r = qualifier_result(t.qualifier);
            if (r == MX_SPF_FAIL && !in_include && e->explain)
                note_exp(e, &rec, domain);
            return r;
        }
        return m == M_TEMPERROR ? MX_SPF_TEMPERROR : MX_SPF_PERMERROR;
    }

    /* RFC 7208 6.1: redirect applies when no mechanism matched (and there is no all). */
    if (rec.has_redirect && !rec.has_all) {
        enum match verr = M_NO;
        if (++e->lookups > MX_SPF_MAX_LOOKUPS) {
            explain(e, "more than 10 DNS-querying terms", NULL);
            set_term(e, &rec.redirect);
            return e->pending ? MX_SPF_PENDING : MX_SPF_PERMERROR;
        }
        enum match x = expand_target(e, domain, rec.redirect.domain, rec.redirect.domain_len,
                                     target, sizeof target);
        if (x == M_PENDING)
            return MX_SPF_PENDING;
        if (x == M_NO) {
            target[0] = 0;
            r = MX_SPF_NONE;
        } else {
            r = recurse(e, target, depth, in_include, &verr);
        }
        if (e->pending || r == MX_SPF_PENDING)
            return MX_SPF_PENDING;
        if (verr == M_PERMERROR)
            return MX_SPF_PERMERROR;
        if (r == MX_SPF_NONE) {
            explain(e, "redirect target has no SPF record", target);
            set_term(e, &rec.redirect);
            return MX_SPF_PERMERROR;
        }
        return r;
    }
    if (e->pending)
        return MX_SPF_PENDING;
    e->trace->term[0] = 0;
    return MX_SPF_NEUTRAL;
}

/* RFC 7208 6.2: the explanation of the fail, from the exp= that
 * note_exp kept. M_NO when there is none or it is to be ignored (the
 * domain-spec expands to no name, the TXT look-up fails or gives other than
 * exactly one record, the text has a syntax error or non-ASCII bytes). */
static enum match explanation(struct eval *e, char *out, size_t outlen)
{
    char target[NAME_BUF], p[NAME_BUF], text[2048];
    struct mx_rdata rd;
    struct mx_spf_macro_ctx ctx = {&e->ip, e->sender, e->exp_domain, e->helo, NULL, NULL,
                                   e->now};

    out[0] = 0;
    if (!e->exp_spec[0])
        return M_NO;
    enum match x = expand_target(e, e->exp_domain, e->exp_spec, strlen(e->exp_spec), target,
                                 sizeof target);
    if (x != M_YES)
        return x;
    const struct mx_answer *a = mx_oracle_get(e->o, target, MX_T_TXT, 0);
    if (!a)
        return M_PENDING;
    if (a->rc != MX_RC_NOERROR || a->count != 1 || !mx_answer_get(a, 0, &rd))
        return M_NO;
    if (mx_spf_uses_macro(rd.txt, rd.txt_len, 'p')) {
        if (ptr_macro(e, e->exp_domain, p, sizeof p) == M_PENDING)
            return M_PENDING;
        ctx.ptr = p;
    }
    if (!mx_spf_expand_explain(&ctx, rd.txt, rd.txt_len, text, sizeof text))
        return M_NO;
    size_t tl = strlen(text) < outlen ? strlen(text) : outlen - 1; /* cut to fit */
    memcpy(out, text, tl);
    out[tl] = 0;
    return M_YES;
}

static enum mx_spf_result run(struct mx_oracle *o, const struct mx_ip *ip, const char *domain,
                              const char *sender, const char *helo, bool want_exp, uint64_t now,
                              struct mx_spf_trace *trace)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct mx_spf_trace scratch;
    struct eval e;
    char dom[NAME_BUF];
    char snd[600];
    size_t n = strlen(domain);
    bool v;

    if (!trace)
        trace = &scratch;
    memset(trace, 0, sizeof *trace);
    memset(&e, 0, sizeof e);
    e.o = o;
    e.trace = trace;
    e.ip = *ip;
    e.helo = helo;
    e.explain = want_exp;
    e.now = now;
    if (ip->family == 6 && memcmp(ip->b, mapped, 12) == 0) { /* RFC 7208 5: as IPv4 */
        memset(&e.ip, 0, sizeof e.ip);
        e.ip.family = 4;
        memcpy(e.ip.b, ip->b + 12, 4);
    }
    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n >= sizeof dom) {
        explain(&e, "not a valid domain name (RFC 7208 4.3)", NULL);
        return MX_SPF_NONE;
    }
    for (size_t i = 0; i < n; i++)
        dom[i] = (char)(domain[i] >= 'A' && domain[i] <= 'Z' ? domain[i] + 32 : domain[i]);
    dom[n] = 0;
    if (!sender || !*sender) {
        snprintf(snd, sizeof snd, "postmaster@%s", dom);
        sender = snd;
    }
    e.sender = sender;

    enum mx_spf_result r = check(&e, dom, 0, false, &v);
    trace->lookups = e.lookups;
    trace->voids = e.voids;
    if (e.pending || r == MX_SPF_PENDING)
        return MX_SPF_PENDING;
    if (r == MX_SPF_NONE)
        trace->term[0] = 0;
    if (r == MX_SPF_FAIL && want_exp &&
        explanation(&e, trace->explanation, sizeof trace->explanation) == M_PENDING)
        return MX_SPF_PENDING;
    return r;
}

enum mx_spf_result mx_spf_check_host(struct mx_oracle *o, const struct mx_ip *ip,
                                     const char *domain, const char *sender, const char *helo,
                                     struct mx_spf_trace *trace)
{
    return run(o, ip, domain, sender, helo, false, 0, trace);
}

enum mx_spf_result mx_spf_check_host_explain(struct mx_oracle *o, const struct mx_ip *ip,
                                             const char *domain, const char *sender,
                                             const char *helo, uint64_t now,
                                             struct mx_spf_trace *trace)
{
    return run(o, ip, domain, sender, helo, true, now, trace);
}
