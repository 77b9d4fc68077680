/* `drill report --html`: one self-contained page (inline CSS and SVG, no scripts, no external assets)
 * with the drill history: RTO over time per kind as an SVG chart, a pass/fail timeline, a table of every
 * drill and the details of the last failure (contract in drills/drill.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/timefmt.h"
#include "drills/drill.h"
#include "catalog/drills.h"

typedef struct row {
    char *id, *kind, *source, *started_at, *target, *error;
    int passed;
    double time, rto, dl, wr, rp, rpo;
    long long bytes, segments;
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

static void esc(lv_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': lv_buf_append_str(b, "&lt;"); break;
        case '>': lv_buf_append_str(b, "&gt;"); break;
        case '&': lv_buf_append_str(b, "&amp;"); break;
        case '"': lv_buf_append_str(b, "&quot;"); break;
        case '\'': lv_buf_append_str(b, "&#39;"); break;
        default: lv_buf_append(b, s, 1);
        }
    }
}

static int load_one(void *arg, const lv_drill_report_row *r)
{
    rows *rs = arg;
    LV_GROW(rs->v, rs->n, rs->cap);
    row *w = &rs->v[rs->n++];
    w->id = lv_xstrdup(r->id);
    w->kind = lv_xstrdup(r->kind);
    w->source = lv_xstrdup(r->source);
    w->started_at = lv_xstrdup(r->started_at);
    w->target = lv_xstrdup(r->target);
    w->error = lv_xstrdup(r->error);
    w->passed = r->passed;
    w->time = r->started;
    w->rto = r->rto;
    w->dl = r->download;
    w->wr = r->write;
    w->rp = r->replay;
    w->rpo = r->rpo;
    w->bytes = r->bytes_fetched;
    w->segments = r->segments_fetched;
    return LV_OK;
}

static const char *kind_color(const char *kind) { return strcmp(kind, "pg") == 0 ? "#2563eb" : "#d97706"; }

#define W 960
#define H 320
#define ML 70
#define MR 20
#define MT 20
#define MB 50

/* The y axis: a tick step of 1, 2, 2.5 or 5 times a power of ten giving 4 to 6 intervals up to the largest
 * value (with some headroom), the axis top a multiple of it, and as many decimals as the step needs, so
 * that no two tick labels read the same whatever the range (0.04 s or 4000 s). */
static double axis_top(double max, double *step, int *decimals)
{
    if (!(max > 0))
        max = 1;
    double raw = max * 1.1 / 5, p = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 2.5, 5, 10};
    *step = 10 * p;
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
        if (mult[i] * p >= raw) {
            *step = mult[i] * p;
            break;
        }
    *decimals = 0;
    for (double s = *step; *decimals < 6 && fabs(s - round(s)) > 1e-9 * fmax(1, s); s *= 10)
        (*decimals)++;
    return ceil(max * 1.1 / *step - 1e-9) * *step;
}

static void chart(lv_buf *b, const rows *rs)
{
    double t0 = 0, t1 = 0, ymax = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (i == 0 || rs->v[i].time < t0)
            t0 = rs->v[i].time;
        if (i == 0 || rs->v[i].time > t1)
            t1 = rs->v[i].time;
        if (rs->v[i].rto > ymax)
            ymax = rs->v[i].rto;
    }
    double step;
    int decimals;
    ymax = axis_top(ymax, &step, &decimals);
    double pw = W - ML - MR, ph = H - MT - MB;
