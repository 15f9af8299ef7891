/* The SMTP reply parser (smtp.h): single and multi-line replies, EHLO
 * keywords, replies split at every byte, bytes left for the next reply,
 * malformed and oversized replies, the bounded text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx/smtp.h"

static enum mx_smtp_parse feed_all(struct mx_smtp_reply *r, const char *s, size_t *used)
{
    mx_smtp_reply_reset(r);
    return mx_smtp_reply_feed(r, s, strlen(s), used);
}

Test(smtp_reply, single_line)
{
    struct mx_smtp_reply r;
    size_t used = 0;
    const char *s = "220 mx.example.test ESMTP ready\r\n";
    cr_assert_eq(feed_all(&r, s, &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(used, strlen(s));
    cr_expect_eq(r.code, 220);
    cr_expect_eq(r.lines, 1);
    cr_expect_str_eq(r.text, "mx.example.test ESMTP ready");
    cr_expect_eq(r.ext, 0);
}

Test(smtp_reply, ehlo_keywords)
{
    struct mx_smtp_reply r;
    size_t used;
    const char *s = "250-mx.example.test hello\r\n"
                    "250-PIPELINING\r\n"
                    "250-SIZE 10240000\r\n"
                    "250-starttls\r\n" /* keywords are case-insensitive */
                    "250-AUTH=LOGIN PLAIN\r\n"
                    "250-STARTTLSX\r\n" /* not STARTTLS */
                    "250-XVERYLONGKEYWORDTHATMATCHESNOTHING\r\n"
                    "250 SMTPUTF8\r\n";
    cr_assert_eq(feed_all(&r, s, &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(r.code, 250);
    cr_expect_eq(r.lines, 8);
    uint32_t want = (1u << MX_SMTP_EXT_PIPELINING) | (1u << MX_SMTP_EXT_SIZE) |
                    (1u << MX_SMTP_EXT_STARTTLS) | (1u << MX_SMTP_EXT_AUTH) |
                    (1u << MX_SMTP_EXT_SMTPUTF8);
    cr_expect_eq(r.ext, want, "ext %#x want %#x", r.ext, want);
}

Test(smtp_reply, first_line_is_no_keyword)
{
    struct mx_smtp_reply r;
    size_t used;
    cr_assert_eq(feed_all(&r, "250-STARTTLS\r\n250 SIZE\r\n", &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(r.ext, 1u << MX_SMTP_EXT_SIZE); /* line 1 is the server's name */
}

Test(smtp_reply, split_at_every_byte)
{
    const char *s = "250-mx.example.test\r\n250-STARTTLS\r\n250 CHUNKING\r\n";
    size_t n = strlen(s);
    struct mx_smtp_reply whole;
    size_t used;
    cr_assert_eq(feed_all(&whole, s, &used), MX_SMTP_PARSE_DONE);
    for (size_t cut = 1; cut < n; cut++) {
        struct mx_smtp_reply r;
        mx_smtp_reply_reset(&r);
        cr_assert_eq(mx_smtp_reply_feed(&r, s, cut, &used), MX_SMTP_PARSE_MORE, "cut %zu", cut);
        cr_assert_eq(used, cut);
        cr_assert_eq(mx_smtp_reply_feed(&r, s + cut, n - cut, &used), MX_SMTP_PARSE_DONE);
        cr_assert_eq(used, n - cut);
        cr_expect_eq(r.code, whole.code);
        cr_expect_eq(r.ext, whole.ext);
        cr_expect_str_eq(r.text, whole.text);
    }
    /* and one byte at a time */
    struct mx_smtp_reply r;
    mx_smtp_reply_reset(&r);
    for (size_t i = 0; i < n; i++) {
        enum mx_smtp_parse res = mx_smtp_reply_feed(&r, s + i, 1, &used);
        cr_assert_eq(res, i + 1 == n ? MX_SMTP_PARSE_DONE : MX_SMTP_PARSE_MORE);
    }
    cr_expect_eq(r.ext, whole.ext);
}

Test(smtp_reply, stops_at_end_of_reply)
{
    struct mx_smtp_reply r;
    size_t used;
    const char *s = "250 ok\r\n221 bye\r\n";
    cr_assert_eq(feed_all(&r, s, &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(used, 8);
    cr_expect_eq(r.code, 250);
    mx_smtp_reply_reset(&r);
    cr_assert_eq(mx_smtp_reply_feed(&r, s + used, strlen(s) - used, &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(r.code, 221);
}

Test(smtp_reply, lenient_forms)
{
    struct mx_smtp_reply r;
    size_t used;
    cr_expect_eq(feed_all(&r, "250\r\n", &used), MX_SMTP_PARSE_DONE); /* code alone */
    cr_expect_eq(r.code, 250);
    cr_expect_str_eq(r.text, "");
    cr_expect_eq(feed_all(&r, "250 bare LF\n", &used), MX_SMTP_PARSE_DONE);
    cr_expect_str_eq(r.text, "bare LF");
    cr_expect_eq(feed_all(&r, "554 a\tb\x01" "c\r\n", &used), MX_SMTP_PARSE_DONE);
    cr_expect_str_eq(r.text, "a?b?c"); /* control characters never reach a CSV */
    cr_expect_eq(feed_all(&r, "550-5.1.1 first\r\n550 5.1.1 second\r\n", &used),
                 MX_SMTP_PARSE_DONE);
    cr_expect_str_eq(r.text, "5.1.1 first 5.1.1 second");
}

Test(smtp_reply, malformed)
{
    static const char *const bad[] = {
        "HTTP/1.1 400 Bad Request\r\n",
        "2x0 nope\r\n",
        "600 out of range\r\n",
        "120 too low\r\n",
        "220x no separator\r\n",
        "\r\n",
        "250-one\r\n251 other code\r\n",
        "25",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mx_smtp_reply r;
        size_t used;
        enum mx_smtp_parse res = feed_all(&r, bad[i], &used);
        if (i == sizeof bad / sizeof bad[0] - 1)
            cr_expect_eq(res, MX_SMTP_PARSE_MORE, "incomplete is not bad");
        else
            cr_expect_eq(res, MX_SMTP_PARSE_BAD, "case %zu: %s", i, bad[i]);
    }
}

Test(smtp_reply, oversized_bytes)
{
    /* an endless continuation stops at MX_SMTP_REPLY_MAX bytes */
    size_t n = MX_SMTP_REPLY_MAX + 4096;
    char *s = malloc(n);
    cr_assert(s);
    const char *line = "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    size_t ll = strlen(line);
    for (size_t i = 0; i < n; i++)
        s[i] = line[i % ll];
    struct mx_smtp_reply r;
    size_t used;
    mx_smtp_reply_reset(&r);
    enum mx_smtp_parse res = MX_SMTP_PARSE_MORE;
    size_t off = 0;
    while (off < n && res == MX_SMTP_PARSE_MORE) {
        size_t chunk = n - off < 1000 ? n - off : 1000;
        res = mx_smtp_reply_feed(&r, s + off, chunk, &used);
        off += used;
    }
    cr_expect_eq(res, MX_SMTP_PARSE_TOO_LONG);
    cr_expect_leq(off, (size_t)MX_SMTP_REPLY_MAX + 1);
    cr_expect(r.text_truncated);
    cr_expect_lt(strlen(r.text), sizeof r.text);
    free(s);
}

Test(smtp_reply, oversized_lines)
{
    struct mx_smtp_reply r;
    size_t used;
    mx_smtp_reply_reset(&r);
    enum mx_smtp_parse res = MX_SMTP_PARSE_MORE;
    for (unsigned i = 0; i < MX_SMTP_REPLY_LINES + 10 && res == MX_SMTP_PARSE_MORE; i++)
        res = mx_smtp_reply_feed(&r, "250-a\r\n", 7, &used);
    cr_expect_eq(res, MX_SMTP_PARSE_TOO_LONG);
    cr_expect_eq(r.lines, MX_SMTP_REPLY_LINES);
}

Test(smtp_reply, long_text_is_cut)
{
    char s[1200];
    memset(s, 'y', sizeof s);
    memcpy(s, "554 ", 4);
    memcpy(s + sizeof s - 3, "\r\n", 3);
    struct mx_smtp_reply r;
    size_t used;
    cr_assert_eq(feed_all(&r, s, &used), MX_SMTP_PARSE_DONE);
    cr_expect_eq(r.code, 554);
    cr_expect(r.text_truncated);
    cr_expect_eq(strlen(r.text), sizeof r.text - 1);
}
