#include "common/json.h"

#include <stdio.h>
#include <string.h>

void lv_json_init(lv_json *j, lv_buf *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

static void sep(lv_json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->count[j->depth]++ > 0)
        lv_buf_append(j->out, ",", 1);
}

static void open_(lv_json *j, char c)
{
    sep(j);
    lv_buf_append(j->out, &c, 1);
    if (j->depth + 1 < LV_JSON_DEPTH)
        j->depth++;
    j->count[j->depth] = 0;
    j->kind[j->depth] = c;
}

void lv_json_obj(lv_json *j) { open_(j, '{'); }
void lv_json_arr(lv_json *j) { open_(j, '['); }

void lv_json_end(lv_json *j)
{
    char close = j->kind[j->depth] == '[' ? ']' : '}';
    lv_buf_append(j->out, &close, 1);
    if (j->depth > 0)
        j->depth--;
}

void lv_json_escape(lv_buf *out, const char *s)
{
    lv_buf_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': lv_buf_append(out, "\\\"", 2); break;
        case '\\': lv_buf_append(out, "\\\\", 2); break;
        case '\n': lv_buf_append(out, "\\n", 2); break;
        case '\r': lv_buf_append(out, "\\r", 2); break;
        case '\t': lv_buf_append(out, "\\t", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                lv_buf_printf(out, "\\u%04x", *p);
            else
                lv_buf_append(out, p, 1);
        }
    }
    lv_buf_append(out, "\"", 1);
}

void lv_json_key(lv_json *j, const char *key)
{
    sep(j);
    lv_json_escape(j->out, key);
    lv_buf_append(j->out, ":", 1);
    j->after_key = 1;
}

void lv_json_str(lv_json *j, const char *s)
{
    sep(j);
    lv_json_escape(j->out, s);
}

void lv_json_int(lv_json *j, int64_t v)
{
    sep(j);
    lv_buf_printf(j->out, "%lld", (long long)v);
}

void lv_json_uint(lv_json *j, uint64_t v)
{
    sep(j);
    lv_buf_printf(j->out, "%llu", (unsigned long long)v);
}

void lv_json_double(lv_json *j, double v)
{
    sep(j);
    lv_buf_printf(j->out, "%.6g", v);
}

void lv_json_bool(lv_json *j, int v)
{
    sep(j);
    lv_buf_append_str(j->out, v ? "true" : "false");
}

void lv_json_null(lv_json *j)
{
    sep(j);
    lv_buf_append_str(j->out, "null");
}

void lv_json_raw(lv_json *j, const char *json)
{
    sep(j);
    lv_buf_append_str(j->out, json);
}
