/* The body of a PostgreSQL backup manifest (kind "pg", repo/manifest.h): everything a restore
 * needs, complete on its own.
 *
 * Every manifest is self-contained: an incremental backup's unchanged pages point at blobs the previous
 * backup stored, but the manifest lists every page run of every file itself. Deleting any backup never
 * breaks another (blobs are shared, not chained) and restore never walks a chain (docs/design.md 3): a page
 * is a whole image, or a whole image plus ONE delta (deltas are never taken against deltas).
 *
 * Files:
 *   LV_PGF_WHOLE   content = the concatenation of `extents` (each a whole data blob), in order; used for
 *                  non-relation files, FSM forks, and relation files whose size is not a multiple of
 *                  the block size.
 *   LV_PGF_PAGES   a relation segment file as page runs: extent i covers pages [first_page, first_page +
 *                  npages) and takes them from its blob at byte blob_page * block_size; or, for a DELTA
 *                  run (version 2), page first_page + k is page base_page + k of base_blob patched by
 *                  frame blob_page + k of the delta blob `blob` (pg/page_delta.h). Runs are sorted,
 *                  do not overlap, and cover [0, size / block_size) exactly (a full backup stores runs of
 *                  up to LV_PGMAN_RUN_PAGES pages per blob; an incremental's changed pages are grouped
 *                  into new blobs and unchanged runs keep the previous backup's (blob, blob_page)). A
 *                  relation file the previous backup lacked is stored as pages too, all of them new: the
 *                  same blobs a full backup would make (so they dedup with one), and the next
 *                  incremental can reuse its pages.
 * Paths are relative to the data directory; files in tablespaces are under "pg_tblspc/<oid>/...", and
 * the tablespace list gives each oid's original location (restore recreates the link or remaps it).
 *
 * Binary encoding (all integers little-endian; str = u32 length || bytes, no NUL; docs/pg-backups.md):
 *   "LVPG" || version u8 (1 to 4; written: 4) || type u8 (0 full, 1 incr)
 *   || sysid u64 || pg_version u32 (server_version_num) || timeline u32 || block_size u32
 *   || segment_blocks u32 (RELSEG_SIZE) || wal_segment_size u32 || data_checksums u8
 *   || start_lsn u64 || stop_lsn u64 || start_time i64 || stop_time i64
 *   || prev_id 32 bytes (raw id of the backup an incremental compared with; zeros for a full)
 *   || prev_start_lsn u64 || label str || backup_label str || tablespace_map str
 *   || tablespace_count u32 || { oid u32 || name str || location str }
 *   || file_count u32 || { path str || kind u8 || mode u32 || mtime i64 || size u64
 *                          || extent_count u32 || extents: WHOLE  { blob 32 || length u32 }
 *                                                          PAGES  { first_page u32 || npages u32
 *                                                                   || blob 32 || blob_page u32
 *                                                                   || version 2 only: delta u8 (0, 1)
 *                                                                   || delta 1 only: base_blob 32
 *                                                                      || base_page u32 } }
 *   || bad_page_count u32 || { file_index u32 || page u32 }
 *   || database_count u32 || { oid u32 || name str || relation_count u32
 *                              || { oid u32 || relfilenode u32 || tablespace u32 || relkind u8
 *                                   || rows i64 (-1 = not counted) || schema str || name str } }
 *   || rows_lsn u64 (the LSN at which `rows` are exact; 0 when they are not exact, see backup/pg.h)
 *   || version 3 and 4: rows_seed u8 (0, 1)
 *   || version 4 only: pending_count u32 || { xid u32 || tablespace u32 || database u32 || relfilenode u32
 *                                             || rows i64 }
 *                      || seed_lsn u64 || database_count times (in the databases' order)
 *                                         { xmin u64 || xmax u64 || xip_count u32 || { xid u64 } }
 * and nothing after.
 *
 * rows_seed (version 3): the exact counts may be carried into the next backup's for tables the WAL does
 * not show changed (backup/pg_rowwal.h): set only with rows_lsn, when no transaction with an xid was in
 * progress in the stop snapshot (one that commits later changes counts without touching a page;
 * backup/pg_relmap.h), or (version 4) when every count was carried or derived from the WAL, which then
 * also told the rows of the transactions open at the stop: `pending` lists them, per transaction id (a
 * subtransaction's own) and table (tablespace, database, relfilenode), rows inserted minus deleted, not
 * visible at rows_lsn; the next backup's WAL reading starts from them (backup/pg_rowwal.h).
 * Or (version 4) the counts, taken by count(*) in snapshots (the stop's or later ones: rows_lsn 0), seed
 * from their snapshots: seed_lsn is a WAL position before the first record of every transaction those
 * snapshots do not see, and each database's `snap` the snapshot its tables were counted in; the next
 * backup reads the WAL from seed_lsn and adds only the transactions its database's snapshot does not
 * see (backup/pg_relmap.h).
 *
 * Parser contract (lv_pgman_parse): strict, fuzzed (tests/fuzz/fuzz_pgman.c). LV_ERR_CORRUPT unless the
 * layout is exact; version known; block_size a power of two 1..32 KiB; strings within bounds (paths
 * 1..4095 bytes, relative, no "." or ".." component, no NUL, strictly increasing bytewise so unique;
 * names <= 1023 bytes); kind known; PAGES extents sorted, contiguous, 1 <= npages, covering exactly
 * size / block_size pages with size a multiple of block_size; WHOLE extent lengths 1..LV_BLOB_MAX summing
 * exactly to size (checked without overflow); bad pages' file_index < file_count; counts bounded by the
 * input length before anything is allocated. Reads only [buf, buf + len).
 * Also (the implementation's precise bounds): type 0 or 1; no NUL in any string (they are C strings);
 * label <= 1023 bytes, backup_label and tablespace_map <= 1 MiB, tablespace locations <= 4095 bytes;
 * paths have no empty component (no leading, trailing or doubled '/'); a PAGES run ends inside the
 * largest blob: (blob_page + npages) * block_size <= LV_BLOB_MAX, or for a delta run (base_page + npages)
 * * block_size <= LV_BLOB_MAX and blob_page + npages <= LV_PGDELTA_MAX_FRAMES; version 1 has no delta
 * runs; rows_seed 0 or 1, only from version 3 and only with rows_lsn or seed_lsn; pending entries only with
 * rows_seed and rows_lsn, xid >= 3 (a normal transaction id), rows not 0, sorted by (xid, tablespace,
 * database, relfilenode) without repeats, and not with seed_lsn; seed_lsn (version 4) only with rows_seed
 * (rows_lsn may be set too: counts exact at the stop that seed from their snapshots, since a transaction
 * was open at the stop), and then every database has a snapshot (xmax not 0), and only then; a snapshot
 * has xmin <= xmax and its xip strictly increasing within [xmin, xmax). */
