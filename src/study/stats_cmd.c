/* mxscan stats RESULTS...: the statistics JSON of a scan recomputed from
 * its result files (any number of shards, CSV or JSON Lines), with the
 * run members taken from the scans' --stats files when given (study.h,
 * README "mxscan stats"). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mx/output.h"
#include "mx/providers.h"
#include "mx/results.h"
#include "mx/stats.h"
#include "mx/study.h"

struct stats_args {
    const char *output, *providers;
    const char **runs; /* --run-stats files */
    size_t nruns;
    char **owned;      /* the --run-stats arguments, split at commas */
    size_t nowned;
};

void mx_stats_usage(FILE *f)
{
    fprintf(f,
            "usage: mxscan stats [options] RESULTS...\n\n"
            "Recomputes the statistics JSON of 'mxscan scan --stats' from result files (CSV or\n"
            "JSON Lines, zstd or plain; e.g. the shards of one scan, in any order). What the\n"
            "rows cannot tell (queries, cache, times, configuration) comes from the scans'\n"
            "own --stats files given with --run-stats: counters summed (marked with\n"
            "\"summed_over_files\"); without them those members are null (unknown).\n\n"
            "options:\n"
            "  -o, --output FILE          the statistics JSON (default '-': stdout)\n"
            "      --run-stats FILE[,...] a scan's --stats file (repeatable); give one for\n"
            "                             each results file, in any order\n"
            "      --providers FILE       provider data (default: as mxscan scan)\n"
            "  -h, --help                 this text\n\n"
            "exit status: 0 written, 1 failure (unreadable file, not a results file, run\n"
            "statistics that do not match the rows), 2 usage error. See README.md.\n");
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "mxscan stats: %s%s; see 'mxscan stats --help'\n", what, arg ? arg : "");
    return MX_EXIT_USAGE;
}

static void add_runs(struct stats_args *a, const char *arg)
{
    char *copy = strdup(arg);
    char **owned = realloc(a->owned, (a->nowned + 1) * sizeof *owned);
    if (!copy || !owned) {
        free(copy);
        if (owned)
            a->owned = owned;
        return;
    }
    a->owned = owned;
    a->owned[a->nowned++] = copy;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        const char **r = realloc(a->runs, (a->nruns + 1) * sizeof *r);
        if (!r)
            return;
        a->runs = r;
        a->runs[a->nruns++] = tok;
    }
}

static void free_args(struct stats_args *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->runs);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct stats_args *a, int argc, char **argv)
{
    static const struct option lo[] = {{"output", required_argument, NULL, 'o'},
                                       {"run-stats", required_argument, NULL, 'R'},
                                       {"providers", required_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'o': a->output = optarg; break;
        case 'R': add_runs(a, optarg); break;
        case 'P': a->providers = optarg; break;
        case 'h': mx_stats_usage(stdout); return MX_EXIT_OK;
        default:
            return usage_error(optopt ? "bad or incomplete option near " : "unknown option ",
                               argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no RESULTS given (the result files of the scan)", NULL);
    return -1;
}

/* ---- the rows ---- */

struct reading {
    struct mx_tally *t;
    const struct mx_providers *p;
    struct mx_colmap map;
    atomic_bool bad;               /* the file has no domain column */
    char *paths[MX_STATS_MAX_INPUTS]; /* input_file texts in order of first appearance */
    uint64_t hashes[MX_STATS_MAX_INPUTS], last;
    size_t npaths;
};

static void note_input(struct reading *r, const char *path, uint64_t hash)
{
    if (r->npaths && r->last == hash)
        return;
    r->last = hash;
    for (size_t i = 0; i < r->npaths; i++)
        if (r->hashes[i] == hash)
            return;
    if (r->npaths < MX_STATS_MAX_INPUTS && (r->paths[r->npaths] = strdup(path)) != NULL)
        r->hashes[r->npaths++] = hash;
}

static void stats_row(void *ud, const char *const *f, unsigned n, const char *const *h,
                      unsigned nh)
{
    struct reading *r = ud;
    if (!r->map.ready) {
        mx_colmap_build(&r->map, h, nh);
        if (r->map.idx[MX_COL_DOMAIN] < 0)
            atomic_store(&r->bad, true);
    }
    if (atomic_load(&r->bad))
        return;
    const char *cols[MX_COL_COUNT];
    for (unsigned c = 0; c < MX_COL_COUNT; c++)
        cols[c] = mx_colmap_get(&r->map, f, n, (enum mx_column)c);
    struct mx_tally_row tr;
    mx_tally_row_from_fields(&tr, r->p, cols);
    mx_tally_add(r->t, &tr);
    note_input(r, cols[MX_COL_INPUT_FILE], tr.input_hash);
}

static bool read_results(struct reading *r, char **files, int n)
{
    char err[MX_ERRLEN];
    for (int i = 0; i < n; i++) {
        r->map.ready = false;
        enum mx_status st = mx_results_read_until(files[i], 0, stats_row, r, &r->bad, err,
                                                  sizeof err);
        if (st != MX_OK) {
            fprintf(stderr, "mxscan stats: %s\n", err);
            return false;
        }
        if (atomic_load(&r->bad)) {
            fprintf(stderr, "mxscan stats: %s is not a results file of mxscan (no 'domain' "
                            "column in its header)\n", files[i]);
            return false;
        }
    }
    return true;
}

/* ---- the scans' own statistics ---- */

static bool load_runs(const struct stats_args *a, json_t **runs)
{
    for (size_t i = 0; i < a->nruns; i++) {
        json_error_t je;
        runs[i] = json_load_file(a->runs[i], 0, &je);
        if (!json_is_object(runs[i])) {
            fprintf(stderr, "mxscan stats: %s is not a statistics JSON file: %s (line %d)\n",
                    a->runs[i], runs[i] ? "not an object" : je.text, je.line);
            return false;
        }
    }
    return true;
}

/* The input files: those the runs name (in order, each once), then those
 * of the rows not among them. */
static size_t input_list(json_t *const *runs, size_t nruns, const struct reading *r,
                         const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < nruns; i++) {
        size_t k;
        json_t *in;
        json_array_foreach(json_object_get(runs[i], "inputs"), k, in)
        {
            const char *p = json_string_value(json_object_get(in, "path"));
            bool dup = !p;
            for (size_t j = 0; j < n && !dup; j++)
                dup = strcmp(out[j], p) == 0;
            if (!dup && n < cap)
                out[n++] = p;
        }
    }
    for (size_t i = 0; i < r->npaths; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = mx_tally_input_hash(out[j]) == r->hashes[i];
        if (!dup && n < cap)
            out[n++] = r->paths[i];
    }
    return n;
}

static void warn_line(const char *line)
{
    fprintf(stderr, "%s\n", line);
}

static json_t *text_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char san[4 * 4096 + 1];
        size_t len = mx_csv_sanitize(items[i], strlen(items[i]), san, sizeof san);
        json_array_append_new(a, json_stringn_nocheck(san, len));
    }
    return a;
}

