/* Static SPF analysis (SPEC "SPF limits are static"): the domain's record
 * and the whole tree below it (every include, the redirect when there is no
 * all), walked depth-first in term order without stopping at a match. Counts
 * DNS-querying terms and void look-ups, finds broken includes and loops,
 * judges the effective all, and collects include names for providers.
 *
 * All include targets of a record are requested in the same pass, even when
 * an earlier one is pending. Once the outcome is decided (more than 10
 * look-ups or more than 2 voids proven) no new names are fetched. */
#include <stdio.h>
#include <string.h>

#include "mx/spf.h"
#include "mx/text.h"

#define MAX_NODES 50 /* records walked */
#define MAX_DEPTH 16
#define NAME_BUF 256

struct walk {
    struct mx_oracle *o;
    struct mx_spf_info *out;
    bool pending;
    bool broken_perm; /* a target has no record, several, or one that does not parse */
    bool broken_fail; /* a target's TXT look-up failed */
    bool loop;
    unsigned nodes;
    char path[MAX_DEPTH + 1][NAME_BUF]; /* names from the domain down to the current record */
};

static bool decided(const struct walk *w)
{
    return w->out->lookups > MX_SPF_MAX_LOOKUPS || w->out->voids > MX_SPF_MAX_VOIDS ||
           w->nodes >= MAX_NODES;
}

static void note(struct walk *w, const char *why, const char *name)
{
    if (!w->out->error[0])
        snprintf(w->out->error, sizeof w->out->error, "%.50s: %.70s", why, name);
}

/* "include loop: a -> b -> c -> b": the names from the domain down to
 * the record that names target again, then target. */
static void note_loop(struct walk *w, unsigned depth, const char *target)
{
    char *e = w->out->error;
    size_t cap = sizeof w->out->error, n;
    if (e[0])
        return;
    n = (size_t)snprintf(e, cap, "include loop: ");
    for (unsigned i = 0; i <= depth && n < cap; i++)
        n += (size_t)snprintf(e + n, cap - n, "%s -> ", w->path[i]);
    if (n < cap)
        snprintf(e + n, cap - n, "%s", target);
}

static void add_include(struct mx_spf_info *out, const char *name)
{
    for (unsigned i = 0; i < out->n_includes; i++)
        if (strcmp(out->includes[i], name) == 0)
            return;
    if (out->n_includes < MX_SPF_MAX_INCLUDES) {
        char *dst = out->includes[out->n_includes++];
        size_t l = strnlen(name, sizeof out->includes[0] - 1);
        memcpy(dst, name, l);
        dst[l] = 0;
    }
}

/* A macro-free domain-spec as an oracle name. */
static bool target_name(const struct mx_spf_term *t, char *out, size_t outlen)
{
    struct mx_spf_macro_ctx none = {.domain = ""};
    return !t->macro && t->domain &&
           mx_spf_expand_domain(&none, t->domain, t->domain_len, out, outlen);
}

static char walk_record(struct walk *w, const struct mx_spf_record *rec, unsigned depth);

/* An include or redirect target. Returns the effective all of its record
 * ('x' when unknown). */
static char walk_target(struct walk *w, const char *target, unsigned depth)
{
    struct mx_spf_record rec;
    struct mx_rdata rd, first;
    size_t off = 0;
    unsigned n = 0;
    char err[128];

    memset(&first, 0, sizeof first);
    for (unsigned i = 0; i <= depth; i++)
        if (strcmp(w->path[i], target) == 0) {
            w->loop = true;
            note_loop(w, depth, target);
            return 'x';
        }
    if (decided(w) || depth >= MAX_DEPTH)
        return 'x';
    const struct mx_answer *txt = mx_oracle_get(w->o, target, MX_T_TXT, MX_Q_SHARED);
    if (!txt) {
        w->pending = true;
        return 'x';
    }
    if (mx_answer_void(txt)) {
        w->out->voids++;
        w->broken_perm = true;
        note(w, txt->rc == MX_RC_NXDOMAIN ? "include target does not exist"
                                          : "include target has no TXT record",
             target);
        return 'x';
    }
    if (mx_answer_failed(txt)) {
        w->broken_fail = true;
        note(w, "include target look-up failed", target);
        return 'x';
    }
    while (mx_answer_next(txt, &off, &rd))
        if (mx_spf_is_record(rd.txt, rd.txt_len) && n++ == 0)
            first = rd;
    if (n == 0 && txt->truncated) { /* unreadable, as a failed look-up */
        w->broken_fail = true;
        note(w, "include target's TXT answer is larger than mxscan keeps", target);
        return 'x';
    }
    if (n != 1) {
        w->broken_perm = true;
        note(w, n ? "include target has several SPF records" : "include target has no SPF record",
             target);
        return 'x';
    }
    if (!mx_spf_parse(first.txt, first.txt_len, &rec, err, sizeof err)) {
        w->broken_perm = true;
        note(w, "include target's record does not parse", target);
        return 'x';
    }
    w->nodes++;
    snprintf(w->path[depth + 1], sizeof w->path[0], "%s", target);
    return walk_record(w, &rec, depth + 1);
}

