/* Fuzz target: store/s3_xml.c, the parser of S3 response bodies (bytes from the network).
 *
 * It walks the input the way store/s3.c and store/s3_multipart.c read listings, errors and multipart
 * replies, and checks what the parser promises: every range it returns lies inside the input, the read
 * position only moves forward, decoded text holds no NUL, and escaping decoded text then decoding it
 * again gives the same text back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(lv_buf *t)
{
    if (strlen(lv_buf_cstr(t)) != t->len)
        abort(); /* a NUL inside decoded text */
    lv_buf esc = LV_BUF_INIT, back = LV_BUF_INIT;
    s3_xml_escape(&esc, lv_buf_cstr(t));
    const char *e = lv_buf_cstr(&esc);
    if (s3_xml_text(e, e + esc.len, &back) != 0 || back.len != t->len || memcmp(back.data, t->data, t->len) != 0)
        abort(); /* escape and decode are not inverses */
    lv_buf_free(&esc);
    lv_buf_free(&back);
}

static void walk(const char *b, const char *e, const char *outer, const char *const *inner, size_t ninner)
{
    lv_buf t = LV_BUF_INIT;
    const char *pos = b, *vs, *ve;
    int r;
    while ((r = s3_xml_next(&pos, e, outer, &vs, &ve)) == 1) {
        if (vs < b || ve < vs || ve > e || pos <= b || pos > e || pos < ve)
            abort();
        for (size_t i = 0; i < ninner; i++)
            if (s3_xml_get(vs, ve, inner[i], &t) == 1)
                check_text(&t);
    }
    if (r != 0 && r != -1)
        abort();
    lv_buf_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly size bytes: reads past the end are caught by ASan. */
    char *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    const char *b = copy, *e = copy + size;

    static const char *const contents[] = {"Key", "Size", "ETag", "LastModified"};
    static const char *const error[] = {"Code", "Key", "Message"};
    walk(b, e, "Contents", contents, sizeof contents / sizeof *contents);
    walk(b, e, "Error", error, sizeof error / sizeof *error);
    walk(b, e, "Deleted", error, 2);

    static const char *const top[] = {"IsTruncated", "NextContinuationToken", "UploadId", "Code", "Key"};
    lv_buf t = LV_BUF_INIT;
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (s3_xml_get(b, e, top[i], &t) == 1)
            check_text(&t);
    /* The whole input as text: must either decode cleanly or be refused, never overrun. */
    if (s3_xml_text(b, e, &t) == 0)
        check_text(&t);
    lv_buf_free(&t);
    free(copy);
    return 0;
}
