/* The union of block maps (contract in wal/blockset.h). */
#include "wal/blockset.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

#define CHUNK_BITS 16
#define CHUNK_BLOCKS (1u << CHUNK_BITS)
#define ARRAY_MAX 4096 /* offsets an array chunk holds before it becomes a bitmap (the same 8 KiB) */

typedef struct chunk {
    uint32_t no;          /* block >> CHUNK_BITS */
    uint32_t n, cap;      /* array: offsets held; bitmap: n counts the bits set */
    uint16_t *offs;       /* sorted, distinct; NULL once a bitmap */
    uint8_t *bits;        /* CHUNK_BLOCKS bits */
} chunk;

struct lv_blkset_fork {
    uint32_t spc, db, rel;
    uint8_t fork, used;
    uint32_t limit;
    chunk *chunks;        /* sorted by no */
    uint32_t nchunks, cchunks;
};

struct lv_blkset {
    lv_blkset_fork *t;
    size_t cap, used;
    lv_blkmap_db *dbs;
    size_t ndbs, cdbs;
    uint64_t blocks, bytes;
};

lv_blkset *lv_blkset_new(void) { return lv_xcalloc(1, sizeof(lv_blkset)); }

void lv_blkset_free(lv_blkset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        lv_blkset_fork *f = &s->t[i];
        for (uint32_t k = 0; k < f->nchunks; k++) {
            free(f->chunks[k].offs);
            free(f->chunks[k].bits);
        }
        free(f->chunks);
    }
    free(s->t);
    free(s->dbs);
    free(s);
}

static size_t fork_hash(uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    uint64_t h = ((uint64_t)rel << 32 | db) * UINT64_C(0x9E3779B97F4A7C15) ^
                 ((uint64_t)spc << 8 | fork) * UINT64_C(0xC2B2AE3D27D4EB4F);
    return (size_t)(h ^ h >> 31);
}

static lv_blkset_fork *fork_find(const lv_blkset *s, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    if (!s->cap)
        return NULL;
    for (size_t i = fork_hash(spc, db, rel, fork) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        lv_blkset_fork *f = &s->t[i];
        if (!f->used)
            return NULL;
        if (f->rel == rel && f->db == db && f->spc == spc && f->fork == fork)
            return f;
    }
}

static lv_blkset_fork *fork_get(lv_blkset *s, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork);

static void grow(lv_blkset *s)
{
    lv_blkset_fork *old = s->t;
    size_t oc = s->cap;
    s->cap = oc ? 2 * oc : 1024;
    s->t = lv_xcalloc(s->cap, sizeof *s->t);
    s->used = 0;
    s->bytes += (s->cap - oc) * sizeof *s->t;
    for (size_t i = 0; i < oc; i++)
        if (old[i].used)
            *fork_get(s, old[i].spc, old[i].db, old[i].rel, old[i].fork) = old[i];
    free(old);
}

static lv_blkset_fork *fork_get(lv_blkset *s, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    lv_blkset_fork *f = fork_find(s, spc, db, rel, fork);
    if (f)
        return f;
    if (2 * (s->used + 1) > s->cap)
        grow(s);
    for (size_t i = fork_hash(spc, db, rel, fork) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        f = &s->t[i];
        if (!f->used) {
            *f = (lv_blkset_fork){.spc = spc, .db = db, .rel = rel, .fork = fork, .used = 1, .limit = LV_BLKMAP_NONE};
            s->used++;
            return f;
        }
    }
}

static chunk *chunk_find(const lv_blkset_fork *f, uint32_t no)
{
    uint32_t lo = 0, hi = f->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->chunks[mid].no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->nchunks && f->chunks[lo].no == no ? &f->chunks[lo] : NULL;
}

static chunk *chunk_get(lv_blkset *s, lv_blkset_fork *f, uint32_t no)
{
    uint32_t lo = 0, hi = f->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->chunks[mid].no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < f->nchunks && f->chunks[lo].no == no)
        return &f->chunks[lo];
    if (f->nchunks == f->cchunks) {
        uint32_t nc = f->cchunks ? 2 * f->cchunks : 2;
        f->chunks = lv_xrealloc(f->chunks, nc * sizeof *f->chunks);
        s->bytes += (uint64_t)(nc - f->cchunks) * sizeof *f->chunks;
        f->cchunks = nc;
    }
    memmove(&f->chunks[lo + 1], &f->chunks[lo], (f->nchunks - lo) * sizeof *f->chunks);
    f->nchunks++;
    f->chunks[lo] = (chunk){.no = no};
    return &f->chunks[lo];
}

