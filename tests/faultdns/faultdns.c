/*
 * faultdns: a fault-injecting DNS responder for the mxscan test suite.
 *
 * Serves a tiny zone over UDP and TCP on loopback only and, on request per
 * name/type, misbehaves: drops, delays, chosen rcodes, truncation, wrong IDs,
 * malformed or oversized packets, compression loops, foreign records, flapping
 * and dying midway. It counts what it saw (rate windows, concurrency) so tests
 * can check the scanner's rate limit and concurrency cap. See README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 8
#define MAX_CONNS 256
#define TCP_IN_CAP (2u + 65535u)
#define WBUF_CAP 70000u
#define UDP_MAX 65507u
#define OUR_EDNS 1232u
#define MAX_CNAME_HOPS 8
#define HIST_MAX 86400u
#define KEY_LEN 1100u
#define MAX_TOK 128

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

static const struct {
  const char *name;
  int arg;
} fault_info[] = {
#define X(e, n, a) {n, a},
    FAULT_MAP(X)
#undef X
};

struct fault {
  enum fault_kind kind;
  uint32_t arg; /* ms, count, or parts per million for drop-pct */
};

static const struct {
  const char *name;
  uint16_t type;
} type_names[] = {{"A", 1},      {"NS", 2},     {"CNAME", 5},   {"SOA", 6},
                  {"PTR", 12},   {"MX", 15},    {"TXT", 16},    {"AAAA", 28},
                  {"SRV", 33},   {"OPT", 41},   {"DS", 43},     {"RRSIG", 46},
                  {"DNSKEY", 48}, {"TLSA", 52}, {"SPF", 99},    {"ANY", 255},
                  {"CAA", 257}};

static const char *const rcode_names[] = {"NOERROR", "FORMERR", "SERVFAIL",
                                          "NXDOMAIN", "NOTIMP", "REFUSED"};

/* ---- string map (open addressing, FNV-1a) ---- */

struct map_ent {
  char *key;
  uint64_t val;
};

struct map {
  struct map_ent *ents;
  size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static struct map_ent *map_find(const struct map *m, const char *key)
{
  if (m->cap == 0)
    return NULL;
  for (size_t i = (size_t)hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->ents[i].key)
      return NULL;
    if (strcmp(m->ents[i].key, key) == 0)
      return &m->ents[i];
  }
}

/* Finds or inserts key (value 0); *created tells which. NULL on ENOMEM. */
static struct map_ent *map_upsert(struct map *m, const char *key, bool *created)
{
  struct map_ent *e = map_find(m, key);
  *created = false;
  if (e)
    return e;
  if ((m->n + 1) * 2 > m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct map_ent *ne = calloc(ncap, sizeof(*ne));
    if (!ne)
      return NULL;
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->ents[i].key)
        continue;
      size_t j = (size_t)hash_str(m->ents[i].key) & (ncap - 1);
      while (ne[j].key)
        j = (j + 1) & (ncap - 1);
      ne[j] = m->ents[i];
    }
    free(m->ents);
    m->ents = ne;
    m->cap = ncap;
  }
  size_t i = (size_t)hash_str(key) & (m->cap - 1);
  while (m->ents[i].key)
    i = (i + 1) & (m->cap - 1);
  m->ents[i].key = strdup(key);
  if (!m->ents[i].key)
    return NULL;
  m->ents[i].val = 0;
  m->n++;
  *created = true;
  return &m->ents[i];
}

/* ---- zone ---- */

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

/* ---- server state ---- */

struct listener {
  int udp, tcp;
  struct sockaddr_storage addr;
  socklen_t alen;
  char host[INET6_ADDRSTRLEN];
  unsigned port;
};

struct conn {
  int fd;
  bool broken;
  uint64_t gen;
  unsigned port;
  unsigned char *in;
  size_t inlen;
  unsigned char *out;
  size_t outlen, outoff, outcap;
};

struct pending {
  uint64_t due, seq;
  bool tcp;
  int fd;
  size_t conn;
  uint64_t gen;
  struct sockaddr_storage peer;
  socklen_t plen;
  unsigned char *pkt;
  size_t len;
};

struct origin {
  bool tcp;
  int fd;
  size_t conn;
  const struct sockaddr_storage *peer;
  socklen_t plen;
  unsigned port;
};

struct stats {
  uint64_t queries, udp, tcp, tcp_conns, bad, ignored, answered, dropped, lost;
  uint64_t faults[F_COUNT], rcodes[16], *qtypes;
  uint64_t max_1s, max_100ms, max_outstanding;
  uint64_t *hist;
  size_t hist_len, hist_cap;
  bool have_first;
  uint64_t first_us, last_us;
  uint64_t *win; /* ring of receive times (us), absolute indices */
  size_t win_cap;
  uint64_t win_h1, win_h2, win_tail;
};

struct server {
  struct zone zone;
  struct listener ls[MAX_LISTEN];
  size_t nls;
  struct conn conns[MAX_CONNS];
  struct pending *heap;
  size_t hn, hcap;
  uint64_t seq, rng, start_us, stop_after;
  uint32_t loss_ppm, delay_ms;
  struct fault deflt;
  bool count_names, quit;
  struct map qcount; /* "key/TYPE" -> times asked (flap, --count-names) */
  const char *stats_path;
  FILE *log;
  struct stats st;
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

static volatile sig_atomic_t g_term, g_usr1;
static int g_sigpipe[2] = {-1, -1};

/* ---- small helpers ---- */

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t rng_next(struct server *s)
{
  uint64_t z = (s->rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static bool chance(struct server *s, uint32_t ppm)
{
  return rng_next(s) % 1000000u < ppm;
}

static bool parse_u64(const char *str, uint64_t max, uint64_t *out)
{
  char *end;
  if (!str || !*str || *str == '-' || *str == '+')
    return false;
  errno = 0;
  unsigned long long v = strtoull(str, &end, 10);
  if (errno || *end || v > max)
    return false;
  *out = v;
  return true;
}

static bool parse_pct(const char *str, uint32_t *ppm)
{
  char *end;
  if (!str || !*str)
    return false;
  errno = 0;
  double v = strtod(str, &end);
  if (errno || *end || !(v >= 0.0 && v <= 100.0))
    return false;
  *ppm = (uint32_t)(v * 10000.0 + 0.5);
  return true;
}

static unsigned rd16(const unsigned char *p)
{
  return (unsigned)p[0] << 8 | p[1];
}

static void put8(struct wbuf *w, unsigned v)
{
  if (w->len < WBUF_CAP)
    w->b[w->len++] = (unsigned char)v;
}

static void put16(struct wbuf *w, unsigned v)
{
  put8(w, (v >> 8) & 0xFF);
  put8(w, v & 0xFF);
}

static void put32(struct wbuf *w, uint32_t v)
{
  put16(w, (unsigned)(v >> 16));
  put16(w, (unsigned)(v & 0xFFFF));
}

static void putn(struct wbuf *w, const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    put8(w, p[i]);
}

static void set16(struct wbuf *w, size_t off, unsigned v)
{
  w->b[off] = (unsigned char)(v >> 8);
  w->b[off + 1] = (unsigned char)(v & 0xFF);
}

static void inc16(struct wbuf *w, size_t off)
{
  set16(w, off, rd16(w->b + off) + 1);
}

static const char *type_name(unsigned t, char *buf, size_t n)
{
  for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
    if (type_names[i].type == t)
      return type_names[i].name;
  snprintf(buf, n, "TYPE%u", t);
  return buf;
}

static bool parse_type(const char *s, uint16_t *t)
{
  uint64_t v;
  for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
    if (strcasecmp(type_names[i].name, s) == 0) {
      *t = type_names[i].type;
      return true;
    }
  if (strncasecmp(s, "TYPE", 4) == 0 && parse_u64(s + 4, 65535, &v)) {
    *t = (uint16_t)v;
    return true;
  }
  return false;
}

static bool is_loopback(const struct sockaddr_storage *a)
{
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)a;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

static unsigned sa_port(const struct sockaddr_storage *a)
{
  if (a->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)a)->sin_port);
  if (a->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  return 0;
}

/* ---- names ---- */

/* Zone-file name -> lowercase key without trailing dot ("." for the root). */
static bool norm_name(const char *in, char *out, size_t outsz)
{
  size_t n = strlen(in), label = 0, wire = 1;
  if (n == 0 || n >= outsz)
    return false;
  if (strcmp(in, ".") == 0) {
    strcpy(out, ".");
    return true;
  }
  if (in[n - 1] == '.')
    n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
    } else if (c <= ' ' || c >= 127 || c == '\\' || c == '"' || c == '/' || ++label > 63) {
      return false;
    }
    wire++;
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
  }
  out[n] = '\0';
  return label > 0 && wire <= 255;
}

