/* prune: reclaim unreferenced pack space (contract in retention/prune.h; the safety argument in
 * docs/repository-format.md, section 10). */
#include "retention/prune.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/sort.h"
#include "common/testpause.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "repo/object.h"
#include "maint/sync.h"
#include "repo/blobstore.h"
#include "repo/deleted.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/registry.h"
#include "retention/forget.h"

#define INDEX_MAX_BLOBS 65536 /* as lv_packer: no index object grows beyond a few MiB */
#define DELETE_BATCH 1000     /* S3 DeleteObjects takes at most 1000 keys */

enum { CLASS_UNREADABLE = 5 }; /* a pack prune cannot read: never deleted, not planned */

/* The work database keeps pack entries in its own type (it sits below repo/ in catalog/). */
static int add_entry(lv_prunedb *db, const uint8_t pack[LV_HASH_LEN], const lv_pack_entry *e)
{
    lv_prune_entry x = {.type = e->type, .offset = e->offset, .length = e->length, .raw_length = e->raw_length};
    memcpy(x.id, e->id, LV_HASH_LEN);
    return lv_prunedb_add_entry(db, pack, &x);
}

typedef struct listing {
    uint8_t (*ids)[LV_HASH_LEN];
    uint64_t *sizes;
    size_t n, cap;
} listing;

typedef struct hexes {
    char (*ids)[2 * LV_HASH_LEN + 1];
    size_t n, cap;
} hexes;

typedef struct prune {
    lv_repo *r;
    const lv_prune_opts *o;
    lv_prune_result *res;
    lv_prunedb *db;
    listing data, indexes, written;
    listing superseded;     /* what the listed index objects say they supersede (carried forward) */
    hexes manifests;
    double t0;
    lv_progress progress; /* a line on stderr when asked (o->progress) */
} prune;

/* ---- listings --------------------------------------------------------------------------------- */

static void listing_add(listing *l, const uint8_t id[LV_HASH_LEN], uint64_t size)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->ids = lv_xrealloc(l->ids, l->cap * sizeof *l->ids);
        l->sizes = lv_xrealloc(l->sizes, l->cap * sizeof *l->sizes);
    }
    memcpy(l->ids[l->n], id, LV_HASH_LEN);
    l->sizes[l->n++] = size;
}

static void listing_free(listing *l)
{
    free(l->ids);
    free(l->sizes);
    memset(l, 0, sizeof *l);
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }
static int cmp_hex(const void *a, const void *b) { return strcmp(a, b); }

/* Sort ids and sizes together (sizes follow their ids). */
static void listing_sort(listing *l)
{
    size_t *ord = lv_xmalloc((l->n + 1) * sizeof *ord);
    uint8_t(*ids)[LV_HASH_LEN] = lv_xmalloc((l->n + 1) * LV_HASH_LEN);
    uint64_t *sizes = lv_xmalloc((l->n + 1) * sizeof *sizes);
    memcpy(ids, l->ids, l->n * LV_HASH_LEN);
    lv_sort(ids, l->n, LV_HASH_LEN, cmp_id);
    for (size_t i = 0; i < l->n; i++) {
        uint8_t(*at)[LV_HASH_LEN] = bsearch(l->ids[i], ids, l->n, LV_HASH_LEN, cmp_id);
        sizes[at - ids] = l->sizes[i];
    }
    free(ord);
    free(l->ids);
    free(l->sizes);
    l->ids = ids;
    l->sizes = sizes;
}

static long listing_find(const listing *l, const uint8_t id[LV_HASH_LEN])
{
    if (l->n == 0)
        return -1;
    uint8_t(*at)[LV_HASH_LEN] = bsearch(id, l->ids, l->n, LV_HASH_LEN, cmp_id);
    return at ? (long)(at - l->ids) : -1;
}

static int data_cb(void *arg, const char *key, uint64_t size)
{
    uint8_t id[LV_HASH_LEN];
    if (lv_pack_key_parse(key, id) == 0)
        listing_add(arg, id, size);
    return LV_OK;
}

static int index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    (void)key;
    uint8_t id[LV_HASH_LEN];
    if (name && lv_hex_decode(name, id, LV_HASH_LEN) == 0)
        listing_add(arg, id, size);
    return LV_OK;
}

