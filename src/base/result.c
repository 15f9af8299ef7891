/* Column text of one result row. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx/result.h"

static const char *const mail_names[] = {
#define X(e, n) n,
    MX_MAIL_STATUS_MAP(X)
#undef X
};
static const char *const col_headers[] = {
#define X(e, h, d) h,
    MX_COLUMNS_MAP(X)
#undef X
};
static const char *const col_desc[] = {
#define X(e, h, d) d,
    MX_COLUMNS_MAP(X)
#undef X
};

static const char *const spf_values[] = {
#define X(e, n) n,
    MX_SPF_RESULT_MAP(X)
#undef X
};
static const char *const dmarc_policy_values[] = {
#define X(e, n) n,
    MX_DMARC_POLICY_MAP(X)
#undef X
};
static const char *const dmarc_source_values[] = {
#define X(e, n) n,
    MX_DMARC_SOURCE_MAP(X)
#undef X
};
static const struct {
    const char *const *names;
    unsigned n;
    enum mx_column col;
} valcols[MX_VC_COUNT] = {
    {spf_values, MX_SPFV_COUNT, MX_COL_SPF_RESULT},
    {dmarc_policy_values, MX_DPV_COUNT, MX_COL_DMARC_POLICY},
    {dmarc_source_values, MX_DSV_COUNT, MX_COL_DMARC_SOURCE},
};
static const char *const lookup_names[] = {
#define X(e, n) n,
    MX_LOOKUP_MAP(X)
#undef X
};

unsigned mx_value_count(enum mx_valcol c)
{
    return (unsigned)c < MX_VC_COUNT ? valcols[c].n : 0;
}

const char *mx_value_name(enum mx_valcol c, unsigned v)
{
    return (unsigned)c < MX_VC_COUNT && v < valcols[c].n ? valcols[c].names[v] : "";
}

unsigned mx_value_from_text(enum mx_valcol c, const char *s)
{
    if ((unsigned)c >= MX_VC_COUNT || !s || !*s)
        return 0;
    for (unsigned v = 1; v < valcols[c].n; v++)
        if (strcmp(valcols[c].names[v], s) == 0)
            return v;
    return 0;
}

const char *mx_valcol_header(enum mx_valcol c)
{
    return (unsigned)c < MX_VC_COUNT ? col_headers[valcols[c].col] : "";
}

const char *mx_lookup_name(enum mx_lookup l)
{
    return (unsigned)l < MX_LOOKUP_COUNT ? lookup_names[l] : "not_looked_up";
}

const char *mx_mail_status_name(enum mx_mail_status m)
{
    return (unsigned)m < MX_MAIL_COUNT ? mail_names[m] : "unknown";
}

const char *mx_column_header(enum mx_column c)
{
    return (unsigned)c < MX_COL_COUNT ? col_headers[c] : "";
}

const char *mx_column_description(enum mx_column c)
{
    return (unsigned)c < MX_COL_COUNT ? col_desc[c] : "";
}

void mx_result_reset(struct mx_result *r)
{
    r->status = MX_RC_NOERROR;
    r->mail = MX_MAIL_UNKNOWN;
    r->findings = 0;
    r->n_providers = 0;
    r->n_spf_providers = 0;
    r->overflow = false;
    r->has_mx_ttl = false;
    r->mx_ttl = 0;
    r->spf_result = MX_SPFV_EMPTY;
    r->dmarc_policy = MX_DPV_EMPTY;
    r->dmarc_source = MX_DSV_EMPTY;
    r->spf_counted = false;
    r->spf_lookups = r->spf_voids = 0;
    r->implicit = false;
    r->mx_cut = false;
    r->nmx = r->nhosts = 0;
    r->used = 0;
    if (r->explain) {
        r->explain->spf_problem[0] = 0;
        r->explain->spf_cover[0] = 0;
        r->explain->smtp_talk[0] = 0;
        r->explain->ns_talk[0] = 0;
        r->explain->policy_notes[0] = 0;
    }
    memset(r->col_off, 0, sizeof r->col_off);
    memset(r->col_len, 0, sizeof r->col_len);
}

void mx_result_append(struct mx_result *r, enum mx_column c, const char *s, size_t len)
{
    if (len == 0)
        return;
    uint32_t off = r->col_off[c], cl = r->col_len[c];
    if (cl > 0 && off + cl != r->used) {
        /* The column is not the last one written: move it to the end. */
        if ((size_t)r->used + cl > MX_RESULT_TEXT) {
            r->overflow = true;
            return;
        }
        memmove(r->text + r->used, r->text + off, cl);
        r->col_off[c] = r->used;
        r->used += cl;
    } else if (cl == 0) {
        r->col_off[c] = r->used;
    }
    size_t room = MX_RESULT_TEXT - r->used;
    if (len > room) {
        len = room;
        r->overflow = true;
    }
    memcpy(r->text + r->used, s, len);
    r->used += (uint32_t)len;
    r->col_len[c] += (uint32_t)len;
}

void mx_result_appendf(struct mx_result *r, enum mx_column c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf) {
        n = (int)sizeof buf - 1;
        r->overflow = true;
    }
    mx_result_append(r, c, buf, (size_t)n);
}

void mx_result_appends(struct mx_result *r, enum mx_column c, const char *s)
{
    mx_result_append(r, c, s, strlen(s));
}

void mx_result_append_u(struct mx_result *r, enum mx_column c, unsigned long v)
{
    char buf[24];
    size_t i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mx_result_append(r, c, buf + i, sizeof buf - i);
}

void mx_result_set(struct mx_result *r, enum mx_column c, const char *s)
{
    r->col_len[c] = 0;
    mx_result_append(r, c, s, strlen(s));
}

const char *mx_result_col(const struct mx_result *r, enum mx_column c, size_t *len)
{
    *len = r->col_len[c];
    return r->text + r->col_off[c];
}

void mx_result_render_findings(struct mx_result *r)
{
    r->col_len[MX_COL_FINDINGS] = 0;
    bool first = true;
    for (unsigned f = 0; f < MX_F_COUNT; f++) {
        if (!(r->findings & MX_FBIT(f)))
            continue;
        if (!first)
            mx_result_append(r, MX_COL_FINDINGS, ";", 1);
        const char *l = mx_finding_label((enum mx_finding)f);
        mx_result_append(r, MX_COL_FINDINGS, l, strlen(l));
        first = false;
    }
}
