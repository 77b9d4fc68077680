#include "repo/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sort.h"
#include "common/error.h"
#include "common/hex.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "repo/object.h"
#include "repo/repo.h"

#define PACK_FIXED (LV_HASH_LEN + 8 + 4)

void lv_index_key(const uint8_t id[LV_HASH_LEN], char key[LV_INDEX_KEY_LEN])
{
    memcpy(key, "index/", 6);
    lv_hex_encode(id, LV_HASH_LEN, key + 6);
}

int lv_index_key_parse(const char *key, uint8_t id[LV_HASH_LEN])
{
    if (strlen(key) != LV_INDEX_KEY_LEN - 1 || strncmp(key, "index/", 6) != 0)
        return -1;
    uint8_t tmp[LV_HASH_LEN];
    char canon[LV_INDEX_KEY_LEN];
    if (lv_hex_decode(key + 6, tmp, LV_HASH_LEN) != 0)
        return -1;
    lv_index_key(tmp, canon);
    if (strcmp(canon, key) != 0)
        return -1;
    memcpy(id, tmp, LV_HASH_LEN);
    return 0;
}

void lv_index_encode(const lv_index *ix, lv_buf *out)
{
    uint8_t w[PACK_FIXED > LV_PACK_ENTRY_SIZE ? PACK_FIXED : LV_PACK_ENTRY_SIZE];
    lv_buf_append(out, "LVIX", 4);
    w[0] = LV_INDEX_VERSION;
    lv_buf_append(out, w, 1);
    lv_le32_put(w, ix->nsupersedes);
    lv_buf_append(out, w, 4);
    for (uint32_t i = 0; i < ix->nsupersedes; i++)
        lv_buf_append(out, ix->supersedes[i], LV_HASH_LEN);
    lv_le32_put(w, ix->npacks);
    lv_buf_append(out, w, 4);
    for (uint32_t i = 0; i < ix->npacks; i++) {
        const lv_index_pack *p = &ix->packs[i];
        memcpy(w, p->id, LV_HASH_LEN);
        lv_le64_put(w + LV_HASH_LEN, p->size);
        lv_le32_put(w + LV_HASH_LEN + 8, p->count);
        lv_buf_append(out, w, PACK_FIXED);
        for (uint32_t j = 0; j < p->count; j++) {
            lv_pack_entry_encode(&p->blobs[j], w);
            lv_buf_append(out, w, LV_PACK_ENTRY_SIZE);
        }
    }
}

void lv_index_free(lv_index *ix)
{
    for (uint32_t i = 0; ix->packs && i < ix->npacks; i++)
        free(ix->packs[i].blobs);
    free(ix->packs);
    free(ix->supersedes);
    memset(ix, 0, sizeof *ix);
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, LV_HASH_LEN); }

/* 1 when the n ids (32 bytes each, sorted in place) contain a repeat. */
static int has_dup(uint8_t (*ids)[LV_HASH_LEN], size_t n)
{
    lv_sort(ids, n, LV_HASH_LEN, cmp_id);
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids[i - 1], ids[i], LV_HASH_LEN) == 0)
            return 1;
    return 0;
}

/* Reader over the plaintext that never reads past the end. */
typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

