/* Reading back the JSON labvault writes (manifest summaries, records): a strict RFC 8259 reader over
 * text in memory, the counterpart of common/json.h. A value is a view: its type and the exact span of its
 * text, nothing copied. Members of an object and elements of an array are visited in order; strings are
 * unescaped only when asked for (\uXXXX to UTF-8, surrogate pairs joined, and the writer's \udc80..
 * \udcff back to the bytes of a name that is not UTF-8; bytes stored raw by older writers stay as they are).
 *
 * Contract: lv_jparse accepts exactly one value (white space around it allowed) and nothing else; any
 * other input is -1 with nothing filled in, whatever its bytes (the text may come from a damaged or
 * hostile object). Nesting deeper than LV_JSON_DEPTH is refused. The getters return -1 when the value
 * is not of their type or does not fit; a string holding \u0000 cannot be a C string and is refused. */
#ifndef LV_COMMON_JSON_READ_H
#define LV_COMMON_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

typedef enum lv_jtype { LV_JNULL, LV_JBOOL, LV_JNUMBER, LV_JSTRING, LV_JARRAY, LV_JOBJECT } lv_jtype;

typedef struct lv_jval {
    lv_jtype type;
    const char *p; /* the value's text, quotes and brackets included */
    size_t n;
} lv_jval;

/* 0 and *out, or -1 when text[0..n) is not exactly one JSON value. */
int lv_jparse(const char *text, size_t n, lv_jval *out);

/* Call cb for every member of an object (key unescaped, valid during the call) or element of an array
 * (key NULL). A non-zero return of cb stops and is returned; -1 when v is neither. */
int lv_jeach(const lv_jval *v, int (*cb)(void *arg, const char *key, const lv_jval *val), void *arg);

/* A string, unescaped into out (NUL-terminated, at most n - 1 bytes), or malloc'ed (NULL when v is not a
 * string). */
int lv_jstr(const lv_jval *v, char *out, size_t n);
char *lv_jstrdup(const lv_jval *v);
/* An integer without fraction or exponent, within the type's range. */
int lv_ju64(const lv_jval *v, uint64_t *out);
int lv_ji64(const lv_jval *v, int64_t *out);
/* Any number. */
int lv_jdouble(const lv_jval *v, double *out);
int lv_jbool(const lv_jval *v, int *out);

#endif