static int manifest_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    hexes *h = arg;
    (void)key, (void)size;
    if (name) {
        LV_GROW(h->ids, h->n, h->cap);
        snprintf(h->ids[h->n++], sizeof h->ids[0], "%s", name);
    }
    return LV_OK;
}

static int list_all(prune *p)
{
    lv_store *st = p->r->store;
    int rc = lv_obj_list(p->r, &lv_obj_manifest, manifest_cb, &p->manifests);
    if (rc == LV_OK)
        rc = lv_obj_list(p->r, &lv_obj_index, index_cb, &p->indexes);
    if (rc == LV_OK)
        rc = lv_store_list(st, "data/", data_cb, &p->data);
    if (rc != LV_OK)
        return lv_err_ctx("prune: listing the repository");
    lv_sort(p->manifests.ids, p->manifests.n, sizeof p->manifests.ids[0], cmp_hex);
    listing_sort(&p->indexes);
    listing_sort(&p->data);
    p->res->manifests = p->manifests.n;
    p->res->indexes_before = p->indexes.n;
    for (size_t i = 0; i < p->data.n; i++)
        p->res->bytes_before += p->data.sizes[i];
    return LV_OK;
}

static void progress(prune *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(prune *p, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lv_progress_text(&p->progress, line);
}

/* Each phase is logged (--log-level info). LABVAULT_TEST_PRUNE_PAUSE_MS (test-only) pauses at each phase
 * boundary, so tests/retention/kill.sh can kill prune inside every phase. */
static void phase(const char *what)
{
    lv_info("prune: %s", what);
    (void)lv_test_pause("LABVAULT_TEST_PRUNE_PAUSE_MS", 0.001); /* an interrupt is seen by the next step */
}

static void progress_end(prune *p)
{
    lv_progress_clear(&p->progress);
}

/* ---- step 2: the work database ----------------------------------------------------------------- */

static int record_index(prune *p, const uint8_t id[LV_HASH_LEN], int *indexed_packs)
{
    lv_index ix;
    int rc = lv_index_read(p->r, id, &ix);
    if (rc == LV_ERR_NOT_FOUND) { /* gone since the listing: another prune cannot run; a crashed one's */
        lv_err_clear();
        return LV_OK;
    }
    if (rc != LV_OK)
        return rc; /* an unreadable index: its packs would look unindexed; stop (repo check tells more) */
    for (uint32_t i = 0; i < ix.nsupersedes; i++)
        listing_add(&p->superseded, ix.supersedes[i], 0);
    for (uint32_t i = 0; rc == LV_OK && i < ix.npacks; i++) {
        const lv_index_pack *ip = &ix.packs[i];
        long at = listing_find(&p->data, ip->id);
        char key[LV_PACK_KEY_LEN];
        lv_pack_key(ip->id, key);
        if (at < 0 || p->data.sizes[at] != ip->size) {
            lv_warn("an index lists pack %s %s: its blobs are not counted (repo check tells more)", key,
                    at < 0 ? "but it is missing" : "with another size than it has");
            continue;
        }
        if (indexed_packs[at])
            continue; /* listed by an earlier index too (a crashed prune, two writers): same content */
        indexed_packs[at] = 1;
        rc = lv_prunedb_add_pack(p->db, ip->id, ip->size, 1, LV_PRUNE_KEEP);
        for (uint32_t k = 0; rc == LV_OK && k < ip->count; k++)
            rc = add_entry(p->db, ip->id, &ip->blobs[k]);
    }
    lv_index_free(&ix);
    return rc;
}

static int record_unindexed(prune *p, size_t i)
{
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    int rc = lv_pack_read_header(p->r, p->data.ids[i], p->data.sizes[i], &e, &n);
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(p->data.ids[i], key);
    if (rc == LV_ERR_NOT_FOUND) { /* deleted since the listing: nothing to do */
        lv_err_clear();
        return LV_OK;
    }
    if (rc == LV_ERR_CORRUPT) {
        lv_warn("pack %s is in no index and its header cannot be read (%s): left alone", key, lv_errmsg());
        lv_err_clear();
        return lv_prunedb_add_pack(p->db, p->data.ids[i], p->data.sizes[i], 0, CLASS_UNREADABLE);
    }
    if (rc != LV_OK)
        return rc;
    rc = lv_prunedb_add_pack(p->db, p->data.ids[i], p->data.sizes[i], 0, LV_PRUNE_KEEP);
    for (uint32_t k = 0; rc == LV_OK && k < n; k++)
        rc = add_entry(p->db, p->data.ids[i], &e[k]);
    free(e);
    return rc;
}

int lv_prune_kind_index(const char *kind)
{
    return strcmp(kind, "files") == 0 ? 0 : strcmp(kind, "pg") == 0 ? 1 : 2;
}

typedef struct ref_arg {
    prune *p;
    unsigned kind_bit;
    /* step 6: check instead of record */
    int check;
    uint64_t rescued;
} ref_arg;

static int rescue(prune *p, const uint8_t pack[LV_HASH_LEN]);

static int ref_cb(void *arg, const uint8_t id[LV_HASH_LEN])
{
    ref_arg *a = arg;
    if (!a->check)
        return lv_prunedb_add_ref(a->p->db, id, a->kind_bit);
    int safe, found;
    uint8_t pack[LV_HASH_LEN];
    int rc = lv_prunedb_blob_safe(a->p->db, id, &safe, &found, pack);
    if (rc == LV_OK && !safe && found) {
        rc = rescue(a->p, pack);
        a->rescued++;
    }
    return rc;
}

/* Every blob manifest hex references, into the work database (check = 0) or checked against it. */
static int manifest_refs(prune *p, const char *hex, ref_arg *a)
{
    lv_manifest m;
    int rc = lv_manifest_read(p->r, hex, &m);
    if (rc == LV_ERR_NOT_FOUND && a->check) { /* forgotten meanwhile */
        lv_err_clear();
        return LV_OK;
    }
    if (rc != LV_OK)
        return lv_err(rc, "prune stopped: %s (a manifest whose references are unknown could lose data; "
                          "repo check tells more)", lv_errmsg());
    lv_manifest_refs_fn fn = lv_manifest_kind_refs(m.kind);
    if (!fn)
        rc = lv_err(LV_ERR_CORRUPT, "prune stopped: manifests/%s is of kind \"%s\", which this labvault does not "
                                    "know: its blobs cannot be told apart",
                    hex, m.kind);
    else {
        a->kind_bit = 1u << lv_prune_kind_index(m.kind);
        rc = fn(p->r, &m, ref_cb, a);
    }
    lv_manifest_free(&m);
    return rc;
}

static int fill(prune *p)
{
    int rc = lv_prunedb_begin(p->db);
    int *indexed = lv_xcalloc(p->data.n + 1, sizeof *indexed);
    for (size_t i = 0; rc == LV_OK && i < p->indexes.n; i++) {
        progress(p, "reading index %zu of %zu", i + 1, p->indexes.n);
        rc = record_index(p, p->indexes.ids[i], indexed);
    }
    for (size_t i = 0; rc == LV_OK && i < p->data.n; i++)
        if (!indexed[i]) {
            progress(p, "reading the header of unindexed pack %zu", i + 1);
            rc = record_unindexed(p, i);
        }
    free(indexed);
    ref_arg a = {.p = p};
    for (size_t i = 0; rc == LV_OK && i < p->manifests.n; i++) {
        progress(p, "reading manifest %zu of %zu", i + 1, p->manifests.n);
        rc = manifest_refs(p, p->manifests.ids[i], &a);
    }
    progress_end(p);
    if (rc == LV_OK)
        rc = lv_prunedb_commit(p->db);
    return rc;
}

/* ---- step 4: repack ------------------------------------------------------------------------------ */

/* The pack being copied from is read in windows of this many bytes (or one blob, when larger), not
 * whole: a whole pack beside the one being built was a third of prune's peak memory. Its blobs are copied
 * in offset order, so each byte is read once. */
#define REPACK_WINDOW (4u << 20)

typedef struct repacker {
    prune *p;
    lv_pack_builder b;
    char src_key[LV_PACK_KEY_LEN]; /* the pack being copied from */
    uint64_t src_size;
    lv_buf win;             /* bytes [win_off, win_off + win.len) of it */
    uint64_t win_off;
    lv_buf plain;
    uint64_t done, total;
} repacker;

static int finish_pack(repacker *k)
{
    if (k->b.count == 0)
        return LV_OK;
    phase("repacking: uploading a pack");
    prune *p = k->p;
    uint8_t id[LV_HASH_LEN];
    lv_pack_builder_finish(p->r, &k->b, id);
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(id, key);
    int rc = lv_store_put(p->r->store, key, k->b.data.data, k->b.data.len, LV_PUT_IF_ABSENT);
    if (rc == LV_ERR_CONFLICT) /* the same blobs in the same order: the same pack */
        rc = LV_OK;
    if (rc != LV_OK)
        return lv_err_ctx("prune: writing repacked %s", key);
    rc = lv_prunedb_begin(p->db);
    if (rc == LV_OK)
        rc = lv_prunedb_add_pack(p->db, id, k->b.data.len, 1, LV_PRUNE_NEW);
    for (uint32_t i = 0; rc == LV_OK && i < k->b.count; i++)
        rc = add_entry(p->db, id, &k->b.entries[i]);
    if (rc == LV_OK)
        rc = lv_prunedb_commit(p->db);
    p->res->packs_written++;
    p->res->bytes_written += k->b.data.len;
    lv_pack_builder_free(&k->b);
    lv_pack_builder_init(&k->b, (size_t)p->r->params.pack_size + (1u << 20));
    return rc;
}

static int copy_entry(void *arg, const lv_prune_entry *e)
{
    repacker *k = arg;
    if (e->offset < k->win_off || e->offset + e->length > k->win_off + k->win.len) {
        uint64_t len = e->length > REPACK_WINDOW ? e->length : REPACK_WINDOW;
        if (k->src_size == 0) /* size unknown: to its end */
            len = 0;
        else if (k->src_size > e->offset && e->offset + len > k->src_size)
            len = k->src_size - e->offset > e->length ? k->src_size - e->offset : e->length;
        lv_buf_reset(&k->win);
        k->win_off = e->offset;
        int rc = lv_store_get(k->p->r->store, k->src_key, e->offset, len, &k->win);
        if (rc != LV_OK)
            return lv_err_ctx("prune: reading %s to repack it", k->src_key);
    }
    if (e->offset + e->length > k->win_off + k->win.len)
        return lv_err(LV_ERR_CORRUPT, "prune stopped: blob at offset %llu of %s runs past its end",
                      (unsigned long long)e->offset, k->src_key);
    const uint8_t *sealed = k->win.data + (e->offset - k->win_off);
    /* Authenticate before copying: a damaged blob must not move into a pack that looks healthy. */
    lv_buf_reset(&k->plain);
    int rc = lv_blob_open(k->p->r, e->type, e->id, sealed, e->length, e->raw_length, &k->plain, k->src_key);
    if (rc != LV_OK)
        return lv_err(rc, "prune stopped: %s", lv_errmsg());
    lv_pack_builder_add(&k->b, e->type, e->id, sealed, e->length, e->raw_length);
    k->done += e->length;
    if (k->b.data.len >= k->p->r->params.pack_size)
        rc = finish_pack(k);
    lv_progress_update(&k->p->progress, k->done, k->total, 0, "repacking");
    return rc;
}

static int repack_one(void *arg, const lv_prune_pack *pp)
{
    repacker *k = arg;
    lv_pack_key(pp->id, k->src_key);
    k->src_size = pp->size;
    k->win_off = 0;
    lv_buf_reset(&k->win);
    return lv_prunedb_entries(k->p->db, pp->id, 1, copy_entry, k);
}

static int collect_pack(void *arg, const lv_prune_pack *pp)
{
    listing_add(arg, pp->id, pp->size);
    return LV_OK;
}

static int repack(prune *p)
{
    if (p->res->plan.repack == 0)
        return LV_OK;
    repacker k = {.p = p, .total = p->res->plan.repack_used_bytes};
    lv_pack_builder_init(&k.b, (size_t)p->r->params.pack_size + (1u << 20));
    /* Listed into memory first: the work database gets the new packs while we copy. */
    listing todo = {0};
    int rc = lv_prunedb_packs(p->db, LV_PRUNE_REPACK, collect_pack, &todo);
    for (size_t i = 0; rc == LV_OK && i < todo.n; i++) {
        lv_prune_pack pp = {.size = todo.sizes[i], .indexed = 1, .klass = LV_PRUNE_REPACK};
        memcpy(pp.id, todo.ids[i], LV_HASH_LEN);
        rc = repack_one(&k, &pp);
    }
    if (rc == LV_OK)
        rc = finish_pack(&k);
    progress_end(p);
    listing_free(&todo);
    lv_pack_builder_free(&k.b);
    lv_buf_free(&k.plain);
    lv_buf_free(&k.win);
    return rc;
}

/* ---- step 5: new index objects -------------------------------------------------------------------- */

typedef struct ixw {
    prune *p;
    lv_index ix;
    uint32_t blobs, cap_packs;
    int first;              /* the first object written lists what it supersedes */
    lv_index_pack *cur;
} ixw;

static int ixw_flush(ixw *w)
{
    if (w->ix.npacks == 0)
        return LV_OK;
    prune *p = w->p;
    listing sup = {0};
    if (w->first) { /* every index listed, and what they superseded: other hosts' catalogs may hold any */
        for (size_t i = 0; i < p->indexes.n; i++)
            listing_add(&sup, p->indexes.ids[i], 0);
        for (size_t i = 0; i < p->superseded.n; i++)
            listing_add(&sup, p->superseded.ids[i], 0);
        lv_sort(sup.ids, sup.n, LV_HASH_LEN, cmp_id);
        size_t k = 0;
        for (size_t i = 0; i < sup.n; i++)
            if (k == 0 || memcmp(sup.ids[k - 1], sup.ids[i], LV_HASH_LEN) != 0)
                memcpy(sup.ids[k++], sup.ids[i], LV_HASH_LEN);
        sup.n = k;
        w->ix.nsupersedes = (uint32_t)sup.n;
        w->ix.supersedes = sup.ids;
    }
    uint8_t id[LV_HASH_LEN];
    int rc = lv_index_write(p->r, &w->ix, id);
    w->ix.nsupersedes = 0;
    w->ix.supersedes = NULL;
    w->first = 0;
    listing_free(&sup);
    if (rc == LV_OK)
        listing_add(&p->written, id, 0);
    for (uint32_t i = 0; i < w->ix.npacks; i++)
        free(w->ix.packs[i].blobs);
    w->ix.npacks = 0;
    w->blobs = 0;
    return rc;
}

static int ixw_entry(void *arg, const lv_prune_entry *e)
{
    lv_index_pack *ip = arg;
    ip->blobs = lv_xrealloc(ip->blobs, (ip->count + 1) * sizeof *ip->blobs);
    lv_pack_entry *b = &ip->blobs[ip->count++];
    b->type = e->type;
    memcpy(b->id, e->id, LV_HASH_LEN);
    b->offset = e->offset;
    b->length = e->length;
    b->raw_length = e->raw_length;
    return LV_OK;
}

static int ixw_pack(void *arg, const lv_prune_pack *pp)
{
    ixw *w = arg;
    if (pp->klass != LV_PRUNE_KEEP && pp->klass != LV_PRUNE_NEW && pp->klass != LV_PRUNE_RESCUED)
        return LV_OK;
    if (w->ix.npacks == w->cap_packs) {
        w->cap_packs = w->cap_packs ? 2 * w->cap_packs : 64;
        w->ix.packs = lv_xrealloc(w->ix.packs, w->cap_packs * sizeof *w->ix.packs);
    }
    lv_index_pack *ip = &w->ix.packs[w->ix.npacks];
    memset(ip, 0, sizeof *ip);
    memcpy(ip->id, pp->id, LV_HASH_LEN);
    ip->size = pp->size;
    int rc = lv_prunedb_entries(w->p->db, pp->id, 0, ixw_entry, ip);
    if (rc != LV_OK) {
        free(ip->blobs);
        return rc;
    }
    w->ix.npacks++;
    w->blobs += ip->count;
    return w->blobs >= INDEX_MAX_BLOBS ? ixw_flush(w) : LV_OK;
}

static int delete_keys(lv_store *st, char (*keys)[LV_PACK_KEY_LEN > LV_INDEX_KEY_LEN ? LV_PACK_KEY_LEN : LV_INDEX_KEY_LEN],
                       size_t n)
{
    const char *batch[DELETE_BATCH];
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n; i += DELETE_BATCH) {
        size_t m = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
        for (size_t k = 0; k < m; k++)
            batch[k] = keys[i + k];
        rc = lv_store_del_many(st, batch, m);
    }
    return rc;
}

