/* The blob store: the one way data goes into and comes out of the repository.
 *
 * Writing: an lv_packer takes blobs, deduplicates them by id, compresses and seals each one on its own
 * (repo/pack.h), collects them into packs of about the repository's pack size and uploads each pack as
 * soon as it is full. lv_packer_flush uploads the last pack, waits until every pack is durable, then
 * writes ONE index object naming those packs, and only then records blobs, packs and index in the
 * catalog (r->cat). The caller writes its manifest after a successful flush: that upload is the commit
 * point. A crash at any moment leaves unreferenced packs or an unreferenced index at worst, which
 * `catalog rebuild` can re-read and prune can remove; never a reference to a missing object.
 *
 * Dedup: a blob whose id is in the catalog in an indexed pack (lv_blob_loc.indexed), or that this packer
 * already accepted, is not stored again:
 * lv_packer_add returns its id and reports 0 new bytes. Blob ids come from lv_repo_blob_id (keyed
 * HMAC of the plaintext), so identical plaintext is one blob whatever its type.
 *
 * Pipeline (why it is threaded): sealing 1 MiB (HMAC id + zstd + AES-GCM) costs a few milliseconds of
 * CPU, and an upload is mostly waiting on a socket or a disk. Seal workers compress and encrypt blobs
 * into their reserved place in the pack being filled, while upload threads seal each closed pack's
 * header (its SHA-256 names the pack) and store it, so the CPU work on blob N+1 overlaps the upload of
 * the previous pack. There is one upload thread per upload slot (`upload_queue`, default
 * lv_store_puts_in_flight: 2 on S3, where the PUT of one pack overlaps the other's and S3 gets two
 * connections; 1 on a local directory, whose write and fsync of a pack are faster than the next pack
 * fills).
 *
 * Where packs are built: on a store that can stream (lv_store_can_stream: a local directory), a pack is
 * a temporary file in the store; a worker seals its blob into a buffer of the blob's job and writes it at
 * the blob's offset, and the uploader appends the sealed header and its length and commits the file
 * under its name (store.h's streams: fsync, link, fsync of the directory). No pack is held in memory.
 * Elsewhere (S3), workers seal straight into the pack's buffer in memory (no copy of the sealed bytes)
 * and the uploader PUTs it whole. Memory is bounded: in memory, at most `upload_queue` closed packs
 * (queued or uploading) plus the one being filled; either way, the queued blobs (each a plaintext copy
 * and its zstd output or sealed bytes): always room for
 * 2 per seal worker, and beyond that small ones up to 4 MiB of plaintext per worker (at most 256 jobs),
 * so a run of small files keeps the seal workers busy instead of taking turns with the caller.
 * When uploads fall behind, lv_packer_add blocks (back-pressure); it never buffers more. Buffers are
 * recycled, not freed: on VMs that hand free memory back to the host, first-touch page faults on fresh
 * memory cost about as much as the compression.
 *
 * Threads: an lv_packer must be used from ONE thread (the one that created it; its catalog lookups and
 * writes go through r->cat, which is per-thread). Its internal threads touch only the store (shared-safe
 * by store/store.h) and immutable repository keys. lv_blob_get may be called from any thread that owns
 * the catalog it reads, and concurrently with a packer on the same repository.
 *
 * Errors: once an upload or a write into a streamed pack fails, the packer stops (no further pack is
 * stored) and every later call returns that error with its message (naming the pack, or the streamed
 * pack's temporary file); free it. Packs stored before the failure stay in the store unindexed (garbage
 * until rebuilt or pruned); the temporary files of streamed packs not stored are removed by the time
 * lv_packer_free returns (a killed process leaves them to lv_store_temp_sweep). */
#ifndef LV_REPO_BLOBSTORE_H
#define LV_REPO_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "repo/pack.h"
#include "repo/repo.h"

typedef struct lv_packer lv_packer;

typedef struct lv_packer_opts {
    /* Target pack size in bytes; 0 = r->params.pack_size. A pack is closed once it reaches this size
     * (it may exceed it by one blob). Values below the repository minimum are allowed here so tests can
     * make many packs from little data. */
    uint64_t pack_size;
    /* Seal threads: 0 = automatic (online CPUs, at most 4), -1 = seal on the caller's thread. */
    int workers;
    /* Closed packs allowed in flight (uploading + waiting), = upload threads; 0 = 2. */
    int upload_queue;
    /* Write an index (and record it in the catalog) without waiting for flush once this many blobs
     * sit in uploaded but unindexed packs, so a long run's index objects stay small (a few MiB) and a
     * crash loses little; 0 = 65536. */
    uint32_t index_every;
    /* Build packs in memory even on a store that can stream them (tests run both ways). */
    int in_memory;
} lv_packer_opts;

