/* The report page (report.h): a self-contained HTML file with inline CSS
 * and SVG, no script and no external resource (its Content-Security-Policy
 * forbids loading any). Every name from the data is escaped. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mx/result.h"
#include "report_int.h"

#define TOP_PROVIDERS 12
#define TOP_FINDINGS 20

static const char *const STYLE =
    "body{font-family:sans-serif;margin:2em auto;max-width:900px;color:#222}"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "figure{margin:0.8em 0}figcaption{font-size:0.85em;color:#555}"
    "svg.chart text{font-size:12px;fill:#222}svg.chart text.val{fill:#444}"
    "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;"
    "padding:3px 6px;text-align:left;vertical-align:top}td.n{text-align:right}"
    ".files{font-size:0.85em;color:#555}";

static const char *mail_color(enum mx_mail_status m)
{
    static const char *const c[MX_MAIL_COUNT] = {
        [MX_MAIL_OK] = MX_COLOR_GOOD,      [MX_MAIL_DEGRADED] = MX_COLOR_WARN,
        [MX_MAIL_BROKEN] = MX_COLOR_ERROR, [MX_MAIL_IMPLICIT] = "#f1c40f",
        [MX_MAIL_NO_MAIL] = MX_COLOR_GREY, [MX_MAIL_NXDOMAIN] = "#7f8c8d",
        [MX_MAIL_UNKNOWN] = "#8e44ad",     [MX_MAIL_INVALID] = "#34495e"};
    return c[m];
}

static const char *severity_color(enum mx_severity s)
{
    return s == MX_SEV_ERROR ? MX_COLOR_ERROR : s == MX_SEV_WARN ? MX_COLOR_WARN : MX_COLOR_INFO;
}

static void section(FILE *f, const char *id, const char *title)
{
    fprintf(f, "<section id=\"%s\">\n<h2>", id);
    mx_report_escape(f, title);
    fputs("</h2>\n", f);
}

/* ---- mail status, findings ---- */

static void mail_status(FILE *f, const struct mx_report *r)
{
    struct mx_chart_row rows[MX_MAIL_COUNT];
    for (unsigned m = 0; m < MX_MAIL_COUNT; m++)
        rows[m] = (struct mx_chart_row){
            mx_mail_status_name((enum mx_mail_status)m),
            {{r->tally->mail[m], NULL, mail_color((enum mx_mail_status)m)}},
            1};
    struct mx_chart c = {"chart-mail", "Mail status", "Domains by mail_status (SPEC section 2); "
                         "shares of all domains", rows, MX_MAIL_COUNT, r->tally->domains, false};
    section(f, "mail", "Mail status");
    mx_chart_write(f, &c);
    fputs("</section>\n", f);
}

static int by_count_desc(const void *a, const void *b)
{
    const struct mx_chart_row *x = a, *y = b;
    if (x->seg[0].v != y->seg[0].v)
        return x->seg[0].v < y->seg[0].v ? 1 : -1;
    return strcmp(x->label, y->label);
}

static void findings(FILE *f, const struct mx_report *r)
{
    static const char *const names[3] = {"info", "warning", "error"};
    struct mx_chart_row sev[3];
    for (int s = 2; s >= 0; s--)
        sev[2 - s] = (struct mx_chart_row){
            names[s], {{r->tally->severity[s], NULL, severity_color((enum mx_severity)s)}}, 1};
    struct mx_chart cs = {"chart-severity", "Findings by severity",
                          "Domains with at least one finding of each severity; shares of all "
                          "domains", sev, 3, r->tally->domains, false};
    struct mx_chart_row codes[MX_F_COUNT];
    unsigned n = 0;
    for (unsigned i = 0; i < MX_F_COUNT; i++)
        if (r->tally->findings[i]) {
            enum mx_severity s = mx_finding_severity((enum mx_finding)i);
            codes[n++] = (struct mx_chart_row){mx_finding_label((enum mx_finding)i),
                                               {{r->tally->findings[i], names[s],
                                                 severity_color(s)}}, 1};
        }
    qsort(codes, n, sizeof codes[0], by_count_desc);
    struct mx_chart cc = {"chart-findings", "Most common findings",
                          "Domains with each finding code, coloured by severity; shares of all "
                          "domains", codes, n < TOP_FINDINGS ? n : TOP_FINDINGS,
                          r->tally->domains, true};
    section(f, "findings", "Findings by severity");
    mx_chart_write(f, &cs);
    mx_chart_write(f, &cc);
    fputs("</section>\n", f);
}

/* ---- providers ---- */

struct prov {
    const char *name;
    uint64_t domains, by_sev[3];
};

/* Providers merged by name (several rows of the data file may name one),
 * most domains first; returns how many. */
