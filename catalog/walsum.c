/* Per-segment WAL summaries in the catalog (contract in catalog/walsum.h). */
#include "catalog/walsum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/db.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/sort.h"

/* Migration 5 (catalog/walsum.h says what each column holds). */
const char lv_cat_schema_walsum[] =
    "ALTER TABLE wal_files ADD COLUMN xid_lo INTEGER;"
    "ALTER TABLE wal_files ADD COLUMN xid_hi INTEGER;"
    "ALTER TABLE wal_files ADD COLUMN summary INTEGER;"
    "ALTER TABLE wal_files ADD COLUMN cut BLOB;"
    "ALTER TABLE wal_files ADD COLUMN lead BLOB;"
    "CREATE INDEX wal_files_by_lsn ON wal_files(begin_lsn);"
    "CREATE TABLE wal_changes(segment TEXT NOT NULL, xid INTEGER NOT NULL, spc INTEGER NOT NULL,"
    "  db INTEGER NOT NULL, rel INTEGER NOT NULL, inserted INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL, first_lsn INTEGER NOT NULL, last_lsn INTEGER NOT NULL,"
    "  end_kind INTEGER NOT NULL, end_lsn INTEGER, end_time INTEGER, end_db INTEGER, end_prepared INTEGER);"
    "CREATE INDEX wal_changes_by_segment ON wal_changes(segment);"
    "CREATE TABLE wal_points(segment TEXT NOT NULL, lsn INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  xid INTEGER NOT NULL, db INTEGER NOT NULL, time INTEGER NOT NULL, name TEXT NOT NULL);"
    "CREATE INDEX wal_points_by_segment ON wal_points(segment);";

void lv_walsum_free(lv_walsum *s)
{
    free(s->changes);
    free(s->points);
    memset(s, 0, sizeof *s);
}

