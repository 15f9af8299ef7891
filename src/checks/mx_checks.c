/* The MX part of the per-domain procedure (SPEC 1.2-1.3): the domain's MX
 * answer, the look-ups of its exchanges, the domain_* and mx_* findings and
 * the mail status of SPEC section 3. A pure function of the answers the
 * oracle hands out; while some are missing it asks for everything it can
 * in the same pass and returns false. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mx/analyze.h"
#include "mx/mx_checks.h"
#include "mx/names.h"

/* The status column: the outcome of the MX query. FORMERR and other rcodes
 * (a server that cannot answer) count as SERVFAIL. */
static enum mx_rc status_of(enum mx_rc rc)
{
    switch (rc) {
    case MX_RC_NOERROR:
    case MX_RC_NXDOMAIN:
    case MX_RC_SERVFAIL:
    case MX_RC_REFUSED:
    case MX_RC_TIMEOUT:
        return rc;
    default:
        return MX_RC_SERVFAIL;
    }
}

static bool part_is_marker(const char *p, size_t n)
{
    static const char *const markers[] = {"backup", "bak", "secondary", "fallback"};
    while (n > 0 && p[n - 1] >= '0' && p[n - 1] <= '9')
        n--;
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        if (strlen(markers[i]) == n && memcmp(markers[i], p, n) == 0)
            return true;
    return false;
}

/* SPEC "Backup marker": the first label split at hyphens, trailing digits
 * stripped from each part; a part backup, bak, secondary or fallback. */
static bool backup_marked(const char *name)
{
    size_t end = strcspn(name, ".");
    size_t start = 0;
    for (;;) {
        size_t stop = start;
        while (stop < end && name[stop] != '-')
            stop++;
        if (part_is_marker(name + start, stop - start))
            return true;
        if (stop >= end)
            return false;
        start = stop + 1;
    }
}

/* name ends in "<x>.<x>" at a label boundary (case-insensitively). */
static bool ends_doubled(const char *name, size_t nl, const char *x, size_t xl)
{
    size_t need = 2 * xl + 1;
    if (xl == 0 || nl < need || (nl > need && name[nl - need - 1] != '.'))
        return false;
    const char *t = name + nl - need;
    return strncasecmp(t, x, xl) == 0 && t[xl] == '.' && strncasecmp(t + xl + 1, x, xl) == 0;
}

/* The exchange ends in "<D>.<D>" for D the domain or its organizational
 * domain (label boundary). The organizational domain (a libpsl look-up) is
 * worked out only for names that can match: they hold the domain's last
 * label twice. */
static bool origin_appended(const char *name, const char *domain, char *org, size_t orglen)
{
    size_t nl = strlen(name), dl = strlen(domain);
    if (ends_doubled(name, nl, domain, dl))
        return true;
    const char *tld = strrchr(domain, '.');
    tld = tld ? tld + 1 : domain;
    size_t tl = strlen(tld);
    bool twice = false;
    for (const char *p = name; (p = strstr(p, tld)) != NULL; p++)
        if ((p == name || p[-1] == '.') && p[tl] == '.') {
            twice = true;
            break;
        }
    if (!twice)
        return false;
    if (!org[0])
        mx_name_org_domain(domain, org, orglen);
    if (strcmp(org, domain) == 0)
        return false;
    return ends_doubled(name, nl, org, strlen(org));
}

static bool answer_has_ip(const struct mx_answer *a, const struct mx_ip *ip)
{
    size_t off = 0;
    struct mx_rdata rd;
    if (a->rc != MX_RC_NOERROR)
        return false;
    while (mx_answer_next(a, &off, &rd))
        if (mx_ip_equal(&rd.ip, ip))
            return true;
    return false;
}

/* Every address of x is one of y's. */
static bool addrs_subset(const struct mx_exchange *x, const struct mx_exchange *y)
{
    const struct mx_answer *ans[2] = {x->a, x->aaaa};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        struct mx_rdata rd;
        if (ans[i]->rc != MX_RC_NOERROR)
            continue;
        while (mx_answer_next(ans[i], &off, &rd))
            if (!answer_has_ip(y->a, &rd.ip) && !answer_has_ip(y->aaaa, &rd.ip))
                return false;
    }
    return true;
}

