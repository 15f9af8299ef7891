/* Options (opts.h). One table row per option gives its name, letter,
 * argument, commands, kind, range, default, the field it sets and its help
 * text: parsing, defaults, --help and the range errors all come from it.
 * Numbers go through strtoull with an end check and the row's range. A
 * usage error is one line naming the option, the value and what is
 * allowed, then a pointer to --help (exit 2). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/opts.h"

#define CMD_SCAN 1u
#define CMD_CHECK 2u
#define CMD_SPF 4u
#define CMD_ALL 7u

enum kind {
    K_FLAG,   /* bool, set to true */
    K_U64,    /* uint64_t */
    K_UNS,    /* unsigned */
    K_SIZE,   /* size_t */
    K_INT,    /* int */
    K_DBL,    /* double in (lo, hi] (lo excluded) */
    K_STR,    /* const char * (the argument itself) */
    K_CUSTOM, /* fn */
};

struct optdef;
typedef bool (*custom_fn)(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                          size_t whylen);

struct optdef {
    const char *name;
    char letter;       /* 0: long only */
    const char *arg;   /* NULL: no argument */
    unsigned cmds;
    enum kind kind;
    size_t off;        /* the field in struct mx_opts */
    uint64_t lo, hi;   /* range of the value given (before scale) */
    uint64_t scale;    /* the field holds value * scale (1: as given) */
    const char *dflt;  /* default, as it would be given (NULL: none) */
    custom_fn fn;
    const char *help;
};

#define F(field) offsetof(struct mx_opts, field)

static bool set_resolvers(struct mx_opts *, const struct optdef *, const char *, char *, size_t);
static bool set_shard(struct mx_opts *, const struct optdef *, const char *, char *, size_t);
static bool set_allow(struct mx_opts *, const struct optdef *, const char *, char *, size_t);
static bool set_checks(struct mx_opts *, const struct optdef *, const char *, char *, size_t);
static bool set_color(struct mx_opts *, const struct optdef *, const char *, char *, size_t);
static bool set_format(struct mx_opts *, const struct optdef *, const char *, char *, size_t);

