/* The files cache: lookups, queued writes, pruning (contract in backup/files_cache.h). */
#include "backup/files_cache.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/blobs.h"
#include "common/error.h"
#include "repo/registry.h"
#include "repo/repo.h"
#include "snapshot/tree.h"

#define QUEUE_ROWS 2000
#define QUEUE_BYTES (4u << 20)

enum { OP_PUT = 1, OP_TOUCH = 2 };

struct lv_fcache {
    lv_catalog *c;
    lv_catalog_fcache *t;
    int64_t gen;
    lv_buf row;       /* the extents of the last lookup */
    lv_buf queue;     /* op (1) | path_len (4) | path | [key (40) | extents_len (4) | extents] */
    size_t queued;
};

int lv_fcache_open(lv_catalog *c, int64_t gen, lv_fcache **out)
{
    lv_fcache *f = lv_xcalloc(1, sizeof *f);
    f->c = c;
    f->gen = gen;
    int rc = lv_catalog_fcache_open(c, &f->t);
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
    lv_catalog_fcache_close(f->t);
    lv_buf_free(&f->row);
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
        if (rc == LV_ERR_NOT_FOUND || (rc == LV_OK && !loc.indexed)) {
            lv_err_clear();
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
    lv_fcache_key have;
    int rc = lv_catalog_fcache_get(f->t, path, strlen(path), known, &have, &f->row);
    if (rc != LV_OK || !*known)
        return rc;
    const uint8_t *ext = f->row.data;
    size_t len = f->row.len;
    int same = have.dev == k->dev && have.ino == k->ino && have.size == k->size && have.mtime_ns == k->mtime_ns &&
               have.ctime_ns == k->ctime_ns && len % LV_TREE_EXTENT_SIZE == 0;
    int indexed = 0;
    if (same && (rc = all_indexed(f, ext, len, &indexed)) == LV_OK && indexed) {
        lv_buf_append(out, ext, len);
        *hit = 1;
    }
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
    const char *path = (const char *)p + 5;
    p += 5 + plen;
    int rc;
    if (op == OP_PUT) {
        lv_fcache_key k;
        uint32_t elen;
        memcpy(&k, p, sizeof k);
        memcpy(&elen, p + sizeof k, 4);
        p += sizeof k + 4;
        rc = lv_catalog_fcache_put(f->t, path, plen, &k, p, elen, f->gen);
        p += elen;
    } else {
        rc = lv_catalog_fcache_touch(f->t, path, plen, f->gen);
    }
    *pp = p;
    return rc;
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
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    return lv_catalog_fcache_prune(f->c, root, n, f->gen);
}

/* catalog rebuild: the cache may name blobs the rebuilt index no longer has, or belong to another
 * repository the catalog was rebound from; the next backup reads every file once and refills it. */
int lv_fcache_rebuild(lv_repo *r, uint64_t *damaged)
{
    (void)damaged;
    return lv_catalog_fcache_clear(r->cat);
}

int lv_fcache_register(void)
{
    static int done;
    if (done)
        return LV_OK;
    done = 1;
    return lv_catalog_rebuild_register("files cache", lv_fcache_rebuild);
}
