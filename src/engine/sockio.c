/* Batched socket I/O for c-ares (sockio.h).
 *
 * c-ares 1.18.1 with user socket functions does no socket set-up: we make
 * the sockets non-blocking and close-on-exec, size their buffers and set
 * TCP_NODELAY here. It reads a UDP socket until the read function says
 * EAGAIN, and treats any other error as a broken server (handle_error), so
 * the receive side keeps those semantics: errors of recvmmsg are passed on
 * unchanged. A queued UDP send is reported as done at once; if the kernel
 * later refuses it, the query simply times out and the engine retries it. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mx/sockio.h"

#define BATCH 64       /* datagrams per recvmmsg / sendmmsg */
#define RPKT 4096      /* largest answer kept (c-ares reads at most 4097) */
#define SPKT 512       /* largest query queued (ours are far smaller) */
#define MAXSOCK 32     /* sockets per worker: 2 per server at most */

struct sock {
    int fd;
    bool udp;
    /* received, not yet handed to c-ares: rmsg[rpos .. rn) */
    unsigned rn, rpos;
    struct mmsghdr rmsg[BATCH];
    struct iovec riov[BATCH];
    struct sockaddr_storage raddr[BATCH];
    unsigned char rbuf[BATCH][RPKT];
    /* queued sends */
    unsigned sn;
    struct mmsghdr smsg[BATCH];
    struct iovec siov[BATCH];
    unsigned char sbuf[BATCH][SPKT];
};

struct mx_sockio {
    int rcvbuf, sndbuf;
    struct sock *socks[MAXSOCK];
    struct mx_sockio_stats st;
};

static struct sock *find(struct mx_sockio *io, int fd)
{
    for (unsigned i = 0; i < MAXSOCK; i++)
        if (io->socks[i] && io->socks[i]->fd == fd)
            return io->socks[i];
    return NULL;
}

static ares_socket_t s_socket(int domain, int type, int protocol, void *ud)
{
    struct mx_sockio *io = ud;
    unsigned slot = MAXSOCK;
    for (unsigned i = 0; i < MAXSOCK; i++)
        if (!io->socks[i]) {
            slot = i;
            break;
        }
    if (slot == MAXSOCK) {
        errno = EMFILE;
        return ARES_SOCKET_BAD;
    }
    struct sock *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return ARES_SOCKET_BAD;
    }
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        free(s);
        return ARES_SOCKET_BAD;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &io->rcvbuf, sizeof io->rcvbuf);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &io->sndbuf, sizeof io->sndbuf);
    if (type == SOCK_STREAM) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->fd = fd;
    s->udp = type == SOCK_DGRAM;
    for (unsigned i = 0; i < BATCH; i++) {
        s->riov[i].iov_base = s->rbuf[i];
        s->siov[i].iov_base = s->sbuf[i];
        s->smsg[i].msg_hdr.msg_iov = &s->siov[i];
        s->smsg[i].msg_hdr.msg_iovlen = 1;
    }
    io->socks[slot] = s;
    return fd;
}

static int s_close(ares_socket_t fd, void *ud)
{
    struct mx_sockio *io = ud;
    for (unsigned i = 0; i < MAXSOCK; i++)
        if (io->socks[i] && io->socks[i]->fd == fd) {
            free(io->socks[i]);
            io->socks[i] = NULL;
        }
    return close(fd);
}

static int s_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *ud)
{
    (void)ud;
    return connect(fd, sa, len);
}

/* Sends s's queue; keeps what the kernel did not take. */
static void flush_one(struct mx_sockio *io, struct sock *s)
{
    unsigned done = 0;
    int tries = 0;
    while (done < s->sn) {
        io->st.send_calls++;
        int n = sendmmsg(s->fd, s->smsg + done, s->sn - done, MSG_DONTWAIT);
        if (n > 0) {
            done += (unsigned)n;
            io->st.sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
            break; /* full: the rest waits for the next turn */
        if (n < 0 && errno == EINTR)
            continue;
        /* Another error (an ICMP error reported late, say): it belongs to
         * an earlier datagram; try once more, then give the head up (its
         * query will time out and be retried). */
        if (++tries > 1) {
            done++;
            io->st.send_errors++;
            tries = 0;
        }
    }
    if (done == 0)
        return;
    unsigned left = s->sn - done;
    for (unsigned i = 0; i < left; i++) {
        memcpy(s->sbuf[i], s->sbuf[done + i], s->siov[done + i].iov_len);
        s->siov[i].iov_len = s->siov[done + i].iov_len;
    }
    s->sn = left;
}

static ares_ssize_t s_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *ud)
{
    struct mx_sockio *io = ud;
    struct sock *s = find(io, fd);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (!s || !s->udp || total > SPKT)
        return writev(fd, iov, n);
    if (s->sn == BATCH) {
        flush_one(io, s);
        if (s->sn == BATCH) {
            errno = EAGAIN; /* c-ares then tries the next server */
            return -1;
        }
    }
    unsigned char *p = s->sbuf[s->sn];
    for (int i = 0; i < n; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    s->siov[s->sn].iov_len = total;
    s->sn++;
    return (ares_ssize_t)total;
}

static ares_ssize_t s_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
                               struct sockaddr *from, ares_socklen_t *fromlen, void *ud)
{
    struct mx_sockio *io = ud;
    struct sock *s = find(io, fd);
    if (!s || !s->udp) {
        if (from)
            return recvfrom(fd, buf, len, flags, from, fromlen);
        return recv(fd, buf, len, flags);
    }
    if (s->rpos == s->rn) {
        for (unsigned i = 0; i < BATCH; i++) {
            s->riov[i].iov_len = RPKT;
            s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
            s->rmsg[i].msg_hdr.msg_iovlen = 1;
            s->rmsg[i].msg_hdr.msg_name = &s->raddr[i];
            s->rmsg[i].msg_hdr.msg_namelen = sizeof s->raddr[i];
            s->rmsg[i].msg_hdr.msg_control = NULL;
            s->rmsg[i].msg_hdr.msg_controllen = 0;
            s->rmsg[i].msg_hdr.msg_flags = 0;
        }
        io->st.recv_calls++;
        int n = recvmmsg(fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0)
            return -1; /* errno as recvmmsg left it (EAGAIN, ECONNREFUSED ...) */
        if (n == 0) {
            errno = EAGAIN;
            return -1;
        }
        s->rn = (unsigned)n;
        s->rpos = 0;
        io->st.received += (uint64_t)n;
    }
    struct mmsghdr *m = &s->rmsg[s->rpos];
    size_t got = m->msg_len < len ? m->msg_len : len;
    memcpy(buf, s->rbuf[s->rpos], got);
    if (from && fromlen) {
        socklen_t al = m->msg_hdr.msg_namelen;
        if (al > *fromlen)
            al = *fromlen;
        memcpy(from, &s->raddr[s->rpos], al);
        *fromlen = al;
    }
    s->rpos++;
    return (ares_ssize_t)got;
}

