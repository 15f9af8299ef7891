/* Organizational domain (RFC 7489 3.2) through libpsl's built-in Public
 * Suffix List: libpsl is maintained with the list itself, handles wildcard
 * and exception rules and IDN, which a hand-written matcher would not.
 * The analysis asks for the same few names again on every re-run of a
 * domain, so each thread remembers its last answers. */
#include <libpsl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mx/hash.h"
#include "mx/names.h"
#include "mx/text.h"

#define MEMO 256 /* direct-mapped, per thread */

struct memo {
    char name[MX_NAME_MAX + 1];
    char org[MX_NAME_MAX + 1];
};

static _Thread_local struct memo memo[MEMO];

static unsigned slot(const char *name, size_t nl)
{
    return (unsigned)(mx_fnv1a(MX_FNV1A_INIT, name, nl) % MEMO);
}

void mx_name_org_domain(const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    /* One or two labels: the name is its own organizational domain (it is
     * either registrable, or a public suffix, for which the name itself is
     * the answer too): no libpsl look-up for most input names. */
    const char *dot = memchr(name, '.', nl);
    if (!dot || !memchr(dot + 1, '.', nl - (size_t)(dot + 1 - name))) {
        mx_text_join(out, outlen, name, "");
        return;
    }
    struct memo *m = nl <= MX_NAME_MAX ? &memo[slot(name, nl)] : NULL;
    if (m && m->name[0] && strcmp(m->name, name) == 0) {
        mx_text_join(out, outlen, m->org, "");
        return;
    }
    const psl_ctx_t *psl = psl_builtin();
    const char *reg = psl ? psl_registrable_domain(psl, name) : NULL;
    mx_text_join(out, outlen, reg ? reg : name, "");
    if (m) {
        memcpy(m->name, name, nl + 1);
        mx_text_join(m->org, sizeof m->org, reg ? reg : name, "");
    }
}
