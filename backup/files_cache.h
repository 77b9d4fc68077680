/* The files cache: lets a backup skip reading a file that has not changed since it was last read.
 *
 * Table files_cache of the catalog (catalog/fcache.h), keyed by absolute path:
 * the device, inode, size, mtime and ctime (nanoseconds) the file had when it was read, and its extents
 * (data blob ids at offsets, snapshot/tree.h wire form). A file hits when all five values are equal AND
 * every blob id of its extents is in the catalog's blob index: a cache row is never trusted to
 * reference data the repository does not have (a crashed backup, a rebuilt catalog, a pruned blob all
 * just cause a miss and a re-read).
 *
 * The caller must not record a file whose mtime or ctime is within LV_FCACHE_RACY_NS of the moment it
 * started reading it: timestamps are coarse (a kernel tick), so a write right after our read could
 * leave them unchanged, and the cache would then hide that change forever (git's "racily clean"
 * problem). Such files are simply read again next time.
 *
 * Writes (put, touch) are queued and written in batches by lv_fcache_flush in one short transaction;
 * call it only where no other catalog transaction is open (between lv_packer calls: the packer opens
 * its own). gen identifies the backup run: rows not touched by a run, under the roots it backed up,
 * are deleted by lv_fcache_prune once its snapshot is committed, so deleted files leave the cache.
 *
 * Threads: the same as the catalog it uses (one thread). */
#ifndef LV_BACKUP_FILES_CACHE_H
#define LV_BACKUP_FILES_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "catalog/catalog.h"
#include "catalog/fcache.h"
#include "repo/repo.h"

#define LV_FCACHE_RACY_NS INT64_C(1000000000)

typedef struct lv_fcache lv_fcache;

int lv_fcache_open(lv_catalog *c, int64_t gen, lv_fcache **out);
void lv_fcache_close(lv_fcache *f);  /* drops what was not flushed */

/* *hit = 1 and the extents appended to out when path is cached with exactly key and all its blobs are
 * indexed; *hit = 0 otherwise (*known = 1 when the path had a row at all: a changed file). */
int lv_fcache_lookup(lv_fcache *f, const char *path, const lv_fcache_key *key, lv_buf *out, int *hit,
                     int *known);
void lv_fcache_put(lv_fcache *f, const char *path, const lv_fcache_key *key, const uint8_t *extents,
                   size_t len);
void lv_fcache_touch(lv_fcache *f, const char *path);
/* Write the queue when it is large (force = 0) or always (force = 1). */
int lv_fcache_flush(lv_fcache *f, int force);
/* Delete rows under root (an absolute path; "/" = all) that this run did not see. */
int lv_fcache_prune(lv_fcache *f, const char *root);

/* The catalog-rebuild step (empties the cache: its rows may name blobs the rebuilt index no longer has),
 * and its registration (repo/registry.h). */
int lv_fcache_rebuild(lv_repo *r, uint64_t *damaged);
int lv_fcache_register(void);

#endif
