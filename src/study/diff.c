/* mxscan diff: what changed for one domain, the counts of the summary,
 * and the rows of the changes file (study.h, README "mxscan diff"). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mx/output.h"
#include "mx/study.h"

const enum mx_column mx_diff_columns[MX_DF_COUNT] = {
#define X(e, c) c,
    MX_DIFF_FIELDS(X)
#undef X
};

const char *mx_diff_kind_name(enum mx_diff_kind k)
{
    static const char *const names[] = {
#define X(e, n) n,
        MX_DIFF_KINDS(X)
#undef X
    };
    return (unsigned)k < MX_DK_COUNT ? names[k] : "?";
}

/* ---- one domain ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ';'-items of s, sorted, in a new array over a copy (*copy, to free). */
static const char **sorted_items(const char *s, char **copy, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ';';
    const char **items = malloc(cap * sizeof *items);
    *copy = strdup(s);
    *n = 0;
    if (!items || !*copy) {
        free(items);
        free(*copy);
        return NULL;
    }
    for (char *p = *copy; *p;) {
        items[(*n)++] = p;
        p += strcspn(p, ";");
        if (*p)
            *p++ = 0;
    }
    qsort(items, *n, sizeof *items, cmp_str);
    return items;
}

bool mx_diff_same_set(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    char *ca, *cb;
    size_t na, nb;
    const char **ia = sorted_items(a, &ca, &na), **ib = sorted_items(b, &cb, &nb);
    bool same = ia && ib && na == nb;
    for (size_t i = 0; same && i < na; i++)
        same = strcmp(ia[i], ib[i]) == 0;
    if (ia) {
        free(ia);
        free(ca);
    }
    if (ib) {
        free(ib);
        free(cb);
    }
    return same;
}

static bool accepts(const char *s)
{
    return !strcmp(s, "ok") || !strcmp(s, "degraded") || !strcmp(s, "implicit");
}

bool mx_diff_became_broken(const char *old_status, const char *new_status)
{
    return accepts(old_status) && strcmp(new_status, "broken") == 0;
}

bool mx_diff_recovered(const char *old_status, const char *new_status)
{
    return strcmp(old_status, "broken") == 0 && accepts(new_status);
}

/* The codes of a findings column (unknown codes ignored). */
static mx_findings_t codes(const char *list)
{
    mx_findings_t set = 0;
    char code[64];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ";");
        if (len < sizeof code) {
            memcpy(code, p, len);
            code[len] = 0;
            enum mx_finding f = mx_finding_from_label(code);
            set |= f < MX_F_COUNT ? MX_FBIT(f) : 0;
        }
        p += len + (p[len] == ';');
    }
    return set;
}

void mx_diff_compare(const struct mx_drow *old, const struct mx_drow *new_, struct mx_dchange *out)
{
    memset(out, 0, sizeof *out);
    if (!old || !new_) {
        out->kinds = 1u << (old ? MX_DK_REMOVED : MX_DK_ADDED);
        return;
    }
    const char *const *a = old->f, *const *b = new_->f;
    if (!mx_diff_same_set(a[MX_DF_MX], b[MX_DF_MX]))
        out->kinds |= 1u << MX_DK_MX;
    if (!mx_diff_same_set(a[MX_DF_PROVIDERS], b[MX_DF_PROVIDERS]))
        out->kinds |= 1u << MX_DK_PROVIDERS;
    if (strcmp(a[MX_DF_MAIL_STATUS], b[MX_DF_MAIL_STATUS]) != 0)
        out->kinds |= 1u << MX_DK_MAIL_STATUS;
    mx_findings_t fa = codes(a[MX_DF_FINDINGS]), fb = codes(b[MX_DF_FINDINGS]);
    out->gained = fb & ~fa;
    out->lost = fa & ~fb;
    if (out->gained)
        out->kinds |= 1u << MX_DK_FINDINGS_GAINED;
    if (out->lost)
        out->kinds |= 1u << MX_DK_FINDINGS_LOST;
    if (strcmp(a[MX_DF_SPF], b[MX_DF_SPF]) != 0 ||
        strcmp(a[MX_DF_SPF_RESULT], b[MX_DF_SPF_RESULT]) != 0)
        out->kinds |= 1u << MX_DK_SPF;
    if (strcmp(a[MX_DF_DMARC_POLICY], b[MX_DF_DMARC_POLICY]) != 0)
        out->kinds |= 1u << MX_DK_DMARC_POLICY;
}

/* ---- the summary ---- */

#define MOVES_MAX 10000 /* distinct "A -> B" keys kept per map; the rest: "(other)" */

struct mx_dsummary {
    uint64_t kinds[MX_DK_COUNT], compared, changed, became_broken, recovered;
    uint64_t gained[MX_F_COUNT], lost[MX_F_COUNT];
    json_t *mail_moves, *provider_moves, *dmarc_moves;
};

struct mx_dsummary *mx_dsummary_create(void)
{
    struct mx_dsummary *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->mail_moves = json_object();
    s->provider_moves = json_object();
    s->dmarc_moves = json_object();
    if (!s->mail_moves || !s->provider_moves || !s->dmarc_moves) {
        mx_dsummary_free(s);
        return NULL;
    }
    return s;
}

