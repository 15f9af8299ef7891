/*
 * faultdns: shared declarations of the fault-injecting test DNS responder.
 * zone.c: zone file, fault rules, string map; wire.c: query parsing and
 * response building; faultdns.c: sockets, event loop, statistics, main.
 */
#ifndef FAULTDNS_H
#define FAULTDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_LEN 1100u
#define MAX_TOK 128
#define WBUF_CAP 70000u
#define UDP_MAX 65507u
#define OUR_EDNS 1232u
#define MAX_CNAME_HOPS 8

/* Fault kinds; arg: 0 none, 1 count/ms, 2 percentage, -1 internal only. */
#define FAULT_MAP(X)                                                         \
  X(NONE, "none", 0) X(DROP, "drop", 0) X(DROP_PCT, "drop-pct", 2)           \
  X(DELAY, "delay", 1) X(SERVFAIL, "servfail", 0) X(REFUSED, "refused", 0)   \
  X(FORMERR, "formerr", 0) X(NOTIMP, "notimp", 0) X(NXDOMAIN, "nxdomain", 0) \
  X(TRUNCATE, "truncate", 0) X(WRONG_ID, "wrong-id", 0)                      \
  X(WRONG_QUESTION, "wrong-question", 0) X(MALFORMED, "malformed", 0)        \
  X(OVERSIZE, "oversize", 0) X(COMPRESSION_LOOP, "compression-loop", 0)      \
  X(FOREIGN_RECORDS, "foreign-records", 0) X(EMPTY, "empty", 0)              \
  X(FLAP, "flap", 1) X(DIE_AFTER, "die-after", 1) X(LOSS, "loss", -1)        \
  X(DEAD, "died", -1)

enum fault_kind {
#define X(e, n, a) F_##e,
  FAULT_MAP(X)
#undef X
  F_COUNT
};

struct fault_desc {
  const char *name;
  int arg;
};
extern const struct fault_desc fdns_fault_info[F_COUNT];

struct fault {
  enum fault_kind kind;
  uint32_t arg; /* ms, count, or parts per million for drop-pct */
};

struct map_ent {
  char *key;
  uint64_t val;
};

struct map {
  struct map_ent *ents;
  size_t cap, n;
};

struct rr {
  char *owner;
  uint16_t type;
  uint32_t ttl;
  uint16_t rdlen;
  unsigned char *rdata;
  char *target; /* CNAME target key */
  size_t seq;
};

struct node {
  size_t first, count; /* count 0: empty non-terminal */
};

struct zone {
  struct rr *rrs;
  size_t n, cap;
  struct node *nodes;
  size_t nnodes;
  struct map names;  /* owner key -> node index */
  struct map rules;  /* "key" or "key/TYPE" -> index into rule array */
  struct fault *rule_v;
  size_t nrules;
  bool die_set;
  uint32_t die_after;
};

struct query {
  uint16_t id, flags, qtype, qclass;
  bool has_question, edns, edns_do;
  uint16_t edns_size;
  unsigned char qwire[256];
  size_t qwire_len;
  char key[KEY_LEN];
};

struct wbuf {
  unsigned char b[WBUF_CAP];
  size_t len;
};

enum pq { PQ_OK, PQ_IGNORE, PQ_FORMERR, PQ_NOTIMP };

/* zone.c */
struct map_ent *fdns_map_find(const struct map *m, const char *key);
struct map_ent *fdns_map_upsert(struct map *m, const char *key, bool *created);
bool fdns_parse_u64(const char *str, uint64_t max, uint64_t *out);
bool fdns_parse_pct(const char *str, uint32_t *ppm);
const char *fdns_type_name(unsigned t, char *buf, size_t n);
bool fdns_parse_type(const char *s, uint16_t *t);
bool fdns_parse_fault(const char *name, const char *arg, struct fault *f, char *err, size_t errlen);
bool fdns_zone_load(struct zone *z, const char *path);
const struct node *fdns_zone_find(const struct zone *z, const char *key);
bool fdns_rule_find(const struct zone *z, const char *key, unsigned qtype, struct fault *f);

/* wire.c */
unsigned fdns_rd16(const unsigned char *p);
enum pq fdns_parse_query(const unsigned char *p, size_t n, struct query *q);
void fdns_put_header(struct wbuf *w, const struct query *q, unsigned id, unsigned rcode, bool tc);
void fdns_build_response(const struct zone *z, const struct query *q, enum fault_kind f, bool tcp,
                         struct wbuf *w);

#endif