typedef struct lv_packer_stats {
    uint64_t blobs_new, blobs_dedup;   /* blobs stored / skipped because already stored */
    uint64_t raw_new, raw_dedup;       /* their plaintext bytes */
    uint64_t stored;                   /* bytes uploaded in packs (sealed blobs + headers) */
    uint64_t packs, indexes;           /* objects uploaded */
} lv_packer_stats;

int lv_packer_new(lv_repo *r, lv_packer **out);
int lv_packer_new_opts(lv_repo *r, const lv_packer_opts *opts, lv_packer **out);

/* Store one blob of n bytes (n <= LV_BLOB_MAX; type LV_BLOB_DATA/TREE/META). id_out receives its id.
 * *new_bytes (may be NULL) is n when the blob is new and 0 when it was already stored; the sealed size
 * is known only once the blob is packed (see lv_packer_get_stats). data may be reused as soon as this
 * returns. The blob is readable with lv_blob_get only after lv_packer_flush. */
int lv_packer_add(lv_packer *p, uint8_t type, const void *data, size_t n, uint8_t id_out[LV_HASH_LEN],
                  uint64_t *new_bytes);

/* Same, with the blob id already computed (lv_repo_blob_id of exactly these n bytes), so that callers with
 * several producer threads hash in parallel instead of on the packer's one thread. A wrong id is a
 * caller bug that restore would report as a corrupt blob; nothing here re-checks it. sum: the
 * lv_repo_plain_sum the caller took with the id, or NULL to take it here from data (before the copy). */
int lv_packer_add_id(lv_packer *p, uint8_t type, const void *data, size_t n, const uint8_t id[LV_HASH_LEN],
                     const uint8_t sum[LV_PLAIN_SUM_LEN], uint64_t *new_bytes);

/* Make everything added so far durable and indexed (see above). Cheap when nothing is pending.
 * flush (and add, when it writes an intermediate index) opens its own catalog transaction: do not call
 * them inside one. */
int lv_packer_flush(lv_packer *p);

void lv_packer_get_stats(lv_packer *p, lv_packer_stats *st);

/* Stop the threads and release everything. Blobs added since the last successful flush are not
 * indexed (their uploaded packs remain as garbage): flush first to keep them. NULL is a no-op. */
void lv_packer_free(lv_packer *p);

/* Read a blob: catalog lookup, one ranged GET of exactly its sealed bytes, authenticated unseal, and a
 * check of the plaintext (lv_blob_open: its sealed sum, or its recomputed id). Appends the plaintext to out (out is unchanged on
 * failure). Errors:
 *   LV_ERR_NOT_FOUND  the catalog does not know the blob (not stored, or the catalog is stale)
 *   LV_ERR_CORRUPT    the pack is missing, truncated, or the bytes do not authenticate or do not match
 *                     their sum or id; the message names blob and pack. A pack that the index lists but the
 *                     store lacks is damage to the repository, not an absent object, so it is CORRUPT.
 *   others            the store's codes (LV_ERR_UNREACHABLE, LV_ERR_AUTH, ...) */
int lv_blob_get(const lv_repo *r, const uint8_t id[LV_HASH_LEN], lv_buf *out);

/* Same, with the location given instead of looked up (check, rebuild, callers with their own map). */
int lv_blob_read(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out);

/* The same without recomputing the blob id (the HMAC was four fifths of the read's CPU): the bytes are
 * still authenticated as the blob stored under id (the seal binds type and id), and checked against the
 * plaintext sum sealed with them when there is one, so only a writer that sealed other bytes than it
 * hashed, in a blob from before sums, goes unseen. Only for a reader that compares with the stored bytes
 * and never hands them on: a page delta's base (backup/pg_read.c), which a restore reads through the id
 * check before applying the delta, so such a blob fails the restore either way. */
int lv_blob_read_unhashed(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out);

/* Unseal a blob's stored bytes and verify its length and its plaintext: against the sum sealed with it
 * (lv_repo_plain_sum, taken with the id at backup time), or, for a blob written before sums were, against
 * its recomputed id. Appends to out only on success. what names it in messages ("blob ab12.. in pack
 * data/..."). LV_ERR_CORRUPT on any mismatch. */
int lv_blob_open(const lv_repo *r, uint8_t type, const uint8_t id[LV_HASH_LEN], const void *sealed,
                 size_t n, uint32_t raw_length, lv_buf *out, const char *what);
/* The same, recomputing the id even when the blob has a sum: `check --read-data`, which also proves that
 * the id was computed from the bytes stored (a writer's bug the sum, taken separately, could miss). */
int lv_blob_open_full(const lv_repo *r, uint8_t type, const uint8_t id[LV_HASH_LEN], const void *sealed, size_t n,
                      uint32_t raw_length, lv_buf *out, const char *what);

#endif
