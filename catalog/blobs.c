/* The repository's index in the catalog: blobs, packs and index objects (contract in catalog/blobs.h). */
#include "catalog/blobs.h"

#include <string.h>

#include "common/error.h"
#include "catalog/db.h"

/* Migration 1, with manifests.c's part. Blob and pack ids are raw 32-byte BLOBs (half the size of hex,
 * and the primary key of a WITHOUT ROWID table, so a lookup is one b-tree descent). No foreign key from
 * blobs to packs: the pack writer records blobs and their pack in either order, and a rebuild reads
 * index objects in whatever order the bucket lists them. */
const char lv_cat_schema_blobs[] =
    "CREATE TABLE blobs(id BLOB PRIMARY KEY, type INTEGER NOT NULL, pack BLOB NOT NULL,"
    "  offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX blobs_by_pack ON blobs(pack);"
    "CREATE TABLE packs(id BLOB PRIMARY KEY, size INTEGER NOT NULL, index_id BLOB) WITHOUT ROWID;"
    "CREATE TABLE indexes(id BLOB PRIMARY KEY) WITHOUT ROWID;";

/* Migration 7: the blob epoch (contract in catalog/blobs.h). A blob's row is deleted only together with
 * its pack's row (lv_catalog_pack_forget, lv_catalog_index_forget_all, lv_catalog_reset), and a blob counts
 * as indexed only while its pack's row names an index: so a trigger on the packs table sees every way a
 * blob can leave the index, whoever deletes it (prune, sync of another host's prune, rebuild). */
const char lv_cat_schema_blob_epoch[] =
    "CREATE TABLE blob_epoch(n INTEGER NOT NULL);"
    "INSERT INTO blob_epoch(n) VALUES (0);"
    "CREATE TRIGGER packs_forgotten AFTER DELETE ON packs BEGIN UPDATE blob_epoch SET n = n + 1; END;"
    "CREATE TRIGGER packs_unindexed AFTER UPDATE OF id, index_id ON packs BEGIN UPDATE blob_epoch SET n = n + 1; END;";

int lv_catalog_blob_epoch(lv_catalog *c, int64_t *epoch)
{
    int64_t n = lv_cat_count(c, "SELECT n FROM blob_epoch", NULL);
    if (n < 0)
        return lv_err_ctx("reading the blob epoch");
    *epoch = n;
    return LV_OK;
}

int lv_cat_blobs_prepare(lv_catalog *c)
{
    int rc = lv_cat_prepare(c, "SELECT b.type, b.pack, b.offset, b.length, b.raw_length, p.index_id IS NOT NULL "
                               "FROM blobs b LEFT JOIN packs p ON p.id = b.pack WHERE b.id = ?1",
                            &c->st_blob_find);
    if (rc == LV_OK)
        rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO blobs(id, type, pack, offset, length, raw_length) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &c->st_blob_add);
    return rc;
}

void lv_cat_blobs_finalize(lv_catalog *c)
{
    sqlite3_finalize(c->st_blob_find);
    sqlite3_finalize(c->st_blob_add);
}

/* ---- blobs ---------------------------------------------------------------------------------- */

int lv_catalog_blob_find(lv_catalog *c, const uint8_t id[32], lv_blob_loc *loc)
{
    sqlite3_stmt *st = c->st_blob_find;
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = LV_OK;
    if (r == SQLITE_ROW) {
        const void *pack = sqlite3_column_blob(st, 1);
        if (sqlite3_column_bytes(st, 1) != 32 || !pack) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: blob row with a malformed pack id", c->path);
        } else {
            memcpy(loc->pack, pack, 32);
            loc->type = (uint8_t)sqlite3_column_int(st, 0);
            loc->offset = (uint64_t)sqlite3_column_int64(st, 2);
            loc->length = (uint32_t)sqlite3_column_int64(st, 3);
            loc->raw_length = (uint32_t)sqlite3_column_int64(st, 4);
            loc->indexed = (uint8_t)sqlite3_column_int(st, 5);
        }
    } else if (r == SQLITE_DONE) {
        rc = lv_err(LV_ERR_NOT_FOUND, "blob not in the catalog"); /* the common case on backup */
    } else {
        rc = lv_cat_err(c, "find blob");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int lv_catalog_blob_add(lv_catalog *c, const uint8_t id[32], const lv_blob_loc *loc)
{
    sqlite3_stmt *st = c->st_blob_add;
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, loc->type);
    sqlite3_bind_blob(st, 3, loc->pack, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)loc->offset);
    sqlite3_bind_int64(st, 5, loc->length);
    sqlite3_bind_int64(st, 6, loc->raw_length);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : lv_cat_err(c, "add blob");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int64_t lv_catalog_blob_count(lv_catalog *c) { return lv_cat_count(c, "SELECT count(*) FROM blobs", NULL); }