typedef char objkey[LV_PACK_KEY_LEN > LV_INDEX_KEY_LEN ? LV_PACK_KEY_LEN : LV_INDEX_KEY_LEN];

static int write_indexes(prune *p)
{
    ixw w = {.p = p, .first = 1};
    int rc = lv_prunedb_packs(p->db, -1, ixw_pack, &w);
    if (rc == LV_OK)
        rc = ixw_flush(&w);
    for (uint32_t i = 0; i < w.ix.npacks; i++)
        free(w.ix.packs[i].blobs);
    free(w.ix.packs);
    if (rc != LV_OK)
        return rc;
    listing_sort(&p->written);
    p->res->indexes_after = p->written.n;
    /* Now the old index objects go: a catalog that syncs from here on reads only the new ones. An old
     * object with the very content of a new one has its name and stays. */
    objkey *keys = lv_xcalloc(p->indexes.n + 1, sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < p->indexes.n; i++)
        if (listing_find(&p->written, p->indexes.ids[i]) < 0)
            lv_index_key(p->indexes.ids[i], keys[n++]);
    phase("removing superseded index objects");
    rc = delete_keys(p->r->store, keys, n);
    free(keys);
    return rc != LV_OK ? lv_err_ctx("prune: removing superseded index objects") : LV_OK;
}