/* Key (as made by norm_name) -> uncompressed wire name. */
static size_t key_to_wire(const char *key, unsigned char *out)
{
  size_t len = 0;
  if (strcmp(key, ".") != 0) {
    while (*key) {
      const char *dot = strchr(key, '.');
      size_t l = dot ? (size_t)(dot - key) : strlen(key);
      out[len++] = (unsigned char)l;
      memcpy(out + len, key, l);
      len += l;
      key += l + (dot ? 1 : 0);
    }
  }
  out[len++] = 0;
  return len;
}

/* ---- zone file ---- */

struct tok {
  char *s;
  size_t len;
  bool quoted;
};

/* Splits a line in place; handles "quoted \"strings\" with \DDD"; ; or # start comments. */
static bool tokenize(char *p, struct tok *t, size_t *n)
{
  *n = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
      p++;
    if (!*p || *p == '#' || *p == ';')
      return true;
    if (*n == MAX_TOK)
      return false;
    struct tok *k = &t[(*n)++];
    if (*p == '"') {
      char *d = ++p;
      k->s = d;
      k->quoted = true;
      while (*p != '"') {
        if (!*p)
          return false;
        if (*p == '\\' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
            p[3] >= '0' && p[3] <= '9') {
          int v = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
          if (v > 255)
            return false;
          *d++ = (char)(unsigned char)v;
          p += 4;
        } else if (*p == '\\' && p[1]) {
          *d++ = p[1];
          p += 2;
        } else {
          *d++ = *p++;
        }
      }
      k->len = (size_t)(d - k->s);
      p++;
      *d = '\0';
    } else {
      k->s = p;
      k->quoted = false;
      while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
        p++;
      k->len = (size_t)(p - k->s);
      if (*p)
        *p++ = '\0';
    }
  }
}

static enum fault_kind fault_by_name(const char *s)
{
  for (int i = 0; i < F_COUNT; i++)
    if (fault_info[i].arg >= 0 && strcmp(fault_info[i].name, s) == 0)
      return (enum fault_kind)i;
  return F_COUNT;
}

static bool parse_fault(const char *name, const char *arg, struct fault *f, char *err, size_t errlen)
{
  uint64_t v = 0;
  f->kind = fault_by_name(name);
  f->arg = 0;
  if (f->kind == F_COUNT) {
    snprintf(err, errlen, "unknown fault '%s'", name);
    return false;
  }
  int need = fault_info[f->kind].arg;
  if (need == 0 && arg) {
    snprintf(err, errlen, "fault '%s' takes no argument", name);
    return false;
  }
  if (need == 1 && !parse_u64(arg, 3600000, &v)) {
    snprintf(err, errlen, "fault '%s' needs a number", name);
    return false;
  }
  if (need == 2 && !parse_pct(arg, &f->arg)) {
    snprintf(err, errlen, "fault '%s' needs a percentage 0-100", name);
    return false;
  }
  if (need == 1)
    f->arg = (uint32_t)v;
  return true;
}

