/* The per-segment summary (contract in wal/summary.h). */
#include "wal/summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/sort.h"
#include "wal/segment.h"

/* ---- row counts per (xid, relation): open addressing, grown at half full ------------------------- */

typedef struct cnt {
    uint32_t xid, spc, db, rel; /* xid 0: free slot (no record that changes rows has xid 0) */
    uint32_t ins, upd, del;
    uint64_t first, last;
} cnt;

typedef struct cnt_map {
    cnt *v;
    size_t cap, n;
} cnt_map;

static size_t cnt_hash(uint32_t xid, uint32_t db, uint32_t rel)
{
    uint64_t h = ((uint64_t)xid << 32 | rel) * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)db * UINT64_C(0xC2B2AE3D27D4EB4F);
    return (size_t)(h ^ h >> 29);
}

static cnt *cnt_get(cnt_map *m, uint32_t xid, lv_wal_rfn r);

static void cnt_grow(cnt_map *m)
{
    cnt_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 4096;
    m->v = lv_xcalloc(m->cap, sizeof *m->v);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.v[i].xid) {
            cnt *c = cnt_get(m, old.v[i].xid, (lv_wal_rfn){old.v[i].spc, old.v[i].db, old.v[i].rel});
            *c = old.v[i];
        }
    free(old.v);
}

static cnt *cnt_get(cnt_map *m, uint32_t xid, lv_wal_rfn r)
{
    if (2 * (m->n + 1) > m->cap)
        cnt_grow(m);
    size_t i = cnt_hash(xid, r.db, r.rel) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        cnt *c = &m->v[i];
        if (!c->xid) {
            *c = (cnt){.xid = xid, .spc = r.spc, .db = r.db, .rel = r.rel};
            m->n++;
            return c;
        }
        if (c->xid == xid && c->rel == r.rel && c->db == r.db && c->spc == r.spc)
            return c;
    }
}

static void count(cnt_map *m, uint32_t xid, lv_wal_rfn r, lv_wal_heap_op op, uint32_t rows, uint64_t lsn)
{
    if (!xid || r.spc == 1664)
        return; /* shared catalogs (pg_database's in-place updates and the like) are nobody's data */
    cnt *c = cnt_get(m, xid, r);
    if (op == LV_HEAP_INSERT)
        c->ins += rows;
    else if (op == LV_HEAP_UPDATE)
        c->upd += rows;
    else
        c->del += rows;
    if (!c->first)
        c->first = lsn;
    c->last = lsn;
}

/* ---- transaction ends and subtransactions ------------------------------------------------------ */

typedef struct xend {
    uint32_t xid, dbid;
    lv_walsum_end end;
    int prepared;
    uint64_t lsn;
    int64_t time_us;
} xend;

typedef struct sub {
    uint32_t sub, top;
} sub;

struct lv_walsum_acc {
    cnt_map m;
    xend *ends;
    size_t nends, cends;
    sub *subs;
    size_t nsubs, csubs;
    int sorted;          /* ends and subs sorted for lookups (after the last record) */
};

typedef struct state {
    lv_walsum *out;
    lv_walsum_acc a;
    uint32_t xid_ref;
    int32_t lo, hi; /* the xid range as signed distances from xid_ref */
    int cut_xid_open;
} state;

static void add_sub(lv_walsum_acc *a, uint32_t subx, uint32_t top)
{
    if (!subx || subx == top)
        return;
    LV_GROW(a->subs, a->nsubs, a->csubs);
    a->subs[a->nsubs++] = (sub){subx, top};
    a->sorted = 0;
}

static void add_end(lv_walsum_acc *a, xend e)
{
    LV_GROW(a->ends, a->nends, a->cends);
    a->ends[a->nends++] = e;
    a->sorted = 0;
}

