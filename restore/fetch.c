#include "restore/fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hex.h"
#include "common/sort.h"
#include "catalog/blobs.h"
#include "catalog/catalog.h"
#include "repo/blobstore.h"
#include "repo/pack.h"
#include "common/parallel.h"

/* Blobs at most this far apart in a pack are read by one GET (the gap is read and dropped): a GET
 * costs ~38 ms on the test server, 256 KiB at a few hundred MB/s about 1 ms. */
#define RANGE_GAP (256u << 10)
/* A range stops growing here, so one worker's buffer stays bounded (peak memory is about threads x
 * (RANGE_MAX + one chunk)) and the work spreads over the workers. 2 MiB is two average chunks: with 4
 * MiB, `restore pg` of a 485 MiB cluster peaked at 68 MiB with its 8 workers (about 6.5 MiB each), with
 * 2 MiB at 53-56 MiB, and it was not slower (0.8-1.2 s against 2.1-2.5 s, 3 runs each, local
 * repository, a busy machine: to be confirmed by bench/pg.sh on a quiet one). */
#define RANGE_MAX (2u << 20)
/* ... and at this much plaintext: a range of data that compresses 20:1 (pgbench's tables) held 40 MiB of
 * plaintext in 2 MiB, so a batch of LV_PGW_BATCH was two ranges and half the workers waited; its CPU
 * (decompression, the blob ids' HMAC) is what a range costs. */
#define RANGE_MAX_RAW (8u << 20)

typedef struct item {
    uint8_t id[LV_HASH_LEN];
    lv_blob_loc loc;         /* valid once resolved */
    uint32_t length;         /* what the snapshot says */
    int resolved;
    size_t dest;
    uint64_t offset;
} item;

typedef struct range {
    size_t first, count;    /* items[first .. first + count), sorted by offset */
    uint64_t off, len;
    uint64_t raw;           /* plaintext bytes of its blobs */
} range;

typedef struct bufs {
    struct bufs *next;
    lv_buf sealed, plain;
} bufs;

struct lv_fetch {
    const lv_repo *r;
    int threads;
    lv_fetch_deliver_fn deliver;
    void *arg;
    item *items;
    size_t n, cap;
    uint64_t bytes;
    range *ranges;
    size_t nranges, rcap;
    pthread_mutex_t mu;     /* guards pool, failed_dest, stats */
    bufs *pool;
    lv_fetch *pool_owner;   /* whose pool the workers' buffers come from (itself unless shared) */
    size_t failed_dest;
    int failed;
    lv_fetch_stats st;
};

lv_fetch *lv_fetch_new(const lv_repo *r, int threads, lv_fetch_deliver_fn deliver, void *arg)
{
    lv_fetch *f = lv_xcalloc(1, sizeof *f);
    f->r = r;
    f->threads = threads < 1 ? 1 : threads;
    f->deliver = deliver;
    f->arg = arg;
    pthread_mutex_init(&f->mu, NULL);
    f->pool_owner = f;
    return f;
}

void lv_fetch_share_buffers(lv_fetch *f, lv_fetch *owner) { f->pool_owner = owner->pool_owner; }

void lv_fetch_free(lv_fetch *f)
{
    if (!f)
        return;
    while (f->pool) {
        bufs *b = f->pool;
        f->pool = b->next;
        lv_buf_free(&b->sealed);
        lv_buf_free(&b->plain);
        free(b);
    }
    free(f->items);
    free(f->ranges);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Check it->loc (found) against what the snapshot says. */
static int check_found(item *it)
{
    if (it->loc.raw_length != it->length || it->loc.type != LV_BLOB_DATA) {
        char hex[2 * LV_HASH_LEN + 1];
        lv_hex_encode(it->id, LV_HASH_LEN, hex);
        return lv_err(LV_ERR_CORRUPT, "blob %s: the index says a %s blob of %u bytes, the snapshot a data blob of %u",
                      hex, lv_blob_type_name(it->loc.type), it->loc.raw_length, it->length);
    }
    it->resolved = 1;
    return LV_OK;
}

/* Look it->id up in the catalog and check it against what the snapshot says. */
static int resolve(lv_catalog *c, item *it)
{
    int rc = lv_catalog_blob_find(c, it->id, &it->loc);
    if (rc == LV_ERR_NOT_FOUND) {
        char hex[2 * LV_HASH_LEN + 1];
        lv_hex_encode(it->id, LV_HASH_LEN, hex);
        /* The snapshot references it, so the repository (or the catalog) lost it. */
        return lv_err(LV_ERR_CORRUPT, "blob %s is referenced by the snapshot but not in the index (`repo check`; "
                      "`catalog rebuild` if the catalog is stale)", hex);
    }
    if (rc != LV_OK)
        return rc;
    return check_found(it);
}

static item *push(lv_fetch *f, const uint8_t id[LV_HASH_LEN], uint32_t length, size_t dest, uint64_t offset)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 256;
        f->items = lv_xrealloc(f->items, f->cap * sizeof *f->items);
    }
    item *it = &f->items[f->n];
    memset(it, 0, sizeof *it);
    memcpy(it->id, id, LV_HASH_LEN);
    it->length = length;
    it->dest = dest;
    it->offset = offset;
    return it;
}