static bool add_rule(struct zone *z, struct tok *t, size_t n, char *err, size_t errlen)
{
  char key[KEY_LEN], *slash = strrchr(t[0].s, '/');
  uint16_t type = 0;
  struct fault f;
  bool created;
  if (n > 3) {
    snprintf(err, errlen, "too many fields in fault rule");
    return false;
  }
  if (!parse_fault(t[1].s, n == 3 ? t[2].s : NULL, &f, err, errlen))
    return false;
  if (slash) {
    *slash = '\0';
    if (!parse_type(slash + 1, &type)) {
      snprintf(err, errlen, "bad type '%s'", slash + 1);
      return false;
    }
  }
  if (f.kind == F_DIE_AFTER) { /* global, whatever the name */
    z->die_set = true;
    z->die_after = f.arg;
    return true;
  }
  if (strcmp(t[0].s, "*") == 0) {
    strcpy(key, "*");
  } else if (strncmp(t[0].s, "*.", 2) == 0) {
    strcpy(key, "*.");
    if (!norm_name(t[0].s + 2, key + 2, sizeof(key) - 2)) {
      snprintf(err, errlen, "bad name '%s'", t[0].s);
      return false;
    }
  } else if (!norm_name(t[0].s, key, sizeof(key))) {
    snprintf(err, errlen, "bad name '%s'", t[0].s);
    return false;
  }
  if (slash)
    snprintf(key + strlen(key), sizeof(key) - strlen(key), "/%u", (unsigned)type);
  struct fault *nv = realloc(z->rule_v, (z->nrules + 1) * sizeof(*nv));
  if (!nv)
    return false;
  z->rule_v = nv;
  struct map_ent *e = map_upsert(&z->rules, key, &created);
  if (!e)
    return false;
  nv[z->nrules] = f;
  e->val = z->nrules++; /* a later rule for the same key wins */
  return true;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static bool add_record(struct zone *z, struct tok *t, size_t n, char *err, size_t errlen)
{
  char owner[KEY_LEN], target[KEY_LEN];
  unsigned char rd[65535];
  size_t rdlen = 0;
  uint16_t type;
  uint64_t ttl, v;
  target[0] = '\0';
  if (n < 4 || !norm_name(t[0].s, owner, sizeof(owner)) || !parse_type(t[1].s, &type) ||
      !parse_u64(t[2].s, 0x7FFFFFFF, &ttl)) {
    snprintf(err, errlen, "expected NAME TYPE TTL DATA or NAME FAULT [ARG]");
    return false;
  }
  if (strcmp(t[3].s, "\\#") == 0) { /* RFC 3597: \# LEN HEX... */
    uint64_t len;
    if (n < 5 || !parse_u64(t[4].s, 65535, &len))
      goto bad;
    for (size_t i = 5; i < n; i++) {
      if (t[i].len % 2)
        goto bad;
      for (size_t j = 0; j < t[i].len; j += 2) {
        int hi = hexval(t[i].s[j]), lo = hexval(t[i].s[j + 1]);
        if (hi < 0 || lo < 0 || rdlen >= 65535)
          goto bad;
        rd[rdlen++] = (unsigned char)(hi << 4 | lo);
      }
    }
    if (rdlen != len)
      goto bad;
  } else if (type == 1 || type == 28) {
    if (n != 4 || inet_pton(type == 1 ? AF_INET : AF_INET6, t[3].s, rd) != 1)
      goto bad;
    rdlen = type == 1 ? 4 : 16;
  } else if (type == 15) {
    if (n != 5 || !parse_u64(t[3].s, 65535, &v) || !norm_name(t[4].s, target, sizeof(target)))
      goto bad;
    rd[0] = (unsigned char)(v >> 8);
    rd[1] = (unsigned char)(v & 0xFF);
    rdlen = 2 + key_to_wire(target, rd + 2);
    target[0] = '\0';
  } else if (type == 5 || type == 2 || type == 12) {
    if (n != 4 || !norm_name(t[3].s, target, sizeof(target)))
      goto bad;
    rdlen = key_to_wire(target, rd);
    if (type != 5)
      target[0] = '\0';
  } else if (type == 16 || type == 99) {
    for (size_t i = 3; i < n; i++) {
      size_t off = 0;
      do { /* strings over 255 octets are split */
        size_t chunk = t[i].len - off > 255 ? 255 : t[i].len - off;
        if (rdlen + 1 + chunk > 65535)
          goto bad;
        rd[rdlen++] = (unsigned char)chunk;
        memcpy(rd + rdlen, t[i].s + off, chunk);
        rdlen += chunk;
        off += chunk;
      } while (off < t[i].len);
    }
  } else {
    snprintf(err, errlen, "type %s needs the \\# LEN HEX form", t[1].s);
    return false;
  }
  if (z->n == z->cap) {
    size_t ncap = z->cap ? z->cap * 2 : 64;
    struct rr *nr = realloc(z->rrs, ncap * sizeof(*nr));
    if (!nr)
      return false;
    z->rrs = nr;
    z->cap = ncap;
  }
  struct rr *r = &z->rrs[z->n];
  r->owner = strdup(owner);
  r->rdata = malloc(rdlen ? rdlen : 1);
  r->target = target[0] ? strdup(target) : NULL;
  if (!r->owner || !r->rdata || (target[0] && !r->target))
    return false;
  memcpy(r->rdata, rd, rdlen);
  r->type = type;
  r->ttl = (uint32_t)ttl;
  r->rdlen = (uint16_t)rdlen;
  r->seq = z->n++;
  return true;
bad:
  snprintf(err, errlen, "bad %s data", t[1].s);
  return false;
}

static int rr_cmp(const void *a, const void *b)
{
  const struct rr *x = a, *y = b;
  int c = strcmp(x->owner, y->owner);
  if (c)
    return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool node_add(struct zone *z, size_t *cap, size_t first, size_t count, uint64_t *idx)
{
  if (z->nnodes == *cap) {
    size_t ncap = *cap ? *cap * 2 : 64;
    struct node *nn = realloc(z->nodes, ncap * sizeof(*nn));
    if (!nn)
      return false;
    z->nodes = nn;
    *cap = ncap;
  }
  z->nodes[z->nnodes] = (struct node){first, count};
  *idx = z->nnodes++;
  return true;
}

/* Groups records into nodes and adds empty non-terminals for every ancestor. */
static bool zone_index(struct zone *z)
{
  size_t cap = 0;
  uint64_t cur = 0;
  bool created;
  qsort(z->rrs, z->n, sizeof(*z->rrs), rr_cmp);
  for (size_t i = 0; i < z->n; i++) {
    if (i > 0 && strcmp(z->rrs[i].owner, z->rrs[i - 1].owner) == 0) {
      z->nodes[cur].count++;
      continue;
    }
    struct map_ent *e = map_upsert(&z->names, z->rrs[i].owner, &created);
    if (!e || (created && !node_add(z, &cap, i, 1, &e->val)))
      return false;
    if (!created) /* was an empty non-terminal */
      z->nodes[e->val] = (struct node){i, 1};
    cur = e->val;
    for (const char *p = strchr(z->rrs[i].owner, '.'); p; p = strchr(p + 1, '.')) {
      struct map_ent *a = map_upsert(&z->names, p + 1, &created);
      if (!a || (created && !node_add(z, &cap, 0, 0, &a->val)))
        return false;
    }
  }
  return true;
}

static bool zone_load(struct zone *z, const char *path)
{
  FILE *f = fopen(path, "r");
  char *line = NULL, err[200];
  size_t lcap = 0, lineno = 0, n;
  struct tok t[MAX_TOK];
  bool ok = false;
  if (!f) {
    fprintf(stderr, "faultdns: %s: %s\n", path, strerror(errno));
    return false;
  }
  while (getline(&line, &lcap, f) >= 0) {
    lineno++;
    err[0] = '\0';
    if (!tokenize(line, t, &n)) {
      snprintf(err, sizeof(err), "bad quoting or too many fields");
      goto fail;
    }
    if (n == 0)
      continue;
    if (n < 2 || t[0].quoted) {
      snprintf(err, sizeof(err), "expected NAME TYPE TTL DATA or NAME FAULT [ARG]");
      goto fail;
    }
    bool rule = strchr(t[0].s, '/') || fault_by_name(t[1].s) != F_COUNT;
    if (!(rule ? add_rule(z, t, n, err, sizeof(err)) : add_record(z, t, n, err, sizeof(err))))
      goto fail;
  }
  ok = zone_index(z);
  if (!ok)
    fprintf(stderr, "faultdns: out of memory\n");
  goto out;
fail:
  fprintf(stderr, "faultdns: %s:%zu: %s\n", path, lineno, err[0] ? err : "out of memory");
out:
  free(line);
  fclose(f);
  return ok;
}

/* Exact name, else the longest matching "*.suffix" wildcard owner. */
static const struct node *zone_find(const struct zone *z, const char *key)
{
  char wk[KEY_LEN + 2];
  const struct map_ent *e = map_find(&z->names, key);
  if (e)
    return &z->nodes[e->val];
  for (const char *p = key; p; p = strchr(p + 1, '.')) {
    const char *suffix = p == key ? NULL : p + 1;
    if (!suffix)
      continue;
    snprintf(wk, sizeof(wk), "*.%s", suffix);
    if ((e = map_find(&z->names, wk)))
      return &z->nodes[e->val];
  }
  e = map_find(&z->names, "*");
  return e && strcmp(key, ".") != 0 ? &z->nodes[e->val] : NULL;
}

/* Most specific rule: name/type, name, then *.suffix/type, *.suffix (longest first), * /type, *. */
static bool rule_find(const struct zone *z, const char *key, unsigned qtype, struct fault *f)
{
  char k[KEY_LEN + 16];
  const struct map_ent *e;
  if (z->nrules == 0)
    return false;
  snprintf(k, sizeof(k), "%s/%u", key, qtype);
  if ((e = map_find(&z->rules, k)) || (e = map_find(&z->rules, key)))
    goto found;
  for (const char *p = strchr(key, '.'); p; p = strchr(p + 1, '.')) {
    snprintf(k, sizeof(k), "*.%s/%u", p + 1, qtype);
    if ((e = map_find(&z->rules, k)))
      goto found;
    snprintf(k, sizeof(k), "*.%s", p + 1);
    if ((e = map_find(&z->rules, k)))
      goto found;
  }
  snprintf(k, sizeof(k), "*/%u", qtype);
  if ((e = map_find(&z->rules, k)) || (e = map_find(&z->rules, "*")))
    goto found;
  return false;
found:
  *f = z->rule_v[e->val];
  return true;
}

/* ---- query parsing ---- */

enum pq { PQ_OK, PQ_IGNORE, PQ_FORMERR, PQ_NOTIMP };

static bool skip_name(const unsigned char *p, size_t n, size_t *off)
{
  for (int labels = 0; labels < 128; labels++) {
    if (*off >= n)
      return false;
    unsigned c = p[*off];
    if (c == 0) {
      (*off)++;
      return true;
    }
    if ((c & 0xC0) == 0xC0) {
      *off += 2;
      return *off <= n;
    }
    if (c & 0xC0)
      return false;
    *off += 1 + c;
  }
  return false;
}

static bool parse_qname(const unsigned char *p, size_t n, size_t *off, struct query *q)
{
  size_t k = 0, w = 0;
  for (;;) {
    if (*off >= n)
      return false;
    unsigned c = p[(*off)++];
    if (c & 0xC0) /* no compression in a question */
      return false;
    if (w + 1 + c > 255 || *off + c > n)
      return false;
    q->qwire[w++] = (unsigned char)c;
    if (c == 0)
      break;
    if (k)
      q->key[k++] = '.';
    for (unsigned i = 0; i < c; i++) {
      unsigned char ch = p[*off + i];
      q->qwire[w++] = ch;
      if (ch >= 'A' && ch <= 'Z')
        q->key[k++] = (char)(ch + 32);
      else if (ch > ' ' && ch < 127 && ch != '.' && ch != '\\' && ch != '"' && ch != '/')
        q->key[k++] = (char)ch;
      else
        k += (size_t)snprintf(q->key + k, 5, "\\%03u", (unsigned)ch);
    }
    *off += c;
  }
  if (k == 0)
    q->key[k++] = '.';
  q->key[k] = '\0';
  q->qwire_len = w;
  return true;
}

static enum pq parse_query(const unsigned char *p, size_t n, struct query *q)
{
  size_t off = 12;
  memset(q, 0, sizeof(*q));
  strcpy(q->key, "-");
  if (n < 12)
    return PQ_IGNORE;
  q->id = (uint16_t)rd16(p);
  q->flags = (uint16_t)rd16(p + 2);
  if (q->flags & 0x8000)
    return PQ_IGNORE; /* a response: never answer those */
  unsigned qd = rd16(p + 4), an = rd16(p + 6), ns = rd16(p + 8), ar = rd16(p + 10);
  if (qd == 1 && parse_qname(p, n, &off, q) && off + 4 <= n) {
    q->qtype = (uint16_t)rd16(p + off);
    q->qclass = (uint16_t)rd16(p + off + 2);
    q->has_question = true;
    off += 4;
  } else {
    strcpy(q->key, "-");
  }
  if (((q->flags >> 11) & 0xF) != 0)
    return PQ_NOTIMP;
  if (!q->has_question)
    return PQ_FORMERR;
  for (unsigned i = 0; i < an + ns + ar; i++) {
    size_t name_at = off;
    if (!skip_name(p, n, &off) || off + 10 > n)
      return PQ_FORMERR;
    unsigned type = rd16(p + off), rdlen = rd16(p + off + 8);
    if (i >= an + ns && type == 41) {
      if (q->edns || p[name_at] != 0)
        return PQ_FORMERR;
      q->edns = true;
      q->edns_size = (uint16_t)rd16(p + off + 2);
      q->edns_do = (p[off + 6] & 0x80) != 0;
    }
    off += 10 + rdlen;
    if (off > n)
      return PQ_FORMERR;
  }
  return PQ_OK;
}

/* ---- response building ---- */

static void put_header(struct wbuf *w, const struct query *q, unsigned id, unsigned rcode, bool tc)
{
  unsigned flags = 0x8000u | (q->flags & 0x7800u) | 0x0400u | (q->flags & 0x0100u) | 0x0080u | rcode;
  w->len = 0;
  put16(w, id);
  put16(w, flags | (tc ? 0x0200u : 0));
  put16(w, q->has_question ? 1 : 0);
  put16(w, 0);
  put16(w, 0);
  put16(w, 0);
  if (q->has_question) {
    putn(w, q->qwire, q->qwire_len);
    put16(w, q->qtype);
    put16(w, q->qclass);
  }
}

static void put_opt(struct wbuf *w, const struct query *q)
{
  if (!q->edns)
    return;
  put8(w, 0);
  put16(w, 41);
  put16(w, OUR_EDNS);
  put32(w, q->edns_do ? 0x8000u : 0);
  put16(w, 0);
  inc16(w, 10);
}

static void put_owner(struct wbuf *w, size_t off)
{
  put16(w, 0xC000u | (unsigned)off);
}

static void put_rr(struct wbuf *w, size_t owner, unsigned type, uint32_t ttl, const unsigned char *rd,
                   size_t rdlen)
{
  put_owner(w, owner);
  put16(w, type);
  put16(w, 1);
  put32(w, ttl);
  put16(w, (unsigned)rdlen);
  putn(w, rd, rdlen);
}

/* A made-up record of (about) the asked type, for faults that need one. */
static size_t synth_rdata(unsigned qtype, unsigned *type, unsigned char *rd)
{
  static const unsigned char a[] = {192, 0, 2, 1};
  static const unsigned char aaaa[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char mx[] = "\0\12\4mail\7invalid";
  static const unsigned char txt[] = "\10faultdns";
  *type = qtype;
  switch (qtype) {
  case 28: memcpy(rd, aaaa, sizeof(aaaa)); return sizeof(aaaa);
  case 15: memcpy(rd, mx, sizeof(mx)); return sizeof(mx);
  case 16: memcpy(rd, txt, sizeof(txt) - 1); return sizeof(txt) - 1;
  case 5: case 2: case 12: memcpy(rd, mx + 2, sizeof(mx) - 2); return sizeof(mx) - 2;
  default: *type = 1; memcpy(rd, a, sizeof(a)); return sizeof(a);
  }
}

struct ansinfo {
  size_t first_rr, first_end;
};

/* The zone's answer (CNAME chain followed inside the zone) into the answer section. */
static unsigned put_answer(const struct server *s, struct wbuf *w, const struct query *q, struct ansinfo *ai)
{
  const char *key = q->key;
  size_t owner = 12;
  ai->first_rr = ai->first_end = 0;
  if (q->qclass != 1 && q->qclass != 255)
    return 5; /* REFUSED */
  for (int hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const struct node *nd = zone_find(&s->zone, key);
    const struct rr *cname = NULL;
    if (!nd)
      return 3;
    for (size_t i = nd->first; i < nd->first + nd->count; i++)
      if (s->zone.rrs[i].type == 5)
        cname = &s->zone.rrs[i];
    if (cname && q->qtype != 5 && q->qtype != 255 && hop < MAX_CNAME_HOPS) {
      size_t start = w->len;
      put_rr(w, owner, 5, cname->ttl, cname->rdata, cname->rdlen);
      if (!ai->first_end)
        ai->first_rr = start, ai->first_end = w->len;
      inc16(w, 6);
      owner = w->len - cname->rdlen;
      if (owner > 0x3FFF)
        return 0;
      key = cname->target;
      continue;
    }
    for (size_t i = nd->first; i < nd->first + nd->count; i++) {
      const struct rr *r = &s->zone.rrs[i];
      if (r->type != q->qtype && q->qtype != 255)
        continue;
      size_t start = w->len;
      put_rr(w, owner, r->type, r->ttl, r->rdata, r->rdlen);
      if (!ai->first_end)
        ai->first_rr = start, ai->first_end = w->len;
      inc16(w, 6);
    }
    return 0;
  }
  return 0;
}

/* Builds the response for q under fault f (already resolved to a sending one). */
static void build_response(const struct server *s, const struct query *q, enum fault_kind f, bool tcp,
                           struct wbuf *w)
{
  static const unsigned char foreign[] = "\7foreign\7invalid";
  static const unsigned char spoof[] = {192, 0, 2, 53};
  size_t limit = tcp ? 65535 : (q->edns && q->edns_size > 512 ? q->edns_size : 512);
  unsigned char rd[64];
  struct ansinfo ai;
  unsigned rcode, type;
  size_t rdlen;

  switch (f) {
  case F_SERVFAIL: put_header(w, q, q->id, 2, false); put_opt(w, q); return;
  case F_REFUSED: put_header(w, q, q->id, 5, false); put_opt(w, q); return;
  case F_FORMERR: put_header(w, q, q->id, 1, false); put_opt(w, q); return;
  case F_NOTIMP: put_header(w, q, q->id, 4, false); put_opt(w, q); return;
  case F_NXDOMAIN: put_header(w, q, q->id, 3, false); put_opt(w, q); return;
  case F_EMPTY: put_header(w, q, q->id, 0, false); put_opt(w, q); return;
  case F_TRUNCATE:
    if (!tcp) {
      put_header(w, q, q->id, 0, true);
      put_opt(w, q);
      return;
    }
    break;
  case F_WRONG_QUESTION: {
    struct query q2 = *q;
    static const unsigned char wrong[] = "\5wrong";
    if (q->qwire_len + 6 <= 255) {
      memcpy(q2.qwire, wrong, 6);
      memcpy(q2.qwire + 6, q->qwire, q->qwire_len);
      q2.qwire_len = q->qwire_len + 6;
    } else {
      memcpy(q2.qwire, "\5wrong\7invalid", 15);
      q2.qwire_len = 15;
    }
    put_header(w, &q2, q->id, 0, false);
    rcode = put_answer(s, w, q, &ai);
    w->b[3] = (unsigned char)((w->b[3] & 0xF0) | rcode);
    put_opt(w, q);
    return;
  }
  case F_COMPRESSION_LOOP:
    put_header(w, q, q->id, 0, false);
    rdlen = synth_rdata(q->qtype, &type, rd);
    set16(w, 6, 1);
    if (type == 15 || type == 5 || type == 2 || type == 12) {
      put_owner(w, 12);
      put16(w, type);
      put16(w, 1);
      put32(w, 300);
      put16(w, type == 15 ? 4 : 2);
      if (type == 15)
        put16(w, 10);
      put_owner(w, w->len); /* points at itself */
    } else {
      put_owner(w, w->len);
      put16(w, type);
      put16(w, 1);
      put32(w, 300);
      put16(w, (unsigned)rdlen);
      putn(w, rd, rdlen);
    }
    put_opt(w, q);
    return;
  case F_FOREIGN_RECORDS: {
    const struct node *nd = zone_find(&s->zone, q->key);
    size_t fown = 0;
    put_header(w, q, q->id, 0, false);
    for (size_t i = nd ? nd->first : 0; nd && i < nd->first + nd->count; i++) {
      const struct rr *r = &s->zone.rrs[i];
      if (r->type != q->qtype)
        continue;
      if (!fown) {
        fown = w->len;
        putn(w, foreign, sizeof(foreign));
      } else {
        put_owner(w, fown);
      }
      put16(w, r->type);
      put16(w, 1);
      put32(w, r->ttl);
      put16(w, r->rdlen);
      putn(w, r->rdata, r->rdlen);
      inc16(w, 6);
    }
    if (!fown) {
      rdlen = synth_rdata(q->qtype, &type, rd);
      putn(w, foreign, sizeof(foreign));
      put16(w, type);
      put16(w, 1);
      put32(w, 300);
      put16(w, (unsigned)rdlen);
      putn(w, rd, rdlen);
      inc16(w, 6);
    }
    put_rr(w, 12, 1, 300, spoof, sizeof(spoof)); /* spoofed extra record for the asked name */
    inc16(w, 10);
    put_opt(w, q);
    return;
  }
  default:
    break;
  }

  /* The real answer, possibly damaged afterwards. */
  put_header(w, q, f == F_WRONG_ID ? (q->id ^ 0x5A5Au) : q->id, 0, false);
  rcode = put_answer(s, w, q, &ai);
  w->b[3] = (unsigned char)((w->b[3] & 0xF0) | rcode);
  if (f == F_MALFORMED) {
    if (!ai.first_end) {
      rdlen = synth_rdata(q->qtype, &type, rd);
      ai.first_rr = w->len;
      put_rr(w, 12, type, 300, rd, rdlen);
      ai.first_end = w->len;
      set16(w, 6, 1);
    }
    w->len = ai.first_rr + (ai.first_end - ai.first_rr) / 2; /* cut inside the record */
    return;
  }
  put_opt(w, q);
  if (f == F_OVERSIZE) {
    unsigned char pad[201];
    pad[0] = 200;
    memset(pad + 1, 'x', 200);
    size_t target = limit < UDP_MAX - 300 ? limit + 1 : UDP_MAX - 300;
    if (tcp)
      target = 513;
    while (w->len < target) {
      put_rr(w, 12, 16, 60, pad, sizeof(pad));
      inc16(w, 10);
    }
    return;
  }
  if (w->len > limit) { /* honest truncation of an over-long answer */
    put_header(w, q, q->id, 0, true);
    put_opt(w, q);
  }
}

/* ---- statistics ---- */

static void stats_receive(struct stats *st, uint64_t t)
{
  st->queries++;
  if (!st->have_first) {
    st->have_first = true;
    st->first_us = t;
  }
  st->last_us = t;
  size_t sec = (size_t)((t - st->first_us) / 1000000u);
  if (sec >= HIST_MAX)
    sec = HIST_MAX - 1;
  if (sec >= st->hist_cap) {
    size_t ncap = st->hist_cap ? st->hist_cap : 64;
    while (ncap <= sec)
      ncap *= 2;
    uint64_t *nh = realloc(st->hist, ncap * sizeof(*nh));
    if (nh) {
      memset(nh + st->hist_cap, 0, (ncap - st->hist_cap) * sizeof(*nh));
      st->hist = nh;
      st->hist_cap = ncap;
    }
  }
  if (sec < st->hist_cap) {
    st->hist[sec]++;
    if (sec + 1 > st->hist_len)
      st->hist_len = sec + 1;
  }
  if (st->win_tail - st->win_h1 == st->win_cap) {
    size_t ncap = st->win_cap ? st->win_cap * 2 : 1024;
    uint64_t *nw = malloc(ncap * sizeof(*nw));
    if (!nw)
      return;
    for (uint64_t i = st->win_h1; i < st->win_tail; i++)
      nw[i & (ncap - 1)] = st->win[i & (st->win_cap - 1)];
    free(st->win);
    st->win = nw;
    st->win_cap = ncap;
  }
  size_t mask = st->win_cap - 1;
  st->win[st->win_tail++ & mask] = t;
  while (st->win[st->win_h1 & mask] + 1000000u <= t)
    st->win_h1++;
  while (st->win[st->win_h2 & mask] + 100000u <= t)
    st->win_h2++;
  if (st->win_tail - st->win_h1 > st->max_1s)
    st->max_1s = st->win_tail - st->win_h1;
  if (st->win_tail - st->win_h2 > st->max_100ms)
    st->max_100ms = st->win_tail - st->win_h2;
}

static void json_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void write_stats(const struct server *s)
{
  const struct stats *st = &s->st;
  char tmp[4096], tb[16];
  const char *sep = "";
  if (!s->stats_path)
    return;
  snprintf(tmp, sizeof(tmp), "%s.tmp", s->stats_path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "faultdns: %s: %s\n", tmp, strerror(errno));
    return;
  }
  fprintf(f, "{\n  \"queries\": %" PRIu64 ",\n  \"udp\": %" PRIu64 ",\n  \"tcp\": %" PRIu64
             ",\n  \"tcp_connections\": %" PRIu64 ",\n",
          st->queries, st->udp, st->tcp, st->tcp_conns);
  fprintf(f, "  \"bad_queries\": %" PRIu64 ",\n  \"ignored_packets\": %" PRIu64
             ",\n  \"answered\": %" PRIu64 ",\n  \"dropped\": %" PRIu64 ",\n  \"lost\": %" PRIu64 ",\n",
          st->bad, st->ignored, st->answered, st->dropped, st->lost);
  fprintf(f, "  \"qtypes\": {");
  for (unsigned t = 0; t < 65536; t++)
    if (st->qtypes[t]) {
      fprintf(f, "%s", sep);
      json_str(f, type_name(t, tb, sizeof(tb)));
      fprintf(f, ": %" PRIu64, st->qtypes[t]);
      sep = ", ";
    }
  fprintf(f, "},\n  \"faults\": {");
  for (int i = 0; i < F_COUNT; i++)
    fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fault_info[i].name, st->faults[i]);
  fprintf(f, "},\n  \"rcodes\": {");
  sep = "";
  for (unsigned i = 0; i < 16; i++) {
    if (i >= 6 && !st->rcodes[i])
      continue;
    if (i < 6)
      fprintf(f, "%s\"%s\": %" PRIu64, sep, rcode_names[i], st->rcodes[i]);
    else
      fprintf(f, "%s\"RCODE%u\": %" PRIu64, sep, i, st->rcodes[i]);
    sep = ", ";
  }
  fprintf(f, "},\n  \"max_in_1s\": %" PRIu64 ",\n  \"max_in_100ms\": %" PRIu64
             ",\n  \"max_outstanding\": %" PRIu64 ",\n  \"outstanding\": %zu,\n",
          st->max_1s, st->max_100ms, st->max_outstanding, s->hn);
  fprintf(f, "  \"elapsed_ms\": %" PRIu64 ",\n", (now_us() - s->start_us) / 1000u);
  if (st->have_first)
    fprintf(f, "  \"first_query_ms\": %" PRIu64 ",\n  \"last_query_ms\": %" PRIu64 ",\n",
            (st->first_us - s->start_us) / 1000u, (st->last_us - s->start_us) / 1000u);
  else
    fprintf(f, "  \"first_query_ms\": null,\n  \"last_query_ms\": null,\n");
  fprintf(f, "  \"per_second\": [");
  for (size_t i = 0; i < st->hist_len; i++)
    fprintf(f, "%s%" PRIu64, i ? ", " : "", st->hist[i]);
  fprintf(f, "]");
  if (s->count_names) {
    fprintf(f, ",\n  \"names\": {");
    sep = "";
    for (size_t i = 0; i < s->qcount.cap; i++)
      if (s->qcount.ents[i].key) {
        fprintf(f, "%s", sep);
        json_str(f, s->qcount.ents[i].key);
        fprintf(f, ": %" PRIu64, s->qcount.ents[i].val);
        sep = ", ";
      }
    fprintf(f, "}");
  }
  fprintf(f, "\n}\n");
  if (fclose(f) != 0 || rename(tmp, s->stats_path) != 0)
    fprintf(stderr, "faultdns: writing %s: %s\n", s->stats_path, strerror(errno));
}

/* ---- I/O ---- */

static void conn_close(struct server *s, size_t i)
{
  struct conn *c = &s->conns[i];
  close(c->fd);
  free(c->in);
  free(c->out);
  c->in = c->out = NULL;
  c->fd = -1;
  c->broken = false;
  c->inlen = c->outlen = c->outoff = c->outcap = 0;
  c->gen++;
}

static void conn_flush(struct conn *c)
{
  while (c->outoff < c->outlen) {
    ssize_t r = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        c->broken = true;
      return;
    }
    c->outoff += (size_t)r;
  }
  c->outoff = c->outlen = 0;
}

