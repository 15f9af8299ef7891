/* An in-process DNS server on 127.0.0.1 for unit tests of the engine (in
 * the spirit of c-ares' mock server): a UDP socket served by its own
 * thread, answering from a small table, with per-name delays and drops and
 * a count of the queries it saw.
 *
 * Table lines, one record each:  NAME TYPE DATA
 *   "ex.test MX 10 mx1.ex.test"   "mx1.ex.test A 192.0.2.1"
 *   "mx1.ex.test AAAA 2001:db8::1"  "ex.test TXT v=spf1 -all"
 *   "ex.test SOA ns.ex.test 2024010101" (MNAME SERIAL)  "ex.test NS ns1.ex.test"
 * Rules:  "NAME/TYPE delay MS", "NAME/TYPE drop", "NAME/TYPE servfail",
 * "NAME/TYPE refused", "NAME/TYPE noaa" (answer without the AA bit),
 * "NAME/TYPE tc" (over UDP: TC set and no records; over TCP: the answer)
 * (TYPE may be * for every type). A name not in the table is NXDOMAIN; a
 * name with other types only is NODATA. Answers carry AA unless a rule
 * says otherwise, and copy the question's RD bit. The server also listens
 * on TCP (same address and port; one connection at a time). */
#ifndef MX_TEST_HELPER_DNSSERVER_H
#define MX_TEST_HELPER_DNSSERVER_H

#include <stdint.h>

struct dns_server;

/* Starts serving; NULL on failure (the test then fails). */
struct dns_server *dns_server_start(const char *table);
/* On a given loopback address and port (0: any free port). */
struct dns_server *dns_server_start_at(const char *ip, uint16_t port, const char *table);
uint16_t dns_server_port(const struct dns_server *s);
/* "127.0.0.1:PORT" */
const char *dns_server_addr(const struct dns_server *s);
/* Queries received for (name, type) ("*" type: all types); all when name is NULL. */
unsigned dns_server_count(struct dns_server *s, const char *name, const char *type);
/* Queries received with RD set; over TCP. */
unsigned dns_server_count_rd(struct dns_server *s);
unsigned dns_server_count_tcp(struct dns_server *s);
/* Arrival times (ms, CLOCK_MONOTONIC) of the first max queries; returns how many. */
unsigned dns_server_times(struct dns_server *s, uint64_t *out, unsigned max);
void dns_server_stop(struct dns_server *s);

#endif