/* ---- step 6: deletion ---------------------------------------------------------------------------- */

/* A pack in the deletion set holds the only copy of a blob a manifest written meanwhile references:
 * keep it, indexed again (written at the end of the step). */
static int rescue(prune *p, const uint8_t pack[LV_HASH_LEN])
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(pack, key);
    lv_info("pack %s is kept: a backup that finished during prune references a blob only it holds", key);
    p->res->packs_rescued++;
    return lv_prunedb_set_class(p->db, pack, LV_PRUNE_RESCUED);
}

typedef struct late_index {
    prune *p;
} late_index;

static int protect_index(prune *p, const uint8_t id[LV_HASH_LEN])
{
    lv_index ix;
    int rc = lv_index_read(p->r, id, &ix);
    if (rc != LV_OK)
        return lv_err_ctx("prune: reading an index object written during prune");
    for (uint32_t i = 0; rc == LV_OK && i < ix.npacks; i++) {
        int klass;
        int c = lv_prunedb_class(p->db, ix.packs[i].id, &klass);
        if (c == LV_ERR_NOT_FOUND)
            continue; /* a pack written after our listing: never a candidate */
        if (c != LV_OK) {
            rc = c;
            break;
        }
        if (klass == LV_PRUNE_DELETE || klass == LV_PRUNE_REPACK) {
            rc = lv_prunedb_set_class(p->db, ix.packs[i].id, LV_PRUNE_KEEP);
            p->res->packs_protected++;
        }
    }
    lv_index_free(&ix);
    return rc;
}

