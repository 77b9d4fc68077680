/* What the WAL did to tables' rows (contract in backup/pg_rowwal.h). */
#include "backup/pg_rowwal.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "pg/relfile.h"
#include "wal/records.h"
#include "wal/segscan.h"

#define RM_XLOG 0       /* RM_XLOG_ID */
#define FPI_FOR_HINT 0xA0 /* XLOG_FPI_FOR_HINT: a page image written because hint bits were set */
#define RM_DBASE 4      /* RM_DBASE_ID */

/* An open transaction (hash slot, xid 0: empty) and its rows per relation (cells, a list by index + 1). */
struct lv_rowwal_xact {
    uint32_t xid, head;
};
struct lv_rowwal_cell {
    uint32_t rel, next;          /* index into rels; the next cell + 1 (0: none) */
    int64_t rows;
};

void lv_rowwal_track(lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel)
{
    LV_GROW(w->rels, w->nrels, w->rcap);
    w->rels[w->nrels++] = (lv_rowwal_rel){spc, db, rel, 0, 0, 0};
}

static int cmp_rel(const void *a, const void *b)
{
    const lv_rowwal_rel *x = a, *y = b;
    return lv_relfile_cmp(x->spc, x->db, x->rel, y->spc, y->db, y->rel);
}

static lv_rowwal_rel *find(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel)
{
    lv_rowwal_rel key = {spc, db, rel, 0, 0, 0};
    return w->nrels ? bsearch(&key, w->rels, w->nrels, sizeof *w->rels, cmp_rel) : NULL;
}

static void db_changed(lv_rowwal *w, uint32_t db)
{
    LV_GROW(w->dbs, w->ndbs, w->dcap);
    w->dbs[w->ndbs++] = db;
}

/* ---- open transactions: linear probing on the xid, backward-shift deletion (no tombstones) ---- */

static size_t slot_of(const lv_rowwal *w, uint32_t xid)
{
    uint32_t h = xid * 0x9E3779B1u;
    return (h ^ h >> 15) & (w->xcap - 1);
}

static size_t xact_find(const lv_rowwal *w, uint32_t xid)
{
    size_t i = slot_of(w, xid);
    while (w->xacts[i].xid && w->xacts[i].xid != xid)
        i = (i + 1) & (w->xcap - 1);
    return i;
}

static void xact_grow(lv_rowwal *w)
{
    lv_rowwal_xact *old = w->xacts;
    size_t ocap = w->xcap;
    w->xcap = ocap ? ocap * 2 : 1024;
    w->xacts = lv_xcalloc(w->xcap, sizeof *w->xacts);
    for (size_t i = 0; i < ocap; i++)
        if (old[i].xid)
            w->xacts[xact_find(w, old[i].xid)] = old[i];
    free(old);
}

static void xact_remove(lv_rowwal *w, size_t i)
{
    size_t mask = w->xcap - 1, j = i;
    w->nxacts--;
    for (;;) {
        w->xacts[i].xid = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!w->xacts[j].xid)
                return;
            size_t k = slot_of(w, w->xacts[j].xid);
            /* the entry at j may stay unless its home k lies cyclically outside (i, j] */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            break;
        }
        w->xacts[i] = w->xacts[j];
        i = j;
    }
}

static void add_rows(lv_rowwal *w, uint32_t xid, uint32_t rel, int64_t rows)
{
    if (2 * (w->nxacts + 1) > w->xcap)
        xact_grow(w);
    size_t i = xact_find(w, xid);
    if (!w->xacts[i].xid) {
        w->xacts[i] = (lv_rowwal_xact){xid, 0};
        w->nxacts++;
    }
    for (uint32_t c = w->xacts[i].head; c; c = w->cells[c - 1].next)
        if (w->cells[c - 1].rel == rel) {
            w->cells[c - 1].rows += rows;
            return;
        }
    size_t c;
    if (w->cfree) {
        c = w->cfree - 1;
        w->cfree = w->cells[c].next;
    } else {
        LV_GROW(w->cells, w->ncells, w->ccap);
        c = w->ncells++;
    }
    w->cells[c] = (lv_rowwal_cell){rel, w->xacts[i].head, rows};
    w->xacts[i].head = (uint32_t)c + 1;
}

/* Does snapshot s see the transaction with the 32-bit id xid (its epoch: the one that puts it nearest s's
 * xmin, as PostgreSQL widens ids)? */
