/* The repository handle: init, open, close, blob ids and object sealing (contract in repo/repo.h,
 * byte formats in docs/repository-format.md). The config object lives in repo_config.c, key objects in
 * keys.c. */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "repo/repo_internal.h"

/* Codec byte, the first byte of every sealed frame's plaintext. CODEC_SUMMED: the plaintext's sum
 * (lv_repo_plain_sum) follows the codec byte, then the payload as for the codec without the flag. */
enum { CODEC_RAW = 0, CODEC_ZSTD = 1, CODEC_SUMMED = 2 };

/* The largest plaintext unseal will inflate a frame to. Blobs are at most 4 MiB (64 MiB with extreme
 * chunker settings), index and manifest objects a few hundred MiB at the very most; a frame announcing
 * more is damaged or hostile, and must not make us allocate it. */
#define UNSEAL_MAX ((uint64_t)512 << 20)

static lv_repo *repo_new(lv_store *st)
{
    lv_repo *r = lv_xcalloc(1, sizeof *r);
    r->store = st;
    return r;
}

static void set_id(lv_repo *r, const uint8_t id[LV_REPO_ID_LEN])
{
    memcpy(r->id, id, LV_REPO_ID_LEN);
    lv_hex_encode(r->id, LV_REPO_ID_LEN, r->id_hex);
}

void lv_repo_close(lv_repo *r)
{
    if (!r)
        return;
    lv_wipe(r, sizeof *r); /* master secret, subkeys, and everything else with them */
    free(r);
}

int lv_repo_init(lv_store *st, const lv_repo_params *params, const lv_credential *cred, lv_repo **out)
{
    *out = NULL;
    const char *desc = lv_store_describe(st);
    char why[160];
    if (lv_repo_params_check(params, why, sizeof why) != 0)
        return lv_err(LV_ERR_CONFIG, "cannot create repository %s: %s", desc, why);
    if (params->encrypted && (!cred || (!cred->passphrase && !cred->key_file)))
        return lv_err(LV_ERR_USAGE, "an encrypted repository needs a passphrase or a key file");

    /* Refuse early when a repository is there, before a key is written next to its config. The
     * create-only put of config below is what really decides (two concurrent inits). */
    uint64_t size = 0;
    int rc = lv_store_head(st, "config", &size);
    if (rc == LV_OK)
        return lv_err(LV_ERR_CONFLICT, "a repository already exists at %s (config object present); "
                      "nothing was changed", desc);
    if (rc != LV_ERR_NOT_FOUND)
        return rc;
    lv_err_clear();

    lv_repo *r = repo_new(st);
    r->params = *params;
    uint8_t id[LV_REPO_ID_LEN];
    lv_random(id, sizeof id);
    set_id(r, id);

    /* The key goes first and config last: config is the commit point of init. A crash in between
     * leaves an orphan key object and no repository, so init can simply be run again. */
    if (params->encrypted) {
        lv_random(r->master, LV_KEY_LEN);
        lv_repo_derive_subkeys(r);
        if ((rc = lv_keys_write(r, cred, r->key_id))) {
            lv_repo_close(r);
            return rc;
        }
    }
    lv_buf cfg = LV_BUF_INIT;
    lv_repo_config_format(&r->params, r->id, params->encrypted ? r->mac_key : NULL, &cfg);
    rc = lv_store_put(st, "config", cfg.data, cfg.len, LV_PUT_IF_ABSENT);
    lv_buf_free(&cfg);
    if (rc) {
        if (rc == LV_ERR_CONFLICT)
            lv_err(LV_ERR_CONFLICT, "a repository was created at %s at the same time; nothing of it "
                   "was changed", desc);
        if (r->key_id[0]) {
            char path[80];
            snprintf(path, sizeof path, "keys/%s", r->key_id);
            int keep = lv_errcode();
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", lv_errmsg());
            if (lv_store_del(st, path) != LV_OK)
                lv_warn("could not remove the orphan key object %s: %s", path, lv_errmsg());
            lv_err(keep, "%s", msg);
        }
        lv_repo_close(r);
        return rc;
    }
    *out = r;
    return LV_OK;
}

