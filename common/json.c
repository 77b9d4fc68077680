#include "common/json.h"

#include <stdio.h>
#include <string.h>

#include "common/text.h"

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

/* Append s, mapping every byte that is not part of valid UTF-8 to the escape \udcXX (the lone
 * surrogate U+DC00 + byte: PEP 383's "surrogateescape"). Valid UTF-8 never encodes a surrogate, so the
 * mapping is unambiguous and a reader can restore the bytes. With escape_ascii, the characters JSON
 * requires to be escaped in a string are escaped too (a string body); without, ASCII passes through
 * (raw JSON text, where invalid bytes can only occur inside strings). */
static void append_utf8(lv_buf *out, const char *s, int escape_ascii)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p >= 0x80) {
            size_t n = lv_utf8_seq_len(p, SIZE_MAX);
            if (n) {
                lv_buf_append(out, p, n);
                p += n;
            } else {
                lv_buf_printf(out, "\\udc%02x", *p);
                p++;
            }
            continue;
        }
        if (!escape_ascii) {
            lv_buf_append(out, p++, 1);
            continue;
        }
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
        p++;
    }
}

void lv_json_escape(lv_buf *out, const char *s)
{
    lv_buf_append(out, "\"", 1);
    append_utf8(out, s, 1);
    lv_buf_append(out, "\"", 1);
}

void lv_json_append_raw(lv_buf *out, const char *json) { append_utf8(out, json, 0); }

void lv_json_unescape_bytes(lv_buf *b)
{
    size_t w = 0;
    for (size_t r = 0; r < b->len;) {
        /* U+DC80..U+DCFF as a decoder writes a lone surrogate: ED B2 80 .. ED B3 BF. */
        if (r + 2 < b->len && b->data[r] == 0xed && (b->data[r + 1] == 0xb2 || b->data[r + 1] == 0xb3) &&
            b->data[r + 2] >= 0x80 && b->data[r + 2] <= 0xbf) {
            b->data[w++] = (uint8_t)(((b->data[r + 1] & 0x01u) << 6) | (b->data[r + 2] & 0x3fu) | 0x80u);
            r += 3;
        } else {
            b->data[w++] = b->data[r++];
        }
    }
    b->len = w;
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
    lv_json_append_raw(j->out, json);
}