int lv_fetch_add(lv_fetch *f, const uint8_t id[LV_HASH_LEN], uint32_t length, size_t dest, uint64_t offset)
{
    if (!f->r->cat)
        return lv_err(LV_ERR_INTERNAL, "restore: no catalog attached");
    int rc = resolve(f->r->cat, push(f, id, length, dest, offset));
    if (rc != LV_OK)
        return rc;
    f->n++;
    f->bytes += length;
    return LV_OK;
}

int lv_fetch_add_found(lv_fetch *f, const uint8_t id[LV_HASH_LEN], const lv_blob_loc *loc, uint32_t length,
                       size_t dest, uint64_t offset)
{
    item *it = push(f, id, length, dest, offset);
    it->loc = *loc;
    int rc = check_found(it);
    if (rc != LV_OK)
        return rc;
    f->n++;
    f->bytes += length;
    return LV_OK;
}

void lv_fetch_queue(lv_fetch *f, const uint8_t id[LV_HASH_LEN], uint32_t length, size_t dest, uint64_t offset)
{
    push(f, id, length, dest, offset);
    f->n++;
    f->bytes += length;
}

void lv_fetch_clear(lv_fetch *f)
{
    f->n = 0;
    f->bytes = 0;
}

uint64_t lv_fetch_pending_bytes(const lv_fetch *f) { return f->bytes; }
size_t lv_fetch_pending(const lv_fetch *f) { return f->n; }

void lv_fetch_get_stats(const lv_fetch *f, lv_fetch_stats *st) { *st = f->st; }

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int c = memcmp(x->loc.pack, y->loc.pack, LV_HASH_LEN);
    if (c)
        return c;
    if (x->loc.offset != y->loc.offset)
        return x->loc.offset < y->loc.offset ? -1 : 1;
    return x->dest < y->dest ? -1 : x->dest > y->dest;
}

static void plan(lv_fetch *f)
{
    lv_sort(f->items, f->n, sizeof *f->items, cmp_item);
    f->nranges = 0;
    for (size_t i = 0; i < f->n; i++) {
        const item *it = &f->items[i];
        range *cur = f->nranges ? &f->ranges[f->nranges - 1] : NULL;
        uint64_t end = cur ? cur->off + cur->len : 0;
        if (cur && memcmp(f->items[cur->first].loc.pack, it->loc.pack, LV_HASH_LEN) == 0 && it->loc.offset >= cur->off &&
            ((it->loc.offset < end) || /* a blob already in the range (needed at several places): always */
             (it->loc.offset <= end + RANGE_GAP && it->loc.offset + it->loc.length - cur->off <= RANGE_MAX &&
              cur->raw + it->loc.raw_length <= RANGE_MAX_RAW))) {
            if (it->loc.offset + it->loc.length > end) {
                cur->len = it->loc.offset + it->loc.length - cur->off;
                cur->raw += it->loc.raw_length;
            }
            cur->count++;
            continue;
        }
        if (f->nranges == f->rcap) {
            f->rcap = f->rcap ? 2 * f->rcap : 64;
            f->ranges = lv_xrealloc(f->ranges, f->rcap * sizeof *f->ranges);
        }
        f->ranges[f->nranges++] = (range){i, 1, it->loc.offset, it->loc.length, it->loc.raw_length};
    }
}

static bufs *pool_get(lv_fetch *f)
{
    f = f->pool_owner;
    pthread_mutex_lock(&f->mu);
    bufs *b = f->pool;
    if (b)
        f->pool = b->next;
    pthread_mutex_unlock(&f->mu);
    return b ? b : lv_xcalloc(1, sizeof *b);
}

