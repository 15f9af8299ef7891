/* The consistency judgement and its columns (consistency.h, mx_cons_*):
 * hand-built NS sets with their servers' answers, verdicts and the text
 * forms compared exactly. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/cons_checks.h"
#include "mx/consistency.h"
#include "mx/engine.h"

/* "10 a.test;20 b.test" ("" = no MX) as an MX reply. */
static void mx_rep(struct mx_auth_reply *r, enum mx_rc rc, bool aa, const char *list)
{
    memset(r, 0, sizeof *r);
    r->outcome = MX_AUTH_ANSWERED;
    r->rc = rc;
    r->aa = aa;
    r->ans = mx_answer_new(rc, MX_T_MX, 300, false);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        unsigned pref;
        char name[256];
        cr_assert_eq(sscanf(t, "%u %255s", &pref, name), 2);
        cr_assert(mx_answer_add_mx(&r->ans, (uint16_t)pref, strcmp(name, ".") ? name : ""));
    }
    r->ans->aa = aa;
}

static void soa_rep(struct mx_auth_reply *r, enum mx_rc rc, bool aa, uint32_t serial)
{
    memset(r, 0, sizeof *r);
    r->outcome = MX_AUTH_ANSWERED;
    r->rc = rc;
    r->aa = aa;
    r->ans = mx_answer_new(rc, MX_T_SOA, 300, false);
    if (rc == MX_RC_NOERROR && serial)
        cr_assert(mx_answer_add_soa(&r->ans, "ns.test", serial));
}

static void out_rep(struct mx_auth_reply *r, enum mx_auth_outcome o)
{
    memset(r, 0, sizeof *r);
    r->outcome = o;
    r->rc = o == MX_AUTH_TIMEOUT ? MX_RC_TIMEOUT : MX_RC_OTHER;
}

static void addr(struct mx_cons_addr *a, const char *ip)
{
    memset(a, 0, sizeof *a);
    cr_assert(mx_ip_parse(ip, &a->ip));
}

/* A good server: MX set and serial. */
static void good(struct mx_cons_addr *a, const char *ip, const char *mx, uint32_t serial)
{
    addr(a, ip);
    mx_rep(&a->mx, MX_RC_NOERROR, true, mx);
    soa_rep(&a->soa, MX_RC_NOERROR, true, serial);
}

static void clear(struct mx_cons_addr *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mx_auth_reply_clear(&a[i].mx);
        mx_auth_reply_clear(&a[i].soa);
    }
}

