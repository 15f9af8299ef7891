/* Batched socket I/O for the workers' c-ares channels (installed with
 * ares_set_socket_functions): UDP queries are queued and leave together in
 * one sendmmsg(2) per loop turn; answers are read with recvmmsg(2), many per
 * call, and handed to c-ares one by one. TCP goes straight through. About
 * 2 system calls per look-up become a small fraction of one. */
#ifndef MX_SOCKIO_H
#define MX_SOCKIO_H

#include <sys/select.h> /* ares.h needs fd_set */

#include <ares.h>
#include <stdbool.h>
#include <stdint.h>

struct mx_sockio;

/* Counters (owner thread only; read after the worker ended or racily for
 * progress). */
struct mx_sockio_stats {
    uint64_t send_calls, sent, send_errors;
    uint64_t recv_calls, received;
};

/* One per worker thread; rcvbuf/sndbuf are the socket buffer sizes. */
struct mx_sockio *mx_sockio_create(int rcvbuf, int sndbuf);
void mx_sockio_destroy(struct mx_sockio *io);
/* Makes channel ch use io's socket functions (before its first query). */
void mx_sockio_attach(struct mx_sockio *io, ares_channel ch);
/* Sends what is queued. True when some packets had to stay queued (the
 * socket buffer is full): call again soon. */
bool mx_sockio_flush(struct mx_sockio *io);
void mx_sockio_get_stats(const struct mx_sockio *io, struct mx_sockio_stats *out);

/* Writes a DNS query for (name, qtype), class IN, RD set, with an EDNS OPT
 * record advertising edns_size, into buf. name: presentation form without
 * trailing dot ("" = root), escapes \X and \DDD allowed. Returns the length,
 * or 0 when the name cannot be encoded (label > 63, name > 255 octets, bad
 * escape) or buf is too small. */
size_t mx_dns_build_query(unsigned char *buf, size_t buflen, uint16_t id, const char *name,
                          uint16_t qtype, uint16_t edns_size);

/* Flags for mx_dns_build_query_flags. */
#define MX_DNSQ_AD 0x1u /* AD in the header: "tell me whether you validated"
                           (RFC 6840 5.7); enough for the AD bit in answers */
#define MX_DNSQ_DO 0x2u /* DO in the OPT record (RFC 3225): also asks for the
                           DNSSEC records (RRSIG ...), larger answers */
#define MX_DNSQ_CD 0x4u /* CD: checking disabled (answers of bogus data too) */
#define MX_DNSQ_NORD 0x8u /* RD clear: a non-recursive query (to an authoritative
                             server) */

/* mx_dns_build_query with flags; flags 0 gives exactly its bytes. */
size_t mx_dns_build_query_flags(unsigned char *buf, size_t buflen, uint16_t id, const char *name,
                                uint16_t qtype, uint16_t edns_size, unsigned flags);

#endif
