/* prune's work database (contract in catalog/prunedb.h). */
#include "catalog/prunedb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/error.h"

struct lv_prunedb {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *add_pack, *add_entry, *add_ref;
};

static const char schema[] =
    "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-16384;"
    "CREATE TABLE packs(id BLOB PRIMARY KEY, size INTEGER NOT NULL, indexed INTEGER NOT NULL,"
    "  class INTEGER NOT NULL, total INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE entries(pack BLOB NOT NULL, off INTEGER NOT NULL, blob BLOB NOT NULL, type INTEGER NOT NULL,"
    "  len INTEGER NOT NULL, raw INTEGER NOT NULL, PRIMARY KEY(pack, off)) WITHOUT ROWID;"
    "CREATE INDEX entries_by_blob ON entries(blob);"
    "CREATE TABLE refs(blob BLOB PRIMARY KEY, kinds INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE home(blob BLOB PRIMARY KEY, pack BLOB NOT NULL, off INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX home_by_pack ON home(pack, off);";

static int db_err(lv_prunedb *d, const char *op)
{
    return lv_err(LV_ERR_IO, "prune work database %s: %s: %s", d->path, op, sqlite3_errmsg(d->db));
}

static int exec(lv_prunedb *d, const char *sql, const char *op)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = lv_err(LV_ERR_IO, "prune work database %s: %s: %s", d->path, op, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return rc;
    }
    return LV_OK;
}

