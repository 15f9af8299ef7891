/* IP addresses and the IANA special-purpose address registries. */
#include <arpa/inet.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mx/addr.h"

bool mx_ip_parse(const char *s, struct mx_ip *out)
{
    memset(out, 0, sizeof *out);
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->b) != 1)
            return false;
        out->family = 6;
        return true;
    }
    if (inet_pton(AF_INET, s, out->b) != 1)
        return false;
    out->family = 4;
    return true;
}

static size_t put_dec(char *buf, unsigned v)
{
    size_t w = 0;
    if (v >= 100)
        buf[w++] = (char)('0' + v / 100);
    if (v >= 10)
        buf[w++] = (char)('0' + v / 10 % 10);
    buf[w++] = (char)('0' + v % 10);
    return w;
}

/* IPv6 text exactly as glibc's inet_ntop writes it (RFC 5952 style: the
 * first longest run of two or more zero words as "::", lowercase hex, and
 * the IPv4-compatible and IPv4-mapped forms with a dotted tail), without
 * its sprintf per word: this runs for every address of every row. */
static void format6(const uint8_t *b, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    unsigned words[8];
    int best = -1, best_len = 0, cur = -1, cur_len = 0;
    for (int i = 0; i < 8; i++) {
        words[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
        if (words[i] == 0) {
            if (cur < 0) {
                cur = i;
                cur_len = 1;
            } else {
                cur_len++;
            }
        } else if (cur >= 0) {
            if (best < 0 || cur_len > best_len) {
                best = cur;
                best_len = cur_len;
            }
            cur = -1;
        }
    }
    if (cur >= 0 && (best < 0 || cur_len > best_len)) {
        best = cur;
        best_len = cur_len;
    }
    if (best >= 0 && best_len < 2)
        best = -1;
    size_t w = 0;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best)
                buf[w++] = ':';
            continue;
        }
        if (i != 0)
            buf[w++] = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && words[5] == 0xffff))) {
            for (int k = 12; k < 16; k++) {
                w += put_dec(buf + w, b[k]);
                if (k < 15)
                    buf[w++] = '.';
            }
            buf[w] = 0;
            return;
        }
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned d = words[i] >> shift & 0xF;
            if (d || started || shift == 0) {
                buf[w++] = hex[d];
                started = true;
            }
        }
    }
    if (best >= 0 && best + best_len == 8)
        buf[w++] = ':';
    buf[w] = 0;
}

void mx_ip_format(const struct mx_ip *ip, char *buf, size_t len)
{
    if (ip->family == 4 && len >= 16) {
        /* inet_ntop formats IPv4 through sprintf: too slow per row */
        size_t w = 0;
        for (int i = 0; i < 4; i++) {
            unsigned v = ip->b[i];
            if (i)
                buf[w++] = '.';
            if (v >= 100)
                buf[w++] = (char)('0' + v / 100);
            if (v >= 10)
                buf[w++] = (char)('0' + v / 10 % 10);
            buf[w++] = (char)('0' + v % 10);
        }
        buf[w] = 0;
        return;
    }
    if (ip->family == 6 && len >= 46) {
        format6(ip->b, buf);
        return;
    }
    if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

bool mx_ip_equal(const struct mx_ip *a, const struct mx_ip *b)
{
    return a->family == b->family && memcmp(a->b, b->b, a->family == 4 ? 4 : 16) == 0;
}

bool mx_cidr_parse(const char *s, struct mx_cidr *out)
{
    char tmp[64];
    size_t l = strlen(s);
    if (l >= sizeof tmp)
        return false;
    memcpy(tmp, s, l + 1);
    char *slash = strchr(tmp, '/');
    unsigned long plen;
    if (slash)
        *slash = 0;
    if (!mx_ip_parse(tmp, &out->ip))
        return false;
    unsigned max = out->ip.family == 4 ? 32 : 128;
    if (slash) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return false;
        plen = strtoul(slash + 1, &end, 10);
        if (*end || plen > max)
            return false;
    } else {
        plen = max;
    }
    out->len = (uint8_t)plen;
    return true;
}

bool mx_cidr_contains(const struct mx_cidr *c, const struct mx_ip *ip)
{
    if (c->ip.family != ip->family)
        return false;
    unsigned full = c->len / 8, rest = c->len % 8;
    if (memcmp(c->ip.b, ip->b, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xFF << (8 - rest));
        if ((c->ip.b[full] & mask) != (ip->b[full] & mask))
            return false;
    }
    return true;
}

