/* The progress line of a long command (backup, restore, prune), on stderr.
 *
 * On a terminal it is one line rewritten in place: with a known total, a bar, the share done, the bytes,
 * the rate and the time left; without one, the bytes, the rate and the count. Off a terminal (the user
 * asked for it with --progress) a plain line every 10 s, so a log file stays readable. The first update
 * shows at once; later ones cost a clock read when nothing is printed (at most every 0.5 s on a
 * terminal), so callers update from their per-file or per-chunk loop. One updater at a time: callers
 * with workers update from one thread.
 *
 * Anything else written to stderr while the line is shown must call lv_progress_clear first (logs
 * overwrite it otherwise); the next update draws it again. */
#ifndef LV_COMMON_PROGRESS_H
#define LV_COMMON_PROGRESS_H

#include <stdint.h>

typedef struct lv_progress {
    int on;           /* 0: every call does nothing */
    int tty;          /* rewrite one line (stderr is a terminal) or print lines */
    const char *verb; /* what the bytes are: "read", "written", "copied" */
    const char *unit; /* what the count counts: "files" ("" or NULL: no count) */
    double t0, last;  /* start, last print (lv_mono_s) */
    int shown;        /* the line is on the terminal now */
    int printed;      /* any line was printed */
} lv_progress;

/* on: whether to show anything (cli's lv_ctx_progress decides). */
void lv_progress_start(lv_progress *p, int on, const char *verb, const char *unit);
/* done bytes of total (0: unknown), count items so far, note: extra text or NULL. */
void lv_progress_update(lv_progress *p, uint64_t done, uint64_t total, uint64_t count, const char *note);
/* Would an update print now? For callers whose note costs something to build (a size to format). */
int lv_progress_due(const lv_progress *p);
/* A step without bytes to count ("reading index 3 of 40"): the text and the time so far, throttled alike. */
void lv_progress_text(lv_progress *p, const char *text);
/* The last line (ends with a newline): off a terminal always, on one only when a line was shown. */
void lv_progress_end(lv_progress *p, uint64_t done, uint64_t total, uint64_t count, const char *note);
/* Erase the line on a terminal before another message. */
void lv_progress_clear(lv_progress *p);

#endif
