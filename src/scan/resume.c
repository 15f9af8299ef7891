/* Resume (resume.h): the checkpoint file, the scan's fingerprint, the
 * checks before continuing, the earlier rows read back. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mx/analyze.h"
#include "mx/hash.h"
#include "mx/results.h"
#include "mx/resume.h"
#include "mx/scan.h"

/* ---- the checkpoint file ---- */

bool mx_checkpoint_path(const char *output, char *buf, size_t len)
{
    if (!output || strcmp(output, "-") == 0)
        return false;
    struct stat st;
    if (stat(output, &st) == 0 && !S_ISREG(st.st_mode))
        return false;
    int n = snprintf(buf, len, "%s.ckpt", output);
    return n > 0 && (size_t)n < len;
}

enum mx_status mx_checkpoint_read(const char *path, struct mx_checkpoint *ck, char *err,
                                  size_t errlen)
{
    memset(ck, 0, sizeof *ck);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read checkpoint %s: %s", path, strerror(errno));
        return MX_EIO;
    }
    char line[256];
    int version = 0, have = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        char fp[80];
        if (sscanf(line, "mxscan-checkpoint %d", &version) == 1)
            have |= 1;
        else if (sscanf(line, "fingerprint %79s", fp) == 1) {
            snprintf(ck->fingerprint, sizeof ck->fingerprint, "%s", fp);
            have |= 2;
        } else if (sscanf(line, "rows %llu", &v) == 1) {
            ck->rows = v;
            have |= 4;
        } else if (sscanf(line, "offset %llu", &v) == 1) {
            ck->offset = v;
            have |= 8;
        } else if (sscanf(line, "complete %llu", &v) == 1) {
            ck->complete = v != 0;
        }
    }
    fclose(f);
    if (version != 1 || have != 15) {
        snprintf(err, errlen, "checkpoint %s is damaged or of another version", path);
        return MX_EFORMAT;
    }
    return MX_OK;
}

enum mx_status mx_checkpoint_write(const char *path, const struct mx_checkpoint *ck, char *err,
                                   size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        return MX_EIO;
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "mxscan-checkpoint 1\nfingerprint %s\nrows %" PRIu64 "\noffset %" PRIu64
                     "\ncomplete %d\n",
                     ck->fingerprint, ck->rows, ck->offset, ck->complete ? 1 : 0);
    enum mx_status st = MX_OK;
    if (write(fd, buf, (size_t)n) != n) {
        snprintf(err, errlen, "cannot write checkpoint %s: %s", tmp, strerror(errno));
        st = MX_EIO;
    } else if (fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync checkpoint: %s", strerror(errno));
        st = MX_EIO;
    }
    close(fd);
    if (st == MX_OK && rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace checkpoint %s: %s", path, strerror(errno));
        st = MX_EIO;
    }
    return st;
}

/* ---- fingerprint ---- */

static uint64_t hash_inputs(const struct mx_config *cfg)
{
    uint64_t h = MX_FNV1A_INIT;
    for (size_t i = 0; i < cfg->ninputs; i++) {
        const char *p = cfg->inputs[i];
        h = mx_fnv1a(h, p, strlen(p) + 1);
        struct stat st;
        if (strcmp(p, "-") == 0 || stat(p, &st) != 0)
            continue;
        uint64_t size = (uint64_t)st.st_size;
        h = mx_fnv1a(h, &size, sizeof size);
        FILE *f = fopen(p, "rb");
        if (f) {
            unsigned char buf[65536];
            size_t n = fread(buf, 1, sizeof buf, f);
            h = mx_fnv1a(h, buf, n);
            fclose(f);
        }
    }
    return h;
}

static uint64_t hash_options(const struct mx_config *cfg)
{
    const char *out = cfg->output;
    size_t ol = out ? strlen(out) : 0;
    bool jsonl = cfg->format == MX_FORMAT_JSONL;
    const char *plain = jsonl ? ".jsonl" : ".csv";
    size_t pl = strlen(plain);
    bool zst = !(ol > pl && strcmp(out + ol - pl, plain) == 0);
    char opt[1024], auth[64] = "";
    /* Consistency: how long a server is waited for decides whether it is
     * lame (the rates only decide how fast rows come). */
    if (cfg->checks & MX_CHECK_CONSISTENCY)
        snprintf(auth, sizeof auth, " auth=%u/%u", cfg->auth_timeout_ms, cfg->auth_tries);
    /* v2: the input_file and rank columns; shards keyed by name */
    int n = snprintf(opt, sizeof opt,
                     "v2 checks=%u shard=name:%u/%u out=%s format=%s providers=%s%s%s",
                     cfg->checks, cfg->shard_index, cfg->shard_count, zst ? "zst" : "plain",
                     jsonl ? "jsonl" : "csv",
                     cfg->providers_path ? cfg->providers_path : "default",
                     cfg->smtp_rcpt && (cfg->checks & MX_CHECK_SMTP) ? " rcpt" : "", auth);
    /* SMTP: which port is asked, how long it is waited for and what its
     * certificates are checked against decide the findings (the rate, the
     * connection cap and the EHLO name only decide how fast, and how polite) */
    if ((cfg->checks & MX_CHECK_SMTP) && n > 0 && (size_t)n < sizeof opt)
        n += snprintf(opt + n, sizeof opt - (size_t)n, " smtp=%u,%u,%u,%s", cfg->smtp_port,
                      cfg->smtp_connect_ms, cfg->smtp_timeout_ms,
                      cfg->smtp_ca_file ? cfg->smtp_ca_file : "system");
    /* where MTA-STS policies come from and what they are checked against */
    if ((cfg->checks & MX_CHECK_MTA_STS) && n > 0 && (size_t)n < sizeof opt)
        n += snprintf(opt + n, sizeof opt - (size_t)n, " sts=%u,%s", cfg->sts_port,
                      cfg->sts_ca_file ? cfg->sts_ca_file : "system");
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof opt)
        n = (int)sizeof opt - 1;
    uint64_t h = mx_fnv1a(MX_FNV1A_INIT, opt, (size_t)n);
    h = mx_fnv1a(h, &cfg->allow.n, sizeof cfg->allow.n);
    for (size_t i = 0; i < cfg->allow.n; i++) {
        char a[64];
        mx_ip_format(&cfg->allow.r[i].ip, a, sizeof a);
        h = mx_fnv1a(h, a, strlen(a));
        h = mx_fnv1a(h, &cfg->allow.r[i].len, 1);
    }
    return h;
}

