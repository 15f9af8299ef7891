/* A whole number option of the test drivers (tests/smtp, tests/policy,
 * tests/consistency): the value, or a message and exit 2. */
#ifndef MX_TESTS_CLI_NUM_H
#define MX_TESTS_CLI_NUM_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline unsigned cli_num(const char *prog, const char *opt, const char *s,
                               unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        fprintf(stderr, "%s: bad %s '%s'\n", prog, opt, s);
        exit(2);
    }
    return (unsigned)v;
}

#endif
