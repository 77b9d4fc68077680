/* Fuzz target for page delta blobs (pg/page_delta.h): the parser either fails with LV_ERR_CORRUPT or
 * returns frames that tile the input exactly; applying any frame to a base page either fails with
 * LV_ERR_CORRUPT or yields exactly one page, never more. The input also drives a builder round trip: a
 * page made from the input, encoded against a base, decodes to the same page. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "pg/page_delta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BS 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t base[BS], out[BS + 64], page[BS];
    for (size_t i = 0; i < BS; i++)
        base[i] = (uint8_t)(i * 31 + (i >> 8));
    lv_pgdelta d;
    int rc = lv_pgdelta_parse(data, size, &d);
    if (rc != LV_OK) {
        if (rc != LV_ERR_CORRUPT || d.count)
            abort();
    } else {
        size_t sum = 8 + 4 * (size_t)d.count;
        void *dctx = lv_pgdelta_dctx_new();
        for (uint32_t i = 0; i < d.count; i++) {
            const uint8_t *f;
            size_t n;
            lv_pgdelta_frame(&d, i, &f, &n);
            if (f != data + sum || n < 1 || sum + n > size)
                abort();
            sum += n;
            if (i < 8) {
                memset(out + BS, 0xA5, 64);
                int r = lv_pgdelta_apply(dctx, f, n, base, out, BS);
                if (r != LV_OK && r != LV_ERR_CORRUPT)
                    abort();
                for (int k = 0; k < 64; k++)
                    if (out[BS + k] != 0xA5)
                        abort(); /* wrote past the page */
            }
        }
        lv_pgdelta_dctx_free(dctx);
        if (sum != size)
            abort();
    }
    /* Builder round trip: the base with the input written over its middle. */
    memcpy(page, base, BS);
    memcpy(page + 1000, data, size < BS - 1000 ? size : BS - 1000);
    lv_pgdelta_builder b;
    lv_pgdelta_builder_init(&b, 3);
    if (lv_pgdelta_builder_add(&b, page, base, BS, BS + 1024) != 1)
        abort();
    lv_buf blob = LV_BUF_INIT;
    lv_buf_reserve(&blob, lv_pgdelta_builder_size(&b));
    blob.len = lv_pgdelta_builder_size(&b);
    lv_pgdelta_builder_take(&b, blob.data);
    const uint8_t *f;
    size_t n;
    if (lv_pgdelta_parse(blob.data, blob.len, &d) != LV_OK || d.count != 1)
        abort();
    lv_pgdelta_frame(&d, 0, &f, &n);
    if (lv_pgdelta_apply(NULL, f, n, base, out, BS) != LV_OK || memcmp(out, page, BS) != 0)
        abort();
    lv_buf_free(&blob);
    lv_pgdelta_builder_free(&b);
    return 0;
}
