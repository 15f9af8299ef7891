/* One SMTP conversation as a non-blocking state machine:
 *   connect -> greeting -> EHLO (HELO after a 5xx) -> [STARTTLS -> TLS
 *   handshake -> EHLO] -> facts complete -> [MAIL FROM:<> -> RCPT TO ...
 *   -> RSET]* -> [linger] -> QUIT -> wait for the server to close.
 * One command at a time (no pipelining), every state with a deadline, never
 * DATA. Driven by probe.c's epoll loop through session_io/_timeout. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mx/names.h"
#include "smtp_int.h"

#define QUIT_MS 2000u

static void close_session(struct mx_smtp_session *s);
static void next_action(struct mx_smtp_session *s);
static void got_reply(struct mx_smtp_session *s);
static void handshake(struct mx_smtp_session *s);

static bool is2xx(unsigned code)
{
    return code >= 200 && code < 300;
}

static void want(struct mx_smtp_session *s, uint32_t ev)
{
    if (s->fd < 0 || s->ev == ev)
        return;
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = ev;
    e.data.ptr = s;
    if (epoll_ctl(s->p->epfd, s->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &e) == 0)
        s->ev = ev;
}

static void set_deadline(struct mx_smtp_session *s, unsigned ms)
{
    s->deadline = mx_now_ms() + ms;
}

static void copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* The facts are as complete as they will get: hand them to the host. */
static void give_facts(struct mx_smtp_session *s)
{
    if (!s->facts_session || s->facts_given)
        return;
    s->facts_given = true;
    mx_smtp_host_facts(s->p, s->h, &s->facts);
}

/* The conversation breaks off at the current step. */
static void fail(struct mx_smtp_session *s, enum mx_smtp_end why)
{
    if (s->end == MX_SMTP_END_OK)
        s->end = why;
    if (s->facts_session && !s->facts_given) {
        s->facts.end = why;
        s->facts.end_step = s->step;
        if (s->step == MX_SMTP_STEP_TLS || s->step == MX_SMTP_STEP_STARTTLS) {
            s->facts.tls = MX_SMTP_TLS_FAILED;
            if (!s->facts.tls_error[0])
                copy_text(s->facts.tls_error, sizeof s->facts.tls_error,
                          why == MX_SMTP_END_TIMEOUT ? "timeout" : mx_smtp_end_name(why));
        }
        give_facts(s);
    }
    /* TLS that failed will fail again: later RCPT sessions go in plain, and
     * this session does not count as one that got nowhere. */
    if (s->step == MX_SMTP_STEP_TLS || s->step == MX_SMTP_STEP_STARTTLS) {
        s->h->no_tls = true;
        s->progress = true;
    }
    close_session(s);
}

/* ---- I/O, plain or through OpenSSL ---- */

/* > 0 bytes, 0 end of stream, -1 error, -2 try again (events set). */
/* What an SSL_read or SSL_write that returned n means: n bytes, -2 (try
 * again when the socket is ready: the wait is armed), 0 (the peer closed
 * TLS) or -1 (an error). */
