/* The repository's index in the catalog (schema: migration 1): where every blob lives, which packs exist
 * and which index object describes each, and which index objects were read. Derived from the repository:
 * `catalog rebuild` refills it from index/ and the packs' headers. The same threading and error rules as
 * catalog/catalog.h. */
#ifndef LV_CATALOG_BLOBS_H
#define LV_CATALOG_BLOBS_H

#include <stdint.h>

#include "catalog/catalog.h"

/* Where a blob lives: which pack, at which offset, its stored (sealed) length and its plaintext length. */
typedef struct lv_blob_loc {
    uint8_t pack[32];
    uint64_t offset;
    uint32_t length;      /* bytes in the pack (sealed) */
    uint32_t raw_length;  /* plaintext bytes */
    uint8_t type;         /* LV_BLOB_DATA, LV_BLOB_TREE (repo/pack.h) */
    uint8_t indexed;      /* lv_catalog_blob_find: its pack is listed by an index object. A blob known
                           * only from an unindexed pack's header (catalog rebuild) can be read, but
                           * writers must not deduplicate against it: prune may delete such a pack */
} lv_blob_loc;

/* Blob index. find: LV_ERR_NOT_FOUND when absent. add: an existing id keeps its first location. */
int lv_catalog_blob_find(lv_catalog *c, const uint8_t id[32], lv_blob_loc *loc);
int lv_catalog_blob_add(lv_catalog *c, const uint8_t id[32], const lv_blob_loc *loc);
int64_t lv_catalog_blob_count(lv_catalog *c);

/* The blob epoch: a counter bumped (by a trigger, in the same transaction) whenever a pack leaves the
 * catalog or its row changes, the only ways a blob can stop being indexed. A fact "these blobs were all
 * indexed" established at epoch E still holds while the epoch is E: the files cache (backup/files_cache.h)
 * trusts its records this way instead of looking up every blob of every unchanged file. */
int lv_catalog_blob_epoch(lv_catalog *c, int64_t *epoch);

/* Packs and index objects: which index object describes which pack. */
int lv_catalog_pack_add(lv_catalog *c, const uint8_t pack[32], uint64_t size, const uint8_t index_id[32]);
/* index_seen: 1 known, 0 not known, -LV_ERR_IO (negative) when the lookup itself failed. */
int lv_catalog_index_seen(lv_catalog *c, const uint8_t index_id[32]);
int lv_catalog_index_add(lv_catalog *c, const uint8_t index_id[32]);
/* Iterate the index objects the catalog has read. */
int lv_catalog_index_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t index_id[32]), void *arg);
/* Forget one pack and the blob rows that point into it. */
int lv_catalog_pack_forget(lv_catalog *c, const uint8_t pack[32]);
/* Bytes of every pack the catalog knows (status, metrics). */
int lv_catalog_pack_bytes(lv_catalog *c, uint64_t *bytes);
/* Forget every blob, pack and index object (before reading index/ again; manifests stay). */
int lv_catalog_index_forget_all(lv_catalog *c);
/* Iterate packs (for repo check). */
int lv_catalog_pack_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t pack[32], uint64_t size),
                         void *arg);
/* Iterate blobs (for repo check). */
int lv_catalog_blob_each(lv_catalog *c,
                         int (*cb)(void *arg, const uint8_t id[32], const lv_blob_loc *loc), void *arg);

#endif
