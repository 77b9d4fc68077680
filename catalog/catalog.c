/* The local SQLite catalog (contract in catalog/catalog.h).
 *
 * Concurrency: every process opens its own connection. WAL mode lets readers run beside the one writer;
 * writers queue on the busy timeout (30 s), and explicit transactions start with BEGIN IMMEDIATE so that
 * the write lock is taken up front: a deferred transaction that reads and then tries to write can fail
 * with SQLITE_BUSY immediately, without waiting, which is exactly the race archive_command and a backup
 * would hit. synchronous=NORMAL in WAL mode never corrupts the database on power loss; it can lose the
 * last commits, which are all re-derivable from the repository (the bucket is the truth).
 *
 * Schema changes are forward migrations: append an entry to `migrations` below, never edit a published
 * one. Each migration runs in its own transaction together with the bump of meta.schema_version, and the
 * version is re-read inside that transaction, so two processes opening a fresh catalog at once apply
 * each migration exactly once. */
#include "catalog/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"

#define BUSY_TIMEOUT_MS 30000

/* Forward migrations; index i brings the schema from version i to i + 1. Tables derived from the
 * repository must also be cleared by lv_catalog_reset (derived_tables below). */
static const char *const migrations[] = {
    /* 1: the repository index and the manifests. Blob and pack ids are raw 32-byte BLOBs (half the
     * size of hex, and the primary key of a WITHOUT ROWID table, so a lookup is one b-tree descent).
     * No foreign key from blobs to packs: the pack writer records blobs and their pack in either
     * order, and a rebuild reads index objects in whatever order the bucket lists them. */
    "CREATE TABLE blobs(id BLOB PRIMARY KEY, type INTEGER NOT NULL, pack BLOB NOT NULL,"
    "  offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX blobs_by_pack ON blobs(pack);"
    "CREATE TABLE packs(id BLOB PRIMARY KEY, size INTEGER NOT NULL, index_id BLOB) WITHOUT ROWID;"
    "CREATE TABLE indexes(id BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE manifests(id TEXT PRIMARY KEY, kind TEXT NOT NULL, time INTEGER NOT NULL,"
    "  summary TEXT NOT NULL);"
    "CREATE INDEX manifests_by_kind_time ON manifests(kind, time);",
    /* 2: the WAL archive (wal/walcat.c). wal_files: one row per archived file, keyed by PostgreSQL's
     * file name (a name has at most one object); an index of wal/ in the repository, rebuildable from
     * its listing. LSNs are the segment's [begin, end); the time columns are the commit-time range a
     * WAL reader fills in later (NULL until then). wal_failures: a journal of local events (failed
     * pushes and fetches, segments dropped by archive-queue-max), for `wal status`. */
    "CREATE TABLE wal_files(name TEXT PRIMARY KEY, timeline INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  key TEXT NOT NULL, size INTEGER NOT NULL, stored_size INTEGER NOT NULL, checksum TEXT NOT NULL,"
    "  pushed INTEGER NOT NULL, begin_lsn INTEGER, end_lsn INTEGER, begin_time INTEGER,"
    "  end_time INTEGER) WITHOUT ROWID;"
    "CREATE INDEX wal_files_by_timeline ON wal_files(timeline, name);"
    "CREATE INDEX wal_files_by_pushed ON wal_files(pushed);"
    "CREATE TABLE wal_failures(id INTEGER PRIMARY KEY, time INTEGER NOT NULL, op TEXT NOT NULL,"
    "  name TEXT NOT NULL, code INTEGER NOT NULL, message TEXT NOT NULL);",
    /* 3: the files cache of file snapshots (backup/files_cache.c): per absolute path, the identity and
     * change times of the file when it was last read, and its extents (snapshot/tree.h wire form), so
     * an unchanged file is not read again. A local cache, not derived from the repository: `catalog
     * rebuild` empties it. gen is the backup run that last saw the path (to drop deleted files). */
    "CREATE TABLE files_cache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, extents BLOB NOT NULL,"
    "  gen INTEGER NOT NULL) WITHOUT ROWID;",
    /* 4: restore drills (drills/record.c). record is the drill's JSON (drills/drill.h), the same text as
     * the repository object drills/<id>; the other columns are extracted from it for ordering and
     * reports. Derived: `catalog rebuild` refills it from drills/ in the repository. */
    "CREATE TABLE drills(id TEXT PRIMARY KEY, kind TEXT NOT NULL, time INTEGER NOT NULL,"
    "  passed INTEGER NOT NULL, rto REAL, rpo REAL, record TEXT NOT NULL);"
    "CREATE INDEX drills_by_time ON drills(time);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const derived_tables[] = {"blobs", "packs", "indexes", "manifests", "wal_files",
                                               "drills"};

