/* The block map of one WAL segment (contract in wal/blockmap.h). */
#include "wal/blockmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/sort.h"
#include "pg/relfile.h"

#define FORK_FSM 1

/* ---- the builder: blocks per fork in an open-addressed table, sorted once at the end ------------ */

typedef struct acc {
    uint32_t spc, db, rel;
    uint8_t fork, used;
    uint32_t limit, last;       /* last: the block added last (consecutive records often name it again) */
    uint32_t *blocks;
    uint32_t n, cap;
} acc;

struct lv_blkmap_builder {
    lv_blkmap m;                /* the header fields, dbs and edges; forks made at the end */
    acc *t;
    size_t cap, used;
    lv_blkmap_db *dbs;
    size_t ndbs, cdbs;
    uint64_t upto;
};

static size_t acc_hash(uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    uint64_t h = ((uint64_t)rel << 32 | db) * UINT64_C(0x9E3779B97F4A7C15) ^
                 ((uint64_t)spc << 8 | fork) * UINT64_C(0xC2B2AE3D27D4EB4F);
    return (size_t)(h ^ h >> 31);
}

static acc *acc_get(lv_blkmap_builder *b, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork);

static void acc_grow(lv_blkmap_builder *b)
{
    acc *old = b->t;
    size_t oc = b->cap;
    b->cap = oc ? 2 * oc : 256;
    b->t = lv_xcalloc(b->cap, sizeof *b->t);
    b->used = 0;
    for (size_t i = 0; i < oc; i++)
        if (old[i].used) {
            acc *a = acc_get(b, old[i].spc, old[i].db, old[i].rel, old[i].fork);
            *a = old[i];
        }
    free(old);
}

static acc *acc_get(lv_blkmap_builder *b, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    if (2 * (b->used + 1) > b->cap)
        acc_grow(b);
    size_t i = acc_hash(spc, db, rel, fork) & (b->cap - 1);
    for (;; i = (i + 1) & (b->cap - 1)) {
        acc *a = &b->t[i];
        if (!a->used) {
            *a = (acc){.spc = spc, .db = db, .rel = rel, .fork = fork, .used = 1, .limit = LV_BLKMAP_NONE,
                       .last = UINT32_MAX};
            b->used++;
            return a;
        }
        if (a->rel == rel && a->db == db && a->spc == spc && a->fork == fork)
            return a;
    }
}

static void mark_block(lv_blkmap_builder *b, const lv_walrec_block *k)
{
    if (k->fork == FORK_FSM || k->fork > 3)
        return;
    acc *a = acc_get(b, k->spc, k->db, k->rel, k->fork);
    if (a->last == k->blkno)
        return;
    a->last = k->blkno;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->blocks = lv_xrealloc(a->blocks, a->cap * sizeof *a->blocks);
    }
    a->blocks[a->n++] = k->blkno;
}

static void set_limit(lv_blkmap_builder *b, lv_wal_rfn r, uint8_t fork, uint32_t limit)
{
    if (fork == FORK_FSM || fork > 3)
        return;
    acc *a = acc_get(b, r.spc, r.db, r.rel, fork);
    if (limit < a->limit)
        a->limit = limit;
}

static void mark_db(lv_blkmap_builder *b, uint32_t spc, uint32_t db)
{
    for (size_t i = 0; i < b->ndbs; i++)
        if (b->dbs[i].spc == spc && b->dbs[i].db == db)
            return;
    LV_GROW(b->dbs, b->ndbs, b->cdbs);
    b->dbs[b->ndbs++] = (lv_blkmap_db){spc, db};
}

/* Records whose main data change more than their block references say (blockmap.h, the rules). */
static int needs_main(int pg_version, uint8_t rmid, uint8_t info)
{
    uint8_t op = info & 0xF0, x = info & 0x70;
    switch (rmid) {
    case 0: /* XLOG: PARAMETER_CHANGE */
        return op == 0x60;
    case 1: /* Transaction: COMMIT, ABORT, COMMIT_PREPARED, ABORT_PREPARED */
        return x == 0x00 || x == 0x20 || x == 0x30 || x == 0x40;
    case 2: /* Storage: CREATE, TRUNCATE */
        return op == 0x10 || op == 0x20;
    case 4: /* Database: every record creates or drops a directory */
        return op == 0x00 || op == 0x10 || (pg_version >= 15 && op == 0x20);
    default:
        return 0;
    }
}

