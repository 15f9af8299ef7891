/* faultdns zone file: records, fault rules, name lookup (see README.md). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "faultdns.h"

const struct fault_desc fdns_fault_info[F_COUNT] = {
#define X(e, n, a) {n, a},
    FAULT_MAP(X)
#undef X
};

static const struct {
  const char *name;
  uint16_t type;
} type_names[] = {{"A", 1},      {"NS", 2},     {"CNAME", 5},   {"SOA", 6},
                  {"PTR", 12},   {"MX", 15},    {"TXT", 16},    {"AAAA", 28},
                  {"SRV", 33},   {"OPT", 41},   {"DS", 43},     {"RRSIG", 46},
                  {"DNSKEY", 48}, {"TLSA", 52}, {"SPF", 99},    {"ANY", 255},
                  {"CAA", 257}};

/* ---- string map (open addressing, FNV-1a) ---- */

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

struct map_ent *fdns_map_find(const struct map *m, const char *key)
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
struct map_ent *fdns_map_upsert(struct map *m, const char *key, bool *created)
{
  struct map_ent *e = fdns_map_find(m, key);
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

/* ---- numbers and types ---- */

bool fdns_parse_u64(const char *str, uint64_t max, uint64_t *out)
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

bool fdns_parse_pct(const char *str, uint32_t *ppm)
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

const char *fdns_type_name(unsigned t, char *buf, size_t n)
{
  for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
    if (type_names[i].type == t)
      return type_names[i].name;
  snprintf(buf, n, "TYPE%u", t);
  return buf;
}

bool fdns_parse_type(const char *s, uint16_t *t)
{
  uint64_t v;
  for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
    if (strcasecmp(type_names[i].name, s) == 0) {
      *t = type_names[i].type;
      return true;
    }
  if (strncasecmp(s, "TYPE", 4) == 0 && fdns_parse_u64(s + 4, 65535, &v)) {
    *t = (uint16_t)v;
    return true;
  }
  return false;
}

/* ---- names ---- */

/* One label byte as a key writes it (the same form as parse_qname in wire.c). */
static size_t key_byte(unsigned char c, char *out)
{
  if (c >= 'A' && c <= 'Z') {
    out[0] = (char)(c + 32);
    return 1;
  }
  if (c > ' ' && c < 127 && c != '.' && c != '\\' && c != '"' && c != '/') {
    out[0] = (char)c;
    return 1;
  }
  snprintf(out, 5, "\\%03u", (unsigned)c);
  return 4;
}

/* Zone-file name -> lowercase key without trailing dot ("." for the root).
 * A label byte may be written \DDD (decimal) or \c (c itself), e.g.
 * "a\032b.test" for a label with a space; the key then shows odd bytes as
 * \DDD, as the query parser does. */
static bool norm_name(const char *in, char *out, size_t outsz)
{
  size_t n = strlen(in), label = 0, wire = 1, k = 0;
  if (n == 0 || n >= outsz)
    return false;
  if (strcmp(in, ".") == 0) {
    strcpy(out, ".");
    return true;
  }
  if (in[n - 1] == '.' && (n < 2 || in[n - 2] != '\\'))
    n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '.') {
      if (label == 0 || k + 1 >= outsz)
        return false;
      label = 0;
      out[k++] = '.';
      wire++;
      continue;
    }
    if (c == '\\') {
      if (i + 3 < n && isdigit((unsigned char)in[i + 1]) && isdigit((unsigned char)in[i + 2]) &&
          isdigit((unsigned char)in[i + 3])) {
        unsigned v = (unsigned)(in[i + 1] - '0') * 100 + (unsigned)(in[i + 2] - '0') * 10 +
                     (unsigned)(in[i + 3] - '0');
        if (v > 255)
          return false;
        c = (unsigned char)v;
        i += 3;
      } else if (i + 1 < n) {
        c = (unsigned char)in[++i];
      } else {
        return false;
      }
    } else if (c <= ' ' || c >= 127 || c == '"' || c == '/') {
      return false;
    }
    if (++label > 63 || k + 5 >= outsz)
      return false;
    wire++;
    k += key_byte(c, out + k);
  }
  out[k] = '\0';
  return label > 0 && wire <= 255;
}

