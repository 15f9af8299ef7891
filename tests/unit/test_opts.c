/* Options (opts.h): argv arrays through mx_opts_parse (defaults, ranges,
 * usage errors, options after the inputs, --config files), the resolver
 * list syntax, and resolv.conf reading. Every parse names a --resolver so
 * the host's /etc/resolv.conf does not matter. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/opts.h"
#include "mx/scan.h"

#define MAXARGS 64

struct argv_buf {
    int argc;
    char *argv[MAXARGS + 1];
};

/* Copies a NULL-terminated list of strings into writable argv storage. */
static struct argv_buf make_argv(const char *const *list)
{
    struct argv_buf b = {0};
    for (; *list && b.argc < MAXARGS; list++)
        b.argv[b.argc++] = strdup(*list);
    b.argv[b.argc] = NULL;
    return b;
}

static void free_argv(struct argv_buf *b)
{
    for (int i = 0; i < b->argc; i++)
        free(b->argv[i]);
}

static struct mx_opts O;
static struct argv_buf B;

static int parse_cmd(enum mx_command cmd, const char *const *list)
{
    B = make_argv(list);
    fflush(stderr);
    return mx_opts_parse(&O, cmd, B.argc, B.argv);
}

static int parse(const char *const *list)
{
    return parse_cmd(MX_CMD_SCAN, list);
}

static void done(void)
{
    mx_opts_free(&O);
    free_argv(&B);
}

#define ARGS(...) ((const char *const[]){"scan", __VA_ARGS__, NULL})

/* ---- mx_opts_parse ---- */

Test(opts, scan_defaults)
{
    cr_assert_eq(parse(ARGS("--resolver", "127.0.0.1", "-o", "out.zst", "in.txt")), 0);
    const struct mx_config *c = &O.cfg;
    cr_expect_eq(O.cmd, MX_CMD_SCAN);
    cr_expect_eq(c->rate, 2000);
    cr_expect_eq(c->concurrency, 1000);
    cr_expect_eq(c->threads, 2);
    cr_expect_eq(c->timeout_ms, 2000);
    cr_expect_eq(c->retries, 2);
    cr_expect_eq(c->window, 4096);
    cr_expect_eq(c->cache_entries, 200000);
    cr_expect_eq(c->cache_max_age_s, 600);
    cr_expect_eq(c->checks, MX_CHECK_DEFAULT);
    cr_expect_eq(c->shard_index, 0);
    cr_expect_eq(c->shard_count, 1);
    cr_expect_eq(c->zstd_level, 3);
    cr_expect_eq(c->frame_bytes, 4u << 20);
    cr_expect_eq(c->frame_ms, 2000);
    cr_expect_not(c->resume);
    cr_expect_not(c->quiet);
    cr_expect_eq(c->allow.n, 0);
    cr_expect_str_eq(c->output, "out.zst");
    cr_assert_eq(c->ninputs, 1);
    cr_expect_str_eq(c->inputs[0], "in.txt");
    cr_assert_eq(O.nargs, 1);
    cr_assert_eq(c->nservers, 1);
    cr_expect_str_eq(c->servers[0].host, "127.0.0.1");
    cr_expect_eq(c->servers[0].port, 53);
    cr_expect_not(c->servers[0].v6);
    done();
}

