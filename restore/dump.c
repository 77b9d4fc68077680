/* One file of a snapshot to a descriptor (contract in restore/dump.h). */
#include "restore/dump.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "restore/fetch.h"
#include "restore/files.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"
#include "snapshot/tree.h"

typedef struct batch {
    uint8_t *buf; /* the file's bytes [start, start + LV_RESTORE_BATCH) */
} batch;

static int deliver(void *arg, size_t dest, uint64_t offset, const uint8_t *data, size_t n)
{
    (void)dest;
    memcpy(((batch *)arg)->buf + offset, data, n);
    return LV_OK;
}

/* Zeros for the holes of a sparse file, LV_WRITE_CHUNK at a time. */
static int write_zeros(int fd, uint64_t n, const char *path)
{
    static const uint8_t zeros[LV_WRITE_CHUNK];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = lv_write_all(fd, zeros, k, path);
        if (rc != LV_OK)
            return rc;
        n -= k;
    }
    return LV_OK;
}

static int dump_file(const lv_repo *r, const lv_node *n, const char *path, int fd, uint64_t *written)
{
    /* A file smaller than a batch needs no more than its size. */
    batch b = {lv_xmalloc(n->size < LV_RESTORE_BATCH ? (size_t)n->size + 1 : LV_RESTORE_BATCH)};
    lv_fetch *f = lv_fetch_new(r, 8, deliver, &b); /* as restore files: 8 GETs in flight */
    uint64_t pos = 0; /* bytes of the file written so far */
    int rc = LV_OK;
    for (uint32_t i = 0; rc == LV_OK && i < n->nextents;) {
        /* One batch: the extents that end within LV_RESTORE_BATCH of the first one's offset. */
        lv_extent e;
        lv_extent_get(n->extents, i, &e);
        uint64_t start = e.offset, end = e.offset;
        if ((rc = write_zeros(fd, start - pos, path)) != LV_OK)
            break;
        for (; i < n->nextents; i++) {
            lv_extent_get(n->extents, i, &e);
            if (e.offset + e.length - start > LV_RESTORE_BATCH)
                break;
            if (e.offset > end)
                memset(b.buf + (end - start), 0, (size_t)(e.offset - end));
            if ((rc = lv_fetch_add(f, e.id, e.length, 0, e.offset - start)) != LV_OK)
                break;
            end = e.offset + e.length;
        }
        size_t failed;
        if (rc == LV_OK && (rc = lv_fetch_run(f, &failed)) != LV_OK)
            lv_err_ctx("%s", path);
        if (rc == LV_OK)
            rc = lv_write_all(fd, b.buf, (size_t)(end - start), path);
        pos = end;
    }
    if (rc == LV_OK && n->size > pos)
        rc = write_zeros(fd, n->size - pos, path);
    if (rc == LV_OK)
        *written = n->size;
    lv_fetch_free(f);
    free(b.buf);
    return rc;
}

int lv_dump(const lv_repo *r, const char *snapshot_id, const char *path, int fd, int *is_dir, uint64_t *written)
{
    *is_dir = 0;
    *written = 0;
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    int rc = lv_snap_open(r, snapshot_id, &m, &pages, &npages);
    if (rc != LV_OK)
        return rc;
    lv_buf store = LV_BUF_INIT;
    lv_node n;
    int is_root = 0;
    rc = lv_tree_lookup(lv_tree_src_repo(r), pages, npages, path, &store, &n, &is_root);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_NOT_FOUND, "%s is not in snapshot %.12s", path, snapshot_id);
    if (rc == LV_OK && (is_root || n.type == LV_NODE_DIR))
        *is_dir = 1;
    else if (rc == LV_OK && n.type == LV_NODE_FILE)
        rc = dump_file(r, &n, path, fd, written);
    else if (rc == LV_OK && n.type == LV_NODE_SYMLINK) {
        rc = lv_write_all(fd, n.target, n.target_len, path);
        *written = n.target_len;
    } else if (rc == LV_OK)
        rc = lv_err(LV_ERR_USAGE, "%s is a %s: only files, symbolic links and directories can be dumped", path,
                    lv_node_type_name(n.type));
    lv_buf_free(&store);
    lv_manifest_free(&m);
    return rc;
}