static int count_doomed(void *arg, const lv_prune_pack *pp)
{
    prune *p = arg;
    p->res->packs_deferred++;
    p->res->bytes_deferred += pp->size;
    return LV_OK;
}

typedef struct doomed {
    objkey *keys;
    size_t n, cap;
    uint64_t bytes;
} doomed;

static int collect_doomed(void *arg, const lv_prune_pack *pp)
{
    doomed *d = arg;
    LV_GROW(d->keys, d->n, d->cap);
    lv_pack_key(pp->id, d->keys[d->n++]);
    d->bytes += pp->size;
    return LV_OK;
}

static int write_rescue_index(prune *p)
{
    if (p->res->packs_rescued == 0)
        return LV_OK;
    ixw w = {.p = p};
    int rc = LV_OK;
    /* only the rescued packs */
    listing rescued = {0};
    rc = lv_prunedb_packs(p->db, LV_PRUNE_RESCUED, collect_pack, &rescued);
    for (size_t i = 0; rc == LV_OK && i < rescued.n; i++) {
        lv_prune_pack pp = {.size = rescued.sizes[i], .klass = LV_PRUNE_RESCUED};
        memcpy(pp.id, rescued.ids[i], LV_HASH_LEN);
        rc = ixw_pack(&w, &pp);
    }
    if (rc == LV_OK)
        rc = ixw_flush(&w);
    for (uint32_t i = 0; i < w.ix.npacks; i++)
        free(w.ix.packs[i].blobs);
    free(w.ix.packs);
    listing_free(&rescued);
    return rc;
}

