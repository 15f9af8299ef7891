/* The scan's monitor: a thread that looks once a second at the pipeline
 * and the engine and
 *   - prints the progress line on stderr (a terminal, or --progress);
 *   - writes one JSON object per line to --status-file;
 *   - runs the watchdog: a resolver failing most look-ups first gets a
 *     lower rate, then stops the scan (resumably);
 *   - runs the stall detector: domains wait and nothing at all happens.
 * It reads counters only; it acts through the engine's rate and a stop
 * callback. */
#ifndef MX_MONITOR_H
#define MX_MONITOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mx/config.h"
#include "mx/engine.h"
#include "mx/input.h"

/* Why a scan stopped early (the stats' stop_reason follows this order). */
enum mx_stop_reason {
    MX_STOP_NONE,
    MX_STOP_SIGINT,
    MX_STOP_SIGTERM,
    MX_STOP_WATCHDOG,
    MX_STOP_ERROR,
    MX_STOP_STALL,
};

/* since_ms: for the watchdog, the moment the trouble began (the output is
 * cut back to before it); msg: what to tell the user. */
typedef void (*mx_monitor_stop_fn)(void *ud, enum mx_stop_reason why, uint64_t since_ms,
                                   const char *msg);

/* What the monitor reads; the pointers must outlive it. */
struct mx_monitor_src {
    const struct mx_config *cfg;
    struct mx_engine *eng;
    const struct mx_input *in;
    const _Atomic uint64_t *seen;     /* input entries taken this run (rows to come) */
    const _Atomic uint64_t *finished; /* rows finished this run, in any order */
    const _Atomic uint64_t *written;  /* rows written in input order (resumed ones too) */
    const atomic_bool *reader_done;   /* every entry has been taken */
    uint64_t start_rows;              /* rows of an earlier run (resume) */
    uint64_t t0_ms;
    mx_monitor_stop_fn stop;
    void *ud;
};

struct mx_monitor;

/* Starts the thread; NULL (with err) when it cannot. A status file that
 * cannot be written is an error here, before the scan begins. */
struct mx_monitor *mx_monitor_start(const struct mx_monitor_src *src, char *err, size_t errlen);
/* Stops and joins the thread (ends the progress line). */
void mx_monitor_stop(struct mx_monitor *m);

/* The progress figures of one moment (exposed for the unit tests). */
struct mx_progress {
    double elapsed_s;
    uint64_t done;       /* rows finished, resumed ones included */
    uint64_t total;      /* expected rows; 0 when unknown (stdin still open) */
    bool exact;          /* total is known, not estimated */
    double percent;      /* -1 when unknown */
    double eta_s;        /* -1 when unknown */
    double rows_per_s;   /* recent rate of finished rows */
    double queries_per_s;
    double answered_share; /* answered / (answered + timed out), recent; -1 none yet */
};

/* Expected total rows: exact once the reader is done; else the entries
 * seen scaled by the share of the input file consumed; 0 when unknown. */
uint64_t mx_progress_total(uint64_t start_rows, uint64_t seen, bool reader_done,
                           uint64_t bytes_consumed, uint64_t bytes_total, bool *exact);
/* The line shown on a terminal (no \r, no newline). */
void mx_progress_format(const struct mx_progress *p, uint64_t in_flight, uint64_t timeouts,
                        char *buf, size_t len);

#endif