/* The effects of a record's main data; its block references are marked by the caller. */
static void apply_main(lv_blkmap_builder *b, const lv_walrec_reader *rd, const lv_walrec *rec)
{
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK) {
        lv_err_clear(); /* a record of these kinds malformed behind a right CRC: the map cannot be trusted */
        b->m.unsafe = 1;
        return;
    }
    switch (ev.kind) {
    case LV_WEV_CREATE:
        if (ev.fork >= 0 && ev.fork <= 3)
            set_limit(b, ev.rfn, (uint8_t)ev.fork, 0);
        return;
    case LV_WEV_TRUNCATE:
        if (ev.flags & 0x1) /* SMGR_TRUNCATE_HEAP */
            set_limit(b, ev.rfn, 0, ev.blkno);
        if (ev.flags & 0x2) /* SMGR_TRUNCATE_VM */
            set_limit(b, ev.rfn, 2, ev.blkno);
        return;
    case LV_WEV_COMMIT:
    case LV_WEV_ABORT:
        for (uint32_t i = 0; i < ev.nrels; i++) {
            lv_wal_rfn r = lv_wal_event_rel(&ev, i);
            set_limit(b, r, 0, 0);
            set_limit(b, r, 2, 0);
            set_limit(b, r, 3, 0);
        }
        return;
    case LV_WEV_DB_CREATE:
        mark_db(b, ev.tsid, ev.dbid);
        return;
    case LV_WEV_DB_DROP:
        for (uint32_t i = 0; i < ev.nrels; i++) {
            const uint8_t *p = ev.rels + (size_t)i * 4;
            mark_db(b, (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24, ev.dbid);
        }
        return;
    case LV_WEV_PARAMS:
        if (ev.flags == 0) /* WAL_LEVEL_MINIMAL */
            b->m.unsafe = 1;
        return;
    default:
        return;
    }
}

static void apply(lv_blkmap_builder *b, const lv_walrec_reader *rd, const lv_walrec *rec)
{
    b->m.records++;
    b->m.blockrefs += rec->nblocks;
    for (uint32_t i = 0; i < rec->nblocks; i++)
        mark_block(b, &rec->blocks[i]);
    if (needs_main(rd->pg_version, rec->rmid, rec->info))
        apply_main(b, rd, rec);
}

static lv_blkmap_builder *builder_new(int pg_version, uint32_t tli, uint32_t seg_size, uint64_t begin)
{
    lv_blkmap_builder *b = lv_xcalloc(1, sizeof *b);
    b->m.format = LV_BLKMAP_FORMAT;
    b->m.pg_version = pg_version;
    b->m.tli = tli;
    b->m.seg_size = seg_size;
    b->m.begin_lsn = begin;
    b->upto = UINT64_MAX;
    return b;
}

lv_blkmap_builder *lv_blkmap_builder_new(const lv_walrec_reader *rd, const uint8_t *data, size_t len)
{
    lv_blkmap_builder *b = builder_new(rd->pg_version, rd->tli, rd->seg_size, rd->base);
    uint8_t *lead = lv_xmalloc(LV_BLKMAP_EDGE);
    size_t n = lv_walrec_lead(data, len, lead, LV_BLKMAP_EDGE, &b->m.lead_rem, &b->m.overwrite);
    if (n) {
        b->m.lead = lead;
        b->m.nlead = (uint32_t)n;
    } else {
        free(lead);
    }
    return b;
}