static unsigned provider_totals(const struct mx_report *r, struct prov *out)
{
    size_t np = r->providers ? mx_providers_count(r->providers) : 0;
    unsigned n = 0;
    for (size_t i = 0; i < np && i < MX_STATS_MAX_PROVIDERS; i++) {
        const char *name = mx_providers_name(r->providers, (uint16_t)i);
        unsigned k = 0;
        while (k < n && strcmp(out[k].name, name) != 0)
            k++;
        if (k == n)
            out[n++] = (struct prov){name, 0, {0, 0, 0}};
        out[k].domains += r->tally->providers[i];
        for (unsigned c = 0; c < MX_F_COUNT; c++)
            out[k].by_sev[mx_finding_severity((enum mx_finding)c)] +=
                r->tally->provider_findings[i][c];
    }
    unsigned used = 0;
    for (unsigned k = 0; k < n; k++)
        if (out[k].domains)
            out[used++] = out[k];
    return used;
}

static int prov_desc(const void *a, const void *b)
{
    const struct prov *x = a, *y = b;
    if (x->domains != y->domains)
        return x->domains < y->domains ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void providers(FILE *f, const struct mx_report *r)
{
    struct prov p[MX_STATS_MAX_PROVIDERS];
    unsigned n = provider_totals(r, p);
    qsort(p, n, sizeof p[0], prov_desc);
    n = n < TOP_PROVIDERS ? n : TOP_PROVIDERS;
    struct mx_chart_row share[TOP_PROVIDERS], fin[TOP_PROVIDERS];
    for (unsigned i = 0; i < n; i++) {
        share[i] = (struct mx_chart_row){p[i].name, {{p[i].domains, NULL, MX_COLOR_BAR}}, 1};
        fin[i] = (struct mx_chart_row){p[i].name,
                                       {{p[i].by_sev[MX_SEV_ERROR], "error", MX_COLOR_ERROR},
                                        {p[i].by_sev[MX_SEV_WARN], "warning", MX_COLOR_WARN},
                                        {p[i].by_sev[MX_SEV_INFO], "info", MX_COLOR_INFO}},
                                       3};
    }
    struct mx_chart cs = {"chart-providers", "Provider shares",
                          "Domains whose exchanges are at each provider (datasets/providers.csv), "
                          "the largest first; shares of all domains", share, n,
                          r->tally->domains, false};
    struct mx_chart cf = {"chart-provider-findings", "Findings per provider",
                          "Findings (one per code and domain) of the domains whose exchanges are "
                          "at each provider, by severity", fin, n, 0, true};
    section(f, "providers", "Providers");
    mx_chart_write(f, &cs);
    mx_chart_write(f, &cf);
    fputs("</section>\n", f);
}

/* ---- MX TTL, SPF and DMARC ---- */

static void ttl(FILE *f, const struct mx_report *r)
{
    static const char *const labels[MX_REPORT_TTL_BUCKETS] = {
        "under 1 minute", "1 to 5 minutes", "5 minutes to 1 hour", "1 hour to 1 day",
        "over 1 day, up to 1 week", "over 1 week"};
    struct mx_chart_row rows[MX_REPORT_TTL_BUCKETS];
    for (unsigned b = 0; b < MX_REPORT_TTL_BUCKETS; b++)
        rows[b] = (struct mx_chart_row){
            labels[b], {{r->ttl[b], NULL, b >= 4 ? MX_COLOR_WARN : MX_COLOR_BAR}}, 1};
    char cap[200];
    snprintf(cap, sizeof cap,
             "TTL of the MX RRset of the %" PRIu64 " domains with MX records (mean %.0f s); "
             "over 1 day is the finding mx_ttl_high",
             r->ttl_rows, r->ttl_rows ? (double)r->ttl_sum / (double)r->ttl_rows : 0.0);
    struct mx_chart c = {"chart-ttl", "MX TTL distribution", cap, rows, MX_REPORT_TTL_BUCKETS,
                         r->ttl_rows, false};
    section(f, "ttl", "MX TTL");
    mx_chart_write(f, &c);
    fputs("</section>\n", f);
}

static void adoption(FILE *f, const struct mx_report *r)
{
    const uint64_t *spf = r->tally->values[MX_VC_SPF_RESULT];
    const uint64_t *dp = r->tally->values[MX_VC_DMARC_POLICY];
    struct mx_chart_row rows[2] = {
        {"SPF",
         {{spf[MX_SPFV_OK], "SPF ok", MX_COLOR_GOOD},
          {spf[MX_SPFV_PERMERROR], "SPF permerror", MX_COLOR_ERROR},
          {spf[MX_SPFV_TEMPERROR], "SPF temperror", MX_COLOR_WARN},
          {spf[MX_SPFV_NONE], "no SPF record", MX_COLOR_GREY},
          {spf[MX_SPFV_EMPTY], "not looked up", "#d5d8dc"}},
         5},
        {"DMARC",
         {{dp[MX_DPV_REJECT], "p=reject", "#1e8449"},
          {dp[MX_DPV_QUARANTINE], "p=quarantine", "#52be80"},
          {dp[MX_DPV_NONE], "p=none", "#f4d03f"},
          {dp[MX_DPV_EMPTY], "no DMARC policy", MX_COLOR_GREY}},
         4}};
    struct mx_chart c = {"chart-adoption", "SPF and DMARC adoption",
                         "spf_result and dmarc_policy of all domains (a DMARC policy may come "
                         "from the organizational domain)", rows, 2, r->tally->domains, true};
    section(f, "adoption", "SPF and DMARC adoption");
    mx_chart_write(f, &c);
    fputs("</section>\n", f);
}

/* ---- the worst domains ---- */

static void worst_table(FILE *f, const struct mx_report *r)
{
    fputs("<table id=\"worst-table\">\n<tr><th>#</th><th>domain</th><th>mail status</th>"
          "<th>errors</th><th>warnings</th><th>findings</th></tr>\n", f);
    for (unsigned i = 0; i < r->nworst; i++) {
        const struct mx_report_worst *w = &r->worst[i];
        fprintf(f, "<tr><td class=\"n\">%u</td><td>", i + 1);
        mx_report_escape(f, w->domain);
        fputs("</td><td>", f);
        mx_report_escape(f, w->mail);
        fprintf(f, "</td><td class=\"n\">%u</td><td class=\"n\">%u</td><td>", w->errors,
                w->warnings);
        for (const char *s = w->findings; *s;) {
            char code[64];
            size_t len = strcspn(s, ";");
            snprintf(code, sizeof code, "%.*s", (int)(len < 63 ? len : 63), s);
            mx_report_escape(f, code);
            s += len;
            if (*s == ';' && *++s)
                fputs("; ", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void worst(FILE *f, const struct mx_report *r)
{
    struct mx_chart_row *rows = calloc(r->nworst ? r->nworst : 1, sizeof *rows);
    section(f, "worst", "The worst domains");
    if (rows) {
        for (unsigned i = 0; i < r->nworst; i++) {
            const struct mx_report_worst *w = &r->worst[i];
            rows[i] = (struct mx_chart_row){w->domain,
                                            {{w->errors, "error findings", MX_COLOR_ERROR},
                                             {w->warnings, "warning findings", MX_COLOR_WARN}},
                                            2};
        }
        struct mx_chart c = {"chart-worst", "The worst domains",
                             "Error and warning findings of the domains with the most errors "
                             "(then warnings), at most the top given by --top", rows, r->nworst,
                             0, true};
        mx_chart_write(f, &c);
        free(rows);
    }
    worst_table(f, r);
    fputs("</section>\n", f);
}

/* ---- the page ---- */

static void head(FILE *f, const struct mx_report_page *pg)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>", f);
    mx_report_escape(f, pg->title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", STYLE);
    mx_report_escape(f, pg->title);
    fputs("</h1>\n", f);
}

static void summary(FILE *f, const struct mx_report *r)
{
    const struct mx_tally *t = r->tally;
    char acc[64], err[64];
    mx_report_share(acc, sizeof acc, t->accepting, t->domains);
    mx_report_share(err, sizeof err, t->severity[MX_SEV_ERROR], t->domains);
    fprintf(f, "<table id=\"summary\">\n<tr><th>domains</th><td class=\"n\">%" PRIu64
               "</td></tr>\n<tr><th>accepting mail</th><td class=\"n\">%s</td></tr>\n"
               "<tr><th>with an error finding</th><td class=\"n\">%s</td></tr>\n</table>\n",
            (uint64_t)t->domains, acc, err);
    fprintf(f, "<p class=\"files\">%zu results file%s:", r->nfiles, r->nfiles == 1 ? "" : "s");
    for (size_t i = 0; i < r->nfiles; i++) {
        fputs(i ? ", " : " ", f);
        mx_report_escape(f, r->files[i]);
    }
    if (r->rows_without_columns)
        fprintf(f, " (%" PRIu64 " rows lacked some column and count as empty there)",
                r->rows_without_columns);
    fputs("</p>\n", f);
}

enum mx_status mx_report_write_html(FILE *f, const struct mx_report_page *pg)
{
    head(f, pg);
    if (pg->r) {
        summary(f, pg->r);
        mail_status(f, pg->r);
        findings(f, pg->r);
        providers(f, pg->r);
        ttl(f, pg->r);
        adoption(f, pg->r);
        worst(f, pg->r);
    }
    if (pg->diff)
        mx_report_diff_html(f, pg->diff);
    fprintf(f, "<p class=\"files\">Made by mxscan %s (mxscan report).</p>\n</body>\n</html>\n",
            MX_VERSION);
    return fflush(f) == 0 && !ferror(f) ? MX_OK : MX_EIO;
}
