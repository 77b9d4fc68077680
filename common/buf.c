#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "labvault: out of memory allocating %zu bytes\n", n);
    abort();
}

void *lv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *lv_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *lv_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *lv_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = lv_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

char *lv_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

void lv_buf_reserve(lv_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* +1 keeps room for lv_buf_cstr */
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = lv_xrealloc(b->data, cap);
    b->cap = cap;
}

void lv_buf_append(lv_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    lv_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void lv_buf_append_str(lv_buf *b, const char *s) { lv_buf_append(b, s, strlen(s)); }

void lv_buf_printf(lv_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        lv_buf_reserve(b, (size_t)n);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void lv_buf_reset(lv_buf *b) { b->len = 0; }

void lv_buf_free(lv_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *lv_buf_cstr(lv_buf *b)
{
    lv_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return (char *)b->data;
}