/* mx_same_addresses: two or more exchanges, every one resolved cleanly
 * (A and AAAA both NOERROR) to a non-empty set, all sets identical. */
static bool same_addresses(const struct mx_mxset *set)
{
    if (set->n < 2)
        return false;
    for (unsigned i = 0; i < set->n; i++) {
        const struct mx_exchange *e = &set->ex[i];
        if (!e->looked_up || !e->a || !e->aaaa || e->a->rc != MX_RC_NOERROR ||
            e->aaaa->rc != MX_RC_NOERROR || e->a->count + e->aaaa->count == 0)
            return false;
    }
    for (unsigned i = 1; i < set->n; i++)
        if (!addrs_subset(&set->ex[0], &set->ex[i]) || !addrs_subset(&set->ex[i], &set->ex[0]))
            return false;
    return true;
}

/* "NAME[>CNAME]=ADDR,ADDR" or "NAME=OUTCOME"; a failed type beside
 * addresses of the other is noted as ",AAAA:SERVFAIL". Describes the host
 * in res->hosts too (its look-up outcome as judge_exchange reads it);
 * returns its index there, -1 when hosts[] is full. */
static int render_addresses(struct mx_result *res, const struct mx_allowlist *allow,
                            const char *name, const struct mx_answer *a,
                            const struct mx_answer *aaaa)
{
    const struct mx_answer *ans[2] = {a, aaaa};
    unsigned naddr = 0;
    bool nx = false, global = false;
    const struct mx_answer *failed = NULL;
    if (res->col_len[MX_COL_MX_ADDRESSES] > 0)
        mx_result_append(res, MX_COL_MX_ADDRESSES, ";", 1);
    mx_result_appends(res, MX_COL_MX_ADDRESSES, name);
    mx_result_appends(res, MX_COL_MX_ADDRESSES, (a->cname || aaaa->cname) ? ">CNAME=" : "=");
    uint32_t addr_off = res->col_len[MX_COL_MX_ADDRESSES];
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        struct mx_rdata rd;
        if (ans[i]->rc == MX_RC_NXDOMAIN)
            nx = true;
        else if (mx_rc_failed(ans[i]->rc) && !failed)
            failed = ans[i];
        if (ans[i]->rc != MX_RC_NOERROR)
            continue;
        while (mx_answer_next(ans[i], &off, &rd)) {
            char buf[64];
            mx_ip_format(&rd.ip, buf, sizeof buf);
            if (naddr)
                mx_result_append(res, MX_COL_MX_ADDRESSES, ",", 1);
            mx_result_appends(res, MX_COL_MX_ADDRESSES, buf);
            naddr++;
            if (!global && mx_ip_is_global(&rd.ip, allow))
                global = true;
        }
    }
    uint32_t addr_len = res->col_len[MX_COL_MX_ADDRESSES] - addr_off;
    if (naddr > 0) {
        if (failed)
            mx_result_appendf(res, MX_COL_MX_ADDRESSES, ",%s:%s",
                              failed == a ? "A" : "AAAA", mx_rc_name(failed->rc));
    } else {
        const char *outcome = nx ? "NXDOMAIN" : failed ? mx_rc_name(failed->rc) : "NODATA";
        mx_result_append(res, MX_COL_MX_ADDRESSES, outcome, strlen(outcome));
    }
    if (res->nhosts >= MX_RESULT_MX_MAX)
        return -1;
    struct mx_result_host *h = &res->hosts[res->nhosts];
    h->lookup = (uint8_t)(global     ? MX_LOOKUP_OK
                          : naddr    ? MX_LOOKUP_PRIVATE
                          : nx       ? MX_LOOKUP_NXDOMAIN
                          : failed   ? MX_LOOKUP_LOOKUP_FAILED
                                     : MX_LOOKUP_NO_ADDRESS);
    h->rc[0] = (uint8_t)a->rc;
    h->rc[1] = (uint8_t)aaaa->rc;
    h->cname = a->cname || aaaa->cname;
    h->naddr = (uint16_t)(naddr > UINT16_MAX ? UINT16_MAX : naddr);
    h->addr_off = (uint16_t)addr_off;
    h->addr_len = (uint16_t)addr_len;
    return res->nhosts++;
}

