/* An in-process DNS server on 127.0.0.1 for unit tests of the engine (in
 * the spirit of c-ares' mock server): a UDP socket served by its own
 * thread, answering from a small table, with per-name delays and drops and
 * a count of the queries it saw.
 *
 * Table lines, one record each:  NAME TYPE DATA
 *   "ex.test MX 10 mx1.ex.test"   "mx1.ex.test A 192.0.2.1"
 *   "mx1.ex.test AAAA 2001:db8::1"  "ex.test TXT v=spf1 -all"
 * Rules:  "NAME/TYPE delay MS", "NAME/TYPE drop", "NAME/TYPE servfail"
 * (TYPE may be * for every type). A name not in the table is NXDOMAIN; a
 * name with other types only is NODATA. */
#ifndef MX_TEST_HELPER_DNSSERVER_H
#define MX_TEST_HELPER_DNSSERVER_H

#include <stdint.h>

struct dns_server;

/* Starts serving; NULL on failure (the test then fails). */
struct dns_server *dns_server_start(const char *table);
uint16_t dns_server_port(const struct dns_server *s);
/* "127.0.0.1:PORT" */
const char *dns_server_addr(const struct dns_server *s);
/* Queries received for (name, type) ("*" type: all types); all when name is NULL. */
unsigned dns_server_count(struct dns_server *s, const char *name, const char *type);
void dns_server_stop(struct dns_server *s);

#endif
