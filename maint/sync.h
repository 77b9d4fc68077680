/* Catalog sync: bring the catalog up to date with the repository without a full rebuild, so that a
 * catalog never describes objects another host (or prune) has removed, and sees what others added.
 *
 * Index objects: list index/. When an index object the catalog has read is gone (prune superseded it),
 * every blob, pack and index row is forgotten and every listed index object is read again: the blobs'
 * locations may have moved to new packs, and a writer must never deduplicate against a pack prune
 * deleted. Otherwise only the index objects the catalog has not read yet are read and recorded.
 * Unindexed packs are never read here (their blobs are not candidates for deduplication anyway:
 * lv_blob_loc.indexed).
 * Manifests: list manifests/; record the ones the catalog lacks (their envelope: kind, time, summary),
 * forget the rows of manifests that are gone (forgotten on another host).
 * Then the steps other modules registered (repo/registry.h: the WAL archive's wal_files).
 *
 * In one catalog transaction; an unreadable object is skipped with a warning (repo check reports it).
 * Commands that write or read blobs sync right after announcing themselves (repo/lock.h in-flight
 * markers): the order prune's safety argument relies on (docs/repository-format.md, section 10). */
#ifndef LV_MAINT_SYNC_H
#define LV_MAINT_SYNC_H

#include <stdint.h>

#include "repo/repo.h"

typedef struct lv_sync_stats {
    uint64_t indexes_read, manifests_added, manifests_removed;
    int reread;   /* 1: an index object was gone, every index object was read again */
} lv_sync_stats;

/* r->cat must be attached. st may be NULL. */
int lv_catalog_sync(lv_repo *r, lv_sync_stats *st);

#endif