/* Add (add = 1) or remove the doomed packs (DELETE, REPACK) and their blobs as unindexed packs of our
 * catalog; the catalog is synced first, so it also knows the index objects written meanwhile. */
typedef struct doomed_cat {
    prune *p;
    int add;
    const uint8_t *pack;
} doomed_cat;

static int doomed_entry(void *arg, const lv_prune_entry *e)
{
    doomed_cat *d = arg;
    lv_blob_loc loc = {.offset = e->offset, .length = e->length, .raw_length = e->raw_length, .type = e->type};
    memcpy(loc.pack, d->pack, LV_HASH_LEN);
    return lv_catalog_blob_add(d->p->r->cat, e->id, &loc);
}

static int doomed_pack(void *arg, const lv_prune_pack *pp)
{
    doomed_cat *d = arg;
    if (!d->add)
        return lv_catalog_pack_forget(d->p->r->cat, pp->id);
    d->pack = pp->id;
    int rc = lv_catalog_pack_add(d->p->r->cat, pp->id, pp->size, NULL);
    return rc == LV_OK ? lv_prunedb_entries(d->p->db, pp->id, 0, doomed_entry, d) : rc;
}

static int doomed_in_catalog(prune *p, int add)
{
    int rc = add ? lv_catalog_sync(p->r, NULL) : LV_OK;
    if (rc == LV_OK)
        rc = lv_catalog_begin(p->r->cat);
    if (rc != LV_OK)
        return rc;
    doomed_cat d = {.p = p, .add = add};
    rc = lv_prunedb_packs(p->db, LV_PRUNE_DELETE, doomed_pack, &d);
    if (rc == LV_OK)
        rc = lv_prunedb_packs(p->db, LV_PRUNE_REPACK, doomed_pack, &d);
    if (rc != LV_OK) {
        lv_catalog_rollback(p->r->cat);
        return rc;
    }
    return lv_catalog_commit(p->r->cat);
}