/* A static a/mx/exists look-up of a macro-free target. */
static void walk_lookup(struct walk *w, enum mx_spf_kind kind, const char *target, unsigned depth)
{
    unsigned flags = depth ? MX_Q_SHARED : 0;
    if (kind == MX_SPF_K_A) {
        const struct mx_answer *a4 = mx_oracle_get(w->o, target, MX_T_A, flags);
        const struct mx_answer *a6 = mx_oracle_get(w->o, target, MX_T_AAAA, flags);
        if (!a4 || !a6)
            w->pending = true;
        else if (mx_answer_void(a4) && mx_answer_void(a6))
            w->out->voids++;
        return;
    }
    const struct mx_answer *a =
        mx_oracle_get(w->o, target, kind == MX_SPF_K_MX ? MX_T_MX : MX_T_A, flags);
    if (!a)
        w->pending = true;
    else if (mx_answer_void(a))
        w->out->voids++;
}

/* Walks one record (its name is w->path[depth]). Returns its effective all:
 * the qualifier of its first all, else the redirect target's, 0 when it has
 * neither all nor redirect, 'x' when unknown. */
static char walk_record(struct walk *w, const struct mx_spf_record *rec, unsigned depth)
{
    const char *self = w->path[depth];
    struct mx_spf_term t;
    char name[NAME_BUF];
    size_t off = 0;

    while (mx_spf_next_term(rec, &off, &t)) {
        switch (t.kind) {
        case MX_SPF_K_INCLUDE:
            w->out->lookups++;
            if (target_name(&t, name, sizeof name)) {
                add_include(w->out, name);
                walk_target(w, name, depth);
            }
            break;
        case MX_SPF_K_A:
        case MX_SPF_K_MX:
        case MX_SPF_K_EXISTS:
            w->out->lookups++;
            if (t.macro || decided(w))
                break;
            if (!t.domain)
                walk_lookup(w, t.kind, self, depth);
            else if (target_name(&t, name, sizeof name))
                walk_lookup(w, t.kind, name, depth);
            break;
        case MX_SPF_K_PTR:
            w->out->lookups++;
            break;
        default:
            break;
        }
    }
    if (rec->has_all)
        return rec->all_qualifier;
    if (!rec->has_redirect)
        return 0;
    w->out->lookups++;
    if (!target_name(&rec->redirect, name, sizeof name))
        return 'x';
    add_include(w->out, name);
    return walk_target(w, name, depth);
}

/* Field by field: the analysis runs again on every round of every domain,
 * and clearing the 9 KiB of strings each time showed in profiles. Strings
 * are valid up to their NUL. */
static void info_reset(struct mx_spf_info *out)
{
    out->pending = false;
    out->nrecords = 0;
    out->txt_failed = false;
    out->parsed = false;
    out->lookups = 0;
    out->voids = 0;
    out->findings = 0;
    out->record[0] = 0;
    out->n_includes = 0;
    out->result = MX_SPF_NONE;
    out->all[0] = 0;
    out->error[0] = 0;
}

static void walk_init(struct walk *w, struct mx_oracle *o, struct mx_spf_info *out,
                      const char *domain)
{
    size_t n = strlen(domain);
    w->pending = false;
    w->broken_perm = false;
    w->broken_fail = false;
    w->loop = false;
    w->nodes = 0;
    w->o = o;
    w->out = out;
    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n >= NAME_BUF)
        n = NAME_BUF - 1;
    for (size_t i = 0; i < n; i++)
        w->path[0][i] = (char)mx_lower((unsigned char)domain[i]);
    w->path[0][n] = 0;
}

