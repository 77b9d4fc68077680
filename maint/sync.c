/* Catalog sync (contract in maint/sync.h). */
#include "maint/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sort.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "catalog/blobs.h"
#include "catalog/manifests.h"
#include "repo/index.h"
#include "repo/registry.h"

typedef struct idlist {
    uint8_t (*ids)[LV_HASH_LEN];
    size_t n, cap;
} idlist;

typedef struct hexlist {
    char (*ids)[2 * LV_HASH_LEN + 1];
    size_t n, cap;
} hexlist;

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }
static int cmp_hex(const void *a, const void *b) { return strcmp(a, b); }

static int list_index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    idlist *l = arg;
    (void)key, (void)size;
    uint8_t id[LV_HASH_LEN];
    if (name && lv_hex_decode(name, id, LV_HASH_LEN) == 0) {
        LV_GROW(l->ids, l->n, l->cap);
        memcpy(l->ids[l->n++], id, LV_HASH_LEN);
    }
    return LV_OK;
}

static int known_index_cb(void *arg, const uint8_t id[32])
{
    idlist *l = arg;
    LV_GROW(l->ids, l->n, l->cap);
    memcpy(l->ids[l->n++], id, LV_HASH_LEN);
    return LV_OK;
}

static int list_manifest_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    hexlist *l = arg;
    (void)key, (void)size;
    if (name) {
        LV_GROW(l->ids, l->n, l->cap);
        snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", name);
    }
    return LV_OK;
}

static int known_manifest_cb(void *arg, const lv_manifest_row *m)
{
    hexlist *l = arg;
    LV_GROW(l->ids, l->n, l->cap);
    memcpy(l->ids[l->n++], m->id, sizeof l->ids[0]);
    return LV_OK;
}

/* bsearch that accepts an empty array (its pointer may be NULL). */
static int member(const void *key, const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    return n > 0 && bsearch(key, base, n, size, cmp) != NULL;
}

static int skippable(int rc) { return rc == LV_ERR_CORRUPT || rc == LV_ERR_NOT_FOUND; }

static int read_index(lv_repo *r, const uint8_t id[LV_HASH_LEN], lv_sync_stats *st)
{
    lv_index ix;
    int rc = lv_index_read(r, id, &ix);
    if (skippable(rc)) {
        char key[LV_INDEX_KEY_LEN];
        lv_index_key(id, key);
        lv_warn("catalog sync: skipping %s: %s", key, lv_errmsg());
        lv_err_clear();
        return LV_OK;
    }
    if (rc != LV_OK)
        return rc;
    rc = lv_index_record(r->cat, id, &ix);
    lv_index_free(&ix);
    if (rc == LV_OK)
        st->indexes_read++;
    return rc;
}

static int sync_indexes(lv_repo *r, lv_sync_stats *st)
{
    idlist listed = {0}, known = {0};
    int rc = lv_obj_list(r, &lv_obj_index, list_index_cb, &listed);
    if (rc == LV_OK)
        rc = lv_catalog_index_each(r->cat, known_index_cb, &known);
    if (rc == LV_OK) {
        lv_sort(listed.ids, listed.n, LV_HASH_LEN, cmp_id);
        for (size_t i = 0; i < known.n && !st->reread; i++)
            if (!member(known.ids[i], listed.ids, listed.n, LV_HASH_LEN, cmp_id))
                st->reread = 1;
        if (st->reread) {
            lv_info("catalog sync: index objects were superseded (prune): reading all %zu again", listed.n);
            rc = lv_catalog_index_forget_all(r->cat);
        }
    }
    if (rc == LV_OK && !st->reread)
        lv_sort(known.ids, known.n, LV_HASH_LEN, cmp_id);
    for (size_t i = 0; rc == LV_OK && i < listed.n; i++)
        if (st->reread || !member(listed.ids[i], known.ids, known.n, LV_HASH_LEN, cmp_id))
            rc = read_index(r, listed.ids[i], st);
    free(listed.ids);
    free(known.ids);
    return rc;
}

static int sync_manifests(lv_repo *r, lv_sync_stats *st)
{
    hexlist listed = {0}, known = {0};
    int rc = lv_obj_list(r, &lv_obj_manifest, list_manifest_cb, &listed);
    if (rc == LV_OK)
        rc = lv_catalog_manifest_each(r->cat, NULL, known_manifest_cb, &known);
    lv_sort(listed.ids, listed.n, sizeof listed.ids[0], cmp_hex);
    lv_sort(known.ids, known.n, sizeof known.ids[0], cmp_hex);
    for (size_t i = 0; rc == LV_OK && i < known.n; i++)
        if (!member(known.ids[i], listed.ids, listed.n, sizeof listed.ids[0], cmp_hex)) {
            rc = lv_catalog_manifest_remove(r->cat, known.ids[i]);
            st->manifests_removed += rc == LV_OK;
        }
    for (size_t i = 0; rc == LV_OK && i < listed.n; i++) {
        if (member(listed.ids[i], known.ids, known.n, sizeof known.ids[0], cmp_hex))
            continue;
        lv_manifest m;
        rc = lv_manifest_read(r, listed.ids[i], &m);
        if (skippable(rc)) {
            lv_warn("catalog sync: skipping manifests/%s: %s", listed.ids[i], lv_errmsg());
            lv_err_clear();
            rc = LV_OK;
            continue;
        }
        if (rc == LV_OK) {
            rc = lv_catalog_manifest_add(r->cat, listed.ids[i], m.kind, m.time, m.summary);
            lv_manifest_free(&m);
            st->manifests_added += rc == LV_OK;
        }
    }
    free(listed.ids);
    free(known.ids);
    return rc;
}

int lv_catalog_sync(lv_repo *r, lv_sync_stats *st)
{
    lv_sync_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "catalog sync without a catalog");
    int rc = lv_catalog_begin(r->cat);
    if (rc != LV_OK)
        return rc;
    /* Every listing the sync makes, at once: on S3 each costs a round trip (about 45 ms on the test RGW,
     * most of a small command's time), and none depends on another. */
    const lv_sync_step *steps;
    size_t nsteps = lv_sync_steps(&steps);
    const char **prefixes = lv_xcalloc(nsteps + 2, sizeof *prefixes);
    size_t np = 0;
    prefixes[np++] = lv_obj_index.prefix;
    prefixes[np++] = lv_obj_manifest.prefix;
    for (size_t i = 0; i < nsteps; i++)
        if (steps[i].lists)
            prefixes[np++] = steps[i].lists;
    lv_store_prefetch(r->store, prefixes, np);
    free(prefixes);
    rc = sync_indexes(r, st);
    if (rc == LV_OK)
        rc = sync_manifests(r, st);
    for (size_t i = 0; rc == LV_OK && i < nsteps; i++)
        if ((rc = steps[i].fn(r)) != LV_OK)
            lv_err_ctx("catalog sync: %s", steps[i].name);
    lv_store_prefetch_end(r->store);
    if (rc != LV_OK) {
        char *msg = lv_xstrdup(lv_errmsg());
        lv_catalog_rollback(r->cat);
        rc = lv_err(rc, "%s", msg);
        free(msg);
        return rc;
    }
    rc = lv_catalog_commit(r->cat);
    if (rc == LV_OK && (st->indexes_read || st->manifests_added || st->manifests_removed))
        lv_info("catalog sync: %llu index objects read%s, %llu manifests added, %llu removed",
                (unsigned long long)st->indexes_read, st->reread ? " (all again)" : "",
                (unsigned long long)st->manifests_added, (unsigned long long)st->manifests_removed);
    return rc;
}
