/* The JSON Lines row (output.h): one object per domain, built with jansson
 * from the structured view in struct mx_result (the MX records, the hosts
 * looked up, the SPF and DMARC values) and from the column text where the
 * text is the value (domain, records, names). Text is sanitised as in the
 * CSV (control bytes and invalid UTF-8 as \xHH), so a string holds the same
 * characters in both formats. Keys: see datasets/schema/row.schema.json. */
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx/output.h"

/* ---- an arena for jansson ----
 * jansson takes every node, key, hash table and buffer from malloc: about
 * a hundred calls for one row. A row's tree lives only while its worker
 * formats it, so for that time jansson allocates from a per-thread arena
 * that is emptied for the next row (the region idea of STYLE 5; frees
 * inside it cost nothing). Everything else (other threads, other uses of
 * jansson, a full arena) goes to malloc and free as before. */

#define ARENA_BYTES (128u * 1024u)

struct arena {
    bool on;
    size_t used;
    _Alignas(max_align_t) unsigned char buf[ARENA_BYTES];
};
static _Thread_local struct arena arena;

static void *arena_malloc(size_t n)
{
    if (arena.on) {
        size_t a = _Alignof(max_align_t);
        n = (n + a - 1) / a * a;
        if (n <= ARENA_BYTES - arena.used) {
            void *p = arena.buf + arena.used;
            arena.used += n;
            return p;
        }
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    uintptr_t u = (uintptr_t)p, b = (uintptr_t)arena.buf;
    if (u >= b && u < b + ARENA_BYTES)
        return; /* this thread's arena: emptied after the row */
    free(p);
}

static void install_arena(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void mx_output_jsonl_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_arena);
}

struct build {
    const struct mx_result *r;
    bool ok; /* false once an allocation failed */
};

/* Sanitised text as a JSON string. */
static json_t *text(const char *s, size_t len)
{
    static _Thread_local char san[MX_ROW_MAX / 2];
    size_t n = mx_csv_sanitize(s, len, san, sizeof san);
    return json_stringn_nocheck(san, n);
}

static json_t *column(const struct mx_result *r, enum mx_column c)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    return text(s, len);
}

static json_t *column_or_null(const struct mx_result *r, enum mx_column c)
{
    size_t len;
    const char *s = mx_result_col(r, c, &len);
    return len ? text(s, len) : json_null();
}

/* A fixed value ("" is null). */
static json_t *value(const char *s)
{
    return *s ? json_string_nocheck(s) : json_null();
}

static void put(struct build *b, json_t *o, const char *key, json_t *v)
{
    if (!v || json_object_set_new_nocheck(o, key, v) != 0)
        b->ok = false;
}

static void push(struct build *b, json_t *a, json_t *v)
{
    if (!v || json_array_append_new(a, v) != 0)
        b->ok = false;
}

static json_t *rc_or_null(unsigned rc)
{
    return rc < MX_RC_COUNT ? json_string_nocheck(mx_rc_name((enum mx_rc)rc)) : json_null();
}

/* The addresses of host h: its "ADDR,ADDR" span of the mx_addresses column. */
static json_t *addresses(struct build *b, const struct mx_result_host *h)
{
    json_t *a = json_array();
    if (!a || !h || h->naddr == 0)
        return a;
    size_t len;
    const char *col = mx_result_col(b->r, MX_COL_MX_ADDRESSES, &len);
    if ((size_t)h->addr_off + h->addr_len > len)
        return a; /* the column was cut before the addresses */
    const char *p = col + h->addr_off, *end = p + h->addr_len;
    while (p < end) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        if (!q)
            q = end;
        push(b, a, text(p, (size_t)(q - p)));
        p = q + 1;
    }
    return a;
}

/* The look-up members of a host (an exchange, or the domain for implicit
 * MX); h NULL: not looked up. */
static void host_members(struct build *b, json_t *o, const struct mx_result_host *h)
{
    enum mx_lookup l = h ? (enum mx_lookup)h->lookup : MX_LOOKUP_NOT_LOOKED_UP;
    put(b, o, "lookup", json_string_nocheck(mx_lookup_name(l)));
    put(b, o, "cname", json_boolean(h && h->cname));
    put(b, o, "addresses", addresses(b, h));
    put(b, o, "a", h ? rc_or_null(h->rc[0]) : json_null());
    put(b, o, "aaaa", h ? rc_or_null(h->rc[1]) : json_null());
}