#ifndef LV_PG_MANIFEST_H
#define LV_PG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/crypto.h"

#define LV_PGMAN_MAGIC "LVPG"
#define LV_PGMAN_VERSION 4 /* 2 added delta runs, 3 rows_seed, 4 pending; older versions parse and re-encode as
                              * themselves */
#define LV_PGMAN_KIND "pg"
#define LV_PGMAN_RUN_PAGES 128 /* pages per blob in a full backup: 1 MiB with 8 KiB pages */

enum { LV_PGB_FULL = 0, LV_PGB_INCR = 1 };
enum { LV_PGF_WHOLE = 1, LV_PGF_PAGES = 2 };

typedef struct lv_pgman_extent {
    uint8_t blob[LV_HASH_LEN];
    uint32_t first_page, npages, blob_page; /* PAGES (delta: blob_page = first frame) */
    uint32_t length;                        /* WHOLE: bytes of this blob */
    uint8_t delta;                          /* PAGES: 1 = a delta run against base_blob */
    uint8_t base_blob[LV_HASH_LEN];
    uint32_t base_page;
} lv_pgman_extent;

typedef struct lv_pgman_file {
    char *path;
    uint8_t kind;
    uint32_t mode;
    int64_t mtime;
    uint64_t size;
    lv_pgman_extent *extents;
    uint32_t nextents;
} lv_pgman_file;

