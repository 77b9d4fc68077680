#include "maint/rebuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "catalog/blobs.h"
#include "catalog/manifests.h"
#include "catalog/catalog.h"
#include "repo/manifest.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/registry.h"

typedef struct rpack {
    uint8_t id[LV_HASH_LEN];
    uint64_t size;
    int covered;
} rpack;

typedef struct ctx {
    lv_repo *r;
    lv_rebuild_stats *st;
    rpack *packs;
    size_t npacks, cap_packs;
    uint8_t (*indexes)[LV_HASH_LEN];
    size_t nindexes, cap_indexes;
    char (*manifests)[2 * LV_HASH_LEN + 1];
    size_t nmanifests, cap_manifests;
} ctx;

static int list_data_cb(void *arg, const char *key, uint64_t size)
{
    ctx *c = arg;
    uint8_t id[LV_HASH_LEN];
    if (lv_pack_key_parse(key, id) != 0)
        return LV_OK; /* not ours; repo check reports it */
    LV_GROW(c->packs, c->npacks, c->cap_packs);
    rpack *p = &c->packs[c->npacks++];
    memcpy(p->id, id, LV_HASH_LEN);
    p->size = size;
    p->covered = 0;
    return LV_OK;
}

static int list_index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    ctx *c = arg;
    (void)key, (void)size;
    uint8_t id[LV_HASH_LEN];
    if (name && lv_hex_decode(name, id, LV_HASH_LEN) == 0) {
        LV_GROW(c->indexes, c->nindexes, c->cap_indexes);
        memcpy(c->indexes[c->nindexes++], id, LV_HASH_LEN);
    }
    return LV_OK;
}

static int list_manifest_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    ctx *c = arg;
    (void)key, (void)size;
    if (name) {
        LV_GROW(c->manifests, c->nmanifests, c->cap_manifests);
        snprintf(c->manifests[c->nmanifests++], sizeof c->manifests[0], "%s", name);
    }
    return LV_OK;
}

static int cmp_pack(const void *a, const void *b)
{
    return memcmp(((const rpack *)a)->id, ((const rpack *)b)->id, LV_HASH_LEN);
}

static rpack *find_pack(ctx *c, const uint8_t id[LV_HASH_LEN])
{
    rpack key;
    memcpy(key.id, id, LV_HASH_LEN);
    return bsearch(&key, c->packs, c->npacks, sizeof *c->packs, cmp_pack);
}

/* Damage (CORRUPT) or an object deleted since the listing (NOT_FOUND) is skipped; anything else means
 * the store or the catalog failed and the rebuild must stop. */
static int skippable(int rc) { return rc == LV_ERR_CORRUPT || rc == LV_ERR_NOT_FOUND; }

static int add_index(ctx *c, const uint8_t id[LV_HASH_LEN])
{
    char ikey[LV_INDEX_KEY_LEN], pkey[LV_PACK_KEY_LEN];
    lv_index_key(id, ikey);
    lv_index ix;
    int rc = lv_index_read(c->r, id, &ix);
    if (skippable(rc)) {
        lv_warn("skipping %s: %s (its packs are read from their headers instead)", ikey, lv_errmsg());
        c->st->bad_indexes++;
        return LV_OK;
    }
    if (rc != LV_OK)
        return rc;
    /* Record only the packs that are really there, with the size the index expects. */
    lv_index good = {.packs = lv_xcalloc(ix.npacks ? ix.npacks : 1, sizeof *good.packs)};
    for (uint32_t i = 0; i < ix.npacks; i++) {
        rpack *p = find_pack(c, ix.packs[i].id);
        lv_pack_key(ix.packs[i].id, pkey);
        if (!p) {
            lv_warn("%s lists pack %s, which is missing: its %u blobs are not recorded", ikey, pkey,
                    ix.packs[i].count);
            c->st->bad_packs++;
        } else if (p->size != ix.packs[i].size) {
            lv_warn("%s says pack %s has %llu bytes, but it has %llu: its blobs are not recorded", ikey,
                    pkey, (unsigned long long)ix.packs[i].size, (unsigned long long)p->size);
            if (!p->covered)
                c->st->bad_packs++;
            p->covered = 1; /* reading its header would not help: it is the pack that is damaged */
        } else {
            p->covered = 1;
            good.packs[good.npacks++] = ix.packs[i];
            c->st->blobs += ix.packs[i].count;
            c->st->packs++;
        }
    }
    rc = lv_index_record(c->r->cat, id, &good);
    free(good.packs); /* shallow copies of ix's packs */
    lv_index_free(&ix);
    if (rc == LV_OK)
        c->st->indexes++;
    return rc;
}

