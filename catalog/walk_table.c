/* The temporary table of a walk (contract in catalog/walk_table.h). */
#include "catalog/walk_table.h"

#include <stdlib.h>

#include <sqlite3.h>

#include "common/error.h"

struct lv_walk_table {
    sqlite3 *db;
    sqlite3_stmt *get, *put;
    const char *what;
};

static int fail(lv_walk_table *t, const char *op)
{
    return lv_err(LV_ERR_IO, "%s: temporary database: %s: %s", t->what, op, sqlite3_errmsg(t->db));
}

int lv_walk_table_open(const char *what, lv_walk_table **out)
{
    *out = NULL;
    lv_walk_table *t = lv_xcalloc(1, sizeof *t);
    t->what = what;
    /* "" opens a private temporary database on disk, deleted when closed. One transaction for the whole
     * walk: nothing in it needs to survive a crash. */
    if (sqlite3_open("", &t->db) != SQLITE_OK) {
        int rc = lv_err(LV_ERR_IO, "cannot create a temporary database for %s", what);
        lv_walk_table_close(t);
        return rc;
    }
    if (sqlite3_exec(t->db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                     "CREATE TABLE e(key BLOB PRIMARY KEY, node BLOB NOT NULL, synth INTEGER NOT NULL,"
                     "  ino INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX e_ino ON e(ino);"
                     "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->db, "SELECT node, synth, ino FROM e WHERE key = ?1", -1, &t->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(t->db, "INSERT OR REPLACE INTO e(key, node, synth, ino) VALUES (?1, ?2, ?3, ?4)", -1,
                           &t->put, NULL) != SQLITE_OK) {
        int rc = fail(t, "create");
        lv_walk_table_close(t);
        return rc;
    }
    *out = t;
    return LV_OK;
}

void lv_walk_table_close(lv_walk_table *t)
{
    if (!t)
        return;
    sqlite3_finalize(t->get);
    sqlite3_finalize(t->put);
    if (t->db)
        sqlite3_close(t->db);
    free(t);
}

int lv_walk_table_get(lv_walk_table *t, const uint8_t *key, size_t key_len, lv_buf *node, int *synth,
                      int64_t *ino, int *found)
{
    sqlite3_bind_blob(t->get, 1, key, (int)key_len, SQLITE_STATIC);
    int r = sqlite3_step(t->get), rc = LV_OK;
    *found = r == SQLITE_ROW;
    if (*found) {
        lv_buf_reset(node);
        lv_buf_append(node, sqlite3_column_blob(t->get, 0), (size_t)sqlite3_column_bytes(t->get, 0));
        *synth = sqlite3_column_int(t->get, 1);
        *ino = sqlite3_column_int64(t->get, 2);
    } else if (r != SQLITE_DONE) {
        rc = fail(t, "read");
    }
    sqlite3_reset(t->get);
    return rc;
}

int lv_walk_table_put(lv_walk_table *t, const lv_walk_entry *e)
{
    sqlite3_bind_blob(t->put, 1, e->key, (int)e->key_len, SQLITE_STATIC);
    sqlite3_bind_blob(t->put, 2, e->node, (int)e->node_len, SQLITE_STATIC);
    sqlite3_bind_int(t->put, 3, e->synth);
    sqlite3_bind_int64(t->put, 4, e->ino);
    int r = sqlite3_step(t->put);
    sqlite3_reset(t->put);
    return r == SQLITE_DONE ? LV_OK : fail(t, "write");
}

int lv_walk_table_each(lv_walk_table *t, int (*cb)(void *arg, const lv_walk_entry *e), void *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(t->db, "SELECT key, node, synth, ino, (SELECT count(*) FROM e AS o WHERE o.ino = e.ino) "
                           "FROM e ORDER BY key", -1, &st, NULL) != SQLITE_OK)
        return fail(t, "prepare");
    int rc = LV_OK, r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_walk_entry e = {sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                           sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                           sqlite3_column_int(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
        rc = cb(arg, &e);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = fail(t, "read");
    sqlite3_finalize(st);
    return rc;
}