static char *col_servers(const struct mx_cons_ns *ns, const struct mx_cons_verdict *v)
{
    static char buf[2048];
    size_t n = mx_cons_format_servers(ns, v, buf, sizeof buf);
    cr_assert_lt(n, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    return buf;
}

static char *col_sets(const struct mx_cons_verdict *v)
{
    static char buf[2048];
    size_t n = mx_cons_format_mx_sets(v, buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    return buf;
}

static char *col_serials(const struct mx_cons_verdict *v)
{
    static char buf[2048];
    size_t n = mx_cons_format_serials(v, buf, sizeof buf);
    cr_assert_eq(n, strlen(buf));
    return buf;
}

static struct mx_cons_verdict V;

Test(judge, agreeing_servers_no_finding_order_aside)
{
    struct mx_cons_addr a[3];
    good(&a[0], "192.0.2.2", "10 mx1.a.test;20 mx2.a.test", 7);
    good(&a[1], "192.0.2.1", "20 mx2.a.test;10 mx1.a.test;10 mx1.a.test", 7);
    good(&a[2], "2001:db8::1", "10 mx1.a.test;20 mx2.a.test", 7);
    struct mx_cons_ns ns[2] = {
        {"ns2.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 2, &a[1]},
    };
    mx_cons_judge(ns, 2, &V);
    cr_expect(V.judged);
    cr_expect_not(V.lame);
    cr_expect_not(V.mx_inconsistent);
    cr_expect_not(V.serial_mismatch);
    cr_expect_eq(V.asked, 3);
    cr_expect_eq(V.authoritative, 3);
    cr_expect_str_eq(col_servers(ns, &V),
                     "ns1.a.test=192.0.2.1 auth,2001:db8::1 auth;ns2.a.test=192.0.2.2 auth");
    cr_expect_str_eq(col_sets(&V), "{10 mx1.a.test 20 mx2.a.test}@192.0.2.1,2001:db8::1,192.0.2.2");
    cr_expect_str_eq(col_serials(&V), "7@192.0.2.1,2001:db8::1,192.0.2.2");
    clear(a, 3);
}

Test(judge, stale_secondary_mx_and_serial)
{
    struct mx_cons_addr a[3];
    good(&a[0], "192.0.2.1", "10 mx1.a.test;20 mx2.a.test", 2024060101);
    good(&a[1], "192.0.2.2", "10 mx1.a.test;20 mx2.a.test", 2024060101);
    good(&a[2], "192.0.2.3", "10 mail.old.test", 2024010101);
    struct mx_cons_ns ns[3] = {
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns2.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]},
        {"ns3.a.test", MX_CONS_NS_ADDRESSES, 1, &a[2]},
    };
    mx_cons_judge(ns, 3, &V);
    cr_expect_not(V.lame);
    cr_expect(V.mx_inconsistent);
    cr_expect(V.serial_mismatch);
    cr_expect_str_eq(col_sets(&V), "{10 mx1.a.test 20 mx2.a.test}@192.0.2.1,192.0.2.2;"
                                   "{10 mail.old.test}@192.0.2.3");
    cr_expect_str_eq(col_serials(&V), "2024060101@192.0.2.1,192.0.2.2;2024010101@192.0.2.3");
    clear(a, 3);
}

Test(judge, preference_change_is_a_different_set)
{
    struct mx_cons_addr a[2];
    good(&a[0], "192.0.2.1", "10 mx1.a.test;20 mx2.a.test", 5);
    good(&a[1], "192.0.2.2", "20 mx1.a.test;10 mx2.a.test", 5);
    struct mx_cons_ns ns[2] = {
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns2.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]},
    };
    mx_cons_judge(ns, 2, &V);
    cr_expect(V.mx_inconsistent);
    cr_expect_not(V.serial_mismatch);
    cr_expect_eq(V.nmx_sets, 2);
    clear(a, 2);
}

Test(judge, lame_reasons)
{
    struct mx_cons_addr a[7];
    good(&a[0], "192.0.2.1", "10 mx.a.test", 9);
    addr(&a[1], "192.0.2.2"); /* refuses */
    mx_rep(&a[1].mx, MX_RC_REFUSED, false, "");
    soa_rep(&a[1].soa, MX_RC_REFUSED, false, 0);
    addr(&a[2], "192.0.2.3"); /* a referral: no AA */
    mx_rep(&a[2].mx, MX_RC_NOERROR, false, "");
    soa_rep(&a[2].soa, MX_RC_NOERROR, false, 0);
    addr(&a[3], "192.0.2.4"); /* silent */
    out_rep(&a[3].mx, MX_AUTH_TIMEOUT);
    out_rep(&a[3].soa, MX_AUTH_TIMEOUT);
    addr(&a[4], "10.0.0.1"); /* private */
    out_rep(&a[4].mx, MX_AUTH_NOT_ALLOWED);
    out_rep(&a[4].soa, MX_AUTH_NOT_ALLOWED);
    addr(&a[5], "192.0.2.6"); /* SERVFAIL on SOA, MX fine */
    mx_rep(&a[5].mx, MX_RC_NOERROR, true, "10 mx.a.test");
    soa_rep(&a[5].soa, MX_RC_SERVFAIL, false, 0);
    addr(&a[6], "192.0.2.7"); /* FORMERR */
    mx_rep(&a[6].mx, MX_RC_FORMERR, false, "");
    soa_rep(&a[6].soa, MX_RC_NOERROR, true, 9);
    struct mx_cons_ns ns[9] = {
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns2.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]},
        {"ns3.a.test", MX_CONS_NS_ADDRESSES, 1, &a[2]},
        {"ns4.a.test", MX_CONS_NS_ADDRESSES, 1, &a[3]},
        {"ns5.a.test", MX_CONS_NS_ADDRESSES, 1, &a[4]},
        {"ns6.a.test", MX_CONS_NS_ADDRESSES, 1, &a[5]},
        {"ns7.a.test", MX_CONS_NS_ADDRESSES, 1, &a[6]},
        {"ns8.a.test", MX_CONS_NS_NO_ADDRESS, 0, NULL},
        {"ns9.a.test", MX_CONS_NS_LOOKUP_FAILED, 0, NULL},
    };
    mx_cons_judge(ns, 9, &V);
    cr_expect(V.lame);
    cr_expect_eq(V.lame_names, 7);
    cr_expect_not(V.mx_inconsistent, "only AA MX answers count: two agree");
    cr_expect_eq(V.nmx_sets, 1);
    cr_expect_not(V.serial_mismatch);
    cr_expect_eq(V.nserials, 1, "the FORMERR server's SOA had AA: counted");
    cr_expect_eq(V.asked, 6);
    cr_expect_eq(V.authoritative, 1);
    cr_expect_str_eq(col_servers(ns, &V),
                     "ns1.a.test=192.0.2.1 auth;ns2.a.test=192.0.2.2 refused;"
                     "ns3.a.test=192.0.2.3 not_auth;ns4.a.test=192.0.2.4 timeout;"
                     "ns5.a.test=10.0.0.1 not_allowed;ns6.a.test=192.0.2.6 servfail;"
                     "ns7.a.test=192.0.2.7 bad_answer;ns8.a.test=no_address;"
                     "ns9.a.test=lookup_failed");
    cr_expect_str_eq(col_sets(&V), "{10 mx.a.test}@192.0.2.1,192.0.2.6");
    clear(a, 7);
}