/* clang-format off */
static const struct optdef table[] = {
    {"resolver", 'r', "ADDR[:PORT][,...]", CMD_ALL, K_CUSTOM, 0, 0, 0, 1, NULL, set_resolvers,
     "resolvers to ask (IPv6 as [ADDR]:PORT); default: the nameservers of /etc/resolv.conf"},
    {"output", 'o', "FILE", CMD_SCAN, K_STR, F(cfg.output), 0, 0, 1, NULL, NULL,
     "results file; zstd-compressed unless FILE is '-' (stdout) or ends in .csv (.jsonl)"},
    {"format", 0, "FORMAT", CMD_SCAN, K_CUSTOM, 0, 0, 0, 1, "csv", set_format,
     "results as csv (a header row, then one row a domain) or jsonl (one JSON object a line)"},
    {"stats", 0, "FILE", CMD_SCAN, K_STR, F(cfg.stats_path), 0, 0, 1, NULL, NULL,
     "write aggregate statistics as JSON ('-': stdout)"},
    {"rate", 0, "QPS", CMD_ALL, K_U64, F(cfg.rate), 0, 10000000, 1, "2000", NULL,
     "hard ceiling on queries sent per second, all threads together; 0 = none"},
    {"concurrency", 0, "N", CMD_ALL, K_UNS, F(cfg.concurrency), 1, 100000, 1, "1000", NULL,
     "queries in flight at most"},
    {"threads", 0, "N", CMD_SCAN, K_UNS, F(cfg.threads), 1, 64, 1, "2", NULL,
     "resolver worker threads"},
    {"timeout", 0, "MS", CMD_ALL, K_UNS, F(cfg.timeout_ms), 10, 60000, 1, "2000", NULL,
     "time to wait for one answer"},
    {"retries", 0, "N", CMD_ALL, K_UNS, F(cfg.retries), 0, 20, 1, "2", NULL,
     "retries after a timeout, SERVFAIL or REFUSED, each to the next resolver"},
    {"shard", 0, "I/N", CMD_SCAN, K_CUSTOM, 0, 0, 0, 1, NULL, set_shard,
     "scan only the I-th (1..N) of N disjoint parts of the input (FNV-1a hash of the line)"},
    {"allow-address", 0, "CIDR[,...]", CMD_ALL, K_CUSTOM, 0, 0, 0, 1, NULL, set_allow,
     "address ranges to count as globally reachable (labs, intranets)"},
    {"resume", 0, NULL, CMD_SCAN, K_FLAG, F(cfg.resume), 0, 0, 1, NULL, NULL,
     "continue an interrupted scan of the same inputs into the same output"},
    {"force", 0, NULL, CMD_SCAN, K_FLAG, F(cfg.force), 0, 0, 1, NULL, NULL,
     "start afresh even when OUTPUT holds an interrupted scan (its rows are lost)"},
    {"checks", 0, "LIST", CMD_ALL, K_CUSTOM, 0, 0, 0, 1, "mx,spf,dmarc", set_checks,
     "look-ups to make: mx, spf, dmarc ('mx' alone for MX-only scans); opt-in: smtp, "
     "consistency, mta-sts (with TLS-RPT), dane (TLSA; AD bit on every query), tlsrpt"},
    {"cache-size", 0, "N", CMD_ALL, K_SIZE, F(cfg.cache_entries), 64, 100000000, 1, "200000",
     NULL, "answers kept in the shared cache"},
    {"cache-max-age", 0, "SEC", CMD_ALL, K_UNS, F(cfg.cache_max_age_s), 0, 604800, 1, "600",
     NULL, "reuse a shared answer for at most SEC seconds"},
    {"window", 0, "N", CMD_SCAN, K_UNS, F(cfg.window), 1, 1000000, 1, "4096", NULL,
     "domains in progress at once"},
    {"reorder-window", 0, "N", CMD_SCAN, K_UNS, F(cfg.reorder), 1, 10000000, 1, "131072", NULL,
     "finished rows held back to restore input order behind a slow domain"},
    {"zstd-level", 0, "N", CMD_SCAN, K_INT, F(cfg.zstd_level), 1, 19, 1, "3", NULL,
     "zstd compression level"},
    {"frame-mb", 0, "N", CMD_SCAN, K_U64, F(cfg.frame_bytes), 1, 4096, 1u << 20, "4", NULL,
     "end a zstd frame (a durable checkpoint) after N MB of CSV"},
    {"checkpoint-interval", 0, "SEC", CMD_SCAN, K_UNS, F(cfg.frame_ms), 1, 3600, 1000, "2", NULL,
     "... or after SEC seconds"},
    {"providers", 0, "FILE", CMD_ALL, K_STR, F(cfg.providers_path), 0, 0, 1, NULL, NULL,
     "provider data (default: datasets/providers.csv, or $MXSCAN_PROVIDERS)"},
    {"watchdog-ratio", 0, "R", CMD_SCAN, K_DBL, F(cfg.watchdog_ratio), 0, 1, 1, "0.5", NULL,
     "share of failing look-ups (timeouts, SERVFAIL, REFUSED) that counts as bad"},
    {"watchdog-backoff", 0, "SEC", CMD_SCAN, K_UNS, F(cfg.watchdog_backoff_s), 0, 3600, 1, "5",
     NULL, "halve the rate after SEC bad seconds, restore it after SEC good ones"},
    {"watchdog-stop", 0, "SEC", CMD_SCAN, K_UNS, F(cfg.watchdog_stop_s), 0, 86400, 1, "60", NULL,
     "stop (resumably, exit 3) after SEC bad seconds in a row; 0 = never"},
    {"stall-timeout", 0, "SEC", CMD_SCAN, K_UNS, F(cfg.stall_s), 1, 86400, 1, "10", NULL,
     "stop (resumably, exit 5) when domains wait and nothing at all happens for SEC s"},
    {"smtp-rcpt", 0, NULL, CMD_SCAN | CMD_CHECK, K_FLAG, F(cfg.smtp_rcpt), 0, 0, 1, NULL, NULL,
     "with --checks ...,smtp: also MAIL FROM:<> and RCPT TO:<postmaster@DOMAIN> (never DATA)"},
    {"smtp-port", 0, "PORT", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.smtp_port), 1, 65535, 1, "25",
     NULL, "port of the SMTP probe (labs)"},
    {"smtp-ehlo", 0, "NAME", CMD_SCAN | CMD_CHECK, K_STR, F(cfg.smtp_ehlo), 0, 0, 1, NULL, NULL,
     "EHLO name of the probe: a name that tells operators who scans (default: this host)"},
    {"smtp-rate", 0, "N", CMD_SCAN | CMD_CHECK, K_DBL, F(cfg.smtp_rate), 0, 10000, 1, "20", NULL,
     "new SMTP connections per second, all addresses together"},
    {"smtp-max-conns", 0, "N", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.smtp_max_conns), 1, 4096, 1,
     "64", NULL, "SMTP connections open at once (one per address at most)"},
    {"smtp-connect-timeout", 0, "MS", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.smtp_connect_ms), 100,
     120000, 1, "10000", NULL, "time to wait for an SMTP connection"},
    {"smtp-timeout", 0, "MS", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.smtp_timeout_ms), 100, 600000, 1,
     "30000", NULL, "time to wait for the greeting, each reply and the TLS handshake"},
    {"smtp-ca-file", 0, "FILE", CMD_SCAN | CMD_CHECK, K_STR, F(cfg.smtp_ca_file), 0, 0, 1, NULL,
     NULL, "PEM trust store for the exchanges' certificates (default: the system's)"},
    {"sts-port", 0, "PORT", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.sts_port), 1, 65535, 1, "443",
     NULL, "port of the MTA-STS policy fetch (labs; URL, Host and certificate name unchanged)"},
    {"sts-rate", 0, "N", CMD_SCAN | CMD_CHECK, K_DBL, F(cfg.sts_rate), 0, 10000, 1, "20", NULL,
     "new MTA-STS policy fetches per second (one per policy host per scan)"},
    {"sts-max-fetches", 0, "N", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.sts_max_fetches), 1, 4096, 1,
     "32", NULL, "MTA-STS policy fetches at a time"},
    {"sts-connect-timeout", 0, "MS", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.sts_connect_ms), 100,
     120000, 1, "10000", NULL, "time to wait for a policy host's TCP and TLS connection"},
    {"sts-timeout", 0, "MS", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.sts_timeout_ms), 100, 600000, 1,
     "20000", NULL, "time a whole policy fetch may take"},
    {"sts-ca-file", 0, "FILE", CMD_SCAN | CMD_CHECK, K_STR, F(cfg.sts_ca_file), 0, 0, 1, NULL,
     NULL, "PEM trust store for the policy hosts' certificates (default: the system's)"},
    {"auth-qps", 0, "N", CMD_SCAN | CMD_CHECK, K_DBL, F(cfg.auth_qps), 0, 10000, 1, "10", NULL,
     "with --checks ...,consistency: queries per second to one authoritative server address"},
    {"auth-global-qps", 0, "N", CMD_SCAN | CMD_CHECK, K_DBL, F(cfg.auth_global_qps), 0, 100000,
     1, "200", NULL, "queries per second to all authoritative server addresses together"},
    {"auth-timeout", 0, "MS", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.auth_timeout_ms), 10, 60000, 1,
     "2000", NULL, "time to wait for an authoritative server's answer, per try"},
    {"auth-tries", 0, "N", CMD_SCAN | CMD_CHECK, K_UNS, F(cfg.auth_tries), 1, 10, 1, "3", NULL,
     "tries per question to an authoritative server before it counts as not answering"},
    {"progress", 0, NULL, CMD_SCAN, K_FLAG, F(cfg.progress), 0, 0, 1, NULL, NULL,
     "progress line on stderr every second even when stderr is not a terminal"},
    {"status-file", 0, "FILE", CMD_SCAN, K_STR, F(cfg.status_file), 0, 0, 1, NULL, NULL,
     "one JSON progress object a second, a line each"},
    {"quiet", 'q', NULL, CMD_ALL, K_FLAG, F(cfg.quiet), 0, 0, 1, NULL, NULL,
     "no progress and no summary on stderr"},
    {"config", 0, "FILE", CMD_ALL, K_STR, F(config_path), 0, 0, 1, NULL, NULL,
     "read 'option value' lines (long option names); the command line wins"},
    {"ip", 0, "ADDR", CMD_SPF, K_STR, F(spf_ip), 0, 0, 1, NULL, NULL,
     "the connecting client address to evaluate"},
    {"sender", 0, "LOCAL@DOMAIN", CMD_SPF, K_STR, F(spf_sender), 0, 0, 1, NULL, NULL,
     "MAIL FROM (default postmaster@DOMAIN)"},
    {"helo", 0, "NAME", CMD_SPF, K_STR, F(spf_helo), 0, 0, 1, NULL, NULL,
     "HELO/EHLO name (for the %{h} macro)"},
    {"color", 0, "WHEN", CMD_CHECK, K_CUSTOM, 0, 0, 0, 1, "auto", set_color,
     "colour: auto (on a terminal), always or never"},
    {"help", 'h', NULL, CMD_ALL, K_FLAG, F(help), 0, 0, 1, NULL, NULL, "this text"},
};
/* clang-format on */

