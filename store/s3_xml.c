#include "store/s3_xml.h"

#include <string.h>

static const char *find(const char *p, const char *end, const char *needle, size_t nl)
{
    while (p < end && (size_t)(end - p) >= nl) {
        const char *lt = memchr(p, needle[0], (size_t)(end - p));
        if (!lt || (size_t)(end - lt) < nl)
            return NULL;
        if (memcmp(lt, needle, nl) == 0)
            return lt;
        p = lt + 1;
    }
    return NULL;
}

int s3_xml_next(const char **pos, const char *end, const char *tag, const char **vs, const char **ve)
{
    size_t tl = strlen(tag);
    const char *p = *pos;
    for (;;) {
        const char *lt = find(p, end, "<", 1);
        if (!lt)
            return 0;
        const char *name = lt + 1;
        if ((size_t)(end - name) < tl + 1 || memcmp(name, tag, tl) != 0) {
            p = name;
            continue;
        }
        char after = name[tl];
        if (after != '>' && after != '/' && after != ' ' && after != '\t' && after != '\r' &&
            after != '\n') {
            p = name; /* a longer name that starts with tag */
            continue;
        }
        const char *gt = memchr(name + tl, '>', (size_t)(end - (name + tl)));
        if (!gt)
            return -1;
        if (gt[-1] == '/') { /* <tag/> or <tag attr="x"/> */
            *vs = *ve = gt + 1;
            *pos = gt + 1;
            return 1;
        }
        char close[80];
        if (tl + 4 > sizeof close)
            return -1;
        close[0] = '<';
        close[1] = '/';
        memcpy(close + 2, tag, tl);
        close[tl + 2] = '>';
        const char *c = find(gt + 1, end, close, tl + 3);
        if (!c)
            return -1;
        *vs = gt + 1;
        *ve = c;
        *pos = c + tl + 3;
        return 1;
    }
}

/* Append code point cp as UTF-8; -1 for values XML does not allow. */
static int put_utf8(lv_buf *out, unsigned long cp)
{
    unsigned char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    lv_buf_append(out, b, n);
    return 0;
}

static int entity(const char *p, size_t n, lv_buf *out)
{
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0) {
            lv_buf_append(out, &named[i].ch, 1);
            return 0;
        }
    if (n < 2 || p[0] != '#')
        return -1;
    int hex = p[1] == 'x';
    size_t i = hex ? 2 : 1;
    if (i >= n || n - i > 8)
        return -1;
    unsigned long cp = 0;
    for (; i < n; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        cp = cp * (hex ? 16u : 10u) + d;
    }
    return put_utf8(out, cp);
}

int s3_xml_text(const char *vs, const char *ve, lv_buf *out)
{
    lv_buf_reset(out);
    for (const char *p = vs; p < ve;) {
        char c = *p;
        if (c == '<' || c == '\0')
            return -1;
        if (c != '&') {
            const char *amp = memchr(p, '&', (size_t)(ve - p));
            const char *stop = amp ? amp : ve;
            if (memchr(p, '<', (size_t)(stop - p)) || memchr(p, '\0', (size_t)(stop - p)))
                return -1;
            lv_buf_append(out, p, (size_t)(stop - p));
            p = stop;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(ve - p));
        if (!semi || entity(p + 1, (size_t)(semi - p - 1), out) != 0)
            return -1;
        p = semi + 1;
    }
    lv_buf_cstr(out);
    return 0;
}

int s3_xml_get(const char *begin, const char *end, const char *tag, lv_buf *out)
{
    const char *pos = begin, *vs, *ve;
    int r = s3_xml_next(&pos, end, tag, &vs, &ve);
    if (r <= 0)
        return r;
    return s3_xml_text(vs, ve, out) == 0 ? 1 : -1;
}

void s3_xml_escape(lv_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': lv_buf_append_str(out, "&amp;"); break;
        case '<': lv_buf_append_str(out, "&lt;"); break;
        case '>': lv_buf_append_str(out, "&gt;"); break;
        case '"': lv_buf_append_str(out, "&quot;"); break;
        case '\'': lv_buf_append_str(out, "&apos;"); break;
        default: lv_buf_append(out, s, 1);
        }
    }
}
