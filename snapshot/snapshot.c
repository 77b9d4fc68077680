#include "snapshot/snapshot.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/error.h"
#include "repo/pack.h"

void lv_snap_body_encode(const uint8_t *pages, uint32_t npages, lv_buf *out)
{
    uint8_t h[9];
    memcpy(h, LV_SNAP_MAGIC, 4);
    h[4] = LV_SNAP_VERSION;
    lv_le32_put(h + 5, npages);
    lv_buf_append(out, h, sizeof h);
    lv_buf_append(out, pages, (size_t)npages * LV_HASH_LEN);
}

int lv_snap_body_parse(const uint8_t *body, size_t len, const uint8_t **pages, uint32_t *npages,
                       const char *what)
{
    if (len < 9 || memcmp(body, LV_SNAP_MAGIC, 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: not a files snapshot body (bad magic)", what);
    if (body[4] != LV_SNAP_VERSION)
        return lv_err(LV_ERR_CORRUPT, "%s: snapshot body version %u is not supported", what, body[4]);
    uint32_t n = lv_le32_get(body + 5);
    if ((len - 9) / LV_HASH_LEN != n || (len - 9) % LV_HASH_LEN != 0)
        return lv_err(LV_ERR_CORRUPT, "%s: snapshot body of %zu bytes cannot hold %u root pages", what, len,
                      n);
    *pages = body + 9;
    *npages = n;
    return LV_OK;
}

int lv_snap_open(struct lv_repo *r, const char *id, lv_manifest *m, const uint8_t **pages, uint32_t *npages)
{
    int rc = lv_manifest_read(r, id, m);
    if (rc != LV_OK)
        return rc;
    char what[96];
    snprintf(what, sizeof what, "manifests/%s", id);
    if (strcmp(m->kind, LV_SNAP_KIND) != 0)
        rc = lv_err(LV_ERR_USAGE, "%s is a \"%s\" backup, not a files snapshot", id, m->kind);
    else
        rc = lv_snap_body_parse(m->body, m->body_len, pages, npages, what);
    if (rc != LV_OK)
        lv_manifest_free(m);
    return rc;
}

int lv_snap_resolve(lv_catalog *c, const char *spec, char id[2 * LV_HASH_LEN + 1])
{
    sqlite3 *db = lv_catalog_db(c);
    sqlite3_stmt *st = NULL;
    int latest = strcmp(spec, "latest") == 0;
    size_t len = strlen(spec);
    if (!latest) {
        int hex = len >= 4 && len <= 2 * LV_HASH_LEN;
        for (size_t i = 0; hex && i < len; i++)
            hex = isxdigit((unsigned char)spec[i]) && !isupper((unsigned char)spec[i]);
        if (!hex)
            return lv_err(LV_ERR_USAGE, "snapshot \"%s\": give an id, a unique prefix of at least 4 lower-case "
                          "hex digits, or \"latest\"", spec);
    }
    const char *sql = latest ? "SELECT id FROM manifests WHERE kind = ?1 ORDER BY time DESC, "
                             "json_extract(summary, '$.end_ns') DESC, id DESC LIMIT 1"
                             : "SELECT id FROM manifests WHERE kind = ?1 AND substr(id, 1, ?3) = ?2 "
                               "ORDER BY id LIMIT 2";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return lv_err(LV_ERR_IO, "catalog %s: %s", lv_catalog_path(c), sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, LV_SNAP_KIND, -1, SQLITE_STATIC);
    if (!latest) {
        sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)len);
    }
    int rows = 0, r, rc = LV_OK;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows++ == 0)
            snprintf(id, 2 * LV_HASH_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    if (r != SQLITE_DONE)
        rc = lv_err(LV_ERR_IO, "catalog %s: %s", lv_catalog_path(c), sqlite3_errmsg(db));
    else if (rows == 0)
        rc = latest ? lv_err(LV_ERR_NOT_FOUND, "there is no files snapshot in the catalog (`labvault "
                                               "snapshots` lists them; `catalog rebuild` after a new install)")
                    : lv_err(LV_ERR_NOT_FOUND, "no files snapshot has an id starting with %s", spec);
    else if (rows > 1)
        rc = lv_err(LV_ERR_USAGE, "snapshot prefix %s is ambiguous: give more digits", spec);
    sqlite3_finalize(st);
    return rc;
}

void lv_node_copy(const lv_node *n, lv_buf *store, lv_node *out)
{
    lv_buf_reset(store);
    uint8_t h[LV_TREE_HEADER];
    lv_tree_page_header(1, h);
    lv_buf_append(store, h, sizeof h);
    lv_tree_node_encode(n, store);
    lv_tree_page pg = {store->data, store->len, 1};
    lv_tree_cursor c;
    lv_tree_cursor_init(&c, &pg);
    lv_tree_cursor_next(&c, out);
}