static int prepare(lv_prunedb *d, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(d->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_err(d, "prepare");
    return LV_OK;
}

static int step_reset(lv_prunedb *d, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : db_err(d, op);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int lv_prunedb_open(const char *path, lv_prunedb **out)
{
    lv_prunedb *d = lv_xcalloc(1, sizeof *d);
    d->path = lv_xstrdup(path);
    unlink(path);
    int rc = LV_OK;
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        rc = lv_err(LV_ERR_IO, "cannot create the prune work database %s: %s", path,
                    d->db ? sqlite3_errmsg(d->db) : "out of memory");
    if (rc == LV_OK)
        rc = exec(d, schema, "create");
    if (rc == LV_OK)
        rc = prepare(d, "INSERT OR REPLACE INTO packs(id, size, indexed, class) VALUES (?1, ?2, ?3, ?4)", &d->add_pack);
    if (rc == LV_OK)
        rc = prepare(d, "INSERT OR IGNORE INTO entries(pack, off, blob, type, len, raw) VALUES (?1,?2,?3,?4,?5,?6)",
                     &d->add_entry);
    if (rc == LV_OK)
        rc = prepare(d, "INSERT INTO refs(blob, kinds) VALUES (?1, ?2) ON CONFLICT(blob) DO UPDATE SET "
                        "kinds = kinds | excluded.kinds", &d->add_ref);
    if (rc != LV_OK) {
        lv_prunedb_close(d);
        return rc;
    }
    *out = d;
    return LV_OK;
}

void lv_prunedb_close(lv_prunedb *d)
{
    if (!d)
        return;
    sqlite3_finalize(d->add_pack);
    sqlite3_finalize(d->add_entry);
    sqlite3_finalize(d->add_ref);
    sqlite3_close(d->db);
    unlink(d->path);
    free(d->path);
    free(d);
}

int lv_prunedb_begin(lv_prunedb *d) { return exec(d, "BEGIN", "begin"); }
int lv_prunedb_commit(lv_prunedb *d) { return exec(d, "COMMIT", "commit"); }

int lv_prunedb_add_pack(lv_prunedb *d, const uint8_t id[32], uint64_t size, int indexed, int klass)
{
    sqlite3_bind_blob(d->add_pack, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_int64(d->add_pack, 2, (sqlite3_int64)size);
    sqlite3_bind_int(d->add_pack, 3, indexed);
    sqlite3_bind_int(d->add_pack, 4, klass);
    return step_reset(d, d->add_pack, "add pack");
}

int lv_prunedb_add_entry(lv_prunedb *d, const uint8_t pack[32], const lv_prune_entry *e)
{
    sqlite3_stmt *st = d->add_entry;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->offset);
    sqlite3_bind_blob(st, 3, e->id, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, e->type);
    sqlite3_bind_int64(st, 5, e->length);
    sqlite3_bind_int64(st, 6, e->raw_length);
    return step_reset(d, st, "add entry");
}

int lv_prunedb_add_ref(lv_prunedb *d, const uint8_t blob[32], unsigned kinds)
{
    sqlite3_bind_blob(d->add_ref, 1, blob, 32, SQLITE_STATIC);
    sqlite3_bind_int(d->add_ref, 2, (int)kinds);
    return step_reset(d, d->add_ref, "add reference");
}

static int64_t one_int(lv_prunedb *d, const char *sql, int *rc)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    if (*rc != LV_OK)
        return 0;
    if ((*rc = prepare(d, sql, &st)) != LV_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        *rc = db_err(d, "count");
    sqlite3_finalize(st);
    return v;
}

int lv_prunedb_plan(lv_prunedb *d, double max_unused, lv_prune_plan_stats *st)
{
    memset(st, 0, sizeof *st);
    int rc = exec(d,
                  "BEGIN; DELETE FROM home;"
                  "CREATE TEMP TABLE pack_ref AS SELECT e.pack AS pack, sum(e.len) AS rb FROM entries e"
                  "  JOIN refs r ON r.blob = e.blob GROUP BY e.pack;"
                  "INSERT INTO home(blob, pack, off) SELECT blob, pack, off FROM ("
                  "  SELECT e.blob AS blob, e.pack AS pack, e.off AS off, row_number() OVER (PARTITION BY e.blob"
                  "    ORDER BY p.indexed DESC, coalesce(pr.rb, 0) DESC, e.pack) AS rn"
                  "  FROM entries e JOIN refs r ON r.blob = e.blob JOIN packs p ON p.id = e.pack"
                  "  LEFT JOIN temp.pack_ref pr ON pr.pack = e.pack WHERE p.class IN (0, 1, 2)) WHERE rn = 1;"
                  "DROP TABLE temp.pack_ref;"
                  "UPDATE packs SET total = coalesce((SELECT sum(len) FROM entries WHERE entries.pack = packs.id), 0),"
                  "  used = coalesce((SELECT sum(e.len) FROM home h JOIN entries e ON e.pack = h.pack AND e.off = h.off"
                  "                   WHERE h.pack = packs.id), 0) WHERE class IN (0, 1, 2);"
                  "COMMIT;",
                  "plan");
    if (rc != LV_OK) {
        exec(d, "ROLLBACK", "rollback");
        return rc;
    }
    sqlite3_stmt *cls;
    if ((rc = prepare(d, "UPDATE packs SET class = CASE WHEN used = 0 THEN 2 WHEN (total - used) > ?1 * total"
                         " THEN 1 ELSE 0 END WHERE class IN (0, 1, 2)",
                      &cls)) != LV_OK)
        return rc;
    sqlite3_bind_double(cls, 1, max_unused);
    rc = sqlite3_step(cls) == SQLITE_DONE ? LV_OK : db_err(d, "classify packs");
    sqlite3_finalize(cls);
    st->packs = (uint64_t)one_int(d, "SELECT count(*) FROM packs WHERE class IN (0,1,2)", &rc);
    st->pack_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(size),0) FROM packs WHERE class IN (0,1,2)", &rc);
    st->blobs = (uint64_t)one_int(d, "SELECT count(DISTINCT blob) FROM entries", &rc);
    st->refs = (uint64_t)one_int(d, "SELECT count(*) FROM refs", &rc);
    st->refs_missing = (uint64_t)one_int(d, "SELECT count(*) FROM refs WHERE blob NOT IN (SELECT blob FROM home)", &rc);
    st->used_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(used),0) FROM packs WHERE class IN (0,1,2)", &rc);
    st->unused_bytes =
        (uint64_t)one_int(d, "SELECT coalesce(sum(total - used),0) FROM packs WHERE class IN (0,1,2)", &rc);
    st->keep = (uint64_t)one_int(d, "SELECT count(*) FROM packs WHERE class = 0", &rc);
    st->keep_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(size),0) FROM packs WHERE class = 0", &rc);
    st->repack = (uint64_t)one_int(d, "SELECT count(*) FROM packs WHERE class = 1", &rc);
    st->repack_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(size),0) FROM packs WHERE class = 1", &rc);
    st->repack_used_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(used),0) FROM packs WHERE class = 1", &rc);
    st->del = (uint64_t)one_int(d, "SELECT count(*) FROM packs WHERE class = 2", &rc);
    st->del_bytes = (uint64_t)one_int(d, "SELECT coalesce(sum(size),0) FROM packs WHERE class = 2", &rc);
    return rc;
}

