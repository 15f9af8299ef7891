/* Small ASCII text helpers (text.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mx/text.h"

bool mx_text_ieq(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (c != (unsigned char)lit[i])
            return false;
    }
    return true;
}

void mx_text_copy_shown(char *dst, size_t dlen, const char *src, size_t slen)
{
    if (dlen == 0)
        return;
    size_t n = slen < dlen - 1 ? slen : dlen - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[n] = 0;
}

size_t mx_text_join(char *dst, size_t dlen, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), w = 0;
    if (dlen == 0)
        return la + lb;
    size_t ca = la < dlen - 1 ? la : dlen - 1;
    memcpy(dst, a, ca);
    w = ca;
    size_t cb = lb < dlen - 1 - w ? lb : dlen - 1 - w;
    memcpy(dst + w, b, cb);
    dst[w + cb] = 0;
    return la + lb;
}

void mx_text_put(struct mx_text_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->need < o->len ? o->len - o->need : 0;
    int n = vsnprintf(room ? o->buf + o->need : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->need += (size_t)n;
}

void mx_text_put_quoted(struct mx_text_out *o, const char *key, const char *s)
{
    mx_text_put(o, " %s=\"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            mx_text_put(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            mx_text_put(o, "\\x%02x", c);
        else
            mx_text_put(o, "%c", c);
    }
    mx_text_put(o, "\"");
}
