/* Page deltas: a changed page stored as the difference from an earlier full image of the same page.
 *
 * An incremental backup stores a changed page either whole (in a page-run blob, pg/manifest.h) or,
 * when that pays, as a delta against its BASE: the last whole image of that page the previous backup
 * references (a full backup's page, or a page an incremental stored whole). A delta is never taken
 * against another delta, so a page is always one base page plus at most one delta: restore reads two
 * blobs, never a chain, and any backup can still be deleted without breaking another (the base blob is
 * referenced by the manifest that uses it, like any other blob).
 *
 * Why: a page touched by one update differs from its previous image in a few dozen bytes (a tuple, a
 * line pointer, the header), but a changed b-tree leaf page compresses only about 6:1 on its own. zstd
 * with the base page as its prefix stores such a page in about 60 bytes instead of about 1300
 * (docs/pg-backups.md, "Page deltas").
 *
 * A delta blob (an ordinary data blob) holds the deltas of up to LV_PGDELTA_MAX_FRAMES pages:
 *   "LVPD" || count u32 (1..LV_PGDELTA_MAX_FRAMES) || count * frame_length u32 (each >= 1) || frames
 * Frame i is one zstd frame that, decompressed with the base page as its raw-content prefix, yields
 * exactly one page (block_size bytes). The lengths tile the rest of the blob exactly.
 *
 * Contract of the parser (lv_pgdelta_parse): strict, fuzzed (tests/fuzz/fuzz_pgdelta.c). LV_ERR_CORRUPT
 * unless the layout is exact; reads only [buf, buf + len); allocates nothing. lv_pgdelta_apply fails with
 * LV_ERR_CORRUPT unless the frame decodes to exactly block_size bytes. */
#ifndef LV_PG_PAGE_DELTA_H
#define LV_PG_PAGE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define LV_PGDELTA_MAGIC "LVPD"
#define LV_PGDELTA_MAX_FRAMES 1024u

/* A parsed delta blob: a view into the caller's bytes (valid while they are). */
typedef struct lv_pgdelta {
    const uint8_t *buf;
    uint32_t count;
    const uint8_t *lengths; /* count little-endian u32 */
    const uint8_t *frames;  /* frame 0; the others follow in order */
} lv_pgdelta;

int lv_pgdelta_parse(const uint8_t *buf, size_t len, lv_pgdelta *d);

/* Frame i (i < d->count): where it starts and how long it is. O(i); callers walking frames in order
 * call lv_pgdelta_next to step from frame i - 1 (in *frame, *len) to frame i. */
void lv_pgdelta_frame(const lv_pgdelta *d, uint32_t i, const uint8_t **frame, size_t *len);
void lv_pgdelta_next(const lv_pgdelta *d, uint32_t i, const uint8_t **frame, size_t *len);

/* Decode one frame against base (block_size bytes) into out (block_size bytes). dctx: a ZSTD_DCtx
 * (void * keeps zstd.h out of the callers' headers); NULL makes and frees one. */
int lv_pgdelta_apply(void *dctx, const uint8_t *frame, size_t len, const uint8_t *base, uint8_t *out,
                     size_t block_size);

/* A decompression context for lv_pgdelta_apply (NULL when out of memory), and its release. */
void *lv_pgdelta_dctx_new(void);
void lv_pgdelta_dctx_free(void *dctx);

/* The writer side: collects the frames of one delta blob. */
typedef struct lv_pgdelta_builder {
    void *cctx;          /* ZSTD_CCtx, owned */
    int level;
    lv_buf frames;
    lv_buf lengths;
    uint32_t count;
} lv_pgdelta_builder;

void lv_pgdelta_builder_init(lv_pgdelta_builder *b, int level);
void lv_pgdelta_builder_free(lv_pgdelta_builder *b);
/* Encode page against base (both block_size bytes). When the frame is at most max_len bytes it is
 * appended (its index is the count before the call) and 1 is returned; otherwise nothing is appended and
 * 0 is returned (store the page whole). Never fails otherwise. */
int lv_pgdelta_builder_add(lv_pgdelta_builder *b, const uint8_t *page, const uint8_t *base, size_t block_size,
                           size_t max_len);
/* Forget the frames collected so far. */
void lv_pgdelta_builder_clear(lv_pgdelta_builder *b);
/* Size of the blob the frames so far make. */
size_t lv_pgdelta_builder_size(const lv_pgdelta_builder *b);
/* Write the blob (lv_pgdelta_builder_size bytes) to dst; then the builder is empty again (count 0). */
void lv_pgdelta_builder_take(lv_pgdelta_builder *b, uint8_t *dst);

#endif