static void see_xid(state *s, uint32_t xid)
{
    if (!xid)
        return;
    if (!s->out->have_xids) {
        s->out->have_xids = 1;
        s->xid_ref = xid;
        s->lo = s->hi = 0;
        return;
    }
    int32_t d = (int32_t)(xid - s->xid_ref);
    if (d < s->lo)
        s->lo = d;
    if (d > s->hi)
        s->hi = d;
}

static void add_point(state *s, lv_walsum_point_kind k, uint64_t lsn, const lv_wal_event *ev, const char *name)
{
    lv_walsum *o = s->out;
    o->points = lv_xrealloc(o->points, (o->npoints + 1) * sizeof *o->points);
    lv_walsum_point *p = &o->points[o->npoints++];
    memset(p, 0, sizeof *p);
    p->kind = k;
    p->lsn = lsn;
    p->time_us = ev->time_us;
    p->xid = k == LV_WALSUM_PREPARE || k == LV_WALSUM_CUT_PREPARE ? ev->xid : 0;
    p->dbid = k == LV_WALSUM_PREPARE ? ev->dbid : 0;
    snprintf(p->name, sizeof p->name, "%s", name);
}

/* The accumulator's part of a record: rows, subtransactions, transaction ends. */
static void acc_event(lv_walsum_acc *a, const lv_walrec *rec, const lv_wal_event *ev)
{
    switch (ev->kind) {
    case LV_WEV_HEAP:
        if (rec->toplevel_xid)
            add_sub(a, rec->xid, rec->toplevel_xid);
        count(&a->m, rec->xid, ev->rfn, ev->heap_op, ev->rows, rec->lsn);
        return;
    case LV_WEV_ASSIGNMENT:
        for (uint32_t i = 0; i < ev->nsubxacts; i++)
            add_sub(a, lv_wal_event_subxact(ev, i), ev->xid);
        return;
    case LV_WEV_PREPARE:
        add_end(a, (xend){ev->xid, ev->dbid, LV_WALSUM_END_PREPARE, 0, rec->lsn, ev->time_us});
        return;
    case LV_WEV_COMMIT:
    case LV_WEV_ABORT:
        for (uint32_t i = 0; i < ev->nsubxacts; i++)
            add_sub(a, lv_wal_event_subxact(ev, i), ev->xid);
        add_end(a, (xend){ev->xid, ev->dbid, ev->kind == LV_WEV_COMMIT ? LV_WALSUM_END_COMMIT : LV_WALSUM_END_ABORT,
                          ev->prepared, rec->lsn, ev->time_us});
        return;
    default:
        return;
    }
}

/* Only these resource managers are decoded; the rest (btree, FPIs, ...) is most of the WAL. */
static int decode(const lv_walrec_reader *rd, const lv_walrec *rec, lv_wal_event *ev)
{
    if (rec->rmid != 10 && rec->rmid != 9 && rec->rmid != 1 && rec->rmid != 0)
        return 0;
    if (lv_wal_event_decode(rd, rec, ev) != LV_OK) {
        lv_err_clear(); /* a malformed record of interest behind a right CRC: not counted */
        return 0;
    }
    return ev->kind != LV_WEV_NONE;
}

