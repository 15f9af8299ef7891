/* Mailbox providers and filtering gateways from a CSV data file:
 *   suffix,provider,kind,spf_includes
 * one row per exchange-name suffix; kind is mailbox or gateway;
 * spf_includes lists include names separated by spaces. Several rows may
 * name the same provider. Blank lines and lines starting with '#' are
 * skipped. Immutable once loaded, so threads share it. */
#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "mx/hash.h"
#include "mx/names.h"
#include "mx/providers.h"

#define FIELD_MAX 4

struct provider {
    char *name;
    enum mx_provider_kind kind;
};

struct pattern {
    char *name;   /* suffix or include name, lowercase, no trailing dot */
    size_t len;
    uint16_t id;
};

/* Open-addressing index over a pattern list: slot = pattern index + 1
 * (0 = empty), keyed by the lowercase name. Built once after loading. */
struct index {
    uint32_t *slot;
    size_t mask;
};

struct mx_providers {
    struct provider *prov;
    size_t nprov, capprov;
    struct pattern *suffix;
    size_t nsuffix, capsuffix;
    struct pattern *incl;
    size_t nincl, capincl;
    struct index suffix_ix, incl_ix;
};

/* Parser state for the libcsv callbacks. */
struct loader {
    struct mx_providers *p;
    unsigned long line;    /* physical line being fed */
    unsigned long rows;    /* rows seen, header included */
    size_t nfield;
    char *field[FIELD_MAX];
    bool too_many;
    enum mx_status st;
    char *err;
    size_t errlen;
};

static void fail(struct loader *l, enum mx_status st, const char *msg)
{
    if (l->st != MX_OK)
        return;
    l->st = st;
    snprintf(l->err, l->errlen, "line %lu: %s", l->line, msg);
}

static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 16;
    void *b = realloc(arr, nc * elem);
    if (b)
        *cap = nc;
    return b;
}

/* Lowercase, trimmed, no leading or trailing dot. */
static char *clean_name(const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    while (len > 0 && *s == '.') {
        s++;
        len--;
    }
    if (len > 0 && s[len - 1] == '.')
        len--;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[len] = 0;
    return out;
}

static bool valid_pattern(const char *s)
{
    if (!*s || strlen(s) > MX_NAME_MAX)
        return false;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
            return false;
    return strstr(s, "..") == NULL;
}

static bool add_pattern(struct pattern **arr, size_t *n, size_t *cap, char *name, uint16_t id)
{
    struct pattern *b = grow(*arr, cap, *n, sizeof **arr);
    if (!b)
        return false;
    *arr = b;
    b[*n].name = name;
    b[*n].len = strlen(name);
    b[*n].id = id;
    (*n)++;
    return true;
}

static uint16_t provider_id(struct loader *l, const char *name, enum mx_provider_kind kind)
{
    struct mx_providers *p = l->p;
    for (size_t i = 0; i < p->nprov; i++) {
        if (strcmp(p->prov[i].name, name) != 0)
            continue;
        if (p->prov[i].kind != kind) {
            fail(l, MX_EFORMAT, "provider listed with two different kinds");
            return MX_PROVIDER_NONE;
        }
        return (uint16_t)i;
    }
    if (p->nprov >= MX_PROVIDER_NONE) {
        fail(l, MX_ETOOBIG, "too many providers");
        return MX_PROVIDER_NONE;
    }
    struct provider *b = grow(p->prov, &p->capprov, p->nprov, sizeof *b);
    char *copy = strdup(name);
    if (!b || !copy) {
        free(copy);
        if (b)
            p->prov = b;
        fail(l, MX_ENOMEM, "out of memory");
        return MX_PROVIDER_NONE;
    }
    p->prov = b;
    b[p->nprov].name = copy;
    b[p->nprov].kind = kind;
    return (uint16_t)p->nprov++;
}

static void row_header(struct loader *l)
{
    static const char *const want[] = {"suffix", "provider", "kind", "spf_includes"};
    if (l->nfield != FIELD_MAX || l->too_many) {
        fail(l, MX_EFORMAT, "header must be suffix,provider,kind,spf_includes");
        return;
    }
    for (size_t i = 0; i < FIELD_MAX; i++) {
        char *h = clean_name(l->field[i], strlen(l->field[i]));
        bool ok = h && strcmp(h, want[i]) == 0;
        free(h);
        if (!ok) {
            fail(l, MX_EFORMAT, "header must be suffix,provider,kind,spf_includes");
            return;
        }
    }
}

/* The provider name field into pname (trimmed); false (failed) if bad. */
static bool provider_name(struct loader *l, const char *prov, char pname[65])
{
    while (isspace((unsigned char)*prov))
        prov++;
    size_t plen = strlen(prov);
    while (plen > 0 && isspace((unsigned char)prov[plen - 1]))
        plen--;
    if (plen == 0 || plen > 64) {
        fail(l, MX_EFORMAT, "empty or over-long provider name");
        return false;
    }
    for (size_t i = 0; i < plen; i++)
        if (!isgraph((unsigned char)prov[i]) || prov[i] == ';' || prov[i] == ',') {
            fail(l, MX_EFORMAT, "provider name must be printable, without spaces, ';' or ','");
            return false;
        }
    memcpy(pname, prov, plen);
    pname[plen] = 0;
    return true;
}

