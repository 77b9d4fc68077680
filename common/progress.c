#include "common/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/text.h"

#define BAR_WIDTH 24

void lv_progress_start(lv_progress *p, int on, const char *verb, const char *unit)
{
    p->on = on;
    p->tty = on && isatty(STDERR_FILENO);
    p->verb = verb ? verb : "done";
    p->unit = unit;
    p->t0 = lv_mono_s();
    p->last = p->t0 - 60; /* the first update shows at once */
    p->shown = 0;
    p->printed = 0;
}

static void fmt_duration(lv_buf *b, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        lv_buf_printf(b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        lv_buf_printf(b, "%ld:%02ld", t / 60, t % 60);
}

static void render(lv_progress *p, uint64_t done, uint64_t total, uint64_t count, const char *note, int final)
{
    double el = lv_mono_s() - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    char d[32], t[32], r[32];
    lv_human_size(done, d);
    lv_human_size((uint64_t)rate, r);
    lv_buf line = LV_BUF_INIT;
    if (total > 0) {
        uint64_t shown = done < total ? done : total;
        int fill = (int)((double)shown * BAR_WIDTH / (double)total);
        lv_human_size(total, t);
        lv_buf_append_str(&line, "[");
        for (int i = 0; i < BAR_WIDTH; i++)
            lv_buf_append_str(&line, i < fill ? "#" : (i == fill && !final ? ">" : "."));
        lv_buf_printf(&line, "] %3.0f%%  %s of %s %s, %s/s", (double)shown * 100.0 / (double)total, d, t, p->verb, r);
        if (!final && el >= 1.0 && rate > 0 && total > done) { /* before a second, a rate is noise */
            lv_buf_append_str(&line, ", ETA ");
            fmt_duration(&line, (double)(total - done) / rate);
        }
    } else
        lv_buf_printf(&line, "%s %s, %s/s", d, p->verb, r);
    if (final) {
        lv_buf_append_str(&line, " in ");
        fmt_duration(&line, el);
    }
    if (p->unit && *p->unit)
        lv_buf_printf(&line, ", %llu %s", (unsigned long long)count, p->unit);
    if (note && *note)
        lv_buf_printf(&line, ", %s", note);
    if (p->tty)
        fprintf(stderr, "\r\033[K%.*s%s", (int)line.len, (const char *)line.data, final ? "\n" : "");
    else
        fprintf(stderr, "%.*s\n", (int)line.len, (const char *)line.data);
    lv_buf_free(&line);
    p->shown = p->tty && !final;
    p->printed = 1;
}

int lv_progress_due(const lv_progress *p) { return p->on && lv_mono_s() - p->last >= (p->tty ? 0.5 : 10.0); }

void lv_progress_update(lv_progress *p, uint64_t done, uint64_t total, uint64_t count, const char *note)
{
    if (!lv_progress_due(p))
        return;
    p->last = lv_mono_s();
    render(p, done, total, count, note, 0);
}

void lv_progress_text(lv_progress *p, const char *text)
{
    if (!p->on)
        return;
    double now = lv_mono_s();
    if (now - p->last < (p->tty ? 0.5 : 10.0))
        return;
    p->last = now;
    lv_buf line = LV_BUF_INIT;
    lv_buf_printf(&line, "%s, ", text);
    fmt_duration(&line, now - p->t0);
    if (p->tty)
        fprintf(stderr, "\r\033[K%s", lv_buf_cstr(&line));
    else
        fprintf(stderr, "%s\n", lv_buf_cstr(&line));
    lv_buf_free(&line);
    p->shown = p->tty;
    p->printed = 1;
}

void lv_progress_end(lv_progress *p, uint64_t done, uint64_t total, uint64_t count, const char *note)
{
    /* A terminal gets the last line only over a line it showed; a log always gets it (it was asked for). */
    if (!p->on || (p->tty && !p->printed))
        return;
    render(p, done, total, count, note, 1);
    p->on = 0;
}

void lv_progress_clear(lv_progress *p)
{
    if (p->on && p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = 0;
    }
}
