/* Accessors for the finding table of findings.h. */
#include <string.h>

#include "mx/findings.h"

static const struct {
    const char *label;
    enum mx_severity sev;
    const char *why;
    const char *fix;
} table[] = {
#define X(e, label, sev, why, fix) {label, MX_SEV_##sev, why, fix},
    MX_FINDINGS_MAP(X)
#undef X
};

_Static_assert(MX_F_COUNT <= 64, "findings must fit in mx_findings_t");

const char *mx_finding_label(enum mx_finding f)
{
    return (unsigned)f < MX_F_COUNT ? table[f].label : "unknown";
}

enum mx_severity mx_finding_severity(enum mx_finding f)
{
    return (unsigned)f < MX_F_COUNT ? table[f].sev : MX_SEV_INFO;
}

const char *mx_finding_why(enum mx_finding f)
{
    return (unsigned)f < MX_F_COUNT ? table[f].why : "";
}

const char *mx_finding_fix(enum mx_finding f)
{
    return (unsigned)f < MX_F_COUNT ? table[f].fix : "";
}

const char *mx_severity_name(enum mx_severity s)
{
    switch (s) {
    case MX_SEV_ERROR:
        return "error";
    case MX_SEV_WARN:
        return "warn";
    case MX_SEV_INFO:
        break;
    }
    return "info";
}

enum mx_finding mx_finding_from_label(const char *label)
{
    for (unsigned i = 0; i < MX_F_COUNT; i++)
        if (strcmp(table[i].label, label) == 0)
            return (enum mx_finding)i;
    return MX_F_COUNT;
}
