/* Records as JSON or columns (contract in cli/record.h). */
#include "cli/record.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void lv_rec_init(lv_rec *r, lv_buf *out, int json, const char *sep)
{
    memset(r, 0, sizeof *r);
    r->out = out;
    r->json = json;
    r->sep = sep;
    lv_json_init(&r->j, out);
}

void lv_rec_list_begin(lv_rec *r, const char *const *titles, const int *widths, size_t n)
{
    if (r->json) {
        lv_json_arr(&r->j);
        return;
    }
    if (n == 0)
        return;
    lv_rec_begin(r);
    for (size_t i = 0; i < n; i++)
        lv_rec_str(r, NULL, titles[i], widths[i]);
    lv_rec_end(r);
}

void lv_rec_list_end(lv_rec *r)
{
    if (!r->json)
        return;
    lv_json_end(&r->j);
    if (r->j.depth == 0)
        lv_buf_append_str(r->out, "\n");
}

void lv_rec_begin(lv_rec *r)
{
    r->col = 0;
    if (r->json)
        lv_json_obj(&r->j);
}

void lv_rec_end(lv_rec *r)
{
    if (r->json)
        lv_json_end(&r->j);
    else
        lv_buf_append_str(r->out, "\n");
}

/* The text column: separator, padding to width, at most prec bytes of v (prec < 0: all). */
static void column(lv_rec *r, const char *v, int width, int prec)
{
    if (r->col++ > 0)
        lv_buf_append_str(r->out, r->sep);
    lv_buf_printf(r->out, "%*.*s", width, prec < 0 ? INT_MAX : prec, v);
}

static int text(const lv_rec *r, int width) { return !r->json && width != LV_REC_JSON; }
static int member(lv_rec *r, const char *key)
{
    if (!r->json || !key)
        return 0;
    lv_json_key(&r->j, key);
    return 1;
}

void lv_rec_strn(lv_rec *r, const char *key, const char *v, int width, int prec)
{
    if (member(r, key))
        lv_json_str(&r->j, v);
    else if (text(r, width))
        column(r, v, width, prec);
}

void lv_rec_str(lv_rec *r, const char *key, const char *v, int width) { lv_rec_strn(r, key, v, width, -1); }

void lv_rec_uint(lv_rec *r, const char *key, uint64_t v, int width)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIu64, v);
    if (member(r, key))
        lv_json_uint(&r->j, v);
    else if (text(r, width))
        column(r, t, width, -1);
}

void lv_rec_int(lv_rec *r, const char *key, int64_t v, int width)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    if (member(r, key))
        lv_json_int(&r->j, v);
    else if (text(r, width))
        column(r, t, width, -1);
}

void lv_rec_bool(lv_rec *r, const char *key, int v, const char *yes, const char *no, int width)
{
    if (member(r, key))
        lv_json_bool(&r->j, v);
    else if (text(r, width))
        column(r, v ? yes : no, width, -1);
}

void lv_rec_size(lv_rec *r, const char *key, uint64_t bytes, int width)
{
    char t[32];
    lv_human_size(bytes, t);
    if (member(r, key))
        lv_json_uint(&r->j, bytes);
    else if (text(r, width))
        column(r, t, width, -1);
}

void lv_rec_raw(lv_rec *r, const char *key, const char *json)
{
    if (member(r, key))
        lv_json_raw(&r->j, json);
}

void lv_rec_null(lv_rec *r, const char *key)
{
    if (member(r, key))
        lv_json_null(&r->j);
}
