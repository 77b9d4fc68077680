/* UTF-8 validation and terminal-safe names (contract in common/text.h). */
#include "common/text.h"

#include <stdio.h>
#include <string.h>

size_t lv_utf8_seq_len(const unsigned char *p, size_t avail)
{
    if (avail == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    /* Second-byte ranges exclude overlong forms, the surrogates and code points above U+10FFFF
     * (RFC 3629; table 3-7 of the Unicode standard). */
    unsigned lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static void octal(lv_buf *out, unsigned char c)
{
    char e[4] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)), (char)('0' + (c & 7))};
    lv_buf_append(out, e, 4);
}

void lv_quote_name(lv_buf *out, const void *name, size_t len)
{
    static const char ctl[] = "\a\b\t\n\v\f\r", ctl_esc[] = "abtnvfr";
    const unsigned char *p = name, *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t n = lv_utf8_seq_len(p, (size_t)(end - p));
            if (n == 0 || (c == 0xc2 && p[1] < 0xa0)) { /* invalid, or a C1 control */
                for (size_t i = 0; i < (n ? n : 1); i++)
                    octal(out, p[i]);
                p += n ? n : 1;
            } else {
                lv_buf_append(out, p, n);
                p += n;
            }
            continue;
        }
        const char *k = c ? strchr(ctl, c) : NULL;
        if (c == '\\') {
            lv_buf_append(out, "\\\\", 2);
        } else if (k) {
            char e[2] = {'\\', ctl_esc[k - ctl]};
            lv_buf_append(out, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            octal(out, c);
        } else {
            lv_buf_append(out, p, 1);
        }
        p++;
    }
}

void lv_quote_str(lv_buf *out, const char *s) { lv_quote_name(out, s, strlen(s)); }

void lv_human_size(uint64_t v, char out[32])
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    int i = 0;
    while (d >= 1024 && i < 5) {
        d /= 1024;
        i++;
    }
    snprintf(out, 32, i ? "%.1f %s" : "%.0f %s", d, u[i]);
}