struct lv_catalog {
    sqlite3 *db;
    char *path;
    int in_tx;
    sqlite3_stmt *st_blob_find, *st_blob_add;
};

/* SQLite failure -> LV_ERR_IO naming the file and the operation. */
static int db_err(lv_catalog *c, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: %s: %s", c->path, op, sqlite3_errmsg(c->db));
}

static int exec(lv_catalog *c, const char *sql, const char *op)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = lv_err(LV_ERR_IO, "catalog %s: %s: %s", c->path, op, msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return rc;
    }
    return LV_OK;
}

static int prepare(lv_catalog *c, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(c->db, sql, -1, 0, st, NULL) != SQLITE_OK)
        return db_err(c, "prepare");
    return LV_OK;
}

/* Run a prepared statement that returns no rows to completion, then finalize it. */
static int step_done(lv_catalog *c, sqlite3_stmt *st, const char *op)
{
    int r = sqlite3_step(st);
    int rc = r == SQLITE_DONE ? LV_OK : db_err(c, op);
    sqlite3_finalize(st);
    return rc;
}

/* ---- meta ----------------------------------------------------------------------------------- */

int lv_catalog_meta_set(lv_catalog *c, const char *key, const char *value)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(c, st, "set meta");
}

int lv_catalog_meta_get(lv_catalog *c, const char *key, char **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT value FROM meta WHERE key = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *out = lv_xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (r == SQLITE_DONE)
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s: no meta value \"%s\"", c->path, key);
    else
        rc = db_err(c, "read meta");
    sqlite3_finalize(st);
    return rc;
}

/* Version in meta, 0 for a fresh database. */
int lv_catalog_schema_version(void) { return SCHEMA_VERSION; }

static int schema_version(lv_catalog *c, int *v)
{
    char *s = NULL;
    int rc = lv_catalog_meta_get(c, "schema_version", &s);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_err_clear();
        *v = 0;
        return LV_OK;
    }
    if (rc)
        return rc;
    char *end;
    long x = strtol(s, &end, 10);
    int bad = *end != '\0' || x < 0 || x > INT_MAX;
    free(s);
    if (bad)
        return lv_err(LV_ERR_CORRUPT, "catalog %s: schema_version is not a number", c->path);
    *v = (int)x;
    return LV_OK;
}

static int migrate(lv_catalog *c)
{
    int rc = exec(c, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                  "create meta table");
    for (;;) {
        int v = 0;
        if (rc || (rc = schema_version(c, &v)))
            return rc;
        if (v > SCHEMA_VERSION)
            return lv_err(LV_ERR_CONFIG, "catalog %s has schema version %d; this build of labvault "
                          "knows up to %d (a newer labvault wrote it)", c->path, v, SCHEMA_VERSION);
        if (v == SCHEMA_VERSION)
            return LV_OK;
        /* Take the write lock, then look again: another process may have migrated meanwhile. */
        if ((rc = exec(c, "BEGIN IMMEDIATE", "begin migration")))
            return rc;
        int now = 0;
        if ((rc = schema_version(c, &now)) == LV_OK && now == v) {
            char num[16];
            snprintf(num, sizeof num, "%d", v + 1);
            if ((rc = exec(c, migrations[v], "migrate schema")) == LV_OK &&
                (rc = lv_catalog_meta_set(c, "schema_version", num)) == LV_OK)
                rc = exec(c, "COMMIT", "commit migration");
        }
        if (rc) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return lv_err_ctx("schema migration %d -> %d", v, v + 1);
        }
        if (now != v) /* someone else moved it on: re-read and continue from there */
            sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    }
}

