/* Tallies and the statistics JSON (stats.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/stats.h"

static void add_provider(uint64_t *arr, uint16_t id)
{
    if (id < MX_STATS_MAX_PROVIDERS)
        arr[id]++;
}

void mx_tally_row_from_result(struct mx_tally_row *tr, const struct mx_result *r)
{
    tr->status = r->status;
    tr->mail = r->mail;
    tr->findings = r->findings;
    tr->nprov = r->n_providers;
    tr->nsprov = r->n_spf_providers;
    memcpy(tr->prov, r->providers, sizeof tr->prov);
    memcpy(tr->sprov, r->spf_providers, sizeof tr->sprov);
    tr->overflow = r->overflow;
}

void mx_tally_add(struct mx_tally *t, const struct mx_tally_row *tr)
{
    atomic_fetch_add_explicit(&t->domains, 1, memory_order_relaxed);
    if ((unsigned)tr->status < MX_RC_COUNT)
        atomic_fetch_add_explicit(&t->status[tr->status], 1, memory_order_relaxed);
    if ((unsigned)tr->mail < MX_MAIL_COUNT)
        atomic_fetch_add_explicit(&t->mail[tr->mail], 1, memory_order_relaxed);
    bool sev[3] = {false, false, false};
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        if (tr->findings & MX_FBIT(f)) {
            t->findings[f]++;
            sev[mx_finding_severity((enum mx_finding)f)] = true;
        }
    for (int s = 0; s < 3; s++)
        t->severity[s] += sev[s];
    for (unsigned i = 0; i < tr->nprov; i++)
        add_provider(t->providers, tr->prov[i]);
    for (unsigned i = 0; i < tr->nsprov; i++)
        add_provider(t->spf_providers, tr->sprov[i]);
    if (tr->overflow)
        t->overflow_rows++;
}


static void add_provider_names(uint64_t *arr, const struct mx_providers *p, const char *list)
{
    if (!p || !*list)
        return;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        size_t n = mx_providers_count(p);
        for (size_t i = 0; i < n && i < MX_STATS_MAX_PROVIDERS; i++)
            if (strcmp(mx_providers_name(p, (uint16_t)i), tok) == 0) {
                arr[i]++;
                break;
            }
    }
}

void mx_tally_add_text(struct mx_tally *t, const struct mx_providers *p, const char *status,
                       const char *mail, const char *findings, const char *providers,
                       const char *spf_providers)
{
    atomic_fetch_add_explicit(&t->domains, 1, memory_order_relaxed);
    t->resumed_rows++;
    for (unsigned i = 0; i < MX_RC_COUNT; i++)
        if (strcmp(mx_rc_name((enum mx_rc)i), status) == 0) {
            atomic_fetch_add_explicit(&t->status[i], 1, memory_order_relaxed);
            break;
        }
    for (unsigned i = 0; i < MX_MAIL_COUNT; i++)
        if (strcmp(mx_mail_status_name((enum mx_mail_status)i), mail) == 0) {
            atomic_fetch_add_explicit(&t->mail[i], 1, memory_order_relaxed);
            break;
        }
    bool sev[3] = {false, false, false};
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", findings);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        enum mx_finding f = mx_finding_from_label(tok);
        if (f < MX_F_COUNT) {
            t->findings[f]++;
            sev[mx_finding_severity(f)] = true;
        }
    }
    for (int s = 0; s < 3; s++)
        t->severity[s] += sev[s];
    add_provider_names(t->providers, p, providers);
    add_provider_names(t->spf_providers, p, spf_providers);
}

/* ---- reading an earlier output back ---- */

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_providers(FILE *f, const char *key, const uint64_t *arr,
                           const struct mx_providers *p)
{
    fprintf(f, "  \"%s\": {", key);
    size_t n = p ? mx_providers_count(p) : 0;
    bool first = true;
    /* Several rows of the data file may name the same provider: merge. */
    for (size_t i = 0; i < n && i < MX_STATS_MAX_PROVIDERS; i++) {
        const char *name = mx_providers_name(p, (uint16_t)i);
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(mx_providers_name(p, (uint16_t)j), name) == 0)
                seen = true;
        if (seen)
            continue;
        uint64_t sum = 0;
        for (size_t j = i; j < n && j < MX_STATS_MAX_PROVIDERS; j++)
            if (strcmp(mx_providers_name(p, (uint16_t)j), name) == 0)
                sum += arr[j];
        fprintf(f, "%s\n    ", first ? "" : ",");
        json_str(f, name);
        fprintf(f, ": %" PRIu64, sum);
        first = false;
    }
    fprintf(f, "%s}", first ? "" : "\n  ");
}

