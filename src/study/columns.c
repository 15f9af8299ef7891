/* Columns of a results file found by their header names (study.h): the
 * CSV may have more columns (opt-in ones) or fewer (an older scanner). */
#include <string.h>

#include "mx/study.h"

void mx_colmap_build(struct mx_colmap *m, const char *const *header, unsigned nheader)
{
    for (unsigned c = 0; c < MX_COL_COUNT; c++) {
        m->idx[c] = -1;
        for (unsigned i = 0; i < nheader; i++)
            if (strcmp(header[i], mx_column_header((enum mx_column)c)) == 0) {
                m->idx[c] = (int)i;
                break;
            }
    }
    m->ready = true;
}

const char *mx_colmap_get(const struct mx_colmap *m, const char *const *field, unsigned nfield,
                          enum mx_column c)
{
    int i = m->idx[c];
    return i >= 0 && (unsigned)i < nfield ? field[i] : "";
}