int lv_repo_open(lv_store *st, const lv_credential *cred, lv_repo **out)
{
    *out = NULL;
    const char *desc = lv_store_describe(st);
    lv_buf data = LV_BUF_INIT;
    int rc = lv_store_get(st, "config", 0, 0, &data);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_NOT_FOUND, "%s is not a labvault repository (it has no config object)",
                    desc);
    if (rc) {
        lv_buf_free(&data);
        return rc;
    }
    lv_repo_config cfg;
    if ((rc = lv_repo_config_parse(&data, &cfg))) {
        lv_err_ctx("repository %s", desc);
        lv_buf_free(&data);
        return rc;
    }
    lv_repo *r = repo_new(st);
    r->params = cfg.params;
    set_id(r, cfg.id);
    if (r->params.encrypted) {
        rc = lv_keys_unlock(r, cred, &cfg);
    } else if (lv_repo_config_verify(&cfg, NULL) != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "config of %s: SHA-256 checksum mismatch (the file was changed or "
                    "damaged)", desc);
    } else {
        /* Anyone who can write to the bucket can write an "unencrypted" config; refusing one that
         * sits next to key objects stops that from silently turning later backups into plaintext. */
        size_t nkeys = 0;
        if ((rc = lv_keys_count(st, &nkeys)) == LV_OK && nkeys > 0)
            rc = lv_err(LV_ERR_CORRUPT, "config of %s says unencrypted, but keys/ holds %zu key(s): "
                        "refusing a possible downgrade of an encrypted repository", desc, nkeys);
    }
    lv_buf_free(&data);
    if (rc) {
        lv_repo_close(r);
        return rc;
    }
    *out = r;
    return LV_OK;
}

void lv_repo_blob_id(const lv_repo *r, const void *data, size_t n, uint8_t id[LV_HASH_LEN])
{
    if (r->params.encrypted)
        lv_hmac_sha256(r->id_key, data, n, id);
    else
        lv_sha256(data, n, id);
}

void lv_repo_plain_sum(const void *data, size_t n, uint8_t sum[LV_PLAIN_SUM_LEN])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, n));
    memcpy(sum, c.digest, LV_PLAIN_SUM_LEN);
}

/* ---- sealing -------------------------------------------------------------------------------- */

/* One zstd context per thread, reused across calls: creating a context per blob costs more than
 * compressing a small blob, and a context may not be shared between threads. The key's destructor frees
 * it when a thread (a packer worker, say) exits. */
static pthread_key_t zkey_c, zkey_d;
static pthread_once_t zonce = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) { ZSTD_freeCCtx(p); }
static void free_dctx(void *p) { ZSTD_freeDCtx(p); }
static void zkeys_init(void)
{
    if (pthread_key_create(&zkey_c, free_cctx) != 0 || pthread_key_create(&zkey_d, free_dctx) != 0)
        abort();
}

static ZSTD_CCtx *thread_cctx(void)
{
    pthread_once(&zonce, zkeys_init);
    ZSTD_CCtx *c = pthread_getspecific(zkey_c);
    if (!c) {
        if (!(c = ZSTD_createCCtx()))
            abort();
        pthread_setspecific(zkey_c, c);
    }
    return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
    pthread_once(&zonce, zkeys_init);
    ZSTD_DCtx *d = pthread_getspecific(zkey_d);
    if (!d) {
        if (!(d = ZSTD_createDCtx()))
            abort();
        pthread_setspecific(zkey_d, d);
    }
    return d;
}

/* The frame is codec || [sum] || payload: zstd when asked and when it actually saves space, raw otherwise
 * (random or already-compressed data grows slightly under zstd); the sum when the caller gives one. */
