/* The statement helpers every table module uses (contract in catalog/db.h). */
#include "catalog/db.h"

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

int lv_cat_err(lv_catalog *c, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: %s: %s", c->path, op, sqlite3_errmsg(c->db));
}

int lv_cat_exec(lv_catalog *c, const char *sql, const char *op)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = lv_err(LV_ERR_IO, "catalog %s: %s: %s", c->path, op, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return rc;
    }
    return LV_OK;
}

int lv_cat_prepare(lv_catalog *c, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(c->db, sql, -1, 0, st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "prepare");
    return LV_OK;
}

int lv_cat_step_done(lv_catalog *c, sqlite3_stmt *st, const char *op)
{
    int r = sqlite3_step(st);
    int rc = r == SQLITE_DONE ? LV_OK : lv_cat_err(c, op);
    sqlite3_finalize(st);
    return rc;
}

const char *lv_cat_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

int64_t lv_cat_count(lv_catalog *c, const char *sql, const char *text_param)
{
    sqlite3_stmt *st;
    if (lv_cat_prepare(c, sql, &st))
        return -1;
    if (text_param)
        sqlite3_bind_text(st, 1, text_param, -1, SQLITE_STATIC);
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        lv_cat_err(c, "count");
    sqlite3_finalize(st);
    return n;
}

int lv_cat_seen_begin(lv_catalog *c, const char *table, const char *what, lv_cat_seen *s)
{
    *s = (lv_cat_seen){c, NULL, table, what};
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE TEMP TABLE IF NOT EXISTS %s(key TEXT PRIMARY KEY); DELETE FROM %s", table,
             table);
    int rc = lv_cat_exec(c, sql, what);
    if (rc == LV_OK) {
        snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO %s(key) VALUES (?1)", table);
        rc = lv_cat_prepare(c, sql, &s->add);
    }
    return rc;
}

int lv_cat_seen_add(lv_cat_seen *s, const char *key)
{
    sqlite3_bind_text(s->add, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s->add);
    sqlite3_reset(s->add);
    return r == SQLITE_DONE ? LV_OK : lv_cat_err(s->c, s->what);
}

int lv_cat_seen_end(lv_cat_seen *s, int forget, const char *first_sql, const char *more_sql, int64_t *removed)
{
    *removed = 0;
    sqlite3_finalize(s->add);
    s->add = NULL;
    int rc = LV_OK;
    if (forget && first_sql && (rc = lv_cat_exec(s->c, first_sql, s->what)) == LV_OK)
        *removed = sqlite3_changes(s->c->db);
    if (forget && more_sql && rc == LV_OK)
        rc = lv_cat_exec(s->c, more_sql, s->what);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", s->table);
    sqlite3_exec(s->c->db, sql, NULL, NULL, NULL);
    return rc;
}
