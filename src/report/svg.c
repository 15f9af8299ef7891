/* Horizontal bar charts in inline SVG for the report (report_int.h): one
 * bar per row, a bar split into coloured segments, with a title, labels,
 * counts and shares, and a tooltip (<title>) on every segment. */
#include <inttypes.h>
#include <string.h>

#include "report_int.h"

#define W 860
#define LABEL_W 260 /* label column */
#define BAR_W 420   /* the longest bar */
#define ROW_H 24
#define TOP 8
#define LEGEND_H 20
#define LABEL_CHARS 38 /* longer labels are cut (the whole text in the tooltip) */

void mx_report_escape(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)
                fprintf(f, "\\x%02X", *p);
            else
                fputc(*p, f);
        }
    }
}

/* The label cut to LABEL_CHARS octets, "..." marking the cut. */
static void short_label(FILE *f, const char *s)
{
    char buf[LABEL_CHARS + 4];
    size_t n = strlen(s);
    if (n <= LABEL_CHARS) {
        mx_report_escape(f, s);
        return;
    }
    memcpy(buf, s, LABEL_CHARS - 3);
    memcpy(buf + LABEL_CHARS - 3, "...", 4);
    mx_report_escape(f, buf);
}

void mx_report_share(char *buf, size_t len, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        snprintf(buf, len, "%" PRIu64, part);
    else
        snprintf(buf, len, "%" PRIu64 " (%.1f%%)", part, 100.0 * (double)part / (double)whole);
}

static uint64_t row_total(const struct mx_chart_row *r)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < r->nseg; i++)
        t += r->seg[i].v;
    return t;
}

static void draw_row(FILE *f, const struct mx_chart *c, unsigned i, uint64_t max)
{
    const struct mx_chart_row *r = &c->rows[i];
    unsigned y = TOP + i * ROW_H;
    fprintf(f, "<text class=\"lb\" x=\"%d\" y=\"%u\" text-anchor=\"end\"><title>", LABEL_W - 8,
            y + 16);
    mx_report_escape(f, r->label);
    fputs("</title>", f);
    short_label(f, r->label);
    fputs("</text>\n", f);
    double x = LABEL_W;
    for (unsigned s = 0; s < r->nseg; s++) {
        const struct mx_chart_seg *sg = &r->seg[s];
        double w = max ? (double)BAR_W * (double)sg->v / (double)max : 0;
        if (sg->v == 0)
            continue;
        char share[64];
        mx_report_share(share, sizeof share, sg->v, c->denom);
        fprintf(f, "<rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>",
                x, y + 3, w < 1 ? 1 : w, ROW_H - 6, sg->color);
        mx_report_escape(f, sg->name ? sg->name : r->label);
        fprintf(f, ": %s</title></rect>\n", share);
        x += w;
    }
    char share[64];
    mx_report_share(share, sizeof share, row_total(r), c->denom);
    fprintf(f, "<text class=\"val\" x=\"%.1f\" y=\"%u\">%s</text>\n", x + 6, y + 16, share);
}

/* One legend entry per distinct segment name, in order of appearance,
 * wrapped at the chart's width; draws only when f is set. Returns the
 * number of legend lines. */
static unsigned legend(FILE *f, const struct mx_chart *c, unsigned y)
{
    const char *seen[16];
    unsigned n = 0, x = 10, lines = 1;
    for (unsigned i = 0; i < c->nrows; i++)
        for (unsigned s = 0; s < c->rows[i].nseg && n < 16; s++) {
            const struct mx_chart_seg *sg = &c->rows[i].seg[s];
            bool dup = false;
            for (unsigned k = 0; k < n && !dup; k++)
                dup = strcmp(seen[k], sg->name) == 0;
            if (dup)
                continue;
            seen[n++] = sg->name;
            unsigned w = 24 + 7 * (unsigned)strlen(sg->name);
            if (x > 10 && x + w > W) {
                x = 10;
                lines++;
            }
            unsigned ly = y + (lines - 1) * LEGEND_H;
            if (f) {
                fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"12\" height=\"12\" fill=\"%s\"/>",
                        x, ly, sg->color);
                fprintf(f, "<text class=\"lg\" x=\"%u\" y=\"%u\">", x + 16, ly + 11);
                mx_report_escape(f, sg->name);
                fputs("</text>\n", f);
            }
            x += w;
        }
    return lines;
}

void mx_chart_write(FILE *f, const struct mx_chart *c)
{
    uint64_t max = 0;
    for (unsigned i = 0; i < c->nrows; i++) {
        uint64_t t = row_total(&c->rows[i]);
        max = t > max ? t : max;
    }
    unsigned rows = c->nrows ? c->nrows : 1;
    unsigned h = TOP + rows * ROW_H + 8 + (c->legend ? legend(NULL, c, 0) * LEGEND_H : 0);
    fprintf(f, "<figure id=\"%s\">\n<svg class=\"chart\" width=\"%d\" height=\"%u\" viewBox=\"0 0 %d %u\" role=\"img\" "
               "aria-labelledby=\"%s-t\">\n<title id=\"%s-t\">",
            c->id, W, h, W, h, c->id, c->id);
    mx_report_escape(f, c->title);
    fputs("</title>\n", f);
    for (unsigned i = 0; i < c->nrows; i++)
        draw_row(f, c, i, max);
    if (c->nrows == 0)
        fprintf(f, "<text class=\"lb\" x=\"%d\" y=\"%d\">no rows</text>\n", LABEL_W, TOP + 16);
    if (c->legend)
        legend(f, c, TOP + rows * ROW_H + 8);
    fputs("</svg>\n<figcaption>", f);
    mx_report_escape(f, c->title);
    if (c->caption) {
        fputs(". ", f);
        mx_report_escape(f, c->caption);
    }
    fputs("</figcaption>\n</figure>\n", f);
}