Test(judge, lookup_failure_and_unknown_prove_nothing)
{
    struct mx_cons_addr a[2];
    good(&a[0], "192.0.2.1", "10 mx.a.test", 1);
    addr(&a[1], "192.0.2.2");
    out_rep(&a[1].mx, MX_AUTH_ABORTED);
    soa_rep(&a[1].soa, MX_RC_NOERROR, true, 1);
    struct mx_cons_ns ns[3] = {
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns2.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]},
        {"ns3.a.test", MX_CONS_NS_LOOKUP_FAILED, 0, NULL},
    };
    mx_cons_judge(ns, 3, &V);
    cr_expect_not(V.lame);
    cr_expect_eq(V.av[1].state, MX_CONS_UNKNOWN);
    cr_expect_eq(V.asked, 1);
    clear(a, 2);
}

Test(judge, nxdomain_and_nodata_are_sets_of_their_own)
{
    struct mx_cons_addr a[4];
    good(&a[0], "192.0.2.1", "", 3);
    good(&a[1], "192.0.2.2", "10 mx.a.test", 3);
    addr(&a[2], "192.0.2.3");
    mx_rep(&a[2].mx, MX_RC_NXDOMAIN, true, "");
    soa_rep(&a[2].soa, MX_RC_NXDOMAIN, true, 0);
    good(&a[3], "192.0.2.4", "0 .", 3);
    struct mx_cons_ns ns[1] = {{"ns.a.test", MX_CONS_NS_ADDRESSES, 4, a}};
    mx_cons_judge(ns, 1, &V);
    cr_expect_not(V.lame, "NXDOMAIN with AA is an authoritative answer");
    cr_expect(V.mx_inconsistent);
    cr_expect_eq(V.nmx_sets, 4);
    cr_expect_eq(V.nserials, 1, "an NXDOMAIN SOA answer has no serial");
    cr_expect_str_eq(col_sets(&V),
                     "none@192.0.2.1;{10 mx.a.test}@192.0.2.2;nxdomain@192.0.2.3;{0 .}@192.0.2.4");
    clear(a, 4);
}

Test(judge, shared_address_judged_once)
{
    struct mx_cons_addr a[2], b[1];
    good(&a[0], "192.0.2.1", "10 mx.a.test", 3);
    good(&a[1], "192.0.2.9", "10 mx.a.test", 3);
    good(&b[0], "192.0.2.9", "10 mx.a.test", 3);
    struct mx_cons_ns ns[2] = {
        {"ns2.b.test", MX_CONS_NS_ADDRESSES, 1, b},
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 2, a},
    };
    mx_cons_judge(ns, 2, &V);
    cr_expect_eq(V.nav, 2);
    cr_expect_eq(V.ns_order[0], 1);
    cr_expect_str_eq(col_servers(ns, &V),
                     "ns1.a.test=192.0.2.1 auth,192.0.2.9 auth;ns2.b.test=192.0.2.9 auth");
    clear(a, 2);
    clear(b, 1);
}

