/* Tallies and the statistics JSON (stats.h), written with jansson. The
 * keys are described in the README ("Statistics") and checked against
 * datasets/schema/stats.schema.json by the tests. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/hash.h"
#include "mx/output.h"
#include "mx/stats.h"

/* ---- one row ---- */

uint64_t mx_tally_input_hash(const char *path)
{
    char san[4 * 4096 + 1];
    size_t n = path ? mx_csv_sanitize(path, strlen(path), san, sizeof san) : 0;
    return mx_fnv1a(MX_FNV1A_INIT, san, n);
}

bool mx_tally_accepts(enum mx_mail_status m)
{
    return m == MX_MAIL_OK || m == MX_MAIL_DEGRADED || m == MX_MAIL_IMPLICIT;
}

void mx_tally_row_from_result(struct mx_tally_row *tr, const struct mx_result *r,
                              uint64_t input_hash)
{
    memset(tr, 0, sizeof *tr); /* rows compare whole (tests) */
    tr->status = r->status;
    tr->mail = r->mail;
    tr->findings = r->findings;
    tr->nprov = r->n_providers;
    tr->nsprov = r->n_spf_providers;
    memcpy(tr->prov, r->providers, sizeof tr->prov);
    memcpy(tr->sprov, r->spf_providers, sizeof tr->sprov);
    tr->values[MX_VC_SPF_RESULT] = r->spf_result;
    tr->values[MX_VC_DMARC_POLICY] = r->dmarc_policy;
    tr->values[MX_VC_DMARC_SOURCE] = r->dmarc_source;
    tr->input_hash = input_hash;
    tr->overflow = r->overflow;
    size_t ml;
    const char *mode = mx_result_col(r, MX_COL_MTA_STS_MODE, &ml);
    char buf[16];
    tr->sts_state = MX_STS_STATE_COUNT;
    if (ml > 0 && ml < sizeof buf) {
        memcpy(buf, mode, ml);
        buf[ml] = 0;
        tr->sts_state = (uint8_t)mx_sts_state_from_name(buf);
    }
}

/* Provider ids of a ';' list of names (ids are unique per name). */
static uint16_t provider_ids(const struct mx_providers *p, const char *list, uint16_t *ids)
{
    uint16_t n = 0;
    size_t np = p ? mx_providers_count(p) : 0;
    const char *s = list;
    while (np && *s && n < MX_MAX_PROVIDERS) {
        size_t len = strcspn(s, ";");
        for (size_t i = 0; i < np && i < MX_STATS_MAX_PROVIDERS; i++) {
            const char *name = mx_providers_name(p, (uint16_t)i);
            if (strlen(name) == len && memcmp(name, s, len) == 0) {
                ids[n++] = (uint16_t)i;
                break;
            }
        }
        s += len;
        if (*s == ';')
            s++;
    }
    return n;
}

void mx_tally_row_from_fields(struct mx_tally_row *tr, const struct mx_providers *p,
                              const char *const *field)
{
    memset(tr, 0, sizeof *tr);
    tr->status = MX_RC_COUNT;
    for (unsigned i = 0; i < MX_RC_COUNT; i++)
        if (strcmp(mx_rc_name((enum mx_rc)i), field[MX_COL_STATUS]) == 0) {
            tr->status = (enum mx_rc)i;
            break;
        }
    tr->mail = MX_MAIL_COUNT;
    for (unsigned i = 0; i < MX_MAIL_COUNT; i++)
        if (strcmp(mx_mail_status_name((enum mx_mail_status)i), field[MX_COL_MAIL_STATUS]) == 0) {
            tr->mail = (enum mx_mail_status)i;
            break;
        }
    const char *s = field[MX_COL_FINDINGS];
    while (*s) {
        char code[64];
        size_t len = strcspn(s, ";");
        if (len < sizeof code) {
            memcpy(code, s, len);
            code[len] = 0;
            enum mx_finding f = mx_finding_from_label(code);
            if (f < MX_F_COUNT)
                tr->findings |= MX_FBIT(f);
        }
        s += len;
        if (*s == ';')
            s++;
    }
    tr->nprov = provider_ids(p, field[MX_COL_PROVIDERS], tr->prov);
    tr->nsprov = provider_ids(p, field[MX_COL_SPF_PROVIDERS], tr->sprov);
    tr->values[MX_VC_SPF_RESULT] =
        (uint8_t)mx_value_from_text(MX_VC_SPF_RESULT, field[MX_COL_SPF_RESULT]);
    tr->values[MX_VC_DMARC_POLICY] =
        (uint8_t)mx_value_from_text(MX_VC_DMARC_POLICY, field[MX_COL_DMARC_POLICY]);
    tr->values[MX_VC_DMARC_SOURCE] =
        (uint8_t)mx_value_from_text(MX_VC_DMARC_SOURCE, field[MX_COL_DMARC_SOURCE]);
    tr->input_hash = mx_tally_input_hash(field[MX_COL_INPUT_FILE]);
    tr->overflow = false;
    /* "" (the check was off) is no state: nothing is counted */
    tr->sts_state = (uint8_t)mx_sts_state_from_name(field[MX_COL_MTA_STS_MODE]);
}

