/* Test driver for the transport-security modules (mta_sts.h, tlsrpt.h,
 * dane.h, smtp.h) against a real resolver: for each domain read from stdin it
 * asks, with the AD bit set (mx_dns_build_query_flags) and read back with
 * mx_answer_from_wire, the MX set, each exchange's A record, `_mta-sts`,
 * `mta-sts.<domain>` A, `_smtp._tls` and the TLSA records of each exchange
 * (RFC 7672 base names), then fetches the MTA-STS policy (mx_sts_fetch) and
 * probes each exchange (mx_smtp), and prints one JSON object per domain:
 * the modules' facts and the findings the analysis would report, in the
 * SPEC's order. It is the reference for how the scan engine wires the
 * modules (see the README, "Transport security policies").
 *
 *   policy_cli --resolver ADDR:PORT [--allow CIDR[,...]] [--https-ca PEM]
 *              [--https-port N] [--smtp-ca PEM] [--smtp-port N] [--ehlo NAME]
 *
 * DNS here is a plain blocking UDP client (one query at a time, 2 s, 3
 * tries): fine for a few dozen lab names, not for scans. Exit 0 when every
 * domain got a line, 1 on errors, 2 on bad usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../cli_num.h"
#include "mx/dane.h"
#include "mx/mta_sts.h"
#include "mx/smtp.h"
#include "mx/sockio.h"
#include "mx/tlsrpt.h"

static struct sockaddr_in resolver;

static struct mx_answer *ask(const char *name, uint16_t qtype)
{
    unsigned char q[600], a[65536];
    static uint16_t id = 1;
    size_t ql = mx_dns_build_query_flags(q, sizeof q, ++id, name, qtype, 1232, MX_DNSQ_AD);
    if (!ql)
        return mx_answer_failure(MX_RC_INVALID, qtype);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mx_answer_failure(MX_RC_TIMEOUT, qtype);
    struct mx_answer *res = NULL;
    for (int t = 0; t < 3 && !res; t++) {
        sendto(fd, q, ql, 0, (struct sockaddr *)&resolver, sizeof resolver);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (!res && poll(&p, 1, 2000) > 0) {
            ssize_t n = recv(fd, a, sizeof a, 0);
            if (n < 12 || a[0] != q[0] || a[1] != q[1])
                continue;
            if (a[2] & 0x02) { /* TC: the lab keeps answers small */
                res = mx_answer_failure(MX_RC_OTHER, qtype);
                break;
            }
            res = mx_answer_from_wire(a, (size_t)n, name, qtype);
        }
    }
    close(fd);
    return res ? res : mx_answer_failure(MX_RC_TIMEOUT, qtype);
}

/* ---- async results ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned pending;

#define XMAX 8

struct exch {
    char name[MX_NAME_MAX + 1];
    bool has_addr, addr_ad;
    struct mx_ip ip;
    char owner[MX_DANE_OWNER_MAX + 1];
    struct mx_dane_rrset tlsa;
    struct mx_smtp_result probe;
    bool probed;
};

struct dom {
    char name[MX_NAME_MAX + 1];
    unsigned nx;
    struct exch x[XMAX];
    struct mx_sts_record sts;
    bool fetched;
    struct mx_sts_fetch_result fetch;
    struct mx_tlsrpt_record rpt;
};

static void on_fetch(void *ud, const struct mx_sts_fetch_result *r)
{
    struct dom *d = ud;
    pthread_mutex_lock(&lock);
    d->fetch = *r;
    d->fetched = true;
    pending--;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void on_probe(void *ud, const struct mx_smtp_result *r)
{
    struct exch *x = ud;
    pthread_mutex_lock(&lock);
    x->probe = *r;
    x->probed = true;
    pending--;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

/* ---- the DNS part of one domain ---- */

