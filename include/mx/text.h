/* Small ASCII text helpers shared by the record parsers (SPF, DMARC) and
 * the one-line result formats (SMTP probe, policy fetches). */
#ifndef MX_TEXT_H
#define MX_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* ASCII character classes (no locale: DNS and record syntaxes are ASCII). */
static inline int mx_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}
static inline bool mx_is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool mx_is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static inline bool mx_is_alnum(int c)
{
    return mx_is_alpha(c) || mx_is_digit(c);
}
/* Space, tab, CR, LF, VT, FF (input lines and names are trimmed of these). */
static inline bool mx_is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* s[0..n) equals the lowercase literal lit, ignoring ASCII case. */
bool mx_text_ieq(const char *s, size_t n, const char *lit);
/* Printable, NUL-terminated copy of src[0..slen) cut to dlen: control bytes
 * and DEL become '?'. */
void mx_text_copy_shown(char *dst, size_t dlen, const char *src, size_t slen);
/* dst = a followed by b, cut to dlen - 1 bytes and NUL-terminated, like
 * snprintf(dst, dlen, "%s%s", a, b) without its cost (hot path); returns
 * strlen(a) + strlen(b). */
size_t mx_text_join(char *dst, size_t dlen, const char *a, const char *b);

/* A "key=value ..." line written into buf[0..len), snprintf-style: need
 * counts every byte asked for, so need >= len means it was cut. */
struct mx_text_out {
    char *buf;
    size_t len, need;
};
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void mx_text_put(struct mx_text_out *o, const char *fmt, ...);
/* ' KEY="TEXT"' with '"' and '\' escaped by a backslash and bytes outside
 * printable ASCII as \xHH: one line, whatever a server sent. */
void mx_text_put_quoted(struct mx_text_out *o, const char *key, const char *s);

#endif
