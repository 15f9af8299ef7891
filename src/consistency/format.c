/* The consistency columns (consistency.h): compact text for CSV cells and
 * a structured form for JSON. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx/consistency.h"

/* snprintf-like appender: writes what fits, counts what was needed. */
struct out {
    char *buf;
    size_t len, need;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->buf && o->need < o->len) {
        size_t room = o->len - 1 - o->need;
        memcpy(o->buf + o->need, s, n < room ? n : room);
    }
    o->need += n;
    if (o->buf && o->len)
        o->buf[o->need < o->len ? o->need : o->len - 1] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_ip(struct out *o, const struct mx_ip *ip)
{
    char t[64];
    mx_ip_format(ip, t, sizeof t);
    puts_(o, t);
}

static size_t done(struct out *o)
{
    if (o->buf && o->len && o->need == 0)
        o->buf[0] = '\0';
    return o->need;
}

static const struct mx_cons_av *av_of(const struct mx_cons_verdict *v, const struct mx_ip *ip)
{
    for (unsigned i = 0; i < v->nav; i++)
        if (mx_ip_equal(&v->av[i].in->ip, ip))
            return &v->av[i];
    return NULL;
}

size_t mx_cons_format_servers(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v,
                              char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    for (unsigned k = 0; k < v->nns; k++) {
        const struct mx_cons_ns *n = &ns[v->ns_order[k]];
        if (k)
            puts_(&o, ";");
        puts_(&o, n->name);
        puts_(&o, "=");
        if (n->naddrs == 0) {
            puts_(&o, n->state == MX_CONS_NS_LOOKUP_FAILED ? "lookup_failed" : "no_address");
            continue;
        }
        const struct mx_cons_addr *first = mx_cons_next_addr(n, NULL);
        for (const struct mx_cons_addr *a = first; a; a = mx_cons_next_addr(n, a)) {
            const struct mx_cons_av *av = av_of(v, &a->ip);
            if (a != first)
                puts_(&o, ",");
            put_ip(&o, &a->ip);
            puts_(&o, " ");
            puts_(&o, av ? mx_cons_state_name(av->state) : "cut");
        }
    }
    return done(&o);
}

/* The records of an MX answer, sorted (preference, then name), each once:
 * the smallest record greater than *last (none when have_last is false). */
static bool next_sorted(const struct mx_answer *ans, const struct mx_rdata *last,
                        bool have_last, struct mx_rdata *best)
{
    bool found = false;
    size_t off = 0;
    struct mx_rdata cur, prev = *last; /* last and best may be one object */
    while (mx_answer_next(ans, &off, &cur)) {
        if (have_last && (cur.pref < prev.pref ||
                          (cur.pref == prev.pref && strcmp(cur.name, prev.name) <= 0)))
            continue;
        if (!found || cur.pref < best->pref ||
            (cur.pref == best->pref && strcmp(cur.name, best->name) < 0)) {
            *best = cur;
            found = true;
        }
    }
    return found;
}

static void put_mx_set(struct out *o, const struct mx_auth_reply *r)
{
    if (r->rc == MX_RC_NXDOMAIN) {
        puts_(o, "nxdomain");
        return;
    }
    if (r->ans->count == 0) {
        puts_(o, "none");
        return;
    }
    puts_(o, "{");
    struct mx_rdata rd = {0};
    bool have = false;
    while (next_sorted(r->ans, &rd, have, &rd)) {
        if (have)
            puts_(o, " ");
        have = true;
        putf(o, "%u ", rd.pref);
        puts_(o, rd.name[0] ? rd.name : ".");
    }
    puts_(o, "}");
}

/* "MX {10 mx.a.test} (NOERROR, AA)", "SOA serial 7 (NOERROR, no AA)",
 * "MX REFUSED", "SOA no answer" ... */
