/* Restore of a snapshot as a pax tar stream (contract in restore/files.h).
 *
 * A tar stream is strictly sequential: each entry's header, then its bytes in order. Chunks are
 * fetched in parallel batches like a directory restore, but delivered into a staging buffer; once a
 * batch is complete, the queued entries are written out in tree order (headers, staged bytes, zeros
 * for holes, which libarchive's sparse support drops again). A large file spans several batches: its
 * header goes out with the first, its bytes as their batches complete.
 *
 * Full pax, not libarchive's "restricted" pax: the restricted writer adds an extended header only when
 * it thinks one is needed, and a sub-second mtime does not count, so nanoseconds would be lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "restore/fetch.h"
#include "restore/files.h"
#include "repo/pack.h"
#include "restore/walk.h"
#include "snapshot/idmap.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"

#define QUEUE_MAX 1024

typedef struct piece {
    uint64_t offset;     /* in the file */
    uint32_t length;
    size_t stage;        /* in the staging buffer */
} piece;

typedef struct qentry {
    char *path;
    lv_buf store;        /* node copy */
    lv_node n;
    char *link;          /* hardlink target path, or NULL */
    int header_done;
    uint32_t next_extent; /* extents [0, next_extent) are queued or written */
    uint64_t written;     /* file bytes written so far */
    size_t first_piece, npieces;
} qentry;

typedef struct tout {
    const lv_repo *r;
    const lv_restore_opts *o;
    struct archive *a;
    const char *dest;
    lv_fetch *f;
    qentry q[QUEUE_MAX];
    size_t nq;
    piece *pieces;
    size_t npieces, cap;
    uint8_t *stage;
    size_t staged;
    lv_idmap links;
    lv_buf link_paths;
    lv_restore_stats *st;
} tout;

static const uint8_t zeros[65536];

static int deliver(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n)
{
    tout *t = arg;
    (void)offset;
    memcpy(t->stage + t->pieces[dest].stage, data, n);
    return LV_OK;
}

static int ar_err(tout *t, const char *what)
{
    return lv_err(LV_ERR_IO, "tar %s: %s: %s", t->dest, what, archive_error_string(t->a));
}

static int write_bytes(tout *t, const void *p, size_t n)
{
    const uint8_t *q = p;
    while (n > 0) {
        la_ssize_t w = archive_write_data(t->a, q, n);
        if (w < 0)
            return ar_err(t, "writing data");
        if (w == 0) /* the rest of a sparse entry is a trailing hole */
            return LV_OK;
        q += w;
        n -= (size_t)w;
    }
    return LV_OK;
}

static int write_zeros(tout *t, uint64_t n)
{
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = write_bytes(t, zeros, k);
        if (rc != LV_OK)
            return rc;
        n -= k;
    }
    return LV_OK;
}

static int write_header(tout *t, qentry *e)
{
    const lv_node *n = &e->n;
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e->path);
    static const unsigned types[] = {0, AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR, AE_IFBLK};
    archive_entry_set_filetype(ae, types[n->type]);
    archive_entry_set_perm(ae, (mode_t)n->mode);
    archive_entry_set_uid(ae, n->uid);
    archive_entry_set_gid(ae, n->gid);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)n->user_len, n->user);
    if (*name)
        archive_entry_set_uname(ae, name);
    snprintf(name, sizeof name, "%.*s", (int)n->group_len, n->group);
    if (*name)
        archive_entry_set_gname(ae, name);
    archive_entry_set_mtime(ae, (time_t)n->mtime_sec, (long)n->mtime_nsec);
    archive_entry_set_ctime(ae, (time_t)n->ctime_sec, (long)n->ctime_nsec);
    size_t pos = 0;
    lv_xattr x;
    while (lv_xattr_next(n, &pos, &x)) {
        snprintf(name, sizeof name, "%.*s", (int)x.name_len, x.name);
        archive_entry_xattr_add_entry(ae, name, x.value, x.value_len);
    }
    if (e->link) {
        archive_entry_set_hardlink(ae, e->link);
        archive_entry_set_size(ae, 0);
    } else if (n->type == LV_NODE_FILE) {
        archive_entry_set_size(ae, (la_int64_t)n->size);
        uint64_t data = 0;
        for (uint32_t i = 0; i < n->nextents; i++) {
            lv_extent ex;
            lv_extent_get(n->extents, i, &ex);
            data += ex.length;
        }
        if (data < n->size) { /* holes: a sparse entry */
            uint64_t end = 0;
            for (uint32_t i = 0; i < n->nextents; i++) {
                lv_extent ex;
                lv_extent_get(n->extents, i, &ex);
                archive_entry_sparse_add_entry(ae, (la_int64_t)ex.offset, ex.length);
                end = ex.offset + ex.length;
            }
            if (end < n->size)
                archive_entry_sparse_add_entry(ae, (la_int64_t)n->size, 0);
        }
    } else if (n->type == LV_NODE_SYMLINK) {
        char target[LV_TREE_TARGET_MAX + 1];
        memcpy(target, n->target, n->target_len);
        target[n->target_len] = '\0';
        archive_entry_set_symlink(ae, target);
    } else if (n->type == LV_NODE_CHR || n->type == LV_NODE_BLK) {
        archive_entry_set_rdev(ae, (dev_t)n->rdev);
    }
    int r = archive_write_header(t->a, ae);
    archive_entry_free(ae);
    if (r < ARCHIVE_WARN)
        return ar_err(t, e->path);
    e->header_done = 1;
    return LV_OK;
}

