/* Options (opts.h): one table gives each option's name, argument, default
 * and help text; numbers go through strtoull with range checks. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/opts.h"
#include "mx/scan.h"

enum {
    O_RESOLVER = 'r',
    O_OUTPUT = 'o',
    O_QUIET = 'q',
    O_HELP = 'h',
    O_STATS = 256,
    O_RATE,
    O_CONC,
    O_THREADS,
    O_TIMEOUT,
    O_RETRIES,
    O_SHARD,
    O_ALLOW,
    O_RESUME,
    O_CHECKS,
    O_CACHE,
    O_CACHE_AGE,
    O_WINDOW,
    O_REORDER,
    O_ZLEVEL,
    O_FRAME_MB,
    O_CKPT,
    O_PROVIDERS,
    O_WD_RATIO,
    O_WD_BACKOFF,
    O_WD_STOP,
    O_STALL,
    O_PROGRESS,
    O_STATUS_FILE,
    O_CONFIG,
    O_IP,
    O_SENDER,
    O_HELO,
    O_COLOR,
};

#define CMD_SCAN 1u
#define CMD_CHECK 2u
#define CMD_SPF 4u
#define CMD_ALL 7u

struct optdef {
    const char *name;
    int has_arg;
    int id;
    unsigned cmds;
    const char *arg;
    const char *help;
};

static const struct optdef table[] = {
    {"resolver", 1, O_RESOLVER, CMD_ALL, "ADDR[:PORT][,...]",
     "resolvers to ask (IPv6 as [ADDR]:PORT); default: nameservers of /etc/resolv.conf"},
    {"output", 1, O_OUTPUT, CMD_SCAN, "FILE",
     "results CSV; zstd-compressed unless FILE is '-' (stdout) or ends in .csv"},
    {"stats", 1, O_STATS, CMD_SCAN, "FILE", "write aggregate statistics as JSON"},
    {"rate", 1, O_RATE, CMD_ALL, "QPS",
     "hard ceiling on queries sent per second, all threads together (default 2000; 0 = none)"},
    {"concurrency", 1, O_CONC, CMD_ALL, "N", "queries in flight at most (default 1000)"},
    {"threads", 1, O_THREADS, CMD_SCAN, "N", "resolver worker threads (default 2)"},
    {"timeout", 1, O_TIMEOUT, CMD_ALL, "MS", "time to wait for one answer (default 2000)"},
    {"retries", 1, O_RETRIES, CMD_ALL, "N",
     "retries after a timeout, SERVFAIL or REFUSED, each to the next resolver (default 2)"},
    {"shard", 1, O_SHARD, CMD_SCAN, "I/N",
     "scan only the I-th (1..N) of N disjoint parts of the input (FNV-1a hash of the line)"},
    {"allow-address", 1, O_ALLOW, CMD_ALL, "CIDR[,...]",
     "address ranges to count as globally reachable (labs, intranets)"},
    {"resume", 0, O_RESUME, CMD_SCAN, NULL,
     "continue an interrupted scan of the same inputs into the same output"},
    {"checks", 1, O_CHECKS, CMD_ALL, "LIST",
     "look-ups to make: mx,spf,dmarc (default all three; 'mx' alone for MX-only scans)"},
    {"cache-size", 1, O_CACHE, CMD_ALL, "N",
     "answers kept in the shared cache (default 200000)"},
    {"cache-max-age", 1, O_CACHE_AGE, CMD_ALL, "SEC",
     "reuse a shared answer for at most SEC seconds (default 600)"},
    {"window", 1, O_WINDOW, CMD_SCAN, "N", "domains in progress at once (default 4096)"},
    {"reorder-window", 1, O_REORDER, CMD_SCAN, "N",
     "finished rows held back to restore input order behind a slow domain (default 131072)"},
    {"zstd-level", 1, O_ZLEVEL, CMD_SCAN, "N", "zstd compression level 1..19 (default 3)"},
    {"frame-mb", 1, O_FRAME_MB, CMD_SCAN, "N",
     "end a zstd frame (a durable checkpoint) after N MB of CSV (default 4)"},
    {"checkpoint-interval", 1, O_CKPT, CMD_SCAN, "SEC",
     "... or after SEC seconds (default 2)"},
    {"providers", 1, O_PROVIDERS, CMD_ALL, "FILE",
     "provider data (default: datasets/providers.csv, or $MXSCAN_PROVIDERS)"},
    {"watchdog-ratio", 1, O_WD_RATIO, CMD_SCAN, "R",
     "share of failing look-ups (timeouts, SERVFAIL, REFUSED) that counts as bad (default 0.5)"},
    {"watchdog-backoff", 1, O_WD_BACKOFF, CMD_SCAN, "SEC",
     "halve the rate after SEC bad seconds, restore it after SEC good ones (default 5)"},
    {"watchdog-stop", 1, O_WD_STOP, CMD_SCAN, "SEC",
     "stop (resumably) after SEC bad seconds in a row (default 60; 0 = never)"},
    {"stall-timeout", 1, O_STALL, CMD_SCAN, "SEC",
     "stop (resumably, exit 5) when records wait and nothing at all happens for SEC s "
     "(default 10)"},
    {"progress", 0, O_PROGRESS, CMD_SCAN, NULL,
     "progress line on stderr every second even when stderr is not a terminal"},
    {"status-file", 1, O_STATUS_FILE, CMD_SCAN, "FILE", "one NDJSON progress object a second"},
    {"quiet", 0, O_QUIET, CMD_ALL, NULL, "no progress and no summary on stderr"},
    {"config", 1, O_CONFIG, CMD_ALL, "FILE",
     "read 'option value' lines (long option names); the command line wins"},
    {"ip", 1, O_IP, CMD_SPF, "ADDR", "the connecting client address to evaluate"},
    {"sender", 1, O_SENDER, CMD_SPF, "LOCAL@DOMAIN", "MAIL FROM (default postmaster@DOMAIN)"},
    {"helo", 1, O_HELO, CMD_SPF, "NAME", "HELO/EHLO name (for the %{h} macro)"},
    {"color", 1, O_COLOR, CMD_CHECK, "WHEN", "auto (default), always or never"},
    {"help", 0, O_HELP, CMD_ALL, NULL, "this text"},
};

#define NOPTS (sizeof table / sizeof table[0])

static unsigned cmd_bit(enum mx_command c)
{
    return c == MX_CMD_SCAN ? CMD_SCAN : c == MX_CMD_CHECK ? CMD_CHECK : CMD_SPF;
}

void mx_opts_usage(FILE *f, enum mx_command cmd)
{
    switch (cmd) {
    case MX_CMD_SCAN:
        fprintf(f, "usage: mxscan scan [options] INPUT...\n\n"
                   "Audits the MX, SPF and DMARC records of every name in INPUT (a file, or '-'\n"
                   "for stdin; plain, .zst or .gz, detected by content; one name a line, or CSV\n"
                   "whose last column is the name, e.g. rank,domain). Writes one CSV row per\n"
                   "input line, in input order.\n\n");
        break;
    case MX_CMD_CHECK:
        fprintf(f, "usage: mxscan check [options] DOMAIN...\n\n"
                   "Human-readable diagnosis of a few names: MX set with addresses, mail\n"
                   "status, and each finding with why it matters and what to change.\n"
                   "Exit status 4 when an error finding was seen, 0 otherwise.\n\n");
        break;
    case MX_CMD_SPF:
        fprintf(f, "usage: mxscan spf DOMAIN --ip ADDR [--sender LOCAL@DOMAIN] [--helo NAME]\n\n"
                   "Evaluates check_host() of RFC 7208 for ADDR and DOMAIN and prints the\n"
                   "result, the term that decided it and the look-up counts, and on fail\n"
                   "the domain's exp= explanation. A DOMAIN that is no valid domain name\n"
                   "(RFC 7208 4.3: e.g. a 64-octet label or [192.0.2.1]) gives none.\n\n");
        break;
    }
    fprintf(f, "options:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct optdef *d = &table[i];
        if (!(d->cmds & cmd_bit(cmd)))
            continue;
        char lhs[64];
        if (d->id < 256)
            snprintf(lhs, sizeof lhs, "-%c, --%s%s%s", d->id, d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        else
            snprintf(lhs, sizeof lhs, "    --%s%s%s", d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        fprintf(f, "  %-34s %s\n", lhs, d->help);
    }
    if (cmd == MX_CMD_SCAN)
        fprintf(f, "\nexit status: 0 complete, 1 runtime failure, 2 usage error, 3 stopped by the\n"
                   "watchdog (resumable), 130/143 stopped by SIGINT/SIGTERM (resumable).\n"
                   "See README.md for the columns, findings and statistics.\n");
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_checks(const char *s, unsigned *out)
{
    unsigned c = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "mx"))
            c |= MX_CHECK_MX;
        else if (!strcmp(t, "spf"))
            c |= MX_CHECK_SPF;
        else if (!strcmp(t, "dmarc"))
            c |= MX_CHECK_DMARC;
        else if (!strcmp(t, "default") || !strcmp(t, "all"))
            c |= MX_CHECK_DEFAULT;
        else
            return false;
    }
    *out = c | MX_CHECK_MX; /* the MX query is the row's status */
    return c != 0;
}

