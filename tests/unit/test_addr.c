/* Addresses (addr.h): parsing, CIDR, and "globally reachable" over the IANA
 * IPv4 and IPv6 special-purpose address registries, plus allow lists. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "mx/addr.h"

struct gcase {
    const char *ip;
    bool global;
};

static bool global_of(const char *s, const struct mx_allowlist *allow)
{
    struct mx_ip ip;
    cr_assert(mx_ip_parse(s, &ip), "parse %s", s);
    return mx_ip_is_global(&ip, allow);
}

static void check_table(const struct gcase *c, size_t n, const struct mx_allowlist *allow)
{
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(global_of(c[i].ip, allow), c[i].global, "%s: want %s", c[i].ip,
                     c[i].global ? "global" : "not global");
}

static const struct gcase v4[] = {
    /* ordinary unicast */
    {"17.1.2.3", true},
    {"45.1.2.3", true},
    {"93.184.216.34", true},
    {"223.255.255.255", true},
    /* "this network" 0.0.0.0/8 */
    {"0.0.0.0", false},
    {"0.1.2.3", false},
    /* RFC 1918 and its edges */
    {"10.0.0.1", false},
    {"10.255.255.255", false},
    {"11.0.0.1", true},
    {"9.255.255.255", true},
    {"172.16.0.1", false},
    {"172.31.255.255", false},
    {"172.15.255.255", true},
    {"172.32.0.0", true},
    {"192.168.1.1", false},
    {"192.169.0.1", true},
    /* CGNAT 100.64.0.0/10 */
    {"100.64.0.1", false},
    {"100.127.255.255", false},
    {"100.63.255.255", true},
    {"100.128.0.0", true},
    /* loopback, link-local */
    {"127.0.0.1", false},
    {"127.255.255.254", false},
    {"169.254.1.1", false},
    {"169.255.0.1", true},
    /* IETF protocol assignments 192.0.0.0/24 and its exceptions */
    {"192.0.0.1", false},
    {"192.0.0.8", false},
    {"192.0.0.9", true},
    {"192.0.0.10", true},
    {"192.0.0.11", false},
    {"192.0.0.170", false},
    /* documentation */
    {"192.0.2.1", false},
    {"198.51.100.25", false},
    {"203.0.113.254", false},
    {"203.0.114.1", true},
    /* 6to4 relay anycast, benchmarking */
    {"192.88.99.1", false},
    {"198.18.0.1", false},
    {"198.19.255.255", false},
    {"198.20.0.1", true},
    /* multicast, reserved, broadcast */
    {"224.0.0.1", false},
    {"239.255.255.255", false},
    {"240.0.0.1", false},
    {"255.255.255.255", false},
};

static const struct gcase v6[] = {
    /* global unicast */
    {"2a00:1450:4001:80b::200e", true},
    {"2606:4700::1111", true},
    {"2001:4860:4860::8888", true},
    {"3ffe::1", true},
    /* unspecified, loopback, IPv4-mapped */
    {"::", false},
    {"::1", false},
    {"::ffff:17.1.2.3", false},
    {"::ffff:192.0.2.1", false},
    /* IPv4-IPv6 translation: global; local-use prefix: not */
    {"64:ff9b::808:808", true},
    {"64:ff9b:1::1", false},
    /* discard-only */
    {"100::1", false},
    /* IETF protocol assignments 2001::/23 and exceptions */
    {"2001::1", false},
    {"2001:2::1", false},
    {"2001:1::1", true},
    {"2001:1::2", true},
    {"2001:3::1", true},
    {"2001:4:112::1", true},
    {"2001:20::1", true},
    {"2001:10::1", false},
    /* documentation, 6to4 */
    {"2001:db8::1", false},
    {"2001:db8:ffff::1", false},
    {"2001:db9::1", true},
    {"3fff::1", false},
    {"2002:c000:0204::1", false},
    /* ULA, link-local, multicast */
    {"fc00::1", false},
    {"fd12:3456:789a::1", false},
    {"fe80::1", false},
    {"febf::1", false},
    {"ff02::1", false},
    {"ff0e::1", false},
    /* outside 2000::/3: not allocated as global unicast */
    {"4000::1", false},
    {"1::1", false},
};

Test(addr, ipv4_registry)
{
    check_table(v4, sizeof v4 / sizeof v4[0], NULL);
}

Test(addr, ipv6_registry)
{
    check_table(v6, sizeof v6 / sizeof v6[0], NULL);
}

