#include "backup/files_cache.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/error.h"
#include "repo/registry.h"
#include "repo/repo.h"
#include "snapshot/tree.h"

#define QUEUE_ROWS 2000
#define QUEUE_BYTES (4u << 20)

enum { OP_PUT = 1, OP_TOUCH = 2 };

struct lv_fcache {
    lv_catalog *c;
    sqlite3 *db;
    int64_t gen;
    sqlite3_stmt *get, *put, *touch;
    lv_buf queue;     /* op (1) | path_len (4) | path | [key (40) | extents_len (4) | extents] */
    size_t queued;
};

static int db_err(lv_fcache *f, const char *op)
{
    return lv_err(LV_ERR_IO, "catalog %s: files cache: %s: %s", lv_catalog_path(f->c), op,
                  sqlite3_errmsg(f->db));
}

int lv_fcache_open(lv_catalog *c, int64_t gen, lv_fcache **out)
{
    lv_fcache *f = lv_xcalloc(1, sizeof *f);
    f->c = c;
    f->db = lv_catalog_db(c);
    f->gen = gen;
    int rc = LV_OK;
    if (sqlite3_prepare_v2(f->db, "SELECT dev, ino, size, mtime, ctime, extents FROM files_cache WHERE path = ?1",
                           -1, &f->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(f->db, "INSERT OR REPLACE INTO files_cache(path, dev, ino, size, mtime, ctime, "
                           "extents, gen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &f->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(f->db, "UPDATE files_cache SET gen = ?2 WHERE path = ?1", -1, &f->touch, NULL) != SQLITE_OK)
        rc = db_err(f, "prepare");
    if (rc != LV_OK) {
        lv_fcache_close(f);
        return rc;
    }
    *out = f;
    return LV_OK;
}

void lv_fcache_close(lv_fcache *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->get);
    sqlite3_finalize(f->put);
    sqlite3_finalize(f->touch);
    lv_buf_free(&f->queue);
    free(f);
}

/* Do all extents of a cached entry point at indexed blobs? */
static int all_indexed(lv_fcache *f, const uint8_t *ext, size_t len, int *yes)
{
    *yes = 1;
    for (size_t i = 0; i + LV_TREE_EXTENT_SIZE <= len; i += LV_TREE_EXTENT_SIZE) {
        lv_blob_loc loc;
        int rc = lv_catalog_blob_find(f->c, ext + i + 12, &loc);
        if (rc == LV_ERR_NOT_FOUND) {
            *yes = 0;
            return LV_OK;
        }
        if (rc != LV_OK)
            return rc;
    }
    return LV_OK;
}

int lv_fcache_lookup(lv_fcache *f, const char *path, const lv_fcache_key *k, lv_buf *out, int *hit, int *known)
{
    *hit = *known = 0;
    sqlite3_bind_blob(f->get, 1, path, (int)strlen(path), SQLITE_STATIC);
    int r = sqlite3_step(f->get), rc = LV_OK;
    if (r == SQLITE_ROW) {
        *known = 1;
        const uint8_t *ext = sqlite3_column_blob(f->get, 5);
        size_t len = (size_t)sqlite3_column_bytes(f->get, 5);
        int same = (uint64_t)sqlite3_column_int64(f->get, 0) == k->dev &&
                   (uint64_t)sqlite3_column_int64(f->get, 1) == k->ino &&
                   (uint64_t)sqlite3_column_int64(f->get, 2) == k->size &&
                   sqlite3_column_int64(f->get, 3) == k->mtime_ns && sqlite3_column_int64(f->get, 4) == k->ctime_ns &&
                   len % LV_TREE_EXTENT_SIZE == 0;
        int indexed = 0;
        if (same && (rc = all_indexed(f, ext, len, &indexed)) == LV_OK && indexed) {
            lv_buf_append(out, ext, len);
            *hit = 1;
        }
    } else if (r != SQLITE_DONE) {
        rc = db_err(f, "lookup");
    }
    sqlite3_reset(f->get);
    sqlite3_clear_bindings(f->get);
    return rc;
}

static void queue_head(lv_fcache *f, uint8_t op, const char *path)
{
    uint8_t h[5];
    size_t n = strlen(path);
    h[0] = op;
    memcpy(h + 1, &(uint32_t){(uint32_t)n}, 4);
    lv_buf_append(&f->queue, h, sizeof h);
    lv_buf_append(&f->queue, path, n);
    f->queued++;
}

void lv_fcache_put(lv_fcache *f, const char *path, const lv_fcache_key *k, const uint8_t *extents, size_t len)
{
    queue_head(f, OP_PUT, path);
    lv_buf_append(&f->queue, k, sizeof *k);
    uint32_t l = (uint32_t)len;
    lv_buf_append(&f->queue, &l, 4);
    lv_buf_append(&f->queue, extents, len);
}

void lv_fcache_touch(lv_fcache *f, const char *path) { queue_head(f, OP_TOUCH, path); }

static int apply(lv_fcache *f, const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint8_t op = p[0];
    uint32_t plen;
    memcpy(&plen, p + 1, 4);
    const void *path = p + 5;
    p += 5 + plen;
    sqlite3_stmt *st = op == OP_PUT ? f->put : f->touch;
    sqlite3_bind_blob(st, 1, path, (int)plen, SQLITE_STATIC);
    if (op == OP_PUT) {
        lv_fcache_key k;
        uint32_t elen;
        memcpy(&k, p, sizeof k);
        memcpy(&elen, p + sizeof k, 4);
        p += sizeof k + 4;
        sqlite3_bind_int64(st, 2, (sqlite3_int64)k.dev);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)k.ino);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)k.size);
        sqlite3_bind_int64(st, 5, k.mtime_ns);
        sqlite3_bind_int64(st, 6, k.ctime_ns);
        sqlite3_bind_blob(st, 7, p, (int)elen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, f->gen);
        p += elen;
    } else {
        sqlite3_bind_int64(st, 2, f->gen);
    }
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    *pp = p;
    return r == SQLITE_DONE ? LV_OK : db_err(f, "write");
}