static bool conn_send(struct conn *c, const unsigned char *pkt, size_t len)
{
  if (c->fd < 0 || c->broken || len > 65535)
    return false;
  if (c->outlen + 2 + len > c->outcap) {
    size_t ncap = (c->outlen + 2 + len) * 2;
    unsigned char *no = realloc(c->out, ncap);
    if (!no)
      return false;
    c->out = no;
    c->outcap = ncap;
  }
  c->out[c->outlen++] = (unsigned char)(len >> 8);
  c->out[c->outlen++] = (unsigned char)(len & 0xFF);
  memcpy(c->out + c->outlen, pkt, len);
  c->outlen += len;
  conn_flush(c);
  return !c->broken;
}

static void deliver(struct server *s, bool tcp, int fd, size_t ci, uint64_t gen,
                    const struct sockaddr_storage *peer, socklen_t plen, const unsigned char *pkt, size_t len)
{
  bool ok;
  if (tcp) {
    ok = s->conns[ci].gen == gen && conn_send(&s->conns[ci], pkt, len);
  } else {
    /* Only ever back to the loopback client that asked. */
    ok = is_loopback(peer) && sendto(fd, pkt, len, 0, (const struct sockaddr *)peer, plen) == (ssize_t)len;
  }
  if (ok) {
    s->st.answered++;
    s->st.rcodes[pkt[3] & 0xF]++;
  } else {
    s->st.lost++;
  }
}

