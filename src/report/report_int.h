/* Inside the report: the bar charts (svg.c) used by the page (html.c) and
 * the diff section (diff.c). */
#ifndef MX_REPORT_INT_H
#define MX_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mx/report.h"

#define MX_CHART_SEGS 6

struct mx_chart_seg {
    uint64_t v;
    const char *name;  /* legend and tooltip text; NULL: the row's label */
    const char *color; /* an SVG colour, e.g. "#c0392b" */
};

struct mx_chart_row {
    const char *label;
    struct mx_chart_seg seg[MX_CHART_SEGS];
    unsigned nseg;
};

struct mx_chart {
    const char *id, *title, *caption;
    const struct mx_chart_row *rows;
    unsigned nrows;
    uint64_t denom; /* shares are of this (0: counts only) */
    bool legend;    /* a legend of the segment names (they must all be set) */
};

/* A <figure> with the chart's <svg> and a <figcaption>. */
void mx_chart_write(FILE *f, const struct mx_chart *c);
/* "PART (P.P%)" of whole, or "PART" when whole is 0. */
void mx_report_share(char *buf, size_t len, uint64_t part, uint64_t whole);

#define MX_COLOR_ERROR "#c0392b"
#define MX_COLOR_WARN "#e67e22"
#define MX_COLOR_INFO "#2e86c1"
#define MX_COLOR_BAR "#4a6fa5"
#define MX_COLOR_GOOD "#27ae60"
#define MX_COLOR_GREY "#95a5a6"

#endif
