/* The files cache: lets a backup skip reading a file that has not changed since it was last read.
 *
 * One record per directory (table files_dirs of the catalog, catalog/fcache.h), keyed by the directory's
 * absolute path: for each regular file in it, sorted by name, the device, inode, size, mtime and ctime
 * (nanoseconds) it had when it was read, its extended attributes and its extents (data blob ids at
 * offsets, snapshot/tree.h wire form); for each subdirectory walked, its name. The walk visits a
 * directory's entries in the same order, so a file is looked up by merging: one catalog lookup per
 * directory, none per file, and memory for the records of the directories being walked (one level per
 * depth: their width, not the number of files).
 *
 * A file hits when all five values are equal. Its content is then not read, and neither are its extended
 * attributes: every change of an xattr (ACLs included) changes the ctime. A hit's extents are trusted
 * only when every blob they name is indexed in the catalog:
 *   - a record is written unverified and verified once the run that wrote it has committed its snapshot
 *     (lv_fcache_commit: all its blobs are indexed by then), at the blob epoch read when the run began
 *     (catalog/blobs.h: the counter of every way a blob can leave the index);
 *   - a record verified at the current epoch is trusted as a whole, without a lookup per blob;
 *   - any other record (unverified: a run that crashed or was interrupted; or an older epoch: a prune or
 *     a catalog rebuild since) has each hit's blobs looked up in the catalog, and is written again.
 * So a cached entry never makes a snapshot reference a blob the repository does not have.
 *
 * The caller must not mark trusted a file whose mtime or ctime is within LV_FCACHE_RACY_NS of the moment
 * it started reading it: timestamps are coarse (a kernel tick), so a write right after our read could
 * leave them unchanged, and the cache would then hide that change forever (git's "racily clean"
 * problem). Such files are recorded untrusted: known (a later read counts as "changed"), never a hit.
 *
 * Records are rewritten only when something in the directory changed (or was not verified). A
 * subdirectory that is gone, excluded, or no longer walked (another file system, unreadable) has its
 * record and all records below it deleted when its parent's walk passes its name, so deleted trees leave
 * the cache. Writes are queued and written in batches by lv_fcache_flush, each in one short transaction
 * (at most a few MiB queued); call it only where no other catalog transaction is open (between lv_packer
 * calls: the packer opens its own).
 *
 * Use: lv_fcache_dir_begin(path) .. lv_fcache_find / lv_fcache_file / lv_fcache_subdir for its entries in
 * increasing name order .. lv_fcache_dir_end, nested for subdirectories; a root that is a regular file
 * is its own directory (begin with its own path, then its name). lv_fcache_commit after the manifest.
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

/* What identifies a file's content without reading it: device, inode, size and times in nanoseconds. */
typedef struct lv_fcache_key {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} lv_fcache_key;

/* What a hit gives back: views into the directory's record, valid until its lv_fcache_dir_end. */
typedef struct lv_fcache_hit {
    const uint8_t *extents, *xattrs;
    size_t extents_len, xattrs_len;
    uint32_t nxattrs;
} lv_fcache_hit;

/* gen identifies the run (its records); the blob epoch is read now. */
int lv_fcache_open(lv_catalog *c, int64_t gen, lv_fcache **out);
void lv_fcache_close(lv_fcache *f);  /* drops what was not flushed */

int lv_fcache_dir_begin(lv_fcache *f, const char *path);
/* Ends the innermost directory: queues its record when it changed. ok = 0 (the walk failed or left the
 * directory out) only pops it. */
int lv_fcache_dir_end(lv_fcache *f, int ok);

/* Look up the regular file name (names in increasing order within a directory) with key: *hit = 1 and h
 * filled when it is unchanged (then it is also recorded for this run); else *hit = 0, and *known = 1 when
 * the directory's record had it (a changed file). */
int lv_fcache_find(lv_fcache *f, const char *name, const lv_fcache_key *key, lv_fcache_hit *h, int *hit,
                   int *known);
/* Record a regular file this run read (not after a hit of the same name). */
void lv_fcache_file(lv_fcache *f, const char *name, const lv_fcache_key *key, int trusted, uint32_t nxattrs,
                    const uint8_t *xattrs, size_t xattrs_len, const uint8_t *extents, size_t extents_len);
/* Record a subdirectory of the current directory that this run walked (after its dir_end). */
void lv_fcache_subdir(lv_fcache *f, const char *name);
/* Forget path and everything below it (a root that is no longer a directory). */
void lv_fcache_forget(lv_fcache *f, const char *path);

/* Write the queue when it is large (force = 0) or always (force = 1). */
int lv_fcache_flush(lv_fcache *f, int force);
/* The run's snapshot is committed: write the queue and verify this run's records. */
int lv_fcache_commit(lv_fcache *f);

/* The catalog-rebuild step (empties the cache: its rows may name blobs the rebuilt index no longer has),
 * and its registration (repo/registry.h). */
int lv_fcache_rebuild(lv_repo *r, uint64_t *damaged);
int lv_fcache_register(void);

#endif