static bool heap_push(struct server *s, const struct pending *p)
{
  if (s->hn == s->hcap) {
    size_t ncap = s->hcap ? s->hcap * 2 : 64;
    struct pending *nh = realloc(s->heap, ncap * sizeof(*nh));
    if (!nh)
      return false;
    s->heap = nh;
    s->hcap = ncap;
  }
  size_t i = s->hn++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    const struct pending *q = &s->heap[parent];
    if (q->due < p->due || (q->due == p->due && q->seq < p->seq))
      break;
    s->heap[i] = *q;
    i = parent;
  }
  s->heap[i] = *p;
  return true;
}

static void heap_pop(struct server *s, struct pending *out)
{
  *out = s->heap[0];
  struct pending last = s->heap[--s->hn];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->hn)
      break;
    if (c + 1 < s->hn && (s->heap[c + 1].due < s->heap[c].due ||
                          (s->heap[c + 1].due == s->heap[c].due && s->heap[c + 1].seq < s->heap[c].seq)))
      c++;
    if (last.due < s->heap[c].due || (last.due == s->heap[c].due && last.seq < s->heap[c].seq))
      break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (s->hn)
    s->heap[i] = last;
}

static void fire_due(struct server *s)
{
  uint64_t now = now_us();
  while (s->hn && s->heap[0].due <= now) {
    struct pending p;
    heap_pop(s, &p);
    deliver(s, p.tcp, p.fd, p.conn, p.gen, &p.peer, p.plen, p.pkt, p.len);
    free(p.pkt);
  }
}

