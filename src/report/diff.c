/* The changes between two scans in the report (report.h), from the JSON
 * object `mxscan diff` writes. Drawn by the shape of each member, so that
 * members added to that JSON later show up too: a number or text in the
 * summary table, an object of counts as a bar chart (a table when some
 * count is negative), an object of objects or an array of objects as a
 * table, anything else as escaped JSON text. */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define TABLE_ROWS_MAX 200 /* rows shown of a long array */
#define TABLE_COLS_MAX 12

struct mx_report_diff {
    json_t *root;
};

enum mx_status mx_report_diff_load(const char *path, struct mx_report_diff **out, char *err,
                                   size_t errlen)
{
    json_error_t je;
    *out = NULL;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s: line %d: %s (give the JSON of 'mxscan diff')", path, je.line,
                 je.text);
        return MX_EFORMAT;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "%s: not a JSON object (give the JSON of 'mxscan diff')", path);
        return MX_EFORMAT;
    }
    struct mx_report_diff *d = malloc(sizeof *d);
    if (!d) {
        json_decref(root);
        return MX_ENOMEM;
    }
    d->root = root;
    *out = d;
    return MX_OK;
}

void mx_report_diff_destroy(struct mx_report_diff *d)
{
    if (!d)
        return;
    json_decref(d->root);
    free(d);
}

/* The text of a scalar (numbers, text, true/false/null). */
static void scalar(FILE *f, const json_t *v)
{
    if (json_is_string(v))
        mx_report_escape(f, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        fprintf(f, "%.6g", json_real_value(v));
    else if (json_is_true(v) || json_is_false(v))
        fputs(json_is_true(v) ? "true" : "false", f);
    else if (json_is_null(v))
        fputs("null", f);
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
        mx_report_escape(f, s ? s : "?");
        free(s);
    }
}

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

/* An object of non-negative integers: a chart. */
static bool counts_only(const json_t *o)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)o, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return false;
        n++;
    }
    return n > 0;
}

static void counts_chart(FILE *f, const char *key, const json_t *o, unsigned id)
{
    size_t n = json_object_size(o);
    struct mx_chart_row *rows = calloc(n, sizeof *rows);
    if (!rows)
        return;
    const char *k;
    json_t *v;
    unsigned i = 0;
    json_object_foreach((json_t *)o, k, v) {
        rows[i++] = (struct mx_chart_row){k, {{(uint64_t)json_integer_value(v), NULL,
                                               MX_COLOR_BAR}}, 1};
    }
    char cid[32];
    snprintf(cid, sizeof cid, "chart-diff-%u", id);
    struct mx_chart c = {cid, key, "from the diff summary", rows, i, 0, false};
    mx_chart_write(f, &c);
    free(rows);
}

/* Column names: the keys of the first objects (at most TABLE_COLS_MAX). */
static size_t columns(const json_t *const *objs, size_t n, const char **cols)
{
    size_t nc = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)objs[i], k, v) {
            size_t j = 0;
            while (j < nc && strcmp(cols[j], k) != 0)
                j++;
            if (j == nc && nc < TABLE_COLS_MAX)
                cols[nc++] = k;
        }
    }
    return nc;
}

/* A table of objects (rows), named by names[i] when names is set. */
static void objects_table(FILE *f, const json_t *const *objs, const char *const *names, size_t n,
                          size_t total)
{
    const char *cols[TABLE_COLS_MAX];
    size_t nc = columns(objs, n, cols);
    fputs("<table class=\"diff\">\n<tr>", f);
    if (names)
        fputs("<th></th>", f);
    for (size_t c = 0; c < nc; c++) {
        fputs("<th>", f);
        mx_report_escape(f, cols[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr>", f);
        if (names) {
            fputs("<th>", f);
            mx_report_escape(f, names[i]);
            fputs("</th>", f);
        }
        for (size_t c = 0; c < nc; c++) {
            const json_t *v = json_object_get(objs[i], cols[c]);
            fputs("<td>", f);
            if (v)
                scalar(f, v);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    if (total > n)
        fprintf(f, "<p class=\"files\">%zu of %zu rows shown.</p>\n", n, total);
}

/* A member that is an object or an array: by its shape. */
static void compound(FILE *f, const char *key, const json_t *v, unsigned id)
{
    fputs("<h3>", f);
    mx_report_escape(f, key);
    fputs("</h3>\n", f);
    size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    if (json_is_object(v) && counts_only(v)) {
        counts_chart(f, key, v, id);
        return;
    }
    const json_t **objs = calloc(n ? n : 1, sizeof *objs);
    const char **names = calloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    bool tabular = objs && names && n > 0;
    if (json_is_object(v)) {
        const char *name;
        json_t *m;
        json_object_foreach((json_t *)v, name, m) {
            tabular &= json_is_object(m) || is_scalar(m);
            if (tabular && k < TABLE_ROWS_MAX) {
                names[k] = name;
                objs[k++] = json_is_object(m) ? m : json_pack("{sO}", "value", m);
            }
        }
    } else {
        for (size_t i = 0; i < n && tabular; i++) {
            tabular = json_is_object(json_array_get(v, i));
            if (k < TABLE_ROWS_MAX)
                objs[k++] = json_array_get(v, i);
        }
    }
    if (tabular)
        objects_table(f, objs, json_is_object(v) ? names : NULL, k, n);
    else {
        fputs("<pre>", f);
        scalar(f, v);
        fputs("</pre>\n", f);
    }
    for (size_t i = 0; json_is_object(v) && i < k; i++)
        if (!json_is_object(json_object_get(v, names[i])))
            json_decref((json_t *)objs[i]); /* the {"value": ...} made above */
    free(objs);
    free(names);
}

void mx_report_diff_html(FILE *f, const struct mx_report_diff *d)
{
    fputs("<section id=\"diff\">\n<h2>Changes between the two scans</h2>\n"
          "<table id=\"diff-summary\">\n", f);
    const char *key;
    json_t *v;
    json_object_foreach(d->root, key, v) {
        if (!is_scalar(v))
            continue;
        fputs("<tr><th>", f);
        mx_report_escape(f, key);
        fputs("</th><td>", f);
        scalar(f, v);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    unsigned id = 0;
    json_object_foreach(d->root, key, v) {
        if (!is_scalar(v))
            compound(f, key, v, id++);
    }
    fputs("</section>\n", f);
}
