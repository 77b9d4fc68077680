/* The local SQLite catalog: connection, schema migrations, meta, transactions and reset (contract in
 * catalog/catalog.h). The tables have a module each (blobs.c, manifests.c, wal.c, fcache.c, drills.c)
 * holding their part of the schema and their typed functions; the statement helpers are in db.c.
 *
 * Concurrency: every process opens its own connection. WAL mode lets readers run beside the one writer;
 * writers queue on the busy timeout (30 s), and explicit transactions start with BEGIN IMMEDIATE so that
 * the write lock is taken up front: a deferred transaction that reads and then tries to write can fail
 * with SQLITE_BUSY immediately, without waiting, which is exactly the race archive_command and a backup
 * would hit. synchronous=NORMAL in WAL mode never corrupts the database on power loss; it can lose the
 * last commits, which are all re-derivable from the repository (the bucket is the truth).
 *
 * Schema changes are forward migrations: append an entry to `migrations` below (its SQL beside the
 * table's functions), never edit a published one. Each migration runs in its own transaction together
 * with the bump of meta.schema_version, and the version is re-read inside that transaction, so two
 * processes opening a fresh catalog at once apply each migration exactly once. */
#include "catalog/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/tmpfile.h"
#include "catalog/db.h"

#define BUSY_TIMEOUT_MS 30000

/* Forward migrations; index i brings the schema from version i to i + 1 by running its parts in one
 * transaction. Tables derived from the repository must also be cleared by lv_catalog_reset
 * (derived_tables below). */
static const struct {
    const char *parts[3];
} migrations[] = {
    {{lv_cat_schema_blobs, lv_cat_schema_manifests}},
    {{lv_cat_schema_wal}},
    {{lv_cat_schema_fcache}},
    {{lv_cat_schema_drills}},
    {{lv_cat_schema_walsum}},
    {{lv_cat_schema_walmap}},
    {{lv_cat_schema_blob_epoch, lv_cat_schema_fcache_dirs}},
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const derived_tables[] = {"blobs", "packs", "indexes", "manifests", "wal_files",
                                               "drills", "wal_changes", "wal_points", "wal_maps"};

/* ---- meta ----------------------------------------------------------------------------------- */

int lv_catalog_meta_set(lv_catalog *c, const char *key, const char *value)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "set meta");
}

int lv_catalog_meta_get(lv_catalog *c, const char *key, char **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT value FROM meta WHERE key = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *out = lv_xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (r == SQLITE_DONE)
        rc = lv_err(LV_ERR_NOT_FOUND, "catalog %s: no meta value \"%s\"", c->path, key);
    else
        rc = lv_cat_err(c, "read meta");
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
    int rc = lv_cat_exec(c, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
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
        if ((rc = lv_cat_exec(c, "BEGIN IMMEDIATE", "begin migration")))
            return rc;
        int now = 0;
        if ((rc = schema_version(c, &now)) == LV_OK && now == v) {
            char num[16];
            snprintf(num, sizeof num, "%d", v + 1);
            for (int k = 0; rc == LV_OK && k < 3 && migrations[v].parts[k]; k++)
                rc = lv_cat_exec(c, migrations[v].parts[k], "migrate schema");
            if (rc == LV_OK && (rc = lv_catalog_meta_set(c, "schema_version", num)) == LV_OK)
                rc = lv_cat_exec(c, "COMMIT", "commit migration");
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
        if ((rc = lv_cat_prepare(c, "INSERT OR IGNORE INTO meta(key, value) VALUES ('repository_id', ?1)",
                          &st)))
            return rc;
        sqlite3_bind_text(st, 1, repo_id_hex, -1, SQLITE_STATIC);
        if ((rc = lv_cat_step_done(c, st, "bind to repository")))
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
            return lv_cat_err(c, "set WAL mode");
        if (waited >= BUSY_TIMEOUT_MS)
            return lv_cat_err(c, "set WAL mode");
        usleep(10 * 1000);
    }
}

int lv_catalog_open(const char *path, const char *repo_id_hex, lv_catalog **out)
{
    *out = NULL;
    int rc = make_parent(path);
    if (rc)
        return lv_err_ctx("catalog %s", path);
    /* A new catalog is private: SQLite would create it 0644 (minus the umask), and gives its -wal and -shm
     * files the database's mode. An empty file is a valid new database. */
    int nfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (nfd >= 0)
        close(nfd);
    lv_tmp_sweep_catalog_copies(path);
    lv_catalog *c = lv_xcalloc(1, sizeof *c);
    c->path = lv_xstrdup(path);
    /* NOMUTEX: a handle is used by one thread at a time (header contract), so SQLite's own per-call
     * mutex would be pure overhead on the hot blob lookups. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        rc = c->db ? lv_cat_err(c, "open") : lv_err(LV_ERR_IO, "catalog %s: cannot open", path);
        lv_catalog_close(c);
        return rc;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(c->db, 1);
    /* journal_mode=WAL is persistent in the file; the others are per connection. The busy timeout is
     * set first because switching to WAL needs a moment of exclusive access. */
    if ((rc = set_wal(c)) ||
        (rc = lv_cat_exec(c, "PRAGMA synchronous=NORMAL", "set synchronous")) ||
        (rc = lv_cat_exec(c, "PRAGMA foreign_keys=ON", "enable foreign keys")) || (rc = migrate(c)) ||
        (repo_id_hex && (rc = check_repo(c, repo_id_hex))) || (rc = lv_cat_blobs_prepare(c))) {
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
    lv_cat_blobs_finalize(c);
    if (c->in_tx)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(c->db);
    free(c->path);
    free(c);
}

const char *lv_catalog_path(const lv_catalog *c) { return c->path; }

const char *lv_catalog_sqlite_version(void) { return sqlite3_libversion(); }

int lv_catalog_set_repo(lv_catalog *c, const char *repo_id_hex)
{
    return lv_catalog_meta_set(c, "repository_id", repo_id_hex);
}

/* ---- transactions --------------------------------------------------------------------------- */

int lv_catalog_begin(lv_catalog *c)
{
    if (c->in_tx)
        return lv_err(LV_ERR_INTERNAL, "catalog %s: transaction already open", c->path);
    int rc = lv_cat_exec(c, "BEGIN IMMEDIATE", "begin transaction");
    if (rc == LV_OK)
        c->in_tx = 1;
    return rc;
}

int lv_catalog_commit(lv_catalog *c)
{
    if (!c->in_tx)
        return lv_err(LV_ERR_INTERNAL, "catalog %s: commit without a transaction", c->path);
    int rc = lv_cat_exec(c, "COMMIT", "commit");
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

/* ---- reset and snapshot --------------------------------------------------------------------- */

int lv_catalog_reset(lv_catalog *c)
{
    int own = !c->in_tx, rc = LV_OK;
    if (own && (rc = lv_catalog_begin(c)))
        return rc;
    for (size_t i = 0; rc == LV_OK && i < sizeof derived_tables / sizeof derived_tables[0]; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "DELETE FROM %s", derived_tables[i]);
        rc = lv_cat_exec(c, sql, "reset");
    }
    if (!own)
        return rc;
    if (rc) {
        lv_catalog_rollback(c);
        return rc;
    }
    return lv_catalog_commit(c);
}