static void resolve(struct dom *d, struct mx_sts_fetch *f, struct mx_smtp *p)
{
    char n[MX_NAME_MAX + 32];
    struct mx_answer *mx = ask(d->name, MX_T_MX);
    size_t off = 0;
    struct mx_rdata rd;
    while (mx_answer_next(mx, &off, &rd) && d->nx < XMAX) {
        struct exch *x = &d->x[d->nx++];
        snprintf(x->name, sizeof x->name, "%s", rd.name);
        struct mx_answer *a = ask(x->name, MX_T_A);
        struct mx_rdata ard;
        if (mx_answer_get(a, 0, &ard)) {
            x->has_addr = true;
            x->ip = ard.ip;
        }
        x->addr_ad = a->ad;
        /* RFC 7672 2.2.2 */
        char owners[2][MX_DANE_OWNER_MAX + 1];
        unsigned no = mx_dane_base_names(x->name, a, owners);
        for (unsigned i = 0; i < no; i++) {
            struct mx_answer *t = ask(owners[i], MX_T_TLSA);
            memcpy(x->owner, owners[i], sizeof x->owner); /* same size */
            mx_dane_rrset_judge(t, &x->tlsa);
            bool next = mx_dane_try_next(t);
            free(t);
            if (!next)
                break;
        }
        free(a);
        if (x->has_addr) {
            pthread_mutex_lock(&lock);
            pending++;
            pthread_mutex_unlock(&lock);
            if (mx_smtp_submit(p, &x->ip, x->name, NULL, on_probe, x) != MX_OK) {
                pthread_mutex_lock(&lock);
                pending--;
                pthread_mutex_unlock(&lock);
            }
        }
    }
    free(mx);
    snprintf(n, sizeof n, "_mta-sts.%s", d->name);
    struct mx_answer *t = ask(n, MX_T_TXT);
    if (t->rc == MX_RC_NOERROR)
        mx_sts_record_judge(t, &d->sts);
    free(t);
    if (d->sts.verdict == MX_STS_REC_OK) {
        snprintf(n, sizeof n, "mta-sts.%s", d->name);
        struct mx_answer *a = ask(n, MX_T_A);
        struct mx_ip ips[MX_STS_ADDR_MAX];
        size_t k = 0;
        off = 0;
        while (k < MX_STS_ADDR_MAX && mx_answer_next(a, &off, &rd))
            ips[k++] = rd.ip;
        free(a);
        pthread_mutex_lock(&lock);
        pending++;
        pthread_mutex_unlock(&lock);
        if (mx_sts_fetch_submit(f, d->name, ips, k, on_fetch, d) != MX_OK) {
            pthread_mutex_lock(&lock);
            pending--;
            pthread_mutex_unlock(&lock);
        }
    }
    snprintf(n, sizeof n, "_smtp._tls.%s", d->name);
    t = ask(n, MX_T_TXT);
    if (t->rc == MX_RC_NOERROR)
        mx_tlsrpt_judge(t, &d->rpt);
    free(t);
}

/* ---- findings (the mapping proposed to the analysis) ---- */

static bool cert_ok(const struct exch *x)
{
    return x->probed && x->probe.tls == MX_SMTP_TLS_OK && x->probe.cert == MX_SMTP_CERT_VALID;
}

