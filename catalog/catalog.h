/* The local SQLite catalog: an index of the repository and a journal of local events.
 *
 * One database file (default /var/lib/labvault/catalog.db, or [global] catalog = PATH), WAL journal mode,
 * a busy timeout (30 s) so archive_command, a backup and a drill can run at once, and a schema version
 * with forward migrations (meta table, key "schema_version"). It belongs to exactly one repository: the
 * repository id is stored at creation, and opening it for another repository is LV_ERR_CONFLICT with a
 * message that says to run `labvault catalog rebuild`.
 *
 * Everything in it except local events can be recreated from the repository alone (lv_catalog_reset
 * followed by re-reading index/ and manifests/): the bucket is the truth, the catalog is an index.
 *
 * Threads: one lv_catalog per thread (SQLite connections are not shared); several processes are fine.
 * Every function returns an lv_code; SQLite failures are LV_ERR_IO naming the catalog file. */
#ifndef LV_CATALOG_CATALOG_H
#define LV_CATALOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct lv_catalog lv_catalog;

/* Where a blob lives: which pack, at which offset, its stored (sealed) length and its plaintext length. */
typedef struct lv_blob_loc {
    uint8_t pack[32];
    uint64_t offset;
    uint32_t length;      /* bytes in the pack (sealed) */
    uint32_t raw_length;  /* plaintext bytes */
    uint8_t type;         /* LV_BLOB_DATA, LV_BLOB_TREE (repo/pack.h) */
} lv_blob_loc;

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

/* Blob index. find: LV_ERR_NOT_FOUND when absent. add: an existing id keeps its first location. */
int lv_catalog_blob_find(lv_catalog *c, const uint8_t id[32], lv_blob_loc *loc);
int lv_catalog_blob_add(lv_catalog *c, const uint8_t id[32], const lv_blob_loc *loc);
int64_t lv_catalog_blob_count(lv_catalog *c);

/* Packs and index objects: which index object describes which pack. */
int lv_catalog_pack_add(lv_catalog *c, const uint8_t pack[32], uint64_t size, const uint8_t index_id[32]);
/* index_seen: 1 known, 0 not known, -LV_ERR_IO (negative) when the lookup itself failed. */
int lv_catalog_index_seen(lv_catalog *c, const uint8_t index_id[32]);
int lv_catalog_index_add(lv_catalog *c, const uint8_t index_id[32]);
/* Iterate packs (for repo check). */
int lv_catalog_pack_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t pack[32], uint64_t size),
                         void *arg);
/* Iterate blobs (for repo check). */
int lv_catalog_blob_each(lv_catalog *c,
                         int (*cb)(void *arg, const uint8_t id[32], const lv_blob_loc *loc), void *arg);

/* Manifests (backups and snapshots): the commit points. kind is "pg" or "files"; summary is a JSON
 * object the command wrote (sizes, LSNs, paths), stored as text for listing. */
typedef struct lv_manifest_row {
    char id[65];
    char kind[16];
    int64_t time;        /* unix seconds, end of the backup */
    const char *summary; /* JSON text owned by the catalog during the callback */
} lv_manifest_row;
int lv_catalog_manifest_add(lv_catalog *c, const char *id, const char *kind, int64_t time,
                            const char *summary_json);
int lv_catalog_manifest_remove(lv_catalog *c, const char *id);
int lv_catalog_manifest_each(lv_catalog *c, const char *kind /* NULL = all */,
                             int (*cb)(void *arg, const lv_manifest_row *m), void *arg);

/* Key/value metadata for the other modules (last rebuild time, ...). get: LV_ERR_NOT_FOUND if unset;
 * *out is malloc'ed, the caller frees it. */
int lv_catalog_meta_set(lv_catalog *c, const char *key, const char *value);
int lv_catalog_meta_get(lv_catalog *c, const char *key, char **out);

/* Delete everything derived from the repository (blobs, packs, index objects, manifests), keep local
 * events, so the repository can be re-read into it. */
int lv_catalog_reset(lv_catalog *c);

/* Consistent copy of the whole database into a buffer-able file (sqlite3 backup API / VACUUM INTO),
 * used to store a copy of the catalog in the repository after a command commits something. */
int lv_catalog_snapshot_to(lv_catalog *c, const char *dest_path);

/* The raw sqlite3 handle, for modules of later issues that add their own tables through migrations. */
struct sqlite3 *lv_catalog_db(lv_catalog *c);

#endif
