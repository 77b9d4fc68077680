/* A streaming JSON writer into an lv_buf, for --json output and the JSON labvault stores (summaries,
 * drill records). It tracks nesting so callers never write commas by hand.
 *
 * Strings are escaped per RFC 8259, and the output is always valid UTF-8: labvault's strings are UTF-8
 * or file names, and a file name may hold any bytes. Every byte that is not part of a valid UTF-8
 * sequence is written as the escape \udcXX (XX = the byte, 80..ff): the lone low surrogates U+DC80..
 * U+DCFF, PEP 383's "surrogateescape". Valid UTF-8 never encodes a surrogate, so the mapping is
 * lossless and unambiguous, and valid names are written unchanged. A reader restores the bytes (Python:
 * os.fsencode(s)); docs/snapshots.md ("JSON output") documents it for scripts. This is the one place
 * where labvault writes JSON text: never print a string into JSON by hand. */
#ifndef LV_COMMON_JSON_H
#define LV_COMMON_JSON_H

#include <stddef.h>
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
/* An already-serialized value (a stored summary). Invalid UTF-8 in it (JSON written before this
 * encoding existed) is escaped the same way, so old summaries print as valid UTF-8 too. */
void lv_json_raw(lv_json *j, const char *json);
void lv_json_append_raw(lv_buf *out, const char *json); /* the same, outside a writer */

/* Escape s as a JSON string literal (with quotes) onto out. */
void lv_json_escape(lv_buf *out, const char *s);

/* The inverse for bytes a JSON decoder produced from such a string: a decoder that keeps lone
 * surrogates writes U+DC80..U+DCFF as ED B2 80..ED B3 BF (SQLite's json_extract does); each becomes
 * the byte it stands for again, in place. */
void lv_json_unescape_bytes(lv_buf *b);

#endif
