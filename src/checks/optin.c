/* The opt-in checks' providers (optin.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/analyze.h"
#include "mx/consistency.h"
#include "mx/mta_sts.h"
#include "mx/optin.h"
#include "mx/smtp.h"

struct mx_optin {
    struct mx_smtp *smtp;
    struct mx_sts_fetch *sts;
    struct mx_auth *auth; /* authoritative consistency: direct questions */
};

/* ---- the SMTP probe: key "ADDR|EXCHANGE" or "ADDR|EXCHANGE|DOMAIN" ---- */

static void smtp_done(void *ud, const struct mx_smtp_result *r)
{
    mx_engine_ext_complete(ud, mx_answer_blob(MX_QT_SMTP, r, sizeof *r));
}

static void smtp_submit(void *ctx, const char *key, uint16_t qtype, struct mx_ext_req *req)
{
    (void)qtype;
    char buf[3 * (MX_NAME_MAX + 1) + 64];
    snprintf(buf, sizeof buf, "%s", key);
    char *ex = strchr(buf, '|');
    char *dom = ex ? strchr(ex + 1, '|') : NULL;
    struct mx_ip ip;
    if (ex)
        *ex++ = 0;
    if (dom)
        *dom++ = 0;
    if (!ex || !mx_ip_parse(buf, &ip) ||
        mx_smtp_submit(ctx, &ip, ex, dom, smtp_done, req) != MX_OK)
        mx_engine_ext_complete(req, NULL);
}

static enum mx_status start_smtp(const struct mx_config *cfg, struct mx_engine *eng,
                                 struct mx_optin *o, char *err, size_t errlen)
{
    struct mx_smtp_cfg sc;
    memset(&sc, 0, sizeof sc);
    sc.port = (uint16_t)cfg->smtp_port;
    sc.ehlo_name = cfg->smtp_ehlo;
    sc.conn_rate = cfg->smtp_rate;
    sc.max_conns = cfg->smtp_max_conns;
    sc.connect_ms = cfg->smtp_connect_ms;
    sc.greeting_ms = sc.reply_ms = sc.tls_ms = cfg->smtp_timeout_ms;
    sc.ca_file = cfg->smtp_ca_file;
    sc.allow = &cfg->allow;
    o->smtp = mx_smtp_create(&sc, err, errlen);
    if (!o->smtp)
        return MX_EINVAL;
    /* A request may wait behind others for its address (one connection at
     * a time), then take a whole conversation. */
    struct mx_ext_provider p = {MX_QT_SMTP, smtp_submit, o->smtp, 600000};
    return mx_engine_add_provider(eng, &p);
}

/* ---- MTA-STS policy fetches: key "DOMAIN|ADDR[,ADDR...]" ---- */

static void sts_done(void *ud, const struct mx_sts_fetch_result *r)
{
    mx_engine_ext_complete(ud, mx_answer_blob(MX_QT_MTA_STS, r, sizeof *r));
}

/* Splits the key; false when it is not DOMAIN|ADDR,... */
static bool sts_key(char *buf, char **domain, struct mx_ip *ips, size_t *n)
{
    char *bar = strchr(buf, '|');
    *n = 0;
    if (!bar)
        return false;
    *bar = 0;
    *domain = buf;
    char *save = NULL;
    for (char *t = strtok_r(bar + 1, ",", &save); t && *n < MX_STS_ADDR_MAX;
         t = strtok_r(NULL, ",", &save))
        if (!mx_ip_parse(t, &ips[(*n)++]))
            return false;
    return true;
}

static void sts_submit(void *ctx, const char *key, uint16_t qtype, struct mx_ext_req *req)
{
    (void)qtype;
    char buf[MX_NAME_MAX + 2 + MX_STS_ADDR_MAX * 64];
    struct mx_ip ips[MX_STS_ADDR_MAX];
    char *domain = NULL;
    size_t n = 0;
    int len = snprintf(buf, sizeof buf, "%s", key);
    if (len < 0 || (size_t)len >= sizeof buf || !sts_key(buf, &domain, ips, &n) ||
        mx_sts_fetch_submit(ctx, domain, ips, n, sts_done, req) != MX_OK)
        mx_engine_ext_complete(req, NULL);
}

static enum mx_status start_sts(const struct mx_config *cfg, struct mx_engine *eng,
                                struct mx_optin *o, char *err, size_t errlen)
{
    struct mx_sts_fetch_cfg fc;
    memset(&fc, 0, sizeof fc);
    fc.port = (uint16_t)cfg->sts_port;
    fc.fetch_rate = cfg->sts_rate;
    fc.max_fetches = cfg->sts_max_fetches;
    fc.connect_ms = cfg->sts_connect_ms;
    fc.timeout_ms = cfg->sts_timeout_ms;
    fc.ca_file = cfg->sts_ca_file;
    fc.allow = &cfg->allow;
    o->sts = mx_sts_fetch_create(&fc, err, errlen);
    if (!o->sts)
        return MX_EINVAL;
    /* A request may wait behind the pacer (fetches per second) and the
     * concurrency cap, then take a whole fetch. */
    struct mx_ext_provider p = {MX_QT_MTA_STS, sts_submit, o->sts, 600000};
    return mx_engine_add_provider(eng, &p);
}

/* ---- authoritative consistency: MX_QT_AUTH_MX/SOA, key "ADDR|DOMAIN" ---- */

static enum mx_status start_auth(const struct mx_config *cfg, struct mx_engine *eng,
                                 struct mx_optin *o, char *err, size_t errlen)
{
    struct mx_auth_cfg ac;
    memset(&ac, 0, sizeof ac);
    ac.server_qps = cfg->auth_qps;
    ac.global_qps = cfg->auth_global_qps;
    ac.timeout_ms = cfg->auth_timeout_ms;
    ac.tries = cfg->auth_tries;
    ac.allow = &cfg->allow;
    o->auth = mx_auth_create(&ac, err, errlen);
    if (!o->auth)
        return MX_EINVAL;
    return mx_auth_add_providers(o->auth, eng);
}

enum mx_status mx_optin_start(const struct mx_config *cfg, struct mx_engine *eng,
                              struct mx_optin **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!(cfg->checks & (MX_CHECK_SMTP | MX_CHECK_MTA_STS | MX_CHECK_CONSISTENCY)))
        return MX_OK;
    struct mx_optin *o = calloc(1, sizeof *o);
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return MX_ENOMEM;
    }
    enum mx_status st = MX_OK;
    if (cfg->checks & MX_CHECK_SMTP)
        st = start_smtp(cfg, eng, o, err, errlen);
    if (st == MX_OK && (cfg->checks & MX_CHECK_MTA_STS))
        st = start_sts(cfg, eng, o, err, errlen);
    if (st == MX_OK && (cfg->checks & MX_CHECK_CONSISTENCY))
        st = start_auth(cfg, eng, o, err, errlen);
    if (st != MX_OK) {
        mx_optin_stop(o);
        return st;
    }
    *out = o;
    return MX_OK;
}

void mx_optin_stop(struct mx_optin *o)
{
    if (!o)
        return;
    mx_sts_fetch_destroy(o->sts); /* both answer what is still out as aborted */
    mx_smtp_destroy(o->smtp);
    mx_auth_destroy(o->auth);
    free(o);
}