static ssize_t tls_outcome(struct mx_smtp_session *s, int n)
{
    if (n > 0)
        return n;
    switch (SSL_get_error(s->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        want(s, EPOLLIN);
        return -2;
    case SSL_ERROR_WANT_WRITE:
        want(s, EPOLLOUT);
        return -2;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        ERR_clear_error();
        return -1;
    }
}

static ssize_t sio_read(struct mx_smtp_session *s, char *buf, size_t len)
{
    if (!s->tls_on) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return -2;
        return n;
    }
    return tls_outcome(s, SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

static ssize_t sio_write(struct mx_smtp_session *s, const char *buf, size_t len)
{
    if (!s->tls_on) {
        ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return -2;
        return n;
    }
    return tls_outcome(s, SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

/* Writes what is left of the command; true when all of it is out. */
static bool flush(struct mx_smtp_session *s)
{
    while (s->outoff < s->outlen) {
        ssize_t n = sio_write(s, s->out + s->outoff, s->outlen - s->outoff);
        if (n == -2) {
            if (!s->tls_on)
                want(s, EPOLLOUT);
            return false;
        }
        if (n <= 0) {
            fail(s, MX_SMTP_END_CLOSED);
            return false;
        }
        s->outoff += (size_t)n;
    }
    return true;
}

/* Feeds buffered input to the reply parser; true when a reply finished and
 * was handled (the session may be closed then). */
static bool parse_buffered(struct mx_smtp_session *s)
{
    if (s->inlen == 0)
        return false;
    size_t used = 0;
    enum mx_smtp_parse r = mx_smtp_reply_feed(&s->reply, s->in, s->inlen, &used);
    memmove(s->in, s->in + used, s->inlen - used);
    s->inlen -= used;
    switch (r) {
    case MX_SMTP_PARSE_MORE:
        return false;
    case MX_SMTP_PARSE_DONE:
        got_reply(s);
        return true;
    case MX_SMTP_PARSE_BAD:
        fail(s, MX_SMTP_END_BAD_REPLY);
        return true;
    default:
        fail(s, MX_SMTP_END_TOO_LONG);
        return true;
    }
}

/* Sends a command and waits for its reply. */
static void command(struct mx_smtp_session *s, enum mx_smtp_step step, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->out, sizeof s->out, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof s->out) { /* names are checked at submit */
        fail(s, MX_SMTP_END_LOCAL_ERROR);
        return;
    }
    s->outlen = (size_t)n;
    s->outoff = 0;
    s->step = step;
    s->st = MX_SMTP_S_REPLY;
    mx_smtp_reply_reset(&s->reply);
    set_deadline(s, step == MX_SMTP_STEP_QUIT ? (s->p->cfg.reply_ms < QUIT_MS ? s->p->cfg.reply_ms
                                                                              : QUIT_MS)
                                              : s->p->cfg.reply_ms);
    if (!flush(s))
        return;
    want(s, EPOLLIN);
    parse_buffered(s); /* a reply that came early (should not happen) */
}

static void quit(struct mx_smtp_session *s)
{
    command(s, MX_SMTP_STEP_QUIT, "QUIT\r\n");
}

/* A reply ended the conversation: keep its text in the facts. */
static void note_refusal(struct mx_smtp_session *s)
{
    if (s->facts_session && !s->facts_given) {
        s->facts.reply_text_code = s->reply.code;
        copy_text(s->facts.reply_text, sizeof s->facts.reply_text, s->reply.text);
    }
}

/* A refusal that ends the conversation politely: note it, then QUIT. */
static void refused(struct mx_smtp_session *s)
{
    note_refusal(s);
    if (s->end == MX_SMTP_END_OK)
        s->end = MX_SMTP_END_REJECTED;
    if (s->facts_session && !s->facts_given) {
        s->facts.end = MX_SMTP_END_REJECTED;
        s->facts.end_step = s->step;
        give_facts(s);
    }
    if (s->reply.code == 421) { /* the server is closing the channel */
        close_session(s);
        return;
    }
    quit(s);
}

static void start_tls(struct mx_smtp_session *s)
{
    s->inlen = 0; /* plaintext sent after the 220 is not to be trusted */
    s->ssl = SSL_new(s->p->ssl_ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        mx_smtp_tls_error(s->facts.tls_error, sizeof s->facts.tls_error, "SSL_new failed");
        s->step = MX_SMTP_STEP_TLS;
        fail(s, MX_SMTP_END_LOCAL_ERROR);
        return;
    }
    if (s->sni[0] && !mx_name_is_ip_literal(s->sni))
        SSL_set_tlsext_host_name(s->ssl, s->sni);
    SSL_set_connect_state(s->ssl);
    s->step = MX_SMTP_STEP_TLS;
    s->st = MX_SMTP_S_HANDSHAKE;
    set_deadline(s, s->p->cfg.tls_ms);
    handshake(s);
}

static void handshake(struct mx_smtp_session *s)
{
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        s->tls_on = true;
        atomic_fetch_add_explicit(&s->p->n_tls_ok, 1, memory_order_relaxed);
        if (s->facts_session && !s->facts_given) {
            unsigned char *leaf = NULL;
            size_t leaf_len = 0;
            s->facts.tls = MX_SMTP_TLS_OK;
            uint32_t problems =
                mx_smtp_tls_inspect(s->ssl, s->p->store, &s->facts, &leaf, &leaf_len);
            s->h->chain_problems = problems;
            free(s->h->leaf);
            s->h->leaf = leaf;
            s->h->leaf_len = leaf_len;
        }
        command(s, MX_SMTP_STEP_EHLO, "EHLO %s\r\n", s->p->ehlo);
        return;
    }
    switch (SSL_get_error(s->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        want(s, EPOLLIN);
        return;
    case SSL_ERROR_WANT_WRITE:
        want(s, EPOLLOUT);
        return;
    default:
        atomic_fetch_add_explicit(&s->p->n_tls_failed, 1, memory_order_relaxed);
        if (s->facts_session && !s->facts_given)
            mx_smtp_tls_error(s->facts.tls_error, sizeof s->facts.tls_error,
                              "connection closed during the handshake");
        ERR_clear_error();
        fail(s, MX_SMTP_END_TLS_ERROR);
        return;
    }
}

/* EHLO (or HELO) accepted: STARTTLS when offered, else the facts are done. */
static void after_hello(struct mx_smtp_session *s)
{
    if (s->tls_on) { /* the second EHLO, inside TLS */
        if (s->facts_session && !s->facts_given)
            s->facts.ext = s->reply.ext;
        give_facts(s);
        next_action(s);
        return;
    }
    bool offered = s->step == MX_SMTP_STEP_EHLO && (s->reply.ext & (1u << MX_SMTP_EXT_STARTTLS));
    if (s->facts_session && !s->facts_given) {
        s->facts.ehlo_code = s->reply.code;
        s->facts.helo = s->step == MX_SMTP_STEP_HELO;
        s->facts.ext = s->reply.ext;
        s->facts.starttls = offered;
        s->facts.tls = offered ? MX_SMTP_TLS_SKIPPED : MX_SMTP_TLS_NOT_OFFERED;
    }
    if (offered && !s->plain_only) {
        command(s, MX_SMTP_STEP_STARTTLS, "STARTTLS\r\n");
        return;
    }
    give_facts(s);
    next_action(s);
}

static void rcpt_reply(struct mx_smtp_session *s)
{
    unsigned code = s->reply.code;
    if (code == 421) {
        refused(s);
        return;
    }
    struct mx_smtp_req *req = s->h->qhead;
    if (code == 452 && s->txn_rcpts > 0 && req && !req->retried) {
        /* "too many recipients": ask again first in a new transaction */
        req->retried = true;
        command(s, MX_SMTP_STEP_RSET, "RSET\r\n");
        return;
    }
    s->progress = true; /* a request answered */
    s->txn_rcpts++;
    s->conn_rcpts++;
    if (!is2xx(code))
        s->conn_errors++;
    mx_smtp_rcpt_answer(s->p, s->h, MX_SMTP_RCPT_REPLIED, s->mail_code, (uint16_t)code,
                        is2xx(code) ? "" : s->reply.text);
    next_action(s);
}

/* Whether the facts of this session are still to be recorded. */
static bool recording(const struct mx_smtp_session *s)
{
    return s->facts_session && !s->facts_given;
}

/* The reply to the greeting, EHLO or HELO. */
static void hello_reply(struct mx_smtp_session *s, unsigned code)
{
    switch (s->step) {
    case MX_SMTP_STEP_GREETING:
        if (recording(s))
            s->facts.greeting_code = (uint16_t)code;
        if (!is2xx(code))
            refused(s);
        else
            command(s, MX_SMTP_STEP_EHLO, "EHLO %s\r\n", s->p->ehlo);
        return;
    case MX_SMTP_STEP_EHLO:
        if (is2xx(code)) {
            after_hello(s);
        } else if (code >= 500 && !s->tls_on) {
            if (recording(s)) {
                s->facts.ehlo_code = (uint16_t)code;
                s->facts.helo = true;
            }
            command(s, MX_SMTP_STEP_HELO, "HELO %s\r\n", s->p->ehlo);
        } else {
            if (recording(s) && !s->tls_on)
                s->facts.ehlo_code = (uint16_t)code;
            refused(s);
        }
        return;
    default: /* HELO */
        if (recording(s))
            s->facts.ehlo_code = (uint16_t)code;
        if (is2xx(code))
            after_hello(s);
        else
            refused(s);
        return;
    }
}

static void starttls_reply(struct mx_smtp_session *s, unsigned code)
{
    if (recording(s))
        s->facts.starttls_code = (uint16_t)code;
    if (code == 220) {
        start_tls(s);
    } else if (code == 421) {
        refused(s);
    } else { /* carry on in plain, as senders do */
        if (recording(s))
            s->facts.tls = MX_SMTP_TLS_REFUSED;
        s->h->no_tls = true;
        give_facts(s);
        next_action(s);
    }
}

static void mail_reply(struct mx_smtp_session *s, unsigned code)
{
    if (is2xx(code)) {
        s->in_txn = true;
        s->txn_rcpts = 0;
        s->mail_code = (uint16_t)code;
        next_action(s);
    } else if (code == 421) {
        refused(s);
    } else {
        s->progress = true; /* the refusal answers every queued request */
        mx_smtp_mail_refused(s->p, s->h, (uint16_t)code, s->reply.text);
        next_action(s);
    }
}

static void got_reply(struct mx_smtp_session *s)
{
    unsigned code = s->reply.code;
    switch (s->step) {
    case MX_SMTP_STEP_GREETING:
    case MX_SMTP_STEP_EHLO:
    case MX_SMTP_STEP_HELO:
        hello_reply(s, code);
        return;
    case MX_SMTP_STEP_STARTTLS:
        starttls_reply(s, code);
        return;
    case MX_SMTP_STEP_MAIL:
        mail_reply(s, code);
        return;
    case MX_SMTP_STEP_RCPT:
        rcpt_reply(s);
        return;
    case MX_SMTP_STEP_RSET:
        if (is2xx(code)) {
            s->in_txn = false;
            next_action(s);
        } else {
            quit(s);
        }
        return;
    case MX_SMTP_STEP_QUIT:
        /* Let the server close first (RFC 5321 4.1.1.10): no TIME_WAIT on
         * its side, and its log has the session closed before our next one. */
        s->st = MX_SMTP_S_CLOSING;
        s->step = MX_SMTP_STEP_NONE;
        set_deadline(s, QUIT_MS);
        want(s, EPOLLIN);
        return;
    default:
        fail(s, MX_SMTP_END_BAD_REPLY);
        return;
    }
}

/* Facts are in: RCPT for what is queued, linger, or QUIT. */
static void next_action(struct mx_smtp_session *s)
{
    struct mx_smtp *p = s->p;
    struct mx_smtp_req *req = mx_smtp_host_next_rcpt(p, s->h);
    if (req) {
        if (s->conn_rcpts >= p->cfg.rcpt_per_conn || s->conn_errors >= p->cfg.rcpt_errors ||
            p->stopping) {
            quit(s);
        } else if (!s->in_txn) {
            command(s, MX_SMTP_STEP_MAIL, "MAIL FROM:<%s>\r\n", p->mail_from);
        } else if (s->txn_rcpts >= p->cfg.rcpt_per_txn) {
            command(s, MX_SMTP_STEP_RSET, "RSET\r\n");
        } else {
            atomic_fetch_add_explicit(&p->n_rcpt_sent, 1, memory_order_relaxed);
            command(s, MX_SMTP_STEP_RCPT, "RCPT TO:<postmaster@%s>\r\n", req->rcpt);
        }
        return;
    }
    if (p->cfg.linger_ms > 0 && !p->stopping && !mx_smtp_slot_wanted(p)) {
        s->st = MX_SMTP_S_IDLE;
        s->step = MX_SMTP_STEP_NONE;
        set_deadline(s, p->cfg.linger_ms);
        want(s, EPOLLIN);
        return;
    }
    quit(s);
}

void mx_smtp_session_kick(struct mx_smtp_session *s)
{
    if (s->st == MX_SMTP_S_IDLE)
        next_action(s);
}

void mx_smtp_session_quit(struct mx_smtp_session *s)
{
    if (s->st == MX_SMTP_S_IDLE)
        quit(s);
}

/* ---- connect ---- */

static enum mx_smtp_conn conn_error(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return MX_SMTP_CONN_REFUSED;
    case ETIMEDOUT:
        return MX_SMTP_CONN_TIMEOUT;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
    case EAGAIN:
        return MX_SMTP_CONN_LOCAL_ERROR;
    default:
        return MX_SMTP_CONN_UNREACHABLE;
    }
}

static void connected(struct mx_smtp_session *s)
{
    s->facts.conn = MX_SMTP_CONN_OK;
    s->step = MX_SMTP_STEP_GREETING;
    s->st = MX_SMTP_S_REPLY;
    mx_smtp_reply_reset(&s->reply);
    set_deadline(s, s->p->cfg.greeting_ms);
    want(s, EPOLLIN);
}

static void connect_failed(struct mx_smtp_session *s, enum mx_smtp_conn c)
{
    s->facts.conn = c;
    s->step = MX_SMTP_STEP_CONNECT;
    fail(s, c == MX_SMTP_CONN_LOCAL_ERROR ? MX_SMTP_END_LOCAL_ERROR : MX_SMTP_END_NO_CONNECT);
}

void mx_smtp_session_start(struct mx_smtp *p, struct mx_smtp_host *h, uint64_t now)
{
    struct mx_smtp_session *s = p->free_sess;
    p->free_sess = s->free_next;
    p->nactive++;
    /* reset everything but the buffers */
    s->p = p;
    s->h = h;
    s->free_next = NULL;
    s->st = MX_SMTP_S_CONNECT;
    s->step = MX_SMTP_STEP_CONNECT;
    s->deadline = now + p->cfg.connect_ms;
    s->fd = -1;
    s->ev = 0;
    s->ssl = NULL;
    s->tls_on = false;
    s->plain_only = h->no_tls;
    s->facts_session = !h->known;
    s->facts_given = false;
    s->progress = false;
    s->in_txn = false;
    s->txn_rcpts = s->conn_rcpts = s->conn_errors = 0;
    s->mail_code = 0;
    s->end = MX_SMTP_END_OK;
    s->inlen = s->outlen = s->outoff = 0;
    memset(&s->facts, 0, sizeof s->facts);
    s->facts.addr = h->ip;
    s->facts.conn = MX_SMTP_CONN_NONE;
    s->facts.tls = MX_SMTP_TLS_SKIPPED;
    copy_text(s->sni, sizeof s->sni, h->qhead ? h->qhead->exchange : "");
    copy_text(s->facts.sni, sizeof s->facts.sni, s->sni);
    h->s = s;
    atomic_fetch_add_explicit(&p->n_connections, 1, memory_order_relaxed);

    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (h->ip.family == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(p->cfg.port);
        memcpy(&a->sin_addr, h->ip.b, 4);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(p->cfg.port);
        memcpy(&a->sin6_addr, h->ip.b, 16);
        sl = sizeof *a;
    }
    s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        connect_failed(s, MX_SMTP_CONN_LOCAL_ERROR);
        return;
    }
    if (connect(s->fd, (struct sockaddr *)&ss, sl) == 0) {
        connected(s);
        return;
    }
    if (errno != EINPROGRESS) {
        connect_failed(s, conn_error(errno));
        return;
    }
    want(s, EPOLLOUT);
}

/* ---- events ---- */

static void readable(struct mx_smtp_session *s)
{
    for (;;) {
        if (s->inlen == sizeof s->in) { /* parse_buffered consumes it all */
            if (parse_buffered(s))
                return;
        }
        ssize_t n = sio_read(s, s->in + s->inlen, sizeof s->in - s->inlen);
        if (n == -2)
            return;
        if (n <= 0) {
            if (s->st == MX_SMTP_S_CLOSING || s->st == MX_SMTP_S_IDLE)
                close_session(s); /* expected, or a quiet idle close */
            else
                fail(s, MX_SMTP_END_CLOSED);
            return;
        }
        if (s->st == MX_SMTP_S_CLOSING) {
            s->inlen = 0; /* anything after 221 is noise */
            continue;
        }
        if (s->st == MX_SMTP_S_IDLE) { /* e.g. "421 timeout": just go */
            close_session(s);
            return;
        }
        s->inlen += (size_t)n;
        if (parse_buffered(s)) {
            /* The next step ran from got_reply. Plain sockets signal more
             * input again; bytes OpenSSL already decrypted would not. */
            if (s->st == MX_SMTP_S_FREE || !s->tls_on || SSL_pending(s->ssl) <= 0)
                return;
        }
    }
}

void mx_smtp_session_io(struct mx_smtp_session *s, uint32_t events)
{
    switch (s->st) {
    case MX_SMTP_S_CONNECT: {
        int e = 0;
        socklen_t el = sizeof e;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
            e = errno;
        if (e == 0 && !(events & (EPOLLERR | EPOLLHUP)))
            connected(s);
        else
            connect_failed(s, conn_error(e ? e : ECONNREFUSED));
        return;
    }
    case MX_SMTP_S_HANDSHAKE:
        handshake(s);
        return;
    case MX_SMTP_S_REPLY:
        if (s->outoff < s->outlen) {
            if (!flush(s))
                return;
            want(s, EPOLLIN);
        }
        readable(s);
        return;
    case MX_SMTP_S_IDLE:
    case MX_SMTP_S_CLOSING:
        readable(s);
        return;
    default:
        return;
    }
}

void mx_smtp_session_timeout(struct mx_smtp_session *s)
{
    switch (s->st) {
    case MX_SMTP_S_CONNECT:
        connect_failed(s, MX_SMTP_CONN_TIMEOUT);
        return;
    case MX_SMTP_S_IDLE:
        quit(s);
        return;
    case MX_SMTP_S_CLOSING:
        close_session(s);
        return;
    case MX_SMTP_S_REPLY:
        if (s->step == MX_SMTP_STEP_QUIT) {
            close_session(s);
            return;
        }
        fail(s, MX_SMTP_END_TIMEOUT);
        return;
    case MX_SMTP_S_HANDSHAKE:
        atomic_fetch_add_explicit(&s->p->n_tls_failed, 1, memory_order_relaxed);
        fail(s, MX_SMTP_END_TIMEOUT);
        return;
    default:
        return;
    }
}

void mx_smtp_session_abort(struct mx_smtp_session *s, enum mx_smtp_end why)
{
    fail(s, why);
}

static void close_session(struct mx_smtp_session *s)
{
    struct mx_smtp *p = s->p;
    if (s->st == MX_SMTP_S_FREE)
        return;
    if (s->facts_session && !s->facts_given) { /* cannot happen: fail() gives */
        s->facts.end = MX_SMTP_END_CLOSED;
        s->facts.end_step = s->step;
        give_facts(s);
    }
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) {
        if (s->ev)
            epoll_ctl(p->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->ev = 0;
    s->tls_on = false;
    s->st = MX_SMTP_S_FREE;
    mx_smtp_session_done(p, s);
    s->h = NULL;
    s->free_next = p->free_sess;
    p->free_sess = s;
    p->nactive--;
}
