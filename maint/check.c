#include "maint/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/hex.h"
#include "common/log.h"
#include "repo/manifest.h"
#include "repo/registry.h"
#include "repo/blobstore.h"
#include "repo/index.h"
#include "repo/pack.h"

typedef struct cpack {
    uint8_t id[LV_HASH_LEN];
    uint64_t size;
    int indexed;
    char index_key[LV_INDEX_KEY_LEN]; /* first index that lists it */
    uint32_t count;                   /* its entries in that index */
    lv_pack_entry *blobs;
} cpack;

typedef struct ctx {
    lv_repo *r;
    lv_check_report *rep;
    int keep_entries;  /* the data check compares headers with index entries; otherwise drop them */
    cpack *packs; /* data/ listing, sorted by id (the listing is in key order, which is id order) */
    size_t npacks, cap_packs;
    uint8_t (*indexes)[LV_HASH_LEN];
    size_t nindexes, cap_indexes;
    char (*manifests)[2 * LV_HASH_LEN + 1];
    size_t nmanifests, cap_manifests;
    uint8_t (*blobs)[LV_HASH_LEN]; /* every blob id an index lists; sorted before manifest checks */
    size_t nblobs, cap_blobs;
} ctx;

static void problem(ctx *c, lv_check_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(ctx *c, lv_check_severity sev, const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (sev == LV_CHECK_ERROR)
        c->rep->errors++;
    else
        c->rep->warnings++;
    if (c->rep->problem)
        c->rep->problem(c->rep->arg, sev, line);
    else if (sev == LV_CHECK_ERROR)
        lv_error("%s", line);
    else
        lv_warn("%s", line);
}

/* A failure of the store itself (not of an object in it) ends the check: nothing more can be trusted
 * to have been looked at. Damage (CORRUPT) and objects vanishing between list and read (NOT_FOUND) are
 * reported as problems and the check goes on. */
static int fatal(int rc) { return rc != LV_OK && rc != LV_ERR_CORRUPT && rc != LV_ERR_NOT_FOUND; }

static int list_data_cb(void *arg, const char *key, uint64_t size)
{
    ctx *c = arg;
    uint8_t id[LV_HASH_LEN];
    if (lv_pack_key_parse(key, id) != 0) {
        problem(c, LV_CHECK_WARNING, "%s: unexpected object under data/ (not a pack name)", key);
        return LV_OK;
    }
    LV_GROW(c->packs, c->npacks, c->cap_packs);
    cpack *p = &c->packs[c->npacks++];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, LV_HASH_LEN);
    p->size = size;
    return LV_OK;
}

static int list_index_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    ctx *c = arg;
    (void)size;
    uint8_t id[LV_HASH_LEN];
    if (!name || lv_hex_decode(name, id, LV_HASH_LEN) != 0) {
        problem(c, LV_CHECK_WARNING, "%s: unexpected object under index/", key);
        return LV_OK;
    }
    LV_GROW(c->indexes, c->nindexes, c->cap_indexes);
    memcpy(c->indexes[c->nindexes++], id, LV_HASH_LEN);
    return LV_OK;
}

static int list_manifest_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    ctx *c = arg;
    (void)size;
    if (!name) {
        problem(c, LV_CHECK_WARNING, "%s: unexpected object under manifests/", key);
        return LV_OK;
    }
    LV_GROW(c->manifests, c->nmanifests, c->cap_manifests);
    snprintf(c->manifests[c->nmanifests++], sizeof c->manifests[0], "%s", name);
    return LV_OK;
}

static int cmp_pack(const void *a, const void *b)
{
    return memcmp(((const cpack *)a)->id, ((const cpack *)b)->id, LV_HASH_LEN);
}
static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }

static cpack *find_pack(ctx *c, const uint8_t id[LV_HASH_LEN])
{
    cpack key;
    memcpy(key.id, id, LV_HASH_LEN);
    return c->npacks ? bsearch(&key, c->packs, c->npacks, sizeof *c->packs, cmp_pack) : NULL;
}