Test(opts, numbers_and_lists)
{
    cr_assert_eq(parse(ARGS("-r", "127.0.0.1:5300,[::1]:5301", "--output", "o.csv", "--rate", "50",
                            "--concurrency", "10", "--threads", "16", "--shard", "2/4",
                            "--allow-address", "10.0.0.0/8,fd00::/8", "--checks", "mx",
                            "--timeout", "500", "--retries", "0", "--zstd-level", "19",
                            "--frame-mb", "1", "--checkpoint-interval", "5", "--cache-size",
                            "64", "--cache-max-age", "0", "--window", "7", "--resume", "-q",
                            "--watchdog-ratio", "0.25", "--watchdog-stop", "0", "a", "b")),
              0);
    const struct mx_config *c = &O.cfg;
    cr_expect_eq(c->rate, 50);
    cr_expect_eq(c->concurrency, 10);
    cr_expect_eq(c->threads, 10, "threads capped at the concurrency");
    cr_expect_eq(c->shard_index, 1);
    cr_expect_eq(c->shard_count, 4);
    cr_expect_eq(c->allow.n, 2);
    cr_expect_eq(c->checks, MX_CHECK_MX);
    cr_expect_eq(c->timeout_ms, 500);
    cr_expect_eq(c->retries, 0);
    cr_expect_eq(c->zstd_level, 19);
    cr_expect_eq(c->frame_bytes, 1u << 20);
    cr_expect_eq(c->frame_ms, 5000);
    cr_expect_eq(c->cache_entries, 64);
    cr_expect_eq(c->cache_max_age_s, 0);
    cr_expect_eq(c->window, 7);
    cr_expect(c->resume);
    cr_expect(c->quiet);
    cr_expect(c->watchdog_ratio > 0.249 && c->watchdog_ratio < 0.251);
    cr_expect_eq(c->watchdog_stop_s, 0);
    cr_assert_eq(c->nservers, 2);
    cr_expect_str_eq(c->servers[0].host, "127.0.0.1");
    cr_expect_eq(c->servers[0].port, 5300);
    cr_expect_not(c->servers[0].v6);
    cr_expect_str_eq(c->servers[1].host, "::1");
    cr_expect_eq(c->servers[1].port, 5301);
    cr_expect(c->servers[1].v6);
    cr_expect_eq(c->ninputs, 2);
    done();
}

Test(opts, rate_zero_and_limits)
{
    cr_assert_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--rate", "0", "--rate", "10000000",
                            "in")),
                 0);
    cr_expect_eq(O.cfg.rate, 10000000, "the last one wins");
    done();
}

Test(opts, checks_lists)
{
    static const struct {
        const char *arg;
        unsigned want;
    } cases[] = {
        {"spf", MX_CHECK_MX | MX_CHECK_SPF},
        {"mx,dmarc", MX_CHECK_MX | MX_CHECK_DMARC},
        {"all", MX_CHECK_DEFAULT},
        {"dmarc,spf", MX_CHECK_DEFAULT},
        {"mx,mta-sts", MX_CHECK_MX | MX_CHECK_MTA_STS | MX_CHECK_TLSRPT},
        {"dane", MX_CHECK_MX | MX_CHECK_DANE | MX_CHECK_TLSRPT},
        {"mx,tlsrpt", MX_CHECK_MX | MX_CHECK_TLSRPT},
        {"mx,consistency,dane", MX_CHECK_MX | MX_CHECK_CONSISTENCY | MX_CHECK_DANE | MX_CHECK_TLSRPT},
        {"default,smtp,mta-sts,dane",
         MX_CHECK_DEFAULT | MX_CHECK_SMTP | MX_CHECK_MTA_STS | MX_CHECK_DANE | MX_CHECK_TLSRPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--checks", cases[i].arg, "in")), 0);
        cr_expect_eq(O.cfg.checks, cases[i].want, "--checks %s", cases[i].arg);
        /* DANE reads the AD bit: every query of such a scan asks for it */
        cr_expect_eq(O.cfg.dns_ad, (cases[i].want & MX_CHECK_DANE) != 0, "--checks %s",
                     cases[i].arg);
        done();
    }
}

Test(opts, sts_options)
{
    cr_assert_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "in")), 0);
    cr_expect_eq(O.cfg.sts_port, 443);
    cr_expect_eq(O.cfg.sts_timeout_ms, 20000);
    cr_expect_eq(O.cfg.sts_connect_ms, 10000);
    cr_expect_eq(O.cfg.sts_max_fetches, 32);
    cr_expect(O.cfg.sts_rate == 20.0);
    cr_expect_null(O.cfg.sts_ca_file);
    done();
    cr_assert_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--checks", "mx,mta-sts", "--sts-port",
                            "8443", "--sts-ca-file", "ca.pem", "--sts-rate", "2.5",
                            "--sts-timeout", "5000", "in")),
                 0);
    cr_expect_eq(O.cfg.sts_port, 8443);
    cr_expect_str_eq(O.cfg.sts_ca_file, "ca.pem");
    cr_expect(O.cfg.sts_rate == 2.5);
    cr_expect_eq(O.cfg.sts_timeout_ms, 5000);
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--sts-port", "0", "in")), 2);
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--checks", "mx,mta-sts,bogus", "in")), 2);
    done();
}

