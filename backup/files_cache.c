/* The files cache: per-directory records, merged with the walk; queued writes (contract in
 * backup/files_cache.h).
 *
 * A record (the entries column of catalog/fcache.h), integers little-endian:
 *   record = version (1, = 1) || entry*                       entries in strictly increasing name order
 *   entry  = name_len (2) || name || kind (1: file, 2: directory)
 *            file: flags (1: bit 0 trusted) || dev (8) || ino (8) || size (8) || mtime (8) || ctime (8)
 *                  || xattr_count (2) || xattrs_len (4) || xattrs || extents_len (4) || extents
 * xattrs and extents are in snapshot/tree.h wire form. A record that does not parse is treated as absent
 * (and written again): the cache can cost a re-read, never a wrong snapshot or a failed backup. */
#include "backup/files_cache.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/blobs.h"
#include "common/error.h"
#include "common/log.h"
#include "repo/pack.h"
#include "repo/registry.h"
#include "repo/repo.h"
#include "snapshot/tree.h"

#define RECORD_VERSION 1
#define KIND_FILE 1
#define KIND_DIR 2
#define FLAG_TRUSTED 1
#define FILE_FIXED (1 + 5 * 8 + 2 + 4) /* flags .. xattrs_len */
#define QUEUE_OPS 1000
#define QUEUE_BYTES (1u << 20)
#define KEEP_BYTES (1u << 20)           /* a level's buffers above this are freed when it ends */

enum { OP_PUT = 1, OP_FORGET = 2 };

typedef struct level {
    lv_buf path;    /* the directory's absolute path */
    lv_buf old;     /* its record's entries as loaded (without the version byte) */
    size_t pos;     /* merge cursor: the first entry of old not yet passed */
    int had;        /* a valid record was loaded */
    int trusted;    /* ... verified at the current blob epoch */
    lv_buf neu;     /* the entries this run records */
} level;

struct lv_fcache {
    lv_catalog *c;
    lv_catalog_fcache *t;
    int64_t gen, epoch;
    level *lv;
    int depth, cap;
    lv_buf queue;   /* op (1) | path_len (4) | path | [record_len (4) | record] */
    size_t queued;
    lv_buf tmp;
};

typedef struct fentry {
    size_t raw_len;
    const char *name;
    size_t name_len;
    uint8_t kind, flags;
    lv_fcache_key key;
    uint32_t nxattrs;
    const uint8_t *xattrs, *extents;
    size_t xattrs_len, extents_len;
} fentry;

static uint64_t get64(const uint8_t *p) { return lv_le64_get(p); }

/* Parse the entry at p (left bytes remain); 0 when malformed. */
static int entry_parse(const uint8_t *p, size_t left, fentry *e)
{
    memset(e, 0, sizeof *e);
    if (left < 3)
        return 0;
    e->name_len = (size_t)p[0] | (size_t)p[1] << 8;
    if (e->name_len < 1 || e->name_len > LV_TREE_NAME_MAX || left - 2 < e->name_len + 1)
        return 0;
    e->name = (const char *)p + 2;
    size_t at = 2 + e->name_len;
    e->kind = p[at++];
    if (e->kind == KIND_DIR) {
        e->raw_len = at;
        return 1;
    }
    if (e->kind != KIND_FILE || left - at < FILE_FIXED)
        return 0;
    const uint8_t *q = p + at;
    e->flags = q[0];
    e->key.dev = get64(q + 1);
    e->key.ino = get64(q + 9);
    e->key.size = get64(q + 17);
    e->key.mtime_ns = (int64_t)get64(q + 25);
    e->key.ctime_ns = (int64_t)get64(q + 33);
    e->nxattrs = (uint32_t)q[41] | (uint32_t)q[42] << 8;
    e->xattrs_len = lv_le32_get(q + 43);
    at += FILE_FIXED;
    if (left - at < e->xattrs_len || left - at - e->xattrs_len < 4)
        return 0;
    e->xattrs = p + at;
    at += e->xattrs_len;
    e->extents_len = lv_le32_get(p + at);
    at += 4;
    if (left - at < e->extents_len || e->extents_len % LV_TREE_EXTENT_SIZE)
        return 0;
    e->extents = p + at;
    e->raw_len = at + e->extents_len;
    return 1;
}

