/* Writing a pg manifest's files into a data directory (restore/pg.h), fresh or --delta.
 *
 * lv_pg_write_prepare checks, before anything is written: the target directory is missing or empty
 * (LV_ERR_CONFLICT otherwise, unless delta; with delta a postmaster.pid naming a live process is
 * LV_ERR_CONFLICT), every --tablespace-map entry names a tablespace of the backup (LV_ERR_USAGE), and
 * every tablespace location is missing or empty (unless delta). It resolves each tablespace's final
 * location.
 *
 * lv_pg_write then creates the directory (0700), the tablespace links pg_tblspc/<oid> -> location
 * (absolute locations; an in-place tablespace is a plain directory), the files and their parents
 * (0700), and the empty directories the server needs. Files are written in batches: a batch opens up
 * to LV_PGW_FILES files, queues their blobs with restore/fetch.h (parallel ranged GETs, every blob
 * authenticated before a byte of it is written) and delivers them with pwrite: WHOLE extents one after
 * the other, PAGES runs at first_page * block_size from blob_page * block_size of their blob. A delta run
 * (pg/page_delta.h) is written as its base pages with the batch; once the batch is written, its delta
 * blobs are fetched the same way and each page is read back, decoded against itself and rewritten (so
 * files are opened read-write). Two batches alternate: while a runner thread writes one, the calling
 * thread opens the next one's files and looks their blobs up in the catalog (otherwise the fetch workers
 * wait for that at every batch); an interruption or failure lets the batch being written finish or fail,
 * starts nothing more, and closes every file. Modes come from the manifest (permission bits), mtimes too. Nothing is fsynced here: write-back of each batch
 * is started (sync_file_range) and lv_pg_sync waits for it once at the end, per file system.
 *
 * The top-level PG_VERSION is written as LV_PG_VERSION_STAGED and published by lv_pg_mark_finish once
 * everything else is in place (restore/pg_mark.h: the caller marks the directory before lv_pg_write);
 * a delta run keeps the marker.
 *
 * Delta: an existing file is kept where it matches: a WHOLE extent, or a PAGES run that covers its whole
 * blob, is compared by computing the blob id of the local bytes (no download); runs that are part of a
 * larger blob, and delta runs, are rewritten. Files not in the manifest are removed (also in the tablespaces), so the
 * excluded directories (pg_wal, ...) end up empty as on a fresh restore; links are replaced when they
 * point elsewhere. */
#ifndef LV_RESTORE_PG_WRITE_H
#define LV_RESTORE_PG_WRITE_H

#include <stdint.h>

#include "pg/manifest.h"
#include "restore/pg.h"

#define LV_PGW_FILES 256            /* files open in one batch */
#define LV_PGW_BATCH (64u << 20)    /* blob bytes queued in one batch */

typedef struct lv_pg_write_stats {
    uint64_t files, files_kept, bytes_written, bytes_fetched, blobs_fetched, gets;
    double seconds_download, seconds_write;
} lv_pg_write_stats;

/* locations[i] (owned; free with lv_pg_write_locations_free) is tablespace i's final location. */
int lv_pg_write_prepare(const lv_pgman *m, const lv_pg_restore_opts *o, char ***locations);
void lv_pg_write_locations_free(const lv_pgman *m, char **locations);

int lv_pg_write(const lv_repo *r, const lv_pgman *m, const lv_pg_restore_opts *o, char *const *locations,
                lv_pg_write_stats *st);

/* syncfs the data directory's and each tablespace's file system. */
int lv_pg_sync(const char *dir, const lv_pgman *m, char *const *locations);

#endif
