#include "snapshot/reader.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/hex.h"
#include "repo/blobstore.h"
#include "snapshot/snapshot.h"

static int fetch_repo(const void *arg, const uint8_t id[LV_HASH_LEN], lv_buf *out)
{
    return lv_blob_get(arg, id, out);
}

lv_tree_src lv_tree_src_repo(const lv_repo *r)
{
    lv_tree_src s = {fetch_repo, r};
    return s;
}

void lv_dir_init(lv_dir_reader *d, lv_tree_src src, const uint8_t *pages, uint32_t npages)
{
    memset(d, 0, sizeof *d);
    d->src = src;
    lv_buf_append(&d->ids, pages, (size_t)npages * LV_HASH_LEN);
    d->npages = npages;
}

void lv_dir_free(lv_dir_reader *d)
{
    lv_buf_free(&d->ids);
    lv_buf_free(&d->buf);
    lv_buf_free(&d->last);
}

static int load_page(lv_dir_reader *d)
{
    const uint8_t *id = d->ids.data + (size_t)d->next * LV_HASH_LEN;
    char hex[2 * LV_HASH_LEN + 1], what[100];
    lv_hex_encode(id, LV_HASH_LEN, hex);
    snprintf(what, sizeof what, "tree %s", hex);
    lv_buf_reset(&d->buf);
    int rc = d->src.fetch(d->src.arg, id, &d->buf);
    if (rc != LV_OK)
        return lv_err_ctx("reading %s", what);
    if ((rc = lv_tree_page_open(d->buf.data, d->buf.len, &d->pg, what)) != LV_OK)
        return rc;
    lv_tree_cursor_init(&d->cur, &d->pg);
    d->next++;
    d->open = 1;
    /* The first name of this page must follow the last one of the previous page. */
    if (d->last.len) {
        lv_tree_cursor c = d->cur;
        lv_node n;
        lv_tree_cursor_next(&c, &n);
        if (lv_tree_name_cmp((const char *)d->last.data, d->last.len, n.name, n.name_len) >= 0)
            return lv_err(LV_ERR_CORRUPT, "%s: its names do not follow those of the previous page", what);
    }
    return LV_OK;
}

int lv_dir_next(lv_dir_reader *d, lv_node *n, int *got)
{
    *got = 0;
    for (;;) {
        if (d->open && lv_tree_cursor_next(&d->cur, n)) {
            lv_buf_reset(&d->last);
            lv_buf_append(&d->last, n->name, n->name_len);
            *got = 1;
            return LV_OK;
        }
        d->open = 0;
        if (d->next >= d->npages)
            return LV_OK;
        int rc = load_page(d);
        if (rc != LV_OK)
            return rc;
    }
}

int lv_tree_lookup(lv_tree_src src, const uint8_t *root, uint32_t nroot, const char *path, lv_buf *store,
                   lv_node *out, int *is_root)
{
    lv_buf pages = LV_BUF_INIT;
    lv_buf_append(&pages, root, (size_t)nroot * LV_HASH_LEN);
    uint32_t npages = nroot;
    const char *p = path;
    int rc = LV_OK;
    *is_root = 1;
    while (rc == LV_OK) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, "/");
        lv_dir_reader d;
        lv_dir_init(&d, src, pages.data, npages);
        lv_node n;
        int got = 0, hit = 0;
        while ((rc = lv_dir_next(&d, &n, &got)) == LV_OK && got) {
            int c = lv_tree_name_cmp(n.name, n.name_len, p, len);
            if (c == 0) {
                hit = 1;
                break;
            }
            if (c > 0)
                break; /* sorted: it is not there */
        }
        if (rc == LV_OK && !hit)
            rc = lv_err(LV_ERR_NOT_FOUND, "%.*s: no such path in the snapshot", (int)(p + len - path), path);
        if (rc == LV_OK) {
            lv_node_copy(&n, store, out);
            *is_root = 0;
            p += len;
            while (*p == '/')
                p++;
            if (*p && out->type != LV_NODE_DIR)
                rc = lv_err(LV_ERR_NOT_FOUND, "%.*s: not a directory in the snapshot", (int)(p - path), path);
            else if (*p) {
                lv_buf_reset(&pages);
                lv_buf_append(&pages, out->pages, (size_t)out->npages * LV_HASH_LEN);
                npages = out->npages;
            }
        }
        lv_dir_free(&d);
    }
    lv_buf_free(&pages);
    return rc;
}
