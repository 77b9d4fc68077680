/* libFuzzer target for the frame decoder behind lv_repo_unseal (repo/repo.h): codec byte, the plaintext's
 * sum when the codec says so, then the raw or zstd payload. In an unencrypted repository the only check
 * before it is a SHA-256 anyone can compute, so these are untrusted bytes.
 *
 * Input: the frame; the target appends its checksum as an unencrypted repository does, so every input
 * reaches the decoder. Besides "no crash, no leak, no undefined behaviour", it checks the contract: an
 * accepted frame with a sum reports it (summed) and its plaintext has exactly that sum; a raw frame
 * decodes to its payload; nothing is appended on failure. Seeds: tests/fuzz/corpus/frame/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char aad[] = "fuzz";
    lv_repo r;
    memset(&r, 0, sizeof r);
    r.params.encrypted = 0;
    uint8_t *sealed = malloc(size + LV_HASH_LEN);
    if (!sealed)
        return 0;
    if (size)
        memcpy(sealed, data, size);
    lv_sha256_2(aad, sizeof aad, data, size, sealed + size);
    lv_buf out = LV_BUF_INIT;
    lv_buf_append(&out, "x", 1); /* decoding appends after what is there */
    int summed = -1;
    int rc = lv_repo_unseal_summed(&r, aad, sizeof aad, sealed, size + LV_HASH_LEN, &out, "fuzz", &summed);
    if (rc != LV_OK) {
        if (summed != 0)
            abort();
        lv_err_clear();
    } else {
        int has_sum = (data[0] & 2) != 0;
        if (summed != has_sum || out.len < 1 || out.data[0] != 'x')
            abort();
        if (has_sum) {
            uint8_t sum[LV_PLAIN_SUM_LEN];
            lv_repo_plain_sum(out.data + 1, out.len - 1, sum);
            if (memcmp(sum, data + 1, LV_PLAIN_SUM_LEN) != 0)
                abort();
        }
        size_t head = 1 + (has_sum ? LV_PLAIN_SUM_LEN : 0);
        if ((data[0] & 1) == 0 && (out.len - 1 != size - head || memcmp(out.data + 1, data + head, size - head) != 0))
            abort();
    }
    lv_buf_free(&out);
    free(sealed);
    return 0;
}