static void pool_put(lv_fetch *f, bufs *b)
{
    f = f->pool_owner;
    pthread_mutex_lock(&f->mu);
    b->next = f->pool;
    f->pool = b;
    pthread_mutex_unlock(&f->mu);
}

static void fail_at(lv_fetch *f, size_t dest)
{
    pthread_mutex_lock(&f->mu);
    if (!f->failed) {
        f->failed = 1;
        f->failed_dest = dest;
    }
    pthread_mutex_unlock(&f->mu);
}

static int run_range(void *arg, size_t ri)
{
    lv_fetch *f = arg;
    const range *rg = &f->ranges[ri];
    const item *first = &f->items[rg->first];
    char key[LV_PACK_KEY_LEN];
    lv_pack_key(first->loc.pack, key);
    bufs *b = pool_get(f);
    lv_buf_reset(&b->sealed);
    int rc = lv_store_get(f->r->store, key, rg->off, rg->len, &b->sealed);
    if (rc == LV_ERR_NOT_FOUND)
        rc = lv_err(LV_ERR_CORRUPT, "pack %s is missing from the repository, but the index lists blobs in it", key);
    else if (rc == LV_OK && b->sealed.len != rg->len)
        rc = lv_err(LV_ERR_CORRUPT, "pack %s: %zu bytes returned for a range of %llu (truncated pack?)", key,
                    b->sealed.len, (unsigned long long)rg->len);
    else if (rc != LV_OK)
        lv_err_ctx("reading pack %s", key);
    if (rc != LV_OK)
        fail_at(f, first->dest);
    uint64_t blobs = 0;
    for (size_t i = 0; rc == LV_OK && i < rg->count;) {
        const item *it = &f->items[rg->first + i];
        char hex[2 * LV_HASH_LEN + 1], what[160];
        lv_hex_encode(it->id, LV_HASH_LEN, hex);
        snprintf(what, sizeof what, "blob %s in pack %s", hex, key);
        lv_buf_reset(&b->plain);
        rc = lv_blob_open(f->r, it->loc.type, it->id, b->sealed.data + (it->loc.offset - rg->off), it->loc.length,
                          it->loc.raw_length, &b->plain, what);
        if (rc != LV_OK) {
            fail_at(f, it->dest);
            break;
        }
        blobs++;
        /* Every request for this same blob (same pack and offset) gets the verified bytes. */
        size_t j = i;
        for (; rc == LV_OK && j < rg->count && f->items[rg->first + j].loc.offset == it->loc.offset; j++) {
            const item *d = &f->items[rg->first + j];
            rc = f->deliver(f->arg, d->dest, d->offset, b->plain.data, b->plain.len);
            if (rc != LV_OK)
                fail_at(f, d->dest);
        }
        i = j;
    }
    pthread_mutex_lock(&f->mu);
    f->st.gets++;
    f->st.bytes_fetched += b->sealed.len;
    f->st.blobs += blobs;
    pthread_mutex_unlock(&f->mu);
    pool_put(f, b);
    return rc;
}

int lv_fetch_run_lookup(lv_fetch *f, lv_catalog *cat, size_t *failed_dest)
{
    *failed_dest = SIZE_MAX;
    for (size_t i = 0; i < f->n; i++) {
        item *it = &f->items[i];
        int rc = it->resolved ? LV_OK : !cat ? lv_err(LV_ERR_INTERNAL, "restore: a blob queued without a lookup")
                                             : resolve(cat, it);
        if (rc != LV_OK) {
            *failed_dest = it->dest;
            lv_fetch_clear(f);
            return rc;
        }
    }
    return lv_fetch_run(f, failed_dest);
}

int lv_fetch_run(lv_fetch *f, size_t *failed_dest)
{
    *failed_dest = SIZE_MAX;
    if (f->n == 0)
        return LV_OK;
    for (size_t i = 0; i < f->n; i++)
        if (!f->items[i].resolved) {
            lv_fetch_clear(f);
            return lv_err(LV_ERR_INTERNAL, "restore: a blob queued without a lookup (lv_fetch_run_lookup)");
        }
    plan(f);
    f->failed = 0;
    f->failed_dest = SIZE_MAX;
    int rc = lv_parallel_for(f->threads, f->nranges, run_range, f);
    if (rc != LV_OK)
        *failed_dest = f->failed_dest;
    lv_fetch_clear(f);
    return rc;
}