/* Judges one looked-up exchange from its A and AAAA answers. */
static void judge_exchange(const struct mx_analyze_cfg *cfg, struct mx_exchange *e,
                           mx_findings_t *f)
{
    const struct mx_answer *ans[2] = {e->a, e->aaaa};
    bool global = false, private = false, addrs = false, nx = false, failed = false;
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        struct mx_rdata rd;
        if (ans[i]->cname)
            *f |= MX_FBIT(MX_F_MX_CNAME);
        if (ans[i]->rc == MX_RC_NXDOMAIN)
            nx = true;
        else if (mx_rc_failed(ans[i]->rc))
            failed = true;
        if (ans[i]->rc != MX_RC_NOERROR)
            continue;
        while (mx_answer_next(ans[i], &off, &rd)) {
            addrs = true;
            if (mx_ip_is_global(&rd.ip, cfg->allow))
                global = true;
            else
                private = true;
        }
    }
    e->usable = global;
    if (private)
        *f |= MX_FBIT(MX_F_MX_PRIVATE_ADDRESS);
    if (!addrs) {
        /* NXDOMAIN for one type means the name has no records at all
         * (RFC 8020): a failure of the other type changes nothing. */
        if (nx) {
            *f |= MX_FBIT(MX_F_MX_NXDOMAIN);
        } else if (failed) {
            *f |= MX_FBIT(MX_F_MX_LOOKUP_FAILED);
            e->failed = true;
        } else {
            *f |= MX_FBIT(MX_F_MX_NO_ADDRESS);
        }
    } else if (failed && !global) {
        *f |= MX_FBIT(MX_F_MX_LOOKUP_FAILED);
        e->failed = true;
    }
}

static bool has_global(const struct mx_answer *a, const struct mx_allowlist *allow)
{
    size_t off = 0;
    struct mx_rdata rd;
    while (a && a->rc == MX_RC_NOERROR && mx_answer_next(a, &off, &rd))
        if (mx_ip_is_global(&rd.ip, allow))
            return true;
    return false;
}

void mx_checks_implicit_set(const struct mx_analyze_cfg *cfg, const char *domain,
                            struct mx_oracle *o, struct mx_mxset *one)
{
    memset(one, 0, sizeof *one);
    one->mx_answered = one->exists = one->implicit = true;
    one->n = 1;
    struct mx_exchange *e = &one->ex[0];
    e->name = domain;
    e->looked_up = true;
    e->a = mx_oracle_get(o, domain, MX_T_A, 0);
    e->aaaa = mx_oracle_get(o, domain, MX_T_AAAA, 0);
    e->done = one->complete = e->a && e->aaaa;
    e->usable = has_global(e->a, cfg->allow) || has_global(e->aaaa, cfg->allow);
}

/* error or warn findings among the mx_* codes ("the MX set", SPEC 3). */
static bool mx_set_faulty(mx_findings_t f)
{
    for (unsigned i = MX_F_MX_NONE_IMPLICIT; i <= MX_F_MX_TTL_HIGH; i++)
        if ((f & MX_FBIT(i)) && mx_finding_severity((enum mx_finding)i) != MX_SEV_INFO)
            return true;
    return false;
}

