/* Command-line and config-file options -> struct mx_config. */
#ifndef MX_OPTS_H
#define MX_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "mx/config.h"
#include "mx/scan.h"

enum mx_command { MX_CMD_SCAN, MX_CMD_CHECK, MX_CMD_SPF };

struct mx_opts {
    struct mx_config cfg;
    enum mx_command cmd;
    const char **args;        /* positional arguments (inputs or domains) */
    size_t nargs;
    const char *spf_ip, *spf_sender, *spf_helo;
    const char *config_path;  /* --config (read before the other options) */
    bool help;                /* --help */
    bool have_resolver;       /* --resolver given (else resolv.conf) */
    /* storage for --config lines turned into arguments */
    char **owned;
    size_t nowned;
};

/* Parses argv (argv[0] is the subcommand). Returns 0 on success, otherwise
 * the exit status to use (2 for usage errors, 0 after --help). */
int mx_opts_parse(struct mx_opts *o, enum mx_command cmd, int argc, char **argv);
void mx_opts_free(struct mx_opts *o);
void mx_opts_usage(FILE *f, enum mx_command cmd);
/* resolv.conf name servers into cfg (port 53). */
enum mx_status mx_opts_system_resolvers(struct mx_config *cfg, const char *path, char *err,
                                        size_t errlen);
/* "ADDR[:PORT][,...]" with IPv6 as [ADDR]:PORT or bare ADDR. */
enum mx_status mx_opts_parse_resolvers(struct mx_config *cfg, const char *s, char *err,
                                       size_t errlen);

#endif