static int snapshot_sees(const lv_pgman_snapshot *s, uint32_t xid)
{
    uint64_t x = (s->xmin & ~(uint64_t)0xFFFFFFFFu) | xid;
    if (x + 0x80000000u < s->xmin)
        x += (uint64_t)1 << 32;
    else if (x > s->xmin + 0x80000000u && x >= ((uint64_t)1 << 32))
        x -= (uint64_t)1 << 32;
    if (x < s->xmin)
        return 1;
    if (x >= s->xmax)
        return 0;
    size_t lo = 0, hi = s->nxip;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->xip[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == s->nxip || s->xip[lo] != x;
}

/* The snapshot database db's counts were taken in (lv_rowwal_snapshots), or NULL. */
static const lv_pgman_snapshot *snapshot_of(const lv_rowwal *w, uint32_t db)
{
    for (size_t i = 0; i < w->nsnaps; i++)
        if (w->snaps[i].oid == db && w->snaps[i].snap.xmax)
            return &w->snaps[i].snap;
    return NULL;
}

/* xid ended: its rows go to the tables (committed) or nowhere (aborted). top: its top-level transaction
 * (xid itself, or the one whose commit lists it), which a counting snapshot may already have seen. */
static void end_xact(lv_rowwal *w, uint32_t xid, uint32_t top, int committed)
{
    if (!w->nxacts || !xid)
        return;
    size_t i = xact_find(w, xid);
    if (!w->xacts[i].xid)
        return;
    uint32_t c = w->xacts[i].head;
    while (c) {
        lv_rowwal_cell *cell = &w->cells[c - 1];
        uint32_t next = cell->next;
        if (committed) {
            const lv_pgman_snapshot *sn = w->nsnaps ? snapshot_of(w, w->rels[cell->rel].db) : NULL;
            if (!sn || !snapshot_sees(sn, top))
                w->rels[cell->rel].delta += cell->rows;
        }
        cell->next = (uint32_t)w->cfree;
        w->cfree = c;
        c = next;
    }
    xact_remove(w, i);
}

typedef struct scan_arg {
    lv_rowwal *w;
    uint64_t to, last_end;
    int reached;
} scan_arg;

static int on_record(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    (void)seg;
    scan_arg *a = arg;
    lv_rowwal *w = a->w;
    if (rec->lsn >= a->to) {
        a->reached = 1;
        return 1;
    }
    w->records++;
    a->last_end = rec->end_lsn;
    /* Hint bits cache a transaction's outcome; they change no row's visibility. The counts of the previous
     * backup set them on every page with fresh rows, so these images would make most tables "changed". */
    int hint = rec->rmid == RM_XLOG && (rec->info & 0xF0) == FPI_FOR_HINT;
    int32_t delta;
    lv_wal_rows_kind kind = hint ? LV_ROWS_NONE : lv_wal_rows_effect(rec, &delta);
    for (uint32_t i = 0; i < rec->nblocks && !hint; i++) {
        const lv_walrec_block *b = &rec->blocks[i];
        lv_rowwal_rel *t = b->fork == 0 ? find(w, b->spc, b->db, b->rel) : NULL;
        if (!t)
            continue;
        t->changed = 1;
        if (kind == LV_ROWS_UNKNOWN)
            t->unknown = 1;
        else if (kind == LV_ROWS_DELTA && i == 0 && delta) {
            if (rec->xid)
                add_rows(w, rec->xid, (uint32_t)(t - w->rels), delta);
            else
                t->unknown = 1; /* rows without a transaction: not expected, not guessed */
        }
    }
    /* CREATE DATABASE's records (both strategies; 15 renumbered them) start with the new database's oid */
    uint8_t op = rec->info & 0xF0;
    if (rec->rmid == RM_DBASE && rec->main_len >= 4 && (op == 0x00 || (rd->pg_version >= 15 && op == 0x10))) {
        uint32_t db;
        memcpy(&db, rec->main, 4);
        db_changed(w, db);
    }
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK)
        return -1;
    if (ev.kind == LV_WEV_DB_DROP)
        db_changed(w, ev.dbid);
    else if (ev.kind == LV_WEV_TRUNCATE) {
        lv_rowwal_rel *t = find(w, ev.rfn.spc, ev.rfn.db, ev.rfn.rel);
        if (t)
            t->changed = t->unknown = 1;
    } else if (ev.kind == LV_WEV_COMMIT || ev.kind == LV_WEV_ABORT) {
        /* a commit lists every committed subtransaction; an abort those it rolls back with it */
        int committed = ev.kind == LV_WEV_COMMIT;
        end_xact(w, ev.xid, ev.xid, committed);
        for (uint32_t i = 0; i < ev.nsubxacts; i++)
            end_xact(w, lv_wal_event_subxact(&ev, i), ev.xid, committed);
    }
    return 0;
}

