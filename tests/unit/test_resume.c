/* The resume fingerprint (resume.h): the options that decide the rows are
 * in it, those that only decide speed or politeness are not. */
#include <criterion/criterion.h>
#include <string.h>

#include "mx/resume.h"

static struct mx_config base(void)
{
    static const char *inputs[] = {"/dev/null"};
    struct mx_config c;
    memset(&c, 0, sizeof c);
    c.inputs = inputs;
    c.ninputs = 1;
    c.output = "out.csv.zst";
    c.checks = MX_CHECK_MX | MX_CHECK_SMTP;
    c.smtp_port = 25;
    c.smtp_connect_ms = 10000;
    c.smtp_timeout_ms = 30000;
    c.smtp_rate = 20;
    c.smtp_max_conns = 64;
    return c;
}

static bool same(const struct mx_config *a, const struct mx_config *b)
{
    char fa[80], fb[80];
    mx_resume_fingerprint(a, fa, sizeof fa);
    mx_resume_fingerprint(b, fb, sizeof fb);
    return strcmp(fa, fb) == 0;
}

Test(resume_fingerprint, smtp_settings_that_decide_findings)
{
    struct mx_config a = base(), b;
    b = base(), b.smtp_port = 2525;
    cr_expect_not(same(&a, &b), "--smtp-port");
    b = base(), b.smtp_timeout_ms = 1000;
    cr_expect_not(same(&a, &b), "--smtp-timeout");
    b = base(), b.smtp_connect_ms = 1000;
    cr_expect_not(same(&a, &b), "--smtp-connect-timeout");
    b = base(), b.smtp_ca_file = "lab-ca.pem";
    cr_expect_not(same(&a, &b), "--smtp-ca-file");
    b = base(), b.smtp_rcpt = true;
    cr_expect_not(same(&a, &b), "--smtp-rcpt");
}

Test(resume_fingerprint, speed_and_politeness_are_not_in_it)
{
    struct mx_config a = base(), b;
    b = base(), b.smtp_rate = 2;
    cr_expect(same(&a, &b), "--smtp-rate");
    b = base(), b.smtp_max_conns = 4;
    cr_expect(same(&a, &b), "--smtp-max-conns");
    b = base(), b.smtp_ehlo = "scanner.example";
    cr_expect(same(&a, &b), "--smtp-ehlo");
    b = base(), b.rate = 10;
    cr_expect(same(&a, &b), "--rate");
    b = base(), b.threads = 7;
    cr_expect(same(&a, &b), "--threads");
}

Test(resume_fingerprint, smtp_settings_count_only_with_the_probe)
{
    struct mx_config a = base(), b = base();
    a.checks = b.checks = MX_CHECK_MX;
    b.smtp_port = 2525;
    cr_expect(same(&a, &b), "--smtp-port without --checks ...,smtp");
    b = a, b.checks = MX_CHECK_MX | MX_CHECK_SPF;
    cr_expect_not(same(&a, &b), "--checks");
    b = a, b.shard_index = 1, b.shard_count = 2;
    cr_expect_not(same(&a, &b), "--shard");
}