Test(judge, no_ns_not_judged_and_cut)
{
    mx_cons_judge(NULL, 0, &V);
    cr_expect_not(V.judged);
    cr_expect_not(V.lame);
    cr_expect_str_eq(col_sets(&V), "");
    static struct mx_cons_addr many[MX_CONS_ADDR_MAX + 3];
    for (unsigned i = 0; i < MX_CONS_ADDR_MAX + 3; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%u", i + 1);
        good(&many[i], ip, "10 mx.a.test", 1);
    }
    struct mx_cons_ns ns[1] = {{"ns.a.test", MX_CONS_NS_ADDRESSES, MX_CONS_ADDR_MAX + 3, many}};
    mx_cons_judge(ns, 1, &V);
    cr_expect(V.cut);
    cr_expect_eq(V.nav, MX_CONS_ADDR_MAX);
    cr_expect_not(V.lame);
    clear(many, MX_CONS_ADDR_MAX + 3);
}

Test(judge, small_buffer_reports_needed_length)
{
    struct mx_cons_addr a[1];
    good(&a[0], "192.0.2.1", "10 mx.a.test", 3);
    struct mx_cons_ns ns[1] = {{"ns.a.test", MX_CONS_NS_ADDRESSES, 1, a}};
    mx_cons_judge(ns, 1, &V);
    char small[8];
    size_t need = mx_cons_format_mx_sets(&V, small, sizeof small);
    cr_expect_eq(need, strlen("{10 mx.a.test}@192.0.2.1"));
    cr_expect_str_eq(small, "{10 mx.");
    cr_expect_eq(mx_cons_format_serials(&V, NULL, 0), strlen("3@192.0.2.1"));
    clear(a, 1);
}

