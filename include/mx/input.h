/* Streaming reader of domain lists: plain text, or CSV whose last column is
 * the name (libcsv); zstd or gzip compressed input detected by magic bytes;
 * '-' for stdin; several files in a row. Never loads a file whole. */
#ifndef MX_INPUT_H
#define MX_INPUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/mx.h"

#define MX_INPUT_LINE_MAX 4096 /* longer lines are cut (and so invalid), still one row */

struct mx_input;

struct mx_input_line {
    const char *name;     /* the name field: last CSV column, or the whole line; not trimmed */
    size_t len;           /* may contain NUL bytes */
    const char *raw;      /* the whole line, without its line ending */
    size_t rawlen;
    bool cut;             /* the line was longer than MX_INPUT_LINE_MAX */
    unsigned file_index;  /* index into the paths given to open */
    uint64_t line_no;     /* 1-based line number in that file */
    bool has_rank;        /* a CSV line of two or more fields whose first is an integer */
    int64_t rank;         /* ... that integer (e.g. the rank of rank,domain) */
};

/* paths: file names or "-" for stdin. */
enum mx_status mx_input_open(struct mx_input **out, const char *const *paths, size_t npaths,
                             char *err, size_t errlen);
/* The next entry. Blank lines (only whitespace), lines whose first non-blank
 * character is '#', and a CSV header line (first line of a file whose last
 * column is "domain" or "name") are skipped. Returns MX_OK, MX_EEOF at the
 * end of the last file, or an error (MX_EIO, MX_EFORMAT for a corrupt or
 * truncated compressed file) with a message in err; out stays valid until
 * the next call. Damaged compressed file: the lines completed before the
 * damage have been returned, a partial line at the damage is not returned
 * as a row; a further call goes on with the next file. A cut line's name is
 * the whole cut line (so never a valid name). */
enum mx_status mx_input_next(struct mx_input *in, struct mx_input_line *out, char *err,
                             size_t errlen);
/* Compressed or plain bytes consumed so far, and the sum of the sizes of
 * the regular input files (0 when unknown, e.g. stdin). */
uint64_t mx_input_bytes_read(const struct mx_input *in);
/* About the raw bytes behind the lines returned so far (progress). */
uint64_t mx_input_bytes_consumed(const struct mx_input *in);
uint64_t mx_input_bytes_total(const struct mx_input *in);
void mx_input_destroy(struct mx_input *in);
/* While *flag is non-zero, mx_input_next returns MX_EINTR instead of
 * waiting for input (a quiet pipe is polled every 100 ms), so that the
 * reading thread can always be stopped and joined. */
void mx_input_set_cancel(struct mx_input *in, const atomic_int *flag);

/* The fixed, documented hash of --shard (SPEC section 4): 64-bit FNV-1a of
 * the row's domain column, the normalised name (lowercase, A-labels, no
 * trailing dot; for a line that is no valid name, its escaped text). The
 * row goes to shard I (1-based) when hash % N == I - 1, whatever its line,
 * rank or file. */
uint64_t mx_shard_hash(const char *domain);

#endif
