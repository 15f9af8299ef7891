/* Batched c-ares socket I/O (sockio.h): the query builder agrees byte for
 * byte with ares_create_query and refuses what it refuses; a real c-ares
 * channel over loopback, answered by the test itself, gets every answer
 * through the batched functions, with far fewer receive calls than
 * datagrams. */
#include <sys/select.h>

#include <arpa/inet.h>
#include <ares.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mx/sockio.h"

static void same_as_cares(const char *name, uint16_t qtype)
{
    unsigned char ours[512];
    unsigned char *theirs = NULL;
    int tlen = 0;
    size_t n = mx_dns_build_query(ours, sizeof ours, 0x1234, name, qtype, 1232);
    int rc = ares_create_query(name, 1, qtype, 0x1234, 1, &theirs, &tlen, 1232);
    cr_assert_eq(rc, ARES_SUCCESS, "%s: c-ares refuses it", name);
    cr_assert_eq(n, (size_t)tlen, "%s: length %zu, c-ares %d", name, n, tlen);
    cr_assert_arr_eq(ours, theirs, n, "%s: bytes differ", name);
    ares_free_string(theirs);
}

Test(sockio, query_bytes_equal_ares_create_query)
{
    char l63[64], long_name[256];
    memset(l63, 'a', 63);
    l63[63] = 0;
    /* 4 labels of 61 + dots = 247 characters, a legal long name */
    memset(long_name, 'b', sizeof long_name);
    for (int i = 61; i < 247; i += 62)
        long_name[i] = '.';
    long_name[247] = 0;
    const char *names[] = {"example.com", "a.b.c.d.e.f", "xn--bcher-kva.test", "x",
                           "mail.example.com.", "under_score.test", "198.51.100.7",
                           "weird\\.dot.test", l63, long_name};
    const uint16_t types[] = {1, 15, 16, 28, 12};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
            same_as_cares(names[i], types[t]);
}

/* \DDD is a decimal byte (RFC 1035 5.1), as the wire reader writes odd
 * bytes; c-ares 1.18.1 would send the digits themselves. */
Test(sockio, decimal_escapes_are_bytes)
{
    unsigned char buf[512];
    size_t n = mx_dns_build_query(buf, sizeof buf, 7, "a\\065\\000b.t", 1, 1232);
    static const unsigned char qname[] = {4, 'a', 'A', 0, 'b', 1, 't', 0};
    cr_assert_gt(n, 12 + sizeof qname);
    cr_assert_arr_eq(buf + 12, qname, sizeof qname);
    n = mx_dns_build_query(buf, sizeof buf, 7, "x\\.y.t", 1, 1232);
    static const unsigned char q2[] = {3, 'x', '.', 'y', 1, 't', 0};
    cr_assert_gt(n, 12 + sizeof q2);
    cr_assert_arr_eq(buf + 12, q2, sizeof q2);
}

Test(sockio, refuses_bad_names)
{
    unsigned char buf[512];
    char l64[80];
    memset(l64, 'a', 64);
    strcpy(l64 + 64, ".test");
    char too_long[300];
    memset(too_long, 'c', sizeof too_long);
    for (int i = 50; i < 299; i += 51)
        too_long[i] = '.';
    too_long[299] = 0;
    const char *bad[] = {l64, "a..b", ".lead", too_long, "bad\\", "bad\\25", "bad\\999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(mx_dns_build_query(buf, sizeof buf, 1, bad[i], 1, 1232), 0, "%s", bad[i]);
    cr_expect_eq(mx_dns_build_query(buf, 100, 1, "example.com", 1, 1232), 0, "small buffer");
}

struct got {
    int answers, errors;
};

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    (void)abuf;
    struct got *g = arg;
    if (status == ARES_SUCCESS && alen > 12)
        g->answers++;
    else
        g->errors++;
}

static void sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    (void)writable;
    int *cfd = data;
    if (readable)
        *cfd = fd;
}