static void log_query(struct server *s, uint64_t t, const struct origin *o, const struct query *q,
                      const char *fault, const char *detail)
{
  char tb[16];
  if (!s->log)
    return;
  fprintf(s->log, "%" PRIu64 " %s %u %u %s %s %s%s%s\n", (t - s->start_us) / 1000u, o->tcp ? "tcp" : "udp",
          o->port, (unsigned)q->id, q->key, q->has_question ? type_name(q->qtype, tb, sizeof(tb)) : "-", fault,
          detail ? ":" : "", detail ? detail : "");
}

static void handle_query(struct server *s, const unsigned char *pkt, size_t n, const struct origin *o)
{
  static struct wbuf w;
  struct query q;
  struct fault f = s->deflt;
  const char *detail = NULL;
  enum fault_kind act;
  uint64_t t = now_us();
  enum pq r = parse_query(pkt, n, &q);

  if (r == PQ_IGNORE) {
    s->st.ignored++;
    return;
  }
  stats_receive(&s->st, t);
  if (o->tcp)
    s->st.tcp++;
  else
    s->st.udp++;
  if (r != PQ_OK) {
    s->st.bad++;
    put_header(&w, &q, q.id, r == PQ_NOTIMP ? 4 : 1, false);
    deliver(s, o->tcp, o->fd, o->conn, s->conns[o->conn].gen, o->peer, o->plen, w.b, w.len);
    log_query(s, t, o, &q, r == PQ_NOTIMP ? "bad-opcode" : "bad-query", NULL);
    goto out;
  }
  s->st.qtypes[q.qtype]++;
  if (s->zone.die_set && s->st.queries - s->st.bad > s->zone.die_after)
    f = (struct fault){F_DEAD, 0};
  else if (s->loss_ppm && chance(s, s->loss_ppm))
    f = (struct fault){F_LOSS, 0};
  else
    rule_find(&s->zone, q.key, q.qtype, &f);
  s->st.faults[f.kind]++;
  act = f.kind;
  if (f.kind == F_FLAP || s->count_names) {
    char k[KEY_LEN + 16], tb[16];
    bool created;
    snprintf(k, sizeof(k), "%s/%s", q.key, type_name(q.qtype, tb, sizeof(tb)));
    struct map_ent *e = map_upsert(&s->qcount, k, &created);
    uint64_t seen = e ? e->val++ : 0;
    if (f.kind == F_FLAP) {
      act = seen < f.arg ? F_SERVFAIL : F_NONE;
      detail = seen < f.arg ? "servfail" : "pass";
    }
  }
  if (f.kind == F_DROP_PCT) {
    act = chance(s, f.arg) ? F_DROP : F_NONE;
    detail = act == F_DROP ? "drop" : "pass";
  }
  log_query(s, t, o, &q, fault_info[f.kind].name, detail);
  if (act == F_DROP || act == F_DEAD || act == F_LOSS) {
    s->st.dropped++;
    goto out;
  }
  build_response(s, &q, act, o->tcp, &w);
  uint64_t delay = (uint64_t)s->delay_ms + (act == F_DELAY ? f.arg : 0);
  if (delay == 0) {
    if (s->hn + 1 > s->st.max_outstanding)
      s->st.max_outstanding = s->hn + 1;
    deliver(s, o->tcp, o->fd, o->conn, s->conns[o->conn].gen, o->peer, o->plen, w.b, w.len);
  } else {
    struct pending p = {.due = t + delay * 1000u, .seq = s->seq++, .tcp = o->tcp, .fd = o->fd,
                        .conn = o->conn, .gen = s->conns[o->conn].gen, .peer = *o->peer,
                        .plen = o->plen, .pkt = malloc(w.len), .len = w.len};
    if (!p.pkt || !heap_push(s, &p)) {
      free(p.pkt);
      s->st.lost++;
    } else {
      memcpy(p.pkt, w.b, w.len);
      if (s->hn > s->st.max_outstanding)
        s->st.max_outstanding = s->hn;
    }
  }
out:
  if (s->stop_after && s->st.queries >= s->stop_after)
    s->quit = true;
}