/* ---- adding up ---- */

static void count_input(struct mx_tally *t, uint64_t hash)
{
    if (t->ninputs > 0 && t->inputs[t->last_input].hash == hash) {
        t->inputs[t->last_input].rows++;
        return;
    }
    for (unsigned i = 0; i < t->ninputs; i++)
        if (t->inputs[i].hash == hash) {
            t->last_input = i;
            t->inputs[i].rows++;
            return;
        }
    if (t->ninputs == MX_STATS_MAX_INPUTS) {
        t->inputs_other++;
        return;
    }
    t->last_input = t->ninputs++;
    t->inputs[t->last_input] = (struct mx_tally_input){hash, 1};
}

void mx_tally_add(struct mx_tally *t, const struct mx_tally_row *tr)
{
    atomic_fetch_add_explicit(&t->domains, 1, memory_order_relaxed);
    if ((unsigned)tr->status < MX_RC_COUNT)
        atomic_fetch_add_explicit(&t->status[tr->status], 1, memory_order_relaxed);
    if ((unsigned)tr->mail < MX_MAIL_COUNT)
        atomic_fetch_add_explicit(&t->mail[tr->mail], 1, memory_order_relaxed);
    bool acc = mx_tally_accepts(tr->mail);
    t->accepting += acc;
    bool sev[3] = {false, false, false};
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        if (tr->findings & MX_FBIT(f)) {
            t->findings[f]++;
            t->findings_accepting[f] += acc;
            sev[mx_finding_severity((enum mx_finding)f)] = true;
            for (unsigned i = 0; i < tr->nprov; i++)
                if (tr->prov[i] < MX_STATS_MAX_PROVIDERS)
                    t->provider_findings[tr->prov[i]][f]++;
        }
    for (int s = 0; s < 3; s++)
        t->severity[s] += sev[s];
    for (unsigned c = 0; c < MX_VC_COUNT; c++) {
        unsigned v = tr->values[c] < mx_value_count((enum mx_valcol)c) ? tr->values[c] : 0;
        t->values[c][v]++;
        t->values_accepting[c][v] += acc;
    }
    for (unsigned i = 0; i < tr->nprov; i++)
        if (tr->prov[i] < MX_STATS_MAX_PROVIDERS)
            t->providers[tr->prov[i]]++;
    for (unsigned i = 0; i < tr->nsprov; i++)
        if (tr->sprov[i] < MX_STATS_MAX_PROVIDERS)
            t->spf_providers[tr->sprov[i]]++;
    count_input(t, tr->input_hash);
    if (tr->overflow)
        t->overflow_rows++;
    if (tr->sts_state < MX_STS_STATE_COUNT)
        t->sts_mode[tr->sts_state]++;
}

/* ---- JSON ---- */

struct jb {
    bool ok; /* false once an allocation failed */
};

static void put(struct jb *b, json_t *o, const char *key, json_t *v)
{
    if (!o || !v || json_object_set_new(o, key, v) != 0)
        b->ok = false;
}