/* Bind the catalog to its repository on first use; afterwards refuse any other repository. */
static int check_repo(lv_catalog *c, const char *repo_id_hex)
{
    char *have = NULL;
    int rc = lv_catalog_meta_get(c, "repository_id", &have);
    if (rc == LV_ERR_NOT_FOUND) {
        lv_err_clear();
        /* INSERT OR IGNORE-style race: two first opens for different repositories cannot both win. */
        sqlite3_stmt *st;
        if ((rc = prepare(c, "INSERT OR IGNORE INTO meta(key, value) VALUES ('repository_id', ?1)",
                          &st)))
            return rc;
        sqlite3_bind_text(st, 1, repo_id_hex, -1, SQLITE_STATIC);
        if ((rc = step_done(c, st, "bind to repository")))
            return rc;
        return check_repo(c, repo_id_hex);
    }
    if (rc)
        return rc;
    if (strcmp(have, repo_id_hex) != 0)
        rc = lv_err(LV_ERR_CONFLICT, "catalog %s belongs to repository %s, not %s: run `labvault "
                    "catalog rebuild` to rebuild it for this repository (or set [global] catalog to "
                    "another file)", c->path, have, repo_id_hex);
    free(have);
    return rc;
}

/* ---- open / close --------------------------------------------------------------------------- */

static int make_parent(const char *path)
{
    char *dir = lv_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = LV_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = lv_mkdir_p(dir, 0700);
    }
    free(dir);
    return rc;
}

/* Switching a new database to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once,
 * without the busy handler, when another process is opening the same new file at that moment (two
 * commands started together on a fresh host). Retry for as long as the busy timeout would wait. Once
 * the file is in WAL mode (the setting is persistent) the pragma is a no-op and never busy. */
static int set_wal(lv_catalog *c)
{
    for (int waited = 0;; waited += 10) {
        int r = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (r == SQLITE_OK)
            return LV_OK;
        if ((r & 0xff) != SQLITE_BUSY && (r & 0xff) != SQLITE_LOCKED)
            return db_err(c, "set WAL mode");
        if (waited >= BUSY_TIMEOUT_MS)
            return db_err(c, "set WAL mode");
        usleep(10 * 1000);
    }
}