void lv_blkmap_builder_record(lv_blkmap_builder *b, const lv_walrec_reader *rd, const lv_walrec *rec)
{
    if (rec->lsn < b->upto)
        apply(b, rd, rec);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_fork(const void *a, const void *b)
{
    const lv_blkmap_fork *x = a, *y = b;
    int c = lv_relfile_cmp(x->spc, x->db, x->rel, y->spc, y->db, y->rel);
    return c ? c : (int)x->fork - (int)y->fork;
}

static int cmp_db(const void *a, const void *b)
{
    const lv_blkmap_db *x = a, *y = b;
    if (x->spc != y->spc)
        return x->spc < y->spc ? -1 : 1;
    return x->db < y->db ? -1 : x->db > y->db;
}

/* The record the segment ends with, continued into the next one (blockmap.h: edges). */
static void on_cut(lv_blkmap_builder *b, const lv_walrec_reader *rd)
{
    uint8_t *h = lv_xmalloc(LV_BLKMAP_EDGE + 1);
    size_t n = lv_walrec_cut_head(rd, h, LV_BLKMAP_EDGE + 1);
    b->m.cut_lsn = rd->pos;
    lv_walrec rec;
    int hb = lv_walrec_head_blocks(rd->pg_version, h, n, &rec);
    if (hb == 1 && !needs_main(rd->pg_version, rec.rmid, rec.info)) {
        b->m.records++;
        b->m.blockrefs += rec.nblocks;
        for (uint32_t i = 0; i < rec.nblocks; i++)
            mark_block(b, &rec.blocks[i]);
        b->m.cut = LV_BLKMAP_CUT_DONE;
        free(h);
        return;
    }
    b->m.cut = LV_BLKMAP_CUT_BYTES;
    b->m.cut_all = n <= LV_BLKMAP_EDGE;
    b->m.ncut = (uint32_t)(n <= LV_BLKMAP_EDGE ? n : LV_BLKMAP_EDGE);
    b->m.cut_bytes = h;
}

void lv_blkmap_builder_finish(lv_blkmap_builder *b, const lv_walrec_reader *rd, lv_blkmap *out)
{
    lv_blkmap *m = &b->m;
    uint64_t seg_end = m->begin_lsn + m->seg_size;
    if (b->upto != UINT64_MAX && rd->pos >= b->upto) {
        m->end_lsn = b->upto; /* stopped at the limit asked for */
    } else if (rd->status == LV_WALREC_CUT) {
        m->end_lsn = seg_end;
        m->complete = 1;
        on_cut(b, rd);
    } else if (rd->status == LV_WALREC_EOD || rd->pos >= seg_end) {
        m->end_lsn = seg_end; /* every record read, or the rest skipped after an XLOG_SWITCH */
        m->complete = 1;
    } else {
        m->end_lsn = rd->pos; /* the valid WAL ends here */
    }
    if (b->upto != UINT64_MAX && m->end_lsn > b->upto)
        m->end_lsn = b->upto;
    m->forks = lv_xcalloc(b->used + 1, sizeof *m->forks);
    for (size_t i = 0; i < b->cap; i++) {
        acc *a = &b->t[i];
        if (!a->used)
            continue;
        lv_sort(a->blocks, a->n, sizeof *a->blocks, cmp_u32);
        lv_blkmap_fork *f = &m->forks[m->nforks++];
        *f = (lv_blkmap_fork){.spc = a->spc, .db = a->db, .rel = a->rel, .fork = a->fork, .limit = a->limit};
        f->runs = lv_xmalloc(((size_t)a->n + 1) * sizeof *f->runs);
        for (uint32_t j = 0; j < a->n; j++) {
            uint32_t blk = a->blocks[j];
            lv_blkmap_run *last = f->nruns ? &f->runs[f->nruns - 1] : NULL;
            if (last && blk < last->first + last->count)
                continue; /* a duplicate */
            if (last && blk == last->first + last->count)
                last->count++;
            else
                f->runs[f->nruns++] = (lv_blkmap_run){blk, 1};
            f->nblocks++;
        }
        free(a->blocks);
    }
    lv_sort(m->forks, m->nforks, sizeof *m->forks, cmp_fork);
    m->dbs = b->dbs;
    m->ndbs = (uint32_t)b->ndbs;
    lv_sort(m->dbs, m->ndbs, sizeof *m->dbs, cmp_db);
    *out = *m;
    free(b->t);
    free(b);
}

int lv_blkmap_scan(const uint8_t *data, size_t len, uint64_t upto, lv_blkmap *out)
{
    memset(out, 0, sizeof *out);
    lv_walrec_reader rd;
    if (lv_walrec_init(&rd, data, len) != LV_OK)
        return LV_ERR_CORRUPT;
    lv_blkmap_builder *b = lv_blkmap_builder_new(&rd, data, len);
    b->upto = upto;
    lv_walrec rec;
    while (lv_walrec_next(&rd, &rec) == LV_WALREC_OK) {
        if (rec.lsn >= upto) {
            rd.pos = rec.lsn;
            break;
        }
        apply(b, &rd, &rec);
    }
    lv_blkmap_builder_finish(b, &rd, out);
    lv_walrec_free(&rd);
    return LV_OK;
}

void lv_blkmap_free(lv_blkmap *m)
{
    for (uint32_t i = 0; i < m->nforks; i++)
        free(m->forks[i].runs);
    free(m->forks);
    free(m->dbs);
    free(m->cut_bytes);
    free(m->lead);
    memset(m, 0, sizeof *m);
}

long lv_blkmap_find(const lv_blkmap *m, uint32_t spc, uint32_t db, uint32_t rel, uint8_t fork)
{
    lv_blkmap_fork key = {.spc = spc, .db = db, .rel = rel, .fork = fork};
    size_t lo = 0, hi = m->nforks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_fork(&m->forks[mid], &key);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- joining a split record ------------------------------------------------------------------- */

int lv_blkmap_join(const lv_blkmap *a, const lv_blkmap *b, lv_blkmap *out)
{
    memset(out, 0, sizeof *out);
    if (a->cut != LV_BLKMAP_CUT_BYTES || b->overwrite)
        return LV_OK; /* nothing split, decoded already, or abandoned (a crash): not part of the WAL */
    char at[LV_LSN_TEXT_MAX];
    lv_lsn_format(a->cut_lsn, at);
    if (!b->lead_rem || a->ncut < 4)
        return lv_err(LV_ERR_INCOMPLETE, "the WAL record at %s continues into the next segment, whose block map "
                      "does not hold its rest", at);
    uint8_t *h = lv_xmalloc((size_t)a->ncut + b->nlead);
    memcpy(h, a->cut_bytes, a->ncut);
    if (b->nlead)
        memcpy(h + a->ncut, b->lead, b->nlead);
    size_t n = (size_t)a->ncut + b->nlead;
    uint32_t tot = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    lv_walrec_reader rd;
    memset(&rd, 0, sizeof rd);
    rd.pg_version = a->pg_version;
    lv_blkmap_builder *bl = builder_new(a->pg_version, a->tli, a->seg_size, a->begin_lsn);
    lv_walrec rec;
    int rc = LV_OK;
    if (a->cut_all && b->nlead == b->lead_rem && (uint64_t)a->ncut + b->lead_rem == tot &&
        lv_walrec_from_bytes(a->pg_version, h, n, a->cut_lsn, &rec) == 0) {
        apply(bl, &rd, &rec);
    } else if (lv_walrec_head_blocks(a->pg_version, h, n, &rec) == 1 && !needs_main(a->pg_version, rec.rmid, rec.info)) {
        bl->m.records++;
        bl->m.blockrefs += rec.nblocks;
        for (uint32_t i = 0; i < rec.nblocks; i++)
            mark_block(bl, &rec.blocks[i]);
    } else {
        rc = lv_err(LV_ERR_INCOMPLETE, "the WAL record at %s, split between two segments, cannot be read from their "
                    "block maps", at);
    }
    free(h);
    lv_walrec_reader end;
    memset(&end, 0, sizeof end);
    end.status = LV_WALREC_EOD;
    end.pos = UINT64_MAX;
    lv_blkmap_builder_finish(bl, &end, out);
    out->complete = 0;
    out->end_lsn = 0;
    if (rc != LV_OK)
        lv_blkmap_free(out);
    return rc;
}

/* ---- encoding --------------------------------------------------------------------------------- */

static void put_u8(lv_buf *b, uint8_t v) { lv_buf_append(b, &v, 1); }
static void put_uleb(lv_buf *b, uint32_t v)
{
    uint8_t p[5];
    size_t n = 0;
    do {
        p[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    lv_buf_append(b, p, n);
}

void lv_blkmap_encode(const lv_blkmap *m, lv_buf *out)
{
    lv_buf_append(out, "LVBM", 4);
    put_u8(out, (uint8_t)m->format);
    put_u8(out, (uint8_t)((m->complete ? 1 : 0) | (m->unsafe ? 2 : 0) | (m->overwrite ? 4 : 0) | (m->cut_all ? 8 : 0)));
    put_u8(out, (uint8_t)m->pg_version);
    put_u8(out, (uint8_t)m->cut);
    lv_buf_put_le32(out, m->tli);
    lv_buf_put_le32(out, m->seg_size);
    lv_buf_put_le64(out, m->begin_lsn);
    lv_buf_put_le64(out, m->end_lsn);
    lv_buf_put_le64(out, m->records);
    lv_buf_put_le64(out, m->blockrefs);
    size_t cl = strlen(m->checksum) == 64 ? 64 : 0;
    put_u8(out, (uint8_t)cl);
    lv_buf_append(out, m->checksum, cl);
    lv_buf_put_le32(out, m->ndbs);
    for (uint32_t i = 0; i < m->ndbs; i++) {
        lv_buf_put_le32(out, m->dbs[i].spc);
        lv_buf_put_le32(out, m->dbs[i].db);
    }
    lv_buf_put_le32(out, m->nforks);
    for (uint32_t i = 0; i < m->nforks; i++) {
        const lv_blkmap_fork *f = &m->forks[i];
        lv_buf_put_le32(out, f->spc);
        lv_buf_put_le32(out, f->db);
        lv_buf_put_le32(out, f->rel);
        put_u8(out, f->fork);
        lv_buf_put_le32(out, f->limit);
        lv_buf_put_le64(out, f->nblocks);
        lv_buf_put_le32(out, f->nruns);
        uint64_t next = 0; /* the block after the previous run */
        for (uint32_t j = 0; j < f->nruns; j++) {
            put_uleb(out, (uint32_t)(f->runs[j].first - next));
            put_uleb(out, f->runs[j].count - 1);
            next = (uint64_t)f->runs[j].first + f->runs[j].count;
        }
    }
    lv_buf_put_le64(out, m->cut_lsn);
    lv_buf_put_le32(out, m->ncut);
    lv_buf_append(out, m->cut_bytes, m->ncut);
    lv_buf_put_le32(out, m->lead_rem);
    lv_buf_put_le32(out, m->nlead);
    lv_buf_append(out, m->lead, m->nlead);
}

typedef struct rd {
    const uint8_t *p, *e;
    int bad;
} rd_t;

static uint8_t get_u8(rd_t *r)
{
    if (r->e - r->p < 1) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}
static uint32_t get_u32(rd_t *r)
{
    if (r->e - r->p < 4) {
        r->bad = 1;
        r->p = r->e;
        return 0;
    }
    const uint8_t *p = r->p;
    r->p += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(rd_t *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}
static uint32_t get_uleb(rd_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        uint8_t c = get_u8(r);
        if (r->bad)
            return 0;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            if (v > UINT32_MAX)
                r->bad = 1;
            return (uint32_t)v;
        }
    }
    r->bad = 1;
    return 0;
}
static const uint8_t *get_bytes(rd_t *r, size_t n)
{
    if ((size_t)(r->e - r->p) < n) {
        r->bad = 1;
        r->p = r->e;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

int lv_blkmap_parse(const uint8_t *buf, size_t len, lv_blkmap *m)
{
    memset(m, 0, sizeof *m);
    rd_t r = {buf, buf + len, 0};
    const char *why = NULL;
    const uint8_t *magic = get_bytes(&r, 4);
    if (!magic || memcmp(magic, "LVBM", 4) != 0)
        return lv_err(LV_ERR_CORRUPT, "block map: not a block map (magic)");
    m->format = get_u8(&r);
    uint8_t flags = get_u8(&r);
    m->pg_version = get_u8(&r);
    m->cut = get_u8(&r);
    m->complete = flags & 1, m->unsafe = (flags >> 1) & 1, m->overwrite = (flags >> 2) & 1, m->cut_all = (flags >> 3) & 1;
    m->tli = get_u32(&r);
    m->seg_size = get_u32(&r);
    m->begin_lsn = get_u64(&r);
    m->end_lsn = get_u64(&r);
    m->records = get_u64(&r);
    m->blockrefs = get_u64(&r);
    uint8_t cl = get_u8(&r);
    const uint8_t *cs = get_bytes(&r, cl);
    if (r.bad)
        goto bad;
    if (flags & ~15u) {
        why = "unknown flags";
        goto bad;
    }
    if (m->cut > LV_BLKMAP_CUT_BYTES) {
        why = "unknown edge state";
        goto bad;
    }
    if (cl != 0 && cl != 64) {
        why = "bad checksum length";
        goto bad;
    }
    for (uint8_t i = 0; i < cl; i++) {
        if (!((cs[i] >= '0' && cs[i] <= '9') || (cs[i] >= 'a' && cs[i] <= 'f'))) {
            why = "bad checksum";
            goto bad;
        }
        m->checksum[i] = (char)cs[i];
    }
    m->ndbs = get_u32(&r);
    if (r.bad || m->ndbs > (size_t)(r.e - r.p) / 8) {
        why = "bad database count";
        goto bad;
    }
    m->dbs = lv_xcalloc((size_t)m->ndbs + 1, sizeof *m->dbs);
    for (uint32_t i = 0; i < m->ndbs; i++) {
        m->dbs[i].spc = get_u32(&r);
        m->dbs[i].db = get_u32(&r);
        if (i && cmp_db(&m->dbs[i - 1], &m->dbs[i]) >= 0) {
            why = "databases not sorted";
            goto bad;
        }
    }
    uint32_t nforks = get_u32(&r);
    if (r.bad || nforks > (size_t)(r.e - r.p) / 29) {
        why = "bad fork count";
        goto bad;
    }
    m->forks = lv_xcalloc((size_t)nforks + 1, sizeof *m->forks);
    for (uint32_t i = 0; i < nforks; i++) {
        lv_blkmap_fork *f = &m->forks[i];
        f->spc = get_u32(&r);
        f->db = get_u32(&r);
        f->rel = get_u32(&r);
        f->fork = get_u8(&r);
        f->limit = get_u32(&r);
        uint64_t nblocks = get_u64(&r);
        uint32_t nruns = get_u32(&r);
        m->nforks = i + 1;
        if (r.bad || (f->fork != 0 && f->fork != 2 && f->fork != 3)) {
            why = "bad fork";
            goto bad;
        }
        if (i && cmp_fork(&m->forks[i - 1], f) >= 0) {
            why = "forks not sorted";
            goto bad;
        }
        if (nruns > (size_t)(r.e - r.p) / 2) { /* every run takes at least 2 bytes */
            why = "bad run count";
            goto bad;
        }
        f->runs = lv_xcalloc((size_t)nruns + 1, sizeof *f->runs);
        uint64_t next = 0, count = 0;
        for (uint32_t j = 0; j < nruns; j++) {
            uint64_t first = next + get_uleb(&r), n = (uint64_t)get_uleb(&r) + 1;
            if (r.bad || first + n > (uint64_t)UINT32_MAX + 1 || (j && first == next)) {
                why = "bad run";
                goto bad;
            }
            f->runs[j] = (lv_blkmap_run){(uint32_t)first, (uint32_t)n};
            f->nruns = j + 1;
            count += n;
            next = first + n;
        }
        if (count != nblocks) {
            why = "runs do not add up to the block count";
            goto bad;
        }
        f->nblocks = nblocks;
    }
    m->cut_lsn = get_u64(&r);
    m->ncut = get_u32(&r);
    if (r.bad || m->ncut > LV_BLKMAP_EDGE || (m->ncut && m->cut != LV_BLKMAP_CUT_BYTES)) {
        why = "bad split record";
        goto bad;
    }
    const uint8_t *cb = get_bytes(&r, m->ncut);
    if (m->ncut && cb) {
        m->cut_bytes = lv_xmalloc(m->ncut);
        memcpy(m->cut_bytes, cb, m->ncut);
    }
    m->lead_rem = get_u32(&r);
    m->nlead = get_u32(&r);
    if (r.bad || m->nlead > LV_BLKMAP_EDGE || m->nlead > m->lead_rem) {
        why = "bad continuation";
        goto bad;
    }
    const uint8_t *lb = get_bytes(&r, m->nlead);
    if (m->nlead && lb) {
        m->lead = lv_xmalloc(m->nlead);
        memcpy(m->lead, lb, m->nlead);
    }
    if (r.bad || r.p != r.e) {
        why = r.bad ? "truncated" : "trailing bytes";
        goto bad;
    }
    return LV_OK;
bad:
    lv_blkmap_free(m);
    return lv_err(LV_ERR_CORRUPT, "block map: %s", why ? why : "truncated");
}