/* No MX records: the domain's own A/AAAA (RFC 5321 section 5.1). */
static bool classify_implicit(const struct mx_analyze_cfg *cfg, const char *domain,
                              struct mx_oracle *o, struct mx_result *res, struct mx_mxset *set)
{
    set->implicit = true;
    const struct mx_answer *a = mx_oracle_get(o, domain, MX_T_A, 0);
    const struct mx_answer *aaaa = mx_oracle_get(o, domain, MX_T_AAAA, 0);
    if (!a || !aaaa)
        return false;
    set->complete = true;
    bool addrs = (a->rc == MX_RC_NOERROR && a->count > 0) ||
                 (aaaa->rc == MX_RC_NOERROR && aaaa->count > 0);
    bool failed = mx_rc_failed(a->rc) || mx_rc_failed(aaaa->rc);
    res->implicit = true;
    render_addresses(res, cfg->allow, domain, a, aaaa);
    if (addrs) {
        res->findings |= MX_FBIT(MX_F_MX_NONE_IMPLICIT);
        res->mail = MX_MAIL_IMPLICIT;
    } else if (failed) {
        /* We cannot tell whether the domain has an address: unknown, and no
         * finding claims either way (the mx_addresses column shows why). */
        res->mail = MX_MAIL_UNKNOWN;
    } else {
        res->findings |= MX_FBIT(MX_F_MX_NONE_NO_MAIL);
        res->mail = MX_MAIL_NO_MAIL;
    }
    return true;
}

