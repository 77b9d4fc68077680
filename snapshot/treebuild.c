#include "snapshot/treebuild.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

typedef struct level {
    lv_buf page;      /* header placeholder + encoded nodes */
    uint32_t count;
    lv_buf ids;       /* page ids stored so far */
    lv_buf last;      /* name of the last node added, for the order check */
} level;

struct lv_treebuild {
    lv_packer *p;
    level *lv;
    int depth, cap;   /* levels [0, depth) are open; buffers of [depth, cap) are kept for reuse */
    lv_buf out;       /* the ids returned by the last leave */
    lv_treebuild_stats st;
};

lv_treebuild *lv_tb_new(lv_packer *p)
{
    lv_treebuild *tb = lv_xcalloc(1, sizeof *tb);
    tb->p = p;
    return tb;
}

void lv_tb_free(lv_treebuild *tb)
{
    if (!tb)
        return;
    for (int i = 0; i < tb->cap; i++) {
        lv_buf_free(&tb->lv[i].page);
        lv_buf_free(&tb->lv[i].ids);
        lv_buf_free(&tb->lv[i].last);
    }
    free(tb->lv);
    lv_buf_free(&tb->out);
    free(tb);
}

static void page_reset(level *l)
{
    static const uint8_t zero[LV_TREE_HEADER];
    lv_buf_reset(&l->page);
    lv_buf_append(&l->page, zero, sizeof zero);
    l->count = 0;
}

void lv_tb_enter(lv_treebuild *tb)
{
    if (tb->depth == tb->cap) {
        tb->cap = tb->cap ? 2 * tb->cap : 16;
        tb->lv = lv_xrealloc(tb->lv, (size_t)tb->cap * sizeof *tb->lv);
        memset(tb->lv + tb->depth, 0, (size_t)(tb->cap - tb->depth) * sizeof *tb->lv);
    }
    level *l = &tb->lv[tb->depth++];
    page_reset(l);
    lv_buf_reset(&l->ids);
    lv_buf_reset(&l->last);
}

int lv_tb_depth(const lv_treebuild *tb) { return tb->depth; }

static int flush_page(lv_treebuild *tb, level *l)
{
    if (l->count == 0)
        return LV_OK;
    lv_tree_page_header(l->count, l->page.data);
    uint8_t id[LV_HASH_LEN];
    uint64_t fresh = 0;
    int rc = lv_packer_add(tb->p, LV_BLOB_TREE, l->page.data, l->page.len, id, &fresh);
    if (rc != LV_OK)
        return lv_err_ctx("storing a tree page");
    tb->st.pages++;
    tb->st.bytes += l->page.len;
    if (fresh) {
        tb->st.pages_new++;
        tb->st.bytes_new += l->page.len;
    }
    lv_buf_append(&l->ids, id, sizeof id);
    page_reset(l);
    return LV_OK;
}

int lv_tb_add(lv_treebuild *tb, const lv_node *n)
{
    if (tb->depth == 0)
        return lv_err(LV_ERR_INTERNAL, "tree builder: node added outside any directory");
    level *l = &tb->lv[tb->depth - 1];
    int rc = lv_tree_node_check(n);
    if (rc != LV_OK)
        return rc;
    if (l->last.len && lv_tree_name_cmp((const char *)l->last.data, l->last.len, n->name, n->name_len) >= 0)
        return lv_err(LV_ERR_INTERNAL, "tree builder: \"%.*s\" added out of order", (int)n->name_len,
                      n->name);
    size_t size = lv_tree_node_size(n);
    if (size > LV_BLOB_MAX - LV_TREE_HEADER)
        return lv_err(LV_ERR_USAGE, "\"%.*s\": its metadata (%zu bytes: xattrs, chunk list) does not fit "
                      "in one tree blob", (int)n->name_len, n->name, size);
    if (l->count > 0 && l->page.len + size > LV_TREE_PAGE_TARGET && (rc = flush_page(tb, l)) != LV_OK)
        return rc;
    lv_tree_node_encode(n, &l->page);
    l->count++;
    lv_buf_reset(&l->last);
    lv_buf_append(&l->last, n->name, n->name_len);
    return LV_OK;
}

int lv_tb_leave(lv_treebuild *tb, const uint8_t **pages, uint32_t *npages)
{
    if (tb->depth == 0)
        return lv_err(LV_ERR_INTERNAL, "tree builder: leave without enter");
    level *l = &tb->lv[tb->depth - 1];
    int rc = flush_page(tb, l);
    if (rc != LV_OK)
        return rc;
    tb->depth--;
    lv_buf_reset(&tb->out);
    lv_buf_append(&tb->out, l->ids.data, l->ids.len);
    *pages = tb->out.data;
    *npages = (uint32_t)(tb->out.len / LV_HASH_LEN);
    return LV_OK;
}

void lv_tb_stats(const lv_treebuild *tb, lv_treebuild_stats *st) { *st = tb->st; }