void mx_resume_fingerprint(const struct mx_config *cfg, char *out, size_t len)
{
    snprintf(out, len, "i=%016" PRIx64 ",o=%016" PRIx64, hash_inputs(cfg), hash_options(cfg));
}

/* ---- the earlier rows ---- */

struct reread {
    struct mx_tally *t;
    const struct mx_providers *p;
};

static void reread_row(void *ud, const char *const *f, unsigned n, const char *const *h,
                       unsigned nh)
{
    (void)h;
    (void)nh;
    struct reread *r = ud;
    if (n >= MX_COL_COUNT) {
        struct mx_tally_row tr;
        mx_tally_row_from_fields(&tr, r->p, f);
        mx_tally_add(r->t, &tr);
        r->t->resumed_rows++;
    }
}

enum mx_status mx_tally_from_output(struct mx_tally *t, const struct mx_providers *p,
                                    const char *path, uint64_t offset, char *err, size_t errlen)
{
    struct reread r = {t, p};
    if (offset == 0)
        return MX_OK; /* nothing durable yet (0 would read the whole file) */
    return mx_results_read(path, offset, reread_row, &r, err, errlen);
}

/* ---- the checks before continuing, and after the end ---- */

bool mx_resume_guard(const struct mx_config *cfg, char *err, size_t errlen)
{
    char ckpath[4200], why[MX_ERRLEN];
    struct mx_checkpoint ck;
    if (cfg->force || !mx_checkpoint_path(cfg->output, ckpath, sizeof ckpath) ||
        access(ckpath, F_OK) != 0)
        return true;
    if (mx_checkpoint_read(ckpath, &ck, why, sizeof why) != MX_OK || ck.complete)
        return true;
    snprintf(err, errlen,
             "%s holds an interrupted scan (%" PRIu64 " rows durable, checkpoint %s): add "
             "--resume to continue it, or --force to start afresh and lose those rows",
             cfg->output, ck.rows, ckpath);
    return false;
}

void mx_resume_done(const struct mx_config *cfg)
{
    char ckpath[4200];
    if (mx_checkpoint_path(cfg->output, ckpath, sizeof ckpath))
        unlink(ckpath);
}


static enum mx_resume_verdict refuse(int *exit_code, int code, char *err, size_t errlen,
                                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum mx_resume_verdict refuse(int *exit_code, int code, char *err, size_t errlen,
                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    *exit_code = code;
    return MX_RESUME_REFUSED;
}

enum mx_resume_verdict mx_resume_check(const struct mx_config *cfg, const char *fp,
                                       const struct mx_providers *prov, struct mx_checkpoint *ck,
                                       struct mx_tally *tally, int *exit_code, char *err,
                                       size_t errlen)
{
    char ckpath[4200], why[MX_ERRLEN];
    struct stat st;
    if (!mx_checkpoint_path(cfg->output, ckpath, sizeof ckpath))
        return refuse(exit_code, MX_EXIT_USAGE, err, errlen,
                      "--resume needs a regular output file (-o FILE)");
    /* A scan writes its checkpoint before its first row and removes it
     * when complete: an output without one is complete (or not ours). */
    if (stat(ckpath, &st) != 0 && errno == ENOENT) {
        memset(ck, 0, sizeof *ck);
        if (stat(cfg->output, &st) == 0 && st.st_size > 0) {
            ck->complete = true;
            return MX_RESUME_COMPLETE;
        }
        /* Neither checkpoint nor rows: the scan was stopped between
         * creating its output and writing its first checkpoint (or never
         * started). Nothing is lost by starting over. */
        if (stat(cfg->output, &st) == 0 || errno == ENOENT)
            return MX_RESUME_FRESH;
    }
    if (mx_checkpoint_read(ckpath, ck, why, sizeof why) != MX_OK)
        return refuse(exit_code, MX_EXIT_USAGE, err, errlen,
                      "%s; nothing to resume: run the scan without --resume", why);
    if (strncmp(ck->fingerprint, fp, 19) != 0)
        return refuse(exit_code, MX_EXIT_USAGE, err, errlen,
                      "cannot resume %s: the input files differ from the interrupted scan's "
                      "(name, size or content). Resume with the same inputs, or start afresh "
                      "without --resume",
                      cfg->output);
    if (strcmp(ck->fingerprint, fp) != 0)
        return refuse(exit_code, MX_EXIT_USAGE, err, errlen,
                      "cannot resume %s: options that shape the rows (--checks, "
                      "--allow-address, --shard, --providers, --format, compression) differ "
                      "from the interrupted scan's. Use the same options, or start afresh "
                      "without --resume",
                      cfg->output);
    if (ck->complete)
        return MX_RESUME_COMPLETE;
    if (mx_tally_from_output(tally, prov, cfg->output, ck->offset, why, sizeof why) != MX_OK)
        return refuse(exit_code, MX_EXIT_FAIL, err, errlen, "cannot read back the output: %s",
                      why);
    return MX_RESUME_CONTINUE;
}
