/* Fuzz target for the domain-list reader: the bytes become one input file
 * (plain, CSV, zstd or gzip, as the magic bytes say), read to the end through
 * mx_input_next, each name through mx_name_normalize and the shard hash.
 * Builds as a libFuzzer target or, with replay_main.c, as a corpus replay. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx/input.h"
#include "mx/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    const char *dir = getenv("TMPDIR");
    struct mx_input *in = NULL;
    char err[MX_ERRLEN];
    int fd;

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
    if (total != 2 * (uint64_t)size)
        abort();
    for (;;) {
        struct mx_input_line l;
        char name[MX_NAME_MAX + 1];
        enum mx_status st = mx_input_next(in, &l, err, sizeof err);
        if (st == MX_EEOF)
            break;
        if (st != MX_OK)
            continue; /* damaged file: the reader moves on to the next one */
        if (l.len > MX_INPUT_LINE_MAX || l.rawlen > MX_INPUT_LINE_MAX || l.file_index > 1 ||
            l.line_no == 0)
            abort();
        bool valid = mx_name_normalize(l.name, l.len, name, sizeof name);
        size_t nl = strlen(name);
        if (nl > MX_NAME_MAX)
            abort();
        if (valid && mx_name_check(name) != MX_NAME_OK)
            abort();
        (void)mx_input_shard_hash(l.raw, l.rawlen);
        (void)mx_name_is_ip_literal(name);
    }
    if (mx_input_bytes_read(in) > total)
        abort();
out:
    mx_input_destroy(in);
    unlink(path);
    return 0;
}
