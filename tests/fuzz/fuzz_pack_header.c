/* libFuzzer target for the strict pack header parser (repo/pack.h), on plaintext (unsealed) headers.
 *
 * Input: 8 bytes little-endian = blobs_end (where the sealed header would start in the pack), then the
 * plaintext header. Besides "no crash, no leak, no undefined behaviour", it checks the parser's
 * contract: whatever it accepts is exactly the canonical encoding of what it returned (so there is
 * one way to write a header), and the entries satisfy the invariants the rest of the code relies on.
 * Seeds: tests/fuzz/corpus/pack_header/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "repo/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t blobs_end = lv_le64_get(data);
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    uint8_t version = 0;
    if (lv_pack_header_parse(data + 8, size - 8, blobs_end, &e, &n, &version) != 0)
        return 0;
    if (version < LV_PACK_VERSION_MIN || version > LV_PACK_VERSION)
        abort();
    lv_buf b = LV_BUF_INIT;
    lv_pack_header_encode(e, n, version, &b);
    if (b.len != size - 8 || memcmp(b.data, data + 8, b.len) != 0)
        abort(); /* accepted a non-canonical header */
    uint64_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].offset != pos || e[i].length < LV_SEALED_MIN || !lv_blob_type_valid(e[i].type) ||
            e[i].raw_length > LV_BLOB_MAX)
            abort();
        pos += e[i].length;
    }
    if (n == 0 || pos != blobs_end)
        abort();
    lv_buf_free(&b);
    free(e);
    return 0;
}