/* Every entry parses and names strictly increase. */
static int record_valid(const uint8_t *p, size_t len)
{
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t at = 0; at < len;) {
        fentry e;
        if (!entry_parse(p + at, len - at, &e))
            return 0;
        if (prev && lv_tree_name_cmp(prev, prev_len, e.name, e.name_len) >= 0)
            return 0;
        prev = e.name;
        prev_len = e.name_len;
        at += e.raw_len;
    }
    return 1;
}

/* ---- open, close ------------------------------------------------------------------------------ */

int lv_fcache_open(lv_catalog *c, int64_t gen, lv_fcache **out)
{
    lv_fcache *f = lv_xcalloc(1, sizeof *f);
    f->c = c;
    f->gen = gen;
    int rc = lv_catalog_blob_epoch(c, &f->epoch);
    if (rc == LV_OK)
        rc = lv_catalog_fcache_open(c, &f->t);
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
    for (int i = 0; i < f->cap; i++) {
        lv_buf_free(&f->lv[i].path);
        lv_buf_free(&f->lv[i].old);
        lv_buf_free(&f->lv[i].neu);
    }
    free(f->lv);
    lv_buf_free(&f->queue);
    lv_buf_free(&f->tmp);
    free(f);
}

/* ---- the queue -------------------------------------------------------------------------------- */

static void queue_op(lv_fcache *f, uint8_t op, const char *path, size_t path_len)
{
    uint8_t h[5];
    h[0] = op;
    lv_le32_put(h + 1, (uint32_t)path_len);
    lv_buf_append(&f->queue, h, sizeof h);
    lv_buf_append(&f->queue, path, path_len);
    f->queued++;
}

static void queue_put(lv_fcache *f, const level *l)
{
    queue_op(f, OP_PUT, (const char *)l->path.data, l->path.len);
    uint8_t h[5];
    lv_le32_put(h, (uint32_t)(l->neu.len + 1));
    h[4] = RECORD_VERSION;
    lv_buf_append(&f->queue, h, sizeof h);
    lv_buf_append(&f->queue, l->neu.data, l->neu.len);
}

/* Forget the subdirectory name of l (and everything below it). */
static void queue_forget_child(lv_fcache *f, const level *l, const char *name, size_t name_len)
{
    lv_buf_reset(&f->tmp);
    lv_buf_append(&f->tmp, l->path.data, l->path.len);
    if (!(l->path.len == 1 && l->path.data[0] == '/'))
        lv_buf_append(&f->tmp, "/", 1);
    lv_buf_append(&f->tmp, name, name_len);
    queue_op(f, OP_FORGET, (const char *)f->tmp.data, f->tmp.len);
}

void lv_fcache_forget(lv_fcache *f, const char *path) { queue_op(f, OP_FORGET, path, strlen(path)); }

int lv_fcache_flush(lv_fcache *f, int force)
{
    if (f->queued == 0 || (!force && f->queued < QUEUE_OPS && f->queue.len < QUEUE_BYTES))
        return LV_OK;
    int rc = lv_catalog_begin(f->c);
    const uint8_t *p = f->queue.data, *end = f->queue.data + f->queue.len;
    while (rc == LV_OK && p < end) {
        uint8_t op = p[0];
        uint32_t plen = lv_le32_get(p + 1);
        const char *path = (const char *)p + 5;
        p += 5 + plen;
        if (op == OP_PUT) {
            uint32_t rlen = lv_le32_get(p);
            rc = lv_catalog_fcache_put(f->t, path, plen, p + 4, rlen, f->gen);
            p += 4 + rlen;
        } else {
            rc = lv_catalog_fcache_forget(f->t, path, plen);
        }
    }
    if (rc == LV_OK)
        rc = lv_catalog_commit(f->c);
    else
        lv_catalog_rollback(f->c);
    lv_buf_reset(&f->queue);
    f->queued = 0;
    if (f->queue.cap > 2 * QUEUE_BYTES) /* after a very wide directory */
        lv_buf_free(&f->queue);
    return rc;
}

