/* The blob references of files snapshots, for `repo check` (lv_manifest_register_kind).
 *
 * Every tree page and every data blob reachable from a snapshot's root is emitted. Reading the pages
 * needs their locations. repo check works from the store alone and gives us no catalog, so the
 * locations of tree blobs come from the index objects themselves, read once per process and kept in
 * a map (tree blobs only: a few per directory, so it stays small). When a catalog is attached we use
 * it instead. Pages already walked for an earlier snapshot are not walked again: unchanged subtrees
 * are shared between snapshots, and this keeps a check of many snapshots proportional to the distinct
 * trees, not to their sum.
 *
 * The interface hands us a const repository handle, as every read path of repo/ takes one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/blobs.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "repo/blobstore.h"
#include "repo/index.h"
#include "repo/registry.h"
#include "snapshot/idmap.h"
#include "snapshot/reader.h"
#include "snapshot/snapshot.h"

/* Per-process state of the check (one repository at a time; reset when another one is checked). */
static struct {
    uint8_t repo[LV_REPO_ID_LEN];
    int loaded;                /* index map built for this repository */
    lv_idmap where;            /* tree blob id -> index into locs */
    lv_blob_loc *locs;
    size_t nlocs, cap;
    lv_idmap visited;          /* tree pages already walked */
} st;

typedef struct src_arg {
    const lv_repo *r;
} src_arg;

static int add_index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    const lv_repo *r = ((src_arg *)arg)->r;
    (void)size;
    uint8_t id[LV_HASH_LEN];
    if (!name || lv_hex_decode(name, id, LV_HASH_LEN) != 0)
        return LV_OK;
    lv_index ix;
    int rc = lv_index_read(r, id, &ix);
    if (rc == LV_OK) {
        for (uint32_t p = 0; p < ix.npacks; p++)
            for (uint32_t b = 0; b < ix.packs[p].count; b++) {
                const lv_pack_entry *e = &ix.packs[p].blobs[b];
                if (e->type != LV_BLOB_TREE || lv_idmap_get(&st.where, e->id))
                    continue;
                if (st.nlocs == st.cap) {
                    st.cap = st.cap ? 2 * st.cap : 256;
                    st.locs = lv_xrealloc(st.locs, st.cap * sizeof *st.locs);
                }
                lv_blob_loc *l = &st.locs[st.nlocs];
                memset(l, 0, sizeof *l);
                memcpy(l->pack, ix.packs[p].id, LV_HASH_LEN);
                l->offset = e->offset;
                l->length = e->length;
                l->raw_length = e->raw_length;
                l->type = e->type;
                lv_idmap_put(&st.where, e->id, st.nlocs++);
            }
        lv_index_free(&ix);
    } else if (rc == LV_ERR_CORRUPT || rc == LV_ERR_NOT_FOUND) {
        /* repo check reports damaged indexes itself; their tree blobs just count as missing here. */
        lv_debug("files refs: skipping %s: %s", key, lv_errmsg());
        rc = LV_OK;
    }
    return rc;
}

static int fetch(const void *arg, const uint8_t id[LV_HASH_LEN], lv_buf *out)
{
    const lv_repo *r = ((const src_arg *)arg)->r;
    lv_blob_loc loc;
    if (r->cat) {
        int rc = lv_catalog_blob_find(r->cat, id, &loc);
        if (rc != LV_OK)
            return rc;
        return lv_blob_read(r, id, &loc, out);
    }
    const size_t *i = lv_idmap_get(&st.where, id);
    if (!i)
        return lv_err(LV_ERR_NOT_FOUND, "tree blob not indexed");
    return lv_blob_read(r, id, &st.locs[*i], out);
}

static int walk_pages(lv_tree_src src, const uint8_t *pages, uint32_t npages, lv_manifest_emit_fn emit,
                      void *emit_arg)
{
    for (uint32_t i = 0; i < npages; i++) {
        const uint8_t *id = pages + (size_t)i * LV_HASH_LEN;
        int rc = emit(emit_arg, id);
        if (rc != LV_OK)
            return rc;
        if (!lv_idmap_put(&st.visited, id, 0))
            continue;
        lv_buf buf = LV_BUF_INIT;
        rc = src.fetch(src.arg, id, &buf);
        if (rc == LV_ERR_NOT_FOUND) { /* emitted above: check reports it as not indexed */
            lv_buf_free(&buf);
            continue;
        }
        char hex[2 * LV_HASH_LEN + 1], what[80];
        lv_hex_encode(id, LV_HASH_LEN, hex);
        snprintf(what, sizeof what, "tree %s", hex);
        lv_tree_page pg;
        if (rc == LV_OK)
            rc = lv_tree_page_open(buf.data, buf.len, &pg, what);
        if (rc == LV_OK) {
            lv_tree_cursor c;
            lv_node n;
            lv_tree_cursor_init(&c, &pg);
            while (rc == LV_OK && lv_tree_cursor_next(&c, &n)) {
                if (n.type == LV_NODE_DIR)
                    rc = walk_pages(src, n.pages, n.npages, emit, emit_arg);
                for (uint32_t k = 0; rc == LV_OK && k < n.nextents; k++) {
                    lv_extent e;
                    lv_extent_get(n.extents, k, &e);
                    rc = emit(emit_arg, e.id);
                }
            }
        }
        lv_buf_free(&buf);
        if (rc != LV_OK)
            return rc;
    }
    return LV_OK;
}

static int files_refs(const lv_repo *r, const lv_manifest *m, lv_manifest_emit_fn emit, void *emit_arg)
{
    const uint8_t *pages;
    uint32_t npages;
    char what[96];
    snprintf(what, sizeof what, "manifests/%s", m->id);
    int rc = lv_snap_body_parse(m->body, m->body_len, &pages, &npages, what);
    if (rc != LV_OK)
        return rc;
    if (memcmp(st.repo, r->id, LV_REPO_ID_LEN) != 0) {
        lv_idmap_free(&st.where);
        lv_idmap_free(&st.visited);
        st.nlocs = 0;
        st.loaded = 0;
        memcpy(st.repo, r->id, LV_REPO_ID_LEN);
    }
    src_arg a = {r};
    if (!r->cat && !st.loaded) {
        if ((rc = lv_obj_list(r, &lv_obj_index, add_index_cb, &a)) != LV_OK)
            return rc;
        st.loaded = 1;
    }
    lv_tree_src src = {fetch, &a};
    return walk_pages(src, pages, npages, emit, emit_arg);
}

int lv_snap_register(void) { return lv_manifest_register_kind(LV_SNAP_KIND, files_refs); }
