/* In-process DNS server for engine tests (helper_dnsserver.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "helper_dnsserver.h"

#define MAXREC 4096
#define MAXQ 4096    /* distinct (name, type) counters */
#define MAXPEND 4096 /* delayed answers */

struct rec {
    char name[256];
    uint16_t type;
    char data[600];
};

enum act { ACT_NONE, ACT_DELAY, ACT_DROP, ACT_SERVFAIL, ACT_REFUSED, ACT_NOAA, ACT_TC };

struct rule {
    char name[256];
    uint16_t type; /* 0 = any */
    enum act act;
    unsigned ms;
};

struct counter {
    char name[300];
    uint16_t type;
    unsigned n;
};

struct pend {
    uint64_t due_ms;
    struct sockaddr_in to;
    size_t len;
    unsigned char buf[1500];
};

#define MAXTIMES 8192

struct dns_server {
    int fd, tfd; /* UDP, TCP listener */
    uint16_t port;
    char addr[32];
    pthread_t th;
    atomic_bool quit;
    struct rec recs[MAXREC];
    unsigned nrec;
    struct rule rules[64];
    unsigned nrule;
    pthread_mutex_t lock; /* counters */
    struct counter cnt[MAXQ];
    unsigned ncnt;
    struct pend *pend;
    unsigned npend;
    unsigned rd_set, tcp_queries; /* under lock */
    unsigned ntimes;
    uint64_t times[MAXTIMES];     /* arrival of each query, ms, under lock */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint16_t type_of(const char *t)
{
    if (!strcasecmp(t, "A"))
        return 1;
    if (!strcasecmp(t, "MX"))
        return 15;
    if (!strcasecmp(t, "TXT"))
        return 16;
    if (!strcasecmp(t, "AAAA"))
        return 28;
    if (!strcasecmp(t, "PTR"))
        return 12;
    if (!strcasecmp(t, "SOA"))
        return 6;
    if (!strcasecmp(t, "NS"))
        return 2;
    return 0;
}

static bool load(struct dns_server *s, const char *table)
{
    const char *p = table;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024];
        if (len >= sizeof line)
            return false;
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        char name[256], type[16], rest[512] = ""; /* the size of rec.data */
        int n = sscanf(line, "%255s %15s %511[^\n]", name, type, rest);
        if (n < 2)
            continue;
        char *slash = strchr(name, '/');
        if (slash) {
            struct rule *r = &s->rules[s->nrule++];
            *slash = 0;
            snprintf(r->name, sizeof r->name, "%s", name);
            r->type = strcmp(slash + 1, "*") == 0 ? 0 : type_of(slash + 1);
            if (!strcmp(type, "delay")) {
                r->act = ACT_DELAY;
                r->ms = (unsigned)atoi(rest);
            } else if (!strcmp(type, "drop")) {
                r->act = ACT_DROP;
            } else if (!strcmp(type, "servfail")) {
                r->act = ACT_SERVFAIL;
            } else if (!strcmp(type, "refused")) {
                r->act = ACT_REFUSED;
            } else if (!strcmp(type, "noaa")) {
                r->act = ACT_NOAA;
            } else if (!strcmp(type, "tc")) {
                r->act = ACT_TC;
            } else {
                return false;
            }
            continue;
        }
        struct rec *r = &s->recs[s->nrec++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->type = type_of(type);
        size_t rl = strlen(rest);
        if (rl >= sizeof r->data)
            return false; /* longer than a record keeps: refused, never cut */
        memcpy(r->data, rest, rl + 1);
        if (!r->type || s->nrec >= MAXREC)
            return false;
    }
    return true;
}

/* Reads the question name (uncompressed) into out; returns the offset after QCLASS. */
static size_t read_question(const unsigned char *b, size_t len, char *out, uint16_t *qtype)
{
    size_t o = 12, w = 0;
    while (o < len && b[o]) {
        unsigned l = b[o++];
        if (l > 63 || o + l > len)
            return 0;
        if (w)
            out[w++] = '.';
        for (unsigned i = 0; i < l; i++)
            out[w++] = (char)b[o + i];
        o += l;
    }
    out[w] = 0;
    if (o + 5 > len)
        return 0;
    o++;
    *qtype = (uint16_t)(b[o] << 8 | b[o + 1]);
    return o + 4;
}

