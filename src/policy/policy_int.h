/* Inside src/policy: character classes and the "v=...; name=value; ..."
 * field splitter shared by the MTA-STS and TLS-RPT record parsers. */
#ifndef MX_POLICY_INT_H
#define MX_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>

#define MX_POLICY_LABEL(n, l) l,

static inline bool mx_policy_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static inline bool mx_policy_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static inline char mx_policy_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."): the
 * character at position i. */
static inline bool mx_policy_extname_char(char c, size_t i)
{
    return mx_policy_alnum(c) || (i > 0 && (c == '_' || c == '-' || c == '.'));
}

/* Only spaces and tabs. */
bool mx_policy_blank(const char *s, size_t n);

#define MX_POLICY_FIELDS_MAX 32

struct mx_policy_field {
    const char *name, *value;
    size_t nlen, vlen;
};

struct mx_policy_fields {
    unsigned n;
    struct mx_policy_field f[MX_POLICY_FIELDS_MAX];
};

/* Splits what follows the version tag of a TXT record into fields:
 * *(*WSP ";" *WSP name "=" value) [*WSP ";"] *WSP, where a value runs to the
 * next ";" with trailing blanks cut (the caller checks its characters).
 * false: syntax error (missing ";", empty field, bad name, no "=", too many
 * fields). */
bool mx_policy_fields_split(const char *s, size_t n, struct mx_policy_fields *out);

/* ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no blank, "=" or ";". */
bool mx_policy_ext_value_ok(const char *v, size_t n);

#endif