static int check_index(ctx *c, const uint8_t id[LV_HASH_LEN])
{
    char ikey[LV_INDEX_KEY_LEN], pkey[LV_PACK_KEY_LEN];
    lv_index_key(id, ikey);
    lv_index ix;
    int rc = lv_index_read(c->r, id, &ix);
    if (fatal(rc))
        return rc;
    if (rc == LV_ERR_NOT_FOUND) { /* deleted since the listing: a concurrent prune, not damage */
        problem(c, LV_CHECK_WARNING, "%s: vanished while checking (concurrent prune?)", ikey);
        return LV_OK;
    }
    if (rc != LV_OK) {
        problem(c, LV_CHECK_ERROR, "%s", lv_errmsg());
        return LV_OK;
    }
    for (uint32_t i = 0; i < ix.npacks; i++) {
        lv_index_pack *ip = &ix.packs[i];
        for (uint32_t j = 0; j < ip->count; j++) {
            LV_GROW(c->blobs, c->nblobs, c->cap_blobs);
            memcpy(c->blobs[c->nblobs++], ip->blobs[j].id, LV_HASH_LEN);
        }
        lv_pack_key(ip->id, pkey);
        cpack *p = find_pack(c, ip->id);
        if (!p) {
            problem(c, LV_CHECK_ERROR, "pack %s is missing, but %s lists it (%u blobs lost)", pkey, ikey,
                    ip->count);
            continue;
        }
        if (p->size != ip->size)
            problem(c, LV_CHECK_ERROR, "pack %s: %llu bytes, but %s says %llu (%s)", pkey,
                    (unsigned long long)p->size, ikey, (unsigned long long)ip->size,
                    p->size < ip->size ? "truncated" : "damaged");
        if (!p->indexed) { /* keep the first index's entries for the data check */
            p->indexed = 1;
            memcpy(p->index_key, ikey, sizeof ikey);
            if (c->keep_entries) {
                p->count = ip->count;
                p->blobs = ip->blobs;
                ip->blobs = NULL;
            }
        }
    }
    lv_index_free(&ix);
    return LV_OK;
}

typedef struct mref {
    ctx *c;
    const char *key;
    uint64_t missing;
} mref;

static int manifest_emit(void *arg, const uint8_t id[LV_HASH_LEN])
{
    mref *m = arg;
    if (m->c->nblobs && bsearch(id, m->c->blobs, m->c->nblobs, LV_HASH_LEN, cmp_id))
        return LV_OK;
    char hex[2 * LV_HASH_LEN + 1];
    lv_hex_encode(id, LV_HASH_LEN, hex);
    /* One line per missing blob would drown the report when a whole pack is gone: cap it. */
    if (m->missing++ < 10)
        problem(m->c, LV_CHECK_ERROR, "%s references blob %s, which no index lists", m->key, hex);
    return LV_OK;
}

static int check_manifest(ctx *c, const char *hex)
{
    char key[LV_MANIFEST_KEY_LEN];
    lv_manifest_key(hex, key);
    lv_manifest m;
    int rc = lv_manifest_read(c->r, hex, &m);
    if (fatal(rc))
        return rc;
    if (rc == LV_ERR_NOT_FOUND) {
        problem(c, LV_CHECK_WARNING, "%s: vanished while checking (concurrent prune?)", key);
        return LV_OK;
    }
    if (rc != LV_OK) {
        problem(c, LV_CHECK_ERROR, "%s", lv_errmsg());
        return LV_OK;
    }
    lv_manifest_refs_fn refs = lv_manifest_kind_refs(m.kind);
    if (refs) {
        mref mr = {c, key, 0};
        rc = refs(c->r, &m, manifest_emit, &mr);
        if (rc != LV_OK && !fatal(rc))
            problem(c, LV_CHECK_ERROR, "%s: cannot list its blobs: %s", key, lv_errmsg());
        if (mr.missing > 10)
            problem(c, LV_CHECK_ERROR, "%s: %llu referenced blobs in all are not indexed", key,
                    (unsigned long long)mr.missing);
        rc = fatal(rc) ? rc : LV_OK;
    }
    lv_manifest_free(&m);
    return rc;
}

static int same_entries(const lv_pack_entry *a, const lv_pack_entry *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i].type != b[i].type || memcmp(a[i].id, b[i].id, LV_HASH_LEN) != 0 ||
            a[i].offset != b[i].offset || a[i].length != b[i].length ||
            a[i].raw_length != b[i].raw_length)
            return 0;
    return 1;
}

