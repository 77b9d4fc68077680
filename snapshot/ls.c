/* The entries of a snapshot for `ls` (contract in snapshot/ls.h). */
#include "snapshot/ls.h"

#include <string.h>

#include "common/error.h"
#include "snapshot/reader.h"

typedef struct lister {
    lv_tree_src src;
    lv_buf path;
    lv_snap_ls_fn cb;
    void *arg;
} lister;

static int list_dir(lister *l, const uint8_t *pages, uint32_t npages)
{
    lv_dir_reader d;
    lv_dir_init(&d, l->src, pages, npages);
    size_t mark = l->path.len;
    lv_node n;
    int got, rc;
    while ((rc = lv_dir_next(&d, &n, &got)) == LV_OK && got) {
        l->path.len = mark;
        if (mark)
            lv_buf_append(&l->path, "/", 1);
        lv_buf_append(&l->path, n.name, n.name_len);
        rc = l->cb(l->arg, lv_buf_cstr(&l->path), &n);
        if (rc != LV_OK)
            break;
        if (n.type == LV_NODE_DIR && (rc = list_dir(l, n.pages, n.npages)) != LV_OK)
            break;
    }
    l->path.len = mark;
    lv_dir_free(&d);
    return rc;
}

int lv_snap_ls(const lv_repo *r, const char *id, const char *path, lv_snap_ls_fn cb, void *arg)
{
    lv_manifest m;
    const uint8_t *pages;
    uint32_t npages;
    int rc = lv_snap_open(r, id, &m, &pages, &npages);
    if (rc != LV_OK)
        return rc;
    lister l = {lv_tree_src_repo(r), LV_BUF_INIT, cb, arg};
    lv_buf store = LV_BUF_INIT;
    lv_node n;
    int is_root = 1;
    rc = lv_tree_lookup(l.src, pages, npages, path, &store, &n, &is_root);
    if (rc == LV_OK && is_root) {
        rc = list_dir(&l, pages, npages);
    } else if (rc == LV_OK) {
        /* The path as the tree spells it, without extra slashes. */
        for (const char *p = path; *p;) {
            while (*p == '/')
                p++;
            size_t k = strcspn(p, "/");
            if (k) {
                if (l.path.len)
                    lv_buf_append(&l.path, "/", 1);
                lv_buf_append(&l.path, p, k);
            }
            p += k;
        }
        rc = cb(arg, lv_buf_cstr(&l.path), &n);
        if (rc == LV_OK && n.type == LV_NODE_DIR)
            rc = list_dir(&l, n.pages, n.npages);
    }
    lv_buf_free(&store);
    lv_buf_free(&l.path);
    lv_manifest_free(&m);
    return rc;
}