int lv_prunedb_packs(lv_prunedb *d, int klass, int (*cb)(void *arg, const lv_prune_pack *p), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(d, "SELECT id, size, indexed, class FROM packs WHERE ?1 < 0 OR class = ?1 ORDER BY id", &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int(st, 1, klass);
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_prune_pack p;
        memcpy(p.id, sqlite3_column_blob(st, 0), 32);
        p.size = (uint64_t)sqlite3_column_int64(st, 1);
        p.indexed = sqlite3_column_int(st, 2);
        p.klass = sqlite3_column_int(st, 3);
        rc = cb(arg, &p);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(d, "list packs");
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_entries(lv_prunedb *d, const uint8_t pack[32], int home_only,
                       int (*cb)(void *arg, const lv_prune_entry *e), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(d,
                     home_only ? "SELECT e.off, e.blob, e.type, e.len, e.raw FROM home h JOIN entries e"
                                 " ON e.pack = h.pack AND e.off = h.off WHERE h.pack = ?1 ORDER BY e.off"
                               : "SELECT off, blob, type, len, raw FROM entries WHERE pack = ?1 ORDER BY off",
                     &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_prune_entry e;
        e.offset = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy(e.id, sqlite3_column_blob(st, 1), 32);
        e.type = (uint8_t)sqlite3_column_int(st, 2);
        e.length = (uint32_t)sqlite3_column_int64(st, 3);
        e.raw_length = (uint32_t)sqlite3_column_int64(st, 4);
        rc = cb(arg, &e);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(d, "list entries");
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_set_class(lv_prunedb *d, const uint8_t pack[32], int klass)
{
    sqlite3_stmt *st;
    int rc = prepare(d, "UPDATE packs SET class = ?2 WHERE id = ?1", &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, klass);
    rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : db_err(d, "set class");
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_class(lv_prunedb *d, const uint8_t pack[32], int *klass)
{
    sqlite3_stmt *st;
    int rc = prepare(d, "SELECT class FROM packs WHERE id = ?1", &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *klass = sqlite3_column_int(st, 0);
    else if (r == SQLITE_DONE)
        rc = LV_ERR_NOT_FOUND;
    else
        rc = db_err(d, "pack class");
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_blob_safe(lv_prunedb *d, const uint8_t blob[32], int *safe, int *found,
                         uint8_t pack_out[32])
{
    *safe = *found = 0;
    sqlite3_stmt *st;
    int rc = prepare(d, "SELECT e.pack, p.class FROM entries e JOIN packs p ON p.id = e.pack WHERE e.blob = ?1"
                        " ORDER BY p.class <> 2 DESC",
                     &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_blob(st, 1, blob, 32, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int klass = sqlite3_column_int(st, 1);
        /* A REPACK pack's home blobs were copied into NEW packs; its other blobs went nowhere. */
        if (klass == LV_PRUNE_KEEP || klass == LV_PRUNE_NEW || klass == LV_PRUNE_RESCUED) {
            *safe = 1;
            break;
        }
        if (!*found) {
            *found = 1;
            memcpy(pack_out, sqlite3_column_blob(st, 0), 32);
        }
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = db_err(d, "look up blob");
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_kind_stats(lv_prunedb *d, unsigned kinds, uint64_t *blobs, uint64_t *raw, uint64_t *sealed)
{
    sqlite3_stmt *st;
    int rc = prepare(d, "SELECT count(*), coalesce(sum(e.raw), 0), coalesce(sum(e.len), 0) FROM refs r"
                        " JOIN home h ON h.blob = r.blob JOIN entries e ON e.pack = h.pack AND e.off = h.off"
                        " WHERE r.kinds & ?1",
                     &st);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int(st, 1, (int)kinds);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *blobs = (uint64_t)sqlite3_column_int64(st, 0);
        *raw = (uint64_t)sqlite3_column_int64(st, 1);
        *sealed = (uint64_t)sqlite3_column_int64(st, 2);
    } else {
        rc = db_err(d, "kind statistics");
    }
    sqlite3_finalize(st);
    return rc;
}

int lv_prunedb_missing_refs(lv_prunedb *d, int (*cb)(void *arg, const uint8_t blob[32]), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(d, "SELECT blob FROM refs WHERE blob NOT IN (SELECT blob FROM home) ORDER BY blob", &st);
    if (rc != LV_OK)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = cb(arg, sqlite3_column_blob(st, 0));
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(d, "list missing blobs");
    sqlite3_finalize(st);
    return rc;
}