/* Key (as made by norm_name) -> uncompressed wire name. */
static size_t key_to_wire(const char *key, unsigned char *out)
{
  size_t len = 0;
  if (strcmp(key, ".") != 0) {
    while (*key) {
      size_t at = len++, l = 0;
      while (*key && *key != '.') {
        if (key[0] == '\\' && isdigit((unsigned char)key[1])) { /* \DDD, as key_byte writes it */
          out[len++] = (unsigned char)((key[1] - '0') * 100 + (key[2] - '0') * 10 + (key[3] - '0'));
          key += 4;
        } else {
          out[len++] = (unsigned char)*key++;
        }
        l++;
      }
      out[at] = (unsigned char)l;
      if (*key == '.')
        key++;
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
    if (fdns_fault_info[i].arg >= 0 && strcmp(fdns_fault_info[i].name, s) == 0)
      return (enum fault_kind)i;
  return F_COUNT;
}

bool fdns_parse_fault(const char *name, const char *arg, struct fault *f, char *err, size_t errlen)
{
  uint64_t v = 0;
  f->kind = fault_by_name(name);
  f->arg = 0;
  if (f->kind == F_COUNT) {
    snprintf(err, errlen, "unknown fault '%s'", name);
    return false;
  }
  int need = fdns_fault_info[f->kind].arg;
  if (need == 0 && arg) {
    snprintf(err, errlen, "fault '%s' takes no argument", name);
    return false;
  }
  if (need == 1 && !fdns_parse_u64(arg, 3600000, &v)) {
    snprintf(err, errlen, "fault '%s' needs a number", name);
    return false;
  }
  if (need == 2 && !fdns_parse_pct(arg, &f->arg)) {
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
  if (!fdns_parse_fault(t[1].s, n == 3 ? t[2].s : NULL, &f, err, errlen))
    return false;
  if (slash) {
    *slash = '\0';
    if (!fdns_parse_type(slash + 1, &type)) {
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
  struct map_ent *e = fdns_map_upsert(&z->rules, key, &created);
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
  if (n < 4 || !norm_name(t[0].s, owner, sizeof(owner)) || !fdns_parse_type(t[1].s, &type) ||
      !fdns_parse_u64(t[2].s, 0x7FFFFFFF, &ttl)) {
    snprintf(err, errlen, "expected NAME TYPE TTL DATA or NAME FAULT [ARG]");
    return false;
  }
  if (strcmp(t[3].s, "\\#") == 0) { /* RFC 3597: \# LEN HEX... */
    uint64_t len;
    if (n < 5 || !fdns_parse_u64(t[4].s, 65535, &len))
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
    if (n != 5 || !fdns_parse_u64(t[3].s, 65535, &v) || !norm_name(t[4].s, target, sizeof(target)))
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
    struct map_ent *e = fdns_map_upsert(&z->names, z->rrs[i].owner, &created);
    if (!e || (created && !node_add(z, &cap, i, 1, &e->val)))
      return false;
    if (!created) /* was an empty non-terminal */
      z->nodes[e->val] = (struct node){i, 1};
    cur = e->val;
    for (const char *p = strchr(z->rrs[i].owner, '.'); p; p = strchr(p + 1, '.')) {
      struct map_ent *a = fdns_map_upsert(&z->names, p + 1, &created);
      if (!a || (created && !node_add(z, &cap, 0, 0, &a->val)))
        return false;
    }
  }
  return true;
}

bool fdns_zone_load(struct zone *z, const char *path)
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
const struct node *fdns_zone_find(const struct zone *z, const char *key)
{
  char wk[KEY_LEN + 2];
  const struct map_ent *e = fdns_map_find(&z->names, key);
  if (e)
    return &z->nodes[e->val];
  for (const char *p = key; p; p = strchr(p + 1, '.')) {
    const char *suffix = p == key ? NULL : p + 1;
    if (!suffix)
      continue;
    snprintf(wk, sizeof(wk), "*.%s", suffix);
    if ((e = fdns_map_find(&z->names, wk)))
      return &z->nodes[e->val];
  }
  e = fdns_map_find(&z->names, "*");
  return e && strcmp(key, ".") != 0 ? &z->nodes[e->val] : NULL;
}

/* Most specific rule: name/type, name, then *.suffix/type, *.suffix (longest first), * /type, *. */
bool fdns_rule_find(const struct zone *z, const char *key, unsigned qtype, struct fault *f)
{
  char k[KEY_LEN + 16];
  const struct map_ent *e;
  if (z->nrules == 0)
    return false;
  snprintf(k, sizeof(k), "%s/%u", key, qtype);
  if ((e = fdns_map_find(&z->rules, k)) || (e = fdns_map_find(&z->rules, key)))
    goto found;
  for (const char *p = strchr(key, '.'); p; p = strchr(p + 1, '.')) {
    snprintf(k, sizeof(k), "*.%s/%u", p + 1, qtype);
    if ((e = fdns_map_find(&z->rules, k)))
      goto found;
    snprintf(k, sizeof(k), "*.%s", p + 1);
    if ((e = fdns_map_find(&z->rules, k)))
      goto found;
  }
  snprintf(k, sizeof(k), "*/%u", qtype);
  if ((e = fdns_map_find(&z->rules, k)) || (e = fdns_map_find(&z->rules, "*")))
    goto found;
  return false;
found:
  *f = z->rule_v[e->val];
  return true;
}