#define X(t) (t1 > t0 ? ML + ((t) - t0) / (t1 - t0) * pw : ML + pw / 2)
#define Y(v) (MT + ph - (v) / ymax * ph)
    lv_buf_printf(b, "<svg id=\"rto-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"RTO over time\">\n", W, H, W, H);
    lv_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
    for (int k = 0; k * step <= ymax * (1 + 1e-9); k++) {
        double v = k * step, y = Y(v);
        lv_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e7eb\"/>"
                         "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#374151\">%.*f s</text>\n",
                      ML, y, W - MR, y, ML - 6, y + 4, decimals, v);
    }
    lv_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#374151\"/>\n", ML, MT + (int)ph, W - MR,
                  MT + (int)ph);
    if (rs->n) {
        char a[LV_TIME_TEXT_MAX], z[LV_TIME_TEXT_MAX];
        lv_time_format((int64_t)t0, LV_TIME_UTC_MINUTE, a);
        lv_time_format((int64_t)t1, LV_TIME_UTC_MINUTE, z);
        lv_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#374151\">%s</text>"
                         "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\" fill=\"#374151\">%s</text>\n",
                      ML, H - MB + 18, a, W - MR, H - MB + 18, z);
    }
    lv_buf_printf(b, "<text x=\"14\" y=\"%d\" font-size=\"12\" fill=\"#111827\" transform=\"rotate(-90 14 %d)\" "
                     "text-anchor=\"middle\">RTO (seconds)</text>\n", MT + (int)ph / 2, MT + (int)ph / 2);
    static const char *const kinds[] = {"pg", "files"};
    for (size_t k = 0; k < 2; k++) {
        lv_buf pts = LV_BUF_INIT;
        size_t npts = 0;
        for (size_t i = 0; i < rs->n; i++)
            if (strcmp(rs->v[i].kind, kinds[k]) == 0) {
                lv_buf_printf(&pts, "%s%.1f,%.1f", npts ? " " : "", X(rs->v[i].time), Y(rs->v[i].rto));
                npts++;
            }
        if (npts > 1)
            lv_buf_printf(b, "<polyline class=\"line line-%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                             "points=\"%s\"/>\n", kinds[k], kind_color(kinds[k]), lv_buf_cstr(&pts));
        lv_buf_free(&pts);
        int lx = W - MR - 200 + (int)k * 100;
        lv_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                         "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#111827\">%s</text>\n",
                      lx, MT, kind_color(kinds[k]), lx + 16, MT + 11,
                      strcmp(kinds[k], "pg") == 0 ? "PostgreSQL" : "files");
    }
    for (size_t i = 0; i < rs->n; i++) {
        const row *w = &rs->v[i];
        lv_buf_printf(b, "<circle class=\"pt pt-%s %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"%s\" "
                         "stroke-width=\"2\"><title>",
                      w->kind, w->passed ? "pass" : "fail", X(w->time), Y(w->rto),
                      w->passed ? kind_color(w->kind) : "#ffffff", w->passed ? kind_color(w->kind) : "#dc2626");
        esc(b, w->id);
        lv_buf_printf(b, ": RTO %.2f s, %s</title></circle>\n", w->rto, w->passed ? "passed" : "FAILED");
    }
    lv_buf_append_str(b, "</svg>\n");
#undef X
#undef Y
}

static void timeline(lv_buf *b, const rows *rs)
{
    int cell = 18, width = (int)rs->n * cell + 2;
    lv_buf_printf(b, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"24\" "
                     "viewBox=\"0 0 %d 24\">\n", width < 40 ? 40 : width, width < 40 ? 40 : width);
    for (size_t i = 0; i < rs->n; i++) {
        lv_buf_printf(b, "<rect class=\"tl %s\" x=\"%d\" y=\"2\" width=\"%d\" height=\"20\" rx=\"3\" fill=\"%s\"><title>",
                      rs->v[i].passed ? "pass" : "fail", 1 + (int)i * cell, cell - 3,
                      rs->v[i].passed ? "#16a34a" : "#dc2626");
        esc(b, rs->v[i].started_at);
        lv_buf_append_str(b, " ");
        esc(b, rs->v[i].id);
        lv_buf_printf(b, " %s</title></rect>\n", rs->v[i].passed ? "passed" : "FAILED");
    }
    lv_buf_append_str(b, "</svg>\n");
}

static void table(lv_buf *b, const rows *rs)
{
    lv_buf_append_str(b, "<table id=\"drills\"><thead><tr><th>started (UTC)</th><th>drill</th><th>kind</th>"
                         "<th>source</th><th>target</th><th>result</th><th>RTO s</th><th>download</th>"
                         "<th>write</th><th>replay</th><th>RPO s</th><th>bytes fetched</th><th>WAL segments</th>"
                         "</tr></thead>\n<tbody>\n");
    for (size_t i = rs->n; i-- > 0;) {
        const row *w = &rs->v[i];
        lv_buf_printf(b, "<tr class=\"%s\"><td>", w->passed ? "pass" : "fail");
        esc(b, w->started_at);
        lv_buf_append_str(b, "</td><td><code>");
        esc(b, w->id);
        lv_buf_append_str(b, "</code></td><td>");
        esc(b, w->kind);
        lv_buf_append_str(b, "</td><td><code>");
        char src[13];
        snprintf(src, sizeof src, "%.12s", w->source);
        esc(b, src);
        lv_buf_append_str(b, "</code></td><td>");
        esc(b, w->target);
        lv_buf_printf(b, "</td><td>%s</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>",
                      w->passed ? "passed" : "<b>FAILED</b>", w->rto, w->dl, w->wr, w->rp);
        if (w->rpo >= 0)
            lv_buf_printf(b, "<td>%.0f</td>", w->rpo);
        else
            lv_buf_append_str(b, "<td>-</td>");
        lv_buf_printf(b, "<td>%lld</td><td>%lld</td></tr>\n", w->bytes, w->segments);
    }
    lv_buf_append_str(b, "</tbody></table>\n");
}

