/* The field splitter of the MTA-STS and TLS-RPT TXT records (policy_int.h). */
#include <string.h>

#include "policy_int.h"

bool mx_policy_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!mx_policy_wsp(s[i]))
            return false;
    return true;
}

bool mx_policy_ext_value_ok(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x21 || c > 0x7e || c == '=' || c == ';')
            return false;
    }
    return true;
}

bool mx_policy_fields_split(const char *s, size_t n, struct mx_policy_fields *out)
{
    size_t i = 0;
    out->n = 0;
    for (;;) {
        while (i < n && mx_policy_wsp(s[i]))
            i++;
        if (i == n)
            return true;
        if (s[i] != ';')
            return false;
        i++;
        while (i < n && mx_policy_wsp(s[i]))
            i++;
        if (i == n)
            return true; /* a trailing delimiter */
        size_t k = i;
        while (k < n && mx_policy_extname_char(s[k], k - i))
            k++;
        if (k == i || k - i > 32 || k == n || s[k] != '=')
            return false;
        if (out->n == MX_POLICY_FIELDS_MAX)
            return false;
        struct mx_policy_field *f = &out->f[out->n++];
        f->name = s + i;
        f->nlen = k - i;
        k++;
        size_t e = k;
        while (e < n && s[e] != ';')
            e++;
        size_t ve = e;
        while (ve > k && mx_policy_wsp(s[ve - 1]))
            ve--;
        f->value = s + k;
        f->vlen = ve - k;
        i = e;
    }
}