Test(sockio, batched_round_trip_through_cares)
{
    enum { N = 400 };
    int srv = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(srv, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(srv, (struct sockaddr *)&sa, &sl);
    int big = 4 << 20;
    setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);

    cr_assert_eq(ares_library_init(ARES_LIB_INIT_ALL), ARES_SUCCESS);
    ares_channel ch;
    int cfd = -1;
    struct ares_options o = {0};
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_STAYOPEN;
    o.tries = 1;
    o.timeout = 5000;
    o.sock_state_cb = sock_cb;
    o.sock_state_cb_data = &cfd;
    cr_assert_eq(ares_init_options(&ch, &o,
                                   ARES_OPT_FLAGS | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS |
                                       ARES_OPT_SOCK_STATE_CB),
                 ARES_SUCCESS);
    char csv[64];
    snprintf(csv, sizeof csv, "127.0.0.1:%u", ntohs(sa.sin_port));
    cr_assert_eq(ares_set_servers_ports_csv(ch, csv), ARES_SUCCESS);
    struct mx_sockio *io = mx_sockio_create(1 << 20, 1 << 20);
    mx_sockio_attach(io, ch);

    struct got g = {0, 0};
    for (int i = 0; i < N; i++) {
        unsigned char q[512];
        char name[64];
        snprintf(name, sizeof name, "n%d.example.test", i);
        size_t len = mx_dns_build_query(q, sizeof q, (uint16_t)(100 + i), name, 15, 1232);
        cr_assert_gt(len, 0);
        ares_send(ch, q, (int)len, on_answer, &g);
    }
    struct mx_sockio_stats st;
    mx_sockio_get_stats(io, &st);
    cr_expect_lt(st.sent, N, "sends are queued until the flush");
    cr_expect_eq(st.sent % 64, 0, "full batches only before the flush");
    cr_assert_not(mx_sockio_flush(io));
    mx_sockio_get_stats(io, &st);
    cr_expect_eq(st.sent, N);
    cr_expect_leq(st.send_calls, N / 64 + 2, "%lu sendmmsg calls for %d queries",
                  (unsigned long)st.send_calls, N);

    /* Answer every query: echo it with QR set, RCODE 0 (no records). */
    for (int i = 0; i < N; i++) {
        unsigned char b[1500];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(srv, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
        cr_assert_gt(n, 12);
        b[2] |= 0x80;
        b[3] = 0x80;
        sendto(srv, b, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    cr_assert_geq(cfd, 0);
    for (int spin = 0; spin < 100 && g.answers + g.errors < N; spin++) {
        struct pollfd p = {.fd = cfd, .events = POLLIN};
        poll(&p, 1, 100);
        ares_process_fd(ch, cfd, ARES_SOCKET_BAD);
    }
    cr_expect_eq(g.answers, N, "%d answers, %d errors", g.answers, g.errors);
    mx_sockio_get_stats(io, &st);
    cr_expect_eq(st.received, N);
    cr_expect_lt(st.recv_calls, N / 4, "%lu recvmmsg calls for %d answers",
                 (unsigned long)st.recv_calls, N);
    ares_destroy(ch);
    mx_sockio_destroy(io);
    ares_library_cleanup();
    close(srv);
}

/* RD clear (MX_DNSQ_NORD): byte for byte ares_create_query with rd = 0;
 * flags 0 give exactly mx_dns_build_query's bytes. */
Test(sockio, norecurse_query_bytes)
{
    const char *names[] = {"example.com", "alpha.test", "x"};
    const uint16_t types[] = {6, 15, 2};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            unsigned char ours[512], plain[512];
            unsigned char *theirs = NULL;
            int tlen = 0;
            size_t n = mx_dns_build_query_flags(ours, sizeof ours, 0x4321, names[i], types[t],
                                                1232, MX_DNSQ_NORD);
            cr_assert_eq(ares_create_query(names[i], 1, types[t], 0x4321, 0, &theirs, &tlen,
                                           1232),
                         ARES_SUCCESS);
            cr_assert_eq(n, (size_t)tlen);
            cr_assert_arr_eq(ours, theirs, n, "%s: bytes differ", names[i]);
            cr_expect_eq(ours[2] & 0x01, 0, "RD clear");
            ares_free_string(theirs);
            size_t m = mx_dns_build_query(plain, sizeof plain, 0x4321, names[i], types[t], 1232);
            size_t k = mx_dns_build_query_flags(ours, sizeof ours, 0x4321, names[i], types[t],
                                                1232, 0);
            cr_assert_eq(m, k);
            cr_assert_arr_eq(ours, plain, m);
        }
}

/* The flags variant: no flags gives the same bytes; AD and CD sit in the
 * header, DO in the OPT record's flags, nothing else changes. */
Test(sockio, query_flags)
{
    unsigned char plain[512], f[512];
    size_t n = mx_dns_build_query(plain, sizeof plain, 0x4242, "_25._tcp.mx.example.test", 52, 1232);
    cr_assert_gt(n, 0);
    cr_assert_eq(mx_dns_build_query_flags(f, sizeof f, 0x4242, "_25._tcp.mx.example.test", 52,
                                          1232, 0), n);
    cr_assert_arr_eq(f, plain, n);
    cr_assert_eq(mx_dns_build_query_flags(f, sizeof f, 0x4242, "_25._tcp.mx.example.test", 52,
                                          1232, MX_DNSQ_AD), n);
    cr_expect_eq(f[3], plain[3] | 0x20);
    cr_expect_arr_eq(f + 4, plain + 4, n - 4);
    cr_expect_arr_eq(f, plain, 3);
    cr_assert_eq(mx_dns_build_query_flags(f, sizeof f, 0x4242, "_25._tcp.mx.example.test", 52,
                                          1232, MX_DNSQ_DO | MX_DNSQ_CD), n);
    cr_expect_eq(f[3], plain[3] | 0x10);
    cr_expect_eq(f[n - 4], 0x80); /* OPT flags, high byte */
    cr_expect_arr_eq(f + 4, plain + 4, n - 8);
    cr_expect_eq(f[n - 3], 0);
}