static void report(const struct dom *d)
{
    const struct mx_sts_policy *pol = &d->fetch.policy;
    bool sts_ok = d->sts.verdict == MX_STS_REC_OK && d->fetched &&
                  d->fetch.outcome == MX_STS_FETCH_OK && pol->verdict == MX_STS_POL_OK;
    bool sts_invalid = d->sts.records > 0 && !sts_ok;
    bool judged = sts_ok && pol->mode != MX_STS_MODE_NONE;
    bool mismatch = false, tls_fails = false;
    bool dane_unsigned = false, dane_invalid = false, dane_mismatch = false;
    unsigned with = 0, without = 0;
    printf("{\"domain\":\"%s\"", d->name);
    printf(",\"sts_record\":\"%s\",\"sts_id\":\"%s\"", mx_sts_rec_name(d->sts.verdict), d->sts.id);
    printf(",\"sts_fetch\":\"%s\",\"sts_status\":%ld",
           d->fetched ? mx_sts_fetch_outcome_name(d->fetch.outcome) : "-",
           d->fetched ? d->fetch.status : 0L);
    bool parsed = d->fetched && d->fetch.outcome == MX_STS_FETCH_OK;
    printf(",\"sts_policy\":\"%s\",\"sts_mode\":\"%s\",\"sts_max_age\":%u,\"sts_mx\":[",
           parsed ? mx_sts_pol_name(pol->verdict) : "-",
           parsed && pol->verdict == MX_STS_POL_OK ? mx_sts_mode_name(pol->mode) : "-",
           parsed ? (unsigned)pol->max_age : 0u);
    for (unsigned i = 0; parsed && i < pol->n_mx; i++)
        printf("%s\"%s\"", i ? "," : "", mx_sts_policy_mx(pol, i));
    printf("],\"sts_cert_error\":\"%s\"", d->fetched ? d->fetch.cert_error : "");
    printf(",\"tlsrpt\":\"%s\",\"exchanges\":[", mx_tlsrpt_name(d->rpt.verdict));
    for (unsigned i = 0; i < d->nx; i++) {
        const struct exch *x = &d->x[i];
        bool covered = judged && mx_sts_policy_matches(pol, x->name);
        if (judged && !covered)
            mismatch = true;
        if (covered && pol->mode == MX_STS_MODE_ENFORCE && !cert_ok(x))
            tls_fails = true;
        const char *why = "";
        enum mx_dane_match m = MX_DANE_MATCH_NOT_CHECKED;
        if (x->tlsa.state == MX_DANE_USABLE && x->probed)
            m = mx_dane_match(&x->tlsa, &x->probe, mx_dane_name_ok(&x->probe), &why);
        enum mx_dane_state s = x->tlsa.state;
        if (s == MX_DANE_UNSIGNED)
            dane_unsigned = true;
        if ((s == MX_DANE_USABLE || s == MX_DANE_UNUSABLE) && x->tlsa.n_usable < x->tlsa.n)
            dane_invalid = true;
        if (m == MX_DANE_MATCH_MISMATCH || m == MX_DANE_MATCH_NO_TLS)
            dane_mismatch = true;
        if (s == MX_DANE_USABLE || s == MX_DANE_UNUSABLE)
            with++;
        else if (s == MX_DANE_NONE || s == MX_DANE_UNSIGNED)
            without++;
        printf("%s{\"name\":\"%s\",\"addr_ad\":%s,\"owner\":\"%s\",\"dane\":\"%s\","
               "\"tlsa_ad\":%s,\"records\":%u,\"usable\":%u,\"match\":\"%s\",\"why\":\"%s\","
               "\"tls\":\"%s\",\"cert\":\"%s\",\"sts_match\":%s}",
               i ? "," : "", x->name, x->addr_ad ? "true" : "false", x->owner,
               mx_dane_state_name(s), x->tlsa.validated ? "true" : "false", x->tlsa.n,
               x->tlsa.n_usable, mx_dane_match_name(m), why,
               x->probed ? mx_smtp_tls_name(x->probe.tls) : "-",
               x->probed ? mx_smtp_cert_name(x->probe.cert) : "-", covered ? "true" : "false");
    }
    bool deployed = d->sts.records > 0 || with > 0;
    const char *f[9];
    unsigned nf = 0;
    if (sts_invalid)
        f[nf++] = "mta_sts_invalid";
    if (mismatch)
        f[nf++] = "mta_sts_mx_mismatch";
    if (tls_fails)
        f[nf++] = "mta_sts_tls_fails";
    if (d->rpt.records > 0 && d->rpt.verdict != MX_TLSRPT_OK)
        f[nf++] = "tlsrpt_invalid";
    if (deployed && d->rpt.records == 0)
        f[nf++] = "tlsrpt_missing";
    if (dane_unsigned)
        f[nf++] = "dane_tlsa_unsigned";
    if (dane_invalid)
        f[nf++] = "dane_tlsa_invalid";
    if (dane_mismatch)
        f[nf++] = "dane_tlsa_mismatch";
    if (with > 0 && without > 0)
        f[nf++] = "dane_partial";
    printf("],\"findings\":[");
    for (unsigned i = 0; i < nf; i++)
        printf("%s\"%s\"", i ? "," : "", f[i]);
    printf("]}\n");
}

