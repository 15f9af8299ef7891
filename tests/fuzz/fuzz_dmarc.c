/* Fuzz target: DMARC selection, tag parser and discovery. The input lines
 * are the TXT records of every _dmarc name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    const uint8_t *data;
    size_t size;
    struct mx_answer *ans[8];
    size_t nans;
};

static const struct mx_answer *get(void *ud, const char *name, uint16_t qtype, unsigned flags)
{
    struct fz *f = ud;
    struct mx_answer *a;
    (void)name;
    (void)flags;
    if (f->nans == 8)
        return NULL;
    if (f->size > 0 && f->data[0] == '!')
        a = mx_answer_failure(MX_RC_SERVFAIL, qtype);
    else
        a = mx_answer_new(MX_RC_NOERROR, qtype, 300, false);
    for (size_t start = 0, i = 0; a && i <= f->size; i++)
        if (i == f->size || f->data[i] == '\n') {
            mx_answer_add_txt(&a, (const char *)f->data + start, i - start);
            start = i + 1;
        }
    if (!a)
        return NULL;
    f->ans[f->nans++] = a;
    return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size, {0}, 0};
    struct mx_dmarc_record rec;
    struct mx_dmarc_info info;
    char err[128];

    mx_dmarc_is_record((const char *)data, size);
    mx_dmarc_parse((const char *)data, size, &rec, err, sizeof err);
    struct mx_oracle o = {get, &f};
    mx_dmarc_analyze(&o, "mail.example.co.uk", &info);
    for (size_t i = 0; i < f.nans; i++)
        free(f.ans[i]);
    return 0;
}