int lv_catalog_blob_each(lv_catalog *c,
                         int (*cb)(void *arg, const uint8_t id[32], const lv_blob_loc *loc), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT id, type, pack, offset, length, raw_length FROM blobs ORDER BY id", &st);
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 2) != 32) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: blob row with a malformed id", c->path);
            break;
        }
        uint8_t id[32];
        lv_blob_loc loc;
        memset(&loc, 0, sizeof loc);
        memcpy(id, sqlite3_column_blob(st, 0), 32);
        memcpy(loc.pack, sqlite3_column_blob(st, 2), 32);
        loc.type = (uint8_t)sqlite3_column_int(st, 1);
        loc.offset = (uint64_t)sqlite3_column_int64(st, 3);
        loc.length = (uint32_t)sqlite3_column_int64(st, 4);
        loc.raw_length = (uint32_t)sqlite3_column_int64(st, 5);
        rc = cb(arg, id, &loc);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "list blobs");
    sqlite3_finalize(st);
    return rc;
}

/* ---- packs and index objects ---------------------------------------------------------------- */

int lv_catalog_pack_add(lv_catalog *c, const uint8_t pack[32], uint64_t size, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO packs(id, size, index_id) VALUES (?1, ?2, ?3)", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    if (index_id)
        sqlite3_bind_blob(st, 3, index_id, 32, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "add pack");
}

int lv_catalog_index_seen(lv_catalog *c, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    if (lv_cat_prepare(c, "SELECT 1 FROM indexes WHERE id = ?1", &st))
        return -LV_ERR_IO;
    sqlite3_bind_blob(st, 1, index_id, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), res;
    if (r == SQLITE_ROW)
        res = 1;
    else if (r == SQLITE_DONE)
        res = 0;
    else
        res = -lv_cat_err(c, "look up index object");
    sqlite3_finalize(st);
    return res;
}

int lv_catalog_index_add(lv_catalog *c, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO indexes(id) VALUES (?1)", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, index_id, 32, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "add index object");
}

int lv_catalog_index_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t index_id[32]), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT id FROM indexes ORDER BY id", &st);
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: index row with a malformed id", c->path);
            break;
        }
        uint8_t id[32];
        memcpy(id, sqlite3_column_blob(st, 0), 32);
        rc = cb(arg, id);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "list index objects");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_pack_bytes(lv_catalog *c, uint64_t *bytes)
{
    int64_t n = lv_cat_count(c, "SELECT coalesce(sum(size), 0) FROM packs", NULL);
    if (n < 0)
        return LV_ERR_IO;
    *bytes = (uint64_t)n;
    return LV_OK;
}

int lv_catalog_pack_forget(lv_catalog *c, const uint8_t pack[32])
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "DELETE FROM blobs WHERE pack = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    if ((rc = lv_cat_step_done(c, st, "forget a pack's blobs")) != LV_OK)
        return rc;
    if ((rc = lv_cat_prepare(c, "DELETE FROM packs WHERE id = ?1", &st)))
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "forget a pack");
}

int lv_catalog_index_forget_all(lv_catalog *c)
{
    return lv_cat_exec(c, "DELETE FROM blobs; DELETE FROM packs; DELETE FROM indexes", "forget the index");
}

int lv_catalog_pack_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t pack[32], uint64_t size),
                         void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT id, size FROM packs ORDER BY id", &st);
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: pack row with a malformed id", c->path);
            break;
        }
        uint8_t id[32];
        memcpy(id, sqlite3_column_blob(st, 0), 32);
        rc = cb(arg, id, (uint64_t)sqlite3_column_int64(st, 1));
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "list packs");
    sqlite3_finalize(st);
    return rc;
}