static void on_record(state *s, const lv_walrec_reader *rd, const lv_walrec *rec)
{
    lv_wal_event ev;
    if (!decode(rd, rec, &ev))
        return;
    acc_event(&s->a, rec, &ev);
    switch (ev.kind) {
    case LV_WEV_RESTORE_POINT:
        add_point(s, LV_WALSUM_RESTORE_POINT, rec->lsn, &ev, ev.name);
        return;
    case LV_WEV_PREPARE:
        add_point(s, LV_WALSUM_PREPARE, rec->lsn, &ev, ev.gid);
        see_xid(s, ev.xid);
        return;
    case LV_WEV_COMMIT:
    case LV_WEV_ABORT: {
        int64_t t = ev.time_us / 1000000;
        if (!s->out->begin_time)
            s->out->begin_time = t;
        s->out->end_time = t;
        see_xid(s, ev.xid);
        return;
    }
    default:
        return;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The first bytes of a record (its header, then its first fragment): a single-row heap change of a
 * relation? 1 with the transaction, relation and operation; 0 when it is not one or the bytes do not say. */
static int decode_head(const uint8_t *h, size_t n, int pg_version, uint32_t *xid, lv_wal_rfn *r, lv_wal_heap_op *op)
{
    if (n < 24 + 4)
        return 0;
    uint8_t info = h[16], rm = h[17], o = info & 0x70;
    if (rm != 10 || (o != 0x00 && o != 0x10 && o != 0x20 && o != 0x40))
        return 0;
    size_t k = 24;
    uint8_t id = h[k], ff = h[k + 1];
    if (id > 32 || (ff & 0x80)) /* the first fragment must be a block with its relation */
        return 0;
    k += 4;
    if (ff & 0x10) { /* BKPBLOCK_HAS_IMAGE */
        if (k + 5 > n)
            return 0;
        uint8_t binfo = h[k + 4];
        int compressed = pg_version >= 15 ? (binfo & 0x1C) != 0 : (binfo & 0x02) != 0;
        k += compressed && (binfo & 0x01) ? 7 : 5;
    }
    if (k + 16 > n)
        return 0;
    *xid = le32(h + 4);
    *r = (lv_wal_rfn){le32(h + k), le32(h + k + 4), le32(h + k + 8)};
    *op = o == 0x00 ? LV_HEAP_INSERT : o == 0x10 ? LV_HEAP_DELETE : LV_HEAP_UPDATE;
    return 1;
}

/* The record cut at the end of the segment: a restore point, a PREPARE or a transaction end continuing
 * into the next segment is noted; a single-row heap change is counted when its head is here, else its
 * bytes are kept for lv_walsum_join. */
static void on_cut(state *s, const lv_walrec_reader *rd)
{
    uint8_t h[LV_WALSUM_EDGE];
    size_t n = lv_walrec_cut_head(rd, h, sizeof h);
    if (n < 24) {
        memcpy(s->out->cut, h, n);
        s->out->ncut = (uint32_t)n;
        return;
    }
    uint32_t xid = le32(h + 4);
    uint8_t info = h[16], rm = h[17], op = info & 0x70;
    lv_wal_event none;
    memset(&none, 0, sizeof none);
    if (rm == 0 && (info & 0xF0) == 0x70) {
        add_point(s, LV_WALSUM_CUT_RESTORE_POINT, rd->pos, &none, "");
        return;
    }
    if (rm == 1 && op == 0x10) {
        none.xid = xid;
        add_point(s, LV_WALSUM_CUT_PREPARE, rd->pos, &none, "");
        s->cut_xid_open = 1; /* the prepared transaction's end: its xid must match this segment */
        return;
    }
    if (rm == 1 && (op == 0x00 || op == 0x20 || op == 0x30 || op == 0x40)) {
        if ((op == 0x00 || op == 0x20) && xid)
            see_xid(s, xid);
        else
            s->cut_xid_open = 1; /* *_PREPARED: the transaction's xid is in the record's last bytes */
        return;
    }
    lv_wal_rfn r;
    lv_wal_heap_op hop;
    if (decode_head(h, n, rd->pg_version, &xid, &r, &hop))
        count(&s->a.m, xid, r, hop, 1, rd->pos);
    else if (rm == 10 && n < 24 + 4 + 5 + 2 + 16) { /* its relation is in the next segment */
        memcpy(s->out->cut, h, n);
        s->out->ncut = (uint32_t)n;
    }
}

/* The continuation a segment starts with (the tail of the previous segment's cut record). */
static void lead_bytes(const uint8_t *data, size_t len, lv_walsum *out)
{
    lv_wal_header hd;
    if (lv_wal_header_parse(data, len, &hd) != LV_OK || !(hd.info & LV_XLP_FIRST_IS_CONTRECORD) || !hd.rem_len) {
        lv_err_clear();
        return;
    }
    size_t n = hd.rem_len < LV_WALSUM_EDGE ? hd.rem_len : LV_WALSUM_EDGE;
    if (LV_WAL_LONG_HEADER_SIZE + n > len || LV_WAL_LONG_HEADER_SIZE + n > hd.page_size)
        return;
    memcpy(out->lead, data + LV_WAL_LONG_HEADER_SIZE, n);
    out->nlead = (uint32_t)n;
}

int lv_walsum_join(lv_walsum *a, const lv_walsum *b, int pg_version)
{
    if (!a->ncut || !b->nlead)
        return 0;
    uint8_t h[2 * LV_WALSUM_EDGE];
    memcpy(h, a->cut, a->ncut);
    memcpy(h + a->ncut, b->lead, b->nlead);
    uint32_t xid;
    lv_wal_rfn r;
    lv_wal_heap_op op;
    if (!decode_head(h, a->ncut + b->nlead, pg_version, &xid, &r, &op))
        return 0;
    for (size_t i = 0; i < a->nchanges; i++) {
        lv_walsum_change *c = &a->changes[i];
        if (c->xid != xid || c->rel.rel != r.rel || c->rel.db != r.db || c->rel.spc != r.spc)
            continue;
        if (op == LV_HEAP_INSERT)
            c->inserted++;
        else if (op == LV_HEAP_UPDATE)
            c->updated++;
        else
            c->deleted++;
        a->ncut = 0; /* counted once */
        return 1;
    }
    return 0;
}

static int cmp_end(const void *a, const void *b)
{
    const xend *x = a, *y = b; /* by xid; a commit or abort before the same transaction's PREPARE */
    if (x->xid != y->xid)
        return x->xid < y->xid ? -1 : 1;
    return (int)x->end - (int)y->end;
}

static int cmp_sub(const void *a, const void *b)
{
    const sub *x = a, *y = b;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

static void acc_sort(lv_walsum_acc *a)
{
    if (a->sorted)
        return;
    lv_sort(a->subs, a->nsubs, sizeof *a->subs, cmp_sub);
    lv_sort(a->ends, a->nends, sizeof *a->ends, cmp_end);
    a->sorted = 1;
}

static const xend *find_end(const lv_walsum_acc *a, uint32_t xid)
{
    size_t lo = 0, hi = a->nends;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->ends[mid].xid < xid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->nends && a->ends[lo].xid == xid ? &a->ends[lo] : NULL;
}

static uint32_t top_of(const lv_walsum_acc *a, uint32_t xid)
{
    size_t lo = 0, hi = a->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->subs[mid].sub < xid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->nsubs && a->subs[lo].sub == xid ? a->subs[lo].top : xid;
}

static int cmp_change(const void *a, const void *b)
{
    const lv_walsum_change *x = a, *y = b;
    if (x->first_lsn != y->first_lsn)
        return x->first_lsn < y->first_lsn ? -1 : 1;
    return x->rel.rel < y->rel.rel ? -1 : x->rel.rel > y->rel.rel;
}

/* The rows per (transaction, relation) with subtransactions folded into their transaction where known,
 * those of at least min_rows, with their ends; *out malloc'ed, sorted by first LSN. */
static void acc_rows(lv_walsum_acc *a, uint64_t min_rows, lv_walsum_change **out, size_t *nout)
{
    acc_sort(a);
    cnt_map folded = {0};
    const cnt_map *m = &a->m;
    if (a->nsubs) {
        for (size_t i = 0; i < a->m.cap; i++) {
            const cnt *c = &a->m.v[i];
            if (!c->xid)
                continue;
            cnt *d = cnt_get(&folded, top_of(a, c->xid), (lv_wal_rfn){c->spc, c->db, c->rel});
            d->ins += c->ins, d->upd += c->upd, d->del += c->del;
            if (!d->first || c->first < d->first)
                d->first = c->first;
            if (c->last > d->last)
                d->last = c->last;
        }
        m = &folded;
    }
    lv_walsum_change *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const cnt *c = &m->v[i];
        if (!c->xid || (uint64_t)c->ins + c->upd + c->del < min_rows)
            continue;
        LV_GROW(v, n, cap);
        lv_walsum_change *ch = &v[n++];
        memset(ch, 0, sizeof *ch);
        ch->xid = c->xid;
        ch->rel = (lv_walsum_rel){c->spc, c->db, c->rel};
        ch->inserted = c->ins, ch->updated = c->upd, ch->deleted = c->del;
        ch->first_lsn = c->first, ch->last_lsn = c->last;
        const xend *e = find_end(a, c->xid);
        if (e) {
            ch->end = e->end;
            ch->end_lsn = e->lsn;
            ch->end_time_us = e->time_us;
            ch->end_dbid = e->dbid;
            ch->end_prepared = e->prepared;
        }
    }
    lv_sort(v, n, sizeof *v, cmp_change);
    free(folded.v);
    *out = v;
    *nout = n;
}

static void acc_clear(lv_walsum_acc *a)
{
    free(a->m.v);
    free(a->ends);
    free(a->subs);
    memset(a, 0, sizeof *a);
}

lv_walsum_acc *lv_walsum_acc_new(void) { return lv_xcalloc(1, sizeof(lv_walsum_acc)); }

void lv_walsum_acc_free(lv_walsum_acc *a)
{
    if (a) {
        acc_clear(a);
        free(a);
    }
}

void lv_walsum_acc_record(lv_walsum_acc *a, const lv_walrec_reader *rd, const lv_walrec *rec)
{
    lv_wal_event ev;
    if (decode(rd, rec, &ev))
        acc_event(a, rec, &ev);
}

void lv_walsum_acc_rows(lv_walsum_acc *a, lv_walsum_change **out, size_t *n) { acc_rows(a, 1, out, n); }

int lv_walsum_scan(const uint8_t *data, size_t len, lv_walsum *out) { return lv_walsum_scan_map(data, len, out, NULL); }

int lv_walsum_scan_map(const uint8_t *data, size_t len, lv_walsum *out, lv_blkmap *map)
{
    memset(out, 0, sizeof *out);
    if (map)
        memset(map, 0, sizeof *map);
    lv_walrec_reader rd;
    if (lv_walrec_init(&rd, data, len) != LV_OK)
        return LV_ERR_CORRUPT;
    state s = {.out = out};
    lv_blkmap_builder *bm = map ? lv_blkmap_builder_new(&rd, data, len) : NULL;
    lv_walrec rec;
    while (lv_walrec_next(&rd, &rec) == LV_WALREC_OK) {
        on_record(&s, &rd, &rec);
        if (bm)
            lv_blkmap_builder_record(bm, &rd, &rec);
    }
    if (bm)
        lv_blkmap_builder_finish(bm, &rd, map);
    /* A commit continued into the next segment is in neither scan: say that this one holds a commit of
     * unknown time, so that the range reads it (with the next segment) instead of skipping it. */
    if (!out->end_time && lv_walrec_cut_xact(&rd))
        out->begin_time = out->end_time = -1;
    on_cut(&s, &rd);
    lead_bytes(data, len, out);
    if (s.cut_xid_open) {
        out->have_xids = 1;
        out->xid_lo = 0;
        out->xid_hi = UINT32_MAX;
    } else if (out->have_xids) {
        out->xid_lo = s.xid_ref + (uint32_t)s.lo;
        out->xid_hi = s.xid_ref + (uint32_t)s.hi;
    }
    acc_rows(&s.a, LV_WALSUM_MIN_ROWS, &out->changes, &out->nchanges);
    lv_walrec_free(&rd);
    acc_clear(&s.a);
    return LV_OK;
}

int lv_walsum_has_xid(const lv_walsum *s, uint32_t xid)
{
    return s->have_xids && xid - s->xid_lo <= s->xid_hi - s->xid_lo;
}
