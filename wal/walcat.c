/* WAL tables of the catalog (contract in wal/walcat.h). */
#include "wal/walcat.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/log.h"
#include "repo/registry.h"
#include "wal/stanza.h"

#define FAILURES_KEPT 1000

static int db_err(lv_catalog *c, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: %s: %s", lv_catalog_path(c), op,
                  sqlite3_errmsg(lv_catalog_db(c)));
}

static int prepare(lv_catalog *c, const char *sql, sqlite3_stmt **st, const char *op)
{
    if (sqlite3_prepare_v2(lv_catalog_db(c), sql, -1, st, NULL) != SQLITE_OK)
        return db_err(c, op);
    return LV_OK;
}

static int run_done(lv_catalog *c, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : db_err(c, op);
    sqlite3_finalize(st);
    return rc;
}

int lv_walcat_add(lv_catalog *c, const lv_wal_row *row)
{
    sqlite3_stmt *st;
    const lv_wal_object *o = row->obj;
    /* REPLACE: a re-push of the same file (same checksum) refreshes the row; a name never has two
     * contents in the repository, so there is nothing else it could overwrite. */
    int rc = prepare(c, "INSERT OR REPLACE INTO wal_files(name, timeline, kind, key, size, stored_size, "
                        "checksum, pushed, begin_lsn, end_lsn, begin_time, end_time) "
                        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                     &st, "record WAL file");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, o->name.name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o->name.tli);
    sqlite3_bind_text(st, 3, lv_wal_kind_str(o->name.kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, o->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)row->size);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)o->stored_size);
    sqlite3_bind_text(st, 7, o->checksum, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, row->pushed);
    if (row->end_lsn) {
        sqlite3_bind_int64(st, 9, (sqlite3_int64)row->begin_lsn);
        sqlite3_bind_int64(st, 10, (sqlite3_int64)row->end_lsn);
    }
    if (row->times_known) {
        sqlite3_bind_int64(st, 11, row->begin_time);
        sqlite3_bind_int64(st, 12, row->end_time);
    }
    rc = run_done(c, st, "record WAL file");
    return rc ? lv_err_ctx("WAL file %s", o->name.name) : LV_OK;
}

int lv_walcat_times(lv_catalog *c, const char *name, int *known, int64_t *begin_time, int64_t *end_time)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT begin_time, end_time FROM wal_files WHERE name = ?1", &st, "read WAL times");
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
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s does not know WAL file %s", lv_catalog_path(c), name);
    } else {
        rc = db_err(c, "read WAL times");
    }
    sqlite3_finalize(st);
    return rc;
}

int lv_walcat_failure(lv_catalog *c, const char *op, const char *name, int code, const char *message)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "INSERT INTO wal_failures(time, op, name, code, message) "
                        "VALUES (strftime('%s','now'), ?1, ?2, ?3, ?4)", &st, "record WAL failure");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, code);
    sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
    if ((rc = run_done(c, st, "record WAL failure")))
        return rc;
    /* A journal, not an archive: trim it so a long outage cannot grow it without bound. Drops are
     * kept: each one is a hole in the archive that `wal status` must keep reporting. */
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM wal_failures WHERE op != 'drop' AND "
             "id <= (SELECT max(id) FROM wal_failures) - %d", FAILURES_KEPT);
    if ((rc = prepare(c, sql, &st, "trim WAL failures")))
        return rc;
    return run_done(c, st, "trim WAL failures");
}

int lv_walcat_pushed(lv_catalog *c, const char *name, int64_t *pushed)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT pushed FROM wal_files WHERE name = ?1", &st, "read WAL file");
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *pushed = sqlite3_column_int64(st, 0);
    else if (r == SQLITE_DONE)
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s does not know WAL file %s", lv_catalog_path(c), name);
    else
        rc = db_err(c, "read WAL file");
    sqlite3_finalize(st);
    return rc;
}

int lv_walcat_failures(lv_catalog *c, const char *op, int limit,
                       int (*cb)(void *arg, const lv_wal_failure *f), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT time, op, name, code, message FROM wal_failures "
                        "WHERE ?1 IS NULL OR op = ?1 ORDER BY id DESC LIMIT ?2", &st, "read WAL failures");
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
        rc = db_err(c, "read WAL failures");
    sqlite3_finalize(st);
    return rc;
}

int64_t lv_walcat_failure_count(lv_catalog *c, const char *op)
{
    sqlite3_stmt *st;
    if (prepare(c, "SELECT count(*) FROM wal_failures WHERE op = ?1", &st, "count WAL failures"))
        return -1;
    sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        db_err(c, "count WAL failures");
    sqlite3_finalize(st);
    return n;
}

/* Catalog rebuild: one row per listed file, from its key alone (name, timeline, kind, checksum, stored
 * size; a segment's LSN range and plaintext size from its name and the stanza). What only a push knew
 * is left unknown: pushed = -1, size 0 for .history/.backup files, times NULL (wal/range.c reads the
 * segments when it needs them). A second copy of a name (a conflict) keeps the first, like fetch's
 * listing order; `wal status` reports the conflict from the listing. */
typedef struct rebuild_arg {
    lv_catalog *cat;
    uint32_t seg_size;
    uint64_t rows;
} rebuild_arg;

static int rebuild_cb(void *arg, const lv_wal_object *o)
{
    rebuild_arg *a = arg;
    lv_wal_row row = {.obj = o, .pushed = -1};
    uint64_t segno;
    if ((o->name.kind == LV_WAL_SEGMENT || o->name.kind == LV_WAL_PARTIAL) && a->seg_size &&
        lv_wal_segno(&o->name, a->seg_size, &segno) == 0) {
        row.size = a->seg_size;
        row.begin_lsn = segno * a->seg_size;
        row.end_lsn = row.begin_lsn + a->seg_size;
    }
    int64_t pushed;
    if (lv_walcat_pushed(a->cat, o->name.name, &pushed) == LV_OK)
        return LV_OK; /* a second copy of the name */
    lv_err_clear();
    a->rows++;
    return lv_walcat_add(a->cat, &row);
}

static int rebuild_step(lv_repo *r)
{
    rebuild_arg a = {.cat = r->cat};
    lv_wal_stanza s;
    if (lv_wal_stanza_get(r, &s) == LV_OK)
        a.seg_size = s.seg_size;
    else
        lv_err_clear(); /* no archive yet, or an unreadable stanza: rows without LSN ranges */
    int rc = lv_wal_list(r->store, 0, rebuild_cb, &a);
    if (rc != LV_OK)
        return lv_err_ctx("catalog rebuild: WAL archive");
    lv_info("catalog rebuild: %llu WAL files", (unsigned long long)a.rows);
    return LV_OK;
}

void lv_walcat_register(void)
{
    lv_catalog_rebuild_register("WAL archive", rebuild_step);
}