/* Write out the queue after a completed batch. The last entry may be a file still being queued
 * (more extents than one batch holds): it stays, with its header and what arrived written. */
static int drain(tout *t)
{
    size_t failed;
    int rc = lv_fetch_run(t->f, &failed);
    if (rc != LV_OK) {
        if (failed < t->npieces)
            for (size_t i = 0; i < t->nq; i++)
                if (failed >= t->q[i].first_piece && failed < t->q[i].first_piece + t->q[i].npieces)
                    lv_err_ctx("restore of %s", t->q[i].path);
        return rc;
    }
    size_t keep = 0;
    for (size_t i = 0; rc == LV_OK && i < t->nq; i++) {
        qentry *e = &t->q[i];
        if (!e->header_done && (rc = write_header(t, e)) != LV_OK)
            break;
        int is_data = e->n.type == LV_NODE_FILE && !e->link;
        for (size_t k = 0; rc == LV_OK && is_data && k < e->npieces; k++) {
            const piece *p = &t->pieces[e->first_piece + k];
            if (p->offset > e->written)
                rc = write_zeros(t, p->offset - e->written);
            if (rc == LV_OK)
                rc = write_bytes(t, t->stage + p->stage, p->length);
            e->written = p->offset + p->length;
        }
        if (rc != LV_OK)
            break;
        if (is_data && e->next_extent < e->n.nextents) { /* more to come in the next batch */
            e->npieces = 0;
            t->q[keep++] = *e;
            continue;
        }
        if (is_data && e->written < e->n.size)
            rc = write_zeros(t, e->n.size - e->written);
        if (rc == LV_OK && archive_write_finish_entry(t->a) < ARCHIVE_WARN)
            rc = ar_err(t, e->path);
        if (e->n.type == LV_NODE_FILE && !e->link) {
            t->st->files++;
            t->st->bytes += e->n.size;
        } else if (e->link)
            t->st->links++;
        else if (e->n.type == LV_NODE_DIR)
            t->st->dirs++;
        else
            t->st->others++;
        free(e->path);
        free(e->link);
        lv_buf_free(&e->store);
    }
    t->nq = keep;
    t->npieces = 0;
    t->staged = 0;
    return rc;
}

static int enqueue(tout *t, const lv_node *n, const char *path)
{
    int rc = LV_OK;
    if (lv_interrupted())
        return lv_err(LV_ERR_INTERRUPTED, "restore interrupted");
    if (t->nq == QUEUE_MAX && (rc = drain(t)) != LV_OK)
        return rc;
    qentry *e = &t->q[t->nq++];
    memset(e, 0, sizeof *e);
    e->path = n->type == LV_NODE_DIR ? lv_xasprintf("%s/", path) : lv_xstrdup(path);
    lv_node_copy(n, &e->store, &e->n);
    if (n->type != LV_NODE_DIR && n->nlink > 1) {
        uint8_t key[32];
        memset(key, 0, sizeof key);
        memcpy(key, &n->dev, 8);
        memcpy(key + 8, &n->ino, 8);
        const size_t *at = lv_idmap_get(&t->links, key);
        if (at) {
            e->link = lv_xstrdup((const char *)t->link_paths.data + *at);
            return LV_OK;
        }
        lv_idmap_put(&t->links, key, t->link_paths.len);
        lv_buf_append(&t->link_paths, path, strlen(path) + 1);
    }
    if (n->type != LV_NODE_FILE)
        return LV_OK;
    /* Queue the extents, draining whenever the staging buffer is full. */
    while (e->next_extent < e->n.nextents) {
        lv_extent ex;
        lv_extent_get(e->n.extents, e->next_extent, &ex);
        if (t->staged > 0 && t->staged + ex.length > LV_RESTORE_BATCH) {
            if ((rc = drain(t)) != LV_OK)
                return rc;
            e = &t->q[t->nq - 1]; /* the queue was compacted: this file is the only one left */
        }
        if (t->npieces == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 1024;
            t->pieces = lv_xrealloc(t->pieces, t->cap * sizeof *t->pieces);
        }
        if (e->npieces == 0)
            e->first_piece = t->npieces;
        t->pieces[t->npieces] = (piece){ex.offset, ex.length, t->staged};
        if ((rc = lv_fetch_add(t->f, ex.id, ex.length, t->npieces, ex.offset)) != LV_OK)
            return lv_err_ctx("restore of %s", path);
        t->npieces++;
        e->npieces++;
        t->staged += ex.length;
        e->next_extent++;
    }
    if (t->staged >= LV_RESTORE_BATCH)
        rc = drain(t);
    return rc;
}