void mx_dsummary_free(struct mx_dsummary *s)
{
    if (!s)
        return;
    json_decref(s->mail_moves);
    json_decref(s->provider_moves);
    json_decref(s->dmarc_moves);
    free(s);
}

/* map["A -> B"] += 1 (an empty value is "(none)"). */
static bool count_move(json_t *map, const char *a, const char *b)
{
    char key[1024], san[1024];
    snprintf(key, sizeof key, "%s -> %s", *a ? a : "(none)", *b ? b : "(none)");
    size_t n = mx_csv_sanitize(key, strlen(key), san, sizeof san);
    san[n] = 0;
    json_t *v = json_object_get(map, san);
    if (!v && json_object_size(map) >= MOVES_MAX) {
        snprintf(san, sizeof san, "(other)");
        v = json_object_get(map, san);
    }
    if (v)
        return json_integer_set(v, json_integer_value(v) + 1) == 0;
    return json_object_set_new(map, san, json_integer(1)) == 0;
}

bool mx_dsummary_add(struct mx_dsummary *s, const struct mx_drow *old, const struct mx_drow *new_,
                     const struct mx_dchange *c)
{
    bool ok = true;
    s->compared += old && new_;
    s->changed += c->kinds != 0;
    for (unsigned k = 0; k < MX_DK_COUNT; k++)
        s->kinds[k] += (c->kinds >> k) & 1u;
    for (unsigned f = 0; f < MX_F_COUNT; f++) {
        s->gained[f] += (c->gained & MX_FBIT(f)) != 0;
        s->lost[f] += (c->lost & MX_FBIT(f)) != 0;
    }
    if (!old || !new_)
        return true;
    const char *const *a = old->f, *const *b = new_->f;
    if (c->kinds & (1u << MX_DK_MAIL_STATUS)) {
        ok = count_move(s->mail_moves, a[MX_DF_MAIL_STATUS], b[MX_DF_MAIL_STATUS]);
        s->became_broken += mx_diff_became_broken(a[MX_DF_MAIL_STATUS], b[MX_DF_MAIL_STATUS]);
        s->recovered += mx_diff_recovered(a[MX_DF_MAIL_STATUS], b[MX_DF_MAIL_STATUS]);
    }
    if (c->kinds & (1u << MX_DK_PROVIDERS))
        ok = count_move(s->provider_moves, a[MX_DF_PROVIDERS], b[MX_DF_PROVIDERS]) && ok;
    if (c->kinds & (1u << MX_DK_DMARC_POLICY))
        ok = count_move(s->dmarc_moves, a[MX_DF_DMARC_POLICY], b[MX_DF_DMARC_POLICY]) && ok;
    return ok;
}

static json_t *per_code(const uint64_t *counts)
{
    json_t *o = json_object();
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        if (counts[f])
            json_object_set_new(o, mx_finding_label((enum mx_finding)f),
                                json_integer((json_int_t)counts[f]));
    return o;
}

static json_t *file_info(const char *path, uint64_t rows)
{
    char san[4 * 4096 + 1];
    size_t n = mx_csv_sanitize(path, strlen(path), san, sizeof san);
    return json_pack("{s:s%, s:I}", "path", san, n, "rows", (json_int_t)rows);
}

json_t *mx_dsummary_json(const struct mx_dsummary *s, const char *old_path, const char *new_path,
                         uint64_t old_rows, uint64_t new_rows)
{
    json_t *kinds = json_object();
    for (unsigned k = 0; k < MX_DK_COUNT; k++)
        json_object_set_new(kinds, mx_diff_kind_name((enum mx_diff_kind)k),
                            json_integer((json_int_t)s->kinds[k]));
    return json_pack("{s:o, s:o, s:I, s:I, s:o, s:I, s:I, s:O, s:O, s:O, s:o, s:o}", "old",
                     file_info(old_path, old_rows), "new", file_info(new_path, new_rows),
                     "domains_compared", (json_int_t)s->compared, "domains_changed",
                     (json_int_t)s->changed, "changes", kinds, "became_broken",
                     (json_int_t)s->became_broken, "recovered", (json_int_t)s->recovered,
                     "mail_status_moves", s->mail_moves, "provider_moves", s->provider_moves,
                     "dmarc_policy_moves", s->dmarc_moves, "findings_gained",
                     per_code(s->gained), "findings_lost", per_code(s->lost));
}

/* ---- the changes file ---- */