static json_t *mx_array(struct build *b)
{
    const struct mx_result *r = b->r;
    json_t *a = json_array();
    if (!a)
        return NULL;
    size_t len;
    const char *col = mx_result_col(r, MX_COL_MX, &len);
    for (unsigned k = 0; k < r->nmx; k++) {
        const struct mx_result_mx *m = &r->mx[k];
        json_t *o = json_object();
        if (!o) {
            b->ok = false;
            break;
        }
        put(b, o, "preference", json_integer(m->pref));
        size_t off = m->name_off < len ? m->name_off : len;
        size_t n = off + m->name_len <= len ? m->name_len : len - off;
        put(b, o, "exchange", text(col + off, n));
        const struct mx_result_host *h =
            m->host >= 0 && m->host < r->nhosts ? &r->hosts[m->host] : NULL;
        host_members(b, o, h);
        push(b, a, o);
    }
    return a;
}

static json_t *implicit_mx(struct build *b)
{
    if (!b->r->implicit || b->r->nhosts == 0)
        return json_null();
    json_t *o = json_object();
    if (o)
        host_members(b, o, &b->r->hosts[0]);
    return o;
}

static json_t *findings(struct build *b)
{
    json_t *a = json_array();
    for (unsigned f = 0; a && f < MX_F_COUNT; f++)
        if (b->r->findings & MX_FBIT(f))
            push(b, a, json_string_nocheck(mx_finding_label((enum mx_finding)f)));
    return a;
}

static json_t *providers(struct build *b, const uint16_t *ids, unsigned n,
                         const struct mx_providers *p)
{
    json_t *a = json_array();
    for (unsigned i = 0; a && p && i < n; i++) {
        const char *name = mx_providers_name(p, ids[i]);
        push(b, a, text(name, strlen(name)));
    }
    return a;
}

static json_t *spf(struct build *b, const struct mx_row_info *ri)
{
    const struct mx_result *r = b->r;
    json_t *o = json_object();
    if (!o)
        return NULL;
    put(b, o, "record", column_or_null(r, MX_COL_SPF));
    put(b, o, "result", value(mx_value_name(MX_VC_SPF_RESULT, r->spf_result)));
    put(b, o, "lookups", r->spf_counted ? json_integer(r->spf_lookups) : json_null());
    put(b, o, "voids", r->spf_counted ? json_integer(r->spf_voids) : json_null());
    put(b, o, "providers", providers(b, r->spf_providers, r->n_spf_providers, ri->providers));
    return o;
}

static json_t *dmarc(struct build *b)
{
    const struct mx_result *r = b->r;
    json_t *o = json_object();
    if (!o)
        return NULL;
    put(b, o, "record", column_or_null(r, MX_COL_DMARC));
    put(b, o, "policy", value(mx_value_name(MX_VC_DMARC_POLICY, r->dmarc_policy)));
    put(b, o, "source", value(mx_value_name(MX_VC_DMARC_SOURCE, r->dmarc_source)));
    return o;
}

static json_t *row_object(struct build *b, const struct mx_row_info *ri)
{
    const struct mx_result *r = b->r;
    json_t *o = json_object();
    if (!o)
        return NULL;
    put(b, o, "domain", column(r, MX_COL_DOMAIN));
    put(b, o, "status", json_string_nocheck(mx_rc_name(r->status)));
    put(b, o, "mail_status", json_string_nocheck(mx_mail_status_name(r->mail)));
    put(b, o, "mx", mx_array(b));
    put(b, o, "findings", findings(b));
    put(b, o, "mx_ttl", r->has_mx_ttl ? json_integer(r->mx_ttl) : json_null());
    put(b, o, "implicit_mx", implicit_mx(b));
    put(b, o, "providers", providers(b, r->providers, r->n_providers, ri->providers));
    put(b, o, "spf", spf(b, ri));
    put(b, o, "dmarc", dmarc(b));
    const char *file = ri->input_file ? ri->input_file : "";
    put(b, o, "input_file", text(file, strlen(file)));
    put(b, o, "input_line", json_integer((json_int_t)ri->line_no));
    put(b, o, "rank", ri->has_rank ? json_integer(ri->rank) : json_null());
    put(b, o, "cut", json_boolean(r->overflow || r->mx_cut));
    /* The opt-in checks' columns (after rank): their CSV text, null when
     * the check did not run or found nothing to say. */
    for (unsigned c = MX_COL_RANK + 1; c < MX_COL_COUNT; c++)
        put(b, o, mx_column_header((enum mx_column)c), column_or_null(r, (enum mx_column)c));
    return o;
}

size_t mx_output_format_jsonl(const struct mx_result *r, const struct mx_row_info *ri, char *buf,
                              size_t cap)
{
    struct build b = {r, true};
    arena.on = true;
    arena.used = 0;
    json_t *o = row_object(&b, ri);
    size_t n = 0;
    if (o && b.ok) {
        n = json_dumpb(o, buf, cap, JSON_COMPACT);
        if (n > 0 && n < cap)
            buf[n] = '\n';
        if (n > 0)
            n++;
    }
    json_decref(o);
    arena.on = false;
    arena.used = 0;
    return n;
}
