/* The WAL archive's tables (contract in catalog/wal.h). */
#include "catalog/wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "catalog/db.h"

#define FAILURES_KEPT 1000

/* Migration 2. wal_files: one row per archived file, keyed by PostgreSQL's file name (a name has at most
 * one object); LSNs are the segment's [begin, end); the time columns are the commit-time range a WAL
 * reader fills in. wal_failures: a journal of local events. */
const char lv_cat_schema_wal[] =
    "CREATE TABLE wal_files(name TEXT PRIMARY KEY, timeline INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  key TEXT NOT NULL, size INTEGER NOT NULL, stored_size INTEGER NOT NULL, checksum TEXT NOT NULL,"
    "  pushed INTEGER NOT NULL, begin_lsn INTEGER, end_lsn INTEGER, begin_time INTEGER,"
    "  end_time INTEGER) WITHOUT ROWID;"
    "CREATE INDEX wal_files_by_timeline ON wal_files(timeline, name);"
    "CREATE INDEX wal_files_by_pushed ON wal_files(pushed);"
    "CREATE TABLE wal_failures(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, op TEXT NOT NULL,"
    "  name TEXT NOT NULL, code INTEGER NOT NULL, message TEXT NOT NULL);";

int lv_catalog_wal_add(lv_catalog *c, const lv_catalog_wal_file *f)
{
    sqlite3_stmt *st;
    /* REPLACE: a re-push of the same file (same checksum) refreshes the row; a name never has two
     * contents in the repository, so there is nothing else it could overwrite. */
    /* A summary's detail rows first: the row below is what says they are complete (catalog/walsum.h). */
    int rc = f->summary ? lv_catalog_walsum_rows(c, f->name, f->summary) : LV_OK;
    if (rc == LV_OK)
        rc = lv_cat_prepare(c, "INSERT OR REPLACE INTO wal_files(name, timeline, kind, key, size, stored_size, "
                               "checksum, pushed, begin_lsn, end_lsn, begin_time, end_time, xid_lo, xid_hi, "
                               "summary, cut, lead) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
                            &st);
    if (rc)
        return lv_err_ctx("WAL file %s", f->name);
    sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->timeline);
    sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->size);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)f->stored_size);
    sqlite3_bind_text(st, 7, f->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, f->pushed);
    if (f->end_lsn) {
        sqlite3_bind_int64(st, 9, (sqlite3_int64)f->begin_lsn);
        sqlite3_bind_int64(st, 10, (sqlite3_int64)f->end_lsn);
    }
    if (f->times_known) {
        sqlite3_bind_int64(st, 11, f->begin_time);
        sqlite3_bind_int64(st, 12, f->end_time);
    }
    const lv_walsum *sum = f->summary;
    if (sum) {
        if (sum->have_xids) {
            sqlite3_bind_int64(st, 13, sum->xid_lo);
            sqlite3_bind_int64(st, 14, sum->xid_hi);
        }
        sqlite3_bind_int(st, 15, 1);
        if (sum->ncut)
            sqlite3_bind_blob(st, 16, sum->cut, (int)sum->ncut, SQLITE_STATIC);
        if (sum->nlead)
            sqlite3_bind_blob(st, 17, sum->lead, (int)sum->nlead, SQLITE_STATIC);
    }
    rc = lv_cat_step_done(c, st, "record WAL file");
    return rc ? lv_err_ctx("WAL file %s", f->name) : LV_OK;
}

int lv_catalog_wal_times(lv_catalog *c, const char *name, int *known, int64_t *begin_time, int64_t *end_time)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT begin_time, end_time FROM wal_files WHERE name = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    *known = 0;
    *begin_time = *end_time = 0;
    if (r == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL && sqlite3_column_type(st, 1) != SQLITE_NULL) {
            *known = 1;
            *begin_time = sqlite3_column_int64(st, 0);
            *end_time = sqlite3_column_int64(st, 1);
        }
    } else if (r == SQLITE_DONE) {
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s does not know WAL file %s", c->path, name);
    } else {
        rc = lv_cat_err(c, "read WAL times");
    }
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_wal_failure_add(lv_catalog *c, const char *op, const char *name, int code, const char *message)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "INSERT INTO wal_failures(time, op, name, code, message) "
                        "VALUES (strftime('%s','now'), ?1, ?2, ?3, ?4)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, code);
    sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
    if ((rc = lv_cat_step_done(c, st, "record WAL failure")))
        return rc;
    /* A journal, not an archive: trim it so a long outage cannot grow it without bound. Drops are
     * kept: each one is a hole in the archive that `wal status` must keep reporting. */
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM wal_failures WHERE op != 'drop' AND "
             "id <= (SELECT max(id) FROM wal_failures) - %d", FAILURES_KEPT);
    if ((rc = lv_cat_prepare(c, sql, &st)))
        return rc;
    return lv_cat_step_done(c, st, "trim WAL failures");
}