int lv_fcache_commit(lv_fcache *f)
{
    int rc = lv_fcache_flush(f, 1);
    if (rc == LV_OK)
        rc = lv_catalog_fcache_verify(f->c, f->gen, f->epoch);
    return rc;
}

/* ---- directories ------------------------------------------------------------------------------ */

int lv_fcache_dir_begin(lv_fcache *f, const char *path)
{
    if (f->depth == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->lv = lv_xrealloc(f->lv, (size_t)f->cap * sizeof *f->lv);
        memset(f->lv + f->depth, 0, (size_t)(f->cap - f->depth) * sizeof *f->lv);
    }
    level *l = &f->lv[f->depth++];
    lv_buf_reset(&l->path);
    lv_buf_append_str(&l->path, path);
    lv_buf_reset(&l->neu);
    l->pos = 0;
    l->had = l->trusted = 0;
    int found = 0;
    int64_t epoch = -1;
    int rc = lv_catalog_fcache_get(f->t, path, strlen(path), &found, &epoch, &l->old);
    if (rc != LV_OK) {
        f->depth--;
        return rc;
    }
    if (found && l->old.len >= 1 && l->old.data[0] == RECORD_VERSION && record_valid(l->old.data + 1, l->old.len - 1)) {
        memmove(l->old.data, l->old.data + 1, l->old.len - 1);
        l->old.len--;
        l->had = 1;
        l->trusted = epoch == f->epoch;
    } else {
        if (found)
            lv_debug("files cache: the record of %s does not parse; reading its files again", path);
        lv_buf_reset(&l->old);
    }
    return LV_OK;
}

static void level_release(level *l)
{
    if (l->old.cap > KEEP_BYTES)
        lv_buf_free(&l->old);
    if (l->neu.cap > KEEP_BYTES)
        lv_buf_free(&l->neu);
}

/* Pass the old entries that sort before name (stop at one equal to it, which *e then holds: return 1);
 * subdirectories passed are gone from this directory: forget them. */
static int pass_until(lv_fcache *f, level *l, const char *name, size_t name_len, fentry *e)
{
    while (l->pos < l->old.len) {
        entry_parse(l->old.data + l->pos, l->old.len - l->pos, e); /* checked at load */
        int c = lv_tree_name_cmp(e->name, e->name_len, name, name_len);
        if (c > 0)
            return 0;
        l->pos += e->raw_len;
        if (c == 0)
            return 1;
        if (e->kind == KIND_DIR)
            queue_forget_child(f, l, e->name, e->name_len);
    }
    return 0;
}