static int check_row(void *arg, const char *name, int ok, const char *detail)
{
    lv_buf *b = arg;
    lv_buf_printf(b, "<tr class=\"%s\"><td>", ok ? "pass" : "fail");
    esc(b, name);
    lv_buf_printf(b, "</td><td>%s</td><td>", ok ? "ok" : "<b>FAILED</b>");
    esc(b, detail);
    lv_buf_append_str(b, "</td></tr>\n");
    return LV_OK;
}

static int last_failure(const lv_repo *r, lv_buf *b, const rows *rs)
{
    const row *f = NULL;
    for (size_t i = 0; i < rs->n; i++)
        if (!rs->v[i].passed)
            f = &rs->v[i];
    lv_buf_append_str(b, "<h2>Last failure</h2>\n<div id=\"last-failure\">");
    if (!f) {
        lv_buf_append_str(b, "<p>No drill has failed.</p></div>\n");
        return LV_OK;
    }
    lv_buf_append_str(b, "<p>Drill <code>");
    esc(b, f->id);
    lv_buf_append_str(b, "</code> (");
    esc(b, f->kind);
    lv_buf_append_str(b, ", ");
    esc(b, f->started_at);
    lv_buf_append_str(b, "): <b>");
    esc(b, f->error);
    lv_buf_append_str(b, "</b></p>\n<table class=\"checks\"><thead><tr><th>check</th><th>result</th><th>detail</th>"
                         "</tr></thead><tbody>\n");
    int rc = lv_catalog_drill_checks(r->cat, f->id, check_row, b);
    lv_buf_append_str(b, "</tbody></table></div>\n");
    return rc;
}

int lv_drill_report_html(const lv_repo *r, lv_buf *out)
{
    rows rs = {0};
    int rc = lv_catalog_drill_report(r->cat, load_one, &rs);
    size_t failed = 0;
    for (size_t i = 0; i < rs.n; i++)
        failed += !rs.v[i].passed;
    if (rc == LV_OK) {
        char now[LV_TIME_TEXT_MAX];
        lv_time_format((int64_t)time(NULL), LV_TIME_UTC_MINUTE, now);
        lv_buf_append_str(out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>labvault restore drills</title>\n"
            "<style>body{font-family:sans-serif;margin:24px;color:#111827;background:#f9fafb}"
            "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
            "table{border-collapse:collapse;font-size:13px;background:#fff}"
            "th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:left}th{background:#f3f4f6}"
            "tr.fail td{background:#fee2e2}.summary span{margin-right:18px}"
            "svg{background:#fff;border:1px solid #d1d5db}</style>\n</head><body>\n"
            "<h1>labvault restore drills</h1>\n");
        lv_buf_printf(out, "<p class=\"summary\"><span>%zu drills</span><span>%zu passed</span>"
                           "<span>%zu failed</span><span>generated %s</span></p>\n",
                      rs.n, rs.n - failed, failed, now);
        lv_buf_append_str(out, "<h2>RTO over time</h2>\n");
        chart(out, &rs);
        lv_buf_append_str(out, "<h2>Pass/fail timeline</h2>\n");
        timeline(out, &rs);
        lv_buf_append_str(out, "<h2>Drills (newest first)</h2>\n");
        table(out, &rs);
        rc = last_failure(r, out, &rs);
        lv_buf_append_str(out, "</body></html>\n");
    }
    for (size_t i = 0; i < rs.n; i++) {
        row *w = &rs.v[i];
        free(w->id);
        free(w->kind);
        free(w->source);
        free(w->started_at);
        free(w->target);
        free(w->error);
    }
    free(rs.v);
    return rc;
}
