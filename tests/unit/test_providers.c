/* Provider data file: loading, matching, errors (providers.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx/providers.h"

/* Writes text to a fresh temporary file; returns its path (static buffer). */
static const char *temp_csv(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mx_providers_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static struct mx_providers *load_default(void)
{
    struct mx_providers *p = NULL;
    char err[MX_ERRLEN] = "";
    unsetenv("MXSCAN_PROVIDERS");
    enum mx_status st = mx_providers_load(NULL, &p, err, sizeof err);
    cr_assert_eq(st, MX_OK, "default providers file: %s", err);
    cr_assert(p);
    return p;
}

static const char *by_exchange(const struct mx_providers *p, const char *name)
{
    uint16_t id = mx_providers_by_exchange(p, name);
    return id == MX_PROVIDER_NONE ? "-" : mx_providers_name(p, id);
}

static const char *by_include(const struct mx_providers *p, const char *name)
{
    uint16_t id = mx_providers_by_include(p, name);
    return id == MX_PROVIDER_NONE ? "-" : mx_providers_name(p, id);
}

Test(providers, default_file_exchanges)
{
    struct mx_providers *p = load_default();
    cr_expect_gt(mx_providers_count(p), 20);
    static const char *const table[][2] = {
        {"aspmx.l.google.com", "google"},
        {"alt1.aspmx.l.google.com", "google"},
        {"aspmx2.googlemail.com", "google"},
        {"smtp.google.com", "google"},
        {"example-com.mail.protection.outlook.com", "microsoft"},
        {"hotmail-com.olc.protection.outlook.com", "microsoft"},
        {"mta5.am0.yahoodns.net", "yahoo"},
        {"mx.zoho.com", "zoho"},
        {"mx2.zoho.eu", "zoho"},
        {"mx.yandex.net", "yandex"},
        {"mx.yandex.ru", "yandex"},
        {"emx.mail.ru", "mailru"},
        {"mx1.qq.com", "tencent"},
        {"mxbiz1.qq.com", "tencent"},
        {"smtp.secureserver.net", "godaddy"},
        {"mx1.privateemail.com", "namecheap"},
        {"eforward1.registrar-servers.com", "namecheap"},
        {"mx1.mail.ovh.net", "ovh"},
        {"mx00.ionos.de", "ionos"},
        {"mx00.kundenserver.de", "ionos"},
        {"mx01.1and1.com", "ionos"},
        {"in1-smtp.messagingengine.com", "fastmail"},
        {"mail.protonmail.ch", "proton"},
        {"mx01.mail.icloud.com", "icloud"},
        {"inbound-smtp.eu-west-1.amazonaws.com", "amazon"},
        {"mx1.emailsrvr.com", "rackspace"},
        {"mx0a-001234.pphosted.com", "proofpoint"},
        {"mx1-eu1.ppe-hosted.com", "proofpoint"},
        {"eu-smtp-inbound-1.mimecast.com", "mimecast"},
        {"d123.ess.barracudanetworks.com", "barracuda"},
        {"mx1.hc1234-56.iphmx.com", "cisco"},
        {"in.tmes.trendmicro.com", "trendmicro"},
        {"mx-01-eu-west-1.prod.hydra.sophos.com", "sophos"},
        /* not providers */
        {"mx.example.test", "-"},
        {"notgoogle.com", "-"},
        {"google.com.example.test", "-"},
        {"ec2-1-2-3-4.compute-1.amazonaws.com", "-"},
        {"", "-"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_expect_str_eq(by_exchange(p, table[i][0]), table[i][1], "exchange %s", table[i][0]);
    uint16_t g = mx_providers_by_exchange(p, "aspmx.l.google.com");
    uint16_t pp = mx_providers_by_exchange(p, "mx0a.pphosted.com");
    cr_expect_eq(mx_providers_kind(p, g), MX_PROVIDER_MAILBOX);
    cr_expect_eq(mx_providers_kind(p, pp), MX_PROVIDER_GATEWAY);
    cr_expect_eq(mx_providers_by_exchange(p, "mx.mimecast.com") ==
                     mx_providers_by_exchange(p, "mx.mimecast.co.za"),
                 true);
    mx_providers_destroy(p);
}

Test(providers, default_file_includes)
{
    struct mx_providers *p = load_default();
    static const char *const table[][2] = {
        {"_spf.google.com", "google"},
        {"_netblocks.google.com", "google"},
        {"spf.protection.outlook.com", "microsoft"},
        {"_spf.mail.yahoo.com", "yahoo"},
        {"zoho.com", "zoho"},
        {"one.zoho.com", "zoho"},
        {"zcsend.net", "zoho"},
        {"_spf.yandex.net", "yandex"},
        {"_spf.mail.ru", "mailru"},
        {"spf.mail.qq.com", "tencent"},
        {"secureserver.net", "godaddy"},
        {"spf.privateemail.com", "namecheap"},
        {"spf.efwd.registrar-servers.com", "namecheap"},
        {"mx.ovh.com", "ovh"},
        {"_spf.perfora.net", "ionos"},
        {"_spf-us.ionos.com", "ionos"},
        {"spf.messagingengine.com", "fastmail"},
        {"_spf.protonmail.ch", "proton"},
        {"icloud.com", "icloud"},
        {"amazonses.com", "amazon"},
        {"emailsrvr.com", "rackspace"},
        {"pphosted.com", "proofpoint"},
        {"a.b.spf.has.pphosted.com", "proofpoint"},
        {"_netblocks.mimecast.com", "mimecast"},
        {"eu._netblocks.mimecast.com", "mimecast"},
        {"spf.ess.barracudanetworks.com", "barracuda"},
        {"iphmx.com", "cisco"},
        {"spf.tmes.trendmicro.com", "trendmicro"},
        {"_spf.prod.hydra.sophos.com", "sophos"},
        /* below a listed include at a label boundary only */
        {"x_spf.google.com", "-"},
        {"google.com", "-"},
        {"outlook.com", "-"},
        {"spf.example.test", "-"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_expect_str_eq(by_include(p, table[i][0]), table[i][1], "include %s", table[i][0]);
    mx_providers_destroy(p);
}

Test(providers, longest_suffix_and_format)
{
    const char *path = temp_csv("# comment line\n"
                                "suffix,provider,kind,spf_includes\n"
                                "\n"
                                "example.com,acme,mailbox,spf.example.com\n"
                                "mail.example.com,shield,gateway,\"spf.shield.test  other.test\"\n"
                                ".Second.Example.COM.,acme,mailbox,\n"
                                ",acme,mailbox,_spf.acme.test\n"
                                "\"quoted.test\",\"acme\",mailbox,\n");
    struct mx_providers *p = NULL;
    char err[MX_ERRLEN] = "";
    cr_assert_eq(mx_providers_load(path, &p, err, sizeof err), MX_OK, "%s", err);
    unlink(path);
    cr_expect_eq(mx_providers_count(p), 2);
    cr_expect_str_eq(by_exchange(p, "mx.example.com"), "acme");
    cr_expect_str_eq(by_exchange(p, "example.com"), "acme");
    cr_expect_str_eq(by_exchange(p, "mx.mail.example.com"), "shield");
    cr_expect_str_eq(by_exchange(p, "mail.example.com"), "shield");
    cr_expect_str_eq(by_exchange(p, "xmail.example.com"), "acme");
    cr_expect_str_eq(by_exchange(p, "MX.SECOND.example.com"), "acme");
    cr_expect_str_eq(by_exchange(p, "mx.quoted.test"), "acme");
    cr_expect_str_eq(by_exchange(p, "example.org"), "-");
    cr_expect_str_eq(by_include(p, "spf.shield.test"), "shield");
    cr_expect_str_eq(by_include(p, "other.test"), "shield");
    cr_expect_str_eq(by_include(p, "_spf.acme.test"), "acme");
    cr_expect_str_eq(by_include(p, "a._spf.acme.test"), "acme");
    cr_expect_str_eq(by_include(p, "acme.test"), "-");
    uint16_t shield = mx_providers_by_exchange(p, "mail.example.com");
    cr_expect_eq(mx_providers_kind(p, shield), MX_PROVIDER_GATEWAY);
    cr_expect_str_eq(mx_providers_name(p, 999), "");
    mx_providers_destroy(p);
}

Test(providers, environment_variable)
{
    const char *path = temp_csv("suffix,provider,kind,spf_includes\nenv.test,envprov,mailbox,\n");
    char keep[64];
    snprintf(keep, sizeof keep, "%s", path);
    setenv("MXSCAN_PROVIDERS", keep, 1);
    struct mx_providers *p = NULL;
    char err[MX_ERRLEN] = "";
    cr_assert_eq(mx_providers_load(NULL, &p, err, sizeof err), MX_OK, "%s", err);
    cr_expect_eq(mx_providers_count(p), 1);
    cr_expect_str_eq(by_exchange(p, "mx.env.test"), "envprov");
    cr_expect_str_eq(by_exchange(p, "aspmx.l.google.com"), "-");
    mx_providers_destroy(p);
    unsetenv("MXSCAN_PROVIDERS");
    unlink(keep);
}

struct bad_case {
    const char *text;
    const char *in_err; /* substring of the message */
};

Test(providers, bad_files)
{
    static const struct bad_case cases[] = {
        {"", "line 1"},
        {"# only a comment\n", "empty file"},
        {"domain,provider,kind,spf_includes\n", "line 1: header"},
        {"suffix,provider,kind\n", "line 1: header"},
        {"suffix,provider,kind,spf_includes\ngoogle.com,google,mailbox,\nx.test,x,webmail,\n",
         "line 3: kind"},
        {"suffix,provider,kind,spf_includes\nx.test,x\n", "line 2: want 4 fields"},
        {"suffix,provider,kind,spf_includes\nx.test,x,mailbox,,extra\n", "line 2: want 4"},
        {"suffix,provider,kind,spf_includes\nx.test,,mailbox,\n", "line 2: empty"},
        {"suffix,provider,kind,spf_includes\n# c\nx.test,x,mailbox,\ny.test,x,gateway,\n",
         "line 4: provider listed with two different kinds"},
        {"suffix,provider,kind,spf_includes\nbad suffix.test,x,mailbox,\n", "line 2: bad"},
        {"suffix,provider,kind,spf_includes\nx.test,x,mailbox,\"unterminated\n", "unterminated"},
        {"suffix,provider,kind,spf_includes\nx.test,x,mailbox,a..b\n", "line 2: bad SPF"},
        {"suffix,provider,kind,spf_includes\nx.test,x y,mailbox,\n", "line 2: provider name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = temp_csv(cases[i].text);
        struct mx_providers *p = (struct mx_providers *)&cases[i]; /* must be reset to NULL */
        char err[MX_ERRLEN] = "";
        enum mx_status st = mx_providers_load(path, &p, err, sizeof err);
        cr_expect_eq(st, MX_EFORMAT, "case %zu: status %s (%s)", i, mx_status_name(st), err);
        cr_expect_null(p, "case %zu", i);
        cr_expect(strstr(err, cases[i].in_err) != NULL, "case %zu: error '%s', want '%s'", i,
                  err, cases[i].in_err);
        cr_expect(strstr(err, path) != NULL, "case %zu: error names the file: %s", i, err);
        unlink(path);
    }
}

Test(providers, missing_file)
{
    struct mx_providers *p = NULL;
    char err[MX_ERRLEN] = "";
    cr_expect_eq(mx_providers_load("/nonexistent/providers.csv", &p, err, sizeof err), MX_EIO);
    cr_expect_null(p);
    cr_expect(strstr(err, "/nonexistent/providers.csv") != NULL, "%s", err);
    /* A NULL table matches nothing. */
    cr_expect_eq(mx_providers_by_exchange(NULL, "aspmx.l.google.com"), MX_PROVIDER_NONE);
    cr_expect_eq(mx_providers_count(NULL), 0);
    mx_providers_destroy(NULL);
}
