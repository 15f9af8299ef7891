/* `mxscan check` and `mxscan spf` (check.h): the same engine and analysis
 * as a scan, for a handful of names, printed for people. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mx/analyze.h"
#include "mx/check.h"
#include "mx/dmarc.h"
#include "mx/engine.h"
#include "mx/input.h"
#include "mx/names.h"
#include "mx/providers.h"
#include "mx/scan.h"
#include "mx/spf.h"
#include "mx/text.h"

struct waitset {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned left;
    struct mx_analyze_cfg acfg;
};

static void done_cb(void *ud, struct mx_record *rec)
{
    (void)rec;
    struct waitset *w = ud;
    pthread_mutex_lock(&w->lock);
    w->left--;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static bool analyze_cb(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    struct waitset *w = ud;
    return mx_analyze(&w->acfg, rec->domain, o, &rec->res);
}

/* Runs fn over recs[0..n) (valid ones) with a fresh engine. */
static int run_engine(const struct mx_config *cfg, struct mx_record *recs, size_t n,
                      mx_analysis_fn fn, struct waitset *ws)
{
    char err[MX_ERRLEN];
    struct mx_engine *eng;
    if (mx_engine_create(cfg, fn, done_cb, ws, &eng, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        return MX_EXIT_FAIL;
    }
    if (mx_engine_start(eng, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        mx_engine_destroy(eng);
        return MX_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++)
        if (recs[i].valid) {
            pthread_mutex_lock(&ws->lock);
            ws->left++;
            pthread_mutex_unlock(&ws->lock);
            mx_engine_submit(eng, &recs[i]);
        }
    pthread_mutex_lock(&ws->lock);
    while (ws->left > 0)
        pthread_cond_wait(&ws->cond, &ws->lock);
    pthread_mutex_unlock(&ws->lock);
    mx_engine_close(eng);
    mx_engine_join(eng);
    mx_engine_destroy(eng);
    return MX_EXIT_OK;
}

static const char *sev_color(enum mx_severity s, bool color)
{
    if (!color)
        return "";
    return s == MX_SEV_ERROR ? "\033[1;31m" : s == MX_SEV_WARN ? "\033[33m" : "\033[36m";
}

static const char *mail_color(enum mx_mail_status m, bool color)
{
    if (!color)
        return "";
    switch (m) {
    case MX_MAIL_OK:
        return "\033[1;32m";
    case MX_MAIL_DEGRADED:
    case MX_MAIL_IMPLICIT:
    case MX_MAIL_UNKNOWN:
        return "\033[1;33m";
    case MX_MAIL_BROKEN:
    case MX_MAIL_INVALID:
        return "\033[1;31m";
    default:
        return "\033[1m";
    }
}

static void col(const struct mx_result *r, enum mx_column c, char *buf, size_t len)
{
    size_t l;
    const char *s = mx_result_col(r, c, &l);
    snprintf(buf, len, "%.*s", (int)l, s);
}

/* The addresses of exchange ex from the mx_addresses column. */
static void addresses_of(const char *all, const char *ex, char *out, size_t len)
{
    out[0] = 0;
    const char *p = all;
    size_t el = strlen(ex);
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > el && strncmp(p, ex, el) == 0 && p[el] == '=') {
            snprintf(out, len, "%.*s", (int)(n - el - 1), p + el + 1);
            return;
        }
        static const char alias[] = ">CNAME=";
        if (n > el + 7 && strncmp(p, ex, el) == 0 && strncmp(p + el, alias, 7) == 0) {
            snprintf(out, len, "%.*s (through a CNAME)", (int)(n - el - 7), p + el + 7);
            return;
        }
        p += n;
        if (*p == ';')
            p++;
    }
}