static int step_reset(lv_catalog *c, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : lv_cat_err(c, op);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* The detail rows of a summary (the caller holds the transaction, or relies on the wal_files row being
 * written after them: a summary counts only once that row says so). */
int lv_catalog_walsum_rows(lv_catalog *c, const char *name, const lv_walsum *s)
{
    sqlite3_stmt *del = NULL, *ch = NULL, *pt = NULL;
    int rc = lv_cat_prepare(c, "DELETE FROM wal_changes WHERE segment = ?1", &del);
    if (rc == LV_OK) {
        sqlite3_bind_text(del, 1, name, -1, SQLITE_STATIC);
        rc = step_reset(c, del, "record WAL summary");
        sqlite3_finalize(del);
    }
    if (rc == LV_OK && (rc = lv_cat_prepare(c, "DELETE FROM wal_points WHERE segment = ?1", &del)) ==
                           LV_OK) {
        sqlite3_bind_text(del, 1, name, -1, SQLITE_STATIC);
        rc = step_reset(c, del, "record WAL summary");
        sqlite3_finalize(del);
    }
    if (rc == LV_OK && s->nchanges)
        rc = lv_cat_prepare(c, "INSERT INTO wal_changes(segment, xid, spc, db, rel, inserted, updated, deleted, first_lsn, "
                        "last_lsn, end_kind, end_lsn, end_time, end_db, end_prepared) "
                        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)", &ch);
    for (size_t i = 0; rc == LV_OK && i < s->nchanges; i++) {
        const lv_walsum_change *x = &s->changes[i];
        sqlite3_bind_text(ch, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ch, 2, x->xid);
        sqlite3_bind_int64(ch, 3, x->rel.spc);
        sqlite3_bind_int64(ch, 4, x->rel.db);
        sqlite3_bind_int64(ch, 5, x->rel.rel);
        sqlite3_bind_int64(ch, 6, (sqlite3_int64)x->inserted);
        sqlite3_bind_int64(ch, 7, (sqlite3_int64)x->updated);
        sqlite3_bind_int64(ch, 8, (sqlite3_int64)x->deleted);
        sqlite3_bind_int64(ch, 9, (sqlite3_int64)x->first_lsn);
        sqlite3_bind_int64(ch, 10, (sqlite3_int64)x->last_lsn);
        sqlite3_bind_int(ch, 11, (int)x->end);
        if (x->end) {
            sqlite3_bind_int64(ch, 12, (sqlite3_int64)x->end_lsn);
            sqlite3_bind_int64(ch, 13, x->end_time_us);
            sqlite3_bind_int64(ch, 14, x->end_dbid);
            sqlite3_bind_int(ch, 15, x->end_prepared);
        }
        rc = step_reset(c, ch, "record WAL summary");
    }
    sqlite3_finalize(ch);
    if (rc == LV_OK && s->npoints)
        rc = lv_cat_prepare(c, "INSERT INTO wal_points(segment, lsn, kind, xid, db, time, name) VALUES (?1,?2,?3,?4,?5,?6,?7)", &pt);
    for (size_t i = 0; rc == LV_OK && i < s->npoints; i++) {
        const lv_walsum_point *p = &s->points[i];
        sqlite3_bind_text(pt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(pt, 2, (sqlite3_int64)p->lsn);
        sqlite3_bind_int(pt, 3, (int)p->kind);
        sqlite3_bind_int64(pt, 4, p->xid);
        sqlite3_bind_int64(pt, 5, p->dbid);
        sqlite3_bind_int64(pt, 6, p->time_us);
        sqlite3_bind_text(pt, 7, p->name, -1, SQLITE_STATIC);
        rc = step_reset(c, pt, "record WAL summary");
    }
    sqlite3_finalize(pt);
    return rc;
}

int lv_catalog_walsum_save(lv_catalog *c, const char *name, const lv_walsum *s)
{
    int rc = lv_catalog_begin(c);
    if (rc != LV_OK)
        return rc;
    rc = lv_catalog_walsum_rows(c, name, s);
    sqlite3_stmt *st = NULL;
    if (rc == LV_OK)
        rc = lv_cat_prepare(c, "UPDATE wal_files SET begin_time = ?2, end_time = ?3, xid_lo = ?4, xid_hi = ?5, summary = 1, "
                        "cut = ?6, lead = ?7 WHERE name = ?1", &st);
    if (rc == LV_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->begin_time);
        sqlite3_bind_int64(st, 3, s->end_time);
        if (s->have_xids) {
            sqlite3_bind_int64(st, 4, s->xid_lo);
            sqlite3_bind_int64(st, 5, s->xid_hi);
        }
        if (s->ncut)
            sqlite3_bind_blob(st, 6, s->cut, (int)s->ncut, SQLITE_STATIC);
        if (s->nlead)
            sqlite3_bind_blob(st, 7, s->lead, (int)s->nlead, SQLITE_STATIC);
        rc = step_reset(c, st, "record WAL summary");
        sqlite3_finalize(st);
    }
    if (rc == LV_OK)
        return lv_catalog_commit(c);
    lv_catalog_rollback(c);
    return rc;
}

/* ---- loading the summaries of a range ----------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const lv_catalog_walsum *)a)->name, ((const lv_catalog_walsum *)b)->name);
}

lv_catalog_walsum *lv_catalog_walsum_find(lv_catalog_walsum *v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid].name, name);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void add_change(lv_walsum *s, sqlite3_stmt *st)
{
    s->changes = lv_xrealloc(s->changes, (s->nchanges + 1) * sizeof *s->changes);
    lv_walsum_change *ch = &s->changes[s->nchanges++];
    memset(ch, 0, sizeof *ch);
    ch->xid = (uint32_t)sqlite3_column_int64(st, 1);
    ch->rel = (lv_walsum_rel){(uint32_t)sqlite3_column_int64(st, 2), (uint32_t)sqlite3_column_int64(st, 3),
                           (uint32_t)sqlite3_column_int64(st, 4)};
    ch->inserted = (uint64_t)sqlite3_column_int64(st, 5);
    ch->updated = (uint64_t)sqlite3_column_int64(st, 6);
    ch->deleted = (uint64_t)sqlite3_column_int64(st, 7);
    ch->first_lsn = (uint64_t)sqlite3_column_int64(st, 8);
    ch->last_lsn = (uint64_t)sqlite3_column_int64(st, 9);
    ch->end = (lv_walsum_end)sqlite3_column_int(st, 10);
    ch->end_lsn = (uint64_t)sqlite3_column_int64(st, 11);
    ch->end_time_us = sqlite3_column_int64(st, 12);
    ch->end_dbid = (uint32_t)sqlite3_column_int64(st, 13);
    ch->end_prepared = sqlite3_column_int(st, 14);
}

static void add_point(lv_walsum *s, sqlite3_stmt *st)
{
    s->points = lv_xrealloc(s->points, (s->npoints + 1) * sizeof *s->points);
    lv_walsum_point *p = &s->points[s->npoints++];
    memset(p, 0, sizeof *p);
    p->lsn = (uint64_t)sqlite3_column_int64(st, 1);
    p->kind = (lv_walsum_point_kind)sqlite3_column_int(st, 2);
    p->xid = (uint32_t)sqlite3_column_int64(st, 3);
    p->dbid = (uint32_t)sqlite3_column_int64(st, 4);
    p->time_us = sqlite3_column_int64(st, 5);
    snprintf(p->name, sizeof p->name, "%s", (const char *)sqlite3_column_text(st, 6));
}

/* Rows of sql (column 0: the segment's name; ?1, ?2: the LSN bounds) added to the summaries v by add. */
static int detail(lv_catalog *c, const char *sql, uint64_t from_lsn, uint64_t to_lsn, lv_catalog_walsum *v, size_t nv,
                  void (*add)(lv_walsum *s, sqlite3_stmt *st))
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, sql, &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from_lsn);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)to_lsn);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_catalog_walsum *x = lv_catalog_walsum_find(v, nv, (const char *)sqlite3_column_text(st, 0));
        if (x)
            add(&x->s, st);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? LV_OK : lv_cat_err(c, "read WAL summaries");
}