static void udp_read(struct server *s, int fd)
{
  static unsigned char buf[65536];
  for (int i = 0; i < 256 && !s->quit; i++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
    if (r < 0)
      return;
    struct origin o = {false, fd, 0, &peer, plen, sa_port(&peer)};
    handle_query(s, buf, (size_t)r, &o);
  }
}

static void tcp_accept(struct server *s, int lfd)
{
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
    size_t i;
    if (fd < 0)
      return;
    for (i = 0; i < MAX_CONNS && s->conns[i].fd >= 0; i++)
      ;
    if (i == MAX_CONNS || !is_loopback(&peer) || fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
        !(s->conns[i].in = malloc(TCP_IN_CAP))) {
      close(fd);
      continue;
    }
    s->conns[i].fd = fd;
    s->conns[i].port = sa_port(&peer);
    s->st.tcp_conns++;
  }
}

static void conn_read(struct server *s, size_t i)
{
  struct conn *c = &s->conns[i];
  ssize_t r = read(c->fd, c->in + c->inlen, TCP_IN_CAP - c->inlen);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    c->broken = true;
    return;
  }
  if (r < 0)
    return;
  c->inlen += (size_t)r;
  size_t off = 0;
  while (c->inlen - off >= 2 && !c->broken && !s->quit) {
    size_t len = rd16(c->in + off);
    if (c->inlen - off < 2 + len)
      break;
    struct origin o = {true, c->fd, i, NULL, 0, c->port};
    struct sockaddr_storage none = {0};
    o.peer = &none;
    handle_query(s, c->in + off + 2, len, &o);
    off += 2 + len;
  }
  memmove(c->in, c->in + off, c->inlen - off);
  c->inlen -= off;
}

static void on_signal(int sig)
{
  int saved = errno;
  if (sig == SIGUSR1)
    g_usr1 = 1;
  else
    g_term = 1;
  if (write(g_sigpipe[1], "x", 1) < 0) {
    /* nothing to do: the pipe is full, a wake-up is already pending */
  }
  errno = saved;
}

/* ---- setup ---- */

static bool parse_listen(const char *spec, struct listener *l)
{
  char host[INET6_ADDRSTRLEN];
  const char *colon;
  uint64_t port;
  memset(l, 0, sizeof(*l));
  if (spec[0] == '[') {
    const char *end = strchr(spec, ']');
    if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
      return false;
    memcpy(host, spec + 1, (size_t)(end - spec - 1));
    host[end - spec - 1] = '\0';
    colon = end + 1;
  } else {
    colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(host))
      return false;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
  }
  if (!parse_u64(colon + 1, 65535, &port))
    return false;
  struct sockaddr_in *in = (struct sockaddr_in *)&l->addr;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    l->alen = sizeof(*in);
  } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    l->alen = sizeof(*in6);
  } else {
    return false;
  }
  l->port = (unsigned)port;
  snprintf(l->host, sizeof(l->host), "%s", host);
  return is_loopback(&l->addr);
}

static void set_port(struct listener *l, unsigned port)
{
  if (l->addr.ss_family == AF_INET)
    ((struct sockaddr_in *)&l->addr)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)&l->addr)->sin6_port = htons((uint16_t)port);
}