typedef struct lv_pgman_tablespace {
    uint32_t oid;
    char *name, *location;
} lv_pgman_tablespace;

typedef struct lv_pgman_relation {
    uint32_t oid, relfilenode, tablespace;
    uint8_t relkind;  /* pg_class.relkind: 'r', 'i', 'S', 't', 'm', 'p', ... */
    int64_t rows;     /* exact row count at rows_lsn, -1 = not counted */
    char *schema, *name;
} lv_pgman_relation;

/* A transaction snapshot (pg_current_snapshot(): 64-bit transaction ids, epoch included); xmax 0: none. */
typedef struct lv_pgman_snapshot {
    uint64_t xmin, xmax;
    uint64_t *xip;    /* in progress, sorted, each in [xmin, xmax) */
    uint32_t nxip;
} lv_pgman_snapshot;

typedef struct lv_pgman_database {
    uint32_t oid;
    char *name;
    lv_pgman_relation *relations;
    uint32_t nrelations;
    lv_pgman_snapshot snap;        /* version 4, with seed_lsn: the snapshot its tables were counted in */
} lv_pgman_database;

/* Rows a transaction open at rows_lsn wrote into a table (above): visible once it commits. */
typedef struct lv_pgman_pending {
    uint32_t xid, tablespace, database, relfilenode;
    int64_t rows;
} lv_pgman_pending;

typedef struct lv_pgman_bad_page {
    uint32_t file_index, page;
} lv_pgman_bad_page;

typedef struct lv_pgman {
    uint8_t version;               /* as parsed; 0 when encoding means LV_PGMAN_VERSION */
    uint8_t type;
    uint64_t sysid;
    uint32_t pg_version, timeline, block_size, segment_blocks, wal_segment_size;
    uint8_t data_checksums;
    uint64_t start_lsn, stop_lsn;
    int64_t start_time, stop_time;
    uint8_t prev_id[LV_HASH_LEN];
    uint64_t prev_start_lsn;
    char *label, *backup_label, *tablespace_map;
    lv_pgman_tablespace *tablespaces;
    uint32_t ntablespaces;
    lv_pgman_file *files;          /* sorted by path (bytewise) */
    uint32_t nfiles;
    lv_pgman_bad_page *bad_pages;
    uint32_t nbad_pages;
    lv_pgman_database *databases;
    uint32_t ndatabases;
    uint64_t rows_lsn;
    uint8_t rows_seed;             /* version 3: the counts may be carried into the next backup's (above) */
    lv_pgman_pending *pending;     /* version 4: open transactions' rows at rows_lsn (above) */
    uint32_t npending;
    uint64_t seed_lsn;             /* version 4: counts seeded from their snapshots (above); 0: not */
} lv_pgman;

/* Encode m (valid as the parser would accept it; files sorted) and append to out. LV_ERR_INTERNAL if m
 * breaks the contract (a bug in the caller), so a manifest that would not parse is never written. */
int lv_pgman_encode(const lv_pgman *m, lv_buf *out);
/* Strict parse (above). On success *m owns everything (lv_pgman_free); on failure *m is zeroed. */
int lv_pgman_parse(const uint8_t *buf, size_t len, lv_pgman *m);
void lv_pgman_free(lv_pgman *m);
/* Only the files and their extents (most of a parsed manifest's memory): an incremental is done with its
 * previous backup's once its pages are read, and keeps the rest (databases, row counts). */
void lv_pgman_free_files(lv_pgman *m);

/* qsort order of pending entries (xid, tablespace, database, relfilenode): the order the encoding requires. */
int lv_pgman_pending_cmp(const void *a, const void *b);

/* Index of path in m->files (binary search), or -1. */
long lv_pgman_find(const lv_pgman *m, const char *path);

/* Read and parse manifest id (must be kind "pg"): lv_manifest_read + lv_pgman_parse. */
struct lv_repo;
int lv_pgman_load(const struct lv_repo *r, const char *id_hex, lv_pgman *m);

/* Register the "pg" kind's blob references and WAL range with repo/registry.h (repo check). Called once
 * at startup (cli/register.c). */
void lv_pgman_register(void);

#endif