static json_t *uint_(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* A ratio rounded to 6 decimals; 0 when the whole is 0. */
static json_t *share(uint64_t part, uint64_t whole)
{
    double x = whole ? (double)part / (double)whole : 0.0;
    return json_real(round(x * 1e6) / 1e6);
}

static json_t *real(double x, double unit)
{
    return json_real(round(x / unit) * unit);
}

static json_t *text(const char *s)
{
    char san[4 * 4096 + 1];
    size_t n = s ? mx_csv_sanitize(s, strlen(s), san, sizeof san) : 0;
    return json_stringn_nocheck(san, n);
}

/* count, share, count_accepting_mail, share_accepting_mail */
static json_t *shares(struct jb *b, const struct mx_tally *t, uint64_t n, uint64_t nacc)
{
    json_t *o = json_object();
    uint64_t all = atomic_load(&t->domains);
    put(b, o, "count", uint_(n));
    put(b, o, "share", share(n, all));
    put(b, o, "count_accepting_mail", uint_(nacc));
    put(b, o, "share_accepting_mail", share(nacc, t->accepting));
    return o;
}

static json_t *rc_counts(struct jb *b, const _Atomic uint64_t *a)
{
    json_t *o = json_object();
    for (unsigned i = 0; i <= MX_RC_INVALID; i++)
        put(b, o, mx_rc_name((enum mx_rc)i), uint_(atomic_load(&a[i])));
    return o;
}

static json_t *findings(struct jb *b, const struct mx_tally *t)
{
    json_t *o = json_object();
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        put(b, o, mx_finding_label((enum mx_finding)f), uint_(t->findings[f]));
    return o;
}

static json_t *finding_details(struct jb *b, const struct mx_tally *t)
{
    json_t *o = json_object();
    for (unsigned f = 0; f < MX_F_COUNT; f++) {
        json_t *d = shares(b, t, t->findings[f], t->findings_accepting[f]);
        enum mx_severity sev = mx_finding_severity((enum mx_finding)f);
        put(b, d, "severity", json_string(mx_severity_name(sev)));
        put(b, o, mx_finding_label((enum mx_finding)f), d);
    }
    return o;
}

/* spf_result, dmarc_policy, dmarc_source: value -> shares; the empty
 * column is "empty". */
static json_t *values(struct jb *b, const struct mx_tally *t, enum mx_valcol c)
{
    json_t *o = json_object();
    for (unsigned v = 0; v < mx_value_count(c); v++) {
        const char *name = v ? mx_value_name(c, v) : "empty";
        put(b, o, name, shares(b, t, t->values[c][v], t->values_accepting[c][v]));
    }
    return o;
}

/* Several rows of the data file may name one provider: ids are unique per
 * name, but the lists are merged by name all the same. Returns the number
 * of names; first[i] is the first id of each. */
static size_t provider_names(const struct mx_providers *p, uint16_t *first)
{
    size_t n = p ? mx_providers_count(p) : 0, k = 0;
    for (size_t i = 0; i < n && i < MX_STATS_MAX_PROVIDERS; i++) {
        const char *name = mx_providers_name(p, (uint16_t)i);
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(mx_providers_name(p, first[j]), name) == 0;
        if (!seen)
            first[k++] = (uint16_t)i;
    }
    return k;
}

static bool same_provider(const struct mx_providers *p, size_t id, uint16_t first)
{
    return strcmp(mx_providers_name(p, (uint16_t)id), mx_providers_name(p, first)) == 0;
}

static json_t *providers(struct jb *b, const uint64_t *arr, const struct mx_providers *p)
{
    json_t *o = json_object();
    uint16_t first[MX_STATS_MAX_PROVIDERS];
    size_t k = provider_names(p, first), n = p ? mx_providers_count(p) : 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t sum = 0;
        for (size_t j = first[i]; j < n && j < MX_STATS_MAX_PROVIDERS; j++)
            if (same_provider(p, j, first[i]))
                sum += arr[j];
        put(b, o, mx_providers_name(p, first[i]), uint_(sum));
    }
    return o;
}

