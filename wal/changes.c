/* Transactions that changed many rows (contract in wal/changes.h). */
#include "wal/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/sort.h"
#include "wal/segscan.h"
#include "wal/summary.h"
#include "wal/targets.h"

#define DEFAULT_MIN_ROWS 1000
#define CHANGES_TAIL_MAX 16 /* segments read after a transaction's last summarized rows, for its end */

/* A summary row and the segment it is in; all of them sorted by (xid, segment). */
typedef struct srow {
    const lv_walsum_change *c;
    size_t seg;
} srow;

typedef struct rows {
    srow *v;
    size_t n, cap;
} rows;

static int cmp_srow(const void *a, const void *b)
{
    const srow *x = a, *y = b;
    if (x->c->xid != y->c->xid)
        return x->c->xid < y->c->xid ? -1 : 1;
    return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static size_t first_of(const rows *r, uint32_t xid)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].c->xid < xid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A candidate: a transaction whose summarized rows of one relation reach the threshold. */
typedef struct cand {
    uint32_t xid;
    size_t first_seg, last_seg;
    uint64_t last_lsn;
} cand;

static int cmp_cand_newest(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->last_lsn > y->last_lsn ? -1 : x->last_lsn < y->last_lsn;
}

static uint64_t metric(const lv_wal_changes_opts *o, uint64_t ins, uint64_t upd, uint64_t del)
{
    return upd + del + (o->inserts ? ins : 0);
}

static int wanted(const lv_wal_changes_opts *o, lv_walsum_rel rel, uint64_t lsn)
{
    return !o->want || o->want(o->want_arg, rel.db, rel.rel, lsn);
}

/* ---- totals of one transaction --------------------------------------------------------------------- */

static void add_rel(lv_wal_change *x, size_t *cap, lv_walsum_rel rel, uint64_t ins, uint64_t upd, uint64_t del)
{
    for (size_t i = 0; i < x->nrels; i++) {
        lv_wal_change_rel *r = &x->rels[i];
        if (r->rel.rel == rel.rel && r->rel.db == rel.db && r->rel.spc == rel.spc) {
            r->inserted += ins, r->updated += upd, r->deleted += del;
            return;
        }
    }
    LV_GROW(x->rels, x->nrels, *cap);
    x->rels[x->nrels++] = (lv_wal_change_rel){rel, ins, upd, del};
}

