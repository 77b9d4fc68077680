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
 * The interface hands us a const repository handle: everything here reads through r->store and the
 * const sealing functions, never through helpers that take a mutable handle. */
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

static int read_at(const lv_repo *r, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, lv_buf *out)
{
    char key[LV_PACK_KEY_LEN], hex[2 * LV_HASH_LEN + 1], what[160];
    lv_pack_key(loc->pack, key);
    lv_hex_encode(id, LV_HASH_LEN, hex);
    snprintf(what, sizeof what, "blob %s in pack %s", hex, key);
    lv_buf sealed = LV_BUF_INIT;
    int rc = lv_store_get(r->store, key, loc->offset, loc->length, &sealed);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_CORRUPT, "%s: the pack is missing", what);
    else if (rc != LV_OK)
        lv_err_ctx("reading %s", what);
    else
        rc = lv_blob_open(r, loc->type, id, sealed.data, sealed.len, loc->raw_length, out, what);
    lv_buf_free(&sealed);
    return rc;
}

static int add_index_cb(void *arg, const char *key, uint64_t size)
{
    const lv_repo *r = ((src_arg *)arg)->r;
    (void)size;
    uint8_t id[LV_HASH_LEN], sum[LV_HASH_LEN];
    if (lv_index_key_parse(key, id) != 0)
        return LV_OK;
    lv_buf obj = LV_BUF_INIT, plain = LV_BUF_INIT;
    lv_index ix;
    memset(&ix, 0, sizeof ix);
    int rc = lv_store_get(r->store, key, 0, 0, &obj);
    if (rc == LV_OK) {
        lv_sha256(obj.data, obj.len, sum);
        if (memcmp(sum, id, LV_HASH_LEN) != 0)
            rc = lv_err(LV_ERR_CORRUPT, "%s: content does not match its name", key);
    }
    if (rc == LV_OK)
        rc = lv_repo_unseal(r, LV_INDEX_AAD, strlen(LV_INDEX_AAD), obj.data, obj.len, &plain, key);
    if (rc == LV_OK)
        rc = lv_index_parse(plain.data, plain.len, &ix);
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
                memcpy(l->pack, ix.packs[p].id, LV_HASH_LEN);
                l->offset = e->offset;
                l->length = e->length;
                l->raw_length = e->raw_length;
                l->type = e->type;
                lv_idmap_put(&st.where, e->id, st.nlocs++);
            }
    } else if (rc == LV_ERR_CORRUPT || rc == LV_ERR_NOT_FOUND) {
        /* repo check reports damaged indexes itself; their tree blobs just count as missing here. */
        lv_debug("files refs: skipping %s: %s", key, lv_errmsg());
        rc = LV_OK;
    }
    lv_index_free(&ix);
    lv_buf_free(&obj);
    lv_buf_free(&plain);
    return rc;
}

static int fetch(void *arg, const uint8_t id[LV_HASH_LEN], lv_buf *out)
{
    const lv_repo *r = ((src_arg *)arg)->r;
    lv_blob_loc loc;
    if (r->cat) {
        int rc = lv_catalog_blob_find(r->cat, id, &loc);
        if (rc != LV_OK)
            return rc;
        return read_at(r, id, &loc, out);
    }
    const size_t *i = lv_idmap_get(&st.where, id);
    if (!i)
        return lv_err(LV_ERR_NOT_FOUND, "tree blob not indexed");
    return read_at(r, id, &st.locs[*i], out);
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
        if ((rc = lv_store_list(r->store, "index/", add_index_cb, &a)) != LV_OK)
            return rc;
        st.loaded = 1;
    }
    lv_tree_src src = {fetch, &a};
    return walk_pages(src, pages, npages, emit, emit_arg);
}

int lv_snap_register(void) { return lv_manifest_register_kind(LV_SNAP_KIND, files_refs); }