Test(opts, usage_errors_exit_2)
{
    static const char *const bad[][4] = {
        {"--rate", "-1"},       {"--rate", "abc"},        {"--rate", "10000001"},
        {"--rate", ""},         {"--rate", "1e3"},        {"--rate", "5x"},
        {"--rate", "+5"},       {"--concurrency", "0"},   {"--threads", "65"},
        {"--timeout", "5"},     {"--retries", "21"},      {"--zstd-level", "0"},
        {"--zstd-level", "20"}, {"--frame-mb", "0"},      {"--cache-size", "63"},
        {"--window", "0"},      {"--shard", "0/4"},       {"--shard", "5/4"},
        {"--shard", "2/0"},     {"--shard", "2/4x"},      {"--shard", "2"},
        {"--shard", "a/b"},     {"--checks", "bogus"},    {"--checks", ""},
        {"--checks", "mx,x"},   {"--allow-address", "x"}, {"--watchdog-ratio", "0"},
        {"--watchdog-ratio", "1.5"}, {"--watchdog-ratio", "x"}, {"--resolver", "nope"},
        {"--bogus", NULL},      {"-x", NULL},             {"--ip", "1.2.3.4"}, /* spf only */
        {"--color", "always"}, /* check only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *list[12];
        size_t n = 0;
        list[n++] = "scan";
        list[n++] = "-r";
        list[n++] = "127.0.0.1";
        list[n++] = "-o";
        list[n++] = "x";
        list[n++] = bad[i][0];
        if (bad[i][1])
            list[n++] = bad[i][1];
        list[n++] = "in";
        list[n] = NULL;
        int rc = parse(list);
        cr_expect_eq(rc, 2, "%s %s: exit %d", bad[i][0], bad[i][1] ? bad[i][1] : "", rc);
        done();
    }
}

Test(opts, missing_things_exit_2)
{
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "in")), 2, "no -o");
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x")), 2, "no input");
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "in", "-o")), 2, "-o without its argument");
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "--rate")), 2);
    done();
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "-", "--resume", "in")), 2,
                 "--resume to stdout");
    done();
}

Test(opts, help)
{
    cr_expect_eq(parse(ARGS("--help")), -1);
    done();
    cr_expect_eq(parse(ARGS("-o", "x", "in", "-h")), -1);
    done();
}

Test(opts, options_after_inputs)
{
    cr_assert_eq(parse(ARGS("in1.txt", "-o", "out.zst", "in2.txt", "--rate", "5", "-",
                            "--resolver", "127.0.0.1")),
                 0);
    cr_expect_eq(O.cfg.rate, 5);
    cr_expect_str_eq(O.cfg.output, "out.zst");
    cr_assert_eq(O.nargs, 3);
    cr_expect_str_eq(O.args[0], "in1.txt");
    cr_expect_str_eq(O.args[1], "in2.txt");
    cr_expect_str_eq(O.args[2], "-", "'-' is stdin, an input");
    done();
}

Test(opts, double_dash_ends_options)
{
    cr_assert_eq(parse(ARGS("-r", "127.0.0.1", "-o", "out.zst", "--", "-a.txt", "--rate",
                            "b.txt")),
                 0);
    cr_expect_eq(O.cfg.rate, 2000, "--rate after -- is a file name");
    cr_assert_eq(O.nargs, 3);
    cr_expect_str_eq(O.args[0], "-a.txt");
    cr_expect_str_eq(O.args[1], "--rate");
    cr_expect_str_eq(O.args[2], "b.txt");
    done();
}

Test(opts, check_and_spf_commands)
{
    cr_assert_eq(parse_cmd(MX_CMD_CHECK,
                           (const char *const[]){"check", "-r", "127.0.0.1", "--color", "never",
                                                 "example.test", NULL}),
                 0);
    cr_expect_eq(O.cmd, MX_CMD_CHECK);
    cr_expect_eq(O.cfg.threads, 1);
    cr_expect_null(O.cfg.output);
    cr_expect_eq(O.nargs, 1);
    done();
    cr_expect_eq(parse_cmd(MX_CMD_CHECK, (const char *const[]){"check", "-r", "127.0.0.1",
                                                               "-o", "x", "a.test", NULL}),
                 2, "-o is for scan only");
    done();
    cr_expect_eq(parse_cmd(MX_CMD_SPF, (const char *const[]){"spf", "-r", "127.0.0.1",
                                                             "example.test", NULL}),
                 2, "spf needs --ip");
    done();
    cr_assert_eq(parse_cmd(MX_CMD_SPF,
                           (const char *const[]){"spf", "-r", "127.0.0.1", "example.test",
                                                 "--ip", "192.0.2.1", "--sender",
                                                 "a@example.test", "--helo", "h.test", NULL}),
                 0);
    cr_expect_str_eq(O.spf_ip, "192.0.2.1");
    cr_expect_str_eq(O.spf_sender, "a@example.test");
    cr_expect_str_eq(O.spf_helo, "h.test");
    done();
}

/* ---- --config ---- */

static char cfgpath[64];

static const char *write_config(const char *text)
{
    snprintf(cfgpath, sizeof cfgpath, "/tmp/mx_test_opts_XXXXXX");
    int fd = mkstemp(cfgpath);
    cr_assert_geq(fd, 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return cfgpath;
}

Test(opts, config_file_and_command_line_wins)
{
    const char *p = write_config("# a comment\n"
                                 "rate 50\n"
                                 "\n"
                                 "  concurrency = 20\n"
                                 "quiet\n"
                                 "output from-config.zst\r\n"
                                 "resolver 127.0.0.1:5300\n");
    cr_assert_eq(parse(ARGS("--rate", "70", "--config", p, "in")), 0);
    cr_expect_eq(O.cfg.rate, 70, "the command line wins");
    cr_expect_eq(O.cfg.concurrency, 20);
    cr_expect(O.cfg.quiet);
    cr_expect_str_eq(O.cfg.output, "from-config.zst");
    cr_assert_eq(O.cfg.nservers, 1);
    cr_expect_eq(O.cfg.servers[0].port, 5300);
    cr_assert_eq(O.nargs, 1);
    cr_expect_str_eq(O.args[0], "in");
    done();
    unlink(p);
}

Test(opts, config_equals_form)
{
    const char *p = write_config("rate 50\nresolver 127.0.0.1\noutput o.zst\n");
    char opt[128];
    snprintf(opt, sizeof opt, "--config=%s", p);
    cr_assert_eq(parse(ARGS(opt, "in")), 0);
    cr_expect_eq(O.cfg.rate, 50);
    done();
    unlink(p);
}

Test(opts, config_errors)
{
    const char *p = write_config("bogus-option 5\n");
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--config", p, "in")), 2);
    done();
    unlink(p);
    p = write_config("rate fast\n");
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--config", p, "in")), 2);
    done();
    unlink(p);
    cr_expect_eq(parse(ARGS("-r", "127.0.0.1", "-o", "x", "--config", "/nonexistent/mx.conf",
                            "in")),
                 2);
    done();
}

/* Many lines and many arguments: the merged argv must fit its array (run
 * under ASan: a config of ~40 lines with ~25 arguments once wrote past it). */
Test(opts, config_many_lines)
{
    static char text[8192];
    for (int lines = 1; lines <= 70; lines++) {
        text[0] = 0;
        for (int i = 0; i < lines; i++)
            strcat(text, "allow-address 10.0.0.0/8\n");
        const char *p = write_config(text);
        int rc = parse(ARGS("-r", "127.0.0.1", "-o", "x", "--rate", "1", "--rate", "2", "--rate",
                            "3", "--rate", "4", "--rate", "5", "--config", p, "a", "b", "c", "d",
                            "e", "f", "g", "h", "i", "j"));
        if (lines <= 60) {
            cr_expect_eq(rc, 0, "%d lines: rc %d", lines, rc);
            cr_expect_eq(O.cfg.rate, 5);
            cr_expect_eq(O.cfg.allow.n, (size_t)lines);
            cr_expect_eq(O.nargs, 10);
        } else {
            cr_expect(rc == 0 || rc == 2, "%d lines: rc %d", lines, rc);
        }
        done();
        unlink(p);
    }
}

/* ---- mx_opts_parse_resolvers ---- */

Test(resolvers, good)
{
    static const struct {
        const char *in;
        size_t n;
        const char *host0;
        unsigned port0;
        bool v6;
    } cases[] = {
        {"127.0.0.1", 1, "127.0.0.1", 53, false},
        {"127.0.0.1:5300", 1, "127.0.0.1", 5300, false},
        {"[::1]:5301", 1, "::1", 5301, true},
        {"[::1]", 1, "::1", 53, true},
        {"::1", 1, "::1", 53, true},
        {"2001:db8::53", 1, "2001:db8::53", 53, true},
        {"192.0.2.1:65535,192.0.2.2:1", 2, "192.0.2.1", 65535, false},
        {"192.0.2.1,,192.0.2.2", 2, "192.0.2.1", 53, false},
        {"127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8", 8, "127.0.0.1", 53,
         false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mx_config c;
        memset(&c, 0, sizeof c);
        char err[MX_ERRLEN] = "";
        cr_assert_eq(mx_opts_parse_resolvers(&c, cases[i].in, err, sizeof err), MX_OK, "%s: %s",
                     cases[i].in, err);
        cr_expect_eq(c.nservers, cases[i].n, "%s", cases[i].in);
        cr_expect_str_eq(c.servers[0].host, cases[i].host0, "%s", cases[i].in);
        cr_expect_eq(c.servers[0].port, cases[i].port0, "%s", cases[i].in);
        cr_expect_eq(c.servers[0].v6, cases[i].v6, "%s", cases[i].in);
    }
    struct mx_config c;
    memset(&c, 0, sizeof c);
    char err[MX_ERRLEN];
    cr_assert_eq(mx_opts_parse_resolvers(&c, "192.0.2.1:5300,[2001:db8::1]:53", err, sizeof err),
                 MX_OK);
    cr_expect_str_eq(c.servers[1].host, "2001:db8::1");
    cr_expect_eq(c.servers[1].port, 53);
    cr_expect(c.servers[1].v6);
}

Test(resolvers, bad)
{
    static const char *const bad[] = {
        "",
        ",",
        "localhost",
        "ns.example.test:53",
        "1.2.3.4:0",
        "1.2.3.4:65536",
        "1.2.3.4:",
        "1.2.3.4:53x",
        "1.2.3.4:-53",
        "1.2.3.4:53:1",
        "256.1.1.1",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[::1]:0",
        "[]:53",
        "[nope]:53",
        "1.2.3.4,bad",
        "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mx_config c;
        memset(&c, 0, sizeof c);
        char err[MX_ERRLEN] = "";
        cr_expect_eq(mx_opts_parse_resolvers(&c, bad[i], err, sizeof err), MX_EINVAL, "'%s'",
                     bad[i]);
        cr_expect_gt(strlen(err), 0, "'%s': an error message", bad[i]);
    }
}

/* ---- mx_opts_system_resolvers ---- */

Test(resolvers, resolv_conf)
{
    const char *p = write_config("# nameserver 192.0.2.9\n"
                                 "; nameserver 192.0.2.8\n"
                                 "search example.test\n"
                                 "nameserver 192.0.2.53\n"
                                 "  nameserver\t2001:db8::53\n"
                                 "nameserver fe80::1%eth0\n"
                                 "nameserver not-an-ip\n"
                                 "options ndots:2 edns0\n");
    struct mx_config c;
    memset(&c, 0, sizeof c);
    char err[MX_ERRLEN] = "";
    cr_assert_eq(mx_opts_system_resolvers(&c, p, err, sizeof err), MX_OK, "%s", err);
    cr_assert_eq(c.nservers, 3);
    cr_expect_str_eq(c.servers[0].host, "192.0.2.53");
    cr_expect_not(c.servers[0].v6);
    cr_expect_str_eq(c.servers[1].host, "2001:db8::53");
    cr_expect(c.servers[1].v6);
    cr_expect_str_eq(c.servers[2].host, "fe80::1", "the %%scope is dropped");
    cr_expect(c.servers[2].v6);
    for (size_t i = 0; i < c.nservers; i++)
        cr_expect_eq(c.servers[i].port, 53);
    unlink(p);
}

Test(resolvers, resolv_conf_limits_and_errors)
{
    static char text[4096];
    text[0] = 0;
    for (int i = 1; i <= 12; i++) {
        char line[64];
        snprintf(line, sizeof line, "nameserver 192.0.2.%d\n", i);
        strcat(text, line);
    }
    const char *p = write_config(text);
    struct mx_config c;
    memset(&c, 0, sizeof c);
    char err[MX_ERRLEN] = "";
    cr_assert_eq(mx_opts_system_resolvers(&c, p, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(c.nservers, MX_MAX_SERVERS);
    unlink(p);

    p = write_config("search example.test\n# nameserver 1.2.3.4\n");
    cr_expect_eq(mx_opts_system_resolvers(&c, p, err, sizeof err), MX_EINVAL);
    cr_expect_eq(c.nservers, 0);
    unlink(p);
    cr_expect_eq(mx_opts_system_resolvers(&c, "/nonexistent/resolv.conf", err, sizeof err),
                 MX_EIO);
}
