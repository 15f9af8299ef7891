/* Host names: normalisation of input names (SPEC 1.1) and the validity
 * rules of the SPEC's "precise rules". Pure functions, no allocation. */
#ifndef MX_NAMES_H
#define MX_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "mx/mx.h"

enum mx_name_check {
    MX_NAME_OK = 0,
    MX_NAME_UNDERSCORE, /* valid except for underscores (looked up anyway) */
    MX_NAME_BAD         /* not a valid host name */
};

/* Trim ASCII whitespace, drop one trailing dot, lowercase, convert UTF-8
 * to A-labels (libidn2 defaults), then validate. out gets the normalised
 * name (at most MX_NAME_MAX + 1 bytes incl. NUL). Returns true when the name
 * is a valid host name; false leaves in out a printable rendering of the
 * input for the CSV (non-printable bytes as \xHH, cut to fit). */
bool mx_name_normalize(const char *in, size_t inlen, char *out, size_t outlen);

/* Checks a presentation-form name (no trailing dot): LDH labels, no leading
 * or trailing hyphen, labels 1..63, total <= 253. */
enum mx_name_check mx_name_check(const char *name);

/* The name is an IPv4 or IPv6 address literal (e.g. "192.0.2.1", "2001:db8::1",
 * also "[192.0.2.1]"). */
bool mx_name_is_ip_literal(const char *name);

/* localhost or localhost.<anything> */
bool mx_name_is_localhost(const char *name);

/* name == suffix or name ends in "." suffix (label boundary). */
bool mx_name_has_suffix(const char *name, const char *suffix);

/* Organizational domain via the Public Suffix List (libpsl built-in list):
 * writes the registrable domain of name into out; falls back to name itself
 * when the PSL gives none. */
void mx_name_org_domain(const char *name, char *out, size_t outlen);

#endif
