/* SMTP reply parser (RFC 5321 4.2): a byte-at-a-time state machine, so a
 * reply split across reads at any byte parses the same as one read, and
 * nothing is buffered but a bounded text and keyword. */
#include <string.h>

#include "mx/smtp.h"

enum { ST_CODE, ST_SEP, ST_TEXT };

static const char *const ext_names[] = {
#define X(n, l) l,
    MX_SMTP_EXT_MAP(X)
#undef X
};

void mx_smtp_reply_reset(struct mx_smtp_reply *r)
{
    memset(r, 0, sizeof *r);
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static void text_add(struct mx_smtp_reply *r, char c)
{
    if (r->textlen + 1 >= sizeof r->text) {
        r->text_truncated = true;
        return;
    }
    unsigned char u = (unsigned char)c;
    r->text[r->textlen++] = u < 0x20 || u == 0x7f ? '?' : c;
    r->text[r->textlen] = '\0';
}

/* Keyword of an EHLO line: its first token, up to a space or '=' (the old
 * "AUTH=LOGIN" form). One longer than any we know is no keyword. */
static void kw_add(struct mx_smtp_reply *r, char c)
{
    if (r->kw_done)
        return;
    if (c == ' ' || c == '=') {
        r->kw_done = true;
    } else if (r->kwlen + 1 < sizeof r->kw) {
        r->kw[r->kwlen++] = upper(c);
        r->kw[r->kwlen] = '\0';
    } else {
        r->kw_over = true;
        r->kw_done = true;
    }
}

static void kw_match(struct mx_smtp_reply *r)
{
    if (r->kw_over)
        return;
    for (size_t i = 0; i < sizeof ext_names / sizeof ext_names[0]; i++)
        if (strcmp(r->kw, ext_names[i]) == 0)
            r->ext |= 1u << i;
}

/* A line ended: check it against the reply so far. */
static enum mx_smtp_parse line_end(struct mx_smtp_reply *r)
{
    if (r->lines == 0)
        r->code = (uint16_t)r->line_code;
    else if (r->line_code != r->code)
        return MX_SMTP_PARSE_BAD; /* a multi-line reply keeps one code */
    if (r->lines > 0)
        kw_match(r);
    r->lines++;
    if (r->last)
        return MX_SMTP_PARSE_DONE;
    if (r->lines >= MX_SMTP_REPLY_LINES)
        return MX_SMTP_PARSE_TOO_LONG;
    r->st = ST_CODE;
    r->digits = 0;
    r->line_code = 0;
    r->kwlen = 0;
    r->kw_done = r->kw_over = false;
    r->kw[0] = '\0';
    return MX_SMTP_PARSE_MORE;
}

enum mx_smtp_parse mx_smtp_reply_feed(struct mx_smtp_reply *r, const char *buf, size_t len,
                                      size_t *used)
{
    enum mx_smtp_parse res = MX_SMTP_PARSE_MORE;
    size_t i = 0;
    while (i < len && res == MX_SMTP_PARSE_MORE) {
        char c = buf[i++];
        if (++r->total > MX_SMTP_REPLY_MAX) {
            res = MX_SMTP_PARSE_TOO_LONG;
            break;
        }
        switch (r->st) {
        case ST_CODE:
            if (c < (r->digits == 0 ? '2' : '0') || c > (r->digits == 0 ? '5' : '9')) {
                res = MX_SMTP_PARSE_BAD;
                break;
            }
            r->line_code = r->line_code * 10 + (unsigned)(c - '0');
            if (++r->digits == 3)
                r->st = ST_SEP;
            break;
        case ST_SEP:
            if (c == ' ' || c == '-') {
                r->last = c == ' ';
                if (r->lines > 0)
                    text_add(r, ' ');
                r->st = ST_TEXT;
            } else if (c == '\r') {
                r->last = true; /* "250\r\n": a code alone ends the reply */
            } else if (c == '\n') {
                r->last = true;
                res = line_end(r);
            } else {
                res = MX_SMTP_PARSE_BAD;
            }
            break;
        default: /* ST_TEXT */
            if (c == '\n') {
                res = line_end(r);
            } else if (c != '\r') {
                text_add(r, c);
                if (r->lines > 0)
                    kw_add(r, c);
            }
            break;
        }
    }
    if (used)
        *used = i;
    return res;
}
