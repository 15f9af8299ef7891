/* What one domain's consistency judgement needs, gathered through the scan
 * engine's oracle (consistency.h, mx_cons_gather): the NS set and the NS
 * names' addresses through the recursive resolver, then MX and SOA of the
 * domain asked of every address by this module (the engine's provider). */
#include <stdio.h>
#include <string.h>

#include "mx/consistency.h"
#include "mx/engine.h"
#include "mx/oracle.h"

void mx_cons_work_clear(struct mx_cons_work *w)
{
    size_t n = w->nns < MX_CONS_NS_MAX ? w->nns : MX_CONS_NS_MAX;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < w->ns[k].naddrs; j++) {
            mx_auth_reply_clear(&w->addrs[k][j].mx);
            mx_auth_reply_clear(&w->addrs[k][j].soa);
        }
    w->nns = 0;
    w->apex = false;
    w->ns_rc = MX_RC_NOERROR;
}

/* One NS name's addresses from its A and AAAA answers, and its state. */
static void name_addresses(struct mx_cons_ns *n, struct mx_cons_addr *slots,
                           const struct mx_answer *a, const struct mx_answer *aaaa)
{
    const struct mx_answer *both[2] = {a, aaaa};
    for (int k = 0; k < 2; k++) {
        size_t off = 0;
        struct mx_rdata rd;
        while (both[k]->rc == MX_RC_NOERROR && n->naddrs < MX_CONS_NS_ADDR_MAX &&
               mx_answer_next(both[k], &off, &rd)) {
            memset(&slots[n->naddrs], 0, sizeof slots[0]);
            slots[n->naddrs++].ip = rd.ip;
        }
    }
    n->state = n->naddrs                                       ? MX_CONS_NS_ADDRESSES
               : mx_rc_failed(a->rc) || mx_rc_failed(aaaa->rc) ? MX_CONS_NS_LOOKUP_FAILED
                                                               : MX_CONS_NS_NO_ADDRESS;
}

/* MX and SOA of the domain from every address of n; false while pending. */
static bool name_answers(struct mx_cons_ns *n, struct mx_cons_addr *slots, const char *domain,
                         struct mx_oracle *o)
{
    bool all = true;
    for (size_t j = 0; j < n->naddrs; j++) {
        char key[MX_NAME_MAX + 64];
        mx_auth_key(&slots[j].ip, domain, key, sizeof key);
        const struct mx_answer *mx = mx_oracle_get(o, key, MX_QT_AUTH_MX, 0);
        const struct mx_answer *soa = mx_oracle_get(o, key, MX_QT_AUTH_SOA, 0);
        if (!mx || !soa) {
            all = false;
            continue;
        }
        mx_auth_reply_from_answer(&slots[j].mx, mx);
        mx_auth_reply_from_answer(&slots[j].soa, soa);
    }
    return all;
}

bool mx_cons_gather(struct mx_cons_work *w, const char *domain, struct mx_oracle *o)
{
    /* w is zeroed before its first use (mx_cons_work_clear reads nns) */
    mx_cons_work_clear(w);
    const struct mx_answer *ns = mx_oracle_get(o, domain, MX_T_NS, 0);
    if (!ns)
        return false;
    w->ns_rc = ns->rc;
    w->apex = ns->rc == MX_RC_NOERROR && !ns->cname && ns->count > 0;
    if (!w->apex)
        return true;
    w->nns = ns->count;
    bool all = true;
    size_t off = 0;
    struct mx_rdata rd;
    for (size_t k = 0; k < MX_CONS_NS_MAX && mx_answer_next(ns, &off, &rd); k++) {
        struct mx_cons_ns *n = &w->ns[k];
        snprintf(w->names[k], sizeof w->names[k], "%s", rd.name);
        n->name = w->names[k];
        n->naddrs = 0;
        n->addrs = w->addrs[k];
        n->state = MX_CONS_NS_LOOKUP_FAILED;
        if (!rd.name[0]) { /* "NS ." names no server */
            n->state = MX_CONS_NS_NO_ADDRESS;
            continue;
        }
        const struct mx_answer *a = mx_oracle_get(o, rd.name, MX_T_A, MX_Q_SHARED);
        const struct mx_answer *aaaa = mx_oracle_get(o, rd.name, MX_T_AAAA, MX_Q_SHARED);
        if (!a || !aaaa) {
            all = false;
            continue;
        }
        name_addresses(n, w->addrs[k], a, aaaa);
        if (!name_answers(n, w->addrs[k], domain, o))
            all = false;
    }
    return all;
}
