/* A table-driven stand-in for the DNS, for unit tests of the analysis code.
 *
 * Lines of text, one record or outcome each:
 *   NAME TYPE [ttl=N] [cname] [ad] [target=NAME] DATA
 *                                    TYPE is MX, A, AAAA, TXT, PTR or TLSA
 *     MX:   "example.test MX 10 mx1.example.test"   ("." or "" exchange: the root)
 *     A:    "mx1.example.test A 192.0.2.1"
 *     TXT:  "example.test TXT v=spf1 -all"            (rest of the line, verbatim)
 *     PTR:  "1.2.0.192.in-addr.arpa PTR mx1.example.test"
 *     TLSA: "_25._tcp.mx1.example.test TLSA ad 3 1 1 ABCD..." (usage, selector,
 *           matching type, data in hex; a bare hex string is the whole rdata)
 *   "ad" sets the answer's AD bit (validated), "target=NAME" its
 *   CNAME-expanded name (mx_answer_target).
 *   NAME TYPE !RCODE                  !NXDOMAIN !SERVFAIL !REFUSED !TIMEOUT !NODATA
 *                                     !TOOBIG (NOERROR, records too large to keep)
 *   NAME * !NXDOMAIN                  the name does not exist (any type)
 * A NAME may write a byte as \DDD ("a\032b.test" has a space in a label).
 * A name with no line at all is NXDOMAIN; a name with lines for other types
 * only is NOERROR without records (NODATA). "cname" marks the answer as
 * having gone through an alias. ttl applies to the answer (default 3600).
 *
 * In lazy mode (the default) the first request for a (name, type) returns
 * NULL ("pending"), as the real scanner does, and fake_dns_run() re-runs the
 * analysis until it stops asking, so tests also exercise the re-run protocol.
 */
#ifndef MX_TEST_HELPER_ORACLE_H
#define MX_TEST_HELPER_ORACLE_H

#include <stdbool.h>

#include "mx/analyze.h"
#include "mx/oracle.h"

struct fake_dns;

struct fake_dns *fake_dns_new(const char *zone_text);
void fake_dns_add(struct fake_dns *d, const char *zone_text);
void fake_dns_free(struct fake_dns *d);
/* A blob answer (engine providers: SMTP probe results, policy fetches) for
 * the key name and qtype; data is copied. */
void fake_dns_add_blob(struct fake_dns *d, const char *key, uint16_t qtype, const void *data,
                       size_t len);
void fake_dns_set_lazy(struct fake_dns *d, bool lazy);
struct mx_oracle fake_dns_oracle(struct fake_dns *d);
/* How many distinct (name, type) pairs were asked, and whether one was. */
unsigned fake_dns_asked_count(const struct fake_dns *d);
bool fake_dns_was_asked(const struct fake_dns *d, const char *name, const char *type);
/* Calls mx_analyze until it is done (at most 64 rounds; fails the test otherwise). */
void fake_dns_analyze(struct fake_dns *d, const struct mx_analyze_cfg *cfg, const char *domain,
                      struct mx_result *res);
/* The findings column as a string (static buffer). */
const char *fake_findings(const struct mx_result *res);

#endif
