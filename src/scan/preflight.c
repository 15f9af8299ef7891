/* The resolver probe before a scan (preflight.h). It goes through the
 * engine like every query (one engine per resolver, so that each is asked
 * itself), with the scan's timeout and retries. */
#include <stdio.h>
#include <string.h>

#include "mx/engine.h"
#include "mx/preflight.h"

#define T_SOA 6

struct probe {
    enum mx_rc rc;
};

static bool ask_root_soa(void *ud, struct mx_record *rec, struct mx_oracle *o)
{
    (void)ud;
    const struct mx_answer *a = mx_oracle_get(o, "", T_SOA, 0);
    if (!a)
        return false;
    ((struct probe *)rec->job)->rc = a->rc;
    return true;
}

/* The outcome of the probe of cfg->servers[i]. */
static enum mx_rc probe_one(const struct mx_config *cfg, size_t i, struct mx_preflight *pf,
                            char *err, size_t errlen)
{
    static struct mx_record rec; /* big: not on the stack */
    struct mx_config one = *cfg;
    struct probe p = {MX_RC_OTHER};
    one.servers[0] = cfg->servers[i];
    one.nservers = 1;
    one.threads = 1;
    if (one.retries < 5) /* a lossy path must not pass for a dead one */
        one.retries = 5;
    memset(&rec, 0, sizeof rec);
    rec.valid = true;
    rec.job = &p;
    snprintf(rec.domain, sizeof rec.domain, ".");
    struct mx_counters c;
    if (mx_engine_run_all(&one, &rec, 1, ask_root_soa, NULL, NULL, &c, err, errlen) != MX_OK)
        return MX_RC_OTHER;
    pf->sent += c.sent;
    pf->answered += c.answered;
    pf->retried += c.retried;
    pf->timeouts += c.timeouts;
    for (int r = 0; r < MX_RC_COUNT; r++)
        pf->rcode[r] += c.rcode[r];
    return p.rc;
}

bool mx_preflight_resolvers(const struct mx_config *cfg, struct mx_preflight *pf)
{
    size_t alive = 0;
    memset(pf, 0, sizeof *pf);
    for (size_t i = 0; i < cfg->nservers; i++) {
        char err[MX_ERRLEN] = "";
        const struct mx_server *sv = &cfg->servers[i];
        char name[160];
        snprintf(name, sizeof name, sv->v6 ? "[%s]:%u" : "%s:%u", sv->host, sv->port);
        enum mx_rc rc = probe_one(cfg, i, pf, err, sizeof err);
        if (rc == MX_RC_TIMEOUT)
            fprintf(stderr,
                    "mxscan: the resolver %s does not answer: no reply to a probe query "
                    "(. SOA) in %u tries of %u ms; check -r/--resolver\n",
                    name, cfg->retries + 1, cfg->timeout_ms);
        else if (rc == MX_RC_REFUSED)
            fprintf(stderr,
                    "mxscan: the resolver %s refuses queries (REFUSED to . SOA): is it a "
                    "recursive resolver that serves this host?\n",
                    name);
        else if (rc == MX_RC_OTHER && err[0])
            fprintf(stderr, "mxscan: cannot probe the resolver %s: %s\n", name, err);
        else
            alive++;
    }
    return alive > 0;
}
