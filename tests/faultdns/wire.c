/* faultdns wire format: query parsing and (faulty) response building. */
#include <stdio.h>
#include <string.h>

#include "faultdns.h"

unsigned fdns_rd16(const unsigned char *p)
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
  set16(w, off, fdns_rd16(w->b + off) + 1);
}

/* ---- query parsing ---- */


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

enum pq fdns_parse_query(const unsigned char *p, size_t n, struct query *q)
{
  size_t off = 12;
  memset(q, 0, sizeof(*q));
  strcpy(q->key, "-");
  if (n < 12)
    return PQ_IGNORE;
  q->id = (uint16_t)fdns_rd16(p);
  q->flags = (uint16_t)fdns_rd16(p + 2);
  if (q->flags & 0x8000)
    return PQ_IGNORE; /* a response: never answer those */
  unsigned qd = fdns_rd16(p + 4), an = fdns_rd16(p + 6), ns = fdns_rd16(p + 8), ar = fdns_rd16(p + 10);
  if (qd == 1 && parse_qname(p, n, &off, q) && off + 4 <= n) {
    q->qtype = (uint16_t)fdns_rd16(p + off);
    q->qclass = (uint16_t)fdns_rd16(p + off + 2);
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
    unsigned type = fdns_rd16(p + off), rdlen = fdns_rd16(p + off + 8);
    if (i >= an + ns && type == 41) {
      if (q->edns || p[name_at] != 0)
        return PQ_FORMERR;
      q->edns = true;
      q->edns_size = (uint16_t)fdns_rd16(p + off + 2);
      q->edns_do = (p[off + 6] & 0x80) != 0;
    }
    off += 10 + rdlen;
    if (off > n)
      return PQ_FORMERR;
  }
  return PQ_OK;
}

/* ---- response building ---- */

void fdns_put_header(struct wbuf *w, const struct query *q, unsigned id, unsigned rcode, bool tc)
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
static unsigned put_answer(const struct zone *z, struct wbuf *w, const struct query *q, struct ansinfo *ai)
{
  const char *key = q->key;
  size_t owner = 12;
  ai->first_rr = ai->first_end = 0;
  if (q->qclass != 1 && q->qclass != 255)
    return 5; /* REFUSED */
  for (int hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const struct node *nd = fdns_zone_find(z, key);
    const struct rr *cname = NULL;
    if (!nd)
      return 3;
    for (size_t i = nd->first; i < nd->first + nd->count; i++)
      if (z->rrs[i].type == 5)
        cname = &z->rrs[i];
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
      const struct rr *r = &z->rrs[i];
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
void fdns_build_response(const struct zone *z, const struct query *q, enum fault_kind f, bool tcp,
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
  case F_SERVFAIL: fdns_put_header(w, q, q->id, 2, false); put_opt(w, q); return;
  case F_REFUSED: fdns_put_header(w, q, q->id, 5, false); put_opt(w, q); return;
  case F_FORMERR: fdns_put_header(w, q, q->id, 1, false); put_opt(w, q); return;
  case F_NOTIMP: fdns_put_header(w, q, q->id, 4, false); put_opt(w, q); return;
  case F_NXDOMAIN: fdns_put_header(w, q, q->id, 3, false); put_opt(w, q); return;
  case F_EMPTY: fdns_put_header(w, q, q->id, 0, false); put_opt(w, q); return;
  case F_TRUNCATE:
    if (!tcp) {
      fdns_put_header(w, q, q->id, 0, true);
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
    fdns_put_header(w, &q2, q->id, 0, false);
    rcode = put_answer(z, w, q, &ai);
    w->b[3] = (unsigned char)((w->b[3] & 0xF0) | rcode);
    put_opt(w, q);
    return;
  }
  case F_COMPRESSION_LOOP:
    fdns_put_header(w, q, q->id, 0, false);
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
    const struct node *nd = fdns_zone_find(z, q->key);
    size_t fown = 0;
    fdns_put_header(w, q, q->id, 0, false);
    for (size_t i = nd ? nd->first : 0; nd && i < nd->first + nd->count; i++) {
      const struct rr *r = &z->rrs[i];
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
  fdns_put_header(w, q, f == F_WRONG_ID ? (q->id ^ 0x5A5Au) : q->id, 0, false);
  rcode = put_answer(z, w, q, &ai);
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
    fdns_put_header(w, q, q->id, 0, true);
    put_opt(w, q);
  }
}
