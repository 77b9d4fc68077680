/* The files cache's table (contract in catalog/fcache.h). */
#include "catalog/fcache.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/db.h"

/* Migration 3 (replaced by migration 7, kept as published): one row per file. */
const char lv_cat_schema_fcache[] =
    "CREATE TABLE files_cache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, extents BLOB NOT NULL,"
    "  gen INTEGER NOT NULL) WITHOUT ROWID;";

/* Migration 7: one row per directory. A rowid table, not WITHOUT ROWID: a wide directory's record is large,
 * and in a WITHOUT ROWID table whole rows would sit in the interior pages of the b-tree. The small columns
 * come first, so that verify's scan of gen and epoch never reads a record's overflow pages. The rows of
 * migration 3 are dropped: the first backup after it reads every file once more. */
const char lv_cat_schema_fcache_dirs[] =
    "DROP TABLE files_cache;"
    "CREATE TABLE files_dirs(path BLOB NOT NULL UNIQUE, gen INTEGER NOT NULL, epoch INTEGER,"
    "  entries BLOB NOT NULL);";

struct lv_catalog_fcache {
    lv_catalog *c;
    sqlite3_stmt *get, *put, *del_one, *del_below;
};

static int fc_err(lv_catalog *c, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: files cache: %s: %s", c->path, op, sqlite3_errmsg(c->db));
}

int lv_catalog_fcache_open(lv_catalog *c, lv_catalog_fcache **out)
{
    lv_catalog_fcache *f = lv_xcalloc(1, sizeof *f);
    f->c = c;
    if (sqlite3_prepare_v2(c->db, "SELECT epoch, entries FROM files_dirs WHERE path = ?1", -1, &f->get, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO files_dirs(path, gen, epoch, entries) "
                           "VALUES (?1, ?2, NULL, ?3)", -1, &f->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "DELETE FROM files_dirs WHERE path = ?1", -1, &f->del_one, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "DELETE FROM files_dirs WHERE path >= ?1 AND path < ?2", -1, &f->del_below,
                           NULL) != SQLITE_OK) {
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
    sqlite3_finalize(f->del_one);
    sqlite3_finalize(f->del_below);
    free(f);
}

int lv_catalog_fcache_get(lv_catalog_fcache *f, const char *path, size_t path_len, int *found, int64_t *epoch,
                          lv_buf *entries)
{
    sqlite3_bind_blob(f->get, 1, path, (int)path_len, SQLITE_STATIC);
    int r = sqlite3_step(f->get), rc = LV_OK;
    *found = r == SQLITE_ROW;
    lv_buf_reset(entries);
    if (r == SQLITE_ROW) {
        *epoch = sqlite3_column_type(f->get, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(f->get, 0);
        lv_buf_append(entries, sqlite3_column_blob(f->get, 1), (size_t)sqlite3_column_bytes(f->get, 1));
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

int lv_catalog_fcache_put(lv_catalog_fcache *f, const char *path, size_t path_len, const uint8_t *entries,
                          size_t entries_len, int64_t gen)
{
    sqlite3_bind_blob(f->put, 1, path, (int)path_len, SQLITE_STATIC);
    sqlite3_bind_int64(f->put, 2, gen);
    sqlite3_bind_blob(f->put, 3, entries_len ? (const void *)entries : "", (int)entries_len, SQLITE_STATIC);
    return run(f, f->put);
}

int lv_catalog_fcache_forget(lv_catalog_fcache *f, const char *path, size_t n)
{
    while (n > 0 && path[n - 1] == '/')
        n--; /* "/" becomes "": every row is below it */
    /* Below path: the paths in [path "/", path "0"), '0' being the byte after '/'. */
    lv_buf lo = LV_BUF_INIT, hi = LV_BUF_INIT;
    lv_buf_append(&lo, path, n);
    lv_buf_append(&lo, "/", 1);
    lv_buf_append(&hi, path, n);
    lv_buf_append(&hi, "0", 1);
    int rc = LV_OK;
    if (n > 0) {
        sqlite3_bind_blob(f->del_one, 1, path, (int)n, SQLITE_STATIC);
        rc = run(f, f->del_one);
    }
    if (rc == LV_OK) {
        sqlite3_bind_blob(f->del_below, 1, lo.data, (int)lo.len, SQLITE_STATIC);
        sqlite3_bind_blob(f->del_below, 2, hi.data, (int)hi.len, SQLITE_STATIC);
        rc = run(f, f->del_below);
    }
    lv_buf_free(&lo);
    lv_buf_free(&hi);
    return rc;
}

int lv_catalog_fcache_verify(lv_catalog *c, int64_t gen, int64_t epoch)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "UPDATE files_dirs SET epoch = ?2 WHERE gen = ?1 AND epoch IS NULL", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, gen);
    sqlite3_bind_int64(st, 2, epoch);
    return lv_cat_step_done(c, st, "files cache: verify");
}

int lv_catalog_fcache_clear(lv_catalog *c) { return lv_cat_exec(c, "DELETE FROM files_dirs", "emptying the files cache"); }
