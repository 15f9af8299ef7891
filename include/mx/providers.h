/* Mailbox providers and filtering gateways, from a CSV data file
 * (datasets/providers.csv by default): exchange-name suffixes and SPF
 * include names per provider. */
#ifndef MX_PROVIDERS_H
#define MX_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/mx.h"

enum mx_provider_kind { MX_PROVIDER_MAILBOX, MX_PROVIDER_GATEWAY };
#define MX_PROVIDER_NONE UINT16_MAX

struct mx_providers; /* opaque, immutable after loading: shared by all threads */

/* path NULL: the file named by the environment variable MXSCAN_PROVIDERS
 * when set and non-empty, else share/mxscan/providers.csv beside the
 * binary (an installation), else the source tree's datasets/providers.csv
 * (a binary in its build directory), else MX_DATADIR. Errors: MX_EIO
 * (cannot open or read), MX_EFORMAT (bad content; err gives "PATH: line N:
 * why"), MX_ENOMEM. *out is NULL on failure. Format: see datasets/providers.csv. */
enum mx_status mx_providers_load(const char *path, struct mx_providers **out, char *err,
                                 size_t errlen);
void mx_providers_destroy(struct mx_providers *p);
size_t mx_providers_count(const struct mx_providers *p);
const char *mx_providers_name(const struct mx_providers *p, uint16_t id);
enum mx_provider_kind mx_providers_kind(const struct mx_providers *p, uint16_t id);
/* Provider whose exchange suffix matches the exchange name (longest match). */
uint16_t mx_providers_by_exchange(const struct mx_providers *p, const char *exchange);
/* Provider whose SPF include name equals name (or name is below it). */
uint16_t mx_providers_by_include(const struct mx_providers *p, const char *name);

#endif
