/* Host names: normalisation of input names (SPEC 1.1) and the validity
 * rules of the SPEC's "precise rules".
 *
 * Normalisation: trim ASCII whitespace (and a leading UTF-8 BOM), drop one
 * trailing dot, lowercase ASCII, convert to A-labels with libidn2 when the
 * name has non-ASCII bytes or an "xn--" label (libidn2 then also checks
 * that A-label by decoding it), and validate with mx_name_check. Only
 * MX_NAME_OK is valid for input names: an underscore makes an input name
 * invalid (only exchanges get the underscore leniency, in the classifier).
 * The ASCII path does not allocate; libidn2 does. */
#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mx/names.h"
#include "mx/text.h"

#define LABEL_MAX 63
/* Non-ASCII input longer than this (after trimming) is refused: a 253-octet
 * name has at most 4 labels of 63 octets, which cannot come from more than
 * about 4 * 63 UTF-8 characters of 4 bytes. */
#define UTF8_INPUT_MAX 2048

/* Length of the well-formed UTF-8 sequence at s (1..4), 0 if ill-formed.
 * *cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1Fu;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0Fu;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Printable rendering for the CSV: control bytes (C0, DEL, C1) and bytes of
 * ill-formed UTF-8 as \xHH; never splits an escape or a character. */
static void render(const unsigned char *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    size_t i = 0;

    while (i < n) {
        uint32_t cp = 0;
        size_t l = utf8_seq(s + i, n - i, &cp);
        size_t take = l ? l : 1;
        bool esc = l == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
        size_t need = esc ? 4 * take : take;
        if (w + need >= outlen)
            break;
        for (size_t k = 0; k < take; k++) {
            unsigned char c = s[i + k];
            if (esc) {
                out[w++] = '\\';
                out[w++] = 'x';
                out[w++] = hex[c >> 4];
                out[w++] = hex[c & 15];
            } else {
                out[w++] = (char)c;
            }
        }
        i += take;
    }
    out[w] = 0;
}

static bool has_alabel(const char *name)
{
    const char *p = name;
    for (;;) {
        if (strncmp(p, "xn--", 4) == 0)
            return true;
        p = strchr(p, '.');
        if (!p)
            return false;
        p++;
    }
}

/* p[0..n): trimmed, without NUL bytes. */
static bool convert(const unsigned char *p, size_t n, char *out, size_t outlen)
{
    char buf[UTF8_INPUT_MAX + 1];
    char *idn = NULL;
    const char *name = buf;
    bool dropped = false;
    bool ascii = true;
    bool ok = false;

    if (n > 0 && p[n - 1] == '.') {
        n--;
        dropped = true;
    }
    if (n == 0 || n > UTF8_INPUT_MAX)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x80)
            ascii = false;
        buf[i] = (char)(unsigned char)mx_lower(p[i]);
    }
    buf[n] = 0;
    if (!ascii || has_alabel(buf)) {
        if (idn2_to_ascii_8z(buf, &idn, IDN2_NONTRANSITIONAL) != IDN2_OK || !idn)
            goto out;
        size_t l = strlen(idn);
        for (size_t i = 0; i < l; i++)
            idn[i] = (char)(unsigned char)mx_lower((unsigned char)idn[i]);
        /* a full stop mapped from U+3002 and the like: still one dot only */
        if (!dropped && l > 0 && idn[l - 1] == '.')
            idn[l - 1] = 0;
        name = idn;
    }
    if (mx_name_check(name) != MX_NAME_OK)
        goto out;
    size_t len = strlen(name);
    if (len >= outlen)
        goto out;
    memcpy(out, name, len + 1);
    ok = true;
out:
    if (idn)
        idn2_free(idn);
    return ok;
}

bool mx_name_normalize(const char *in, size_t inlen, char *out, size_t outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t b = 0;
    size_t e = inlen;

    if (!out || outlen == 0)
        return false;
    out[0] = 0;
    if (!in)
        return false;
    while (b < e && mx_is_space(s[b]))
        b++;
    if (e - b >= 3 && s[b] == 0xEF && s[b + 1] == 0xBB && s[b + 2] == 0xBF) {
        b += 3;
        while (b < e && mx_is_space(s[b]))
            b++;
    }
    while (e > b && mx_is_space(s[e - 1]))
        e--;
    if (e > b && !memchr(s + b, 0, e - b) && convert(s + b, e - b, out, outlen))
        return true;
    render(s + b, e - b, out, outlen);
    return false;
}

enum mx_name_check mx_name_check(const char *name)
{
    size_t total = 0;
    size_t label = 0;
    bool underscore = false;
    unsigned char prev = 0;

    if (!name || !*name)
        return MX_NAME_BAD;
    for (const char *p = name;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.' || c == 0) {
            if (label == 0 || label > LABEL_MAX || prev == '-')
                return MX_NAME_BAD;
            if (c == 0)
                break;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9')) {
            label++;
        } else if (c == '-') {
            if (label == 0)
                return MX_NAME_BAD;
            label++;
        } else if (c == '_') {
            underscore = true;
            label++;
        } else {
            return MX_NAME_BAD;
        }
        prev = c;
        if (++total > MX_NAME_MAX)
            return MX_NAME_BAD;
    }
    return underscore ? MX_NAME_UNDERSCORE : MX_NAME_OK;
}

static bool is_addr(const char *s, size_t n, int af)
{
    char buf[64];
    unsigned char bin[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    return inet_pton(af, buf, bin) == 1;
}

bool mx_name_is_ip_literal(const char *name)
{
    size_t n;

    if (!name)
        return false;
    n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
        name++;
        n -= 2;
    }
    if (n >= 5 && strncasecmp(name, "ipv6:", 5) == 0)
        return is_addr(name + 5, n - 5, AF_INET6);
    return is_addr(name, n, AF_INET) || is_addr(name, n, AF_INET6);
}

bool mx_name_is_localhost(const char *name)
{
    if (!name || strncasecmp(name, "localhost", 9) != 0)
        return false;
    return name[9] == 0 || name[9] == '.';
}

bool mx_name_has_suffix(const char *name, const char *suffix)
{
    size_t n, s;

    if (!name || !suffix)
        return false;
    n = strlen(name);
    s = strlen(suffix);
    if (n == s)
        return strcasecmp(name, suffix) == 0;
    if (n < s + 1)
        return false;
    return name[n - s - 1] == '.' && strcasecmp(name + n - s, suffix) == 0;
}
