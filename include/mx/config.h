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

/* --format: what the results file holds. */
enum mx_format {
    MX_FORMAT_CSV,   /* RFC 4180 CSV with a header row */
    MX_FORMAT_JSONL, /* one JSON object a line (JSON Lines), no header */
};

struct mx_config {
    /* inputs and outputs */
    const char **inputs;
    size_t ninputs;
    const char *output;        /* NULL or "-" = stdout */
    enum mx_format format;
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
    /* the SMTP probe (--checks ...,smtp) */
    bool smtp_rcpt;            /* also MAIL FROM:<> and RCPT TO:<postmaster@domain> */
    unsigned smtp_port;
    const char *smtp_ehlo;     /* NULL: this host's name */
    double smtp_rate;          /* new connections per second */
    unsigned smtp_max_conns;
    unsigned smtp_connect_ms;  /* connect timeout */
    unsigned smtp_timeout_ms;  /* greeting, each reply, the TLS handshake */
    const char *smtp_ca_file;  /* trust store for certificates; NULL: the system's */
    /* MTA-STS policy fetches (--checks ...,mta-sts) */
    unsigned sts_port;         /* 443; another port for labs (URL and names unchanged) */
    double sts_rate;           /* new fetches per second */
    unsigned sts_max_fetches;  /* fetches at a time */
    unsigned sts_connect_ms;   /* TCP + TLS connect */
    unsigned sts_timeout_ms;   /* the whole fetch */
    const char *sts_ca_file;   /* trust store for the policy hosts; NULL: the system's */
    /* DNS flags */
    bool dns_ad;               /* the AD bit on every query (RFC 6840 5.7): set with
                                  --checks ...,dane, so that answers say whether the
                                  resolver validated them */
    /* authoritative consistency (--checks ...,consistency) */
    double auth_qps;           /* packets per second to one authoritative address */
    double auth_global_qps;    /* packets per second to all authoritative addresses */
    unsigned auth_timeout_ms;  /* per try */
    unsigned auth_tries;       /* tries per question */
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