static void put_reply(struct out *o, const char *what, const struct mx_auth_reply *r)
{
    puts_(o, what);
    puts_(o, " ");
    if (r->outcome == MX_AUTH_TIMEOUT) {
        puts_(o, "no answer");
        return;
    }
    if (r->outcome == MX_AUTH_NOT_ALLOWED) {
        puts_(o, "not asked (address not globally reachable; see --allow-address)");
        return;
    }
    if (r->outcome != MX_AUTH_ANSWERED) {
        puts_(o, mx_auth_outcome_name(r->outcome));
        return;
    }
    bool data = r->ans && (r->rc == MX_RC_NOERROR || r->rc == MX_RC_NXDOMAIN);
    struct mx_rdata rd;
    if (!data) {
        puts_(o, mx_rc_name(r->rc));
        return;
    }
    if (r->ans->qtype == MX_T_MX)
        put_mx_set(o, r);
    else if (r->rc == MX_RC_NOERROR && mx_answer_get(r->ans, 0, &rd))
        putf(o, "serial %lu", (unsigned long)rd.serial);
    else
        puts_(o, r->rc == MX_RC_NXDOMAIN ? "nxdomain" : "no SOA record");
    putf(o, " (%s, %s%s)", mx_rc_name(r->rc), r->aa ? "AA" : "no AA", r->tcp ? ", over TCP" : "");
}

size_t mx_cons_format_detail(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v,
                             char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    for (unsigned k = 0; k < v->nns; k++) {
        const struct mx_cons_ns *n = &ns[v->ns_order[k]];
        if (n->naddrs == 0) {
            puts_(&o, n->name);
            puts_(&o, n->state == MX_CONS_NS_LOOKUP_FAILED
                          ? ": address look-up failed (not judged)\n"
                          : ": lame (no_address: neither A nor AAAA)\n");
            continue;
        }
        for (const struct mx_cons_addr *a = mx_cons_next_addr(n, NULL); a; a = mx_cons_next_addr(n, a)) {
            const struct mx_cons_av *av = av_of(v, &a->ip);
            enum mx_cons_state st = av ? av->state : MX_CONS_UNKNOWN;
            puts_(&o, n->name);
            puts_(&o, " ");
            put_ip(&o, &a->ip);
            if (!av)
                puts_(&o, ": not judged (more addresses than kept)");
            else if (st == MX_CONS_AUTH || st == MX_CONS_UNKNOWN)
                putf(&o, ": %s", mx_cons_state_name(st));
            else
                putf(&o, ": lame (%s)", mx_cons_state_name(st));
            put_reply(&o, "; MX", &a->mx);
            put_reply(&o, "; SOA", &a->soa);
            puts_(&o, "\n");
        }
    }
    return done(&o);
}

static void put_members(struct out *o, const struct mx_cons_verdict *v, uint64_t members)
{
    bool first = true;
    for (unsigned i = 0; i < v->nav; i++)
        if (members & ((uint64_t)1 << i)) {
            if (!first)
                puts_(o, ",");
            first = false;
            put_ip(o, &v->av[i].in->ip);
        }
}

size_t mx_cons_format_mx_sets(const struct mx_cons_verdict *v, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    for (unsigned g = 0; g < v->nmx_sets; g++) {
        if (g)
            puts_(&o, ";");
        put_mx_set(&o, &v->av[v->mx_sets[g].first].in->mx);
        puts_(&o, "@");
        put_members(&o, v, v->mx_sets[g].members);
    }
    return done(&o);
}

size_t mx_cons_format_serials(const struct mx_cons_verdict *v, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    for (unsigned g = 0; g < v->nserials; g++) {
        if (g)
            puts_(&o, ";");
        putf(&o, "%lu@", (unsigned long)v->av[v->serials[g].first].serial);
        put_members(&o, v, v->serials[g].members);
    }
    return done(&o);
}

/* ---- JSON ---- */

static json_t *ip_json(const struct mx_ip *ip)
{
    char t[64];
    mx_ip_format(ip, t, sizeof t);
    return json_string(t);
}

static json_t *reply_json(const struct mx_auth_reply *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "outcome", json_string(mx_auth_outcome_name(r->outcome)));
    if (r->outcome == MX_AUTH_ANSWERED) {
        json_object_set_new(o, "rcode", json_string(mx_rc_name(r->rc)));
        json_object_set_new(o, "aa", json_boolean(r->aa));
        if (r->tcp)
            json_object_set_new(o, "tcp", json_true());
    }
    return o;
}