enum mx_status mx_opts_parse_resolvers(struct mx_config *cfg, const char *s, char *err,
                                       size_t errlen)
{
    cfg->nservers = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (cfg->nservers >= MX_MAX_SERVERS) {
            snprintf(err, errlen, "at most %d resolvers", MX_MAX_SERVERS);
            return MX_EINVAL;
        }
        struct mx_server *sv = &cfg->servers[cfg->nservers];
        char host[128];
        unsigned long port = 53;
        char *colon;
        if (t[0] == '[') {
            char *close = strchr(t, ']');
            if (!close)
                goto bad;
            *close = 0;
            snprintf(host, sizeof host, "%s", t + 1);
            if (close[1] == ':') {
                uint64_t p;
                if (!parse_u64(close + 2, 1, 65535, &p))
                    goto bad;
                port = (unsigned long)p;
            } else if (close[1]) {
                goto bad;
            }
        } else if ((colon = strchr(t, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
            *colon = 0;
            uint64_t p;
            if (!parse_u64(colon + 1, 1, 65535, &p))
                goto bad;
            port = (unsigned long)p;
            snprintf(host, sizeof host, "%s", t);
        } else {
            snprintf(host, sizeof host, "%s", t);
        }
        struct mx_ip ip;
        if (!mx_ip_parse(host, &ip))
            goto bad;
        snprintf(sv->host, sizeof sv->host, "%s", host);
        sv->port = (uint16_t)port;
        sv->v6 = ip.family == 6;
        cfg->nservers++;
        continue;
    bad:
        snprintf(err, errlen,
                 "bad resolver '%s': want a numeric address with an optional port, e.g. "
                 "127.0.0.1:5300 or [::1]:5300",
                 t);
        return MX_EINVAL;
    }
    if (cfg->nservers == 0) {
        snprintf(err, errlen, "no resolver given");
        return MX_EINVAL;
    }
    return MX_OK;
}

enum mx_status mx_opts_system_resolvers(struct mx_config *cfg, const char *path, char *err,
                                        size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "no --resolver given and cannot read %s", path);
        return MX_EIO;
    }
    char line[512];
    cfg->nservers = 0;
    while (fgets(line, sizeof line, f) && cfg->nservers < MX_MAX_SERVERS) {
        char addr[128];
        if (sscanf(line, " nameserver %127s", addr) != 1)
            continue;
        char *pct = strchr(addr, '%');
        if (pct)
            *pct = 0;
        struct mx_ip ip;
        if (!mx_ip_parse(addr, &ip))
            continue;
        struct mx_server *sv = &cfg->servers[cfg->nservers++];
        snprintf(sv->host, sizeof sv->host, "%s", addr);
        sv->port = 53;
        sv->v6 = ip.family == 6;
    }
    fclose(f);
    if (cfg->nservers == 0) {
        snprintf(err, errlen, "no --resolver given and no nameserver in %s", path);
        return MX_EINVAL;
    }
    return MX_OK;
}