static int add_unindexed_pack(ctx *c, rpack *p)
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(p->id, key);
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    int rc = lv_pack_read_header(c->r, p->id, p->size, &e, &n);
    if (skippable(rc)) {
        lv_warn("skipping pack %s: %s", key, lv_errmsg());
        c->st->bad_packs++;
        return LV_OK;
    }
    if (rc != LV_OK)
        return rc;
    lv_info("pack %s was not in any index: recorded its %u blobs from its header", key, n);
    rc = lv_catalog_pack_add(c->r->cat, p->id, p->size, NULL);
    for (uint32_t i = 0; rc == LV_OK && i < n; i++) {
        lv_blob_loc loc = {.offset = e[i].offset, .length = e[i].length, .raw_length = e[i].raw_length,
                           .type = e[i].type};
        memcpy(loc.pack, p->id, LV_HASH_LEN);
        rc = lv_catalog_blob_add(c->r->cat, e[i].id, &loc);
    }
    free(e);
    if (rc == LV_OK) {
        c->st->unindexed_packs++;
        c->st->packs++;
        c->st->blobs += n;
    }
    return rc;
}

static int add_manifest(ctx *c, const char *hex)
{
    lv_manifest m;
    int rc = lv_manifest_read(c->r, hex, &m);
    if (skippable(rc)) {
        lv_warn("skipping manifests/%s: %s", hex, lv_errmsg());
        c->st->bad_manifests++;
        return LV_OK;
    }
    if (rc != LV_OK)
        return rc;
    rc = lv_catalog_manifest_add(c->r->cat, hex, m.kind, m.time, m.summary);
    lv_manifest_free(&m);
    if (rc == LV_OK)
        c->st->manifests++;
    return rc;
}

int lv_catalog_rebuild(lv_repo *r, lv_rebuild_stats *st)
{
    lv_rebuild_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (!r->cat)
        return lv_err(LV_ERR_INTERNAL, "lv_catalog_rebuild: no catalog attached");
    ctx c = {.r = r, .st = st};

    int rc = lv_obj_list(r, &lv_obj_manifest, list_manifest_cb, &c);
    if (rc == LV_OK)
        rc = lv_obj_list(r, &lv_obj_index, list_index_cb, &c);
    if (rc == LV_OK)
        rc = lv_store_list(r->store, "data/", list_data_cb, &c);
    if (rc != LV_OK) {
        lv_err_ctx("listing %s", lv_store_describe(r->store));
        goto out;
    }
    lv_sort(c.packs, c.npacks, sizeof *c.packs, cmp_pack);

    if ((rc = lv_catalog_begin(r->cat)) != LV_OK)
        goto out;
    rc = lv_catalog_reset(r->cat);
    if (rc == LV_OK)
        rc = lv_catalog_set_repo(r->cat, r->id_hex);
    for (size_t i = 0; rc == LV_OK && i < c.nindexes; i++)
        rc = add_index(&c, c.indexes[i]);
    for (size_t i = 0; rc == LV_OK && i < c.npacks; i++)
        if (!c.packs[i].covered)
            rc = add_unindexed_pack(&c, &c.packs[i]);
    for (size_t i = 0; rc == LV_OK && i < c.nmanifests; i++)
        rc = add_manifest(&c, c.manifests[i]);
    const lv_rebuild_step *steps;
    size_t nsteps = lv_rebuild_steps(&steps);
    for (size_t i = 0; rc == LV_OK && i < nsteps; i++)
        if ((rc = steps[i].fn(r, &st->bad_other)) != LV_OK)
            lv_err_ctx("rebuild step %s", steps[i].name);
    if (rc == LV_OK) {
        char now[32];
        snprintf(now, sizeof now, "%lld", (long long)time(NULL));
        rc = lv_catalog_meta_set(r->cat, "last_rebuild", now);
    }
    if (rc == LV_OK)
        rc = lv_catalog_commit(r->cat);
    else
        lv_catalog_rollback(r->cat);
    if (rc != LV_OK) {
        lv_err_ctx("catalog rebuild (the catalog was left as it was)");
        goto out;
    }
    lv_info("catalog rebuilt: %llu index objects, %llu packs (%llu without index), %llu blobs, "
            "%llu manifests", (unsigned long long)st->indexes, (unsigned long long)st->packs,
            (unsigned long long)st->unindexed_packs, (unsigned long long)st->blobs,
            (unsigned long long)st->manifests);
    if (st->bad_packs || st->bad_manifests || st->bad_other)
        rc = lv_err(LV_ERR_INCOMPLETE, "catalog rebuilt, but %llu damaged or missing pack(s), %llu "
                    "unreadable manifest(s) and %llu other damaged object(s) were skipped: run `labvault repo "
                    "check`", (unsigned long long)st->bad_packs, (unsigned long long)st->bad_manifests,
                    (unsigned long long)st->bad_other);
out:
    free(c.packs);
    free(c.indexes);
    free(c.manifests);
    return rc;
}
