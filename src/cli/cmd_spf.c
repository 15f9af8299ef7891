/* `mxscan spf DOMAIN --ip ADDR` (cmd.h): check_host() of RFC 7208 for one
 * address, with the deciding term, the counts and the explanation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mx/cmd.h"
#include "mx/engine.h"
#include "mx/names.h"
#include "mx/scan.h"
#include "mx/spf.h"
#include "mx/text.h"

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

/* The exit status of a result: scripts can branch on it without parsing. */
static int exit_of(enum mx_spf_result r)
{
    switch (r) {
    case MX_SPF_PASS:
        return MX_EXIT_OK;
    case MX_SPF_FAIL:
        return MX_EXIT_SPF_FAIL;
    case MX_SPF_SOFTFAIL:
        return MX_EXIT_SPF_SOFTFAIL;
    case MX_SPF_NEUTRAL:
        return MX_EXIT_SPF_NEUTRAL;
    case MX_SPF_NONE:
        return MX_EXIT_SPF_NONE;
    case MX_SPF_TEMPERROR:
        return MX_EXIT_SPF_TEMPERROR;
    case MX_SPF_PERMERROR:
    case MX_SPF_PENDING:
        break;
    }
    return MX_EXIT_SPF_PERMERROR;
}

int mx_spf_cmd_run(const struct mx_opts *o)
{
    char err[MX_ERRLEN];
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
        rc = MX_EXIT_SPF_NONE;
        goto out;
    }
    rec->valid = true;
    rec->job = job;
    if (mx_engine_run_all(&o->cfg, rec, 1, spf_cb, NULL, NULL, NULL, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan: %s\n", err);
        rc = MX_EXIT_FAIL;
        goto out;
    }
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
    rc = exit_of(job->result);
out:
    free(job);
    free(rec);
    return rc;
}