static int has_xid(const uint32_t *v, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int has_seg(const size_t *v, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int acc_cb(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    (void)seg;
    lv_walsum_acc_record(arg, rd, rec);
    return LV_OK;
}

static int cmp_rel_rows(const void *a, const void *b)
{
    const lv_wal_change_rel *x = a, *y = b;
    uint64_t m = x->inserted + x->updated + x->deleted, n = y->inserted + y->updated + y->deleted;
    return m > n ? -1 : m < n;
}

/* Resolve candidate c into *x: its end, and its rows counted exactly around the summarized ones. */
static int resolve(const lv_repo *r, lv_wal_segs *s, const rows *all, const cand *c, lv_wal_change *x)
{
    memset(x, 0, sizeof *x);
    x->xid = c->xid;
    x->first_lsn = UINT64_MAX;
    /* Its end: in the summary of its last rows, else through the xid ranges. */
    uint32_t *xids = lv_xcalloc(1, sizeof *xids);
    size_t nx = 1;
    xids[0] = c->xid;
    lv_walsum_end end = LV_WALSUM_END_UNKNOWN;
    for (size_t k = first_of(all, c->xid); k < all->n && all->v[k].c->xid == c->xid; k++) {
        const lv_walsum_change *w = all->v[k].c;
        if (w->end == LV_WALSUM_END_COMMIT || w->end == LV_WALSUM_END_ABORT) {
            end = w->end;
            x->end_lsn = w->end_lsn;
            x->end_time_us = w->end_time_us;
            x->dbid = w->end_dbid;
            x->prepared = w->end_prepared;
            x->end_tli = s->v[all->v[k].seg].obj.name.tli;
        }
    }
    size_t *precise = lv_xcalloc(CHANGES_TAIL_MAX + 2, sizeof *precise);
    size_t np = 0;
    if (c->first_seg > 0)
        precise[np++] = c->first_seg - 1; /* it may have started there with fewer rows */
    int rc = LV_OK;
    if (end == LV_WALSUM_END_UNKNOWN) {
        lv_wal_xact_end e;
        rc = lv_wal_find_xact_end(r, s, c->last_seg, c->xid, &e);
        if (rc == LV_OK) {
            end = e.commit ? LV_WALSUM_END_COMMIT : LV_WALSUM_END_ABORT;
            x->end_lsn = e.lsn;
            x->end_time_us = e.time_us;
            x->end_tli = e.tli;
            x->dbid = e.prepared && e.prepare_dbid ? e.prepare_dbid : e.dbid;
            x->prepared = e.prepared;
            snprintf(x->gid, sizeof x->gid, "%s", e.gid);
            xids = lv_xrealloc(xids, (1 + e.nsubxacts) * sizeof *xids);
            for (uint32_t i = 0; i < e.nsubxacts; i++)
                xids[nx++] = e.subxacts[i];
        } else if (rc == LV_ERR_NOT_FOUND) {
            lv_err_clear(); /* still running, or its end is not archived yet */
            rc = LV_OK;
        }
        lv_wal_xact_end_free(&e);
        /* the segments after its last summarized rows, up to its end, counted record by record */
        size_t e_seg = end ? lv_wal_segs_index(s, x->end_lsn) : s->n - 1;
        for (size_t i = c->last_seg + 1; rc == LV_OK && i <= e_seg && i < s->n && np < CHANGES_TAIL_MAX + 2; i++)
            precise[np++] = i;
    } else if (x->prepared) {
        char gid[201];
        uint32_t db;
        if (lv_wal_find_prepare(r, s, c->last_seg, c->xid, gid, &db) == LV_OK)
            snprintf(x->gid, sizeof x->gid, "%s", gid);
        lv_err_clear();
    }
    x->end = end == LV_WALSUM_END_COMMIT ? LV_CHANGE_COMMITTED : end == LV_WALSUM_END_ABORT ? LV_CHANGE_ABORTED
                                                                                          : LV_CHANGE_OPEN;
    if (x->end == LV_CHANGE_OPEN) {
        /* a prepared transaction waiting for COMMIT PREPARED? */
        const lv_wal_seg *last = &s->v[c->last_seg];
        for (size_t k = 0; last->sum && k < last->sum->npoints; k++)
            if (last->sum->points[k].kind == LV_WALSUM_PREPARE && last->sum->points[k].xid == c->xid) {
                x->end = LV_CHANGE_PREPARED;
                x->prepared = 1;
                snprintf(x->gid, sizeof x->gid, "%s", last->sum->points[k].name);
            }
    }
    /* Exact rows where the summaries cannot speak: the segments in precise[], record by record. */
    lv_walsum_acc *acc = lv_walsum_acc_new();
    for (size_t i = 0; rc == LV_OK && i < np; i++)
        rc = lv_wal_segs_scan(r, s, precise[i], 0, acc_cb, acc);
    size_t cap = 0;
    if (rc == LV_OK) {
        lv_walsum_change *pr = NULL;
        size_t npr = 0;
        lv_walsum_acc_rows(acc, &pr, &npr);
        for (size_t i = 0; i < npr; i++) {
            if (!has_xid(xids, nx, pr[i].xid))
                continue;
            add_rel(x, &cap, pr[i].rel, pr[i].inserted, pr[i].updated, pr[i].deleted);
            if (pr[i].first_lsn < x->first_lsn)
                x->first_lsn = pr[i].first_lsn;
            if (pr[i].last_lsn > x->last_lsn)
                x->last_lsn = pr[i].last_lsn;
        }
        free(pr);
        /* and the summaries' rows of it and its subtransactions elsewhere */
        for (size_t j = 0; j < nx; j++)
            for (size_t k = first_of(all, xids[j]); k < all->n && all->v[k].c->xid == xids[j]; k++) {
                if (has_seg(precise, np, all->v[k].seg))
                    continue;
                const lv_walsum_change *w = all->v[k].c;
                add_rel(x, &cap, w->rel, w->inserted, w->updated, w->deleted);
                if (w->first_lsn < x->first_lsn)
                    x->first_lsn = w->first_lsn;
                if (w->last_lsn > x->last_lsn)
                    x->last_lsn = w->last_lsn;
            }
        lv_sort(x->rels, x->nrels, sizeof *x->rels, cmp_rel_rows);
    }
    lv_walsum_acc_free(acc);
    free(precise);
    free(xids);
    return rc;
}

/* ---- the search ------------------------------------------------------------------------------------ */

void lv_wal_changes_free(lv_wal_changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].rels);
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Keep only the wanted relations of x and say whether one of them reaches the threshold. */
static int keep(const lv_wal_changes_opts *o, lv_wal_change *x, uint64_t min)
{
    size_t k = 0;
    int hit = 0;
    for (size_t i = 0; i < x->nrels; i++) {
        if (!wanted(o, x->rels[i].rel, x->last_lsn))
            continue;
        x->rels[k++] = x->rels[i];
        hit |= metric(o, x->rels[i].inserted, x->rels[i].updated, x->rels[i].deleted) >= min;
    }
    x->nrels = k;
    return hit;
}

int lv_wal_changes_find(const lv_repo *r, uint32_t tli, uint64_t from_lsn, const lv_wal_changes_opts *o, lv_wal_changes *out)
{
    memset(out, 0, sizeof *out);
    double t0 = lv_mono_s();
    uint64_t min = o->min_rows ? o->min_rows : DEFAULT_MIN_ROWS;
    lv_wal_segs s;
    int rc = lv_wal_segs_open(r, tli, from_lsn, 0, &s);
    if (rc != LV_OK)
        return rc;
    out->range = s.range;
    out->segments = s.n;
    for (size_t i = 0; i < s.n; i++)
        out->summarized += s.v[i].sum != NULL;
    /* Segments without a summary: read once, summarized (and the summary kept). */
    if ((rc = lv_wal_segs_summarize(r, &s, 0, s.n, o->since_us ? o->since_us / 1000000 - 1 : 0)) != LV_OK)
        goto done;
    /* Every summary row, grouped by transaction. */
    rows all = {0};
    for (size_t i = 0; i < s.n; i++)
        for (size_t k = 0; s.v[i].sum && k < s.v[i].sum->nchanges; k++) {
            const lv_walsum_change *c = &s.v[i].sum->changes[k];
            if (c->first_lsn < from_lsn)
                continue;
            LV_GROW(all.v, all.n, all.cap);
            all.v[all.n++] = (srow){c, i};
        }
    lv_sort(all.v, all.n, sizeof *all.v, cmp_srow);
    /* The candidates: a relation's rows over the segments reach the threshold. */
    cand *cv = NULL;
    size_t ncv = 0, ccv = 0;
    for (size_t k = 0; k < all.n;) {
        uint32_t xid = all.v[k].c->xid;
        size_t e = k;
        while (e < all.n && all.v[e].c->xid == xid)
            e++;
        cand c = {xid, all.v[k].seg, all.v[e - 1].seg, 0};
        int hit = 0;
        for (size_t a = k; a < e; a++) {
            const lv_walsum_change *ca = all.v[a].c;
            if (ca->last_lsn > c.last_lsn)
                c.last_lsn = ca->last_lsn;
            if (hit || !wanted(o, ca->rel, ca->last_lsn))
                continue;
            uint64_t m = 0;
            for (size_t b = k; b < e; b++) {
                const lv_walsum_change *cb = all.v[b].c;
                if (cb->rel.rel == ca->rel.rel && cb->rel.db == ca->rel.db && cb->rel.spc == ca->rel.spc)
                    m += metric(o, cb->inserted, cb->updated, cb->deleted);
            }
            hit = m >= min;
        }
        if (hit) {
            LV_GROW(cv, ncv, ccv);
            cv[ncv++] = c;
        }
        k = e;
    }
    lv_sort(cv, ncv, sizeof *cv, cmp_cand_newest);
    size_t cap = 0;
    for (size_t i = 0; i < ncv && rc == LV_OK && (!o->limit || out->n < o->limit); i++) {
        lv_wal_change x;
        rc = resolve(r, &s, &all, &cv[i], &x);
        if (rc != LV_OK) {
            free(x.rels);
            break;
        }
        int old = o->since_us && x.end != LV_CHANGE_OPEN && x.end != LV_CHANGE_PREPARED && x.end_time_us < o->since_us;
        if (old || !keep(o, &x, min)) {
            free(x.rels);
            continue;
        }
        LV_GROW(out->v, out->n, cap);
        out->v[out->n++] = x;
    }
    free(cv);
    free(all.v);
done:
    out->read = s.downloads;
    out->seconds = lv_mono_s() - t0;
    lv_wal_segs_free(&s);
    if (rc != LV_OK)
        lv_wal_changes_free(out);
    return rc;
}