enum mx_status mx_allowlist_parse(struct mx_allowlist *l, const char *csv, char *err, size_t errlen)
{
    const char *p = csv;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char tmp[64];
        if (n == 0 || n >= sizeof tmp) {
            snprintf(err, errlen, "bad address range '%.*s'", (int)(n > 60 ? 60 : n), p);
            return MX_EINVAL;
        }
        memcpy(tmp, p, n);
        tmp[n] = 0;
        if (l->n >= MX_ALLOW_MAX) {
            snprintf(err, errlen, "too many address ranges (at most %d)", MX_ALLOW_MAX);
            return MX_EINVAL;
        }
        if (!mx_cidr_parse(tmp, &l->r[l->n])) {
            snprintf(err, errlen, "bad address range '%s' (want e.g. 192.0.2.0/24 or 2001:db8::/32)",
                     tmp);
            return MX_EINVAL;
        }
        l->n++;
        p += n;
        if (*p == ',')
            p++;
    }
    return MX_OK;
}

/* IANA IPv4/IPv6 Special-Purpose Address Registries: "Globally Reachable"
 * column. Exceptions (globally reachable inside a non-global block) come
 * first; a match there decides. */
struct range {
    const char *cidr;
    bool global;
};

static const struct range special[] = {
    /* IPv4 exceptions */
    {"192.0.0.9/32", true},  /* Port Control Protocol anycast */
    {"192.0.0.10/32", true}, /* TURN anycast */
    /* IPv4 not globally reachable */
    {"0.0.0.0/8", false},       /* "this network" */
    {"10.0.0.0/8", false},      /* RFC 1918 */
    {"100.64.0.0/10", false},   /* shared address space (CGNAT) */
    {"127.0.0.0/8", false},     /* loopback */
    {"169.254.0.0/16", false},  /* link local */
    {"172.16.0.0/12", false},   /* RFC 1918 */
    {"192.0.0.0/24", false},    /* IETF protocol assignments */
    {"192.0.2.0/24", false},    /* documentation TEST-NET-1 */
    {"192.88.99.0/24", false},  /* deprecated 6to4 relay anycast */
    {"192.168.0.0/16", false},  /* RFC 1918 */
    {"198.18.0.0/15", false},   /* benchmarking */
    {"198.51.100.0/24", false}, /* documentation TEST-NET-2 */
    {"203.0.113.0/24", false},  /* documentation TEST-NET-3 */
    {"224.0.0.0/4", false},     /* multicast: not unicast */
    {"240.0.0.0/4", false},     /* reserved, incl. limited broadcast */
    /* IPv6 exceptions */
    {"2001:1::1/128", true},  /* Port Control Protocol anycast */
    {"2001:1::2/128", true},  /* TURN anycast */
    {"2001:1::3/128", true},  /* DNS-SD SRP anycast */
    {"2001:3::/32", true},    /* AMT */
    {"2001:4:112::/48", true}, /* AS112-v6 */
    {"2001:20::/28", true},   /* ORCHIDv2 */
    {"2001:30::/28", true},   /* drone remote ID */
    {"64:ff9b::/96", true},   /* IPv4-IPv6 translation */
    /* IPv6 not globally reachable */
    {"::/128", false},          /* unspecified */
    {"::1/128", false},         /* loopback */
    {"::ffff:0:0/96", false},   /* IPv4-mapped */
    {"64:ff9b:1::/48", false},  /* local-use IPv4/IPv6 translation */
    {"100::/64", false},        /* discard-only */
    {"100:0:0:1::/64", false},  /* dummy prefix */
    {"2001::/23", false},       /* IETF protocol assignments */
    {"2001:db8::/32", false},   /* documentation */
    {"2002::/16", false},       /* 6to4 */
    {"3fff::/20", false},       /* documentation (RFC 9637) */
    {"5f00::/16", false},       /* SRv6 SIDs */
    {"fc00::/7", false},        /* unique local */
    {"fe80::/10", false},       /* link-local unicast */
    {"ff00::/8", false},        /* multicast: not unicast */
};

#define NSPECIAL (sizeof special / sizeof special[0])

static struct mx_cidr special_parsed[NSPECIAL];
static pthread_once_t special_once = PTHREAD_ONCE_INIT;

static void special_init(void)
{
    /* Once per process (pthread_once), whichever thread asks first. */
    for (size_t i = 0; i < NSPECIAL; i++)
        if (!mx_cidr_parse(special[i].cidr, &special_parsed[i]))
            abort(); /* programmer error in the table above */
}

bool mx_ip_is_global(const struct mx_ip *ip, const struct mx_allowlist *allow)
{
    if (allow)
        for (size_t i = 0; i < allow->n; i++)
            if (mx_cidr_contains(&allow->r[i], ip))
                return true;
    pthread_once(&special_once, special_init);
    for (size_t i = 0; i < NSPECIAL; i++)
        if (mx_cidr_contains(&special_parsed[i], ip))
            return special[i].global;
    if (ip->family == 6) {
        /* Outside 2000::/3 nothing else is allocated as global unicast. */
        return (ip->b[0] & 0xE0) == 0x20;
    }
    return true;
}