static int take(rd *r, size_t n, const uint8_t **out)
{
    if (r->left < n)
        return -1;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

static int parse_packs(rd *r, lv_index *ix)
{
    const uint8_t *q;
    uint64_t total_blobs = 0;
    for (uint32_t i = 0; i < ix->npacks; i++) {
        lv_index_pack *p = &ix->packs[i];
        if (take(r, PACK_FIXED, &q) != 0)
            return lv_err(LV_ERR_CORRUPT, "index: truncated in pack %u", i);
        memcpy(p->id, q, LV_HASH_LEN);
        p->size = lv_le64_get(q + LV_HASH_LEN);
        uint32_t n = lv_le32_get(q + LV_HASH_LEN + 8);
        if (n == 0 || n > LV_PACK_MAX_BLOBS || (uint64_t)n * LV_PACK_ENTRY_SIZE > r->left)
            return lv_err(LV_ERR_CORRUPT, "index: pack %u has impossible blob count %u", i, n);
        /* The blobs must leave room for a header of n entries and the length field after them. */
        uint64_t overhead = LV_PACK_TAIL + LV_SEALED_MIN + LV_PACK_HEADER_FIXED +
                            (uint64_t)n * LV_PACK_ENTRY_SIZE;
        if (p->size <= overhead)
            return lv_err(LV_ERR_CORRUPT, "index: pack %u of %llu bytes cannot hold %u blobs", i,
                          (unsigned long long)p->size, n);
        p->blobs = lv_xmalloc((size_t)n * sizeof *p->blobs);
        p->count = n;
        take(r, (size_t)n * LV_PACK_ENTRY_SIZE, &q);
        for (uint32_t j = 0; j < n; j++)
            lv_pack_entry_decode(q + (size_t)j * LV_PACK_ENTRY_SIZE, &p->blobs[j]);
        char what[48];
        snprintf(what, sizeof what, "index: pack %u", i);
        uint64_t end;
        int rc = lv_pack_entries_check(p->blobs, n, p->size - overhead, &end, what);
        if (rc != LV_OK)
            return rc;
        total_blobs += n;
    }
    if (r->left != 0)
        return lv_err(LV_ERR_CORRUPT, "index: %zu trailing bytes", r->left);

    uint8_t(*ids)[LV_HASH_LEN] = lv_xmalloc((ix->npacks ? ix->npacks : 1) * (size_t)LV_HASH_LEN);
    for (uint32_t i = 0; i < ix->npacks; i++)
        memcpy(ids[i], ix->packs[i].id, LV_HASH_LEN);
    int dup = has_dup(ids, ix->npacks);
    free(ids);
    if (dup)
        return lv_err(LV_ERR_CORRUPT, "index: a pack is listed twice");
    /* Bounded by the input length: every blob took 49 bytes of it. */
    ids = lv_xmalloc((size_t)(total_blobs ? total_blobs : 1) * LV_HASH_LEN);
    size_t k = 0;
    for (uint32_t i = 0; i < ix->npacks; i++)
        for (uint32_t j = 0; j < ix->packs[i].count; j++)
            memcpy(ids[k++], ix->packs[i].blobs[j].id, LV_HASH_LEN);
    dup = has_dup(ids, k);
    free(ids);
    if (dup)
        return lv_err(LV_ERR_CORRUPT, "index: a blob is listed in two packs");
    return LV_OK;
}

int lv_index_parse(const uint8_t *buf, size_t len, lv_index *out)
{
    lv_index ix = {0};
    rd r = {buf, len};
    const uint8_t *q;
    int rc;
    memset(out, 0, sizeof *out);
    if (take(&r, 9, &q) != 0 || memcmp(q, "LVIX", 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "index: bad magic or too short");
    if (q[4] != LV_INDEX_VERSION)
        return lv_err(LV_ERR_CORRUPT, "index: unsupported version %u", q[4]);
    uint32_t ns = lv_le32_get(q + 5);
    if ((uint64_t)ns * LV_HASH_LEN > r.left)
        return lv_err(LV_ERR_CORRUPT, "index: impossible supersedes count %u", ns);
    if (ns) {
        ix.supersedes = lv_xmalloc((size_t)ns * LV_HASH_LEN);
        ix.nsupersedes = ns;
        take(&r, (size_t)ns * LV_HASH_LEN, &q);
        memcpy(ix.supersedes, q, (size_t)ns * LV_HASH_LEN);
        uint8_t(*tmp)[LV_HASH_LEN] = lv_xmalloc((size_t)ns * LV_HASH_LEN);
        memcpy(tmp, q, (size_t)ns * LV_HASH_LEN);
        int dup = has_dup(tmp, ns);
        free(tmp);
        if (dup) {
            rc = lv_err(LV_ERR_CORRUPT, "index: a superseded index is listed twice");
            goto fail;
        }
    }
    if (take(&r, 4, &q) != 0) {
        rc = lv_err(LV_ERR_CORRUPT, "index: truncated before the pack count");
        goto fail;
    }
    uint32_t np = lv_le32_get(q);
    if ((uint64_t)np * PACK_FIXED > r.left) {
        rc = lv_err(LV_ERR_CORRUPT, "index: impossible pack count %u", np);
        goto fail;
    }
    if (np) {
        ix.packs = lv_xcalloc(np, sizeof *ix.packs);
        ix.npacks = np;
    }
    rc = parse_packs(&r, &ix);
    if (rc != LV_OK)
        goto fail;
    *out = ix;
    return LV_OK;
fail:
    lv_index_free(&ix);
    return rc;
}

const lv_obj_type lv_obj_index = {.prefix = "index/", .aad = LV_INDEX_AAD, .hashed = 1, .compress = 1};

int lv_index_write(const lv_repo *r, const lv_index *ix, uint8_t id_out[LV_HASH_LEN])
{
    lv_buf plain = LV_BUF_INIT;
    lv_index_encode(ix, &plain);
    char hex[2 * LV_HASH_LEN + 1];
    int rc = lv_obj_put(r, &lv_obj_index, NULL, plain.data, plain.len, hex, NULL);
    lv_buf_free(&plain);
    if (rc == LV_OK)
        lv_hex_decode(hex, id_out, LV_HASH_LEN);
    return rc;
}

int lv_index_read(const lv_repo *r, const uint8_t id[LV_HASH_LEN], lv_index *out)
{
    char hex[2 * LV_HASH_LEN + 1], key[LV_INDEX_KEY_LEN];
    lv_hex_encode(id, LV_HASH_LEN, hex);
    lv_index_key(id, key);
    memset(out, 0, sizeof *out);
    lv_buf plain = LV_BUF_INIT;
    int rc = lv_obj_get(r, &lv_obj_index, hex, &plain);
    if (rc == LV_OK && (rc = lv_index_parse(plain.data, plain.len, out)) != LV_OK)
        lv_err_ctx("%s", key);
    lv_buf_free(&plain);
    return rc;
}

/* Blobs are inserted in id order, not in pack order: ids are uniformly random, so in pack order every
 * insert lands on another leaf of the catalog's blob b-tree, and once that b-tree outgrows SQLite's page
 * cache each leaf is read, dirtied, spilled and read again many times per transaction. In id order each
 * leaf is visited once (measured: docs/snapshots.md, Performance). */
typedef struct rec_ref {
    const lv_pack_entry *e;
    const uint8_t *pack;
} rec_ref;

static int cmp_ref(const void *a, const void *b)
{
    return memcmp(((const rec_ref *)a)->e->id, ((const rec_ref *)b)->e->id, LV_HASH_LEN);
}

int lv_index_record(struct lv_catalog *c, const uint8_t id[LV_HASH_LEN], const lv_index *ix)
{
    int rc = lv_catalog_index_add(c, id);
    size_t n = 0;
    for (uint32_t i = 0; rc == LV_OK && i < ix->npacks; i++) {
        rc = lv_catalog_pack_add(c, ix->packs[i].id, ix->packs[i].size, id);
        n += ix->packs[i].count;
    }
    rec_ref *refs = lv_xmalloc((n ? n : 1) * sizeof *refs);
    n = 0;
    for (uint32_t i = 0; i < ix->npacks; i++)
        for (uint32_t j = 0; j < ix->packs[i].count; j++)
            refs[n++] = (rec_ref){&ix->packs[i].blobs[j], ix->packs[i].id};
    lv_sort(refs, n, sizeof *refs, cmp_ref);
    for (size_t k = 0; rc == LV_OK && k < n; k++) {
        const lv_pack_entry *e = refs[k].e;
        lv_blob_loc loc = {.offset = e->offset, .length = e->length, .raw_length = e->raw_length, .type = e->type};
        memcpy(loc.pack, refs[k].pack, LV_HASH_LEN);
        rc = lv_catalog_blob_add(c, e->id, &loc);
    }
    free(refs);
    return rc;
}
