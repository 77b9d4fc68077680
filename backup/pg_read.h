/* Reading the data directory into blobs: reader threads and the packer's thread (backup/pg.h).
 *
 * `workers` reader threads take files in turn (a full backup's page files larger than chunk_pages in
 * chunks, so that the readers share a large relation segment), read each with large sequential reads (1 MiB, read-ahead
 * hinted), verify page checksums, decide per page whether it changed (incremental) and hand page runs
 * to the calling thread through a bounded queue; the calling thread owns the packer (repo/blobstore.h:
 * one thread per packer), stores each run as one blob and builds the file's manifest entry once its
 * last run arrived. So reading, checksumming and the packer's sealing workers all overlap.
 *
 * Storage per file (pg/manifest.h):
 *   relation forks (pg_walk.h `pages`) whose size is a multiple of the block size: LV_PGF_PAGES. Full:
 *   every LV_PGMAN_RUN_PAGES pages are one blob. Incremental: a page keeps prev's (blob, blob_page)
 *   iff all of these hold (the reasons, fork by fork: docs/pg-backups.md, "What an incremental keeps"):
 *     - the file is a main or init fork (never the visibility map: PostgreSQL clears its bits without
 *       moving the map page's LSN);
 *     - its database directory was not created again since prev (its PG_VERSION is prev's, by mtime,
 *       and older than prev's start: CREATE DATABASE ... FILE_COPY copies files with old page LSNs);
 *     - the page is not new (pd_upper 0: a page extended but never written has no LSN to judge);
 *     - its pd_lsn is below prev->start_lsn and prev lists the file as pages with that page.
 *   The other pages are packed, in order, into new blobs of up to RUN_PAGES pages
 *   (a file prev lacked is thus stored exactly as a full backup stores it, and deduplicates with it).
 *   With `deltas`, a changed page that prev has is stored as a delta against its last whole image
 *   where that pays (pg/page_delta.h; the rule is at base_page in pg_read.c): each reader thread
 *   opens its own catalog connection and reads those base blobs.
 *   Extents merge consecutive pages that are consecutive in one blob (and, for deltas, in one base).
 *   everything else: LV_PGF_WHOLE, blobs of 1 MiB of content (content-addressed: unchanged ones dedup).
 * --verify-map (verify_map set): what an incremental by the block maps would read is counted beside the LSN
 * rule: a page whose file prev lacks or may not keep from, past prev's size, in a database directory created
 * in the range, or whose block the maps name (at or past a fork's limit included), would be read; the other
 * pages would be kept from prev. A kept page that the LSN rule stores as changed with pd_lsn in [prev
 * start, start) is a miss (a warning each, the first 10; counted in map_missed); pages changed after the
 * start are not (WAL replay from the start rewrites them), nor new pages (pd_upper 0: nothing to compare;
 * a page only becomes new again by a truncation or a new file, which the maps name).
 * By the maps (map set, verify_map not): a page file prev has and may keep from, outside a database
 * directory the maps say was created in the range, has only the pages read that the maps name or that lie
 * past prev's size (ranges of consecutive such pages, one read each); its other pages keep prev's image
 * unread (so their checksums are not verified: the full backup and the pages read are). Correct because
 * every change of a page from prev's start to this start is a block reference in that WAL (the rules and
 * their tests: docs/pg-backups.md, "The block map"), and changes after the start are replayed from it
 * (full-page images: a backup forces full_page_writes). The pages read follow the LSN rule above.
 * A file that grows or shrinks while read keeps what was read (whole pages only for page files): WAL
 * replay fixes it. A file that vanished before it was opened is left out silently. */
#ifndef LV_BACKUP_PG_READ_H
#define LV_BACKUP_PG_READ_H

#include <stdint.h>

#include "backup/pg_walk.h"
#include "pg/manifest.h"
#include "repo/blobstore.h"
#include "wal/blockset.h"

#define LV_PG_READ_CHUNK_PAGES 4096 /* 32 MiB of 8 KiB pages: a 1 GiB segment is 32 tasks */

typedef struct lv_pg_relrows {
    uint32_t spc, db, rel;
    int64_t rows;                   /* -1: unknown */
} lv_pg_relrows;

typedef struct lv_pg_read {
    /* in */
    lv_repo *r;
    lv_packer *p;
    const char *pgdata;
    const lv_pg_tree *tree;
    uint32_t block_size, segment_blocks;
    int checksums;
    uint64_t start_lsn;
    const lv_pgman *prev;           /* NULL: a full backup; else prev->stop_lsn <= start_lsn */
    int deltas;                     /* incremental: store changed pages as deltas where it pays */
    int workers;
    int progress;                   /* print bytes, rate and ETA on stderr */
    const lv_blkset *verify_map;    /* incremental, --verify-map: the block maps of [prev start, start)
                                       (wal/walmap.h), compared with the LSN rule page by page (below) */
    const lv_blkset *map;           /* incremental by the maps (NULL: the LSN scan): the same maps, which
                                       decide which pages are read (below) */
    int page_rows;                  /* a full backup: the rows of each table whose pages are all-visible
                                       (relrows, below) */
    uint32_t chunk_pages;           /* a full backup reads a larger page file in chunks of this many pages,
                                       shared by the readers; 0: LV_PG_READ_CHUNK_PAGES (tests set less) */
    /* internal */
    int64_t *live;                  /* page_rows: per tree entry, the rows of a main fork file, -1 unknown */
    uint8_t *keep;                  /* per tree entry: may it keep pages of prev (decided before reading) */
    /* out */
    lv_pgman_file *files;           /* sorted like tree (vanished files left out) */
    uint32_t nfiles;
    lv_pgman_bad_page *bad;
    uint32_t nbad;
    uint64_t bytes, bytes_read, bytes_new;
    uint64_t delta_pages, delta_bytes, base_reads; /* pages stored as deltas, their blobs' bytes, bases read */
    uint64_t map_pages, map_pages_read, map_missed; /* verify_map: pages of page files read, of those the pages an
                                       incremental by the map would read, and the pages it would have missed;
                                       map: pages of page files, of those the pages read */
    lv_pg_relrows *relrows;         /* page_rows: one per relation with a main fork, sorted (spc, db, rel) */
    uint32_t nrelrows;
} lv_pg_read;

/* page_rows: the rows of relation (spc, db, rel) (spc and db as the block maps name them: 1663 for base/)
 * as its main fork's pages were read: every segment file read whole, each of its pages all-visible or new
 * (lv_pg_heap_page_rows), none with a bad checksum and none with pd_lsn at or past the start (changed
 * since: it may be torn, and a count needs the WAL anyway). -1 otherwise, or when no such file was read.
 * The rows as they were read: they are the rows at the stop only if no WAL record of the backup's range
 * names the relation's main fork (the caller checks that against the block maps, backup/pg.c). */
int64_t lv_pg_read_rows(const lv_pg_read *x, uint32_t spc, uint32_t db, uint32_t rel);

/* Read everything; LV_ERR_INTERRUPTED when lv_interrupted() is set, LV_ERR_IO for a file that
 * cannot be read (the message names it), the packer's codes. Each bad page is logged as a warning. */
int lv_pg_read_all(lv_pg_read *x);
void lv_pg_read_free(lv_pg_read *x);

#endif
