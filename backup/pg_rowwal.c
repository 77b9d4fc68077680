/* Tables the WAL changed (contract in backup/pg_rowwal.h). */
#include "backup/pg_rowwal.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "wal/records.h"
#include "wal/segscan.h"

#define RM_XLOG 0       /* RM_XLOG_ID */
#define FPI_FOR_HINT 0xA0 /* XLOG_FPI_FOR_HINT: a page image written because hint bits were set */
#define RM_DBASE 4      /* RM_DBASE_ID */

void lv_rowwal_track(lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel)
{
    LV_GROW(w->rels, w->nrels, w->rcap);
    w->rels[w->nrels++] = (lv_rowwal_rel){spc, db, rel, 0};
}

static int cmp_rel(const void *a, const void *b)
{
    const lv_rowwal_rel *x = a, *y = b;
    if (x->spc != y->spc)
        return x->spc < y->spc ? -1 : 1;
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    return x->rel < y->rel ? -1 : x->rel > y->rel;
}

static lv_rowwal_rel *find(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel)
{
    lv_rowwal_rel key = {spc, db, rel, 0};
    return w->nrels ? bsearch(&key, w->rels, w->nrels, sizeof *w->rels, cmp_rel) : NULL;
}

static void db_changed(lv_rowwal *w, uint32_t db)
{
    LV_GROW(w->dbs, w->ndbs, w->dcap);
    w->dbs[w->ndbs++] = db;
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
    if (rec->lsn >= a->to) {
        a->reached = 1;
        return 1;
    }
    a->w->records++;
    a->last_end = rec->end_lsn;
    /* Hint bits cache a transaction's outcome; they change no row's visibility. The counts of the previous
     * backup set them on every page with fresh rows, so these images would make most tables "changed". */
    int hint = rec->rmid == RM_XLOG && (rec->info & 0xF0) == FPI_FOR_HINT;
    for (uint32_t i = 0; i < rec->nblocks && !hint; i++) {
        const lv_walrec_block *b = &rec->blocks[i];
        lv_rowwal_rel *t = b->fork == 0 ? find(a->w, b->spc, b->db, b->rel) : NULL;
        if (t)
            t->changed = 1;
    }
    /* CREATE DATABASE's records (both strategies; 15 renumbered them) start with the new database's oid */
    uint8_t op = rec->info & 0xF0;
    if (rec->rmid == RM_DBASE && rec->main_len >= 4 && (op == 0x00 || (rd->pg_version >= 15 && op == 0x10))) {
        uint32_t db;
        memcpy(&db, rec->main, 4);
        db_changed(a->w, db);
    }
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK)
        return -1;
    if (ev.kind == LV_WEV_DB_DROP)
        db_changed(a->w, ev.dbid);
    else if (ev.kind == LV_WEV_TRUNCATE) {
        lv_rowwal_rel *t = find(a->w, ev.rfn.spc, ev.rfn.db, ev.rfn.rel);
        if (t)
            t->changed = 1;
    }
    return 0;
}

int lv_rowwal_scan(const lv_repo *r, uint32_t tli, uint64_t from, uint64_t to, lv_rowwal *w)
{
    if (w->nrels)
        qsort(w->rels, w->nrels, sizeof *w->rels, cmp_rel);
    lv_wal_segs s;
    int rc = lv_wal_segs_open(r, tli, from, tli, &s);
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

int lv_rowwal_changed(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel)
{
    for (size_t i = 0; i < w->ndbs; i++)
        if (w->dbs[i] == db)
            return 1;
    const lv_rowwal_rel *t = find(w, spc, db, rel);
    return !t || t->changed;
}

void lv_rowwal_free(lv_rowwal *w)
{
    free(w->rels);
    free(w->dbs);
    memset(w, 0, sizeof *w);
}
