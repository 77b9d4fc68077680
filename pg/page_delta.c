/* Page delta blobs (pg/page_delta.h). */
#include "pg/page_delta.h"

#include <string.h>
#include <zstd.h>

#include "common/error.h"
#include "repo/pack.h"

#define HEAD 8u /* magic, count */

int lv_pgdelta_parse(const uint8_t *buf, size_t len, lv_pgdelta *d)
{
    memset(d, 0, sizeof *d);
    if (len < HEAD || memcmp(buf, LV_PGDELTA_MAGIC, 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "page delta blob: bad magic");
    uint32_t count = lv_le32_get(buf + 4);
    if (count < 1 || count > LV_PGDELTA_MAX_FRAMES)
        return lv_err(LV_ERR_CORRUPT, "page delta blob: %u frames", count);
    if ((len - HEAD) / 4 < count)
        return lv_err(LV_ERR_CORRUPT, "page delta blob: truncated frame table");
    size_t body = len - HEAD - 4 * (size_t)count, sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t l = lv_le32_get(buf + HEAD + 4 * (size_t)i);
        if (l < 1 || l > body - sum)
            return lv_err(LV_ERR_CORRUPT, "page delta blob: frame %u runs past the end", i);
        sum += l;
    }
    if (sum != body)
        return lv_err(LV_ERR_CORRUPT, "page delta blob: %zu bytes after the last frame", body - sum);
    d->buf = buf;
    d->count = count;
    d->lengths = buf + HEAD;
    d->frames = buf + HEAD + 4 * (size_t)count;
    return LV_OK;
}

void lv_pgdelta_frame(const lv_pgdelta *d, uint32_t i, const uint8_t **frame, size_t *len)
{
    size_t off = 0;
    for (uint32_t k = 0; k < i; k++)
        off += lv_le32_get(d->lengths + 4 * (size_t)k);
    *frame = d->frames + off;
    *len = lv_le32_get(d->lengths + 4 * (size_t)i);
}

void lv_pgdelta_next(const lv_pgdelta *d, uint32_t i, const uint8_t **frame, size_t *len)
{
    *frame += *len;
    *len = lv_le32_get(d->lengths + 4 * (size_t)i);
}

int lv_pgdelta_apply(void *dctx, const uint8_t *frame, size_t len, const uint8_t *base, uint8_t *out,
                     size_t block_size)
{
    ZSTD_DCtx *own = NULL, *dc = dctx;
    if (!dc && !(dc = own = ZSTD_createDCtx()))
        return lv_err(LV_ERR_INTERNAL, "out of memory for a zstd context");
    /* The frame must describe exactly one page: no more output than that is ever produced. */
    unsigned long long want = ZSTD_getFrameContentSize(frame, len);
    size_t got = 0;
    int rc = LV_OK;
    if (want != block_size)
        rc = lv_err(LV_ERR_CORRUPT, "page delta: frame header says %llu bytes, a page is %zu",
                    want == ZSTD_CONTENTSIZE_UNKNOWN || want == ZSTD_CONTENTSIZE_ERROR ? 0ull : want, block_size);
    else if (ZSTD_isError(ZSTD_DCtx_reset(dc, ZSTD_reset_session_only)) ||
             ZSTD_isError(ZSTD_DCtx_refPrefix(dc, base, block_size)))
        rc = lv_err(LV_ERR_INTERNAL, "page delta: cannot set up zstd");
    else if (ZSTD_isError(got = ZSTD_decompressDCtx(dc, out, block_size, frame, len)) || got != block_size)
        rc = lv_err(LV_ERR_CORRUPT, "page delta: frame does not decode to one page (%s)",
                    ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
    ZSTD_freeDCtx(own);
    return rc;
}

void *lv_pgdelta_dctx_new(void) { return ZSTD_createDCtx(); }
void lv_pgdelta_dctx_free(void *dctx) { ZSTD_freeDCtx(dctx); }

void lv_pgdelta_builder_init(lv_pgdelta_builder *b, int level)
{
    memset(b, 0, sizeof *b);
    b->level = level > 0 ? level : 3;
}

void lv_pgdelta_builder_free(lv_pgdelta_builder *b)
{
    ZSTD_freeCCtx(b->cctx);
    lv_buf_free(&b->frames);
    lv_buf_free(&b->lengths);
    memset(b, 0, sizeof *b);
}

int lv_pgdelta_builder_add(lv_pgdelta_builder *b, const uint8_t *page, const uint8_t *base, size_t block_size,
                           size_t max_len)
{
    if (b->count >= LV_PGDELTA_MAX_FRAMES)
        return 0;
    ZSTD_CCtx *c = b->cctx;
    if (!c) {
        if (!(c = b->cctx = ZSTD_createCCtx()))
            return 0;
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, b->level);
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0); /* the blob is authenticated as a whole */
        ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0);
    }
    size_t bound = ZSTD_compressBound(block_size);
    lv_buf_reserve(&b->frames, bound);
    /* A prefix lasts for one frame only: set it again for every page. */
    if (ZSTD_isError(ZSTD_CCtx_reset(c, ZSTD_reset_session_only)) ||
        ZSTD_isError(ZSTD_CCtx_refPrefix(c, base, block_size)))
        return 0;
    size_t z = ZSTD_compress2(c, b->frames.data + b->frames.len, bound, page, block_size);
    if (ZSTD_isError(z) || z > max_len || z == 0)
        return 0;
    b->frames.len += z;
    lv_buf_put_le32(&b->lengths, (uint32_t)z);
    b->count++;
    return 1;
}

void lv_pgdelta_builder_clear(lv_pgdelta_builder *b)
{
    lv_buf_reset(&b->lengths);
    lv_buf_reset(&b->frames);
    b->count = 0;
}

size_t lv_pgdelta_builder_size(const lv_pgdelta_builder *b) { return HEAD + b->lengths.len + b->frames.len; }

void lv_pgdelta_builder_take(lv_pgdelta_builder *b, uint8_t *dst)
{
    memcpy(dst, LV_PGDELTA_MAGIC, 4);
    for (int k = 0; k < 4; k++)
        dst[4 + k] = (uint8_t)(b->count >> (8 * k));
    if (b->count) {
        memcpy(dst + HEAD, b->lengths.data, b->lengths.len);
        memcpy(dst + HEAD + b->lengths.len, b->frames.data, b->frames.len);
    }
    lv_pgdelta_builder_clear(b);
}
