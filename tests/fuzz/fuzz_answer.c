/* Fuzz target for the DNS wire reader: the bytes are a response to
 * "example.test" read as MX, A, AAAA, TXT, PTR, NS and SOA through mx_answer_from_wire
 * (and to a name with odd octets, as SPF macros make them),
 * every kept record iterated and checked against the answer's bounds; and
 * mx_wire_name at several offsets. Builds as a libFuzzer target or, with
 * replay_main.c, as a corpus replay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx/answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct mx_answer *a, uint16_t qtype)
{
    if (!a)
        return; /* out of memory */
    if (a->qtype != qtype || (unsigned)a->rc >= MX_RC_COUNT || a->size > a->cap ||
        a->cap > MX_ANSWER_MAX)
        abort();
    size_t off = 0, prev = 0;
    unsigned n = 0;
    struct mx_rdata rd;
    while (mx_answer_next(a, &off, &rd)) {
        if (off <= prev || off > a->size)
            abort();
        prev = off;
        switch (qtype) {
        case MX_T_MX:
        case MX_T_PTR:
        case MX_T_NS:
        case MX_T_SOA:
            if (strlen(rd.name) > 1023)
                abort();
            for (const char *p = rd.name; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
                    (*p >= 'A' && *p <= 'Z'))
                    abort(); /* presentation form: escaped, lowercase */
            break;
        case MX_T_TXT:
            if (rd.txt_len > MX_ANSWER_MAX || rd.txt[rd.txt_len] != 0)
                abort();
            break;
        default:
            if (rd.ip.family != (qtype == MX_T_A ? 4 : 6))
                abort();
            break;
        }
        n++;
    }
    if (n != a->count || off != a->size)
        abort();
    if (n > 0 && !mx_answer_get(a, n - 1, &rd))
        abort();
    if (mx_answer_get(a, n, &rd))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {MX_T_MX, MX_T_A,   MX_T_AAAA, MX_T_TXT,
                                     MX_T_PTR, MX_T_NS, MX_T_SOA};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct mx_answer *a = mx_answer_from_wire(data, size, "example.test", types[i]);
        check(a, types[i]);
        free(a);
    }
    struct mx_answer *odd = mx_answer_from_wire(data, size, "a b%\\\\c\\.d.test", MX_T_A);
    check(odd, MX_T_A);
    free(odd);
    /* names at the question, at each of the first offsets and near the end */
    char out[1024];
    for (size_t o = 0; o < size && o < 64; o++) {
        size_t off = o;
        if (mx_wire_name(data, size, &off, out, sizeof out)) {
            if (off <= o || off > size || strlen(out) > 1023)
                abort();
        } else if (off != o) {
            abort();
        }
        /* a tiny buffer must fail cleanly or fit */
        off = o;
        char small[8];
        if (mx_wire_name(data, size, &off, small, sizeof small) && strlen(small) >= sizeof small)
            abort();
    }
    if (size > 2) {
        size_t off = size - 2;
        (void)mx_wire_name(data, size, &off, out, sizeof out);
    }
    return 0;
}
