/* Labels of the probe's result vocabulary and the one-line rendering of a
 * result (key=value, texts quoted). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx/smtp.h"
#include "mx/text.h"

#define NAME_FN(fn, type, MAP)                                                       \
    const char *fn(type v)                                                          \
    {                                                                                \
        static const char *const names[] = {MAP(LABEL)};                            \
        return (size_t)v < sizeof names / sizeof names[0] ? names[v] : "unknown";   \
    }
#define LABEL(n, l) l,
NAME_FN(mx_smtp_conn_name, enum mx_smtp_conn, MX_SMTP_CONN_MAP)
NAME_FN(mx_smtp_step_name, enum mx_smtp_step, MX_SMTP_STEP_MAP)
NAME_FN(mx_smtp_end_name, enum mx_smtp_end, MX_SMTP_END_MAP)
NAME_FN(mx_smtp_tls_name, enum mx_smtp_tls, MX_SMTP_TLS_MAP)
NAME_FN(mx_smtp_cert_name, enum mx_smtp_cert, MX_SMTP_CERT_MAP)
NAME_FN(mx_smtp_rcpt_name, enum mx_smtp_rcpt, MX_SMTP_RCPT_MAP)
NAME_FN(mx_smtp_ext_name, enum mx_smtp_ext, MX_SMTP_EXT_MAP)
#undef LABEL
#undef NAME_FN


static void put_hex(struct mx_text_out *o, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mx_text_put(o, "%02x", d[i]);
}

static void put_bits(struct mx_text_out *o, const char *key, uint32_t bits, unsigned count,
                     const char *(*name)(unsigned))
{
    mx_text_put(o, " %s=", key);
    if (!bits) {
        mx_text_put(o, "-");
        return;
    }
    bool first = true;
    for (unsigned i = 0; i < count; i++)
        if (bits & (1u << i)) {
            mx_text_put(o, "%s%s", first ? "" : ",", name(i));
            first = false;
        }
}

static const char *ext_label(unsigned i)
{
    return mx_smtp_ext_name((enum mx_smtp_ext)i);
}

static const char *cert_label(unsigned i)
{
    return mx_smtp_cert_name((enum mx_smtp_cert)i);
}

size_t mx_smtp_result_format(const struct mx_smtp_result *r, char *buf, size_t len)
{
    struct mx_text_out o = {buf, len, 0};
    char ip[64];
    mx_ip_format(&r->addr, ip, sizeof ip);
    if (len)
        buf[0] = '\0';
    mx_text_put(&o, "addr=%s exchange=%s rcpt_domain=%s cached=%d", ip, r->exchange,
        r->rcpt_domain[0] ? r->rcpt_domain : "-", r->cached);
    mx_text_put(&o, " conn=%s end=%s end_step=%s greeting=%u ehlo=%u helo=%d",
        mx_smtp_conn_name(r->conn), mx_smtp_end_name(r->end), mx_smtp_step_name(r->end_step),
        r->greeting_code, r->ehlo_code, r->helo);
    put_bits(&o, "ext", r->ext, 32, ext_label);
    mx_text_put(&o, " starttls=%d starttls_code=%u tls=%s tls_version=%s tls_cipher=%s", r->starttls,
        r->starttls_code, mx_smtp_tls_name(r->tls), r->tls_version[0] ? r->tls_version : "-",
        r->tls_cipher[0] ? r->tls_cipher : "-");
    mx_text_put_quoted(&o, "tls_error", r->tls_error);
    mx_text_put(&o, " sni=%s", r->sni[0] ? r->sni : "-");
    mx_text_put(&o, " cert=%s", mx_smtp_cert_name(r->cert));
    put_bits(&o, "cert_problems", r->cert_problems, 32, cert_label);
    mx_text_put(&o, " cert_verify_error=%d not_after=%s", r->cert_verify_error,
        r->cert_not_after[0] ? r->cert_not_after : "-");
    if (r->tls == MX_SMTP_TLS_OK) {
        mx_text_put(&o, " cert_sha256=");
        put_hex(&o, r->leaf.cert, sizeof r->leaf.cert);
        mx_text_put(&o, " spki_sha256=");
        put_hex(&o, r->leaf.spki, sizeof r->leaf.spki);
    } else {
        mx_text_put(&o, " cert_sha256=- spki_sha256=-");
    }
    mx_text_put(&o, " chain=%u%s", r->chain_len, r->chain_truncated ? "+" : "");
    mx_text_put(&o, " chain_spki=");
    for (unsigned i = 0; i < r->chain_len; i++) {
        if (i)
            mx_text_put(&o, ",");
        put_hex(&o, r->chain[i].spki, sizeof r->chain[i].spki);
    }
    if (!r->chain_len)
        mx_text_put(&o, "-");
    mx_text_put(&o, " chain_links=%x", (unsigned)r->chain_links);
    mx_text_put(&o, " reply_code=%u", r->reply_text_code);
    mx_text_put_quoted(&o, "reply_text", r->reply_text);
    mx_text_put(&o, " rcpt=%s rcpt_end=%s rcpt_cached=%d mail=%u rcpt_code=%u", mx_smtp_rcpt_name(r->rcpt),
        mx_smtp_end_name(r->rcpt_end), r->rcpt_cached, r->mail_code, r->rcpt_code);
    mx_text_put_quoted(&o, "rcpt_text", r->rcpt_text);
    return o.need;
}
