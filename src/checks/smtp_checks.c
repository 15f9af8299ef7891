/* The SMTP probe's findings and column (smtp_checks.h). Readings:
 * - an exchange accepts a connection when one of its addresses completed
 *   the TCP connection and greeted with 2xx (a 554 greeting accepts no
 *   mail); smtp_unreachable when no probed exchange does,
 *   smtp_host_unreachable when some do not;
 * - smtp_no_starttls: an address answered EHLO (2xx) without STARTTLS;
 * - smtp_tls_failed: STARTTLS advertised, then refused or a failed
 *   handshake; smtp_cert_invalid: the handshake succeeded but the
 *   certificate does not validate for the exchange name;
 * - smtp_rejects_domain (with --smtp-rcpt): a 5xx answer to
 *   RCPT TO:<postmaster@domain>, or to MAIL FROM:<>;
 * - addresses the allow list keeps the probe from (not globally reachable)
 *   are not probed; an exchange with none probed is left out;
 * - a domain without MX records (implicit MX) has its own addresses probed
 *   as its one exchange, as a sender would try them. */
#include <stdio.h>
#include <string.h>

#include "mx/engine.h"
#include "mx/smtp.h"
#include "mx/smtp_checks.h"

bool mx_smtp_greeted(const struct mx_smtp_result *r)
{
    return r->conn == MX_SMTP_CONN_OK && r->greeting_code / 100 == 2;
}

struct verdict {
    bool probed, reachable, no_starttls, tls_failed, cert_invalid, rejects;
};

static void judge(const struct mx_smtp_result *r, struct verdict *v)
{
    if (r->conn == MX_SMTP_CONN_NOT_ALLOWED)
        return;
    v->probed = true;
    if (!mx_smtp_greeted(r))
        return;
    v->reachable = true;
    if (r->ehlo_code / 100 == 2 && !r->starttls)
        v->no_starttls = true;
    if (r->starttls && (r->tls == MX_SMTP_TLS_FAILED || r->tls == MX_SMTP_TLS_REFUSED))
        v->tls_failed = true;
    if (r->tls == MX_SMTP_TLS_OK && r->cert != MX_SMTP_CERT_VALID)
        v->cert_invalid = true;
    if ((r->rcpt == MX_SMTP_RCPT_REPLIED && r->rcpt_code / 100 == 5) ||
        (r->rcpt == MX_SMTP_RCPT_MAIL_REJECTED && r->mail_code / 100 == 5))
        v->rejects = true;
}

/* "EXCHANGE@ADDR connect=ok greeting=220 starttls=yes tls=TLSv1.3
 * cert=valid rcpt=250" */
static void column(struct mx_result *res, const struct mx_smtp_result *r)
{
    char ip[64], buf[512];
    size_t n;
    mx_ip_format(&r->addr, ip, sizeof ip);
    n = (size_t)snprintf(buf, sizeof buf, "%s@%s connect=%s", r->exchange, ip,
                         mx_smtp_conn_name(r->conn));
    if (r->conn == MX_SMTP_CONN_OK && n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " greeting=%u starttls=%s tls=%s cert=%s",
                              r->greeting_code, r->starttls ? "yes" : "no",
                              r->tls == MX_SMTP_TLS_OK ? r->tls_version
                                                       : mx_smtp_tls_name(r->tls),
                              mx_smtp_cert_name(r->cert));
    if (r->rcpt == MX_SMTP_RCPT_REPLIED && n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " rcpt=%u", r->rcpt_code);
    else if (r->rcpt != MX_SMTP_RCPT_NOT_ASKED && n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " rcpt=%s",
                              r->rcpt == MX_SMTP_RCPT_MAIL_REJECTED ? "mail_rejected"
                                                                     : "not_reached");
    if (res->col_len[MX_COL_SMTP] > 0)
        mx_result_append(res, MX_COL_SMTP, ";", 1);
    mx_result_append(res, MX_COL_SMTP, buf, n < sizeof buf ? n : sizeof buf - 1);
}

