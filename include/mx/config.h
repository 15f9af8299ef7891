/* The scanner's configuration, filled by opts.c and passed to every stage. */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"

#define MX_MAX_SERVERS 8

struct mx_server {
    char host[128]; /* numeric address */
    uint16_t port;
    bool v6;
};

struct mx_config {
    /* inputs and outputs */
    const char **inputs;
    size_t ninputs;
    const char *output;        /* NULL or "-" = stdout */
    const char *stats_path;
    const char *status_file;   /* NDJSON progress */
    const char *providers_path;
    bool resume;
    bool force;                /* overwrite the output of an interrupted scan */
    int zstd_level;
    uint64_t frame_bytes;      /* end a zstd frame after this much CSV */
    unsigned frame_ms;         /* ... or after this long */
    /* DNS */
    struct mx_server servers[MX_MAX_SERVERS];
    size_t nservers;
    unsigned timeout_ms;
    unsigned retries;
    uint64_t rate;             /* queries per second, 0 = unlimited */
    unsigned concurrency;      /* queries in flight, all workers */
    unsigned threads;
    unsigned window;           /* domains in progress (record pool) */
    unsigned reorder;          /* finished rows held to restore input order */
    size_t cache_entries;
    unsigned cache_max_age_s;
    unsigned checks;           /* MX_CHECK_* */
    struct mx_allowlist allow;
    /* sharding */
    unsigned shard_index;      /* 0-based */
    unsigned shard_count;      /* 1 = no sharding */
    /* watchdog */
    double watchdog_ratio;     /* failure share that counts as bad */
    unsigned watchdog_backoff_s; /* bad this long: halve the rate */
    unsigned watchdog_stop_s;  /* bad this long: stop (resumable), 0 = never */
    unsigned stall_s;          /* no progress this long while records wait: stop */
    /* user interface */
    bool quiet;
    bool progress;             /* force the progress line */
    bool color;
};

#endif