static void to_bitmap(lv_blkset *s, chunk *c)
{
    c->bits = lv_xcalloc(CHUNK_BLOCKS / 8, 1);
    for (uint32_t i = 0; i < c->n; i++)
        c->bits[c->offs[i] >> 3] |= (uint8_t)(1u << (c->offs[i] & 7));
    s->bytes += CHUNK_BLOCKS / 8;
    s->bytes -= (uint64_t)c->cap * sizeof *c->offs;
    free(c->offs);
    c->offs = NULL;
    c->cap = 0;
}

/* Add the offsets [lo, hi] of one chunk. */
static void chunk_add(lv_blkset *s, chunk *c, uint32_t lo, uint32_t hi)
{
    if (!c->bits && c->n + (hi - lo + 1) > ARRAY_MAX)
        to_bitmap(s, c);
    if (c->bits) {
        for (uint32_t o = lo; o <= hi; o++) {
            uint8_t bit = (uint8_t)(1u << (o & 7));
            if (!(c->bits[o >> 3] & bit)) {
                c->bits[o >> 3] |= bit;
                c->n++;
                s->blocks++;
            }
        }
        return;
    }
    for (uint32_t o = lo; o <= hi; o++) {
        uint32_t a = 0, b = c->n; /* insertion point */
        while (a < b) {
            uint32_t mid = a + (b - a) / 2;
            if (c->offs[mid] < o)
                a = mid + 1;
            else
                b = mid;
        }
        if (a < c->n && c->offs[a] == o)
            continue;
        if (c->n == c->cap) {
            uint32_t nc = c->cap ? 2 * c->cap : 8;
            if (nc > ARRAY_MAX)
                nc = ARRAY_MAX;
            c->offs = lv_xrealloc(c->offs, nc * sizeof *c->offs);
            s->bytes += (uint64_t)(nc - c->cap) * sizeof *c->offs;
            c->cap = nc;
        }
        memmove(&c->offs[a + 1], &c->offs[a], (c->n - a) * sizeof *c->offs);
        c->offs[a] = (uint16_t)o;
        c->n++;
        s->blocks++;
    }
}

static void add_run(lv_blkset *s, lv_blkset_fork *f, uint32_t first, uint32_t count)
{
    uint64_t b = first, end = (uint64_t)first + count;
    while (b < end) {
        uint32_t no = (uint32_t)(b >> CHUNK_BITS);
        uint64_t chunk_end = ((uint64_t)no + 1) << CHUNK_BITS, stop = end < chunk_end ? end : chunk_end;
        chunk_add(s, chunk_get(s, f, no), (uint32_t)(b & (CHUNK_BLOCKS - 1)),
                  (uint32_t)((stop - 1) & (CHUNK_BLOCKS - 1)));
        b = stop;
    }
}

void lv_blkset_add(lv_blkset *s, const lv_blkmap *m)
{
    for (uint32_t i = 0; i < m->ndbs; i++)
        if (!lv_blkset_db_new(s, m->dbs[i].spc, m->dbs[i].db)) {
            LV_GROW(s->dbs, s->ndbs, s->cdbs);
            s->dbs[s->ndbs++] = m->dbs[i];
        }
    for (uint32_t i = 0; i < m->nforks; i++) {
        const lv_blkmap_fork *mf = &m->forks[i];
        lv_blkset_fork *f = fork_get(s, mf->spc, mf->db, mf->rel, mf->fork);
        if (mf->limit < f->limit)
            f->limit = mf->limit;
        for (uint32_t k = 0; k < mf->nruns; k++)
            add_run(s, f, mf->runs[k].first, mf->runs[k].count);
    }
}

int lv_blkset_db_new(const lv_blkset *s, uint32_t spc, uint32_t db)
{
    for (size_t i = 0; i < s->ndbs; i++)
        if (s->dbs[i].spc == spc && s->dbs[i].db == db)
            return 1;
    return 0;
}

const lv_blkset_fork *lv_blkset_fork_get(const lv_blkset *s, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    return fork_find(s, spc, db, rel, fork);
}

uint32_t lv_blkset_limit(const lv_blkset_fork *f) { return f->limit; }

int lv_blkset_has(const lv_blkset_fork *f, uint32_t blk)
{
    if (blk >= f->limit)
        return 1;
    const chunk *c = chunk_find(f, blk >> CHUNK_BITS);
    if (!c)
        return 0;
    uint32_t o = blk & (CHUNK_BLOCKS - 1);
    if (c->bits)
        return (c->bits[o >> 3] >> (o & 7)) & 1;
    uint32_t a = 0, b = c->n;
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (c->offs[mid] < o)
            a = mid + 1;
        else
            b = mid;
    }
    return a < c->n && c->offs[a] == o;
}

void lv_blkset_get_stats(const lv_blkset *s, lv_blkset_stats *st)
{
    st->blocks = s->blocks;
    st->forks = s->used;
    st->dbs = s->ndbs;
    st->bytes = s->bytes + sizeof *s + s->cdbs * sizeof *s->dbs;
}
