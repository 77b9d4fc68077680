#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static _Thread_local char msg[MSG_MAX];
static _Thread_local int last_code;

/* Error text is one line by contract: fold any newline a library handed us, and show the other control
 * characters (a file name can hold an escape sequence) as '?', so nothing drives the terminal. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int lv_err(int code, const char *fmt, ...)
{
    /* Format into a copy first: callers often pass lv_errmsg() itself as an argument ("x: %s"), and
     * vsnprintf into the buffer it reads from is undefined (it garbled such messages). */
    char text[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(msg, text, sizeof msg);
    one_line(msg);
    last_code = code;
    return code;
}

int lv_err_ctx(const char *fmt, ...)
{
    char prefix[MSG_MAX], old[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, msg, sizeof old);
    /* Truncation is acceptable: keep as much of "prefix: old" as fits. */
    size_t pl = strnlen(prefix, MSG_MAX - 3);
    memcpy(msg, prefix, pl);
    memcpy(msg + pl, ": ", 2);
    size_t room = MSG_MAX - pl - 3, ol = strnlen(old, room);
    memcpy(msg + pl + 2, old, ol);
    msg[pl + 2 + ol] = '\0';
    one_line(msg);
    return last_code ? last_code : LV_ERR_INTERNAL;
}

int lv_err_errno(int errnum, const char *fmt, ...)
{
    char what[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int code = errnum == ENOENT ? LV_ERR_NOT_FOUND : LV_ERR_IO;
    char ebuf[128];
    const char *es = strerror_r(errnum, ebuf, sizeof ebuf);
    return lv_err(code, "%s: %s", what, es);
}

const char *lv_errmsg(void) { return msg[0] ? msg : "unknown error"; }
int lv_errcode(void) { return last_code; }

void lv_err_clear(void)
{
    msg[0] = '\0';
    last_code = 0;
}

const char *lv_code_name(int code)
{
    static const char *const names[] = {
        "ok", "not-found", "usage", "config", "unreachable", "auth", "corrupt", "locked",
        "postgresql", "incomplete", "conflict", "io", "check-failed", "internal", "interrupted",
    };
    if (code < 0 || code > LV_ERR_MAX)
        return "unknown";
    return names[code];
}