/* provider -> finding code -> rows among the rows whose exchanges belong to
 * the provider; providers without such rows and zero counts are left out. */
static json_t *provider_findings(struct jb *b, const struct mx_tally *t,
                                 const struct mx_providers *p)
{
    json_t *o = json_object();
    uint16_t first[MX_STATS_MAX_PROVIDERS];
    size_t k = provider_names(p, first), n = p ? mx_providers_count(p) : 0;
    for (size_t i = 0; i < k; i++) {
        json_t *pf = NULL;
        for (unsigned f = 0; f < MX_F_COUNT; f++) {
            uint64_t sum = 0;
            for (size_t j = first[i]; j < n && j < MX_STATS_MAX_PROVIDERS; j++)
                if (same_provider(p, j, first[i]))
                    sum += t->provider_findings[j][f];
            if (sum == 0)
                continue;
            if (!pf)
                pf = json_object();
            put(b, pf, mx_finding_label((enum mx_finding)f), uint_(sum));
        }
        if (pf)
            put(b, o, mx_providers_name(p, first[i]), pf);
    }
    return o;
}

/* The input files given (each path once) with their rows; rows of files
 * not among them (e.g. an earlier run's other inputs) under path null. */
static json_t *inputs(struct jb *b, const struct mx_tally *t, const struct mx_config *cfg)
{
    json_t *a = json_array();
    uint64_t matched = 0;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(cfg->inputs[i], cfg->inputs[j]) == 0;
        if (dup)
            continue;
        uint64_t h = mx_tally_input_hash(cfg->inputs[i]), rows = 0;
        for (unsigned k = 0; k < t->ninputs; k++)
            if (t->inputs[k].hash == h)
                rows = t->inputs[k].rows;
        matched += rows;
        json_t *o = json_object();
        put(b, o, "path", text(cfg->inputs[i]));
        put(b, o, "rows", uint_(rows));
        if (json_array_append_new(a, o) != 0)
            b->ok = false;
    }
    uint64_t all = 0;
    for (unsigned k = 0; k < t->ninputs; k++)
        all += t->inputs[k].rows;
    all += t->inputs_other;
    if (all > matched) {
        json_t *o = json_object();
        put(b, o, "path", json_null());
        put(b, o, "rows", uint_(all - matched));
        if (json_array_append_new(a, o) != 0)
            b->ok = false;
    }
    return a;
}

static json_t *queries(struct jb *b, const struct mx_tally *t, const struct mx_run_info *ri)
{
    const struct mx_counters *c = ri->counters;
    uint64_t this_run = atomic_load(&t->domains) - t->resumed_rows;
    json_t *o = json_object();
    put(b, o, "sent", uint_(c->sent));
    put(b, o, "answered", uint_(c->answered));
    put(b, o, "retried", uint_(c->retried));
    put(b, o, "timed_out", uint_(c->timeouts));
    put(b, o, "per_second", real(ri->elapsed_s > 0 ? (double)c->sent / ri->elapsed_s : 0.0, 0.1));
    put(b, o, "per_domain",
        real(this_run ? (double)c->sent / (double)this_run : 0.0, 0.001));
    /* Answers by rcode: real rcodes only; timeouts are timed_out. */
    json_t *rc = json_object();
    for (unsigned i = 0; i < MX_RC_COUNT; i++)
        if (i != MX_RC_TIMEOUT && i != MX_RC_INVALID)
            put(b, rc, mx_rc_name((enum mx_rc)i), uint_(c->rcode[i]));
    put(b, o, "rcode", rc);
    return o;
}

static json_t *cache(struct jb *b, const struct mx_cache_stats *cs)
{
    uint64_t lookups = cs->hits + cs->misses + cs->joins;
    json_t *o = json_object();
    put(b, o, "hits", uint_(cs->hits));
    put(b, o, "misses", uint_(cs->misses));
    put(b, o, "inflight_joins", uint_(cs->joins));
    put(b, o, "evictions", uint_(cs->evictions));
    put(b, o, "entries", uint_(cs->entries));
    put(b, o, "hit_rate", share(cs->hits + cs->joins, lookups));
    return o;
}

