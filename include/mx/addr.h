/* IP addresses: parsing, formatting, and whether an address is globally
 * reachable (IANA IPv4/IPv6 special-purpose registries, plus --allow-address). */
#ifndef MX_ADDR_H
#define MX_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/mx.h"

struct mx_ip {
    uint8_t family; /* 4 or 6 */
    uint8_t b[16];  /* IPv4 in b[0..3] */
};

struct mx_cidr {
    struct mx_ip ip;
    uint8_t len;
};

#define MX_ALLOW_MAX 64
struct mx_allowlist {
    size_t n;
    struct mx_cidr r[MX_ALLOW_MAX];
};

/* Parses a dotted-quad or RFC 4291 text address. */
bool mx_ip_parse(const char *s, struct mx_ip *out);
/* Writes the canonical text form (inet_ntop) into buf (>= 46 bytes). */
void mx_ip_format(const struct mx_ip *ip, char *buf, size_t len);
bool mx_ip_equal(const struct mx_ip *a, const struct mx_ip *b);
bool mx_cidr_parse(const char *s, struct mx_cidr *out);
bool mx_cidr_contains(const struct mx_cidr *c, const struct mx_ip *ip);
/* "CIDR[,CIDR...]" appended to the list; err filled on failure. */
enum mx_status mx_allowlist_parse(struct mx_allowlist *l, const char *csv, char *err, size_t errlen);
/* Globally reachable unicast per the IANA registries, or inside the allow list. */
bool mx_ip_is_global(const struct mx_ip *ip, const struct mx_allowlist *allow);

#endif