/* o with "merged" (the files it comes from) after mxscan_version. */
static json_t *with_sources(json_t *o, char **files, size_t nfiles, const struct stats_args *a)
{
    json_t *m = json_object(), *out = json_object();
    json_object_set_new(m, "results", text_array((const char *const *)files, nfiles));
    json_object_set_new(m, "run_stats", text_array(a->runs, a->nruns));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        json_object_set(out, k, v);
        if (strcmp(k, "mxscan_version") == 0)
            json_object_set_new(out, "merged", m);
    }
    json_decref(o);
    return out;
}

static bool write_out(const char *path, const json_t *o)
{
    bool std = !path || strcmp(path, "-") == 0;
    FILE *f = std ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "mxscan stats: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    enum mx_status st = mx_stats_dump(f, o);
    if ((std ? fflush(f) : fclose(f)) != 0 && st == MX_OK)
        st = MX_EIO;
    if (st != MX_OK)
        fprintf(stderr, "mxscan stats: cannot write %s: %s\n", std ? "stdout" : path,
                mx_strerror(st));
    return st == MX_OK;
}

/* The statistics of the rows read, merged with the runs; NULL on failure. */
static json_t *statistics(struct reading *r, json_t *const *runs, const struct stats_args *a)
{
    const char *inputs[MX_STATS_MAX_INPUTS];
    struct mx_config cfg = {0};
    cfg.inputs = inputs;
    cfg.ninputs = input_list(runs, a->nruns, r, inputs, MX_STATS_MAX_INPUTS);
    struct mx_counters zc = {0};
    struct mx_cache_stats zcs = {0};
    struct mx_run_info ri = {.cfg = &cfg, .providers = r->p, .counters = &zc, .cache = &zcs,
                             .started = "", .ended = "", .stop_reason = ""};
    json_t *o = mx_stats_json(r->t, &ri);
    char err[MX_ERRLEN];
    if (o && !mx_stats_merge_runs(o, runs, a->runs, a->nruns, warn_line, err, sizeof err)) {
        fprintf(stderr, "mxscan stats: %s\n", err);
        json_decref(o);
        return NULL;
    }
    if (!o)
        fprintf(stderr, "mxscan stats: out of memory\n");
    return o;
}

static int run(struct stats_args *a, char **files, int nfiles)
{
    char err[MX_ERRLEN];
    struct mx_providers *prov = NULL;
    if (mx_providers_load(a->providers, &prov, err, sizeof err) != MX_OK) {
        fprintf(stderr, "mxscan stats: %s\n", err);
        return MX_EXIT_FAIL;
    }
    json_t **runs = calloc(a->nruns + 1, sizeof *runs);
    struct reading *r = calloc(1, sizeof *r);
    struct mx_tally *t = calloc(1, sizeof *t);
    int rc = MX_EXIT_FAIL;
    if (!runs || !r || !t) {
        fprintf(stderr, "mxscan stats: out of memory\n");
    } else if (load_runs(a, runs)) {
        r->t = t;
        r->p = prov;
        json_t *o = read_results(r, files, nfiles) ? statistics(r, runs, a) : NULL;
        o = o ? with_sources(o, files, (size_t)nfiles, a) : NULL;
        if (o && write_out(a->output, o))
            rc = MX_EXIT_OK;
        json_decref(o);
    }
    for (size_t i = 0; runs && i < a->nruns; i++)
        json_decref(runs[i]);
    for (size_t i = 0; r && i < r->npaths; i++)
        free(r->paths[i]);
    free(runs);
    free(r);
    free(t);
    mx_providers_destroy(prov);
    return rc;
}

int mx_stats_cmd(int argc, char **argv)
{
    struct stats_args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc < 0)
        rc = run(&a, argv + optind, argc - optind);
    free_args(&a);
    return rc;
}