static json_t *config(struct jb *b, const struct mx_config *cfg)
{
    json_t *o = json_object();
    json_t *res = json_array();
    for (size_t i = 0; i < cfg->nservers; i++) {
        char s[160];
        snprintf(s, sizeof s, cfg->servers[i].v6 ? "[%s]:%u" : "%s:%u", cfg->servers[i].host,
                 cfg->servers[i].port);
        if (json_array_append_new(res, text(s)) != 0)
            b->ok = false;
    }
    char checks[64], shard[32];
    snprintf(checks, sizeof checks, "%s%s%s%s%s%s%s%s", cfg->checks & MX_CHECK_MX ? "mx" : "",
             cfg->checks & MX_CHECK_SPF ? ",spf" : "",
             cfg->checks & MX_CHECK_DMARC ? ",dmarc" : "",
             cfg->checks & MX_CHECK_SMTP ? ",smtp" : "",
             cfg->checks & MX_CHECK_CONSISTENCY ? ",consistency" : "",
             cfg->checks & MX_CHECK_MTA_STS ? ",mta-sts" : "",
             cfg->checks & MX_CHECK_DANE ? ",dane" : "",
             cfg->checks & MX_CHECK_TLSRPT ? ",tlsrpt" : "");
    snprintf(shard, sizeof shard, "%u/%u", cfg->shard_index + 1, cfg->shard_count);
    put(b, o, "resolvers", res);
    put(b, o, "rate", uint_(cfg->rate));
    put(b, o, "concurrency", uint_(cfg->concurrency));
    put(b, o, "threads", uint_(cfg->threads));
    put(b, o, "timeout_ms", uint_(cfg->timeout_ms));
    put(b, o, "retries", uint_(cfg->retries));
    put(b, o, "checks", json_string(checks));
    put(b, o, "shard", json_string(shard));
    put(b, o, "cache_entries", uint_(cfg->cache_entries));
    put(b, o, "window", uint_(cfg->window));
    put(b, o, "format", json_string(cfg->format == MX_FORMAT_JSONL ? "jsonl" : "csv"));
    return o;
}

static json_t *stats_object(struct jb *b, const struct mx_tally *t, const struct mx_run_info *ri)
{
    const struct mx_config *cfg = ri->cfg;
    uint64_t domains = atomic_load(&t->domains), this_run = domains - t->resumed_rows;
    json_t *o = json_object();
    put(b, o, "mxscan_version", json_string(MX_VERSION));
    put(b, o, "started", text(ri->started));
    put(b, o, "ended", text(ri->ended));
    put(b, o, "stop_reason", text(ri->stop_reason));
    put(b, o, "resumed", json_boolean(ri->resumed));
    put(b, o, "elapsed_seconds", real(ri->elapsed_s, 0.001));
    put(b, o, "domains", uint_(domains));
    put(b, o, "domains_this_run", uint_(this_run));
    put(b, o, "domains_per_second",
        real(ri->elapsed_s > 0 ? (double)this_run / ri->elapsed_s : 0.0, 0.1));
    put(b, o, "domains_accepting_mail", uint_(t->accepting));
    put(b, o, "status", rc_counts(b, t->status));
    json_t *mail = json_object();
    for (unsigned i = 0; i < MX_MAIL_COUNT; i++)
        put(b, mail, mx_mail_status_name((enum mx_mail_status)i), uint_(atomic_load(&t->mail[i])));
    put(b, o, "mail_status", mail);
    put(b, o, "findings", findings(b, t));
    put(b, o, "finding_details", finding_details(b, t));
    json_t *sev = json_object();
    put(b, sev, "error", uint_(t->severity[MX_SEV_ERROR]));
    put(b, sev, "warn", uint_(t->severity[MX_SEV_WARN]));
    put(b, sev, "info", uint_(t->severity[MX_SEV_INFO]));
    put(b, o, "severity", sev);
    for (unsigned c = 0; c < MX_VC_COUNT; c++)
        put(b, o, mx_valcol_header((enum mx_valcol)c), values(b, t, (enum mx_valcol)c));
    /* rows per MTA-STS state; all zero when the mta-sts check was off */
    json_t *sts = json_object();
    for (unsigned i = 0; i < MX_STS_STATE_COUNT; i++)
        put(b, sts, mx_sts_state_name((enum mx_sts_state)i), uint_(t->sts_mode[i]));
    put(b, o, "mta_sts_mode", sts);
    put(b, o, "providers", providers(b, t->providers, ri->providers));
    put(b, o, "spf_providers", providers(b, t->spf_providers, ri->providers));
    put(b, o, "provider_findings", provider_findings(b, t, ri->providers));
    put(b, o, "inputs", inputs(b, t, cfg));
    put(b, o, "queries", queries(b, t, ri));
    put(b, o, "cache", cache(b, ri->cache));
    put(b, o, "rows_with_cut_text", uint_(t->overflow_rows));
    put(b, o, "input_errors", uint_(ri->input_errors));
    put(b, o, "config", config(b, cfg));
    return o;
}

