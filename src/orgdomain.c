/* Organizational domain (RFC 7489 3.2) through libpsl's built-in Public
 * Suffix List: libpsl is maintained with the list itself, handles wildcard
 * and exception rules and IDN, which a hand-written matcher would not. */
#include <libpsl.h>
#include <stdio.h>
#include <string.h>

#include "mx/names.h"

void mx_name_org_domain(const char *name, char *out, size_t outlen)
{
    const psl_ctx_t *psl = psl_builtin();
    const char *reg = psl ? psl_registrable_domain(psl, name) : NULL;
    snprintf(out, outlen, "%s", reg ? reg : name);
}