static int read_pack(ctx *c, const cpack *p)
{
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(p->id, key);
    lv_buf obj = LV_BUF_INIT, plain = LV_BUF_INIT;
    lv_pack_entry *e = NULL;
    uint32_t n = 0;
    int rc = lv_store_get(c->r->store, key, 0, 0, &obj);
    if (fatal(rc))
        goto out;
    if (rc != LV_OK) {
        problem(c, LV_CHECK_ERROR, "pack %s: %s", key, lv_errmsg());
        rc = LV_OK;
        goto out;
    }
    c->rep->packs_read++;
    c->rep->bytes_read += obj.len;
    uint32_t hl;
    if (obj.len < LV_PACK_TAIL + LV_SEALED_MIN) {
        problem(c, LV_CHECK_ERROR, "pack %s: %zu bytes is too short to be a pack", key, obj.len);
        goto out;
    }
    if (lv_pack_tail_parse(obj.data + obj.len - LV_PACK_TAIL, obj.len, &hl, key) != LV_OK) {
        problem(c, LV_CHECK_ERROR, "pack %s", lv_errmsg());
        goto out;
    }
    uint64_t blobs_end = obj.len - LV_PACK_TAIL - hl;
    char what[LV_PACK_KEY_LEN + 32];
    snprintf(what, sizeof what, "header of pack %s", key);
    lv_pack_naming nm;
    if (lv_pack_header_open(c->r, obj.data + blobs_end, hl, blobs_end, &e, &n, &nm, what) != LV_OK) {
        problem(c, LV_CHECK_ERROR, "%s", lv_errmsg());
        goto out;
    }
    /* The name: the header's hash (version 2), or the whole object's (version 1, the old format). Go on
     * after a mismatch: the blobs tell whether the content is damaged or merely misnamed. */
    if (nm.version < 2)
        lv_sha256(obj.data, obj.len, nm.name);
    if (memcmp(nm.name, p->id, LV_HASH_LEN) != 0)
        problem(c, LV_CHECK_ERROR, "pack %s: content does not match its name (SHA-256 of the %s differs)", key,
                nm.version < 2 ? "pack" : "header");
    if (p->indexed && (p->count != n || !same_entries(p->blobs, e, n)))
        problem(c, LV_CHECK_ERROR, "pack %s: its header disagrees with %s", key, p->index_key);
    for (uint32_t i = 0; i < n; i++) {
        char hex[2 * LV_HASH_LEN + 1], bwhat[200];
        lv_hex_encode(e[i].id, LV_HASH_LEN, hex);
        snprintf(bwhat, sizeof bwhat, "blob %s in pack %s", hex, key);
        lv_buf_reset(&plain);
        if (lv_blob_open(c->r, e[i].type, e[i].id, obj.data + e[i].offset, e[i].length, e[i].raw_length,
                         &plain, bwhat) != LV_OK)
            problem(c, LV_CHECK_ERROR, "%s", lv_errmsg());
    }
out:
    free(e);
    lv_buf_free(&obj);
    lv_buf_free(&plain);
    return rc;
}

static int check_data(ctx *c, int percent)
{
    size_t want = (c->npacks * (size_t)percent + 99) / 100;
    size_t *order = lv_xmalloc((c->npacks ? c->npacks : 1) * sizeof *order);
    for (size_t i = 0; i < c->npacks; i++)
        order[i] = i;
    /* Partial Fisher-Yates: the first `want` positions become a uniform random subset. */
    for (size_t i = 0; i < want && i + 1 < c->npacks; i++) {
        uint64_t rnd;
        lv_random(&rnd, sizeof rnd);
        size_t j = i + (size_t)(rnd % (c->npacks - i));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < want; i++)
        rc = read_pack(c, &c->packs[order[i]]);
    free(order);
    return rc;
}

int lv_repo_check(lv_repo *r, int read_data_percent, lv_check_report *rep)
{
    lv_check_report local = {0};
    if (!rep)
        rep = &local;
    rep->packs = rep->indexes = rep->manifests = rep->blobs = 0;
    rep->packs_read = rep->bytes_read = rep->errors = rep->warnings = 0;
    if (read_data_percent < 0 || read_data_percent > 100)
        return lv_err(LV_ERR_USAGE, "read-data percentage %d is not within 0..100", read_data_percent);
    ctx c = {.r = r, .rep = rep, .keep_entries = read_data_percent > 0};

    /* Manifests are listed first and indexes before packs, as restic orders reads: an object written
     * by a concurrent backup after our listing of its kind is simply not seen, and one seen can only
     * reference objects written before it, which the later listings include. */
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
    rep->packs = c.npacks;
    rep->indexes = c.nindexes;
    rep->manifests = c.nmanifests;

    for (size_t i = 0; rc == LV_OK && i < c.nindexes; i++)
        rc = check_index(&c, c.indexes[i]);
    if (rc != LV_OK)
        goto out;
    for (size_t i = 0; i < c.npacks; i++)
        if (!c.packs[i].indexed) {
            char key[LV_PACK_KEY_LEN];
            lv_pack_key(c.packs[i].id, key);
            problem(&c, LV_CHECK_WARNING, "unindexed pack %s: no index lists it (left by an interrupted "
                    "backup? `catalog rebuild` reads it, prune removes it)", key);
        }
    lv_sort(c.blobs, c.nblobs, LV_HASH_LEN, cmp_id);
    size_t uniq = 0; /* a pack listed by two indexes lists its blobs twice */
    for (size_t i = 0; i < c.nblobs; i++)
        if (uniq == 0 || memcmp(c.blobs[uniq - 1], c.blobs[i], LV_HASH_LEN) != 0)
            memmove(c.blobs[uniq++], c.blobs[i], LV_HASH_LEN);
    c.nblobs = uniq;
    rep->blobs = c.nblobs;
    for (size_t i = 0; rc == LV_OK && i < c.nmanifests; i++)
        rc = check_manifest(&c, c.manifests[i]);
    if (rc == LV_OK && read_data_percent > 0)
        rc = check_data(&c, read_data_percent);
    if (rc == LV_OK && rep->errors > 0)
        rc = lv_err(LV_ERR_CORRUPT, "repository %s: %llu problem(s) found", lv_store_describe(r->store),
                    (unsigned long long)rep->errors);
out:
    for (size_t i = 0; i < c.npacks; i++)
        free(c.packs[i].blobs);
    free(c.packs);
    free(c.indexes);
    free(c.manifests);
    free(c.blobs);
    return rc;
}