json_t *mx_stats_json(const struct mx_tally *t, const struct mx_run_info *ri)
{
    struct jb b = {true};
    json_t *o = stats_object(&b, t, ri);
    if (!b.ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum mx_status mx_stats_dump(FILE *f, const json_t *o)
{
    if (!o)
        return MX_ENOMEM;
    bool written = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) == 0;
    return written && fputc('\n', f) != EOF ? MX_OK : MX_EIO;
}

enum mx_status mx_stats_write_json(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri)
{
    json_t *o = mx_stats_json(t, ri);
    enum mx_status st = mx_stats_dump(f, o);
    json_decref(o);
    return st;
}

void mx_stats_write_summary(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri)
{
    uint64_t n = atomic_load(&t->domains);
    fprintf(f, "\nmxscan: %" PRIu64 " domains in %.1f s (%s)\n", n, ri->elapsed_s,
            ri->stop_reason);
    fprintf(f, "  mail status:");
    for (unsigned i = 0; i < MX_MAIL_COUNT; i++)
        fprintf(f, " %s=%" PRIu64, mx_mail_status_name((enum mx_mail_status)i),
                atomic_load(&t->mail[i]));
    fprintf(f, "\n  status:     ");
    for (unsigned i = 0; i <= MX_RC_INVALID; i++)
        fprintf(f, " %s=%" PRIu64, mx_rc_name((enum mx_rc)i), atomic_load(&t->status[i]));
    fprintf(f, "\n  domains with an error finding: %" PRIu64 ", a warning: %" PRIu64
               ", info: %" PRIu64 "; accepting mail: %" PRIu64 "\n",
            t->severity[MX_SEV_ERROR], t->severity[MX_SEV_WARN], t->severity[MX_SEV_INFO],
            t->accepting);
    fprintf(f, "  %-28s %5s %10s %7s %9s\n", "finding", "sev", "domains", "share",
            "of mail");
    for (unsigned i = 0; i < MX_F_COUNT; i++) {
        if (!t->findings[i])
            continue;
        fprintf(f, "  %-28s %5s %10" PRIu64 " %6.2f%% %8.2f%%\n",
                mx_finding_label((enum mx_finding)i),
                mx_severity_name(mx_finding_severity((enum mx_finding)i)), t->findings[i],
                n ? 100.0 * (double)t->findings[i] / (double)n : 0.0,
                t->accepting ? 100.0 * (double)t->findings_accepting[i] / (double)t->accepting
                             : 0.0);
    }
    if (ri->cfg->checks & MX_CHECK_MTA_STS) {
        fprintf(f, "  MTA-STS:");
        for (unsigned i = 0; i < MX_STS_STATE_COUNT; i++)
            fprintf(f, " %s=%" PRIu64, mx_sts_state_name((enum mx_sts_state)i), t->sts_mode[i]);
        fprintf(f, "\n");
    }
    const struct mx_counters *c = ri->counters;
    fprintf(f, "  queries: %" PRIu64 " sent, %" PRIu64 " answered, %" PRIu64 " retried, %" PRIu64
               " timed out\n",
            c->sent, c->answered, c->retried, c->timeouts);
}