int lv_fcache_flush(lv_fcache *f, int force)
{
    if (f->queued == 0 || (!force && f->queued < QUEUE_ROWS && f->queue.len < QUEUE_BYTES))
        return LV_OK;
    int rc = lv_catalog_begin(f->c);
    const uint8_t *p = f->queue.data, *end = f->queue.data + f->queue.len;
    while (rc == LV_OK && p < end)
        rc = apply(f, &p);
    if (rc == LV_OK)
        rc = lv_catalog_commit(f->c);
    else
        lv_catalog_rollback(f->c);
    lv_buf_reset(&f->queue);
    f->queued = 0;
    return rc;
}

int lv_fcache_prune(lv_fcache *f, const char *root)
{
    int rc = lv_fcache_flush(f, 1);
    if (rc != LV_OK)
        return rc;
    /* Rows for root itself and for everything below root + "/", i.e. in [root "/", root "0"). */
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    lv_buf lo = LV_BUF_INIT, hi = LV_BUF_INIT;
    lv_buf_append(&lo, root, n);
    lv_buf_append(&lo, "/", 1);
    lv_buf_append(&hi, root, n);
    lv_buf_append(&hi, "0", 1);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(f->db, "DELETE FROM files_cache WHERE gen != ?1 AND (path = ?2 OR "
                           "(path >= ?3 AND path < ?4))", -1, &st, NULL) != SQLITE_OK)
        rc = db_err(f, "prepare prune");
    if (rc == LV_OK) {
        sqlite3_bind_int64(st, 1, f->gen);
        sqlite3_bind_blob(st, 2, root, (int)n, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, lo.data, (int)lo.len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, hi.data, (int)hi.len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_err(f, "prune");
    }
    sqlite3_finalize(st);
    lv_buf_free(&lo);
    lv_buf_free(&hi);
    return rc;
}

int lv_fcache_clear(lv_catalog *c)
{
    char *msg = NULL;
    if (sqlite3_exec(lv_catalog_db(c), "DELETE FROM files_cache", NULL, NULL, &msg) != SQLITE_OK) {
        int rc = lv_err(LV_ERR_IO, "catalog %s: emptying the files cache: %s", lv_catalog_path(c),
                        msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return LV_OK;
}

/* catalog rebuild: the cache may name blobs the rebuilt index no longer has, or belong to another
 * repository the catalog was rebound from; the next backup reads every file once and refills it. */
static int rebuild_step(lv_repo *r) { return lv_fcache_clear(r->cat); }

int lv_fcache_register(void)
{
    static int done;
    if (done)
        return LV_OK;
    done = 1;
    return lv_catalog_rebuild_register("files cache", rebuild_step);
}