bool mx_checks_mx(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                     struct mx_result *res, struct mx_mxset *set)
{
    set->mx_answered = set->exists = set->implicit = set->complete = false;
    set->n = 0;

    const struct mx_answer *mx = mx_oracle_get(o, domain, MX_T_MX, 0);
    if (!mx)
        return false;
    set->mx_answered = true;
    res->status = status_of(mx->rc);
    if (mx->rc == MX_RC_NXDOMAIN) {
        res->findings |= MX_FBIT(MX_F_DOMAIN_NXDOMAIN);
        res->mail = MX_MAIL_NXDOMAIN;
        set->complete = true;
        return true;
    }
    if (mx->rc != MX_RC_NOERROR) {
        res->findings |= MX_FBIT(MX_F_DOMAIN_LOOKUP_FAILED);
        res->mail = MX_MAIL_UNKNOWN;
        set->complete = true;
        return true;
    }
    set->exists = true;
    if (mx->count == 0)
        return classify_implicit(cfg, domain, o, res, set);

    /* The records, in answer order. */
    mx_findings_t f = 0;
    unsigned nrec = 0, nnull = 0, ndistinct = 0;
    unsigned null_pref = 0;
    long first_pref = -1, min_backup = 65536, max_plain = -1;
    bool all_equal = true;
    size_t off = 0;
    struct mx_rdata rd;
    if (mx->truncated)
        res->overflow = true;
    res->has_mx_ttl = true;
    res->mx_ttl = mx->ttl;
    mx_result_append_u(res, MX_COL_MX_TTL, (unsigned long)mx->ttl);
    while (mx_answer_next(mx, &off, &rd)) {
        if (nrec)
            mx_result_append(res, MX_COL_MX, ";", 1);
        mx_result_append_u(res, MX_COL_MX, rd.pref);
        mx_result_append(res, MX_COL_MX, " ", 1);
        uint32_t name_at = res->col_len[MX_COL_MX];
        mx_result_appends(res, MX_COL_MX, rd.name[0] ? rd.name : ".");
        nrec++;
        /* The structured view: host holds the index into set->ex until
         * the exchanges are rendered (then the index into res->hosts). */
        struct mx_result_mx *m = NULL;
        if (res->nmx < MX_RESULT_MX_MAX) {
            m = &res->mx[res->nmx++];
            m->pref = rd.pref;
            m->host = -1;
            m->name_off = (uint16_t)name_at;
            m->name_len = (uint16_t)(res->col_len[MX_COL_MX] - name_at);
        } else {
            res->mx_cut = true;
        }
        if (!rd.name[0]) {
            nnull++;
            null_pref = rd.pref;
            continue;
        }
        if (first_pref < 0)
            first_pref = rd.pref;
        else if (rd.pref != first_pref)
            all_equal = false;
        if (backup_marked(rd.name)) {
            if (rd.pref < min_backup)
                min_backup = rd.pref;
        } else if (rd.pref > max_plain) {
            max_plain = rd.pref;
        }
        unsigned i;
        for (i = 0; i < set->n; i++)
            if (strcmp(set->ex[i].name, rd.name) == 0)
                break;
        if (i < set->n) {
            f |= MX_FBIT(MX_F_MX_DUPLICATE);
            if (m)
                m->host = (int16_t)i;
            continue;
        }
        ndistinct++;
        if (set->n == MX_EXCHANGES_MAX) {
            res->overflow = true;
            continue;
        }
        if (m)
            m->host = (int16_t)set->n;
        struct mx_exchange *e = &set->ex[set->n++];
        memset(e, 0, sizeof *e);
        e->name = rd.name;
    }

    if (mx->ttl > 86400)
        f |= MX_FBIT(MX_F_MX_TTL_HIGH);
    if (nrec == 1 && nnull == 1 && null_pref == 0) {
        res->findings |= f | MX_FBIT(MX_F_MX_NULL);
        res->mail = MX_MAIL_NO_MAIL;
        set->complete = true;
        return true;
    }
    if (nnull > 0)
        f |= MX_FBIT(MX_F_MX_NULL_MIXED);
    if (ndistinct >= 2 && all_equal)
        f |= MX_FBIT(MX_F_MX_PREF_ALL_EQUAL);
    if (max_plain >= 0 && min_backup < max_plain)
        f |= MX_FBIT(MX_F_MX_BACKUP_PREFERRED);

    /* The exchanges: names first, then A and AAAA of those to look up,
     * all asked in this pass. */
    char org[MX_NAME_MAX + 1] = ""; /* worked out when needed */
    bool pending = false;
    for (unsigned i = 0; i < set->n; i++) {
        struct mx_exchange *e = &set->ex[i];
        if (mx_name_is_ip_literal(e->name)) {
            f |= MX_FBIT(MX_F_MX_IP_LITERAL);
            e->done = true;
            continue;
        }
        enum mx_name_check check = mx_name_check(e->name);
        if (check != MX_NAME_OK)
            f |= MX_FBIT(MX_F_MX_TARGET_INVALID);
        if (origin_appended(e->name, domain, org, sizeof org))
            f |= MX_FBIT(MX_F_MX_ORIGIN_APPENDED);
        if (mx_name_is_localhost(e->name))
            f |= MX_FBIT(MX_F_MX_LOCALHOST);
        if (check == MX_NAME_BAD) {
            e->done = true;
            continue;
        }
        e->looked_up = true;
        e->a = mx_oracle_get(o, e->name, MX_T_A, MX_Q_SHARED);
        e->aaaa = mx_oracle_get(o, e->name, MX_T_AAAA, MX_Q_SHARED);
        if (!e->a || !e->aaaa) {
            pending = true;
            continue;
        }
        e->done = true;
        judge_exchange(cfg, e, &f);
    }
    if (pending)
        return false;
    set->complete = true;

    unsigned usable = 0;
    bool failed = false;
    int16_t host_of[MX_EXCHANGES_MAX];
    for (unsigned i = 0; i < set->n; i++) {
        const struct mx_exchange *e = &set->ex[i];
        usable += e->usable;
        failed = failed || e->failed;
        host_of[i] = -1;
        if (e->looked_up)
            host_of[i] = (int16_t)render_addresses(res, cfg->allow, e->name, e->a, e->aaaa);
    }
    for (unsigned k = 0; k < res->nmx; k++)
        if (res->mx[k].host >= 0)
            res->mx[k].host = host_of[res->mx[k].host];
    if (same_addresses(set) && ndistinct == set->n)
        f |= MX_FBIT(MX_F_MX_SAME_ADDRESSES);
    if (set->n > 0 && usable == 0 && !failed)
        f |= MX_FBIT(MX_F_MX_ALL_UNUSABLE);
    res->findings |= f;
    if (usable > 0)
        res->mail = mx_set_faulty(f) ? MX_MAIL_DEGRADED : MX_MAIL_OK;
    else if (failed)
        res->mail = MX_MAIL_UNKNOWN;
    else
        res->mail = MX_MAIL_BROKEN;
    return true;
}