static void defaults(struct mx_config *c)
{
    memset(c, 0, sizeof *c);
    c->zstd_level = 3;
    c->frame_bytes = 4u << 20;
    c->frame_ms = 2000;
    c->timeout_ms = 2000;
    c->retries = 2;
    c->rate = 2000;
    c->concurrency = 1000;
    c->threads = 2;
    c->window = 4096;
    c->reorder = 131072;
    c->cache_entries = 200000;
    c->cache_max_age_s = 600;
    c->checks = MX_CHECK_DEFAULT;
    c->shard_count = 1;
    c->watchdog_ratio = 0.5;
    c->watchdog_backoff_s = 5;
    c->watchdog_stop_s = 60;
    c->stall_s = 10;
}

/* Reads "name value" lines into extra arguments placed before argv's. */
static int load_config(struct mx_opts *o, const char *path, int *argc, char ***argv)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mxscan: cannot read config %s: %s\n", path, strerror(errno));
        return MX_EXIT_USAGE;
    }
    size_t cap = (size_t)*argc + 128, n = 0;
    char **nv = calloc(cap, sizeof *nv);
    char line[1024];
    unsigned ln = 0;
    nv[n++] = (*argv)[0];
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        p[strcspn(p, "\r\n")] = 0;
        if (!*p || *p == '#')
            continue;
        char *sp = p + strcspn(p, " \t=");
        char *val = NULL;
        if (*sp) {
            *sp++ = 0;
            while (*sp == ' ' || *sp == '\t' || *sp == '=')
                sp++;
            val = *sp ? sp : NULL;
        }
        if (n + 2 + (size_t)*argc > cap) { /* room for this line, argv's and the NULL */
            fprintf(stderr, "mxscan: %s: too many lines\n", path);
            fclose(f);
            free(nv);
            return MX_EXIT_USAGE;
        }
        size_t l = strlen(p) + 3;
        char *opt = malloc(l);
        snprintf(opt, l, "--%s", p);
        o->owned = realloc(o->owned, (o->nowned + 2) * sizeof *o->owned);
        o->owned[o->nowned++] = opt;
        nv[n++] = opt;
        if (val) {
            char *v = strdup(val);
            o->owned[o->nowned++] = v;
            nv[n++] = v;
        }
        (void)ln;
    }
    fclose(f);
    for (int i = 1; i < *argc; i++)
        nv[n++] = (*argv)[i];
    nv[n] = NULL;
    o->owned = realloc(o->owned, (o->nowned + 1) * sizeof *o->owned);
    o->owned[o->nowned++] = (char *)nv;
    *argc = (int)n;
    *argv = nv;
    return 0;
}

