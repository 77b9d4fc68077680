/* Batched, parallel reading of data blobs for restore.
 *
 * The caller queues (blob id, destination, offset) requests with lv_fetch_add, which looks each blob up
 * in the catalog on the caller's thread (or lv_fetch_queue, looked up by lv_fetch_run_lookup on the
 * thread that runs the batch). lv_fetch_run then sorts the batch by pack and offset, merges
 * blobs that lie close together in one pack into one ranged GET (a GET costs tens of milliseconds on an
 * S3 server, whatever its size, so a directory of small files must not cost one GET per file), and runs
 * the GETs on `threads` workers (common/parallel.h). Each blob is authenticated and its id re-computed
 * (lv_blob_open) BEFORE deliver sees a byte of it; a blob needed at several places is fetched once and
 * delivered to each. deliver runs on the worker threads, concurrently, never twice for the same request.
 *
 * Memory: the batch's requests, plus one range buffer and one plaintext buffer per worker (recycled,
 * shareable between fetches that run one after the other: lv_fetch_share_buffers); the caller bounds a
 * batch with lv_fetch_pending_bytes.
 *
 * Errors: the first failure stops the batch (no new GET starts) and is returned with its message;
 * *failed_dest names the destination of the request whose blob failed (so the caller can name the
 * file), or SIZE_MAX when the failure was not tied to one blob. */
#ifndef LV_RESTORE_FETCH_H
#define LV_RESTORE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "repo/repo.h"

typedef int (*lv_fetch_deliver_fn)(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n);

typedef struct lv_fetch lv_fetch;

typedef struct lv_fetch_stats {
    uint64_t gets, bytes_fetched, blobs;
} lv_fetch_stats;

lv_fetch *lv_fetch_new(const lv_repo *r, int threads, lv_fetch_deliver_fn deliver, void *arg);
void lv_fetch_free(lv_fetch *f);
/* f's workers take their buffers from owner's pool and give them back there (owner is freed after f):
 * fetches that never run at the same time then hold one set of buffers between them, not one each. */
void lv_fetch_share_buffers(lv_fetch *f, lv_fetch *owner);
/* Queue one blob of length bytes (the extent's length: must equal the blob's plaintext length), looked up
 * now, on the caller's thread (r->cat). */
int lv_fetch_add(lv_fetch *f, const uint8_t id[LV_HASH_LEN], uint32_t length, size_t dest, uint64_t offset);
/* The same for a blob the caller has just looked up (loc: lv_catalog_blob_find's answer for id). */
int lv_fetch_add_found(lv_fetch *f, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, uint32_t length,
                       size_t dest, uint64_t offset);
/* Queue one blob to be looked up later by lv_fetch_run_lookup, on the thread that runs the batch: so a
 * caller can queue on one thread while another thread, with its own catalog connection, looks up and
 * fetches (restore/files.c). */
void lv_fetch_queue(lv_fetch *f, const uint8_t id[LV_HASH_LEN], uint32_t length, size_t dest, uint64_t offset);
uint64_t lv_fetch_pending_bytes(const lv_fetch *f);
size_t lv_fetch_pending(const lv_fetch *f);
/* Forget everything queued (a batch abandoned after an earlier failure). */
void lv_fetch_clear(lv_fetch *f);
/* Fetch and deliver everything queued; the queue is empty afterwards, whatever the outcome. */
int lv_fetch_run(lv_fetch *f, size_t *failed_dest);
/* The same, after looking up what lv_fetch_queue queued through cat (owned by the calling thread). A
 * blob the catalog does not have (or has with another length or type) is LV_ERR_CORRUPT naming it, with
 * *failed_dest its destination. */
int lv_fetch_run_lookup(lv_fetch *f, lv_catalog *cat, size_t *failed_dest);
void lv_fetch_get_stats(const lv_fetch *f, lv_fetch_stats *st);

#endif
