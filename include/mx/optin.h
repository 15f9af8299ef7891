/* The opt-in checks' providers (SPEC 1.7): what --checks asks for beyond
 * DNS (the SMTP probe, ...) is created here, registered with an engine as
 * providers of its look-ups, and stopped before the engine goes. */
#ifndef MX_OPTIN_H
#define MX_OPTIN_H

#include "mx/config.h"
#include "mx/engine.h"

struct mx_optin;

/* Creates what cfg->checks needs and registers it with eng (before
 * mx_engine_start). *out is NULL when nothing is needed. */
enum mx_status mx_optin_start(const struct mx_config *cfg, struct mx_engine *eng,
                              struct mx_optin **out, char *err, size_t errlen);
/* Stops them (requests still out are answered as aborted): before
 * mx_engine_destroy. NULL is a no-op. */
void mx_optin_stop(struct mx_optin *o);

#endif