static size_t put_name(unsigned char *b, size_t o, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        b[o++] = (unsigned char)l;
        memcpy(b + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    b[o++] = 0;
    return o;
}

static void count(struct dns_server *s, const char *name, uint16_t qtype, bool rd, bool tcp)
{
    pthread_mutex_lock(&s->lock);
    s->rd_set += rd;
    s->tcp_queries += tcp;
    if (s->ntimes < MAXTIMES)
        s->times[s->ntimes++] = now_ms();
    unsigned i;
    for (i = 0; i < s->ncnt; i++)
        if (s->cnt[i].type == qtype && !strcasecmp(s->cnt[i].name, name))
            break;
    if (i == s->ncnt && s->ncnt < MAXQ) {
        snprintf(s->cnt[i].name, sizeof s->cnt[i].name, "%s", name);
        s->cnt[i].type = qtype;
        s->ncnt++;
    }
    if (i < MAXQ)
        s->cnt[i].n++;
    pthread_mutex_unlock(&s->lock);
}

/* Builds the answer in b (the query is already there); returns its length.
 * tcp: the question came over TCP (a "tc" rule then answers in full). */
static size_t answer(struct dns_server *s, unsigned char *b, size_t qlen, const char *name,
                     uint16_t qtype, enum act act, bool tcp)
{
    size_t o = qlen;
    unsigned an = 0;
    bool exists = false;
    b[2] = (unsigned char)(0x84 | (b[2] & 0x01)); /* QR, AA, RD copied */
    b[3] = 0x80;                                   /* RA */
    b[10] = b[11] = 0;                             /* no additional (drop the OPT) */
    if (act == ACT_SERVFAIL || act == ACT_REFUSED) {
        b[2] &= (unsigned char)~0x04;
        b[3] |= act == ACT_SERVFAIL ? 2 : 5;
        b[6] = b[7] = 0;
        return o;
    }
    if (act == ACT_NOAA)
        b[2] &= (unsigned char)~0x04;
    if (act == ACT_TC && !tcp) {
        b[2] |= 0x02; /* truncated: nothing fits */
        b[6] = b[7] = 0;
        return o;
    }
    for (unsigned i = 0; i < s->nrec; i++) {
        struct rec *r = &s->recs[i];
        if (strcasecmp(r->name, name) != 0)
            continue;
        exists = true;
        if (r->type != qtype)
            continue;
        b[o++] = 0xC0;
        b[o++] = 0x0C;
        b[o++] = (unsigned char)(qtype >> 8);
        b[o++] = (unsigned char)qtype;
        b[o++] = 0;
        b[o++] = 1;
        b[o++] = 0;
        b[o++] = 0;
        b[o++] = 0x01;
        b[o++] = 0x2C; /* TTL 300 */
        size_t rdl = o;
        o += 2;
        if (qtype == 1) {
            inet_pton(AF_INET, r->data, b + o);
            o += 4;
        } else if (qtype == 28) {
            inet_pton(AF_INET6, r->data, b + o);
            o += 16;
        } else if (qtype == 15) {
            unsigned pref = 0;
            char ex[256] = "";
            sscanf(r->data, "%u %255s", &pref, ex);
            b[o++] = (unsigned char)(pref >> 8);
            b[o++] = (unsigned char)pref;
            o = put_name(b, o, strcmp(ex, ".") == 0 ? "" : ex);
        } else if (qtype == 12 || qtype == 2) {
            o = put_name(b, o, r->data);
        } else if (qtype == 6) { /* "MNAME SERIAL" */
            char mn[256] = "";
            unsigned long serial = 0;
            sscanf(r->data, "%255s %lu", mn, &serial);
            o = put_name(b, o, mn);
            o = put_name(b, o, "hostmaster.test");
            uint32_t f[5] = {(uint32_t)serial, 3600, 600, 86400, 300};
            for (int k = 0; k < 5; k++) {
                b[o++] = (unsigned char)(f[k] >> 24);
                b[o++] = (unsigned char)(f[k] >> 16);
                b[o++] = (unsigned char)(f[k] >> 8);
                b[o++] = (unsigned char)f[k];
            }
        } else { /* TXT: one string */
            size_t l = strlen(r->data);
            b[o++] = (unsigned char)l;
            memcpy(b + o, r->data, l);
            o += l;
        }
        size_t rdlen = o - rdl - 2;
        b[rdl] = (unsigned char)(rdlen >> 8);
        b[rdl + 1] = (unsigned char)rdlen;
        an++;
    }
    b[6] = (unsigned char)(an >> 8);
    b[7] = (unsigned char)an;
    if (!exists)
        b[3] |= 3; /* NXDOMAIN */
    return o;
}

static const struct rule *rule_for(const struct dns_server *s, const char *name, uint16_t qtype)
{
    for (unsigned i = 0; i < s->nrule; i++)
        if ((s->rules[i].type == 0 || s->rules[i].type == qtype) &&
            !strcasecmp(s->rules[i].name, name))
            return &s->rules[i];
    return NULL;
}

/* One TCP connection: length-prefixed questions until the client closes
 * (blocking, with a short receive timeout; enough for tests). */
static void serve_tcp(struct dns_server *s, int c)
{
    struct timeval tv = {0, 300000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        unsigned char hdr[2], b[4096];
        if (recv(c, hdr, 2, MSG_WAITALL) != 2)
            break;
        size_t len = (size_t)hdr[0] << 8 | hdr[1];
        if (len > 512 || recv(c, b, len, MSG_WAITALL) != (ssize_t)len)
            break;
        char name[300];
        uint16_t qtype = 0;
        size_t qend = read_question(b, len, name, &qtype);
        if (!qend)
            break;
        count(s, name, qtype, (b[2] & 0x01) != 0, true);
        const struct rule *r = rule_for(s, name, qtype);
        enum act act = r ? r->act : ACT_NONE;
        if (act == ACT_DROP)
            continue;
        size_t alen = answer(s, b, qend, name, qtype, act, true);
        unsigned char out[2 + 4096];
        out[0] = (unsigned char)(alen >> 8);
        out[1] = (unsigned char)alen;
        memcpy(out + 2, b, alen);
        if (send(c, out, 2 + alen, MSG_NOSIGNAL) != (ssize_t)(2 + alen))
            break;
    }
    close(c);
}

static void *serve(void *arg)
{
    struct dns_server *s = arg;
    while (!atomic_load(&s->quit)) {
        uint64_t now = now_ms();
        int timeout = 20;
        for (unsigned i = 0; i < s->npend;) {
            struct pend *p = &s->pend[i];
            if (p->due_ms <= now) {
                sendto(s->fd, p->buf, p->len, 0, (struct sockaddr *)&p->to, sizeof p->to);
                s->pend[i] = s->pend[--s->npend];
                continue;
            }
            if ((int)(p->due_ms - now) < timeout)
                timeout = (int)(p->due_ms - now);
            i++;
        }
        struct pollfd pf[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->tfd, .events = POLLIN}};
        if (poll(pf, 2, timeout) <= 0)
            continue;
        if (pf[1].revents & POLLIN) {
            int c = accept(s->tfd, NULL, NULL);
            if (c >= 0)
                serve_tcp(s, c);
        }
        for (;;) {
            unsigned char b[1500];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(s->fd, b, 512, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
            if (n <= 0)
                break;
            char name[300];
            uint16_t qtype = 0;
            size_t qend = read_question(b, (size_t)n, name, &qtype);
            if (!qend)
                continue;
            count(s, name, qtype, (b[2] & 0x01) != 0, false);
            const struct rule *r = rule_for(s, name, qtype);
            enum act act = r ? r->act : ACT_NONE;
            if (act == ACT_DROP)
                continue;
            size_t len = answer(s, b, qend, name, qtype, act, false);
            if (act == ACT_DELAY && s->npend < MAXPEND) {
                struct pend *p = &s->pend[s->npend++];
                p->due_ms = now_ms() + r->ms;
                p->to = from;
                p->len = len;
                memcpy(p->buf, b, len);
                continue;
            }
            sendto(s->fd, b, len, 0, (struct sockaddr *)&from, fl);
        }
    }
    return NULL;
}

struct dns_server *dns_server_start(const char *table)
{
    return dns_server_start_at("127.0.0.1", 0, table);
}

struct dns_server *dns_server_start_at(const char *ip, uint16_t port, const char *table)
{
    struct dns_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pend = calloc(MAXPEND, sizeof *s->pend);
    pthread_mutex_init(&s->lock, NULL);
    if (!s->pend || !load(s, table)) {
        free(s->pend);
        free(s);
        return NULL;
    }
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    s->tfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &sa.sin_addr);
    sa.sin_port = htons(port);
    int big = 4 << 20, one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(s->tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(s->fd);
        close(s->tfd);
        free(s->pend);
        free(s);
        return NULL;
    }
    socklen_t sl = sizeof sa;
    getsockname(s->fd, (struct sockaddr *)&sa, &sl);
    s->port = ntohs(sa.sin_port);
    /* TCP on the same port (a free one nearly always: try a few times) */
    if (bind(s->tfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->tfd, 16) != 0) {
        close(s->fd);
        close(s->tfd);
        free(s->pend);
        free(s);
        return NULL;
    }
    snprintf(s->addr, sizeof s->addr, "%s:%u", ip, s->port);
    pthread_create(&s->th, NULL, serve, s);
    return s;
}

uint16_t dns_server_port(const struct dns_server *s)
{
    return s->port;
}

const char *dns_server_addr(const struct dns_server *s)
{
    return s->addr;
}

unsigned dns_server_count(struct dns_server *s, const char *name, const char *type)
{
    uint16_t t = strcmp(type, "*") == 0 ? 0 : type_of(type);
    unsigned n = 0;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->ncnt; i++)
        if ((!name || !strcasecmp(s->cnt[i].name, name)) && (!t || s->cnt[i].type == t))
            n += s->cnt[i].n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned dns_server_count_rd(struct dns_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->rd_set;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned dns_server_count_tcp(struct dns_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->tcp_queries;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned dns_server_times(struct dns_server *s, uint64_t *out, unsigned max)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->ntimes < max ? s->ntimes : max;
    memcpy(out, s->times, n * sizeof *out);
    pthread_mutex_unlock(&s->lock);
    return n;
}

void dns_server_stop(struct dns_server *s)
{
    if (!s)
        return;
    atomic_store(&s->quit, true);
    pthread_join(s->th, NULL);
    close(s->fd);
    close(s->tfd);
    pthread_mutex_destroy(&s->lock);
    free(s->pend);
    free(s);
}
