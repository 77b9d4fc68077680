/* libFuzzer target for the strict index parser (repo/index.h), on plaintext (unsealed) index objects.
 * Besides "no crash, no leak, no undefined behaviour, no allocation beyond what the input justifies",
 * it checks that whatever the parser accepts re-encodes to exactly the input (one spelling per index)
 * and that every pack's entries lie inside the pack, in order. Seeds: tests/fuzz/corpus/index/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "repo/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_index ix;
    if (lv_index_parse(data, size, &ix) != 0)
        return 0;
    lv_buf b = LV_BUF_INIT;
    lv_index_encode(&ix, &b);
    if (b.len != size || memcmp(b.data, data, size) != 0)
        abort(); /* accepted a non-canonical index */
    for (uint32_t i = 0; i < ix.npacks; i++) {
        const lv_index_pack *p = &ix.packs[i];
        uint64_t pos = 0;
        for (uint32_t j = 0; j < p->count; j++) {
            if (p->blobs[j].offset != pos || p->blobs[j].length < LV_SEALED_MIN)
                abort();
            pos += p->blobs[j].length;
        }
        if (p->count == 0 || pos + LV_PACK_TAIL + LV_SEALED_MIN > p->size)
            abort();
    }
    lv_buf_free(&b);
    lv_index_free(&ix);
    return 0;
}