static int delete_step(prune *p)
{
    const lv_prune_opts *o = p->o;
    if (!o->safety_none) {
        int w = lv_inflight_wait(p->r->store, o->self_marker, o->wait_s, p->res->deferred_by,
                                 sizeof p->res->deferred_by);
        if (w < 0 || w > 1)
            return w;
        if (w == 1) {
            int rc = lv_prunedb_packs(p->db, LV_PRUNE_DELETE, count_doomed, p);
            if (rc == LV_OK)
                rc = lv_prunedb_packs(p->db, LV_PRUNE_REPACK, count_doomed, p);
            return rc;
        }
    }
    /* Index objects written since our listing (backups that finished meanwhile) keep their packs. */
    listing now = {0};
    int rc = lv_obj_list(p->r, &lv_obj_index, index_cb, &now);
    for (size_t i = 0; rc == LV_OK && i < now.n; i++)
        if (listing_find(&p->indexes, now.ids[i]) < 0 && listing_find(&p->written, now.ids[i]) < 0)
            rc = protect_index(p, now.ids[i]);
    listing_free(&now);
    /* Manifests written since our listing: a blob they reference that only a doomed pack holds. Walking
     * their trees needs every place a tree page may be: the index objects written meanwhile (sync) and
     * the doomed packs themselves, added to our catalog as unindexed packs for the walk only. */
    hexes later = {0};
    if (rc == LV_OK)
        rc = lv_obj_list(p->r, &lv_obj_manifest, manifest_cb, &later);
    size_t nlater = 0;
    for (size_t i = 0; i < later.n; i++)
        if (p->manifests.n == 0 ||
            !bsearch(later.ids[i], p->manifests.ids, p->manifests.n, sizeof p->manifests.ids[0], cmp_hex))
            memcpy(later.ids[nlater++], later.ids[i], sizeof later.ids[0]);
    if (rc == LV_OK && nlater && p->r->cat)
        rc = doomed_in_catalog(p, 1);
    ref_arg a = {.p = p, .check = 1};
    for (size_t i = 0; rc == LV_OK && i < nlater; i++)
        rc = manifest_refs(p, later.ids[i], &a);
    if (nlater && p->r->cat) {
        int rc2 = doomed_in_catalog(p, 0);
        if (rc == LV_OK)
            rc = rc2;
    }
    free(later.ids);
    if (rc == LV_OK)
        rc = write_rescue_index(p);
    doomed d = {0};
    if (rc == LV_OK)
        rc = lv_prunedb_packs(p->db, LV_PRUNE_DELETE, collect_doomed, &d);
    if (rc == LV_OK)
        rc = lv_prunedb_packs(p->db, LV_PRUNE_REPACK, collect_doomed, &d);
    if (rc == LV_OK && d.n) {
        progress(p, "deleting %zu packs", d.n);
        rc = delete_keys(p->r->store, d.keys, d.n);
        progress_end(p);
        if (rc != LV_OK)
            lv_err_ctx("prune: deleting unreferenced packs (the next prune finishes)");
    }
    if (rc == LV_OK) {
        p->res->packs_deleted = d.n;
        p->res->bytes_deleted = d.bytes;
    }
    free(d.keys);
    return rc;
}

