/* Content-defined chunking with FastCDC (Xia et al., "FastCDC", USENIX ATC 2016, and the 2020 journal
 * version's "rolling two bytes" loop), used to cut files into the data blobs of file snapshots.
 *
 * Contract:
 *   - lv_cdc_cut(c, p, n) returns the length of the first chunk of p[0..n): a value in
 *     [min(n, min_size), min(n, max_size)]. It depends only on the bytes and on the gear table, so the
 *     same content cuts the same way in any file, snapshot or host using the repository.
 *   - The caller hands it at least max_size bytes whenever that many remain (otherwise a cut that
 *     would lie beyond n is replaced by n): lv_cdc_stream below does exactly that.
 *   - The gear table comes from the repository's chunk_key (HKDF-SHA256, info "labvault v1 fastcdc
 *     gear"): boundaries, hence chunk sizes, which anyone listing the bucket sees as blob sizes, reveal
 *     nothing about content without the key (docs/repository-format.md section 5).
 *
 * Gear hash: fp = (fp << 1) + gear[byte]; bit k of fp depends on the last k + 1 bytes, so the
 * judgement bits are taken just below bit 63 (the 2-byte loop shifts once more before testing, which
 * is why bit 63 itself is never used). Normalized chunking, level 2: between min and avg the mask has
 * log2(avg) + 2 bits (cuts are 4x less likely), beyond avg log2(avg) - 2 bits (4x more likely), which
 * narrows the size distribution around avg.
 *
 * lv_cdc_stream: a push interface over lv_cdc for data that arrives in pieces (a file read in blocks,
 * a tar member, stdin). It keeps one buffer of about 2 * max_size and calls emit(arg, offset, p, n)
 * for each chunk in order; offsets are logical positions in the file, so a caller can start a new
 * region after a hole (lv_cdc_stream_seek). Memory: the buffer only, whatever the stream's length. */
#ifndef LV_CHUNK_FASTCDC_H
#define LV_CHUNK_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

typedef struct lv_cdc {
    uint64_t gear[256];
    uint64_t gear_ls[256];         /* gear << 1, for the first byte of each pair */
    uint64_t mask_s, mask_s_ls;    /* before avg: harder */
    uint64_t mask_l, mask_l_ls;    /* after avg: easier */
    uint32_t min, avg, max;
} lv_cdc;

/* min <= avg <= max, avg a power of two of at least 256, max <= 64 MiB (the repository config
 * guarantees this). */
void lv_cdc_init(lv_cdc *c, const uint8_t key[LV_KEY_LEN], uint32_t min, uint32_t avg, uint32_t max);
size_t lv_cdc_cut(const lv_cdc *c, const uint8_t *p, size_t n);

/* Return non-zero to stop: lv_cdc_stream_* then return that value. */
typedef int (*lv_cdc_emit_fn)(void *arg, uint64_t offset, const uint8_t *p, size_t n);

typedef struct lv_cdc_stream {
    const lv_cdc *cdc;
    uint8_t *buf;
    size_t cap, start, end;   /* pending bytes are buf[start..end) */
    uint64_t offset;          /* logical offset of buf[start] */
    lv_cdc_emit_fn emit;
    void *arg;
} lv_cdc_stream;

void lv_cdc_stream_init(lv_cdc_stream *s, const lv_cdc *c, lv_cdc_emit_fn emit, void *arg);
void lv_cdc_stream_free(lv_cdc_stream *s);
/* Free space to read into directly (at least want bytes, want <= max_size), then commit what was
 * written; commit cuts every chunk that is now certain. */
uint8_t *lv_cdc_stream_space(lv_cdc_stream *s, size_t want);
int lv_cdc_stream_commit(lv_cdc_stream *s, size_t n);
/* Copying variant of space + commit. */
int lv_cdc_stream_push(lv_cdc_stream *s, const void *p, size_t n);
/* End of a region: emit what is pending (the last, possibly short, chunk). */
int lv_cdc_stream_finish(lv_cdc_stream *s);
/* Start a new region at a logical offset (after finish): the next bytes belong there. */
void lv_cdc_stream_seek(lv_cdc_stream *s, uint64_t offset);

#endif