static const struct ares_socket_functions funcs = {
    s_socket, s_close, s_connect, s_recvfrom, s_sendv,
};

struct mx_sockio *mx_sockio_create(int rcvbuf, int sndbuf)
{
    struct mx_sockio *io = calloc(1, sizeof *io);
    if (io) {
        io->rcvbuf = rcvbuf;
        io->sndbuf = sndbuf;
    }
    return io;
}

void mx_sockio_destroy(struct mx_sockio *io)
{
    if (!io)
        return;
    for (unsigned i = 0; i < MAXSOCK; i++)
        free(io->socks[i]); /* c-ares closed the descriptors */
    free(io);
}

void mx_sockio_attach(struct mx_sockio *io, ares_channel ch)
{
    ares_set_socket_functions(ch, &funcs, io);
}

bool mx_sockio_flush(struct mx_sockio *io)
{
    bool left = false;
    for (unsigned i = 0; i < MAXSOCK; i++) {
        struct sock *s = io->socks[i];
        if (s && s->sn) {
            flush_one(io, s);
            left = left || s->sn > 0;
        }
    }
    return left;
}

void mx_sockio_get_stats(const struct mx_sockio *io, struct mx_sockio_stats *out)
{
    *out = io->st;
}

/* ---- query packets ---- */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

size_t mx_dns_build_query(unsigned char *buf, size_t buflen, uint16_t id, const char *name,
                          uint16_t qtype, uint16_t edns_size)
{
    return mx_dns_build_query_flags(buf, buflen, id, name, qtype, edns_size, 0);
}

size_t mx_dns_build_query_flags(unsigned char *buf, size_t buflen, uint16_t id, const char *name,
                                uint16_t qtype, uint16_t edns_size, unsigned flags)
{
    /* header 12 + name <= 255 + qtype/qclass 4 + OPT 11 */
    if (buflen < 12 + 255 + 4 + 11)
        return 0;
    memset(buf, 0, 12);
    put16(buf, id);
    buf[2] = (flags & MX_DNSQ_NORD) ? 0x00 : 0x01; /* RD */
    if (flags & MX_DNSQ_AD)
        buf[3] |= 0x20;
    if (flags & MX_DNSQ_CD)
        buf[3] |= 0x10;
    put16(buf + 4, 1); /* QDCOUNT */
    put16(buf + 10, 1); /* ARCOUNT: the OPT record */
    size_t off = 12;
    const char *p = name;
    while (*p) {
        size_t lenpos = off++;
        unsigned len = 0;
        while (*p && *p != '.') {
            int c = (unsigned char)*p++;
            if (c == '\\') {
                if (p[0] >= '0' && p[0] <= '9') {
                    if (!(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9'))
                        return 0;
                    c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
                    if (c > 255)
                        return 0;
                    p += 3;
                } else if (*p) {
                    c = (unsigned char)*p++;
                } else {
                    return 0;
                }
            }
            if (++len > 63 || off >= 12 + 255)
                return 0;
            buf[off++] = (unsigned char)c;
        }
        if (len == 0)
            return 0; /* empty label */
        buf[lenpos] = (unsigned char)len;
        if (*p == '.') {
            p++;
            if (!*p)
                break; /* one trailing dot is allowed */
        }
    }
    if (off - 12 + 1 > 255)
        return 0;
    buf[off++] = 0;
    put16(buf + off, qtype);
    put16(buf + off + 2, 1); /* IN */
    off += 4;
    buf[off++] = 0;          /* OPT: root owner */
    put16(buf + off, 41);    /* TYPE OPT */
    put16(buf + off + 2, edns_size);
    memset(buf + off + 4, 0, 6); /* extended rcode, version, flags, RDLEN */
    if (flags & MX_DNSQ_DO)
        buf[off + 6] = 0x80; /* the DO bit: top bit of the OPT flags */
    off += 10;
    return off;
}