static int on_entry(void *arg, const lv_node *n, const char *path) { return enqueue(arg, n, path); }
static int on_dir_enter(void *arg, const lv_node *n, const char *path) { return enqueue(arg, n, path); }
static int on_dir_leave(void *arg, const lv_node *n, const char *path)
{
    (void)arg, (void)n, (void)path;
    return LV_OK;
}

int lv_restore_tar(const lv_repo *r, const lv_restore_opts *o, lv_restore_stats *st)
{
    memset(st, 0, sizeof *st);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    int rc = lv_snap_open(r, o->snapshot, &m, &pages, &npages);
    if (rc != LV_OK)
        return rc;
    int to_stdout = strcmp(o->target, "-") == 0, fd = 1;
    if (!to_stdout) {
        fd = open(o->target, O_WRONLY | O_CREAT | O_CLOEXEC | (o->overwrite ? O_TRUNC : O_EXCL), 0600);
        if (fd < 0) {
            rc = errno == EEXIST ? lv_err(LV_ERR_CONFLICT, "tar %s exists (use --overwrite to replace it)", o->target)
                                 : lv_err_errno(errno, "cannot create tar %s", o->target);
            lv_manifest_free(&m);
            return rc;
        }
    }
    tout *t = lv_xcalloc(1, sizeof *t);
    t->r = r;
    t->o = o;
    t->st = st;
    t->dest = to_stdout ? "(standard output)" : o->target;
    t->stage = lv_xmalloc(LV_RESTORE_BATCH + LV_BLOB_MAX); /* untouched pages cost nothing */
    t->f = lv_fetch_new(r, o->threads > 0 ? o->threads : 8, deliver, t);
    t->a = archive_write_new();
    if (archive_write_set_format_pax(t->a) != ARCHIVE_OK || archive_write_set_bytes_in_last_block(t->a, 1) != ARCHIVE_OK ||
        archive_write_open_fd(t->a, fd) != ARCHIVE_OK)
        rc = ar_err(t, "opening");
    if (rc == LV_OK) {
        lv_rwalk_ops ops = {on_dir_enter, on_dir_leave, on_entry};
        rc = lv_rwalk(lv_tree_src_repo(r), pages, npages, o->includes, o->nincludes, &ops, t);
    }
    if (rc == LV_OK)
        rc = drain(t);
    if (rc == LV_OK && archive_write_close(t->a) != ARCHIVE_OK)
        rc = ar_err(t, "closing");
    archive_write_free(t->a);
    for (size_t i = 0; i < t->nq; i++) {
        free(t->q[i].path);
        free(t->q[i].link);
        lv_buf_free(&t->q[i].store);
    }
    lv_fetch_stats fs;
    lv_fetch_get_stats(t->f, &fs);
    st->gets = fs.gets;
    st->bytes_fetched = fs.bytes_fetched;
    lv_fetch_free(t->f);
    free(t->stage);
    free(t->pieces);
    lv_idmap_free(&t->links);
    lv_buf_free(&t->link_paths);
    free(t);
    if (!to_stdout) {
        if (close(fd) != 0 && rc == LV_OK)
            rc = lv_err_errno(errno, "writing tar %s", o->target);
        if (rc != LV_OK)
            unlink(o->target); /* a tar that stops in the middle must not look like a complete one */
    }
    lv_manifest_free(&m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
