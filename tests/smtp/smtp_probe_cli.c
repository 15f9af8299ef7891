/* Test driver for the SMTP probe (include/mx/smtp.h): reads lines
 * "ADDR EXCHANGE [RCPT_DOMAIN]" from stdin, submits them all, and prints one
 * result line per input line, in input order (mx_smtp_result_format). The
 * probe's counters go to stderr as one JSON object at the end.
 *
 *   smtp_probe_cli [--port N] [--rate R] [--max-conns N] [--ca-file PEM]
 *                  [--ehlo NAME] [--mail-from ADDR] [--allow CIDR[,...]]
 *                  [--connect-ms N] [--greeting-ms N] [--reply-ms N]
 *                  [--tls-ms N] [--linger-ms N] [--rcpt-per-txn N]
 *                  [--rcpt-per-conn N] [--rcpt-errors N] [--deadline S]
 *
 * --deadline S destroys the probe after S seconds (outstanding requests are
 * then reported as aborted). Exit 0 when every line got a result, 1 on
 * errors, 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli_num.h"
#include "mx/smtp.h"

struct line {
    char *out; /* formatted result, NULL until it arrives */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static size_t done;

static void on_done(void *ud, const struct mx_smtp_result *r)
{
    struct line *l = ud;
    size_t need = mx_smtp_result_format(r, NULL, 0);
    char *s = malloc(need + 1);
    if (s)
        mx_smtp_result_format(r, s, need + 1);
    pthread_mutex_lock(&lock);
    l->out = s;
    done++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static unsigned num(const char *opt, const char *s)
{
    return cli_num("smtp_probe_cli", opt, s, 4000000000ul);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"port", 1, 0, 'p'},          {"rate", 1, 0, 'r'},         {"max-conns", 1, 0, 'm'},
        {"ca-file", 1, 0, 'c'},       {"ehlo", 1, 0, 'e'},         {"mail-from", 1, 0, 'f'},
        {"allow", 1, 0, 'a'},         {"connect-ms", 1, 0, 1},     {"greeting-ms", 1, 0, 2},
        {"reply-ms", 1, 0, 3},        {"tls-ms", 1, 0, 4},         {"linger-ms", 1, 0, 5},
        {"rcpt-per-txn", 1, 0, 6},    {"rcpt-per-conn", 1, 0, 7},  {"rcpt-errors", 1, 0, 8},
        {"deadline", 1, 0, 9},        {0, 0, 0, 0}};
    struct mx_smtp_cfg cfg;
    struct mx_allowlist allow;
    char err[MX_ERRLEN];
    unsigned deadline = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&allow, 0, sizeof allow);
    cfg.allow = &allow;
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'p': cfg.port = (uint16_t)num("--port", optarg); break;
        case 'r': cfg.conn_rate = strtod(optarg, NULL); break;
        case 'm': cfg.max_conns = num("--max-conns", optarg); break;
        case 'c': cfg.ca_file = optarg; break;
        case 'e': cfg.ehlo_name = optarg; break;
        case 'f': cfg.mail_from = optarg; break;
        case 'a':
            if (mx_allowlist_parse(&allow, optarg, err, sizeof err) != MX_OK) {
                fprintf(stderr, "smtp_probe_cli: %s\n", err);
                return 2;
            }
            break;
        case 1: cfg.connect_ms = num("--connect-ms", optarg); break;
        case 2: cfg.greeting_ms = num("--greeting-ms", optarg); break;
        case 3: cfg.reply_ms = num("--reply-ms", optarg); break;
        case 4: cfg.tls_ms = num("--tls-ms", optarg); break;
        case 5: cfg.linger_ms = num("--linger-ms", optarg); break;
        case 6: cfg.rcpt_per_txn = num("--rcpt-per-txn", optarg); break;
        case 7: cfg.rcpt_per_conn = num("--rcpt-per-conn", optarg); break;
        case 8: cfg.rcpt_errors = num("--rcpt-errors", optarg); break;
        case 9: deadline = num("--deadline", optarg); break;
        default: return 2;
        }
    }
    /* read every line first, so submission is one burst */
    size_t n = 0, cap = 0;
    struct line *lines = NULL;
    char **args = NULL;
    char buf[1024];
    while (fgets(buf, sizeof buf, stdin)) {
        char *save = NULL, *a = strtok_r(buf, " \t\r\n", &save);
        if (!a || a[0] == '#')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            lines = realloc(lines, cap * sizeof *lines);
            args = realloc(args, cap * 3 * sizeof *args);
            if (!lines || !args)
                return 1;
        }
        char *x = strtok_r(NULL, " \t\r\n", &save);
        char *d = strtok_r(NULL, " \t\r\n", &save);
        args[n * 3] = strdup(a);
        args[n * 3 + 1] = x ? strdup(x) : NULL;
        args[n * 3 + 2] = d ? strdup(d) : NULL;
        lines[n].out = NULL;
        n++;
    }
    struct mx_smtp *p = mx_smtp_create(&cfg, err, sizeof err);
    if (!p) {
        fprintf(stderr, "smtp_probe_cli: %s\n", err);
        return 1;
    }
    int rc = 0;
    size_t submitted = 0;
    for (size_t i = 0; i < n; i++) {
        struct mx_ip ip;
        if (!mx_ip_parse(args[i * 3], &ip) || !args[i * 3 + 1]) {
            fprintf(stderr, "smtp_probe_cli: line %zu: need ADDR EXCHANGE [RCPT_DOMAIN]\n", i + 1);
            rc = 1;
            continue;
        }
        enum mx_status st = mx_smtp_submit(p, &ip, args[i * 3 + 1], args[i * 3 + 2], on_done,
                                           &lines[i]);
        if (st != MX_OK) {
            fprintf(stderr, "smtp_probe_cli: line %zu: %s\n", i + 1, mx_strerror(st));
            rc = 1;
            continue;
        }
        submitted++;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline ? (time_t)deadline : 3600;
    pthread_mutex_lock(&lock);
    while (done < submitted)
        if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&lock);
    struct mx_smtp_stats st;
    mx_smtp_stats(p, &st);
    mx_smtp_destroy(p); /* answers what is left as aborted */
    for (size_t i = 0; i < n; i++) {
        if (lines[i].out)
            printf("%s\n", lines[i].out);
        free(lines[i].out);
        free(args[i * 3]);
        free(args[i * 3 + 1]);
        free(args[i * 3 + 2]);
    }
    fprintf(stderr,
            "{\"requests\":%llu,\"completed\":%llu,\"connections\":%llu,\"facts_cached\":%llu,"
            "\"rcpt_sent\":%llu,\"rcpt_cached\":%llu,\"not_allowed\":%llu,\"tls_ok\":%llu,"
            "\"tls_failed\":%llu,\"aborted\":%llu}\n",
            (unsigned long long)st.requests, (unsigned long long)st.completed,
            (unsigned long long)st.connections, (unsigned long long)st.facts_cached,
            (unsigned long long)st.rcpt_sent, (unsigned long long)st.rcpt_cached,
            (unsigned long long)st.not_allowed, (unsigned long long)st.tls_ok,
            (unsigned long long)st.tls_failed, (unsigned long long)st.aborted);
    free(lines);
    free(args);
    return rc;
}