int lv_catalog_wal_pushed(lv_catalog *c, const char *name, int64_t *pushed)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT pushed FROM wal_files WHERE name = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *pushed = sqlite3_column_int64(st, 0);
    else if (r == SQLITE_DONE)
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s does not know WAL file %s", c->path, name);
    else
        rc = lv_cat_err(c, "read WAL file");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_wal_failures(lv_catalog *c, const char *op, int limit,
                       int (*cb)(void *arg, const lv_wal_failure *f), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT time, op, name, code, message FROM wal_failures "
                        "WHERE ?1 IS NULL OR op = ?1 ORDER BY id DESC LIMIT ?2", &st);
    if (rc)
        return rc;
    if (op)
        sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit);
    int r = SQLITE_DONE;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_wal_failure f = {
            .time = sqlite3_column_int64(st, 0),
            .op = (const char *)sqlite3_column_text(st, 1),
            .name = (const char *)sqlite3_column_text(st, 2),
            .code = sqlite3_column_int(st, 3),
            .message = (const char *)sqlite3_column_text(st, 4),
        };
        rc = cb(arg, &f);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "read WAL failures");
    sqlite3_finalize(st);
    return rc;
}

int64_t lv_catalog_wal_failure_count(lv_catalog *c, const char *op)
{
    return lv_cat_count(c, "SELECT count(*) FROM wal_failures WHERE op = ?1", op);
}

int lv_catalog_wal_summary_get(lv_catalog *c, lv_catalog_wal_summary *s)
{
    memset(s, 0, sizeof *s);
    s->last_pushed = -1;
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT count(*), coalesce(sum(stored_size), 0), (SELECT name FROM wal_files WHERE "
                               "pushed >= 0 ORDER BY pushed DESC, name DESC LIMIT 1), coalesce(max(pushed), -1) "
                               "FROM wal_files", &st);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->files = (uint64_t)sqlite3_column_int64(st, 0);
        s->stored_bytes = (uint64_t)sqlite3_column_int64(st, 1);
        snprintf(s->last_name, sizeof s->last_name, "%s", lv_cat_text(st, 2));
        s->last_pushed = sqlite3_column_int64(st, 3);
    } else {
        rc = lv_cat_err(c, "summarize WAL files");
    }
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_wal_each(lv_catalog *c, int (*cb)(void *arg, const char *key, uint64_t stored_size), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT key, stored_size FROM wal_files ORDER BY key", &st);
    if (rc)
        return rc;
    int r = SQLITE_DONE;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(arg, lv_cat_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = lv_cat_err(c, "list WAL files");
    sqlite3_finalize(st);
    return rc;
}

int lv_catalog_wal_last_pushed(lv_catalog *c, int64_t *pushed)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT max(pushed) FROM wal_files", &st);
    if (rc)
        return rc;
    *pushed = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *pushed = sqlite3_column_int64(st, 0); /* NULL (no file) reads as 0 */
    else
        rc = lv_cat_err(c, "read the last push");
    sqlite3_finalize(st);
    return rc;
}

struct lv_catalog_wal_seen {
    lv_catalog *c;
    sqlite3_stmt *add;
};

int lv_catalog_wal_seen_begin(lv_catalog *c, lv_catalog_wal_seen **out)
{
    *out = NULL;
    int rc = lv_cat_exec(c, "CREATE TEMP TABLE IF NOT EXISTS wal_seen(name TEXT PRIMARY KEY); DELETE FROM wal_seen",
                         "sync WAL files");
    lv_catalog_wal_seen *s = lv_xcalloc(1, sizeof *s);
    s->c = c;
    if (rc == LV_OK)
        rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO wal_seen(name) VALUES (?1)", &s->add);
    *out = s;
    return rc;
}

int lv_catalog_wal_seen_add(lv_catalog_wal_seen *s, const char *name)
{
    sqlite3_bind_text(s->add, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s->add);
    sqlite3_reset(s->add);
    return r == SQLITE_DONE ? LV_OK : lv_cat_err(s->c, "list WAL files");
}

int lv_catalog_wal_seen_end(lv_catalog_wal_seen *s, int forget, int64_t *removed)
{
    *removed = 0;
    if (!s)
        return LV_OK;
    lv_catalog *c = s->c;
    sqlite3_finalize(s->add);
    free(s);
    int rc = LV_OK;
    if (forget) {
        rc = lv_cat_exec(c, "DELETE FROM wal_files WHERE name NOT IN (SELECT name FROM wal_seen)", "sync WAL files");
        if (rc == LV_OK)
            *removed = sqlite3_changes(c->db);
        /* and the summaries of the segments that went with them (catalog/walsum.h) */
        if (rc == LV_OK)
            rc = lv_cat_exec(c, "DELETE FROM wal_changes WHERE segment NOT IN (SELECT name FROM wal_seen);"
                                "DELETE FROM wal_points WHERE segment NOT IN (SELECT name FROM wal_seen)",
                             "sync WAL summaries");
    }
    sqlite3_exec(c->db, "DROP TABLE IF EXISTS wal_seen", NULL, NULL, NULL);
    return rc;
}