int lv_catalog_open(const char *path, const char *repo_id_hex, lv_catalog **out)
{
    *out = NULL;
    int rc = make_parent(path);
    if (rc)
        return lv_err_ctx("catalog %s", path);
    lv_catalog *c = lv_xcalloc(1, sizeof *c);
    c->path = lv_xstrdup(path);
    /* NOMUTEX: a handle is used by one thread at a time (header contract), so SQLite's own per-call
     * mutex would be pure overhead on the hot blob lookups. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        rc = c->db ? db_err(c, "open") : lv_err(LV_ERR_IO, "catalog %s: cannot open", path);
        lv_catalog_close(c);
        return rc;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(c->db, 1);
    /* journal_mode=WAL is persistent in the file; the others are per connection. The busy timeout is
     * set first because switching to WAL needs a moment of exclusive access. */
    if ((rc = set_wal(c)) ||
        (rc = exec(c, "PRAGMA synchronous=NORMAL", "set synchronous")) ||
        (rc = exec(c, "PRAGMA foreign_keys=ON", "enable foreign keys")) || (rc = migrate(c)) ||
        (repo_id_hex && (rc = check_repo(c, repo_id_hex))) ||
        (rc = prepare(c, "SELECT type, pack, offset, length, raw_length FROM blobs WHERE id = ?1",
                      &c->st_blob_find)) ||
        (rc = prepare(c, "INSERT OR IGNORE INTO blobs(id, type, pack, offset, length, raw_length) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &c->st_blob_add))) {
        lv_catalog_close(c);
        return rc;
    }
    *out = c;
    return LV_OK;
}

void lv_catalog_close(lv_catalog *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->st_blob_find);
    sqlite3_finalize(c->st_blob_add);
    if (c->in_tx)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(c->db);
    free(c->path);
    free(c);
}

const char *lv_catalog_path(const lv_catalog *c) { return c->path; }

struct sqlite3 *lv_catalog_db(lv_catalog *c) { return c->db; }

int lv_catalog_set_repo(lv_catalog *c, const char *repo_id_hex)
{
    return lv_catalog_meta_set(c, "repository_id", repo_id_hex);
}

/* ---- transactions --------------------------------------------------------------------------- */

int lv_catalog_begin(lv_catalog *c)
{
    if (c->in_tx)
        return lv_err(LV_ERR_INTERNAL, "catalog %s: transaction already open", c->path);
    int rc = exec(c, "BEGIN IMMEDIATE", "begin transaction");
    if (rc == LV_OK)
        c->in_tx = 1;
    return rc;
}

int lv_catalog_commit(lv_catalog *c)
{
    if (!c->in_tx)
        return lv_err(LV_ERR_INTERNAL, "catalog %s: commit without a transaction", c->path);
    int rc = exec(c, "COMMIT", "commit");
    if (rc) {
        /* A failed COMMIT (disk full) leaves the transaction open: end it, callers retry or give up. */
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    c->in_tx = 0;
    return rc;
}

void lv_catalog_rollback(lv_catalog *c)
{
    if (c->in_tx)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->in_tx = 0;
}

/* ---- blobs ---------------------------------------------------------------------------------- */

int lv_catalog_blob_find(lv_catalog *c, const uint8_t id[32], lv_blob_loc *loc)
{
    sqlite3_stmt *st = c->st_blob_find;
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = LV_OK;
    if (r == SQLITE_ROW) {
        const void *pack = sqlite3_column_blob(st, 1);
        if (sqlite3_column_bytes(st, 1) != 32 || !pack) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: blob row with a malformed pack id", c->path);
        } else {
            memcpy(loc->pack, pack, 32);
            loc->type = (uint8_t)sqlite3_column_int(st, 0);
            loc->offset = (uint64_t)sqlite3_column_int64(st, 2);
            loc->length = (uint32_t)sqlite3_column_int64(st, 3);
            loc->raw_length = (uint32_t)sqlite3_column_int64(st, 4);
        }
    } else if (r == SQLITE_DONE) {
        rc = lv_err(LV_ERR_NOT_FOUND, "blob not in the catalog"); /* the common case on backup */
    } else {
        rc = db_err(c, "find blob");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int lv_catalog_blob_add(lv_catalog *c, const uint8_t id[32], const lv_blob_loc *loc)
{
    sqlite3_stmt *st = c->st_blob_add;
    sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, loc->type);
    sqlite3_bind_blob(st, 3, loc->pack, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)loc->offset);
    sqlite3_bind_int64(st, 5, loc->length);
    sqlite3_bind_int64(st, 6, loc->raw_length);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LV_OK : db_err(c, "add blob");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int64_t count_rows(lv_catalog *c, const char *sql)
{
    sqlite3_stmt *st;
    if (prepare(c, sql, &st))
        return -1;
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        db_err(c, "count");
    sqlite3_finalize(st);
    return n;
}

int64_t lv_catalog_blob_count(lv_catalog *c) { return count_rows(c, "SELECT count(*) FROM blobs"); }

int lv_catalog_blob_each(lv_catalog *c,
                         int (*cb)(void *arg, const uint8_t id[32], const lv_blob_loc *loc), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT id, type, pack, offset, length, raw_length FROM blobs ORDER BY id", &st);
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 2) != 32) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: blob row with a malformed id", c->path);
            break;
        }
        uint8_t id[32];
        lv_blob_loc loc;
        memcpy(id, sqlite3_column_blob(st, 0), 32);
        memcpy(loc.pack, sqlite3_column_blob(st, 2), 32);
        loc.type = (uint8_t)sqlite3_column_int(st, 1);
        loc.offset = (uint64_t)sqlite3_column_int64(st, 3);
        loc.length = (uint32_t)sqlite3_column_int64(st, 4);
        loc.raw_length = (uint32_t)sqlite3_column_int64(st, 5);
        rc = cb(arg, id, &loc);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(c, "list blobs");
    sqlite3_finalize(st);
    return rc;
}

/* ---- packs and index objects ---------------------------------------------------------------- */

int lv_catalog_pack_add(lv_catalog *c, const uint8_t pack[32], uint64_t size, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    int rc = prepare(c, "INSERT OR IGNORE INTO packs(id, size, index_id) VALUES (?1, ?2, ?3)", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, pack, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    if (index_id)
        sqlite3_bind_blob(st, 3, index_id, 32, SQLITE_STATIC);
    return step_done(c, st, "add pack");
}

int lv_catalog_index_seen(lv_catalog *c, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    if (prepare(c, "SELECT 1 FROM indexes WHERE id = ?1", &st))
        return -LV_ERR_IO;
    sqlite3_bind_blob(st, 1, index_id, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), res;
    if (r == SQLITE_ROW)
        res = 1;
    else if (r == SQLITE_DONE)
        res = 0;
    else
        res = -db_err(c, "look up index object");
    sqlite3_finalize(st);
    return res;
}

int lv_catalog_index_add(lv_catalog *c, const uint8_t index_id[32])
{
    sqlite3_stmt *st;
    int rc = prepare(c, "INSERT OR IGNORE INTO indexes(id) VALUES (?1)", &st);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, index_id, 32, SQLITE_STATIC);
    return step_done(c, st, "add index object");
}

