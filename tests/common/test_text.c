/* common/json, common/text, common/error: JSON stays valid UTF-8 and lossless for names with any bytes
 * (\udcXX for bytes outside valid UTF-8, and back), names are quoted for terminals like `ls -b`, and error
 * messages may quote the previous message and stay one line without control characters. */
#include <stdint.h>
#include <string.h>

#include "../check.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/text.h"

static int escaped_is(const char *in, const char *want)
{
    lv_buf b = LV_BUF_INIT;
    lv_json_escape(&b, in);
    int ok = strcmp(lv_buf_cstr(&b), want) == 0;
    if (!ok)
        printf("# got %s\n", lv_buf_cstr(&b));
    lv_buf_free(&b);
    return ok;
}

static int quoted_is(const void *in, size_t n, const char *want)
{
    lv_buf b = LV_BUF_INIT;
    lv_quote_name(&b, in, n);
    int ok = strcmp(lv_buf_cstr(&b), want) == 0;
    if (!ok)
        printf("# got %s\n", lv_buf_cstr(&b));
    lv_buf_free(&b);
    return ok;
}

/* Every string of the output is valid UTF-8. */
static int all_valid_utf8(const lv_buf *b)
{
    for (size_t i = 0; i < b->len;) {
        size_t n = lv_utf8_seq_len(b->data + i, b->len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

/* What a JSON decoder that keeps lone surrogates (SQLite's json_extract, Python) makes of \udcXX: the
 * three-byte form, which lv_json_unescape_bytes maps back. */
static void decode_like_sqlite(const char *json_body, lv_buf *out)
{
    for (const char *p = json_body; *p;) {
        unsigned v;
        if (strncmp(p, "\\udc", 4) == 0 && sscanf(p + 4, "%2x", &v) == 1) {
            unsigned cp = 0xdc00 + v;
            uint8_t u[3] = {(uint8_t)(0xe0 | (cp >> 12)), (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
                            (uint8_t)(0x80 | (cp & 0x3f))};
            lv_buf_append(out, u, 3);
            p += 6;
        } else {
            lv_buf_append(out, p++, 1);
        }
    }
}

int main(void)
{
    /* UTF-8 validation. */
    CHECK(lv_utf8_seq_len((const unsigned char *)"a", 1) == 1, "ASCII");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xc3\xa9", 2) == 2, "2-byte é");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3) == 3, "3-byte €");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4) == 4, "4-byte emoji");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xff", 1) == 0, "0xff is invalid");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xc0\xaf", 2) == 0, "overlong is invalid");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xed\xb3\xbf", 3) == 0, "an encoded surrogate is invalid");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xf4\x90\x80\x80", 4) == 0, "above U+10FFFF is invalid");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xe2\x82", 2) == 0, "truncated is invalid");
    CHECK(lv_utf8_seq_len((const unsigned char *)"\xe2\x82", SIZE_MAX) == 0, "a NUL ends a sequence");

    /* JSON strings. */
    CHECK(escaped_is("plain/ünïcödé", "\"plain/ünïcödé\""), "valid UTF-8 is written unchanged");
    CHECK(escaped_is("dir\xff", "\"dir\\udcff\""), "0xff is \\udcff");
    CHECK(escaped_is("a\x80\xc3(\xed\xa0\x80z", "\"a\\udc80\\udcc3(\\udced\\udca0\\udc80z\""),
          "every byte outside valid UTF-8 is escaped on its own (stray continuation, truncated lead, surrogate)");
    CHECK(escaped_is("q\"b\\n\n\x1b\x7f", "\"q\\\"b\\\\n\\n\\u001b\\u007f\""), "quote, backslash and controls");

    lv_buf raw = LV_BUF_INIT;
    lv_json_append_raw(&raw, "{\"paths\":[\"/x\xff\",\"\xc3\xa9\"],\"n\":1}");
    CHECK(strcmp(lv_buf_cstr(&raw), "{\"paths\":[\"/x\\udcff\",\"\xc3\xa9\"],\"n\":1}") == 0,
          "stored raw JSON with an invalid byte comes out escaped, the rest unchanged (%s)", lv_buf_cstr(&raw));
    lv_buf_free(&raw);

    /* Round trip of every byte value 1..255 in a name. */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    lv_buf js = LV_BUF_INIT, body = LV_BUF_INIT, dec = LV_BUF_INIT;
    lv_json_escape(&js, all);
    CHECK(all_valid_utf8(&js), "a name with every byte value escapes to valid UTF-8");
    /* Strip the quotes and JSON's own escapes of the ASCII part, then decode the surrogates. */
    for (size_t i = 1; i + 1 < js.len; i++) {
        char c = (char)js.data[i];
        if (c == '\\' && js.data[i + 1] != 'u') {
            char e = (char)js.data[++i];
            lv_buf_append(&body, e == 'n' ? "\n" : e == 'r' ? "\r" : e == 't' ? "\t" : &e, 1);
        } else if (c == '\\' && strncmp((const char *)js.data + i, "\\u00", 4) == 0) {
            unsigned v;
            sscanf((const char *)js.data + i + 4, "%2x", &v);
            char ch = (char)v;
            lv_buf_append(&body, &ch, 1);
            i += 5;
        } else {
            lv_buf_append(&body, &c, 1);
        }
    }
    decode_like_sqlite(lv_buf_cstr(&body), &dec);
    lv_json_unescape_bytes(&dec);
    CHECK(dec.len == 255 && memcmp(dec.data, all, 255) == 0, "... and decodes back to the same 255 bytes");
    lv_buf_free(&js);
    lv_buf_free(&body);
    lv_buf_free(&dec);

    /* Terminal quoting. */
    CHECK(quoted_is("a\nb", 3, "a\\nb"), "newline as \\n");
    CHECK(quoted_is("\x1b[31mred", 8, "\\033[31mred"), "escape sequence as \\033");
    CHECK(quoted_is("dir\xff", 4, "dir\\377"), "invalid byte as octal");
    CHECK(quoted_is("x\\y", 3, "x\\\\y"), "backslash doubled");
    CHECK(quoted_is("\xc2\x9b" "2J", 4, "\\302\\2332J"), "C1 control (CSI) as octal bytes");
    CHECK(quoted_is("ünï cödé\t€", strlen("ünï cödé\t€"), "ünï cödé\\t€"), "UTF-8 and spaces unchanged, tab as \\t");
    CHECK(quoted_is("\x01\x7f", 2, "\\001\\177"), "other controls and DEL as octal");

    /* Errors. */
    lv_err(LV_ERR_IO, "cannot open %s: Permission denied", "/some/file");
    lv_err(LV_ERR_CONFIG, "configuration file %s: %s", "/etc/x.conf", lv_errmsg());
    CHECK(strcmp(lv_errmsg(), "configuration file /etc/x.conf: cannot open /some/file: Permission denied") == 0,
          "a message may quote the previous one (%s)", lv_errmsg());
    lv_err(LV_ERR_IO, "name a\nb\x1b[2J\tc");
    CHECK(strcmp(lv_errmsg(), "name a b?[2J c") == 0, "error messages are one line without control characters");
    return check_done();
}