/* X(header, side (0 none, 1 old, 2 new), field) */
#define CHANGE_COLUMNS(X)                       \
    X("domain", 0, MX_DF_DOMAIN)                \
    X("changes", 0, MX_DF_COUNT)                \
    X("old_mail_status", 1, MX_DF_MAIL_STATUS)  \
    X("new_mail_status", 2, MX_DF_MAIL_STATUS)  \
    X("old_mx", 1, MX_DF_MX)                    \
    X("new_mx", 2, MX_DF_MX)                    \
    X("old_providers", 1, MX_DF_PROVIDERS)      \
    X("new_providers", 2, MX_DF_PROVIDERS)      \
    X("findings_gained", 0, MX_DF_FINDINGS)     \
    X("findings_lost", 0, MX_DF_FINDINGS)       \
    X("old_spf", 1, MX_DF_SPF)                  \
    X("new_spf", 2, MX_DF_SPF)                  \
    X("old_spf_result", 1, MX_DF_SPF_RESULT)    \
    X("new_spf_result", 2, MX_DF_SPF_RESULT)    \
    X("old_dmarc_policy", 1, MX_DF_DMARC_POLICY) \
    X("new_dmarc_policy", 2, MX_DF_DMARC_POLICY)

struct change_col {
    const char *name;
    int side;
    enum mx_diff_field field;
};
static const struct change_col change_cols[] = {
#define X(n, s, f) {n, s, f},
    CHANGE_COLUMNS(X)
#undef X
};
#define NCHANGE (sizeof change_cols / sizeof change_cols[0])

const char *mx_diff_csv_header(void)
{
    static char header[512];
    if (!header[0]) {
        size_t w = 0;
        for (size_t i = 0; i < NCHANGE; i++)
            w += (size_t)snprintf(header + w, sizeof header - w, "%s%s", i ? "," : "",
                                  change_cols[i].name);
        snprintf(header + w, sizeof header - w, "\n");
    }
    return header;
}

/* ';'-joined kind names, or finding codes of set. */
static void kinds_text(uint32_t kinds, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = 0;
    for (unsigned k = 0; k < MX_DK_COUNT; k++)
        if (kinds & (1u << k))
            w += (size_t)snprintf(buf + w, w < cap ? cap - w : 0, "%s%s", w ? ";" : "",
                                  mx_diff_kind_name((enum mx_diff_kind)k));
}

static void codes_text(mx_findings_t set, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = 0;
    for (unsigned f = 0; f < MX_F_COUNT; f++)
        if (set & MX_FBIT(f))
            w += (size_t)snprintf(buf + w, w < cap ? cap - w : 0, "%s%s", w ? ";" : "",
                                  mx_finding_label((enum mx_finding)f));
}

/* The text of column i for the domain. */
static const char *cell(size_t i, const struct mx_drow *old, const struct mx_drow *new_,
                        const struct mx_dchange *c, char *tmp, size_t cap)
{
    const struct change_col *col = &change_cols[i];
    const struct mx_drow *r = col->side == 1 ? old : col->side == 2 ? new_ : old ? old : new_;
    if (col->field == MX_DF_COUNT) {
        kinds_text(c->kinds, tmp, cap);
        return tmp;
    }
    if (col->field == MX_DF_FINDINGS) {
        codes_text(strcmp(col->name, "findings_gained") == 0 ? c->gained : c->lost, tmp, cap);
        return tmp;
    }
    return r ? r->f[col->field] : "";
}

static size_t format_csv(const struct mx_drow *old, const struct mx_drow *new_,
                         const struct mx_dchange *c, char *buf, size_t cap)
{
    char list[4096];
    static _Thread_local char tmp[4 * MX_RESULTS_FIELD_MAX];
    size_t w = 0;
    for (size_t i = 0; i < NCHANGE; i++) {
        if (i > 0 && w + 2 < cap)
            buf[w++] = ',';
        const char *s = cell(i, old, new_, c, list, sizeof list);
        size_t before = w;
        w = mx_csv_put_field(buf, cap, w, tmp, sizeof tmp, s, strlen(s));
        if (w == before && *s)
            return 0; /* does not fit */
    }
    buf[w++] = '\n';
    return w;
}

static size_t format_jsonl(const struct mx_drow *old, const struct mx_drow *new_,
                           const struct mx_dchange *c, char *buf, size_t cap)
{
    char list[4096];
    static _Thread_local char san[4 * MX_RESULTS_FIELD_MAX];
    json_t *o = json_object();
    for (size_t i = 0; o && i < NCHANGE; i++) {
        const char *s = cell(i, old, new_, c, list, sizeof list);
        json_t *v;
        if (change_cols[i].field == MX_DF_COUNT || change_cols[i].field == MX_DF_FINDINGS) {
            v = json_array();
            for (const char *p = s; *p;) {
                size_t len = strcspn(p, ";");
                json_array_append_new(v, json_stringn(p, len));
                p += len + (p[len] == ';');
            }
        } else {
            v = json_stringn_nocheck(san, mx_csv_sanitize(s, strlen(s), san, sizeof san));
        }
        json_object_set_new(o, change_cols[i].name, v);
    }
    size_t n = o ? json_dumpb(o, buf, cap > 0 ? cap - 1 : 0, JSON_COMPACT) : 0;
    json_decref(o);
    if (n == 0 || n >= cap)
        return 0;
    buf[n++] = '\n';
    return n;
}

size_t mx_diff_format(bool jsonl, const struct mx_drow *old, const struct mx_drow *new_,
                      const struct mx_dchange *c, char *buf, size_t cap)
{
    return jsonl ? format_jsonl(old, new_, c, buf, cap) : format_csv(old, new_, c, buf, cap);
}