static void print_one(const struct mx_record *rec, bool color)
{
    const struct mx_result *r = &rec->res;
    const char *rs = color ? "\033[0m" : "";
    char dom[512], mx[4096], addrs[8192], ttl[32], tmp[1024];
    col(r, MX_COL_DOMAIN, dom, sizeof dom);
    col(r, MX_COL_MX, mx, sizeof mx);
    col(r, MX_COL_MX_ADDRESSES, addrs, sizeof addrs);
    col(r, MX_COL_MX_TTL, ttl, sizeof ttl);
    printf("%s%s%s\n", color ? "\033[1m" : "", dom, rs);
    printf("  mail status: %s%s%s   (MX query: %s)\n", mail_color(r->mail, color),
           mx_mail_status_name(r->mail), rs, mx_rc_name(r->status));
    if (mx[0]) {
        printf("  MX records (TTL %s s):\n", ttl[0] ? ttl : "?");
        char *save = NULL;
        for (char *e = strtok_r(mx, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
            char *sp = strchr(e, ' ');
            const char *name = sp ? sp + 1 : e;
            addresses_of(addrs, name, tmp, sizeof tmp);
            printf("    %-6.*s %-40s %s\n", sp ? (int)(sp - e) : 0, e, name,
                   tmp[0] ? tmp : (strcmp(name, ".") == 0 ? "(null MX)" : "-"));
        }
    } else if (r->mail == MX_MAIL_IMPLICIT) {
        printf("  no MX: mail goes to the domain's own addresses: %s\n", addrs);
    }
    char spf[1100], dmarc[600], pol[32], src[32], prov[256], sprov[256], lk[16], vd[16];
    col(r, MX_COL_SPF, spf, sizeof spf);
    col(r, MX_COL_DMARC, dmarc, sizeof dmarc);
    col(r, MX_COL_DMARC_POLICY, pol, sizeof pol);
    col(r, MX_COL_DMARC_SOURCE, src, sizeof src);
    col(r, MX_COL_PROVIDERS, prov, sizeof prov);
    col(r, MX_COL_SPF_PROVIDERS, sprov, sizeof sprov);
    col(r, MX_COL_SPF_LOOKUPS, lk, sizeof lk);
    col(r, MX_COL_SPF_VOIDS, vd, sizeof vd);
    if (spf[0])
        printf("  SPF: %s\n       (%s DNS-querying terms, %s void look-ups)\n", spf,
               lk[0] ? lk : "0", vd[0] ? vd : "0");
    if (dmarc[0])
        printf("  DMARC: %s\n         (policy %s, found at the %s)\n", dmarc, pol[0] ? pol : "-",
               strcmp(src, "organizational") == 0 ? "organizational domain" : "domain");
    if (prov[0] || sprov[0])
        printf("  providers: exchanges %s; authorized by SPF %s\n", prov[0] ? prov : "-",
               sprov[0] ? sprov : "-");
    if (!r->findings) {
        printf("  no findings\n\n");
        return;
    }
    printf("  findings:\n");
    for (unsigned f = 0; f < MX_F_COUNT; f++) {
        if (!(r->findings & MX_FBIT(f)))
            continue;
        enum mx_severity s = mx_finding_severity((enum mx_finding)f);
        printf("    %s%-5s%s %s\n", sev_color(s, color), mx_severity_name(s), rs,
               mx_finding_label((enum mx_finding)f));
        printf("          %s\n          fix: %s\n", mx_finding_why((enum mx_finding)f),
               mx_finding_fix((enum mx_finding)f));
    }
    printf("\n");
}

int mx_check_run(const struct mx_opts *o)
{
    int rc = MX_EXIT_FAIL;
    struct waitset ws;
    memset(&ws, 0, sizeof ws);
    pthread_mutex_init(&ws.lock, NULL);
    pthread_cond_init(&ws.cond, NULL);
    char err[MX_ERRLEN];
    struct mx_providers *prov = NULL;
    struct mx_record *recs = calloc(o->nargs, sizeof *recs);
    if (!recs)
        goto out;
    if (mx_providers_load(o->cfg.providers_path, &prov, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: providers: %s\n", err);
        goto out;
    }
    ws.acfg.checks = o->cfg.checks;
    ws.acfg.allow = &o->cfg.allow;
    ws.acfg.providers = prov;
    for (size_t i = 0; i < o->nargs; i++) {
        struct mx_record *r = &recs[i];
        r->seq = i;
        mx_result_reset(&r->res);
        char shown[MX_INPUT_LINE_MAX * 4 + 1];
        r->valid = mx_name_normalize(o->args[i], strlen(o->args[i]), shown, sizeof shown);
        if (r->valid)
            memcpy(r->domain, shown, strlen(shown) + 1);
        else
            mx_analyze_invalid(shown, &r->res);
    }
    rc = run_engine(&o->cfg, recs, o->nargs, analyze_cb, &ws);
    if (rc != MX_EXIT_OK)
        goto out;
    bool error_seen = false;
    for (size_t i = 0; i < o->nargs; i++) {
        print_one(&recs[i], o->cfg.color);
        for (unsigned f = 0; f < MX_F_COUNT; f++)
            if ((recs[i].res.findings & MX_FBIT(f)) &&
                mx_finding_severity((enum mx_finding)f) == MX_SEV_ERROR)
                error_seen = true;
    }
    rc = error_seen ? MX_EXIT_FINDINGS : MX_EXIT_OK;
out:
    free(recs);
    mx_providers_destroy(prov);
    pthread_mutex_destroy(&ws.lock);
    pthread_cond_destroy(&ws.cond);
    return rc;
}

/* ---- mxscan spf ---- */

struct spf_job {
    struct mx_ip ip;
    char sender[512];
    const char *helo;
    uint64_t now;
    enum mx_spf_result result;
    struct mx_spf_trace trace;
    struct mx_spf_info info;
};

/* The DOMAIN argument as check_host()'s <domain>: trimmed, one trailing
 * dot dropped, lowercase, IDN as A-labels. false when RFC 7208 4.3 makes
 * it "none" (out then holds it for display). */
static bool spf_domain(const char *arg, char *out, size_t outlen)
{
    size_t n = strlen(arg);
    if (mx_name_normalize(arg, n, out, outlen))
        return mx_spf_domain_ok(out);
    while (n > 0 && (*arg == ' ' || *arg == '\t')) {
        arg++;
        n--;
    }
    while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
        n--;
    if (n > 0 && arg[n - 1] == '.')
        n--;
    bool printable = n < outlen;
    size_t k = n < outlen ? n : outlen - 1;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (c < 0x21 || c > 0x7e)
            printable = false;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[k] = 0;
    return printable && mx_spf_domain_ok(out);
}

static bool spf_cb(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    struct spf_job *j = rec->job;
    bool info_done = mx_spf_analyze(o, rec->domain, &j->info);
    memset(&j->trace, 0, sizeof j->trace);
    j->result =
        mx_spf_check_host_explain(o, &j->ip, rec->domain, j->sender, j->helo, j->now, &j->trace);
    return info_done && j->result != MX_SPF_PENDING;
}

int mx_spf_cmd_run(const struct mx_opts *o)
{
    struct waitset ws;
    memset(&ws, 0, sizeof ws);
    pthread_mutex_init(&ws.lock, NULL);
    pthread_cond_init(&ws.cond, NULL);
    struct spf_job *job = calloc(1, sizeof *job);
    struct mx_record *rec = calloc(1, sizeof *rec);
    int rc = MX_EXIT_FAIL;
    if (!job || !rec)
        goto out;
    if (!mx_ip_parse(o->spf_ip, &job->ip)) {
        fprintf(stderr, "mxscan: bad --ip '%s': want an IPv4 or IPv6 address\n", o->spf_ip);
        rc = MX_EXIT_USAGE;
        goto out;
    }
    /* RFC 7208 4.3: a malformed <domain> (a 64-octet or empty label, one
     * label, an address literal such as [192.0.2.1]) is check_host() "none",
     * not a usage error. IDN input becomes A-labels; SPF names such as
     * _spf.example.com are fine here, although no host names. */
    char shown[MX_NAME_MAX + 1];
    bool wellformed = spf_domain(o->args[0], rec->domain, sizeof rec->domain);
    mx_text_copy_shown(shown, sizeof shown, rec->domain, strlen(rec->domain));
    if (o->spf_sender)
        snprintf(job->sender, sizeof job->sender, "%s", o->spf_sender);
    else
        snprintf(job->sender, sizeof job->sender, "postmaster@%s", shown);
    job->helo = o->spf_helo;
    job->now = (uint64_t)time(NULL);
    char ipbuf[64];
    mx_ip_format(&job->ip, ipbuf, sizeof ipbuf);
    if (!wellformed) {
        printf("check_host(%s, %s, %s) = none\n", ipbuf, shown, job->sender);
        printf("  note: not a valid domain name (RFC 7208 4.3): no look-up made\n");
        rc = MX_EXIT_OK;
        goto out;
    }
    rec->valid = true;
    rec->job = job;
    rc = run_engine(&o->cfg, rec, 1, spf_cb, &ws);
    if (rc != MX_EXIT_OK)
        goto out;
    printf("check_host(%s, %s, %s) = %s\n", ipbuf, rec->domain, job->sender,
           mx_spf_result_name(job->result));
    printf("  decided by: %s\n", job->trace.term[0] ? job->trace.term : "(default: no match)");
    printf("  DNS-querying terms evaluated: %u, void look-ups: %u\n", job->trace.lookups,
           job->trace.voids);
    if (job->trace.explain[0])
        printf("  note: %s\n", job->trace.explain);
    if (job->result == MX_SPF_FAIL && job->trace.explanation[0]) {
        char shown_exp[sizeof job->trace.explanation];
        mx_text_copy_shown(shown_exp, sizeof shown_exp, job->trace.explanation,
                           strlen(job->trace.explanation));
        printf("  explanation (from the domain's exp=): %s\n", shown_exp);
    }
    if (job->info.nrecords)
        printf("  record: %s\n", job->info.record);
    printf("  whole tree: %u DNS-querying terms, %u void look-ups", job->info.lookups,
           job->info.voids);
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        if (job->info.findings & MX_FBIT(f))
            printf("; %s", mx_finding_label((enum mx_finding)f));
    printf("\n");
    rc = MX_EXIT_OK;
out:
    free(job);
    free(rec);
    pthread_mutex_destroy(&ws.lock);
    pthread_cond_destroy(&ws.cond);
    return rc;
}
