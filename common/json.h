/* A streaming JSON writer into an lv_buf, for --json output. It tracks nesting so callers never write
 * commas by hand. Strings are escaped per RFC 8259 (bytes >= 0x80 pass through: labvault's strings are
 * UTF-8 or paths; invalid UTF-8 in a path is escaped as \u00XX per byte so the output stays valid). */
#ifndef LV_COMMON_JSON_H
#define LV_COMMON_JSON_H

#include <stdint.h>

#include "common/buf.h"

#define LV_JSON_DEPTH 32

typedef struct lv_json {
    lv_buf *out;
    int depth;
    int count[LV_JSON_DEPTH]; /* values written at each level, for commas */
    char kind[LV_JSON_DEPTH]; /* '{' or '[' opened at each level */
    int after_key;
} lv_json;

void lv_json_init(lv_json *j, lv_buf *out);
void lv_json_obj(lv_json *j);    /* { */
void lv_json_arr(lv_json *j);    /* [ */
void lv_json_end(lv_json *j);    /* } or ] */
void lv_json_key(lv_json *j, const char *key);
void lv_json_str(lv_json *j, const char *s);
void lv_json_int(lv_json *j, int64_t v);
void lv_json_uint(lv_json *j, uint64_t v);
void lv_json_double(lv_json *j, double v);
void lv_json_bool(lv_json *j, int v);
void lv_json_null(lv_json *j);
void lv_json_raw(lv_json *j, const char *json); /* an already-serialized value */

/* Escape s as a JSON string literal (with quotes) onto out. */
void lv_json_escape(lv_buf *out, const char *s);

#endif
