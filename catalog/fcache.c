/* The files cache's table (contract in catalog/fcache.h). */
#include "catalog/fcache.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/db.h"

/* Migration 3: keyed by the path's bytes (paths need not be UTF-8). */
const char lv_cat_schema_fcache[] =
    "CREATE TABLE files_cache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, extents BLOB NOT NULL,"
    "  gen INTEGER NOT NULL) WITHOUT ROWID;";

struct lv_catalog_fcache {
    lv_catalog *c;
    sqlite3_stmt *get, *put, *touch;
};

static int fc_err(lv_catalog *c, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: files cache: %s: %s", c->path, op, sqlite3_errmsg(c->db));
}

int lv_catalog_fcache_open(lv_catalog *c, lv_catalog_fcache **out)
{
    lv_catalog_fcache *f = lv_xcalloc(1, sizeof *f);
    f->c = c;
    if (sqlite3_prepare_v2(c->db, "SELECT dev, ino, size, mtime, ctime, extents FROM files_cache WHERE path = ?1",
                           -1, &f->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO files_cache(path, dev, ino, size, mtime, ctime, "
                           "extents, gen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &f->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "UPDATE files_cache SET gen = ?2 WHERE path = ?1", -1, &f->touch, NULL) != SQLITE_OK) {
        int rc = fc_err(c, "prepare");
        lv_catalog_fcache_close(f);
        return rc;
    }
    *out = f;
    return LV_OK;
}

void lv_catalog_fcache_close(lv_catalog_fcache *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->get);
    sqlite3_finalize(f->put);
    sqlite3_finalize(f->touch);
    free(f);
}

int lv_catalog_fcache_get(lv_catalog_fcache *f, const char *path, size_t path_len, int *found, lv_fcache_key *key,
                          lv_buf *extents)
{
    sqlite3_bind_blob(f->get, 1, path, (int)path_len, SQLITE_STATIC);
    int r = sqlite3_step(f->get), rc = LV_OK;
    *found = r == SQLITE_ROW;
    if (r == SQLITE_ROW) {
        key->dev = (uint64_t)sqlite3_column_int64(f->get, 0);
        key->ino = (uint64_t)sqlite3_column_int64(f->get, 1);
        key->size = (uint64_t)sqlite3_column_int64(f->get, 2);
        key->mtime_ns = sqlite3_column_int64(f->get, 3);
        key->ctime_ns = sqlite3_column_int64(f->get, 4);
        lv_buf_reset(extents);
        lv_buf_append(extents, sqlite3_column_blob(f->get, 5), (size_t)sqlite3_column_bytes(f->get, 5));
    } else if (r != SQLITE_DONE) {
        rc = fc_err(f->c, "lookup");
    }
    sqlite3_reset(f->get);
    sqlite3_clear_bindings(f->get);
    return rc;
}

static int run(lv_catalog_fcache *f, sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r == SQLITE_DONE ? LV_OK : fc_err(f->c, "write");
}

int lv_catalog_fcache_put(lv_catalog_fcache *f, const char *path, size_t path_len, const lv_fcache_key *key,
                          const uint8_t *extents, size_t extents_len, int64_t gen)
{
    sqlite3_bind_blob(f->put, 1, path, (int)path_len, SQLITE_STATIC);
    sqlite3_bind_int64(f->put, 2, (sqlite3_int64)key->dev);
    sqlite3_bind_int64(f->put, 3, (sqlite3_int64)key->ino);
    sqlite3_bind_int64(f->put, 4, (sqlite3_int64)key->size);
    sqlite3_bind_int64(f->put, 5, key->mtime_ns);
    sqlite3_bind_int64(f->put, 6, key->ctime_ns);
    sqlite3_bind_blob(f->put, 7, extents, (int)extents_len, SQLITE_STATIC);
    sqlite3_bind_int64(f->put, 8, gen);
    return run(f, f->put);
}

int lv_catalog_fcache_touch(lv_catalog_fcache *f, const char *path, size_t path_len, int64_t gen)
{
    sqlite3_bind_blob(f->touch, 1, path, (int)path_len, SQLITE_STATIC);
    sqlite3_bind_int64(f->touch, 2, gen);
    return run(f, f->touch);
}

int lv_catalog_fcache_prune(lv_catalog *c, const char *root, size_t n, int64_t gen)
{
    /* Rows for root itself and for everything below root + "/", i.e. in [root "/", root "0"). */
    lv_buf lo = LV_BUF_INIT, hi = LV_BUF_INIT;
    lv_buf_append(&lo, root, n);
    lv_buf_append(&lo, "/", 1);
    lv_buf_append(&hi, root, n);
    lv_buf_append(&hi, "0", 1);
    sqlite3_stmt *st = NULL;
    int rc = LV_OK;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM files_cache WHERE gen != ?1 AND (path = ?2 OR "
                           "(path >= ?3 AND path < ?4))", -1, &st, NULL) != SQLITE_OK)
        rc = fc_err(c, "prepare prune");
    if (rc == LV_OK) {
        sqlite3_bind_int64(st, 1, gen);
        sqlite3_bind_blob(st, 2, root, (int)n, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, lo.data, (int)lo.len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, hi.data, (int)hi.len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fc_err(c, "prune");
    }
    sqlite3_finalize(st);
    lv_buf_free(&lo);
    lv_buf_free(&hi);
    return rc;
}

int lv_catalog_fcache_clear(lv_catalog *c) { return lv_cat_exec(c, "DELETE FROM files_cache", "emptying the files cache"); }
