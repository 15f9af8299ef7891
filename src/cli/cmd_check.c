/* `mxscan check` (cmd.h): the same engine and analysis as a scan, for a
 * handful of names, printed for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mx/analyze.h"
#include "mx/cmd.h"
#include "mx/engine.h"
#include "mx/input.h"
#include "mx/names.h"
#include "mx/optin.h"
#include "mx/providers.h"
#include "mx/scan.h"

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

/* The record has a mechanism named mech ("mx", "a" ...), any qualifier. */
static bool has_mechanism(const char *spf, const char *mech)
{
    size_t ml = strlen(mech);
    for (const char *p = spf; (p = strstr(p, mech)) != NULL; p += ml) {
        bool start = p == spf || p[-1] == ' ' || strchr("+-~?", p[-1]);
        bool end = p[ml] == 0 || p[ml] == ' ' || p[ml] == ':' || p[ml] == '/';
        if (start && end)
            return true;
    }
    return false;
}

/* The note of finding f in r->explain->policy_notes ("label: detail" lines). */
static void print_policy_note(const struct mx_result *r, enum mx_finding f)
{
    const char *label = mx_finding_label(f);
    size_t ll = strlen(label);
    for (const char *l = r->explain->policy_notes; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n > ll + 2 && strncmp(l, label, ll) == 0 && l[ll] == ':' && l[ll + 1] == ' ') {
            printf("          here: %.*s\n", (int)(n - ll - 2), l + ll + 2);
            return;
        }
        l += n + (e ? 1 : 0);
    }
}

/* One policy column, "  NAME: text" when it is not empty. */
static void print_col(const struct mx_result *r, enum mx_column c, const char *name)
{
    size_t l;
    const char *s = mx_result_col(r, c, &l);
    if (l > 0)
        printf("  %s: %.*s\n", name, (int)l, s);
}

/* MTA-STS, TLS-RPT and DANE, from the columns (empty when not checked). */
static void print_policy(const struct mx_result *r)
{
    char mode[32], rec[32], id[64], fetch[256], pol[64], age[16];
    col(r, MX_COL_MTA_STS_MODE, mode, sizeof mode);
    col(r, MX_COL_MTA_STS_RECORD, rec, sizeof rec);
    col(r, MX_COL_MTA_STS_ID, id, sizeof id);
    col(r, MX_COL_MTA_STS_FETCH, fetch, sizeof fetch);
    col(r, MX_COL_MTA_STS_POLICY, pol, sizeof pol);
    col(r, MX_COL_MTA_STS_MAX_AGE, age, sizeof age);
    if (mode[0]) {
        printf("  MTA-STS: %s", mode);
        if (rec[0])
            printf(" (record %s%s%s", rec, id[0] ? ", id " : "", id);
        if (rec[0] && fetch[0])
            printf("; policy fetch %s", fetch);
        if (rec[0] && pol[0])
            printf(", policy %s", pol);
        if (rec[0] && age[0])
            printf(", max_age %s s", age);
        printf("%s\n", rec[0] ? ")" : "");
    }
    print_col(r, MX_COL_MTA_STS_MX, "MTA-STS mx");
    print_col(r, MX_COL_TLSRPT, "TLS-RPT");
    print_col(r, MX_COL_TLSRPT_RUA, "TLS-RPT rua");
    print_col(r, MX_COL_DANE, "DANE (TLSA)");
    print_col(r, MX_COL_DANE_MATCH, "DANE match");
}

