/* The JSON reader (contract in common/json_read.h). Every function is bounded by the view's length:
 * no byte outside it is read, and nothing relies on a terminating NUL. */
#include "common/json_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hex4(const char *p, const char *end, unsigned *v)
{
    if (end - p < 4)
        return -1;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        x = x << 4 | (unsigned)d;
    }
    *v = x;
    return 0;
}

/* A string starting at its opening quote: the position after the closing quote, or NULL. */
static const char *string_end(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\')
            continue;
        if (++p == end)
            return NULL;
        unsigned u;
        if (*p == 'u') {
            if (hex4(p + 1, end, &u) != 0)
                return NULL;
            p += 4;
        } else if (!strchr("\"\\/bfnrt", *p)) {
            return NULL;
        }
    }
    return NULL;
}

static const char *digits(const char *p, const char *end)
{
    const char *s = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > s ? p : NULL;
}

static const char *number_end(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p = digits(p, end)))
            return NULL;
    }
    return p;
}

static const char *value_end(const char *p, const char *end, int depth, lv_jtype *type);

/* An object or array starting at its bracket: the position after the closing one, or NULL. */
static const char *container_end(const char *p, const char *end, int depth)
{
    char close = *p == '{' ? '}' : ']';
    int object = *p == '{';
    if (depth >= LV_JSON_DEPTH)
        return NULL;
    p = ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        lv_jtype t;
        if (object) {
            if (p >= end || *p != '"' || !(p = string_end(p, end)))
                return NULL;
            p = ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = ws(p + 1, end);
        }
        if (!(p = value_end(p, end, depth + 1, &t)))
            return NULL;
        p = ws(p, end);
        if (p < end && *p == close)
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = ws(p + 1, end);
    }
}

static const char *literal(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *value_end(const char *p, const char *end, int depth, lv_jtype *type)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{': *type = LV_JOBJECT; return container_end(p, end, depth);
    case '[': *type = LV_JARRAY; return container_end(p, end, depth);
    case '"': *type = LV_JSTRING; return string_end(p, end);
    case 't': *type = LV_JBOOL; return literal(p, end, "true");
    case 'f': *type = LV_JBOOL; return literal(p, end, "false");
    case 'n': *type = LV_JNULL; return literal(p, end, "null");
    default: *type = LV_JNUMBER; return number_end(p, end);
    }
}

int lv_jparse(const char *text, size_t n, lv_jval *out)
{
    const char *end = text + n, *p = ws(text, end);
    lv_jtype t;
    const char *e = value_end(p, end, 0, &t);
    if (!e || ws(e, end) != end)
        return -1;
    *out = (lv_jval){t, p, (size_t)(e - p)};
    return 0;
}

