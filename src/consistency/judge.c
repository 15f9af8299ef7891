/* The consistency judgement (consistency.h, mx_cons_judge): pure, no
 * allocation. Addresses are judged once each, in a canonical order (names
 * sorted, addresses sorted), so the verdict and its columns do not depend
 * on the order in which servers answered or resolvers listed records. */
#include <string.h>

#include "mx/consistency.h"

static const char *const ns_state_names[] = {
#define X(e, l) l,
    MX_CONS_NS_MAP(X)
#undef X
};
static const char *const state_names[] = {
#define X(e, l) l,
    MX_CONS_STATE_MAP(X)
#undef X
};

const char *mx_cons_ns_state_name(enum mx_cons_ns_state s)
{
    return (unsigned)s < sizeof ns_state_names / sizeof ns_state_names[0] ? ns_state_names[s]
                                                                             : "?";
}

const char *mx_cons_state_name(enum mx_cons_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

static int ip_cmp(const struct mx_ip *a, const struct mx_ip *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->b, b->b, a->family == 4 ? 4 : 16);
}

/* What one reply says of its server. */
static enum mx_cons_state reply_state(const struct mx_auth_reply *r)
{
    switch (r->outcome) {
    case MX_AUTH_ANSWERED:
        switch (r->rc) {
        case MX_RC_NOERROR:
        case MX_RC_NXDOMAIN:
            return r->aa ? MX_CONS_AUTH : MX_CONS_NOT_AUTH;
        case MX_RC_REFUSED:
            return MX_CONS_REFUSED;
        case MX_RC_SERVFAIL:
            return MX_CONS_SERVFAIL;
        default:
            return MX_CONS_BAD_ANSWER;
        }
    case MX_AUTH_TIMEOUT:
        return MX_CONS_TIMEOUT;
    case MX_AUTH_NOT_ALLOWED:
        return MX_CONS_NOT_ALLOWED;
    default:
        return MX_CONS_UNKNOWN;
    }
}

static bool lame_state(enum mx_cons_state s)
{
    return s != MX_CONS_AUTH && s != MX_CONS_UNKNOWN;
}

/* The address's state from its SOA and MX replies: lame when either is
 * (the SOA's reason first), unknown when either is unknown, else AUTH. */
static enum mx_cons_state addr_state(const struct mx_cons_addr *a)
{
    enum mx_cons_state s = reply_state(&a->soa), m = reply_state(&a->mx);
    if (lame_state(s))
        return s;
    if (lame_state(m))
        return m;
    if (s == MX_CONS_UNKNOWN || m == MX_CONS_UNKNOWN)
        return MX_CONS_UNKNOWN;
    return MX_CONS_AUTH;
}

static bool mx_counts(const struct mx_auth_reply *r)
{
    return r->outcome == MX_AUTH_ANSWERED && r->aa && r->ans &&
           (r->rc == MX_RC_NOERROR || r->rc == MX_RC_NXDOMAIN);
}

/* Every (pref, exchange) of a is in b. */
static bool mx_subset(const struct mx_answer *a, const struct mx_answer *b)
{
    size_t oa = 0;
    struct mx_rdata ra, rb;
    while (mx_answer_next(a, &oa, &ra)) {
        size_t ob = 0;
        bool found = false;
        while (!found && mx_answer_next(b, &ob, &rb))
            found = ra.pref == rb.pref && strcmp(ra.name, rb.name) == 0;
        if (!found)
            return false;
    }
    return true;
}

static bool mx_same(const struct mx_auth_reply *x, const struct mx_auth_reply *y)
{
    if (x->rc != y->rc)
        return false; /* NXDOMAIN is a set of its own */
    if (x->rc == MX_RC_NXDOMAIN)
        return true;
    return mx_subset(x->ans, y->ans) && mx_subset(y->ans, x->ans);
}

