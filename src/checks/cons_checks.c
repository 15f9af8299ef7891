/* Authoritative consistency findings and columns (cons_checks.h). The
 * gathering (NS set, addresses, the direct MX and SOA questions) and the
 * judgement are the consistency module's (src/consistency/); this puts the
 * verdict into the row. */
#include <stdlib.h>

#include "mx/cons_checks.h"
#include "mx/consistency.h"

/* The verdict's text into column c (appended whole, or cut with overflow). */
static void column(struct mx_result *res, enum mx_column c, char *buf, size_t len, size_t need)
{
    if (need >= len)
        res->overflow = true;
    mx_result_append(res, c, buf, need < len ? need : len - 1);
}

static void verdict_into(const struct mx_cons_work *w, const struct mx_cons_verdict *v,
                         struct mx_result *res)
{
    static _Thread_local char buf[MX_RESULT_TEXT];
    if (v->lame)
        res->findings |= MX_FBIT(MX_F_NS_LAME);
    if (v->mx_inconsistent)
        res->findings |= MX_FBIT(MX_F_NS_MX_INCONSISTENT);
    if (v->serial_mismatch)
        res->findings |= MX_FBIT(MX_F_NS_SERIAL_MISMATCH);
    column(res, MX_COL_NS_SERVERS, buf, sizeof buf,
           mx_cons_format_servers(w->ns, v, buf, sizeof buf));
    column(res, MX_COL_NS_MX_SETS, buf, sizeof buf, mx_cons_format_mx_sets(v, buf, sizeof buf));
    column(res, MX_COL_NS_SERIALS, buf, sizeof buf, mx_cons_format_serials(v, buf, sizeof buf));
    if (res->explain)
        mx_cons_format_detail(w->ns, v, res->explain->ns_talk, sizeof res->explain->ns_talk);
}

bool mx_checks_consistency(const char *domain, struct mx_oracle *o, struct mx_result *res)
{
    /* about 20 KiB with the verdict: on the heap, not a worker's stack */
    struct mx_cons_work *w = calloc(1, sizeof *w);
    struct mx_cons_verdict *v = malloc(sizeof *v);
    bool done = true;
    if (!w || !v) {
        res->overflow = true; /* no memory: not judged, and the row says it is cut */
    } else if (mx_cons_gather(w, domain, o)) {
        if (w->apex) {
            mx_cons_judge(w->ns, w->nns, v);
            verdict_into(w, v, res);
        }
    } else {
        done = false;
    }
    if (w)
        mx_cons_work_clear(w);
    free(w);
    free(v);
    return done;
}
