/* Fuzz target for the domain-list reader: the bytes become one input file
 * (plain, CSV, zstd or gzip, as the magic bytes say), read to the end through
 * mx_input_next, each name through mx_name_normalize and the shard hash.
 * Builds as a libFuzzer target or, with replay_main.c, as a corpus replay.
 *
 * Invariants (abort when violated):
 * - the file is given twice: both passes yield the same entries (names, raw
 *   lines, line numbers) and the same errors: the reader keeps no state
 *   from one file to the next;
 * - lengths within MX_INPUT_LINE_MAX, line numbers rising within a file,
 *   bytes read within the total;
 * - a normalised valid name is a valid host name and normalises to itself
 *   (idempotent); an invalid one renders within the buffer; the shard hash
 *   depends on the trimmed raw line only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "mx/input.h"
#include "mx/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one pass over a file yielded, as a running hash, and how much. */
struct pass {
    uint64_t hash;
    uint64_t entries, errors, last_line;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void check_name(const struct mx_input_line *l)
{
    char name[MX_NAME_MAX + 1], again[MX_NAME_MAX + 1];
    bool valid = mx_name_normalize(l->name, l->len, name, sizeof name);
    CHECK_STR(name);
    if (valid) {
        CHECK(mx_name_check(name) == MX_NAME_OK);
        CHECK(mx_name_normalize(name, strlen(name), again, sizeof again));
        CHECK(strcmp(name, again) == 0);
    }
    (void)mx_name_is_ip_literal(name);
    /* the shard follows the normalised name: the same name in capitals
     * lands in the same shard */
    if (valid && l->len <= MX_INPUT_LINE_MAX) {
        static char upper[MX_INPUT_LINE_MAX + 1], name2[MX_NAME_MAX + 1];
        for (size_t i = 0; i < l->len; i++)
            upper[i] = (char)(l->name[i] >= 'a' && l->name[i] <= 'z' ? l->name[i] - 32 : l->name[i]);
        CHECK(mx_name_normalize(upper, l->len, name2, sizeof name2));
        CHECK(mx_shard_hash(name2) == mx_shard_hash(name));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    const char *dir = getenv("TMPDIR");
    struct mx_input *in = NULL;
    char err[MX_ERRLEN];
    struct pass pass[2];
    int fd;

    memset(pass, 0, sizeof pass);
    snprintf(path, sizeof path, "%s/mx_fuzz_input_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0)
        return 0;
    bool ok = write_all(fd, data, size);
    close(fd);
    if (!ok)
        goto out;

    const char *paths[] = {path, path};
    /* the file twice: the reader must reset its state between files */
    if (mx_input_open(&in, paths, 2, err, sizeof err) != MX_OK)
        goto out;
    uint64_t total = mx_input_bytes_total(in);
    CHECK(total == 2 * (uint64_t)size);
    unsigned cur = 0;
    for (;;) {
        struct mx_input_line l;
        enum mx_status st = mx_input_next(in, &l, err, sizeof err);
        if (st == MX_EEOF)
            break;
        CHECK(mx_input_bytes_read(in) <= total);
        if (st != MX_OK) { /* damaged file: the reader moves on to the next one */
            CHECK_STR(err);
            pass[cur].errors++;
            pass[cur].hash = mix(pass[cur].hash, &st, sizeof st);
            cur = 1;
            continue;
        }
        CHECK(l.len <= MX_INPUT_LINE_MAX && l.rawlen <= MX_INPUT_LINE_MAX && l.file_index <= 1);
        CHECK(l.file_index >= cur && l.line_no > 0);
        cur = l.file_index;
        struct pass *p = &pass[cur];
        CHECK(l.line_no > p->last_line);
        p->last_line = l.line_no;
        p->entries++;
        p->hash = mix(p->hash, &l.line_no, sizeof l.line_no);
        p->hash = mix(p->hash, l.raw, l.rawlen);
        p->hash = mix(p->hash, &l.len, sizeof l.len);
        p->hash = mix(p->hash, l.name, l.len);
        p->hash = mix(p->hash, &l.cut, sizeof l.cut);
        check_name(&l);
    }
    CHECK(mx_input_bytes_read(in) <= total);
    CHECK(pass[0].entries == pass[1].entries && pass[0].errors == pass[1].errors &&
          pass[0].hash == pass[1].hash);
out:
    mx_input_destroy(in);
    unlink(path);
    return 0;
}