static bool provider_kind(struct loader *l, const char *field, enum mx_provider_kind *kind)
{
    char *k = clean_name(field, strlen(field));
    if (!k) {
        fail(l, MX_ENOMEM, "out of memory");
        return false;
    }
    bool known = true;
    if (strcmp(k, "mailbox") == 0)
        *kind = MX_PROVIDER_MAILBOX;
    else if (strcmp(k, "gateway") == 0)
        *kind = MX_PROVIDER_GATEWAY;
    else
        known = false;
    free(k);
    if (!known)
        fail(l, MX_EFORMAT, "kind must be mailbox or gateway");
    return known;
}

/* One pattern (exchange suffix or SPF include) of provider id; an empty
 * suffix is allowed (a provider known by its includes only). */
static bool add_name(struct loader *l, const char *s, size_t n, bool include, uint16_t id)
{
    struct mx_providers *p = l->p;
    char *name = clean_name(s, n);
    if (!name) {
        fail(l, MX_ENOMEM, "out of memory");
        return false;
    }
    if (!include && !*name) {
        free(name);
        return true;
    }
    if (!valid_pattern(name)) {
        free(name);
        fail(l, MX_EFORMAT, include ? "bad SPF include name" : "bad exchange suffix");
        return false;
    }
    bool ok = include ? add_pattern(&p->incl, &p->nincl, &p->capincl, name, id)
                      : add_pattern(&p->suffix, &p->nsuffix, &p->capsuffix, name, id);
    if (!ok) {
        free(name);
        fail(l, MX_ENOMEM, "out of memory");
    }
    return ok;
}

static void row_data(struct loader *l)
{
    if (l->nfield < 3 || l->too_many) {
        fail(l, MX_EFORMAT, "want 4 fields: suffix,provider,kind,spf_includes");
        return;
    }
    char pname[65];
    enum mx_provider_kind kind;
    if (!provider_name(l, l->field[1], pname) || !provider_kind(l, l->field[2], &kind))
        return;
    uint16_t id = provider_id(l, pname, kind);
    if (id == MX_PROVIDER_NONE || !add_name(l, l->field[0], strlen(l->field[0]), false, id))
        return;
    const char *s = l->nfield > 3 ? l->field[3] : "";
    while (*s) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t");
        if (n == 0 || !add_name(l, s, n, true, id))
            break;
        s += n;
    }
}

static void on_field(void *s, size_t len, void *data)
{
    struct loader *l = data;
    if (l->nfield >= FIELD_MAX) {
        l->too_many = true;
        return;
    }
    char *f = malloc(len + 1);
    if (!f) {
        fail(l, MX_ENOMEM, "out of memory");
        return;
    }
    if (len)
        memcpy(f, s, len);
    f[len] = 0;
    l->field[l->nfield++] = f;
}

static void on_row(int c, void *data)
{
    (void)c;
    struct loader *l = data;
    if (l->st == MX_OK) {
        if (l->rows++ == 0)
            row_header(l);
        else
            row_data(l);
    }
    for (size_t i = 0; i < l->nfield; i++)
        free(l->field[i]);
    l->nfield = 0;
    l->too_many = false;
}

static bool skip_line(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)s[i]))
        i++;
    return i == len || s[i] == '#';
}

void mx_providers_destroy(struct mx_providers *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nprov; i++)
        free(p->prov[i].name);
    for (size_t i = 0; i < p->nsuffix; i++)
        free(p->suffix[i].name);
    for (size_t i = 0; i < p->nincl; i++)
        free(p->incl[i].name);
    free(p->prov);
    free(p->suffix);
    free(p->incl);
    free(p->suffix_ix.slot);
    free(p->incl_ix.slot);
    free(p);
}

/* FNV-1a over the lowercase bytes from the last to the first: the hash of
 * every suffix of a name comes out of one pass (see longest_match). */
static uint64_t hash_step(uint64_t h, unsigned char c)
{
    h ^= (c >= 'A' && c <= 'Z') ? c + 32u : c;
    return h * MX_FNV1A_PRIME;
}

static uint64_t lower_hash(const char *s, size_t len)
{
    uint64_t h = MX_FNV1A_INIT;
    for (size_t i = len; i-- > 0;)
        h = hash_step(h, (unsigned char)s[i]);
    return h;
}

/* The first of equal patterns keeps the slot (as the linear scan did). */
static bool index_build(struct index *ix, const struct pattern *pat, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    ix->slot = calloc(cap, sizeof *ix->slot);
    if (!ix->slot)
        return false;
    ix->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)lower_hash(pat[i].name, pat[i].len) & ix->mask;
        bool dup = false;
        while (ix->slot[k] && !dup) {
            const struct pattern *q = &pat[ix->slot[k] - 1];
            dup = q->len == pat[i].len && strncasecmp(q->name, pat[i].name, q->len) == 0;
            k = (k + 1) & ix->mask;
        }
        if (!dup)
            ix->slot[k] = (uint32_t)i + 1;
    }
    return true;
}

