/* The local SQLite catalog: an index of the repository and a journal of local events.
 *
 * One database file (default /var/lib/labvault/catalog.db, or [global] catalog = PATH; created mode 0600,
 * its -wal and -shm files follow: it holds file and table names), WAL journal mode,
 * a busy timeout (30 s) so archive_command, a backup and a drill can run at once, and a schema version
 * with forward migrations (meta table, key "schema_version"). It belongs to exactly one repository: the
 * repository id is stored at creation, and opening it for another repository is LV_ERR_CONFLICT with a
 * message that says to run `labvault catalog rebuild`.
 *
 * Everything in it except local events can be recreated from the repository alone (lv_catalog_reset
 * followed by re-reading index/ and manifests/): the bucket is the truth, the catalog is an index.
 *
 * The tables have typed functions, each in its module: catalog/blobs.h (blobs, packs, index objects),
 * catalog/manifests.h, catalog/wal.h (the WAL archive and its journal), catalog/fcache.h (the files cache),
 * catalog/drills.h (drill records); catalog/walk_table.h is a temporary table of its own. No other folder
 * sees SQLite.
 *
 * Threads: one lv_catalog per thread (SQLite connections are not shared); several processes are fine.
 * Every function returns an lv_code; SQLite failures are LV_ERR_IO naming the catalog file. */
#ifndef LV_CATALOG_CATALOG_H
#define LV_CATALOG_CATALOG_H

#include <stdint.h>

typedef struct lv_catalog lv_catalog;

/* Open or create; creates the parent directory. repo_id_hex binds the catalog to its repository: a new
 * catalog records it, an existing one for another repository is LV_ERR_CONFLICT. NULL skips the check
 * and binds nothing (for `catalog rebuild`: open, lv_catalog_reset, lv_catalog_set_repo). A catalog
 * whose schema is newer than this build is LV_ERR_CONFIG. */
int lv_catalog_open(const char *path, const char *repo_id_hex, lv_catalog **out);
/* Rebind the catalog to a repository (after lv_catalog_reset, when rebuilding for another one). */
int lv_catalog_set_repo(lv_catalog *c, const char *repo_id_hex);
void lv_catalog_close(lv_catalog *c);
/* The schema version this build creates and migrates to (the number of migrations). */
int lv_catalog_schema_version(void);
const char *lv_catalog_path(const lv_catalog *c);

/* Group many writes into one transaction (BEGIN IMMEDIATE). */
int lv_catalog_begin(lv_catalog *c);
int lv_catalog_commit(lv_catalog *c);
void lv_catalog_rollback(lv_catalog *c);

/* Key/value metadata for the other modules (last rebuild time, ...). get: LV_ERR_NOT_FOUND if unset;
 * *out is malloc'ed, the caller frees it. */
int lv_catalog_meta_set(lv_catalog *c, const char *key, const char *value);
int lv_catalog_meta_get(lv_catalog *c, const char *key, char **out);

/* Delete everything derived from the repository (blobs, packs, index objects, manifests), keep local
 * events, so the repository can be re-read into it. */
int lv_catalog_reset(lv_catalog *c);

/* The version of the SQLite library (for `labvault version`). */
const char *lv_catalog_sqlite_version(void);

#endif
