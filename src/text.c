/* Small ASCII text helpers (text.h). */
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
