/* WAL tables of the catalog (contract in wal/walcat.h). */
#include "wal/walcat.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/log.h"
#include "manifests/rebuild.h"
#include "manifests/sync.h"
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
    /* The summary's detail rows first: the row below is what says they are complete. */
    int rc = row->summary ? lv_walcat_summary_rows(c, o->name.name, row->summary) : LV_OK;
    if (rc == LV_OK)
        rc = prepare(c, "INSERT OR REPLACE INTO wal_files(name, timeline, kind, key, size, stored_size, "
                        "checksum, pushed, begin_lsn, end_lsn, begin_time, end_time, xid_lo, xid_hi, summary, "
                        "cut, lead) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
                     &st, "record WAL file");
    if (rc)
        return lv_err_ctx("WAL file %s", o->name.name);
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
    if (row->summary) {
        if (row->summary->have_xids) {
            sqlite3_bind_int64(st, 13, row->summary->xid_lo);
            sqlite3_bind_int64(st, 14, row->summary->xid_hi);
        }
        sqlite3_bind_int(st, 15, 1);
        if (row->summary->ncut)
            sqlite3_bind_blob(st, 16, row->summary->cut, (int)row->summary->ncut, SQLITE_STATIC);
        if (row->summary->nlead)
            sqlite3_bind_blob(st, 17, row->summary->lead, (int)row->summary->nlead, SQLITE_STATIC);
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

int lv_walcat_summary_get(lv_catalog *c, lv_walcat_summary *s)
{
    memset(s, 0, sizeof *s);
    s->last_pushed = -1;
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT count(*), coalesce(sum(stored_size), 0), (SELECT name FROM wal_files WHERE pushed >= 0 "
                        "ORDER BY pushed DESC, name DESC LIMIT 1), coalesce(max(pushed), -1) FROM wal_files",
                     &st, "summarize WAL files");
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s->files = (uint64_t)sqlite3_column_int64(st, 0);
        s->stored_bytes = (uint64_t)sqlite3_column_int64(st, 1);
        const unsigned char *n = sqlite3_column_text(st, 2);
        snprintf(s->last_name, sizeof s->last_name, "%s", n ? (const char *)n : "");
        s->last_pushed = sqlite3_column_int64(st, 3);
    } else {
        rc = db_err(c, "summarize WAL files");
    }
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

int lv_walcat_each(lv_catalog *c, int (*cb)(void *arg, const char *key, uint64_t stored_size), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT key, stored_size FROM wal_files ORDER BY key", &st, "list WAL files");
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(arg, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(c, "list WAL files");
    sqlite3_finalize(st);
    return rc;
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

static int rebuild_step(lv_repo *r, uint64_t *damaged)
{
    rebuild_arg a = {.cat = r->cat};
    lv_wal_stanza s;
    int rc = lv_wal_stanza_require(r, &s);
    if (rc == LV_OK) {
        a.seg_size = s.seg_size;
    } else if (rc == LV_ERR_CORRUPT) { /* damaged or lost: rows without LSN ranges */
        lv_error("%s", lv_errmsg());
        (*damaged)++;
    } else if (rc != LV_ERR_NOT_FOUND) { /* NOT_FOUND: no archive yet */
        return lv_err_ctx("catalog rebuild: WAL archive");
    }
    lv_err_clear();
    rc = lv_wal_list(r->store, 0, rebuild_cb, &a);
    if (rc != LV_OK)
        return lv_err_ctx("catalog rebuild: WAL archive");
    lv_info("catalog rebuild: %llu WAL files", (unsigned long long)a.rows);
    return LV_OK;
}

/* Catalog sync: add rows for files the catalog lacks (as a rebuild does), forget rows of files that are
 * gone from wal/ (expired by forget, here or on another host). The listed names go through a temporary
 * table, so the comparison is one statement whatever the archive's size. */
typedef struct sync_arg {
    rebuild_arg rb;
    sqlite3_stmt *seen;
    lv_catalog *cat;
    lv_repo *r;
    int stanza_read;
} sync_arg;

static int sync_cb(void *arg, const lv_wal_object *o)
{
    sync_arg *a = arg;
    sqlite3_bind_text(a->seen, 1, o->name.name, -1, SQLITE_STATIC);
    int r = sqlite3_step(a->seen);
    sqlite3_reset(a->seen);
    if (r != SQLITE_DONE)
        return db_err(a->cat, "list WAL files");
    int64_t pushed;
    if (lv_walcat_pushed(a->cat, o->name.name, &pushed) == LV_OK)
        return LV_OK; /* known: most files, most of the time */
    lv_err_clear();
    if (!a->stanza_read) { /* the segment size, read once and only when a row is added */
        lv_wal_stanza s;
        if (lv_wal_stanza_get(a->r, &s) == LV_OK)
            a->rb.seg_size = s.seg_size;
        else
            lv_err_clear();
        a->stanza_read = 1;
    }
    return rebuild_cb(&a->rb, o);
}

static int sync_step(lv_repo *r)
{
    sync_arg a = {.rb = {.cat = r->cat}, .cat = r->cat, .r = r};
    sqlite3 *db = lv_catalog_db(r->cat);
    if (sqlite3_exec(db, "CREATE TEMP TABLE IF NOT EXISTS wal_seen(name TEXT PRIMARY KEY); DELETE FROM wal_seen",
                     NULL, NULL, NULL) != SQLITE_OK)
        return db_err(r->cat, "sync WAL files");
    int rc = prepare(r->cat, "INSERT OR IGNORE INTO wal_seen(name) VALUES (?1)", &a.seen, "sync WAL files");
    if (rc == LV_OK) {
        rc = lv_wal_list(r->store, 0, sync_cb, &a);
        sqlite3_finalize(a.seen);
    }
    if (rc == LV_OK) {
        sqlite3_stmt *del;
        rc = prepare(r->cat, "DELETE FROM wal_files WHERE name NOT IN (SELECT name FROM wal_seen)", &del,
                     "sync WAL files");
        if (rc == LV_OK)
            rc = run_done(r->cat, del, "sync WAL files");
        if (rc == LV_OK && sqlite3_changes(db) > 0)
            lv_info("catalog sync: %d WAL files are gone from the repository", sqlite3_changes(db));
        /* and the summaries of the segments that went with them */
        if (rc == LV_OK &&
            sqlite3_exec(db, "DELETE FROM wal_changes WHERE segment NOT IN (SELECT name FROM wal_seen);"
                             "DELETE FROM wal_points WHERE segment NOT IN (SELECT name FROM wal_seen)",
                         NULL, NULL, NULL) != SQLITE_OK)
            rc = db_err(r->cat, "sync WAL summaries");
    }
    sqlite3_exec(db, "DROP TABLE IF EXISTS wal_seen", NULL, NULL, NULL);
    return rc;
}

void lv_walcat_register(void)
{
    lv_catalog_rebuild_register("WAL archive", rebuild_step);
    lv_catalog_sync_register("WAL archive", sync_step);
}