static unsigned num(const char *opt, const char *s)
{
    return cli_num("policy_cli", opt, s, 65535);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"resolver", 1, 0, 'r'},   {"allow", 1, 0, 'a'},     {"https-ca", 1, 0, 'h'},
        {"https-port", 1, 0, 'p'}, {"smtp-ca", 1, 0, 's'},   {"smtp-port", 1, 0, 'P'},
        {"ehlo", 1, 0, 'e'},       {0, 0, 0, 0}};
    struct mx_allowlist allow;
    struct mx_sts_fetch_cfg fc;
    struct mx_smtp_cfg sc;
    char err[MX_ERRLEN];
    const char *res = NULL;
    memset(&allow, 0, sizeof allow);
    memset(&fc, 0, sizeof fc);
    memset(&sc, 0, sizeof sc);
    fc.allow = sc.allow = &allow;
    sc.conn_rate = 100;
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'r': res = optarg; break;
        case 'a':
            if (mx_allowlist_parse(&allow, optarg, err, sizeof err) != MX_OK) {
                fprintf(stderr, "policy_cli: %s\n", err);
                return 2;
            }
            break;
        case 'h': fc.ca_file = optarg; break;
        case 'p': fc.port = (uint16_t)num("--https-port", optarg); break;
        case 's': sc.ca_file = optarg; break;
        case 'P': sc.port = (uint16_t)num("--smtp-port", optarg); break;
        case 'e': sc.ehlo_name = optarg; break;
        default: return 2;
        }
    }
    char host[64];
    const char *colon = res ? strrchr(res, ':') : NULL;
    if (!colon || (size_t)(colon - res) >= sizeof host) {
        fprintf(stderr, "policy_cli: --resolver ADDR:PORT is required\n");
        return 2;
    }
    memcpy(host, res, (size_t)(colon - res));
    host[colon - res] = '\0';
    resolver.sin_family = AF_INET;
    resolver.sin_port = htons((uint16_t)num("--resolver port", colon + 1));
    if (inet_pton(AF_INET, host, &resolver.sin_addr) != 1) {
        fprintf(stderr, "policy_cli: bad resolver address %s\n", host);
        return 2;
    }
    struct mx_sts_fetch *f = mx_sts_fetch_create(&fc, err, sizeof err);
    struct mx_smtp *p = f ? mx_smtp_create(&sc, err, sizeof err) : NULL;
    if (!f || !p) {
        fprintf(stderr, "policy_cli: %s\n", err);
        mx_sts_fetch_destroy(f);
        return 1;
    }
    size_t n = 0, cap = 0;
    struct dom **doms = NULL;
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char *s = strtok(line, " \t\r\n");
        if (!s || s[0] == '#')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            doms = realloc(doms, cap * sizeof *doms);
            if (!doms)
                return 1;
        }
        struct dom *d = calloc(1, sizeof *d);
        if (!d)
            return 1;
        snprintf(d->name, sizeof d->name, "%s", s);
        doms[n++] = d;
        resolve(d, f, p);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 120;
    pthread_mutex_lock(&lock);
    while (pending > 0)
        if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT)
            break;
    unsigned left = pending;
    pthread_mutex_unlock(&lock);
    struct mx_sts_fetch_stats fs;
    struct mx_smtp_stats ss;
    mx_sts_fetch_stats(f, &fs);
    mx_smtp_stats(p, &ss);
    mx_sts_fetch_destroy(f);
    mx_smtp_destroy(p);
    for (size_t i = 0; i < n; i++) {
        report(doms[i]);
        free(doms[i]);
    }
    free(doms);
    fprintf(stderr,
            "{\"fetch_requests\":%llu,\"fetches\":%llu,\"fetch_cached\":%llu,"
            "\"smtp_requests\":%llu,\"smtp_connections\":%llu,\"left\":%u}\n",
            (unsigned long long)fs.requests, (unsigned long long)fs.fetches,
            (unsigned long long)fs.cached, (unsigned long long)ss.requests,
            (unsigned long long)ss.connections, left);
    return left ? 1 : 0;
}
