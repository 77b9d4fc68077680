/* The files cache's table (schema: migration 7, which replaced migration 3's row per file): one row per
 * directory a backup walked, keyed by its absolute path (bytes: paths need not be UTF-8), holding
 *   entries  what the backup saw in it: an opaque record that backup/files_cache.c encodes and checks;
 *   gen      the backup run that wrote the row;
 *   epoch    the blob epoch (catalog/blobs.h) at which every blob the record names was known to be
 *            indexed: NULL until the run that wrote it has committed its snapshot (lv_catalog_fcache_verify).
 * One row per directory, not per file: an unchanged directory costs one lookup and no write, whatever
 * its width. A local cache, not derived from the repository: `catalog rebuild` empties it.
 *
 * An lv_catalog_fcache holds the statements one backup run reuses; it lives as long as the run and uses
 * the catalog's connection (its thread). */
#ifndef LV_CATALOG_FCACHE_H
#define LV_CATALOG_FCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "common/buf.h"

typedef struct lv_catalog_fcache lv_catalog_fcache;

int lv_catalog_fcache_open(lv_catalog *c, lv_catalog_fcache **out);
void lv_catalog_fcache_close(lv_catalog_fcache *f);

/* The row of path: *found = 0 when there is none; else its record in *entries (replaced) and its epoch
 * (*epoch = -1 when NULL: not verified). */
int lv_catalog_fcache_get(lv_catalog_fcache *f, const char *path, size_t path_len, int *found, int64_t *epoch,
                          lv_buf *entries);
/* Insert or replace the row of path, written by run gen, not verified. */
int lv_catalog_fcache_put(lv_catalog_fcache *f, const char *path, size_t path_len, const uint8_t *entries,
                          size_t entries_len, int64_t gen);
/* Delete the row of path and the rows of every path below it. */
int lv_catalog_fcache_forget(lv_catalog_fcache *f, const char *path, size_t path_len);
/* Mark the rows written by run gen as verified at epoch (once its snapshot is committed). */
int lv_catalog_fcache_verify(lv_catalog *c, int64_t gen, int64_t epoch);
/* Delete every row. */
int lv_catalog_fcache_clear(lv_catalog *c);

#endif