/* UDP and TCP on the same port; port 0 picks a free one for both. */
static bool open_listener(struct listener *l)
{
  int one = 1, buf = 4 << 20;
  for (int attempt = 0; attempt < 50; attempt++) {
    struct sockaddr_storage got;
    socklen_t glen = sizeof(got);
    int fam = l->addr.ss_family;
    set_port(l, attempt == 0 ? l->port : 0);
    if (attempt > 0 && l->port != 0)
      return false;
    l->udp = socket(fam, SOCK_DGRAM, 0);
    l->tcp = socket(fam, SOCK_STREAM, 0);
    if (l->udp < 0 || l->tcp < 0)
      return false;
    if (fam == AF_INET6) {
      setsockopt(l->udp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
      setsockopt(l->tcp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    setsockopt(l->udp, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(l->udp, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(l->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l->udp, (struct sockaddr *)&l->addr, l->alen) == 0 &&
        getsockname(l->udp, (struct sockaddr *)&got, &glen) == 0) {
      set_port(l, sa_port(&got));
      if (bind(l->tcp, (struct sockaddr *)&l->addr, l->alen) == 0 && listen(l->tcp, 128) == 0 &&
          fcntl(l->udp, F_SETFL, O_NONBLOCK) == 0 && fcntl(l->tcp, F_SETFL, O_NONBLOCK) == 0) {
        l->port = sa_port(&got);
        return true;
      }
    }
    close(l->udp);
    close(l->tcp);
    l->udp = l->tcp = -1;
  }
  return false;
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: faultdns --listen 127.0.0.1:PORT [--listen [::1]:PORT] --zone FILE\n"
          "                [--seed N] [--log FILE] [--stats FILE] [--default FAULT[:ARG]]\n"
          "                [--loss PCT] [--delay MS] [--stop-after N] [--count-names]\n"
          "Loopback addresses only; PORT 0 picks a free port. Prints 'listen HOST PORT'\n"
          "per address, then 'ready'. SIGUSR1 writes the stats; SIGTERM/SIGINT write and exit.\n"
          "faults:");
  for (int i = 0; i < F_COUNT; i++)
    if (fault_info[i].arg >= 0)
      fprintf(f, " %s%s", fault_info[i].name, fault_info[i].arg ? " N" : "");
  fprintf(f, "\n");
}

int main(int argc, char **argv)
{
  static struct server s;
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'}, {"zone", required_argument, NULL, 'z'},
      {"seed", required_argument, NULL, 's'},   {"log", required_argument, NULL, 'g'},
      {"stats", required_argument, NULL, 't'},  {"default", required_argument, NULL, 'd'},
      {"loss", required_argument, NULL, 'o'},   {"delay", required_argument, NULL, 'y'},
      {"stop-after", required_argument, NULL, 'a'}, {"count-names", no_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *zone = NULL, *logpath = NULL;
  char err[200];
  uint64_t v;
  int opt;
  s.rng = 1;
  for (size_t i = 0; i < MAX_CONNS; i++)
    s.conns[i].fd = -1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
    case 'l':
      if (s.nls == MAX_LISTEN || !parse_listen(optarg, &s.ls[s.nls])) {
        fprintf(stderr, "faultdns: --listen %s: need a loopback ADDR:PORT or [ADDR]:PORT\n", optarg);
        return 2;
      }
      s.nls++;
      break;
    case 'z': zone = optarg; break;
    case 'g': logpath = optarg; break;
    case 't': s.stats_path = optarg; break;
    case 'c': s.count_names = true; break;
    case 's':
      if (!parse_u64(optarg, UINT64_MAX, &s.rng))
        goto bad;
      break;
    case 'o':
      if (!parse_pct(optarg, &s.loss_ppm))
        goto bad;
      break;
    case 'y':
      if (!parse_u64(optarg, 3600000, &v))
        goto bad;
      s.delay_ms = (uint32_t)v;
      break;
    case 'a':
      if (!parse_u64(optarg, UINT64_MAX, &s.stop_after))
        goto bad;
      break;
    case 'd': {
      char name[64], *arg;
      snprintf(name, sizeof(name), "%s", optarg);
      arg = strpbrk(name, ":= ");
      if (arg)
        *arg++ = '\0';
      if (!parse_fault(name, arg, &s.deflt, err, sizeof(err))) {
        fprintf(stderr, "faultdns: --default: %s\n", err);
        return 2;
      }
      if (s.deflt.kind == F_DIE_AFTER) {
        s.zone.die_set = true;
        s.zone.die_after = s.deflt.arg;
        s.deflt.kind = F_NONE;
      }
      break;
    }
    case 'h': usage(stdout); return 0;
    default: goto bad;
    }
  }
  if (optind != argc || s.nls == 0 || !zone)
    goto bad;
  if (!(s.st.qtypes = calloc(65536, sizeof(uint64_t))) || !zone_load(&s.zone, zone))
    return 1;
  if (logpath && !(s.log = fopen(logpath, "w"))) {
    fprintf(stderr, "faultdns: %s: %s\n", logpath, strerror(errno));
    return 1;
  }
  if (s.log)
    setvbuf(s.log, NULL, _IOLBF, 0);
  if (pipe(g_sigpipe) != 0 || fcntl(g_sigpipe[0], F_SETFL, O_NONBLOCK) != 0 ||
      fcntl(g_sigpipe[1], F_SETFL, O_NONBLOCK) != 0)
    return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < s.nls; i++) {
    if (!open_listener(&s.ls[i])) {
      fprintf(stderr, "faultdns: cannot listen on %s port %u: %s\n", s.ls[i].host, s.ls[i].port,
              strerror(errno));
      return 1;
    }
    printf("listen %s %u\n", s.ls[i].host, s.ls[i].port);
  }
  s.start_us = now_us();
  printf("ready\n");
  fflush(stdout);

  static struct pollfd pfd[1 + 2 * MAX_LISTEN + MAX_CONNS];
  static size_t pconn[MAX_CONNS];
  while (!s.quit && !g_term) {
    fire_due(&s);
    int timeout = -1;
    if (s.hn) {
      uint64_t now = now_us();
      timeout = s.heap[0].due <= now ? 0 : (int)((s.heap[0].due - now + 999) / 1000);
    }
    size_t np = 0, nc = 0;
    pfd[np++] = (struct pollfd){g_sigpipe[0], POLLIN, 0};
    for (size_t i = 0; i < s.nls; i++) {
      pfd[np++] = (struct pollfd){s.ls[i].udp, POLLIN, 0};
      pfd[np++] = (struct pollfd){s.ls[i].tcp, POLLIN, 0};
    }
    for (size_t i = 0; i < MAX_CONNS; i++)
      if (s.conns[i].fd >= 0) {
        short ev = (short)(POLLIN | (s.conns[i].outlen > s.conns[i].outoff ? POLLOUT : 0));
        pconn[nc++] = i;
        pfd[np++] = (struct pollfd){s.conns[i].fd, ev, 0};
      }
    if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR) {
      perror("faultdns: poll");
      return 1;
    }
    if (pfd[0].revents) {
      char drain[64];
      while (read(g_sigpipe[0], drain, sizeof(drain)) > 0)
        ;
    }
    if (g_usr1) {
      g_usr1 = 0;
      write_stats(&s);
    }
    for (size_t i = 0; i < s.nls; i++) {
      if (pfd[1 + 2 * i].revents)
        udp_read(&s, s.ls[i].udp);
      if (pfd[2 + 2 * i].revents)
        tcp_accept(&s, s.ls[i].tcp);
    }
    for (size_t j = 0; j < nc; j++) {
      struct conn *c = &s.conns[pconn[j]];
      short re = pfd[1 + 2 * s.nls + j].revents;
      if (c->fd < 0 || s.quit)
        continue;
      if (re & POLLOUT)
        conn_flush(c);
      if (re & (POLLIN | POLLHUP | POLLERR))
        conn_read(&s, pconn[j]);
      if (c->broken)
        conn_close(&s, pconn[j]);
    }
  }
  write_stats(&s);
  if (s.log)
    fclose(s.log);
  return 0;
bad:
  usage(stderr);
  return 2;
}