/* Unescape the string view v (valid: it came through lv_jparse) onto b. -1 on \u0000. */
static int unescape(const lv_jval *v, lv_buf *b)
{
    const char *p = v->p + 1, *end = v->p + v->n - 1;
    while (p < end) {
        if (*p != '\\') {
            const char *q = p;
            while (q < end && *q != '\\')
                q++;
            lv_buf_append(b, p, (size_t)(q - p));
            p = q;
            continue;
        }
        char c = p[1], ch = c;
        p += 2;
        switch (c) {
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': break;
        default: break; /* " \ / stand for themselves */
        }
        if (c != 'u') {
            lv_buf_append(b, &ch, 1);
            continue;
        }
        unsigned u, lo;
        hex4(p, end, &u);
        p += 4;
        if (u >= 0xd800 && u < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) == 0 &&
            lo >= 0xdc00 && lo < 0xe000) {
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
        } else if (u >= 0xdc80 && u <= 0xdcff) {
            /* surrogateescape (common/json.h): the byte of a name that is not valid UTF-8 */
            uint8_t raw = (uint8_t)(u - 0xdc00);
            lv_buf_append(b, &raw, 1);
            continue;
        } else if (u >= 0xd800 && u < 0xe000) {
            u = 0xfffd; /* any other lone surrogate: the replacement character */
        }
        if (u == 0)
            return -1;
        uint8_t o[4];
        size_t k;
        if (u < 0x80) {
            o[0] = (uint8_t)u;
            k = 1;
        } else if (u < 0x800) {
            o[0] = (uint8_t)(0xc0 | u >> 6);
            o[1] = (uint8_t)(0x80 | (u & 0x3f));
            k = 2;
        } else if (u < 0x10000) {
            o[0] = (uint8_t)(0xe0 | u >> 12);
            o[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            o[2] = (uint8_t)(0x80 | (u & 0x3f));
            k = 3;
        } else {
            o[0] = (uint8_t)(0xf0 | u >> 18);
            o[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
            o[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
            o[3] = (uint8_t)(0x80 | (u & 0x3f));
            k = 4;
        }
        lv_buf_append(b, o, k);
    }
    return 0;
}

int lv_jeach(const lv_jval *v, int (*cb)(void *arg, const char *key, const lv_jval *val), void *arg)
{
    if (v->type != LV_JOBJECT && v->type != LV_JARRAY)
        return -1;
    int object = v->type == LV_JOBJECT, rc = 0;
    const char *end = v->p + v->n - 1, *p = ws(v->p + 1, end);
    lv_buf key = LV_BUF_INIT;
    while (rc == 0 && p < end) {
        if (object) {
            const char *ke = string_end(p, end);
            lv_jval k = {LV_JSTRING, p, (size_t)(ke - p)};
            lv_buf_reset(&key);
            if (unescape(&k, &key) != 0) /* a key with \u0000: no caller looks for one */
                lv_buf_reset(&key);
            lv_buf_cstr(&key);
            p = ws(ws(ke, end) + 1, end); /* past the ':' */
        }
        lv_jval val;
        const char *ve = value_end(p, end, 0, &val.type);
        val.p = p;
        val.n = (size_t)(ve - p);
        rc = cb(arg, object ? (const char *)key.data : NULL, &val);
        p = ws(ve, end);
        if (p < end && *p == ',')
            p = ws(p + 1, end);
    }
    lv_buf_free(&key);
    return rc;
}

int lv_jstr(const lv_jval *v, char *out, size_t n)
{
    if (v->type != LV_JSTRING || n == 0)
        return -1;
    lv_buf b = LV_BUF_INIT;
    int rc = unescape(v, &b);
    if (rc == 0 && b.len < n) {
        if (b.len)
            memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    } else {
        rc = -1;
    }
    lv_buf_free(&b);
    return rc;
}

char *lv_jstrdup(const lv_jval *v)
{
    if (v->type != LV_JSTRING)
        return NULL;
    lv_buf b = LV_BUF_INIT;
    if (unescape(v, &b) != 0) {
        lv_buf_free(&b);
        return NULL;
    }
    lv_buf_cstr(&b);
    return (char *)b.data;
}

/* The number's text as a C string (numbers are short; longer ones are refused). */
static int number_text(const lv_jval *v, char out[64])
{
    if (v->type != LV_JNUMBER || v->n >= 64)
        return -1;
    memcpy(out, v->p, v->n);
    out[v->n] = '\0';
    return 0;
}

int lv_ju64(const lv_jval *v, uint64_t *out)
{
    char t[64], *e;
    if (number_text(v, t) != 0 || strpbrk(t, "-.eE"))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(t, &e, 10);
    if (errno || *e)
        return -1;
    *out = x;
    return 0;
}

int lv_ji64(const lv_jval *v, int64_t *out)
{
    char t[64], *e;
    if (number_text(v, t) != 0 || strpbrk(t, ".eE"))
        return -1;
    errno = 0;
    long long x = strtoll(t, &e, 10);
    if (errno || *e)
        return -1;
    *out = x;
    return 0;
}

int lv_jdouble(const lv_jval *v, double *out)
{
    char t[64], *e;
    if (number_text(v, t) != 0)
        return -1;
    *out = strtod(t, &e);
    return *e ? -1 : 0;
}

int lv_jbool(const lv_jval *v, int *out)
{
    if (v->type != LV_JBOOL)
        return -1;
    *out = v->p[0] == 't';
    return 0;
}