/* The provider data when --providers is not given: $MXSCAN_PROVIDERS; the
 * share/mxscan/ beside the binary (an installed copy, wherever it was
 * installed to); the source tree's datasets/ (a binary run from its build
 * directory); the installation directory configured at build time. */
static const char *default_path(char *buf, size_t len)
{
    const char *env = getenv("MXSCAN_PROVIDERS");
    if (env && *env)
        return env;
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/../share/mxscan/providers.csv", exe);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    if (access(MX_SRC_DATADIR "/providers.csv", R_OK) == 0)
        return MX_SRC_DATADIR "/providers.csv";
    return MX_DATADIR "/providers.csv";
}

enum mx_status mx_providers_load(const char *path, struct mx_providers **out, char *err,
                                 size_t errlen)
{
    enum mx_status st = MX_OK;
    struct mx_providers *p = NULL;
    struct csv_parser csv;
    bool csv_ready = false;
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    struct loader l;
    char msg[MX_ERRLEN];

    char found[2304];
    *out = NULL;
    if (!path)
        path = default_path(found, sizeof found);
    memset(&l, 0, sizeof l);
    l.err = msg;
    l.errlen = sizeof msg;
    msg[0] = 0;

    p = calloc(1, sizeof *p);
    if (!p) {
        st = MX_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    l.p = p;
    fp = fopen(path, "r");
    if (!fp) {
        st = MX_EIO;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        st = MX_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    csv_ready = true;
    while ((n = getline(&line, &cap, fp)) > 0 && l.st == MX_OK) {
        l.line++;
        if (skip_line(line, (size_t)n))
            continue;
        if (csv_parse(&csv, line, (size_t)n, on_field, on_row, &l) != (size_t)n)
            fail(&l, MX_EFORMAT, csv_strerror(csv_error(&csv)));
    }
    if (ferror(fp)) {
        st = MX_EIO;
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    if (l.st == MX_OK && csv_fini(&csv, on_field, on_row, &l) != 0)
        fail(&l, MX_EFORMAT, "unterminated quoted field");
    if (l.st == MX_OK && l.rows == 0) {
        l.line = 1;
        fail(&l, MX_EFORMAT, "empty file (want the header suffix,provider,kind,spf_includes)");
    }
    if (l.st != MX_OK) {
        st = l.st;
        snprintf(err, errlen, "%s: %s", path, msg);
        goto out;
    }
    if (!index_build(&p->suffix_ix, p->suffix, p->nsuffix) ||
        !index_build(&p->incl_ix, p->incl, p->nincl)) {
        st = MX_ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    for (size_t i = 0; i < l.nfield; i++)
        free(l.field[i]);
    if (csv_ready)
        csv_free(&csv);
    free(line);
    if (fp)
        fclose(fp);
    mx_providers_destroy(p);
    return st;
}

size_t mx_providers_count(const struct mx_providers *p)
{
    return p ? p->nprov : 0;
}

const char *mx_providers_name(const struct mx_providers *p, uint16_t id)
{
    return p && id < p->nprov ? p->prov[id].name : "";
}

enum mx_provider_kind mx_providers_kind(const struct mx_providers *p, uint16_t id)
{
    return p && id < p->nprov ? p->prov[id].kind : MX_PROVIDER_GATEWAY;
}

/* Longest pattern that name equals or ends in at a label boundary: the
 * name itself, then each suffix after a dot, each looked up in the index. */
static uint16_t longest_match(const struct pattern *pat, const struct index *ix,
                              const char *name)
{
    enum { MAXB = 128 };
    size_t starts[MAXB];
    uint64_t hashes[MAXB];
    unsigned nb = 0;
    if (!ix->slot)
        return MX_PROVIDER_NONE;
    size_t nl = strlen(name);
    /* One pass from the end: the hash of each suffix that starts a label. */
    uint64_t h = MX_FNV1A_INIT;
    for (size_t i = nl; i-- > 0;) {
        h = hash_step(h, (unsigned char)name[i]);
        if ((i == 0 || name[i - 1] == '.') && nb < MAXB) {
            starts[nb] = i;
            hashes[nb++] = h;
        }
    }
    /* Longest first: the last recorded is the whole name. */
    while (nb-- > 0) {
        const char *sfx = name + starts[nb];
        size_t sl = nl - starts[nb];
        size_t k = (size_t)hashes[nb] & ix->mask;
        while (ix->slot[k]) {
            const struct pattern *q = &pat[ix->slot[k] - 1];
            if (q->len == sl && strncasecmp(q->name, sfx, sl) == 0)
                return q->id;
            k = (k + 1) & ix->mask;
        }
    }
    return MX_PROVIDER_NONE;
}

uint16_t mx_providers_by_exchange(const struct mx_providers *p, const char *exchange)
{
    return p ? longest_match(p->suffix, &p->suffix_ix, exchange) : MX_PROVIDER_NONE;
}

uint16_t mx_providers_by_include(const struct mx_providers *p, const char *name)
{
    return p ? longest_match(p->incl, &p->incl_ix, name) : MX_PROVIDER_NONE;
}