/* ---- the whole ----------------------------------------------------------------------------------- */

static int missing_cb(void *arg, const uint8_t blob[LV_HASH_LEN])
{
    int *n = arg;
    if ((*n)++ < 5) {
        char hex[2 * LV_HASH_LEN + 1];
        for (int i = 0; i < LV_HASH_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", blob[i]);
        lv_error("blob %s is referenced but in no pack", hex);
    }
    return LV_OK;
}

/* Work databases of prunes that were killed (their pid is gone): removed by the next prune. */
static void remove_stale_workdbs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long pid;
        char tail[8];
        if (sscanf(de->d_name, ".labvault-prune-%ld.%7s", &pid, tail) != 2 || strcmp(tail, "db") != 0)
            continue;
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char *path = lv_xasprintf("%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            lv_info("removed %s, left by a prune that did not finish", path);
        free(path);
    }
    closedir(d);
}

int lv_prune(lv_repo *r, const lv_prune_opts *o, lv_prune_result *res)
{
    remove_stale_workdbs(o->workdir ? o->workdir : "/tmp");
    memset(res, 0, sizeof *res);
    prune p = {.r = r, .o = o, .res = res, .t0 = lv_mono_s()};
    lv_progress_start(&p.progress, o->progress, "copied", NULL);
    char *path = lv_xasprintf("%s/.labvault-prune-%ld.db", o->workdir ? o->workdir : "/tmp", (long)getpid());
    phase("listing");
    int rc = list_all(&p);
    /* After the listing: every manifest listed was written after its index objects, so the catalog now
     * locates every tree page the walk of a listed snapshot reads. */
    if (rc == LV_OK && r->cat)
        rc = lv_catalog_sync(r, NULL);
    if (rc == LV_OK)
        rc = lv_prunedb_open(path, &p.db);
    if (rc == LV_OK)
        phase("reading index objects, pack headers and manifests");
    if (rc == LV_OK)
        rc = fill(&p);
    if (rc == LV_OK)
        phase("planning");
    if (rc == LV_OK)
        rc = lv_prunedb_plan(p.db, o->max_unused, &res->plan);
    for (int k = 0; rc == LV_OK && k < LV_PRUNE_KINDS; k++)
        rc = lv_prunedb_kind_stats(p.db, 1u << k, &res->kind[k].blobs, &res->kind[k].raw, &res->kind[k].sealed);
    if (rc == LV_OK && res->plan.refs_missing) {
        int n = 0;
        lv_prunedb_missing_refs(p.db, missing_cb, &n);
        rc = lv_err(LV_ERR_CORRUPT, "prune stopped: %llu referenced blobs are in no pack: the repository is "
                                    "damaged (run repo check); nothing was changed",
                    (unsigned long long)res->plan.refs_missing);
    }
    if (rc == LV_OK && !o->dry_run) {
        phase("repacking");
        rc = repack(&p);
        if (rc == LV_OK)
            phase("writing index objects");
        if (rc == LV_OK)
            rc = write_indexes(&p);
        if (rc == LV_OK && r->cat)
            rc = lv_catalog_sync(r, NULL);
        if (rc == LV_OK)
            phase("deleting");
        if (rc == LV_OK)
            rc = delete_step(&p);
        if (rc == LV_OK)
            rc = lv_deletions_merge(r);
        if (rc == LV_OK)
            phase("done");
        if (rc == LV_OK && r->cat)
            rc = lv_catalog_sync(r, NULL);
    }
    res->bytes_after = res->bytes_before + res->bytes_written - res->bytes_deleted;
    res->seconds = lv_mono_s() - p.t0;
    lv_prunedb_close(p.db);
    free(path);
    listing_free(&p.data);
    listing_free(&p.indexes);
    listing_free(&p.written);
    listing_free(&p.superseded);
    free(p.manifests.ids);
    return rc;
}