/* The domain's record among its TXT records, parsed into rec. false when
 * the verdict is already known (out says it): no record, several, a
 * failed look-up, a syntax error. */
static bool select_record(const struct mx_answer *txt, struct mx_spf_info *out,
                          struct mx_spf_record *rec)
{
    struct mx_rdata rd, first;
    size_t off = 0;
    char err[128];
    memset(&first, 0, sizeof first);
    if (mx_answer_failed(txt)) {
        out->txt_failed = true;
        out->result = MX_SPF_TEMPERROR;
        return false;
    }
    while (mx_answer_next(txt, &off, &rd))
        if (mx_spf_is_record(rd.txt, rd.txt_len) && out->nrecords++ == 0) {
            first = rd;
            mx_text_copy_shown(out->record, sizeof out->record, rd.txt, rd.txt_len);
        }
    if (out->nrecords == 0 && txt->truncated) {
        /* TXT records larger than the scanner keeps: an SPF record may be
         * among them, so no verdict (like a failed look-up) */
        out->txt_failed = true;
        out->result = MX_SPF_TEMPERROR;
        snprintf(out->error, sizeof out->error, "TXT answer larger than mxscan keeps");
        return false;
    }
    if (out->nrecords == 0) {
        out->findings |= MX_FBIT(MX_F_SPF_MISSING);
        out->result = MX_SPF_NONE;
        return false;
    }
    if (out->nrecords > 1) {
        out->findings |= MX_FBIT(MX_F_SPF_MULTIPLE);
        out->result = MX_SPF_PERMERROR;
        snprintf(out->error, sizeof out->error, "%u SPF records", out->nrecords);
        return false;
    }
    if (!mx_spf_parse(first.txt, first.txt_len, rec, err, sizeof err)) {
        out->findings |= MX_FBIT(MX_F_SPF_SYNTAX);
        out->result = MX_SPF_PERMERROR;
        snprintf(out->error, sizeof out->error, "%s", err);
        return false;
    }
    out->parsed = true;
    return true;
}

/* The findings and the result of a walked tree whose effective all is all. */
static void judge(const struct walk *w, char all, struct mx_spf_info *out)
{
    bool too_many = out->lookups > MX_SPF_MAX_LOOKUPS || w->loop;
    if (too_many) {
        out->findings |= MX_FBIT(MX_F_SPF_LOOKUP_LIMIT);
        if (!out->error[0])
            snprintf(out->error, sizeof out->error, "%u DNS-querying terms", out->lookups);
    }
    if (out->voids > MX_SPF_MAX_VOIDS) {
        out->findings |= MX_FBIT(MX_F_SPF_VOID_LIMIT);
        if (!out->error[0])
            snprintf(out->error, sizeof out->error, "%u void look-ups", out->voids);
    }
    if (w->broken_perm || w->broken_fail)
        out->findings |= MX_FBIT(MX_F_SPF_INCLUDE_BROKEN);
    if (all == '+')
        out->findings |= MX_FBIT(MX_F_SPF_PASS_ALL);
    else if (all == '?' || all == 0)
        out->findings |= MX_FBIT(MX_F_SPF_NO_ENFORCEMENT);
    if (all && all != 'x')
        snprintf(out->all, sizeof out->all, "%call", all);
    if (too_many || out->voids > MX_SPF_MAX_VOIDS || w->broken_perm)
        out->result = MX_SPF_PERMERROR;
    else if (w->broken_fail)
        out->result = MX_SPF_TEMPERROR;
    else
        out->result = MX_SPF_NEUTRAL;
}

bool mx_spf_analyze(struct mx_oracle *o, const char *domain, struct mx_spf_info *out)
{
    struct walk w;
    struct mx_spf_record rec;
    info_reset(out);
    walk_init(&w, o, out, domain);
    const struct mx_answer *txt = mx_oracle_get(o, w.path[0], MX_T_TXT, 0);
    if (!txt) {
        out->pending = true;
        return false;
    }
    if (!select_record(txt, out, &rec))
        return true;
    w.nodes = 1;
    char all = walk_record(&w, &rec, 0);
    if (w.pending) {
        static const struct mx_spf_info blank;
        *out = blank;
        out->pending = true;
        return false;
    }
    judge(&w, all, out);
    return true;
}
