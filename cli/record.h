/* The one printer of records "as JSON or in columns": a command describes each record once, field by field,
 * and the printer writes either a JSON object (--json) or a line of text columns.
 *
 * A field has a JSON key and a text column; either may be left out: key NULL is a text-only column (a
 * preformatted piece, a flag character), width LV_REC_JSON a JSON-only member (the text shows less). Text
 * columns are separated by the record's separator; width pads them (negative: left-aligned, positive:
 * right-aligned, 0: as is); prec, where taken, cuts a string (ids shown by their first 12 digits). Sizes
 * are numbers in JSON and "1.5 MiB" in text (lv_human_size). Strings are written as given: quote names
 * for a terminal
 * (common/text.h) before passing them. A header line is a record of text-only fields.
 *
 * Wrappers around a list ({"backups": [...], ...}) are the command's: r->j is the JSON writer to use for
 * them. */
#ifndef LV_CLI_RECORD_H
#define LV_CLI_RECORD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/text.h" /* lv_human_size */

#define LV_REC_JSON INT_MIN

typedef struct lv_rec {
    lv_buf *out;
    int json;
    lv_json j;
    const char *sep;   /* between text columns */
    int col;           /* text columns written on the current line */
} lv_rec;

void lv_rec_init(lv_rec *r, lv_buf *out, int json, const char *sep);

/* A list of records: "[" in JSON; in text the header line, the n titles padded to their widths (n 0: no
 * header). lv_rec_list_end closes it; a list that is the whole document ends with a newline. */
void lv_rec_list_begin(lv_rec *r, const char *const *titles, const int *widths, size_t n);
void lv_rec_list_end(lv_rec *r);

/* One record: a JSON object, or one line of text. */
void lv_rec_begin(lv_rec *r);
void lv_rec_end(lv_rec *r);

void lv_rec_str(lv_rec *r, const char *key, const char *v, int width);
void lv_rec_strn(lv_rec *r, const char *key, const char *v, int width, int prec);
void lv_rec_uint(lv_rec *r, const char *key, uint64_t v, int width);
void lv_rec_int(lv_rec *r, const char *key, int64_t v, int width);
void lv_rec_bool(lv_rec *r, const char *key, int v, const char *yes, const char *no, int width);
void lv_rec_size(lv_rec *r, const char *key, uint64_t bytes, int width);
/* JSON only: an already serialized value (a stored summary), or null. */
void lv_rec_raw(lv_rec *r, const char *key, const char *json);
void lv_rec_null(lv_rec *r, const char *key);


#endif