Test(judge, json_form)
{
    struct mx_cons_addr a[2];
    good(&a[0], "192.0.2.1", "20 b.a.test;10 a.a.test", 5);
    good(&a[1], "192.0.2.2", "10 a.a.test", 4);
    struct mx_cons_ns ns[2] = {
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns2.a.test", MX_CONS_NS_NO_ADDRESS, 0, NULL},
    };
    struct mx_cons_ns ns3[3] = {ns[0], ns[1], {"ns3.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]}};
    mx_cons_judge(ns3, 3, &V);
    json_t *j = mx_cons_to_json(ns3, &V);
    cr_assert_not_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(
        s,
        "{\"cut\":false,\"findings\":[\"ns_lame\",\"ns_mx_inconsistent\",\"ns_serial_mismatch\"],"
        "\"mx_sets\":[{\"mx\":[[10,\"a.a.test\"],[20,\"b.a.test\"]],\"rcode\":\"NOERROR\","
        "\"servers\":[\"192.0.2.1\"]},{\"mx\":[[10,\"a.a.test\"]],\"rcode\":\"NOERROR\","
        "\"servers\":[\"192.0.2.2\"]}],"
        "\"serials\":[{\"serial\":5,\"servers\":[\"192.0.2.1\"]},{\"serial\":4,\"servers\":"
        "[\"192.0.2.2\"]}],"
        "\"servers\":[{\"addresses\":[{\"address\":\"192.0.2.1\",\"mx\":{\"aa\":true,"
        "\"outcome\":\"answered\",\"rcode\":\"NOERROR\"},\"serial\":5,\"soa\":{\"aa\":true,"
        "\"outcome\":\"answered\",\"rcode\":\"NOERROR\"},\"state\":\"auth\"}],\"name\":"
        "\"ns1.a.test\",\"state\":\"ok\"},{\"addresses\":[],\"name\":\"ns2.a.test\",\"state\":"
        "\"no_address\"},{\"addresses\":[{\"address\":\"192.0.2.2\",\"mx\":{\"aa\":true,"
        "\"outcome\":\"answered\",\"rcode\":\"NOERROR\"},\"serial\":4,\"soa\":{\"aa\":true,"
        "\"outcome\":\"answered\",\"rcode\":\"NOERROR\"},\"state\":\"auth\"}],\"name\":"
        "\"ns3.a.test\",\"state\":\"ok\"}]}");
    free(s);
    json_decref(j);
    clear(a, 2);
}

/* ---- what `mxscan check` prints ---- */

Test(judge, detail_lines_say_what_each_server_answered)
{
    struct mx_cons_addr a[4];
    good(&a[0], "192.0.2.1", "20 mx2.a.test;10 mx1.a.test", 7);
    good(&a[1], "192.0.2.3", "10 mail.old.test", 5);
    addr(&a[2], "192.0.2.5");
    mx_rep(&a[2].mx, MX_RC_REFUSED, false, "");
    soa_rep(&a[2].soa, MX_RC_REFUSED, false, 0);
    addr(&a[3], "192.0.2.8");
    out_rep(&a[3].mx, MX_AUTH_TIMEOUT);
    out_rep(&a[3].soa, MX_AUTH_TIMEOUT);
    struct mx_cons_ns ns[5] = {
        {"ns8.a.test", MX_CONS_NS_ADDRESSES, 1, &a[3]},
        {"ns1.a.test", MX_CONS_NS_ADDRESSES, 1, &a[0]},
        {"ns3.a.test", MX_CONS_NS_ADDRESSES, 1, &a[1]},
        {"ns5.a.test", MX_CONS_NS_ADDRESSES, 1, &a[2]},
        {"ns9.a.test", MX_CONS_NS_NO_ADDRESS, 0, NULL},
    };
    mx_cons_judge(ns, 5, &V);
    char buf[2048];
    size_t need = mx_cons_format_detail(ns, &V, buf, sizeof buf);
    cr_expect_str_eq(buf,
                     "ns1.a.test 192.0.2.1: auth; MX {10 mx1.a.test 20 mx2.a.test} (NOERROR, AA); "
                     "SOA serial 7 (NOERROR, AA)\n"
                     "ns3.a.test 192.0.2.3: auth; MX {10 mail.old.test} (NOERROR, AA); "
                     "SOA serial 5 (NOERROR, AA)\n"
                     "ns5.a.test 192.0.2.5: lame (refused); MX REFUSED; SOA REFUSED\n"
                     "ns8.a.test 192.0.2.8: lame (timeout); MX no answer; SOA no answer\n"
                     "ns9.a.test: lame (no_address: neither A nor AAAA)\n");
    cr_expect_eq(need, strlen(buf));
    char small[16];
    cr_expect_eq(mx_cons_format_detail(ns, &V, small, sizeof small), need);
    cr_expect_eq(strlen(small), sizeof small - 1);
    clear(a, 4);
}

/* ---- the analysis through an oracle (what a scan runs) ---- */

#define TAB_MAX 32
struct tab {
    unsigned n;
    struct {
        char name[300];
        uint16_t qtype;
        struct mx_answer *ans;
    } e[TAB_MAX];
    unsigned asked; /* gets of names not in the table (pending) */
};

static const struct mx_answer *tab_get(void *ud, const char *name, uint16_t qtype, unsigned fl)
{
    (void)fl;
    struct tab *t = ud;
    for (unsigned i = 0; i < t->n; i++)
        if (t->e[i].qtype == qtype && strcmp(t->e[i].name, name) == 0)
            return t->e[i].ans;
    t->asked++;
    return NULL;
}

static void tab_put(struct tab *t, const char *name, uint16_t qtype, struct mx_answer *a)
{
    cr_assert_lt(t->n, TAB_MAX);
    cr_assert_not_null(a);
    snprintf(t->e[t->n].name, sizeof t->e[t->n].name, "%s", name);
    t->e[t->n].qtype = qtype;
    t->e[t->n++].ans = a;
}

/* The module's blob for (server, domain): an MX and a SOA answer. */
static void tab_server(struct tab *t, const char *ip, const char *domain, const char *mx,
                       uint32_t serial, bool aa)
{
    struct mx_cons_addr a;
    addr(&a, ip);
    mx_rep(&a.mx, MX_RC_NOERROR, aa, mx);
    soa_rep(&a.soa, MX_RC_NOERROR, aa, serial);
    char key[400];
    mx_auth_key(&a.ip, domain, key, sizeof key);
    struct mx_auth_result r = {a.ip, domain, MX_T_MX, MX_AUTH_ANSWERED, MX_RC_NOERROR, aa,
                               false, false, false, 1, a.mx.ans};
    tab_put(t, key, MX_QT_AUTH_MX, mx_auth_answer_blob(&r));
    r.qtype = MX_T_SOA;
    r.ans = a.soa.ans;
    tab_put(t, key, MX_QT_AUTH_SOA, mx_auth_answer_blob(&r));
    clear(&a, 1);
}

static struct mx_answer *ns_answer(const char *a, const char *b)
{
    struct mx_answer *ans = mx_answer_new(MX_RC_NOERROR, MX_T_NS, 300, false);
    cr_assert(mx_answer_add_ns(&ans, a) && mx_answer_add_ns(&ans, b));
    return ans;
}

static struct mx_answer *a_answer(const char *ip)
{
    struct mx_answer *ans = mx_answer_new(MX_RC_NOERROR, MX_T_A, 300, false);
    struct mx_ip x;
    cr_assert(mx_ip_parse(ip, &x) && mx_answer_add_ip(&ans, &x));
    return ans;
}

Test(judge, scan_analysis_through_the_oracle)
{
    static struct tab t;
    static struct mx_result res;
    static struct mx_explain explain;
    res.explain = &explain;
    memset(&t, 0, sizeof t);
    struct mx_oracle o = {tab_get, &t};
    mx_result_reset(&res);
    /* pending until every answer is there: NS, addresses, then the servers */
    cr_expect_not(mx_checks_consistency("a.test", &o, &res));
    tab_put(&t, "a.test", MX_T_NS, ns_answer("ns2.a.test", "ns1.a.test"));
    cr_expect_not(mx_checks_consistency("a.test", &o, &res));
    tab_put(&t, "ns1.a.test", MX_T_A, a_answer("192.0.2.1"));
    tab_put(&t, "ns2.a.test", MX_T_A, a_answer("192.0.2.2"));
    tab_put(&t, "ns1.a.test", MX_T_AAAA, mx_answer_new(MX_RC_NOERROR, MX_T_AAAA, 300, false));
    tab_put(&t, "ns2.a.test", MX_T_AAAA, mx_answer_new(MX_RC_NOERROR, MX_T_AAAA, 300, false));
    t.asked = 0;
    cr_expect_not(mx_checks_consistency("a.test", &o, &res));
    cr_expect_eq(t.asked, 4, "MX and SOA of two servers asked: %u", t.asked);
    tab_server(&t, "192.0.2.1", "a.test", "10 mx1.a.test", 2, true);
    tab_server(&t, "192.0.2.2", "a.test", "10 mail.old.test", 1, false);
    cr_assert(mx_checks_consistency("a.test", &o, &res));
    cr_expect_eq(res.findings, MX_FBIT(MX_F_NS_LAME), "the second server has no AA");
    size_t l;
    const char *c = mx_result_col(&res, MX_COL_NS_SERVERS, &l);
    cr_expect_eq(l, strlen("ns1.a.test=192.0.2.1 auth;ns2.a.test=192.0.2.2 not_auth"));
    cr_expect_arr_eq(c, "ns1.a.test=192.0.2.1 auth;ns2.a.test=192.0.2.2 not_auth", l);
    c = mx_result_col(&res, MX_COL_NS_MX_SETS, &l);
    cr_expect_arr_eq(c, "{10 mx1.a.test}@192.0.2.1", l);
    c = mx_result_col(&res, MX_COL_NS_SERIALS, &l);
    cr_expect_arr_eq(c, "2@192.0.2.1", l);
    cr_expect(strstr(res.explain->ns_talk, "ns2.a.test 192.0.2.2: lame (not_auth); MX {10 mail.old.test} "
                                  "(NOERROR, no AA); SOA serial 1 (NOERROR, no AA)\n") != NULL,
              "%s", res.explain->ns_talk);
    /* a name that is not a zone apex (NODATA for NS) is not judged */
    mx_result_reset(&res);
    tab_put(&t, "www.a.test", MX_T_NS, mx_answer_new(MX_RC_NOERROR, MX_T_NS, 300, false));
    cr_assert(mx_checks_consistency("www.a.test", &o, &res));
    cr_expect_eq(res.findings, 0);
    mx_result_col(&res, MX_COL_NS_SERVERS, &l);
    cr_expect_eq(l, 0);
    cr_expect_eq(res.explain->ns_talk[0], 0);
    for (unsigned i = 0; i < t.n; i++)
        free(t.e[i].ans);
}
