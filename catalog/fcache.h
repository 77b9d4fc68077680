/* The files cache's table (schema: migration 3): per absolute path, the identity and change times a file
 * had when a backup last read it, and its extents (snapshot/tree.h wire form), so an unchanged file is
 * not read again (backup/files_cache.h decides what a row means). A local cache, not derived from the
 * repository: `catalog rebuild` empties it. gen is the backup run that last saw the path.
 *
 * An lv_catalog_fcache holds the statements one backup run reuses for every file; it lives as long as
 * the run and uses the catalog's connection (its thread). */
#ifndef LV_CATALOG_FCACHE_H
#define LV_CATALOG_FCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "common/buf.h"

typedef struct lv_catalog_fcache lv_catalog_fcache;

/* What identifies a file's content without reading it: device, inode, size and times in nanoseconds. */
typedef struct lv_fcache_key {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} lv_fcache_key;

int lv_catalog_fcache_open(lv_catalog *c, lv_catalog_fcache **out);
void lv_catalog_fcache_close(lv_catalog_fcache *f);

/* The row of path: *found = 0 when there is none; else its key, and its extents in *extents (replaced). */
int lv_catalog_fcache_get(lv_catalog_fcache *f, const char *path, size_t path_len, int *found, lv_fcache_key *key,
                          lv_buf *extents);
/* Insert or replace the row of path, seen by run gen. */
int lv_catalog_fcache_put(lv_catalog_fcache *f, const char *path, size_t path_len, const lv_fcache_key *key,
                          const uint8_t *extents, size_t extents_len, int64_t gen);
/* Mark the row of path as seen by run gen. */
int lv_catalog_fcache_touch(lv_catalog_fcache *f, const char *path, size_t path_len, int64_t gen);
/* Delete the rows of root (root_len bytes, no trailing '/') and below it that run gen did not see. */
int lv_catalog_fcache_prune(lv_catalog *c, const char *root, size_t root_len, int64_t gen);
/* Delete every row. */
int lv_catalog_fcache_clear(lv_catalog *c);

#endif
