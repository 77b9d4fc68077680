/* Drill records (contract in catalog/drills.h). */
#include "catalog/drills.h"

#include <stddef.h>

#include "common/error.h"
#include "catalog/db.h"

/* Migration 4: the record and the columns extracted from it for ordering and reports. */
const char lv_cat_schema_drills[] =
    "CREATE TABLE drills(id TEXT PRIMARY KEY, kind TEXT NOT NULL, time INTEGER NOT NULL,"
    "  passed INTEGER NOT NULL, rto REAL, rpo REAL, record TEXT NOT NULL);"
    "CREATE INDEX drills_by_time ON drills(time);";

int lv_catalog_drill_put(lv_catalog *c, const char *json, const char *key_id)
{
    sqlite3_stmt *st;
    const char *sql =
        "INSERT OR REPLACE INTO drills(id, kind, time, passed, rto, rpo, record) "
        "SELECT json_extract(?1, '$.id'), json_extract(?1, '$.kind'), "
        "CAST(json_extract(?1, '$.started') AS INTEGER), json_extract(?1, '$.passed'), "
        "json_extract(?1, '$.rto.total'), json_extract(?1, '$.rpo'), ?1 "
        "WHERE json_valid(?1) AND json_type(?1, '$.id') = 'text' AND json_type(?1, '$.kind') = 'text' "
        "AND json_type(?1, '$.started') IN ('real', 'integer') "
        "AND json_type(?1, '$.passed') IN ('true', 'false') AND (?2 IS NULL OR json_extract(?1, '$.id') = ?2)";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "prepare drill insert");
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    if (key_id)
        sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : lv_cat_err(c, "add drill");
    if (rc == LV_OK && sqlite3_changes(c->db) != 1)
        rc = lv_err(LV_ERR_CORRUPT, "drill record %s is not a valid drill record", key_id ? key_id : "(new)");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_drill_ids(lv_catalog *c, int (*cb)(void *arg, const char *id), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT id FROM drills ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "prepare drill list");
    int rc = LV_OK, s;
    while (rc == LV_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(arg, lv_cat_text(st, 0));
    if (rc == LV_OK && s != SQLITE_DONE)
        rc = lv_cat_err(c, "list drills");
    sqlite3_finalize(st);
    return rc;
}

static double real_or(sqlite3_stmt *st, int col, double none)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? none : sqlite3_column_double(st, col);
}

int lv_catalog_drill_history(lv_catalog *c, int limit, int (*cb)(void *arg, const lv_drill_row *row), void *arg)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT record, id, kind, json_extract(record, '$.source'), "
                      "json_extract(record, '$.started_at'), json_extract(record, '$.target'), "
                      "json_extract(record, '$.error'), passed, rto, rpo "
                      "FROM (SELECT * FROM drills ORDER BY time DESC, id DESC LIMIT ?1) ORDER BY time, id";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "prepare drill history");
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    int rc = LV_OK, s;
    while (rc == LV_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        lv_drill_row row = {lv_cat_text(st, 0), lv_cat_text(st, 1), lv_cat_text(st, 2), lv_cat_text(st, 3),
                            lv_cat_text(st, 4), lv_cat_text(st, 5), lv_cat_text(st, 6), sqlite3_column_int(st, 7),
                            sqlite3_column_double(st, 8), real_or(st, 9, -1)};
        rc = cb(arg, &row);
    }
    if (rc == LV_OK && s != SQLITE_DONE)
        rc = lv_cat_err(c, "read drill history");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_drill_report(lv_catalog *c, int (*cb)(void *arg, const lv_drill_report_row *row), void *arg)
{
    sqlite3_stmt *st;
    const char *sql =
        "SELECT id, kind, json_extract(record, '$.source'), json_extract(record, '$.started_at'), "
        "json_extract(record, '$.target'), json_extract(record, '$.error'), passed, "
        "json_extract(record, '$.started'), rto, json_extract(record, '$.rto.download'), "
        "json_extract(record, '$.rto.write'), json_extract(record, '$.rto.replay'), rpo, "
        "json_extract(record, '$.bytes_fetched'), json_extract(record, '$.segments_fetched') "
        "FROM drills ORDER BY time, id";
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "drill report");
    int rc = LV_OK, s;
    while (rc == LV_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        lv_drill_report_row w = {lv_cat_text(st, 0), lv_cat_text(st, 1), lv_cat_text(st, 2), lv_cat_text(st, 3),
                                 lv_cat_text(st, 4), lv_cat_text(st, 5), sqlite3_column_int(st, 6),
                                 sqlite3_column_double(st, 7), sqlite3_column_double(st, 8),
                                 sqlite3_column_double(st, 9), sqlite3_column_double(st, 10),
                                 sqlite3_column_double(st, 11), real_or(st, 12, -1), sqlite3_column_int64(st, 13),
                                 sqlite3_column_int64(st, 14)};
        rc = cb(arg, &w);
    }
    if (rc == LV_OK && s != SQLITE_DONE)
        rc = lv_cat_err(c, "drill report");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_drill_checks(lv_catalog *c, const char *id,
                            int (*cb)(void *arg, const char *name, int ok, const char *detail), void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT json_extract(c.value, '$.name'), json_extract(c.value, '$.ok'), "
                                  "json_extract(c.value, '$.detail') FROM drills d, json_each(d.record, '$.checks') c "
                                  "WHERE d.id = ?1 ORDER BY json_extract(c.value, '$.ok'), c.key",
                           -1, &st, NULL) != SQLITE_OK)
        return lv_cat_err(c, "drill report");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = LV_OK;
    while (rc == LV_OK && sqlite3_step(st) == SQLITE_ROW)
        rc = cb(arg, lv_cat_text(st, 0), sqlite3_column_int(st, 1), lv_cat_text(st, 2));
    sqlite3_finalize(st);
    return rc;
}
