/* ASCII text helpers (text.h) shared by the parsers and the hot path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mx/text.h"

Test(text, join_is_snprintf_of_two_strings)
{
    static const char *a[] = {"", "_dmarc.", "postmaster@", "a-rather-long-prefix-of-text."};
    static const char *b[] = {"", "example.com", "x", "another.example.org"};
    for (size_t dl = 0; dl < 40; dl++)
        for (size_t i = 0; i < 4; i++)
            for (size_t j = 0; j < 4; j++) {
                char ours[64], theirs[64];
                memset(ours, 'Z', sizeof ours);
                memset(theirs, 'Z', sizeof theirs);
                size_t n = mx_text_join(ours, dl, a[i], b[j]);
                int m = snprintf(theirs, dl, "%s%s", a[i], b[j]);
                cr_assert_eq(n, (size_t)m);
                cr_assert_arr_eq(ours, theirs, sizeof ours, "dlen %zu, '%s' + '%s'", dl, a[i],
                                 b[j]);
            }
}

Test(text, ieq_and_copy_shown)
{
    cr_expect(mx_text_ieq("INCLUDE", 7, "include"));
    cr_expect_not(mx_text_ieq("includ", 6, "include"));
    cr_expect_not(mx_text_ieq("includes", 8, "include"));
    char out[8];
    mx_text_copy_shown(out, sizeof out, "a\x01" "b\x7f" "cdefgh", 10);
    cr_expect_str_eq(out, "a?b?cde");
}
