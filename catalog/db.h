/* Internal to catalog/: the connection behind an lv_catalog, the statement helpers every table module
 * uses, and each table module's part of the schema. Nothing outside catalog/ includes this header (nor
 * <sqlite3.h>): the rest of labvault sees typed functions only (tests/layers.py checks it).
 *
 * Errors: every SQLite failure becomes LV_ERR_IO naming the catalog file and the operation. */
#ifndef LV_CATALOG_DB_H
#define LV_CATALOG_DB_H

#include <sqlite3.h>

#include "catalog/catalog.h"

struct lv_catalog {
    sqlite3 *db;
    char *path;
    int in_tx;
    sqlite3_stmt *st_blob_find, *st_blob_add; /* the hot blob lookups, prepared once */
};

/* LV_ERR_IO "catalog PATH: op: sqlite's message". */
int lv_cat_err(lv_catalog *c, const char *op);
/* Run SQL without rows (several statements allowed). */
int lv_cat_exec(lv_catalog *c, const char *sql, const char *op);
int lv_cat_prepare(lv_catalog *c, const char *sql, sqlite3_stmt **st);
/* Step a statement that returns no rows to its end, then finalize it. */
int lv_cat_step_done(lv_catalog *c, sqlite3_stmt *st, const char *op);
/* Column text, "" for NULL. */
const char *lv_cat_text(sqlite3_stmt *st, int col);
/* count(*)-style query: the first column of its one row; -1 (message recorded) on failure. */
int64_t lv_cat_count(lv_catalog *c, const char *sql, const char *text_param);

/* The keys a sync step saw in the repository's listing: a temporary table `table`(key TEXT PRIMARY KEY),
 * emptied at begin and dropped at end. With forget, end runs first_sql, then more_sql (either may be NULL;
 * they name the table and its column `key`) and sets *removed to the rows first_sql deleted. */
typedef struct lv_cat_seen {
    lv_catalog *c;
    sqlite3_stmt *add;
    const char *table, *what; /* static strings */
} lv_cat_seen;
int lv_cat_seen_begin(lv_catalog *c, const char *table, const char *what, lv_cat_seen *s);
int lv_cat_seen_add(lv_cat_seen *s, const char *key);
int lv_cat_seen_end(lv_cat_seen *s, int forget, const char *first_sql, const char *more_sql, int64_t *removed);

/* The schema, one part per table module, next to its typed functions. Migration N (catalog.c) runs
 * the parts listed for it, in one transaction; a published part is never edited. */
extern const char lv_cat_schema_blobs[];     /* 1: blobs, packs, index objects (blobs.c) */
extern const char lv_cat_schema_manifests[]; /* 1: manifests (manifests.c) */
extern const char lv_cat_schema_wal[];       /* 2: wal_files, wal_failures (wal.c) */
extern const char lv_cat_schema_fcache[];    /* 3: files_cache (fcache.c) */
extern const char lv_cat_schema_drills[];    /* 4: drills (drills.c) */
extern const char lv_cat_schema_walsum[];    /* 5: per-segment WAL summaries (walsum.c) */
extern const char lv_cat_schema_walmap[];    /* 6: per-segment WAL block maps (walmap.c) */
extern const char lv_cat_schema_blob_epoch[]; /* 7: blob_epoch and its triggers (blobs.c) */
extern const char lv_cat_schema_fcache_dirs[]; /* 7: files_dirs replaces files_cache (fcache.c) */

/* Prepare the statements blobs.c keeps for the life of the connection, and finalize them. */
int lv_cat_blobs_prepare(lv_catalog *c);
void lv_cat_blobs_finalize(lv_catalog *c);

#endif
