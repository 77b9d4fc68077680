/* The WAL block maps' table (contract in catalog/walmap.h). */
#include "catalog/walmap.h"

#include <stdlib.h>

#include "catalog/db.h"
#include "common/error.h"

/* Migration 6. */
const char lv_cat_schema_walmap[] =
    "CREATE TABLE wal_maps(segment TEXT PRIMARY KEY, format INTEGER NOT NULL, map BLOB) WITHOUT ROWID;";

int lv_catalog_walmap_put(lv_catalog *c, const char *segment, uint32_t format, const void *map, size_t len)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, map ? "INSERT OR REPLACE INTO wal_maps(segment, format, map) VALUES (?1, ?2, ?3)"
                                   : "INSERT OR IGNORE INTO wal_maps(segment, format) VALUES (?1, ?2)",
                            &st);
    if (rc != LV_OK)
        return lv_err_ctx("block map of %s", segment);
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, format);
    if (map)
        sqlite3_bind_blob64(st, 3, map, len, SQLITE_STATIC);
    rc = lv_cat_step_done(c, st, "record block map");
    return rc ? lv_err_ctx("block map of %s", segment) : LV_OK;
}

int lv_catalog_walmap_get(lv_catalog *c, const char *segment, int *have, lv_buf *out)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT map FROM wal_maps WHERE segment = ?1", &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *have = 0;
    if (r == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
            *have = 1;
            lv_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        }
    } else if (r == SQLITE_DONE) {
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s has no block map of %s", c->path, segment);
    } else {
        rc = lv_cat_err(c, "read block map");
    }
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_walmap_each(lv_catalog *c, int (*cb)(void *arg, const char *segment), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT segment FROM wal_maps ORDER BY segment", &st);
    if (rc != LV_OK)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(arg, lv_cat_text(st, 0));
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "list block maps");
    sqlite3_finalize(st);
    return rc;
}

struct lv_catalog_walmap_seen {
    lv_catalog *c;
    sqlite3_stmt *add;
};

int lv_catalog_walmap_seen_begin(lv_catalog *c, lv_catalog_walmap_seen **out)
{
    int rc = lv_cat_exec(c, "CREATE TEMP TABLE IF NOT EXISTS walmap_seen(segment TEXT PRIMARY KEY); "
                            "DELETE FROM walmap_seen", "sync block maps");
    lv_catalog_walmap_seen *s = lv_xcalloc(1, sizeof *s);
    s->c = c;
    if (rc == LV_OK)
        rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO walmap_seen(segment) VALUES (?1)", &s->add);
    *out = s;
    return rc;
}

int lv_catalog_walmap_seen_add(lv_catalog_walmap_seen *s, const char *segment)
{
    sqlite3_bind_text(s->add, 1, segment, -1, SQLITE_STATIC);
    int r = sqlite3_step(s->add);
    sqlite3_reset(s->add);
    return r == SQLITE_DONE ? LV_OK : lv_cat_err(s->c, "list block maps");
}

int lv_catalog_walmap_seen_end(lv_catalog_walmap_seen *s, int forget, int64_t *removed)
{
    *removed = 0;
    if (!s)
        return LV_OK;
    lv_catalog *c = s->c;
    sqlite3_finalize(s->add);
    free(s);
    int rc = LV_OK;
    if (forget) {
        rc = lv_cat_exec(c, "DELETE FROM wal_maps WHERE segment NOT IN (SELECT segment FROM walmap_seen)",
                         "sync block maps");
        if (rc == LV_OK)
            *removed = sqlite3_changes(c->db);
    }
    sqlite3_exec(c->db, "DROP TABLE IF EXISTS walmap_seen", NULL, NULL, NULL);
    return rc;
}