static int usage_error(enum mx_command cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(enum mx_command cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mxscan: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n");
    mx_opts_usage(stderr, cmd);
    return MX_EXIT_USAGE;
}

int mx_opts_parse(struct mx_opts *o, enum mx_command cmd, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    struct mx_config *c = &o->cfg;
    defaults(c);
    if (cmd != MX_CMD_SCAN) {
        c->threads = 1;
        c->window = 64;
        c->frame_ms = 0;
    }
    /* A --config option is applied first, wherever it stands. */
    for (int i = 1; i < argc; i++) {
        const char *cf = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cf = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            cf = argv[i] + 9;
        if (cf) {
            int rc = load_config(o, cf, &argc, &argv);
            if (rc)
                return rc;
            break;
        }
    }
    struct option lo[NOPTS + 1];
    char shorts[32] = "+";
    size_t nl = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(table[i].cmds & cmd_bit(cmd)))
            continue;
        lo[nl].name = table[i].name;
        lo[nl].has_arg = table[i].has_arg ? required_argument : no_argument;
        lo[nl].flag = NULL;
        lo[nl].val = table[i].id;
        nl++;
        if (table[i].id < 256) {
            size_t l = strlen(shorts);
            shorts[l] = (char)table[i].id;
            shorts[l + 1] = table[i].has_arg ? ':' : 0;
            shorts[l + 2] = 0;
        }
    }
    memset(&lo[nl], 0, sizeof lo[nl]);
    optind = 0; /* 0, not 1: glibc then forgets the previous parse's state */
    opterr = 0;
    bool have_resolver = false;
    char err[MX_ERRLEN];
    uint64_t v;
    int ch;
    /* Options may follow the positional arguments: collect those. */
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    size_t npos = 0;
    for (;;) {
        int before = optind;
        ch = getopt_long(argc, argv, shorts, lo, NULL);
        if (ch == -1) {
            if (optind > before && optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
                while (optind < argc) /* "--": the rest are inputs, even "-x" */
                    pos[npos++] = argv[optind++];
                break;
            }
            if (optind < argc) {
                pos[npos++] = argv[optind++];
                continue;
            }
            break;
        }
        switch (ch) {
        case O_HELP:
            mx_opts_usage(stdout, cmd);
            free(pos);
            return -1;
        case O_RESOLVER:
            if (mx_opts_parse_resolvers(c, optarg, err, sizeof err) != MX_OK) {
                free(pos);
                return usage_error(cmd, "%s", err);
            }
            have_resolver = true;
            break;
        case O_OUTPUT:
            c->output = optarg;
            break;
        case O_STATS:
            c->stats_path = optarg;
            break;
        case O_STATUS_FILE:
            c->status_file = optarg;
            break;
        case O_RATE:
            if (!parse_u64(optarg, 0, 10000000, &c->rate))
                goto badnum;
            break;
        case O_CONC:
            if (!parse_u64(optarg, 1, 100000, &v))
                goto badnum;
            c->concurrency = (unsigned)v;
            break;
        case O_THREADS:
            if (!parse_u64(optarg, 1, 64, &v))
                goto badnum;
            c->threads = (unsigned)v;
            break;
        case O_TIMEOUT:
            if (!parse_u64(optarg, 10, 60000, &v))
                goto badnum;
            c->timeout_ms = (unsigned)v;
            break;
        case O_RETRIES:
            if (!parse_u64(optarg, 0, 20, &v))
                goto badnum;
            c->retries = (unsigned)v;
            break;
        case O_SHARD: {
            unsigned a, b;
            char tail;
            if (sscanf(optarg, "%u/%u%c", &a, &b, &tail) != 2 || b == 0 || a == 0 || a > b) {
                free(pos);
                return usage_error(cmd, "bad --shard '%s': want I/N with 1 <= I <= N", optarg);
            }
            c->shard_index = a - 1;
            c->shard_count = b;
            break;
        }
        case O_ALLOW:
            if (mx_allowlist_parse(&c->allow, optarg, err, sizeof err) != MX_OK) {
                free(pos);
                return usage_error(cmd, "--allow-address: %s", err);
            }
            break;
        case O_RESUME:
            c->resume = true;
            break;
        case O_CHECKS:
            if (strstr(optarg, "smtp") || strstr(optarg, "rcpt") || strstr(optarg, "dane") ||
                strstr(optarg, "mta-sts") || strstr(optarg, "tlsrpt")) {
                free(pos);
                return usage_error(cmd,
                                   "--checks '%s': the opt-in checks of SPEC 1.7 (SMTP probe, "
                                   "MTA-STS, TLS-RPT, DANE) are not implemented in this version; "
                                   "use mx, spf, dmarc",
                                   optarg);
            }
            if (!parse_checks(optarg, &c->checks)) {
                free(pos);
                return usage_error(cmd, "bad --checks '%s': want a list of mx, spf, dmarc",
                                   optarg);
            }
            break;
        case O_CACHE:
            if (!parse_u64(optarg, 64, 100000000, &v))
                goto badnum;
            c->cache_entries = (size_t)v;
            break;
        case O_CACHE_AGE:
            if (!parse_u64(optarg, 0, 86400 * 7, &v))
                goto badnum;
            c->cache_max_age_s = (unsigned)v;
            break;
        case O_WINDOW:
            if (!parse_u64(optarg, 1, 1000000, &v))
                goto badnum;
            c->window = (unsigned)v;
            break;
        case O_REORDER:
            if (!parse_u64(optarg, 1, 10000000, &v))
                goto badnum;
            c->reorder = (unsigned)v;
            break;
        case O_ZLEVEL:
            if (!parse_u64(optarg, 1, 19, &v))
                goto badnum;
            c->zstd_level = (int)v;
            break;
        case O_FRAME_MB:
            if (!parse_u64(optarg, 1, 4096, &v))
                goto badnum;
            c->frame_bytes = v << 20;
            break;
        case O_CKPT:
            if (!parse_u64(optarg, 1, 3600, &v))
                goto badnum;
            c->frame_ms = (unsigned)v * 1000u;
            break;
        case O_PROVIDERS:
            c->providers_path = optarg;
            break;
        case O_WD_RATIO: {
            char *end;
            double r = strtod(optarg, &end);
            if (*end || !(r > 0.0 && r <= 1.0)) {
                free(pos);
                return usage_error(cmd, "bad --watchdog-ratio '%s': want 0 < R <= 1", optarg);
            }
            c->watchdog_ratio = r;
            break;
        }
        case O_WD_BACKOFF:
            if (!parse_u64(optarg, 0, 3600, &v))
                goto badnum;
            c->watchdog_backoff_s = (unsigned)v;
            break;
        case O_WD_STOP:
            if (!parse_u64(optarg, 0, 86400, &v))
                goto badnum;
            c->watchdog_stop_s = (unsigned)v;
            break;
        case O_STALL:
            if (!parse_u64(optarg, 1, 86400, &v))
                goto badnum;
            c->stall_s = (unsigned)v;
            break;
        case O_PROGRESS:
            c->progress = true;
            break;
        case O_QUIET:
            c->quiet = true;
            break;
        case O_CONFIG:
            break; /* handled above */
        case O_IP:
            o->spf_ip = optarg;
            break;
        case O_SENDER:
            o->spf_sender = optarg;
            break;
        case O_HELO:
            o->spf_helo = optarg;
            break;
        case O_COLOR:
            if (!strcmp(optarg, "always"))
                c->color = true;
            else if (!strcmp(optarg, "never"))
                c->color = false;
            else if (!strcmp(optarg, "auto"))
                c->color = isatty(STDOUT_FILENO) != 0;
            else {
                free(pos);
                return usage_error(cmd, "bad --color '%s': auto, always or never", optarg);
            }
            break;
        default:
            free(pos);
            if (optopt >= 256 || optopt == 0)
                return usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
            {
                char s[3] = {'-', (char)optopt, 0};
                return usage_error(cmd, "unknown or incomplete option '%s'", s);
            }
        }
        continue;
    badnum:
        free(pos);
        return usage_error(cmd, "bad number '%s' (see the option's range in --help)", optarg);
    }
    o->args = pos;
    o->nargs = npos;
    if (npos == 0) {
        free(pos);
        o->args = NULL;
        return usage_error(cmd, "%s", cmd == MX_CMD_SCAN ? "no INPUT given ('-' reads stdin)"
                                                         : "no DOMAIN given");
    }
    if (cmd == MX_CMD_SPF && !o->spf_ip)
        return usage_error(cmd, "%s", "--ip ADDR is required");
    if (c->threads > c->concurrency)
        c->threads = c->concurrency;
    if (!have_resolver &&
        mx_opts_system_resolvers(c, "/etc/resolv.conf", err, sizeof err) != MX_OK)
        return usage_error(cmd, "%s", err);
    if (cmd == MX_CMD_SCAN) {
        c->inputs = o->args;
        c->ninputs = o->nargs;
        if (!c->output)
            return usage_error(cmd, "%s", "no --output FILE given ('-' for stdout)");
        if (c->resume && strcmp(c->output, "-") == 0)
            return usage_error(cmd, "%s", "--resume needs an output file, not stdout");
    }
    return 0;
}

void mx_opts_free(struct mx_opts *o)
{
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->args);
    o->args = NULL;
}