#define NOPTS (sizeof table / sizeof table[0])

static const char *cmd_name(enum mx_command c)
{
    return c == MX_CMD_SCAN ? "scan" : c == MX_CMD_CHECK ? "check" : "spf";
}

static unsigned cmd_bit(enum mx_command c)
{
    return c == MX_CMD_SCAN ? CMD_SCAN : c == MX_CMD_CHECK ? CMD_CHECK : CMD_SPF;
}

/* ---- help ---- */

static void describe_range(const struct optdef *d, char *buf, size_t len)
{
    buf[0] = 0;
    if (d->kind == K_DBL)
        snprintf(buf, len, "%g < R <= %g", (double)d->lo, (double)d->hi);
    else if (d->kind == K_U64 || d->kind == K_UNS || d->kind == K_SIZE || d->kind == K_INT)
        snprintf(buf, len, "%" PRIu64 "..%" PRIu64, d->lo, d->hi);
}

static void usage_head(FILE *f, enum mx_command cmd)
{
    switch (cmd) {
    case MX_CMD_SCAN:
        fprintf(f, "usage: mxscan scan [options] -o OUTPUT INPUT...\n\n"
                   "Audits the MX, SPF and DMARC records of every name in INPUT (a file, or '-'\n"
                   "for stdin; plain, .zst or .gz, detected by content; one name a line, or CSV\n"
                   "whose last column is the name, e.g. rank,domain). Writes one CSV row per\n"
                   "input line, in input order.\n\n");
        break;
    case MX_CMD_CHECK:
        fprintf(f, "usage: mxscan check [options] DOMAIN...\n\n"
                   "Human-readable diagnosis of a few names: MX set with addresses, mail\n"
                   "status, and each finding with why it matters and what to change.\n\n");
        break;
    case MX_CMD_SPF:
        fprintf(f, "usage: mxscan spf DOMAIN --ip ADDR [--sender LOCAL@DOMAIN] [--helo NAME]\n\n"
                   "Evaluates check_host() of RFC 7208 for ADDR and DOMAIN and prints the\n"
                   "result, the term that decided it and the look-up counts.\n\n");
        break;
    }
}