void mx_stats_write_json(FILE *f, const struct mx_tally *t, const struct mx_run_info *ri)
{
    const struct mx_config *cfg = ri->cfg;
    const struct mx_counters *c = ri->counters;
    fprintf(f, "{\n  \"mxscan_version\": \"%s\",\n", MX_VERSION);
    fprintf(f, "  \"started\": ");
    json_str(f, ri->started);
    fprintf(f, ",\n  \"ended\": ");
    json_str(f, ri->ended);
    fprintf(f, ",\n  \"stop_reason\": ");
    json_str(f, ri->stop_reason);
    fprintf(f, ",\n  \"resumed\": %s,\n", ri->resumed ? "true" : "false");
    fprintf(f, "  \"elapsed_seconds\": %.3f,\n", ri->elapsed_s);
    fprintf(f, "  \"domains\": %" PRIu64 ",\n", atomic_load(&t->domains));
    fprintf(f, "  \"domains_this_run\": %" PRIu64 ",\n",
            atomic_load(&t->domains) - t->resumed_rows);
    fprintf(f, "  \"domains_per_second\": %.1f,\n",
            ri->elapsed_s > 0 ? (double)(atomic_load(&t->domains) - t->resumed_rows) / ri->elapsed_s
                              : 0.0);
    fprintf(f, "  \"status\": {");
    for (unsigned i = 0; i <= MX_RC_INVALID; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mx_rc_name((enum mx_rc)i),
                atomic_load(&t->status[i]));
    fprintf(f, "},\n  \"mail_status\": {");
    for (unsigned i = 0; i < MX_MAIL_COUNT; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "",
                mx_mail_status_name((enum mx_mail_status)i), atomic_load(&t->mail[i]));
    fprintf(f, "},\n  \"findings\": {");
    for (unsigned i = 0; i < MX_F_COUNT; i++)
        fprintf(f, "%s\n    \"%s\": %" PRIu64, i ? "," : "", mx_finding_label((enum mx_finding)i),
                t->findings[i]);
    fprintf(f, "\n  },\n  \"severity\": {\"error\": %" PRIu64 ", \"warn\": %" PRIu64
               ", \"info\": %" PRIu64 "},\n",
            t->severity[MX_SEV_ERROR], t->severity[MX_SEV_WARN], t->severity[MX_SEV_INFO]);
    json_providers(f, "providers", t->providers, ri->providers);
    fprintf(f, ",\n");
    json_providers(f, "spf_providers", t->spf_providers, ri->providers);
    fprintf(f, ",\n  \"queries\": {\"sent\": %" PRIu64 ", \"answered\": %" PRIu64
               ", \"retried\": %" PRIu64 ", \"timed_out\": %" PRIu64 ", \"per_second\": %.1f,"
               " \"per_domain\": %.3f,\n    \"rcode\": {",
            c->sent, c->answered, c->retried, c->timeouts,
            ri->elapsed_s > 0 ? (double)c->sent / ri->elapsed_s : 0.0,
            atomic_load(&t->domains) - t->resumed_rows
                ? (double)c->sent / (double)(atomic_load(&t->domains) - t->resumed_rows)
                : 0.0);
    for (unsigned i = 0; i < MX_RC_COUNT; i++)
        fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mx_rc_name((enum mx_rc)i), c->rcode[i]);
    fprintf(f, "}},\n");
    const struct mx_cache_stats *cs = ri->cache;
    uint64_t lookups = cs->hits + cs->misses + cs->joins;
    fprintf(f, "  \"cache\": {\"hits\": %" PRIu64 ", \"misses\": %" PRIu64
               ", \"inflight_joins\": %" PRIu64 ", \"evictions\": %" PRIu64
               ", \"entries\": %" PRIu64 ", \"hit_rate\": %.4f},\n",
            cs->hits, cs->misses, cs->joins, cs->evictions, cs->entries,
            lookups ? (double)(cs->hits + cs->joins) / (double)lookups : 0.0);
    fprintf(f, "  \"rows_with_cut_text\": %" PRIu64 ",\n", t->overflow_rows);
    fprintf(f, "  \"input_errors\": %" PRIu64 ",\n", ri->input_errors);
    fprintf(f, "  \"config\": {\"resolvers\": [");
    for (size_t i = 0; i < cfg->nservers; i++) {
        char s[96];
        snprintf(s, sizeof s, cfg->servers[i].v6 ? "[%s]:%u" : "%s:%u", cfg->servers[i].host,
                 cfg->servers[i].port);
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, s);
    }
    fprintf(f, "], \"rate\": %" PRIu64 ", \"concurrency\": %u, \"threads\": %u, \"timeout_ms\": %u,"
               " \"retries\": %u, \"checks\": \"%s%s%s\", \"shard\": \"%u/%u\","
               " \"cache_entries\": %zu, \"window\": %u}\n}\n",
            cfg->rate, cfg->concurrency, cfg->threads, cfg->timeout_ms, cfg->retries,
            cfg->checks & MX_CHECK_MX ? "mx" : "", cfg->checks & MX_CHECK_SPF ? ",spf" : "",
            cfg->checks & MX_CHECK_DMARC ? ",dmarc" : "", cfg->shard_index + 1, cfg->shard_count,
            cfg->cache_entries, cfg->window);
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
               ", info: %" PRIu64 "\n",
            t->severity[MX_SEV_ERROR], t->severity[MX_SEV_WARN], t->severity[MX_SEV_INFO]);
    fprintf(f, "  %-28s %5s %10s %7s\n", "finding", "sev", "domains", "share");
    for (unsigned i = 0; i < MX_F_COUNT; i++) {
        if (!t->findings[i])
            continue;
        fprintf(f, "  %-28s %5s %10" PRIu64 " %6.2f%%\n", mx_finding_label((enum mx_finding)i),
                mx_severity_name(mx_finding_severity((enum mx_finding)i)), t->findings[i],
                n ? 100.0 * (double)t->findings[i] / (double)n : 0.0);
    }
    const struct mx_counters *c = ri->counters;
    fprintf(f, "  queries: %" PRIu64 " sent, %" PRIu64 " answered, %" PRIu64 " retried, %" PRIu64
               " timed out\n",
            c->sent, c->answered, c->retried, c->timeouts);
}