void lv_repo_seal_prepare(const lv_repo *r, const void *plain, size_t n, int compress,
                          const uint8_t sum[LV_PLAIN_SUM_LEN], lv_buf *scratch, lv_seal_plan *plan)
{
    *plan = (lv_seal_plan){.head = {CODEC_RAW}, .head_len = 1, .payload = plain, .len = n};
    if (compress && r->params.compress_level > 0 && n > 0) {
        size_t bound = ZSTD_compressBound(n);
        lv_buf_reset(scratch);
        lv_buf_reserve(scratch, bound);
        size_t z = ZSTD_compressCCtx(thread_cctx(), scratch->data, bound, plain, n, r->params.compress_level);
        if (!ZSTD_isError(z) && z < n) {
            scratch->len = z;
            *plan = (lv_seal_plan){.head = {CODEC_ZSTD}, .head_len = 1, .payload = scratch->data, .len = z};
        }
    }
    if (sum && r->params.format >= 2) {
        plan->head[0] |= CODEC_SUMMED;
        memcpy(plan->head + 1, sum, LV_PLAIN_SUM_LEN);
        plan->head_len = 1 + LV_PLAIN_SUM_LEN;
    }
}

/* Decode a verified frame into out; *summed: it carried the plaintext's sum, and that matched. */
static int frame_decode(const uint8_t *f, size_t n, lv_buf *out, const char *what, int *summed)
{
    *summed = 0;
    if (n < 1)
        return lv_err(LV_ERR_CORRUPT, "%s: empty frame (no codec byte)", what);
    uint8_t codec = f[0];
    const uint8_t *p = f + 1, *sum = NULL;
    size_t len = n - 1;
    if (codec & CODEC_SUMMED) {
        if (len < LV_PLAIN_SUM_LEN)
            return lv_err(LV_ERR_CORRUPT, "%s: frame too short for its plaintext sum", what);
        sum = p;
        p += LV_PLAIN_SUM_LEN;
        len -= LV_PLAIN_SUM_LEN;
        codec &= (uint8_t)~CODEC_SUMMED;
    }
    size_t mark = out->len;
    switch (codec) {
    case CODEC_RAW:
        lv_buf_append(out, p, len);
        break;
    case CODEC_ZSTD: {
        unsigned long long size = ZSTD_getFrameContentSize(p, len);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
            return lv_err(LV_ERR_CORRUPT, "%s: zstd frame header is invalid or has no content size", what);
        if (size > UNSEAL_MAX)
            return lv_err(LV_ERR_CORRUPT, "%s: zstd frame announces %llu bytes, more than the %llu MiB "
                          "any object can hold", what, size, (unsigned long long)(UNSEAL_MAX >> 20));
        /* Exactly one frame and nothing after it: one byte sequence per object. */
        size_t fsz = ZSTD_findFrameCompressedSize(p, len);
        if (ZSTD_isError(fsz) || fsz != len)
            return lv_err(LV_ERR_CORRUPT, "%s: zstd payload is not exactly one frame", what);
        lv_buf_reserve(out, (size_t)size);
        size_t got = ZSTD_decompressDCtx(thread_dctx(), out->data + out->len, (size_t)size, p, len);
        if (ZSTD_isError(got) || got != size)
            return lv_err(LV_ERR_CORRUPT, "%s: zstd decompression failed: %s", what,
                          ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
        out->len += got;
        break;
    }
    default:
        return lv_err(LV_ERR_CORRUPT, "%s: unknown codec %u (damaged, or written by a newer labvault)", what,
                      f[0]);
    }
    if (sum) {
        uint8_t got[LV_PLAIN_SUM_LEN];
        lv_repo_plain_sum(out->data + mark, out->len - mark, got);
        if (memcmp(got, sum, LV_PLAIN_SUM_LEN) != 0) {
            out->len = mark;
            return lv_err(LV_ERR_CORRUPT, "%s: plaintext does not match the sum sealed with it", what);
        }
        *summed = 1;
    }
    return LV_OK;
}

/* Checksum of an unencrypted frame: the aad is hashed in front, so that (like GCM's associated data)
 * an intact object stored under the wrong name or offset is still detected. */
static void plain_sum(const void *aad, size_t aad_len, const void *frame, size_t n,
                      uint8_t out[LV_HASH_LEN])
{
    lv_sha256_2(aad, aad_len, frame, n, out);
}

size_t lv_repo_seal_size(const lv_repo *r, const lv_seal_plan *plan)
{
    return plan->head_len + plan->len + (r->params.encrypted ? LV_SEAL_OVERHEAD : LV_HASH_LEN);
}

void lv_repo_seal_to(const lv_repo *r, const void *aad, size_t aad_len, const lv_seal_plan *plan, uint8_t *dst)
{
    if (r->params.encrypted) {
        lv_seal_to(r->enc_key, aad, aad_len, plan->head, plan->head_len, plan->payload, plan->len, dst);
        return;
    }
    memcpy(dst, plan->head, plan->head_len);
    if (plan->len)
        memcpy(dst + plan->head_len, plan->payload, plan->len);
    plain_sum(aad, aad_len, dst, plan->head_len + plan->len, dst + plan->head_len + plan->len);
}

void lv_repo_seal(const lv_repo *r, const void *aad, size_t aad_len, const void *plain, size_t n,
                  int compress, lv_buf *out)
{
    lv_buf scratch = LV_BUF_INIT;
    lv_seal_plan plan;
    lv_repo_seal_prepare(r, plain, n, compress, NULL, &scratch, &plan);
    size_t len = lv_repo_seal_size(r, &plan);
    lv_buf_reserve(out, len);
    lv_repo_seal_to(r, aad, aad_len, &plan, out->data + out->len);
    out->len += len;
    lv_buf_free(&scratch);
}

int lv_repo_unseal_in_place(const lv_repo *r, const void *aad, size_t aad_len, uint8_t *sealed, size_t n,
                            lv_buf *out, const char *what)
{
    if (!r->params.encrypted)
        return lv_repo_unseal(r, aad, aad_len, sealed, n, out, what);
    int rc = lv_open_in_place(r->enc_key, aad, aad_len, sealed, n, what);
    if (rc == LV_ERR_AUTH)
        rc = lv_err(LV_ERR_CORRUPT, "%s: authentication failed: the object was changed or damaged", what);
    int summed;
    if (rc == LV_OK)
        rc = frame_decode(sealed + LV_NONCE_LEN, n - LV_SEAL_OVERHEAD, out, what, &summed);
    return rc;
}

int lv_repo_unseal_summed(const lv_repo *r, const void *aad, size_t aad_len, const void *sealed, size_t n,
                          lv_buf *out, const char *what, int *summed)
{
    *summed = 0;
    if (!r->params.encrypted) {
        if (n < 1 + LV_HASH_LEN)
            return lv_err(LV_ERR_CORRUPT, "%s: %zu bytes, shorter than codec byte and checksum", what, n);
        const uint8_t *f = sealed;
        size_t flen = n - LV_HASH_LEN;
        uint8_t sum[LV_HASH_LEN];
        plain_sum(aad, aad_len, f, flen, sum);
        if (memcmp(sum, f + flen, LV_HASH_LEN) != 0)
            return lv_err(LV_ERR_CORRUPT, "%s: SHA-256 checksum mismatch (the bytes changed)", what);
        return frame_decode(f, flen, out, what, summed);
    }
    lv_buf frame = LV_BUF_INIT;
    int rc = lv_open(r->enc_key, aad, aad_len, sealed, n, &frame, what);
    if (rc == LV_ERR_AUTH)
        /* The key is right (it opened the repository and verified the config), so a failing tag
         * means these bytes are not the ones written. */
        rc = lv_err(LV_ERR_CORRUPT, "%s: authentication failed: the object was changed or damaged",
                    what);
    if (rc == LV_OK)
        rc = frame_decode(frame.data, frame.len, out, what, summed);
    lv_buf_free(&frame);
    return rc;
}

int lv_repo_unseal(const lv_repo *r, const void *aad, size_t aad_len, const void *sealed, size_t n,
                   lv_buf *out, const char *what)
{
    int summed;
    return lv_repo_unseal_summed(r, aad, aad_len, sealed, n, out, what, &summed);
}