int lv_catalog_pack_each(lv_catalog *c, int (*cb)(void *arg, const uint8_t pack[32], uint64_t size),
                         void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "SELECT id, size FROM packs ORDER BY id", &st);
    if (rc)
        return rc;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32) {
            rc = lv_err(LV_ERR_CORRUPT, "catalog %s: pack row with a malformed id", c->path);
            break;
        }
        uint8_t id[32];
        memcpy(id, sqlite3_column_blob(st, 0), 32);
        rc = cb(arg, id, (uint64_t)sqlite3_column_int64(st, 1));
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(c, "list packs");
    sqlite3_finalize(st);
    return rc;
}

/* ---- manifests ------------------------------------------------------------------------------ */

int lv_catalog_manifest_add(lv_catalog *c, const char *id, const char *kind, int64_t time,
                            const char *summary_json)
{
    sqlite3_stmt *st;
    /* Manifest ids are content addresses: the same id is the same manifest, so re-adding (a rebuild
     * over a live catalog) replaces the row with identical content. */
    int rc = prepare(c, "INSERT OR REPLACE INTO manifests(id, kind, time, summary) VALUES (?1,?2,?3,?4)",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time);
    sqlite3_bind_text(st, 4, summary_json ? summary_json : "{}", -1, SQLITE_STATIC);
    return step_done(c, st, "add manifest");
}

int lv_catalog_manifest_remove(lv_catalog *c, const char *id)
{
    sqlite3_stmt *st;
    int rc = prepare(c, "DELETE FROM manifests WHERE id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return step_done(c, st, "remove manifest");
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

int lv_catalog_manifest_each(lv_catalog *c, const char *kind,
                             int (*cb)(void *arg, const lv_manifest_row *m), void *arg)
{
    sqlite3_stmt *st;
    int rc = prepare(c, kind ? "SELECT id, kind, time, summary FROM manifests WHERE kind = ?1 "
                               "ORDER BY time, id"
                             : "SELECT id, kind, time, summary FROM manifests ORDER BY time, id",
                     &st);
    if (rc)
        return rc;
    if (kind)
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        lv_manifest_row m;
        copy_text(m.id, sizeof m.id, sqlite3_column_text(st, 0));
        copy_text(m.kind, sizeof m.kind, sqlite3_column_text(st, 1));
        m.time = sqlite3_column_int64(st, 2);
        const unsigned char *s = sqlite3_column_text(st, 3);
        m.summary = s ? (const char *)s : "{}";
        rc = cb(arg, &m);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = db_err(c, "list manifests");
    sqlite3_finalize(st);
    return rc;
}

/* ---- reset and snapshot --------------------------------------------------------------------- */

int lv_catalog_reset(lv_catalog *c)
{
    int own = !c->in_tx, rc = LV_OK;
    if (own && (rc = lv_catalog_begin(c)))
        return rc;
    for (size_t i = 0; rc == LV_OK && i < sizeof derived_tables / sizeof derived_tables[0]; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "DELETE FROM %s", derived_tables[i]);
        rc = exec(c, sql, "reset");
    }
    if (!own)
        return rc;
    if (rc) {
        lv_catalog_rollback(c);
        return rc;
    }
    return lv_catalog_commit(c);
}

int lv_catalog_snapshot_to(lv_catalog *c, const char *dest_path)
{
    /* VACUUM INTO writes a consistent, compacted copy from one read transaction, while writers go on
     * (WAL). It refuses an existing non-empty file, so write a temporary name and rename it into place:
     * the destination is either the previous copy or the complete new one. */
    char *tmp = lv_xasprintf("%s.tmp-%ld", dest_path, (long)getpid());
    unlink(tmp);
    sqlite3_stmt *st;
    int rc = prepare(c, "VACUUM INTO ?1", &st);
    if (rc == LV_OK) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
        rc = step_done(c, st, "snapshot (VACUUM INTO)");
    }
    /* VACUUM INTO does not fsync its output; the copy must be durable before it replaces the old one. */
    if (rc == LV_OK) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            rc = lv_err_errno(errno, "catalog snapshot: cannot fsync %s", tmp);
        if (fd >= 0)
            close(fd);
    }
    if (rc == LV_OK && rename(tmp, dest_path) != 0)
        rc = lv_err_errno(errno, "catalog snapshot: cannot rename %s to %s", tmp, dest_path);
    if (rc == LV_OK) {
        char *dir = lv_xstrdup(dest_path), *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0';
        rc = lv_fsync_dir(slash ? dir : ".");
        free(dir);
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