void lv_rowwal_snapshots(lv_rowwal *w, const lv_pgman_database *dbs, size_t n)
{
    w->snaps = dbs;
    w->nsnaps = n;
}

void lv_rowwal_pending(lv_rowwal *w, const lv_pgman_pending *p, size_t n)
{
    w->pre = p;
    w->npre = n;
}

int lv_rowwal_scan(const lv_repo *r, uint32_t tli, uint64_t from, uint32_t to_tli, uint64_t to, lv_rowwal *w)
{
    if (w->nrels)
        qsort(w->rels, w->nrels, sizeof *w->rels, cmp_rel);
    for (size_t i = 0; i < w->npre; i++) {
        const lv_pgman_pending *p = &w->pre[i];
        lv_rowwal_rel *t = find(w, p->tablespace, p->database, p->relfilenode);
        if (t) { /* changed: carrying its count unchanged would miss these rows if they commit */
            t->changed = 1;
            add_rows(w, p->xid, (uint32_t)(t - w->rels), p->rows);
        }
    }
    w->pre = NULL;
    w->npre = 0;
    lv_wal_segs s;
    int rc = lv_wal_segs_open(r, tli, from, to_tli, &s);
    if (rc != LV_OK)
        return rc;
    scan_arg a = {w, to, from, 0};
    for (size_t i = 0; i < s.n && rc == LV_OK && !a.reached && s.v[i].start_lsn < to; i++) {
        w->segments++;
        rc = lv_wal_segs_scan(r, &s, i, from, on_record, &a);
        if (rc == 1)
            rc = LV_OK; /* reached `to` */
        else if (rc == -1)
            rc = lv_err(LV_ERR_CORRUPT, "a WAL record in %s could not be decoded: %s", s.v[i].obj.key, lv_errmsg());
    }
    /* Every record before `to` must have been read: a record at or past it was seen, or one ended there. */
    if (rc == LV_OK && !a.reached && a.last_end < to)
        rc = lv_err(LV_ERR_CORRUPT, "the archived WAL ends before the backup's stop (last segment %s)",
                    s.range.last_segment);
    lv_wal_segs_free(&s);
    return rc;
}

int lv_rowwal_rows(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel, int64_t prev, int64_t *rows,
                   int *derived)
{
    *derived = 0;
    for (size_t i = 0; i < w->ndbs; i++)
        if (w->dbs[i] == db)
            return 0;
    const lv_rowwal_rel *t = find(w, spc, db, rel);
    if (!t || t->unknown || prev < 0)
        return 0;
    if (!t->changed) {
        *rows = prev;
        return 1;
    }
    if (t->delta < -prev)
        return 0; /* fewer than none: something this reading does not understand */
    *rows = prev + t->delta;
    *derived = 1;
    return 1;
}

void lv_rowwal_open_rows(const lv_rowwal *w, uint32_t xmin, lv_pgman_pending **out, uint32_t *n)
{
    lv_pgman_pending *v = NULL;
    size_t cnt = 0, cap = 0;
    for (size_t i = 0; i < w->xcap; i++) {
        const lv_rowwal_xact *x = &w->xacts[i];
        if (!x->xid || (xmin && (int32_t)(x->xid - xmin) < 0)) /* TransactionIdPrecedes */
            continue;
        for (uint32_t c = x->head; c; c = w->cells[c - 1].next) {
            const lv_rowwal_cell *cell = &w->cells[c - 1];
            if (!cell->rows)
                continue;
            const lv_rowwal_rel *t = &w->rels[cell->rel];
            LV_GROW(v, cnt, cap);
            v[cnt++] = (lv_pgman_pending){x->xid, t->spc, t->db, t->rel, cell->rows};
        }
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, lv_pgman_pending_cmp);
    *out = v;
    *n = (uint32_t)cnt;
}

void lv_rowwal_free(lv_rowwal *w)
{
    free(w->rels);
    free(w->dbs);
    free(w->xacts);
    free(w->cells);
    memset(w, 0, sizeof *w);
}
