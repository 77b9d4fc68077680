/* Fuzz target for the pg manifest body parser (pg/manifest.h): any input either fails with
 * LV_ERR_CORRUPT and a zeroed result, or parses into a manifest that the encoder accepts and that
 * re-encodes to exactly the input bytes; lookups of every parsed path find that path. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "pg/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_pgman m;
    int rc = lv_pgman_parse(data, size, &m);
    if (rc != LV_OK) {
        if (rc != LV_ERR_CORRUPT || m.files || m.label || m.nfiles)
            abort();
        return 0;
    }
    for (uint32_t i = 0; i < m.nfiles; i++)
        if (lv_pgman_find(&m, m.files[i].path) != (long)i)
            abort();
    lv_buf out = LV_BUF_INIT;
    if (lv_pgman_encode(&m, &out) != LV_OK || out.len != size || memcmp(out.data, data, size) != 0)
        abort();
    lv_buf_free(&out);
    lv_pgman_free(&m);
    return 0;
}
