/* The difference of two snapshots (contract in snapshot/diff.h). */
#include "snapshot/diff.h"

#include <string.h>

#include "common/error.h"
#include "snapshot/reader.h"

typedef struct differ {
    lv_tree_src src;
    lv_buf path;
    lv_snap_diff_fn cb;
    void *arg;
    lv_snap_diff_stats *st;
} differ;

static int change(differ *d, char what, const lv_node *n)
{
    switch (what) {
    case LV_DIFF_ADDED: d->st->added++; break;
    case LV_DIFF_REMOVED: d->st->removed++; break;
    case LV_DIFF_MODIFIED: d->st->modified++; break;
    case LV_DIFF_TYPE: d->st->type++; break;
    default: d->st->meta++; break;
    }
    return d->cb(d->arg, what, lv_buf_cstr(&d->path), n);
}

static int same_meta(const lv_node *a, const lv_node *b)
{
    return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->mtime_sec == b->mtime_sec &&
           a->mtime_nsec == b->mtime_nsec && a->user_len == b->user_len && a->group_len == b->group_len &&
           memcmp(a->user, b->user, a->user_len) == 0 && memcmp(a->group, b->group, a->group_len) == 0 &&
           a->xattrs_len == b->xattrs_len && (a->xattrs_len == 0 || memcmp(a->xattrs, b->xattrs, a->xattrs_len) == 0) &&
           a->rdev == b->rdev && a->target_len == b->target_len &&
           (a->target_len == 0 || memcmp(a->target, b->target, a->target_len) == 0);
}

static int same_pages(const lv_node *a, const lv_node *b)
{
    return a->npages == b->npages && (a->npages == 0 || memcmp(a->pages, b->pages, (size_t)a->npages * LV_HASH_LEN) == 0);
}

static int same_content(const lv_node *a, const lv_node *b)
{
    return a->size == b->size && a->nextents == b->nextents &&
           (a->nextents == 0 || memcmp(a->extents, b->extents, (size_t)a->nextents * LV_TREE_EXTENT_SIZE) == 0);
}

static int diff_dirs(differ *d, const uint8_t *pa, uint32_t na, const uint8_t *pb, uint32_t nb);

/* Every entry below a directory that exists on one side only. */
static int diff_all(differ *d, const lv_node *n, char what)
{
    int rc = change(d, what, n);
    if (rc != LV_OK || n->type != LV_NODE_DIR)
        return rc;
    return what == LV_DIFF_ADDED ? diff_dirs(d, NULL, 0, n->pages, n->npages) : diff_dirs(d, n->pages, n->npages, NULL, 0);
}

static void push(differ *d, size_t mark, const lv_node *n)
{
    d->path.len = mark;
    if (mark)
        lv_buf_append(&d->path, "/", 1);
    lv_buf_append(&d->path, n->name, n->name_len);
}

static int diff_dirs(differ *d, const uint8_t *pa, uint32_t na, const uint8_t *pb, uint32_t nb)
{
    lv_dir_reader ra, rb;
    lv_dir_init(&ra, d->src, pa, na);
    lv_dir_init(&rb, d->src, pb, nb);
    lv_node a, b;
    int ga = 0, gb = 0, rc = lv_dir_next(&ra, &a, &ga);
    if (rc == LV_OK)
        rc = lv_dir_next(&rb, &b, &gb);
    size_t mark = d->path.len;
    while (rc == LV_OK && (ga || gb)) {
        int c = !ga ? 1 : !gb ? -1 : lv_tree_name_cmp(a.name, a.name_len, b.name, b.name_len);
        if (c < 0) {
            push(d, mark, &a);
            rc = diff_all(d, &a, LV_DIFF_REMOVED);
            if (rc == LV_OK)
                rc = lv_dir_next(&ra, &a, &ga);
            continue;
        }
        if (c > 0) {
            push(d, mark, &b);
            rc = diff_all(d, &b, LV_DIFF_ADDED);
            if (rc == LV_OK)
                rc = lv_dir_next(&rb, &b, &gb);
            continue;
        }
        push(d, mark, &a);
        if (a.type != b.type) {
            rc = change(d, LV_DIFF_TYPE, &b);
        } else if (a.type == LV_NODE_DIR) {
            if (!same_meta(&a, &b))
                rc = change(d, LV_DIFF_META, &b);
            if (rc == LV_OK && !same_pages(&a, &b)) /* equal page ids: an identical subtree, nothing to read */
                rc = diff_dirs(d, a.pages, a.npages, b.pages, b.npages);
        } else if (a.type == LV_NODE_FILE && !same_content(&a, &b)) {
            rc = change(d, LV_DIFF_MODIFIED, &b);
        } else if (!same_meta(&a, &b)) {
            rc = change(d, LV_DIFF_META, &b);
        }
        if (rc == LV_OK)
            rc = lv_dir_next(&ra, &a, &ga);
        if (rc == LV_OK)
            rc = lv_dir_next(&rb, &b, &gb);
    }
    d->path.len = mark;
    lv_dir_free(&ra);
    lv_dir_free(&rb);
    return rc;
}

int lv_snap_diff(const lv_repo *r, const char *id1, const char *id2, lv_snap_diff_fn cb, void *arg,
                 lv_snap_diff_stats *st)
{
    memset(st, 0, sizeof *st);
    lv_manifest m1, m2;
    const uint8_t *p1, *p2;
    uint32_t n1, n2;
    int rc = lv_snap_open(r, id1, &m1, &p1, &n1);
    if (rc != LV_OK)
        return rc;
    if ((rc = lv_snap_open(r, id2, &m2, &p2, &n2)) != LV_OK) {
        lv_manifest_free(&m1);
        return rc;
    }
    differ d = {lv_tree_src_repo(r), LV_BUF_INIT, cb, arg, st};
    if (!(n1 == n2 && (n1 == 0 || memcmp(p1, p2, (size_t)n1 * LV_HASH_LEN) == 0)))
        rc = diff_dirs(&d, p1, n1, p2, n2);
    lv_buf_free(&d.path);
    lv_manifest_free(&m1);
    lv_manifest_free(&m2);
    return rc;
}