/* What this domain's case of finding f is, and the fix that fits it. */
static void print_detail(const struct mx_result *r, enum mx_finding f, const char *spf)
{
    const char *fix = mx_finding_fix(f);
    switch (f) {
    case MX_F_SPF_SYNTAX:
    case MX_F_SPF_INCLUDE_BROKEN:
    case MX_F_SPF_LOOKUP_LIMIT:
    case MX_F_SPF_VOID_LIMIT:
    case MX_F_SPF_MULTIPLE:
        if (r->explain->spf_problem[0])
            printf("          here: %s\n", r->explain->spf_problem);
        if (f == MX_F_SPF_LOOKUP_LIMIT && strncmp(r->explain->spf_problem, "include loop", 12) == 0)
            fix = "Break the loop: remove the include that leads back to a record already "
                  "on the path.";
        break;
    case MX_F_SPF_MX_NOT_COVERED:
        if (r->explain->spf_cover[0])
            printf("          here: %s\n", r->explain->spf_cover);
        if (has_mechanism(spf, "mx"))
            fix = "The record has an mx mechanism, yet this address does not pass: look at "
                  "the term that decided (an earlier -all, a redirect, a cidr suffix on mx, "
                  "a qualifier other than +), and add the address with ip4:/ip6: if needed.";
        break;
    case MX_F_NS_MX_INCONSISTENT:
    case MX_F_NS_SERIAL_MISMATCH: {
        char sets[2048];
        col(r, f == MX_F_NS_MX_INCONSISTENT ? MX_COL_NS_MX_SETS : MX_COL_NS_SERIALS, sets,
            sizeof sets);
        printf("          here: %s\n", sets);
        break;
    }
    default:
        if (f >= MX_F_MTA_STS_INVALID && f <= MX_F_DANE_PARTIAL)
            print_policy_note(r, f);
        break;
    }
    printf("          fix: %s\n", fix);
}

/* A heading and the '\n'-separated lines of text, indented; nothing when
 * text is empty. */
static void print_lines(const char *heading, const char *text)
{
    if (!text[0])
        return;
    printf("  %s:\n", heading);
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        printf("    %.*s\n", (int)n, l);
        l += n + (e ? 1 : 0);
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
    print_lines("SMTP", r->explain->smtp_talk);
    print_lines("authoritative servers, asked directly", r->explain->ns_talk);
    print_policy(r);
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
        printf("          %s\n", mx_finding_why((enum mx_finding)f));
        print_detail(r, (enum mx_finding)f, spf);
    }
    printf("\n");
}

struct optin_hooks {
    const struct mx_config *cfg;
    struct mx_optin *optin;
};

static enum mx_status optin_setup(void *ud, struct mx_engine *e, char *err, size_t errlen)
{
    struct optin_hooks *h = ud;
    return mx_optin_start(h->cfg, e, &h->optin, err, errlen);
}

static void optin_teardown(void *ud)
{
    struct optin_hooks *h = ud;
    mx_optin_stop(h->optin);
    h->optin = NULL;
}

int mx_check_run(const struct mx_opts *o)
{
    int rc = MX_EXIT_FAIL;
    struct mx_analyze_cfg acfg;
    char err[MX_ERRLEN];
    struct mx_providers *prov = NULL;
    struct mx_record *recs = calloc(o->nargs, sizeof *recs);
    struct mx_explain *explain = calloc(o->nargs, sizeof *explain);
    if (!recs || !explain)
        goto out;
    if (mx_providers_load(o->cfg.providers_path, &prov, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: providers: %s\n", err);
        goto out;
    }
    acfg.checks = o->cfg.checks;
    acfg.smtp_rcpt = o->cfg.smtp_rcpt;
    acfg.allow = &o->cfg.allow;
    acfg.providers = prov;
    for (size_t i = 0; i < o->nargs; i++) {
        struct mx_record *r = &recs[i];
        r->seq = i;
        r->res.explain = &explain[i];
        mx_result_reset(&r->res);
        char shown[MX_INPUT_LINE_MAX * 4 + 1];
        r->valid = mx_name_normalize(o->args[i], strlen(o->args[i]), shown, sizeof shown);
        if (r->valid)
            memcpy(r->domain, shown, strlen(shown) + 1);
        else
            mx_analyze_invalid(shown, &r->res);
    }
    struct optin_hooks oh = {&o->cfg, NULL};
    struct mx_engine_hooks hooks = {optin_setup, optin_teardown, &oh};
    if (mx_engine_run_all(&o->cfg, recs, o->nargs, mx_analyze_record, &acfg, &hooks, NULL, err,
                          sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        goto out;
    }
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
    free(explain);
    mx_providers_destroy(prov);
    return rc;
}