static void sort_idx(unsigned *idx, unsigned n, const struct mx_cons_ns *ns)
{
    for (unsigned i = 1; i < n; i++) {
        unsigned v = idx[i], j = i;
        while (j > 0 && strcmp(ns[idx[j - 1]].name, ns[v].name) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

const struct mx_cons_addr *mx_cons_next_addr(const struct mx_cons_ns *n,
                                             const struct mx_cons_addr *last)
{
    const struct mx_cons_addr *next = NULL;
    for (size_t j = 0; j < n->naddrs; j++) {
        const struct mx_cons_addr *a = &n->addrs[j];
        if (last && ip_cmp(&a->ip, &last->ip) <= 0)
            continue;
        if (!next || ip_cmp(&a->ip, &next->ip) < 0)
            next = a;
    }
    return next;
}

static int find_av(const struct mx_cons_verdict *v, const struct mx_ip *ip)
{
    for (unsigned i = 0; i < v->nav; i++)
        if (mx_ip_equal(&v->av[i].in->ip, ip))
            return (int)i;
    return -1;
}

/* Adds the addresses of one NS name (smallest first, each address once
 * over all names); true when the name is lame. */
static bool judge_name(const struct mx_cons_ns *name, unsigned ni, struct mx_cons_verdict *out)
{
    if (name->naddrs == 0)
        return name->state != MX_CONS_NS_LOOKUP_FAILED; /* no address */
    bool lame = false;
    for (const struct mx_cons_addr *next = mx_cons_next_addr(name, NULL); next;
         next = mx_cons_next_addr(name, next)) {
        int seen = find_av(out, &next->ip);
        if (seen >= 0) {
            lame = lame || lame_state(out->av[seen].state);
            continue;
        }
        if (out->nav == MX_CONS_ADDR_MAX) {
            out->cut = true;
            continue;
        }
        struct mx_cons_av *av = &out->av[out->nav++];
        av->in = next;
        av->ns = ni;
        av->state = addr_state(next);
        av->mx_set = -1;
        av->serial_set = -1;
        av->mx_auth = mx_counts(&next->mx);
        const struct mx_auth_reply *soa = &next->soa;
        struct mx_rdata rd;
        if (soa->outcome == MX_AUTH_ANSWERED && soa->aa && soa->rc == MX_RC_NOERROR && soa->ans &&
            mx_answer_get(soa->ans, 0, &rd)) {
            av->soa_auth = true;
            av->serial = rd.serial;
        }
        out->authoritative += av->state == MX_CONS_AUTH;
        out->asked += av->state != MX_CONS_NOT_ALLOWED && av->state != MX_CONS_UNKNOWN;
        lame = lame || lame_state(av->state);
    }
    return lame;
}

/* Groups the authoritative MX answers by set and the serials by value. */
static void group(struct mx_cons_verdict *out)
{
    for (unsigned i = 0; i < out->nav; i++) {
        struct mx_cons_av *av = &out->av[i];
        if (av->mx_auth) {
            unsigned g = 0;
            while (g < out->nmx_sets &&
                   !mx_same(&out->av[out->mx_sets[g].first].in->mx, &av->in->mx))
                g++;
            if (g == out->nmx_sets)
                out->mx_sets[out->nmx_sets++].first = i;
            out->mx_sets[g].members |= (uint64_t)1 << i;
            av->mx_set = (int)g;
        }
        if (av->soa_auth) {
            unsigned g = 0;
            while (g < out->nserials && out->av[out->serials[g].first].serial != av->serial)
                g++;
            if (g == out->nserials)
                out->serials[out->nserials++].first = i;
            out->serials[g].members |= (uint64_t)1 << i;
            av->serial_set = (int)g;
        }
    }
}

void mx_cons_judge(const struct mx_cons_ns *ns, size_t nns, struct mx_cons_verdict *out)
{
    memset(out, 0, sizeof *out);
    unsigned n = nns > MX_CONS_NS_MAX ? MX_CONS_NS_MAX : (unsigned)nns;
    out->cut = nns > MX_CONS_NS_MAX;
    out->nns = n;
    out->judged = n > 0;
    for (unsigned i = 0; i < n; i++)
        out->ns_order[i] = i;
    sort_idx(out->ns_order, n, ns);
    for (unsigned k = 0; k < n; k++) {
        unsigned ni = out->ns_order[k];
        if (judge_name(&ns[ni], ni, out)) {
            out->lame = true;
            out->lame_names++;
        }
    }
    group(out);
    out->mx_inconsistent = out->nmx_sets > 1;
    out->serial_mismatch = out->nserials > 1;
}