Test(addr, allow_list)
{
    struct mx_allowlist l;
    char err[MX_ERRLEN] = "";
    memset(&l, 0, sizeof l);
    cr_assert_eq(mx_allowlist_parse(&l, "192.0.2.0/24,2001:db8::/32,10.1.0.0/16", err,
                                    sizeof err),
                 MX_OK, "%s", err);
    cr_expect_eq(l.n, 3);
    static const struct gcase with[] = {
        {"192.0.2.1", true},     {"192.0.2.255", true}, {"198.51.100.1", false},
        {"2001:db8::25", true},  {"2001:db9::1", true}, {"10.1.2.3", true},
        {"10.2.0.1", false},     {"17.1.2.3", true},     {"127.0.0.1", false},
        {"fd00::1", false},
    };
    check_table(with, sizeof with / sizeof with[0], &l);

    /* An empty list changes nothing. */
    struct mx_allowlist empty;
    memset(&empty, 0, sizeof empty);
    cr_expect(!global_of("192.0.2.1", &empty));

    /* Single addresses and appending. */
    cr_assert_eq(mx_allowlist_parse(&l, "127.0.0.1", err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(l.n, 4);
    cr_expect(global_of("127.0.0.1", &l));
    cr_expect(!global_of("127.0.0.2", &l));
}

Test(addr, allow_list_errors)
{
    static const char *const bad[] = {"192.0.2.0/33", "2001:db8::/129", "banana",
                                      "192.0.2.0/",   "192.0.2.0/x",   "1.2.3.4,,5.6.7.8",
                                      "300.1.1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mx_allowlist l;
        char err[MX_ERRLEN] = "";
        memset(&l, 0, sizeof l);
        cr_expect_eq(mx_allowlist_parse(&l, bad[i], err, sizeof err), MX_EINVAL, "%s", bad[i]);
        cr_expect_neq(err[0], 0, "%s: no message", bad[i]);
    }
    /* Full list. */
    struct mx_allowlist l;
    char err[MX_ERRLEN] = "";
    memset(&l, 0, sizeof l);
    for (int i = 0; i < MX_ALLOW_MAX; i++)
        cr_assert_eq(mx_allowlist_parse(&l, "10.0.0.0/8", err, sizeof err), MX_OK);
    cr_expect_eq(mx_allowlist_parse(&l, "10.0.0.0/8", err, sizeof err), MX_EINVAL);
}

Test(addr, parse_format_cidr)
{
    struct mx_ip a, b;
    char buf[64];
    cr_assert(mx_ip_parse("2001:DB8:0:0::1", &a));
    cr_expect_eq(a.family, 6);
    mx_ip_format(&a, buf, sizeof buf);
    cr_expect_str_eq(buf, "2001:db8::1");
    cr_assert(mx_ip_parse("192.0.2.7", &b));
    cr_expect_eq(b.family, 4);
    mx_ip_format(&b, buf, sizeof buf);
    cr_expect_str_eq(buf, "192.0.2.7");
    cr_expect(!mx_ip_equal(&a, &b));
    cr_expect(!mx_ip_parse("192.0.2", &a));
    cr_expect(!mx_ip_parse("1.2.3.4.5", &a));
    cr_expect(!mx_ip_parse("::g", &a));

    struct mx_cidr c;
    cr_assert(mx_cidr_parse("172.16.0.0/12", &c));
    cr_assert(mx_ip_parse("172.20.1.1", &a));
    cr_expect(mx_cidr_contains(&c, &a));
    cr_assert(mx_ip_parse("172.32.0.1", &a));
    cr_expect(!mx_cidr_contains(&c, &a));
    cr_assert(mx_ip_parse("2001:db8::1", &a));
    cr_expect(!mx_cidr_contains(&c, &a)); /* other family */
    cr_assert(mx_cidr_parse("0.0.0.0/0", &c));
    cr_assert(mx_ip_parse("203.0.113.9", &a));
    cr_expect(mx_cidr_contains(&c, &a));
}

/* mx_ip_format writes IPv6 itself (no sprintf per word): it must agree with
 * inet_ntop byte for byte, zero runs and embedded IPv4 forms included. */
Test(addr, format6_equals_inet_ntop)
{
    static const char *fixed[] = {"::", "::1", "::2", "1::", "1:2::", "::ffff:1.2.3.4",
                                  "::1.2.3.4", "::ffff:0:1.2.3.4", "2001:db8::1",
                                  "2001:db8:0:0:1:0:0:1", "2001:0:0:1::1", "fe80::",
                                  "0:0:1::", "1:0:1:0:1:0:1:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                  "::fffe:1.2.3.4", "64:ff9b::192.0.2.33", "2001:db8:1:10::a"};
    unsigned long seed = 12345;
    for (int round = 0; round < 20000 + (int)(sizeof fixed / sizeof fixed[0]); round++) {
        struct mx_ip ip = {.family = 6};
        if (round < (int)(sizeof fixed / sizeof fixed[0])) {
            cr_assert(inet_pton(AF_INET6, fixed[round], ip.b) == 1, "%s", fixed[round]);
        } else {
            /* random words, most of them zero, some 0xffff */
            for (int w = 0; w < 8; w++) {
                seed = seed * 6364136223846793005ul + 1442695040888963407ul;
                unsigned r = (unsigned)(seed >> 33);
                unsigned v = r % 3 ? 0 : (r % 7 == 0 ? 0xffff : (r >> 8) & 0xffff);
                ip.b[2 * w] = (uint8_t)(v >> 8);
                ip.b[2 * w + 1] = (uint8_t)v;
            }
        }
        char ours[64], theirs[64];
        mx_ip_format(&ip, ours, sizeof ours);
        cr_assert(inet_ntop(AF_INET6, ip.b, theirs, sizeof theirs) != NULL);
        cr_assert_str_eq(ours, theirs, "round %d", round);
    }
}