void mx_opts_usage(FILE *f, enum mx_command cmd)
{
    usage_head(f, cmd);
    fprintf(f, "options:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct optdef *d = &table[i];
        if (!(d->cmds & cmd_bit(cmd)))
            continue;
        char lhs[64], range[48], extra[96] = "";
        if (d->letter)
            snprintf(lhs, sizeof lhs, "-%c, --%s%s%s", d->letter, d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        else
            snprintf(lhs, sizeof lhs, "    --%s%s%s", d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        describe_range(d, range, sizeof range);
        if (d->dflt && range[0])
            snprintf(extra, sizeof extra, " (default %s; %s)", d->dflt, range);
        else if (d->dflt)
            snprintf(extra, sizeof extra, " (default %s)", d->dflt);
        fprintf(f, "  %-34s %s%s\n", lhs, d->help, extra);
    }
    if (cmd == MX_CMD_SCAN)
        fprintf(f, "\nexit status: 0 complete, 1 runtime failure, 2 usage error, 3 stopped by the\n"
                   "watchdog (resumable), 5 stalled (a bug; resumable), 130/143 stopped by\n"
                   "SIGINT/SIGTERM (resumable).\n"
                   "See README.md for the columns, findings and statistics.\n");
    else if (cmd == MX_CMD_CHECK)
        fprintf(f, "\nexit status: 0 no error finding, 4 an error finding was seen, 1 failure,\n"
                   "2 usage error.\n");
    else
        fprintf(f, "\nexit status by result: 0 pass, 10 fail, 11 softfail, 12 neutral, 13 none,\n"
                   "14 temperror, 15 permerror; 1 failure, 2 usage error.\n");
}

/* One line: what is wrong, then where to look. Exit status 2. */
static int usage_error(enum mx_command cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(enum mx_command cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mxscan %s: ", cmd_name(cmd));
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'mxscan %s --help'\n", cmd_name(cmd));
    return MX_EXIT_USAGE;
}

/* ---- values ---- */

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

static void *field(struct mx_opts *o, const struct optdef *d)
{
    return (char *)o + d->off;
}

/* Sets d's field from arg. false with why on a bad value. */
static bool apply(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                  size_t whylen)
{
    char range[48];
    describe_range(d, range, sizeof range);
    uint64_t v = 0;
    switch (d->kind) {
    case K_FLAG:
        *(bool *)field(o, d) = true;
        return true;
    case K_STR:
        *(const char **)field(o, d) = arg;
        return true;
    case K_CUSTOM:
        return d->fn(o, d, arg, why, whylen);
    case K_DBL: {
        char *end;
        errno = 0;
        double r = strtod(arg, &end);
        if (!*arg || *end || errno || !(r > (double)d->lo && r <= (double)d->hi)) {
            snprintf(why, whylen, "want a number, %s", range);
            return false;
        }
        *(double *)field(o, d) = r;
        return true;
    }
    default:
        break;
    }
    if (!parse_u64(arg, d->lo, d->hi, &v)) {
        snprintf(why, whylen, "want a whole number in %s", range);
        return false;
    }
    v *= d->scale;
    if (d->kind == K_U64)
        *(uint64_t *)field(o, d) = v;
    else if (d->kind == K_SIZE)
        *(size_t *)field(o, d) = (size_t)v;
    else if (d->kind == K_INT)
        *(int *)field(o, d) = (int)v;
    else
        *(unsigned *)field(o, d) = (unsigned)v;
    return true;
}

static bool set_resolvers(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                          size_t whylen)
{
    (void)d;
    o->have_resolver = true;
    return mx_opts_parse_resolvers(&o->cfg, arg, why, whylen) == MX_OK;
}

static bool set_shard(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                      size_t whylen)
{
    (void)d;
    unsigned a, b;
    char tail;
    if (sscanf(arg, "%u/%u%c", &a, &b, &tail) != 2 || b == 0 || a == 0 || a > b) {
        snprintf(why, whylen, "want I/N with 1 <= I <= N");
        return false;
    }
    o->cfg.shard_index = a - 1;
    o->cfg.shard_count = b;
    return true;
}

static bool set_allow(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                      size_t whylen)
{
    (void)d;
    return mx_allowlist_parse(&o->cfg.allow, arg, why, whylen) == MX_OK;
}

/* The words of --checks and the checks each adds. */
static const struct {
    const char *word;
    unsigned bits;
} check_words[] = {
    {"mx", MX_CHECK_MX},
    {"spf", MX_CHECK_SPF},
    {"dmarc", MX_CHECK_DMARC},
    {"default", MX_CHECK_DEFAULT},
    {"all", MX_CHECK_DEFAULT},
    {"smtp", MX_CHECK_SMTP},
    {"consistency", MX_CHECK_CONSISTENCY},
    {"mta-sts", MX_CHECK_MTA_STS | MX_CHECK_TLSRPT},
    {"dane", MX_CHECK_DANE | MX_CHECK_TLSRPT},
    {"tlsrpt", MX_CHECK_TLSRPT},
};

static bool set_checks(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                       size_t whylen)
{
    (void)d;
    static const char want[] =
        "want a list of mx, spf, dmarc, smtp, consistency, mta-sts, dane, tlsrpt";
    unsigned c = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", arg);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i = 0, n = sizeof check_words / sizeof check_words[0];
        while (i < n && strcmp(t, check_words[i].word) != 0)
            i++;
        if (i < n) {
            c |= check_words[i].bits;
            continue;
        }
        snprintf(why, whylen, "unknown check '%s'; %s", t, want);
        return false;
    }
    if (!c) {
        snprintf(why, whylen, "%s", want);
        return false;
    }
    o->cfg.checks = c | MX_CHECK_MX; /* the MX query is the row's status */
    o->cfg.dns_ad = (c & MX_CHECK_DANE) != 0; /* DANE reads the AD bit of every answer */
    return true;
}

/* arg as the index of one of the words (NULL-terminated), or -1 with
 * "want A, B or C" in why. */
static int one_of(const char *arg, const char *const *words, char *why, size_t whylen)
{
    size_t n = 0;
    for (; words[n]; n++)
        if (!strcmp(arg, words[n]))
            return (int)n;
    size_t w = (size_t)snprintf(why, whylen, "want");
    for (size_t i = 0; i < n && w < whylen; i++)
        w += (size_t)snprintf(why + w, whylen - w, "%s%s", i == 0 ? " " : i + 1 < n ? ", " : " or ",
                              words[i]);
    return -1;
}

static bool set_color(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                      size_t whylen)
{
    (void)d;
    static const char *const words[] = {"auto", "always", "never", NULL};
    int k = one_of(arg, words, why, whylen);
    if (k >= 0)
        o->cfg.color = k == 1 || (k == 0 && isatty(STDOUT_FILENO) != 0);
    return k >= 0;
}

static bool set_format(struct mx_opts *o, const struct optdef *d, const char *arg, char *why,
                       size_t whylen)
{
    (void)d;
    static const char *const words[] = {"csv", "jsonl", NULL};
    int k = one_of(arg, words, why, whylen);
    if (k >= 0)
        o->cfg.format = k == 0 ? MX_FORMAT_CSV : MX_FORMAT_JSONL;
    return k >= 0;
}

/* ---- resolvers ---- */

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
        uint64_t port = 53;
        char *colon;
        if (t[0] == '[') {
            char *close = strchr(t, ']');
            if (!close)
                goto bad;
            *close = 0;
            snprintf(host, sizeof host, "%s", t + 1);
            if (close[1] == ':') {
                if (!parse_u64(close + 2, 1, 65535, &port))
                    goto bad;
            } else if (close[1]) {
                goto bad;
            }
        } else if ((colon = strchr(t, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
            *colon = 0;
            if (!parse_u64(colon + 1, 1, 65535, &port))
                goto bad;
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

/* ---- --config ---- */

static char *keep(struct mx_opts *o, char *s)
{
    char **n = realloc(o->owned, (o->nowned + 1) * sizeof *o->owned);
    if (!n) {
        free(s);
        return NULL;
    }
    o->owned = n;
    o->owned[o->nowned++] = s;
    return s;
}

/* One "name value" line as "--name" [value] arguments; false when empty. */
static bool config_line(char *p, char **name, char **val)
{
    while (*p == ' ' || *p == '\t')
        p++;
    p[strcspn(p, "\r\n")] = 0;
    if (!*p || *p == '#')
        return false;
    char *sp = p + strcspn(p, " \t=");
    *val = NULL;
    if (*sp) {
        *sp++ = 0;
        while (*sp == ' ' || *sp == '\t' || *sp == '=')
            sp++;
        *val = *sp ? sp : NULL;
    }
    *name = p;
    return true;
}

/* Reads "name value" lines into arguments placed before argv's, so that
 * the command line wins. */
static int load_config(struct mx_opts *o, const char *path, int *argc, char ***argv)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return usage_error(o->cmd, "cannot read the config file %s: %s", path, strerror(errno));
    size_t cap = (size_t)*argc + 128, n = 0;
    char **nv = calloc(cap, sizeof *nv);
    if (!nv || !keep(o, (char *)nv)) {
        fclose(f);
        return usage_error(o->cmd, "out of memory reading %s", path);
    }
    char line[1024];
    nv[n++] = (*argv)[0];
    while (fgets(line, sizeof line, f)) {
        char *name, *val;
        if (!config_line(line, &name, &val))
            continue;
        if (n + 2 + (size_t)*argc > cap) { /* room for this line, argv's and the NULL */
            fclose(f);
            return usage_error(o->cmd, "%s: too many lines", path);
        }
        size_t l = strlen(name) + 3;
        char *opt = keep(o, malloc(l));
        char *v = val ? keep(o, strdup(val)) : NULL;
        if (!opt || (val && !v)) {
            fclose(f);
            return usage_error(o->cmd, "out of memory reading %s", path);
        }
        snprintf(opt, l, "--%s", name);
        nv[n++] = opt;
        if (v)
            nv[n++] = v;
    }
    fclose(f);
    for (int i = 1; i < *argc; i++)
        nv[n++] = (*argv)[i];
    nv[n] = NULL;
    *argc = (int)n;
    *argv = nv;
    return 0;
}

/* A --config option is applied first, wherever it stands. */
static int find_config(struct mx_opts *o, int *argc, char ***argv)
{
    for (int i = 1; i < *argc; i++) {
        const char *cf = NULL;
        if (strcmp((*argv)[i], "--config") == 0 && i + 1 < *argc)
            cf = (*argv)[i + 1];
        else if (strncmp((*argv)[i], "--config=", 9) == 0)
            cf = (*argv)[i] + 9;
        if (cf)
            return load_config(o, cf, argc, argv);
    }
    return 0;
}

/* ---- parsing ---- */

static int defaults(struct mx_opts *o)
{
    struct mx_config *c = &o->cfg;
    char why[MX_ERRLEN];
    c->shard_count = 1;
    for (size_t i = 0; i < NOPTS; i++)
        if (table[i].dflt && !apply(o, &table[i], table[i].dflt, why, sizeof why))
            return usage_error(o->cmd, "bad default of --%s: %s", table[i].name, why);
    if (o->cmd != MX_CMD_SCAN) { /* a few names: one worker, no frames */
        c->threads = 1;
        c->window = 64;
        c->frame_ms = 0;
    }
    return 0;
}

/* getopt_long's table and short-option string for cmd. */
static void build_getopt(enum mx_command cmd, struct option *lo, char *shorts, size_t slen)
{
    size_t nl = 0, ns = 0;
    shorts[ns++] = '+';
    for (size_t i = 0; i < NOPTS; i++) {
        if (!(table[i].cmds & cmd_bit(cmd)))
            continue;
        lo[nl].name = table[i].name;
        lo[nl].has_arg = table[i].arg ? required_argument : no_argument;
        lo[nl].flag = NULL;
        lo[nl].val = 256 + (int)i;
        nl++;
        if (table[i].letter && ns + 3 < slen) {
            shorts[ns++] = table[i].letter;
            if (table[i].arg)
                shorts[ns++] = ':';
        }
    }
    shorts[ns] = 0;
    memset(&lo[nl], 0, sizeof lo[nl]);
}

static const struct optdef *by_letter(int ch)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (table[i].letter == ch)
            return &table[i];
    return NULL;
}

/* The option getopt stopped at, for the message. */
static int bad_option(struct mx_opts *o, int argc, char **argv)
{
    const char *what = optind - 1 < argc ? argv[optind - 1] : "?";
    if (optopt && optopt < 256) {
        const struct optdef *d = by_letter(optopt);
        if (d && d->arg && (d->cmds & cmd_bit(o->cmd)))
            return usage_error(o->cmd, "-%c needs a value (%s)", optopt, d->arg);
        return usage_error(o->cmd, "unknown option -%c", optopt);
    }
    if (optopt >= 256) {
        const struct optdef *d = &table[optopt - 256];
        return usage_error(o->cmd, "--%s needs a value (%s)", d->name, d->arg);
    }
    for (size_t i = 0; i < NOPTS; i++) {
        size_t l = strlen(table[i].name);
        if (!strncmp(what, "--", 2) && !strncmp(what + 2, table[i].name, l) &&
            (what[2 + l] == 0 || what[2 + l] == '=') && !(table[i].cmds & cmd_bit(o->cmd)))
            return usage_error(o->cmd, "%s is not an option of 'mxscan %s'", what,
                               cmd_name(o->cmd));
    }
    return usage_error(o->cmd, "unknown option %s", what);
}

/* Options and positional arguments (options may follow the inputs; after
 * "--" everything is an input, even "-x"). */
static int parse_args(struct mx_opts *o, int argc, char **argv)
{
    struct option lo[NOPTS + 1];
    char shorts[64];
    build_getopt(o->cmd, lo, shorts, sizeof shorts);
    optind = 0; /* 0, not 1: glibc then forgets the previous parse's state */
    opterr = 0;
    o->args = calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args)
        return usage_error(o->cmd, "out of memory");
    for (;;) {
        int before = optind;
        int ch = getopt_long(argc, argv, shorts, lo, NULL);
        if (ch == -1) {
            if (optind > before && optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
                while (optind < argc)
                    o->args[o->nargs++] = argv[optind++];
                break;
            }
            if (optind >= argc)
                break;
            o->args[o->nargs++] = argv[optind++];
            continue;
        }
        if (ch == '?' || ch == ':')
            return bad_option(o, argc, argv);
        const struct optdef *d = ch >= 256 ? &table[ch - 256] : by_letter(ch);
        char why[MX_ERRLEN];
        if (!d)
            return bad_option(o, argc, argv);
        if (!apply(o, d, optarg, why, sizeof why))
            return usage_error(o->cmd, "--%s '%s': %s", d->name, optarg, why);
    }
    return 0;
}

/* What an option cannot say alone. */
static int cross_checks(struct mx_opts *o)
{
    struct mx_config *c = &o->cfg;
    char err[MX_ERRLEN];
    if (o->nargs == 0)
        return usage_error(o->cmd, "%s", o->cmd == MX_CMD_SCAN ? "no INPUT given ('-' reads stdin)"
                                                               : "no DOMAIN given");
    if (o->cmd == MX_CMD_SPF && !o->spf_ip)
        return usage_error(o->cmd, "%s", "--ip ADDR is required");
    if (c->threads > c->concurrency)
        c->threads = c->concurrency;
    if (!o->have_resolver &&
        mx_opts_system_resolvers(c, "/etc/resolv.conf", err, sizeof err) != MX_OK)
        return usage_error(o->cmd, "%s", err);
    if (o->cmd == MX_CMD_SCAN) {
        c->inputs = o->args;
        c->ninputs = o->nargs;
        if (!c->output)
            return usage_error(o->cmd, "%s", "no --output FILE given ('-' for stdout)");
        if (c->resume && strcmp(c->output, "-") == 0)
            return usage_error(o->cmd, "%s", "--resume needs an output file, not stdout");
    }
    return 0;
}

int mx_opts_parse(struct mx_opts *o, enum mx_command cmd, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    int rc = defaults(o);
    if (!rc)
        rc = find_config(o, &argc, &argv);
    if (!rc)
        rc = parse_args(o, argc, argv);
    if (rc)
        return rc;
    if (o->help) {
        mx_opts_usage(stdout, cmd);
        return -1;
    }
    return cross_checks(o);
}

void mx_opts_free(struct mx_opts *o)
{
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->args);
    o->args = NULL;
    o->owned = NULL;
    o->nowned = 0;
}
