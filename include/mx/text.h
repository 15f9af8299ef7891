/* Small ASCII text helpers shared by the record parsers (SPF, DMARC). */
#ifndef MX_TEXT_H
#define MX_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* s[0..n) equals the lowercase literal lit, ignoring ASCII case. */
bool mx_text_ieq(const char *s, size_t n, const char *lit);
/* Printable, NUL-terminated copy of src[0..slen) cut to dlen: control bytes
 * and DEL become '?'. */
void mx_text_copy_shown(char *dst, size_t dlen, const char *src, size_t slen);
/* dst = a followed by b, cut to dlen - 1 bytes and NUL-terminated, like
 * snprintf(dst, dlen, "%s%s", a, b) without its cost (hot path); returns
 * strlen(a) + strlen(b). */
size_t mx_text_join(char *dst, size_t dlen, const char *a, const char *b);

#endif