static json_t *members_json(const struct mx_cons_verdict *v, uint64_t members)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < v->nav; i++)
        if (members & ((uint64_t)1 << i))
            json_array_append_new(a, ip_json(&v->av[i].in->ip));
    return a;
}

static json_t *findings_json(const struct mx_cons_verdict *v)
{
    json_t *f = json_array();
    if (v->lame)
        json_array_append_new(f, json_string("ns_lame"));
    if (v->mx_inconsistent)
        json_array_append_new(f, json_string("ns_mx_inconsistent"));
    if (v->serial_mismatch)
        json_array_append_new(f, json_string("ns_serial_mismatch"));
    return f;
}

/* One server: its name, state, and what each of its addresses said. */
static json_t *server_json(const struct mx_cons_ns *n, const struct mx_cons_verdict *v)
{
    json_t *s = json_object();
    json_object_set_new(s, "name", json_string(n->name));
    json_object_set_new(
        s, "state",
        json_string(mx_cons_ns_state_name(n->naddrs ? MX_CONS_NS_ADDRESSES
                                          : n->state == MX_CONS_NS_LOOKUP_FAILED
                                              ? MX_CONS_NS_LOOKUP_FAILED
                                              : MX_CONS_NS_NO_ADDRESS)));
    json_t *addrs = json_array();
    for (size_t j = 0; j < n->naddrs; j++) {
        const struct mx_cons_addr *a = &n->addrs[j];
        const struct mx_cons_av *av = av_of(v, &a->ip);
        json_t *x = json_object();
        json_object_set_new(x, "address", ip_json(&a->ip));
        json_object_set_new(x, "state", json_string(av ? mx_cons_state_name(av->state) : "cut"));
        json_object_set_new(x, "mx", reply_json(&a->mx));
        json_object_set_new(x, "soa", reply_json(&a->soa));
        if (av && av->soa_auth)
            json_object_set_new(x, "serial", json_integer((json_int_t)av->serial));
        json_array_append_new(addrs, x);
    }
    json_object_set_new(s, "addresses", addrs);
    return s;
}

/* The distinct MX sets, each with the servers that gave it. */
static json_t *mx_sets_json(const struct mx_cons_verdict *v)
{
    json_t *sets = json_array();
    for (unsigned g = 0; g < v->nmx_sets; g++) {
        const struct mx_auth_reply *r = &v->av[v->mx_sets[g].first].in->mx;
        json_t *s = json_object();
        json_object_set_new(s, "rcode", json_string(mx_rc_name(r->rc)));
        json_t *mx = json_array();
        struct mx_rdata rd = {0};
        bool have = false;
        while (r->rc == MX_RC_NOERROR && next_sorted(r->ans, &rd, have, &rd)) {
            have = true;
            json_array_append_new(mx, json_pack("[I,s]", (json_int_t)rd.pref,
                                                rd.name[0] ? rd.name : "."));
        }
        json_object_set_new(s, "mx", mx);
        json_object_set_new(s, "servers", members_json(v, v->mx_sets[g].members));
        json_array_append_new(sets, s);
    }
    return sets;
}

static json_t *serials_json(const struct mx_cons_verdict *v)
{
    json_t *serials = json_array();
    for (unsigned g = 0; g < v->nserials; g++) {
        json_t *s = json_object();
        json_object_set_new(s, "serial",
                            json_integer((json_int_t)v->av[v->serials[g].first].serial));
        json_object_set_new(s, "servers", members_json(v, v->serials[g].members));
        json_array_append_new(serials, s);
    }
    return serials;
}

void *mx_cons_to_json(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_object_set_new(root, "findings", findings_json(v));
    json_object_set_new(root, "cut", json_boolean(v->cut));
    json_t *servers = json_array();
    for (unsigned k = 0; k < v->nns; k++)
        json_array_append_new(servers, server_json(&ns[v->ns_order[k]], v));
    json_object_set_new(root, "servers", servers);
    json_object_set_new(root, "mx_sets", mx_sets_json(v));
    json_object_set_new(root, "serials", serials_json(v));
    return root;
}