/* One line of the conversation for `mxscan check`. */
static void talk(struct mx_result *res, const struct mx_smtp_result *r)
{
    if (!res->explain)
        return;
    char ip[64], line[768], *out = res->explain->smtp_talk;
    size_t cap = sizeof res->explain->smtp_talk, n = 0, have = strlen(out);
    mx_ip_format(&r->addr, ip, sizeof ip);
    n += (size_t)snprintf(line + n, sizeof line - n, "%s %s: connect %s", r->exchange, ip,
                          mx_smtp_conn_name(r->conn));
    if (r->greeting_code && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", greeting %u", r->greeting_code);
    if (r->ehlo_code && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", EHLO %u (%s)", r->ehlo_code,
                              r->starttls ? "STARTTLS offered" : "no STARTTLS");
    if (r->starttls && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", TLS %s, certificate %s",
                              r->tls == MX_SMTP_TLS_OK ? r->tls_version : mx_smtp_tls_name(r->tls),
                              mx_smtp_cert_name(r->cert));
    if (r->mail_code && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", MAIL FROM:<> -> %u", r->mail_code);
    if (r->rcpt_code && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, ", RCPT TO:<postmaster@%s> -> %u",
                              r->rcpt_domain, r->rcpt_code);
    if ((r->rcpt_text[0] || r->reply_text[0]) && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, " \"%s\"",
                              r->rcpt_text[0] ? r->rcpt_text : r->reply_text);
    if (have + n + 2 < cap)
        snprintf(out + have, cap - have, "%s\n", line);
}

const struct mx_smtp_result *mx_smtp_probe_get(const struct mx_analyze_cfg *cfg,
                                               const char *domain, struct mx_oracle *o,
                                               const char *ex, const struct mx_ip *ip,
                                               bool *pending)
{
    char key[3 * (MX_NAME_MAX + 1) + 64], a[64];
    mx_ip_format(ip, a, sizeof a);
    if (cfg->smtp_rcpt)
        snprintf(key, sizeof key, "%s|%s|%s", a, ex, domain);
    else
        snprintf(key, sizeof key, "%s|%s", a, ex);
    const struct mx_answer *ans =
        mx_oracle_get(o, key, MX_QT_SMTP, cfg->smtp_rcpt ? 0 : MX_Q_SHARED);
    if (!ans) {
        *pending = true;
        return NULL;
    }
    return mx_answer_blob_data(ans, sizeof(struct mx_smtp_result));
}

bool mx_smtp_probe_each(const struct mx_analyze_cfg *cfg, const char *domain,
                        struct mx_oracle *o, const struct mx_exchange *e, mx_smtp_each_fn fn,
                        void *ud)
{
    bool pending = false;
    const struct mx_answer *ans[2] = {e->a, e->aaaa};
    for (int k = 0; k < 2; k++) {
        size_t off = 0;
        struct mx_rdata rd;
        while (ans[k] && ans[k]->rc == MX_RC_NOERROR && mx_answer_next(ans[k], &off, &rd)) {
            if (!mx_ip_is_global(&rd.ip, cfg->allow))
                continue;
            const struct mx_smtp_result *r =
                mx_smtp_probe_get(cfg, domain, o, e->name, &rd.ip, &pending);
            if (r)
                fn(r, ud);
        }
    }
    return !pending;
}

struct one {
    struct mx_result *res;
    struct verdict *v;
};

static void one_address(const struct mx_smtp_result *r, void *ud)
{
    struct one *x = ud;
    judge(r, x->v);
    column(x->res, r);
    talk(x->res, r);
}

/* Probes the addresses of one exchange; false while pending. */
static bool one_exchange(const struct mx_analyze_cfg *cfg, const char *domain,
                         struct mx_oracle *o, const struct mx_exchange *e, struct mx_result *res,
                         struct verdict *v)
{
    struct one x = {res, v};
    return mx_smtp_probe_each(cfg, domain, o, e, one_address, &x);
}

bool mx_checks_smtp(const struct mx_analyze_cfg *cfg, const char *domain, struct mx_oracle *o,
                    const struct mx_mxset *set, struct mx_result *res)
{
    struct mx_mxset one;
    if (set->implicit) { /* the domain itself is the one exchange senders try */
        mx_checks_implicit_set(cfg, domain, o, &one);
        set = &one;
    }
    bool done = true;
    unsigned probed = 0, reachable = 0;
    mx_findings_t f = 0;
    for (unsigned i = 0; i < set->n; i++) {
        struct verdict v = {false, false, false, false, false, false};
        if (!set->ex[i].usable)
            continue;
        if (!one_exchange(cfg, domain, o, &set->ex[i], res, &v))
            done = false;
        probed += v.probed;
        reachable += v.reachable;
        f |= (v.no_starttls ? MX_FBIT(MX_F_SMTP_NO_STARTTLS) : 0) |
             (v.tls_failed ? MX_FBIT(MX_F_SMTP_TLS_FAILED) : 0) |
             (v.cert_invalid ? MX_FBIT(MX_F_SMTP_CERT_INVALID) : 0) |
             (v.rejects ? MX_FBIT(MX_F_SMTP_REJECTS_DOMAIN) : 0);
    }
    if (!done)
        return false;
    if (probed > 0 && reachable == 0)
        f |= MX_FBIT(MX_F_SMTP_UNREACHABLE);
    else if (reachable < probed)
        f |= MX_FBIT(MX_F_SMTP_HOST_UNREACHABLE);
    res->findings |= f;
    return true;
}
