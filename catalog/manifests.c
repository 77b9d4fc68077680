/* Manifests in the catalog: what `snapshots`, `backups` and restores list (contract in
 * catalog/manifests.h). */
#include "catalog/manifests.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "catalog/db.h"

/* Migration 1, with blobs.c's part: one row per manifest object, its kind, time and summary. */
const char lv_cat_schema_manifests[] =
    "CREATE TABLE manifests(id TEXT PRIMARY KEY, kind TEXT NOT NULL, time INTEGER NOT NULL,"
    "  summary TEXT NOT NULL);"
    "CREATE INDEX manifests_by_kind_time ON manifests(kind, time);";

int lv_catalog_manifest_add(lv_catalog *c, const char *id, const char *kind, int64_t time,
                            const char *summary_json)
{
    sqlite3_stmt *st;
    /* Manifest ids are content addresses: the same id is the same manifest, so re-adding (a rebuild
     * over a live catalog) replaces the row with identical content. */
    int rc = lv_cat_prepare(c, "INSERT OR REPLACE INTO manifests(id, kind, time, summary) VALUES (?1,?2,?3,?4)",
                     &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, time);
    sqlite3_bind_text(st, 4, summary_json ? summary_json : "{}", -1, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "add manifest");
}

int lv_catalog_manifest_remove(lv_catalog *c, const char *id)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "DELETE FROM manifests WHERE id = ?1", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return lv_cat_step_done(c, st, "remove manifest");
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

int lv_catalog_manifest_each(lv_catalog *c, const char *kind,
                             int (*cb)(void *arg, const lv_manifest_row *m), void *arg)
{
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, kind ? "SELECT id, kind, time, summary FROM manifests WHERE kind = ?1 "
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
        rc = lv_cat_err(c, "list manifests");
    sqlite3_finalize(st);
    return rc;
}


int lv_catalog_manifest_prefix(lv_catalog *c, const char *kind, const char *prefix, char id[65], int *matches)
{
    *matches = 0;
    sqlite3_stmt *st;
    int rc = lv_cat_prepare(c, "SELECT id FROM manifests WHERE kind = ?1 AND substr(id, 1, ?3) = ?2 ORDER BY id "
                               "LIMIT 2", &st);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)strlen(prefix));
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if ((*matches)++ == 0)
            snprintf(id, 65, "%s", lv_cat_text(st, 0));
    if (r != SQLITE_DONE)
        rc = lv_cat_err(c, "look up a manifest id");
    sqlite3_finalize(st);
    return rc;
}