int lv_catalog_walsums(lv_catalog *c, uint64_t from_lsn, uint64_t to_lsn, lv_catalog_walsum **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    lv_catalog_walsum *v = NULL;
    size_t nv = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT name, begin_time, end_time, xid_lo, xid_hi, cut, lead FROM wal_files WHERE summary = 1 "
                        "AND kind = 'segment' AND begin_lsn >= ?1 AND begin_lsn < ?2", &st);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from_lsn);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)to_lsn);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        LV_GROW(v, nv, cap);
        lv_catalog_walsum *x = &v[nv++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", (const char *)sqlite3_column_text(st, 0));
        x->s.begin_time = sqlite3_column_int64(st, 1);
        x->s.end_time = sqlite3_column_int64(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            x->s.have_xids = 1;
            x->s.xid_lo = (uint32_t)sqlite3_column_int64(st, 3);
            x->s.xid_hi = (uint32_t)sqlite3_column_int64(st, 4);
        }
        int k = sqlite3_column_bytes(st, 5);
        if (k > 0 && k <= LV_WALSUM_EDGE) {
            memcpy(x->s.cut, sqlite3_column_blob(st, 5), (size_t)k);
            x->s.ncut = (uint32_t)k;
        }
        k = sqlite3_column_bytes(st, 6);
        if (k > 0 && k <= LV_WALSUM_EDGE) {
            memcpy(x->s.lead, sqlite3_column_blob(st, 6), (size_t)k);
            x->s.nlead = (uint32_t)k;
        }
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        free(v);
        return lv_cat_err(c, "read WAL summaries");
    }
    lv_sort(v, nv, sizeof *v, cmp_name);
    /* The detail rows of those segments. */
    rc = detail(c, "SELECT c.segment, c.xid, c.spc, c.db, c.rel, c.inserted, c.updated, c.deleted, c.first_lsn, "
                   "c.last_lsn, c.end_kind, c.end_lsn, c.end_time, c.end_db, c.end_prepared FROM wal_changes c "
                   "JOIN wal_files f ON f.name = c.segment WHERE f.summary = 1 AND f.begin_lsn >= ?1 "
                   "AND f.begin_lsn < ?2",
                from_lsn, to_lsn, v, nv, add_change);
    if (rc == LV_OK)
        rc = detail(c, "SELECT p.segment, p.lsn, p.kind, p.xid, p.db, p.time, p.name FROM wal_points p "
                       "JOIN wal_files f ON f.name = p.segment WHERE f.summary = 1 AND f.begin_lsn >= ?1 "
                       "AND f.begin_lsn < ?2",
                    from_lsn, to_lsn, v, nv, add_point);
    if (rc != LV_OK) {
        lv_catalog_walsums_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return LV_OK;
}

void lv_catalog_walsums_free(lv_catalog_walsum *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lv_walsum_free(&v[i].s);
    free(v);
}