int lv_fcache_dir_end(lv_fcache *f, int ok)
{
    if (f->depth == 0)
        return lv_err(LV_ERR_INTERNAL, "files cache: directory end without a begin");
    level *l = &f->lv[f->depth - 1];
    if (ok) {
        fentry e;
        while (l->pos < l->old.len) {
            entry_parse(l->old.data + l->pos, l->old.len - l->pos, &e);
            l->pos += e.raw_len;
            if (e.kind == KIND_DIR)
                queue_forget_child(f, l, e.name, e.name_len);
        }
        /* an empty directory's buffers may both be NULL: memcmp must not see them */
        if (!l->had || !l->trusted || l->neu.len != l->old.len ||
            (l->old.len && memcmp(l->neu.data, l->old.data, l->old.len) != 0))
            queue_put(f, l);
    }
    level_release(l);
    f->depth--;
    return LV_OK;
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int same_key(const lv_fcache_key *a, const lv_fcache_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->ctime_ns == b->ctime_ns;
}

/* Do all extents name indexed blobs? */
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

/* The entry's xattrs and extents are what the tree writer accepts (a damaged record must not fail the
 * backup: it only misses). */
static int entry_usable(const fentry *e)
{
    lv_node n;
    memset(&n, 0, sizeof n);
    n.name = e->name;
    n.name_len = e->name_len;
    n.type = LV_NODE_FILE;
    n.nlink = 1;
    n.size = e->key.size;
    n.nxattrs = e->nxattrs;
    n.xattrs = e->xattrs;
    n.xattrs_len = e->xattrs_len;
    n.nextents = (uint32_t)(e->extents_len / LV_TREE_EXTENT_SIZE);
    n.extents = e->extents;
    int rc = lv_tree_node_check(&n);
    if (rc != LV_OK)
        lv_err_clear();
    return rc == LV_OK;
}

int lv_fcache_find(lv_fcache *f, const char *name, const lv_fcache_key *key, lv_fcache_hit *h, int *hit,
                   int *known)
{
    *hit = *known = 0;
    if (f->depth == 0)
        return lv_err(LV_ERR_INTERNAL, "files cache: lookup outside a directory");
    level *l = &f->lv[f->depth - 1];
    size_t name_len = strlen(name);
    fentry e;
    if (!pass_until(f, l, name, name_len, &e))
        return LV_OK;
    if (e.kind == KIND_DIR) { /* a directory then, a file now */
        queue_forget_child(f, l, e.name, e.name_len);
        return LV_OK;
    }
    *known = 1;
    if (!(e.flags & FLAG_TRUSTED) || !same_key(&e.key, key) || !entry_usable(&e))
        return LV_OK;
    int indexed = 1;
    if (!l->trusted) {
        int rc = all_indexed(f, e.extents, e.extents_len, &indexed);
        if (rc != LV_OK)
            return rc;
    }
    if (!indexed)
        return LV_OK;
    *hit = 1;
    h->extents = e.extents;
    h->extents_len = e.extents_len;
    h->xattrs = e.xattrs;
    h->xattrs_len = e.xattrs_len;
    h->nxattrs = e.nxattrs;
    lv_buf_append(&l->neu, l->old.data + l->pos - e.raw_len, e.raw_len); /* recorded as it was */
    return LV_OK;
}

static void put_name(lv_buf *b, const char *name, size_t n, uint8_t kind)
{
    uint8_t h[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
    lv_buf_append(b, h, 2);
    lv_buf_append(b, name, n);
    lv_buf_append(b, &kind, 1);
}

void lv_fcache_file(lv_fcache *f, const char *name, const lv_fcache_key *key, int trusted, uint32_t nxattrs,
                    const uint8_t *xattrs, size_t xattrs_len, const uint8_t *extents, size_t extents_len)
{
    if (f->depth == 0)
        return;
    level *l = &f->lv[f->depth - 1];
    size_t n = strlen(name);
    if (n < 1 || n > LV_TREE_NAME_MAX || nxattrs > 65535)
        return;
    uint8_t fixed[FILE_FIXED];
    fixed[0] = trusted ? FLAG_TRUSTED : 0;
    lv_le64_put(fixed + 1, key->dev);
    lv_le64_put(fixed + 9, key->ino);
    lv_le64_put(fixed + 17, key->size);
    lv_le64_put(fixed + 25, (uint64_t)key->mtime_ns);
    lv_le64_put(fixed + 33, (uint64_t)key->ctime_ns);
    fixed[41] = (uint8_t)nxattrs;
    fixed[42] = (uint8_t)(nxattrs >> 8);
    lv_le32_put(fixed + 43, (uint32_t)xattrs_len);
    put_name(&l->neu, name, n, KIND_FILE);
    lv_buf_append(&l->neu, fixed, sizeof fixed);
    lv_buf_append(&l->neu, xattrs, xattrs_len);
    uint8_t el[4];
    lv_le32_put(el, (uint32_t)extents_len);
    lv_buf_append(&l->neu, el, 4);
    lv_buf_append(&l->neu, extents, extents_len);
}

void lv_fcache_subdir(lv_fcache *f, const char *name)
{
    if (f->depth == 0)
        return;
    level *l = &f->lv[f->depth - 1];
    size_t n = strlen(name);
    fentry e;
    pass_until(f, l, name, n, &e); /* an entry of that name, file or directory, is now this directory */
    if (n >= 1 && n <= LV_TREE_NAME_MAX)
        put_name(&l->neu, name, n, KIND_DIR);
}

/* ---- catalog rebuild -------------------------------------------------------------------------- */

/* The cache may name blobs the rebuilt index no longer has, or belong to another repository the catalog
 * was rebound from; the next backup reads every file once and refills it. */
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
