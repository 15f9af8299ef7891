/*
 * faultdns: a fault-injecting DNS responder for the mxscan test suite.
 *
 * Serves a tiny zone over UDP and TCP on loopback only and, on request per
 * name/type, misbehaves: drops, delays, chosen rcodes, truncation, wrong IDs,
 * malformed or oversized packets, compression loops, foreign records, flapping
 * and dying midway. It counts what it saw (rate windows, concurrency) so tests
 * can check the scanner's rate limit and concurrency cap. See README.md.
 *
 * This file: sockets, event loop, delayed answers, statistics, main.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "faultdns.h"

#define MAX_LISTEN 8
#define MAX_CONNS 256
#define TCP_IN_CAP (2u + 65535u)
#define HIST_MAX 86400u

static const char *const rcode_names[] = {"NOERROR", "FORMERR", "SERVFAIL",
                                          "NXDOMAIN", "NOTIMP", "REFUSED"};

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
      json_str(f, fdns_type_name(t, tb, sizeof(tb)));
      fprintf(f, ": %" PRIu64, st->qtypes[t]);
      sep = ", ";
    }
  fprintf(f, "},\n  \"faults\": {");
  for (int i = 0; i < F_COUNT; i++)
    fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fdns_fault_info[i].name, st->faults[i]);
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
          o->port, (unsigned)q->id, q->key, q->has_question ? fdns_type_name(q->qtype, tb, sizeof(tb)) : "-", fault,
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
  enum pq r = fdns_parse_query(pkt, n, &q);

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
    fdns_put_header(&w, &q, q.id, r == PQ_NOTIMP ? 4 : 1, false);
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
    fdns_rule_find(&s->zone, q.key, q.qtype, &f);
  s->st.faults[f.kind]++;
  act = f.kind;
  if (f.kind == F_FLAP || s->count_names) {
    char k[KEY_LEN + 16], tb[16];
    bool created;
    snprintf(k, sizeof(k), "%s/%s", q.key, fdns_type_name(q.qtype, tb, sizeof(tb)));
    struct map_ent *e = fdns_map_upsert(&s->qcount, k, &created);
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
  log_query(s, t, o, &q, fdns_fault_info[f.kind].name, detail);
  if (act == F_DROP || act == F_DEAD || act == F_LOSS) {
    s->st.dropped++;
    goto out;
  }
  fdns_build_response(&s->zone, &q, act, o->tcp, &w);
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
    size_t len = fdns_rd16(c->in + off);
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
  if (!fdns_parse_u64(colon + 1, 65535, &port))
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
    if (fdns_fault_info[i].arg >= 0)
      fprintf(f, " %s%s", fdns_fault_info[i].name, fdns_fault_info[i].arg ? " N" : "");
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
      if (!fdns_parse_u64(optarg, UINT64_MAX, &s.rng))
        goto bad;
      break;
    case 'o':
      if (!fdns_parse_pct(optarg, &s.loss_ppm))
        goto bad;
      break;
    case 'y':
      if (!fdns_parse_u64(optarg, 3600000, &v))
        goto bad;
      s.delay_ms = (uint32_t)v;
      break;
    case 'a':
      if (!fdns_parse_u64(optarg, UINT64_MAX, &s.stop_after))
        goto bad;
      break;
    case 'd': {
      char name[64], *arg;
      snprintf(name, sizeof(name), "%s", optarg);
      arg = strpbrk(name, ":= ");
      if (arg)
        *arg++ = '\0';
      if (!fdns_parse_fault(name, arg, &s.deflt, err, sizeof(err))) {
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
  if (!(s.st.qtypes = calloc(65536, sizeof(uint64_t))) || !fdns_zone_load(&s.zone, zone))
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
