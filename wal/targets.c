/* Finding recovery targets in the archived WAL (contract in wal/targets.h). */
#include "wal/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

#define PREPARE_BACK_MAX 64

void lv_wal_xact_end_free(lv_wal_xact_end *e)
{
    free(e->subxacts);
    e->subxacts = NULL;
    e->nsubxacts = 0;
}

typedef struct find_arg {
    uint32_t xid;
    lv_wal_xact_end *out;
    int found;
    char gid[201];      /* a PREPARE of xid seen on the way */
    uint32_t gid_db;
} find_arg;

static int find_cb(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    find_arg *a = arg;
    if (rec->rmid != 1)
        return LV_OK;
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    if (ev.kind == LV_WEV_PREPARE && ev.xid == a->xid) {
        snprintf(a->gid, sizeof a->gid, "%s", ev.gid);
        a->gid_db = ev.dbid;
        return LV_OK;
    }
    if ((ev.kind != LV_WEV_COMMIT && ev.kind != LV_WEV_ABORT) || ev.xid != a->xid)
        return LV_OK;
    lv_wal_xact_end *o = a->out;
    o->xid = ev.xid;
    o->lsn = rec->lsn;
    o->tli = seg->obj.name.tli;
    o->time_us = ev.time_us;
    o->commit = ev.kind == LV_WEV_COMMIT;
    o->prepared = ev.prepared;
    o->dbid = ev.dbid;
    o->nsubxacts = ev.nsubxacts;
    o->subxacts = lv_xcalloc(ev.nsubxacts ? ev.nsubxacts : 1, sizeof *o->subxacts);
    for (uint32_t i = 0; i < ev.nsubxacts; i++)
        o->subxacts[i] = lv_wal_event_subxact(&ev, i);
    a->found = 1;
    return 1;
}

int lv_wal_find_xact_end(const lv_repo *r, lv_wal_segs *s, size_t from_i, uint32_t xid, lv_wal_xact_end *out)
{
    memset(out, 0, sizeof *out);
    find_arg a = {.xid = xid, .out = out};
    int rc = LV_OK;
    size_t i;
    for (i = from_i; i < s->n; i++) {
        if (s->v[i].sum && !lv_walsum_has_xid(s->v[i].sum, xid))
            continue;
        rc = lv_wal_segs_scan(r, s, i, 0, find_cb, &a);
        if (rc == 1 || rc != LV_OK)
            break;
    }
    if (rc != LV_OK && rc != 1)
        return rc;
    rc = LV_OK;
    if (!a.found) {
        char from[LV_LSN_TEXT_MAX], to[LV_LSN_TEXT_MAX];
        lv_lsn_format(from_i < s->n ? s->v[from_i].start_lsn : s->range.end_lsn, from);
        lv_lsn_format(s->range.end_lsn, to);
        return lv_err(LV_ERR_NOT_FOUND, "transaction %u has no commit or abort in the archived WAL from %s to %s "
                      "(timeline %u to %u)", xid, from, to, s->range.start_tli, s->range.end_tli);
    }
    if (out->prepared) {
        if (a.gid[0]) {
            snprintf(out->gid, sizeof out->gid, "%s", a.gid);
            out->prepare_dbid = a.gid_db;
        } else {
            rc = lv_wal_find_prepare(r, s, i, xid, out->gid, &out->prepare_dbid);
        }
    }
    return rc;
}

typedef struct prep_arg {
    uint32_t xid;
    char *gid;
    uint32_t *dbid;
} prep_arg;

static int prep_cb(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    (void)seg;
    prep_arg *a = arg;
    if (rec->rmid != 1 || (rec->info & 0x70) != 0x10)
        return LV_OK;
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    if (ev.kind != LV_WEV_PREPARE || ev.xid != a->xid)
        return LV_OK;
    snprintf(a->gid, 201, "%s", ev.gid);
    *a->dbid = ev.dbid;
    return 1;
}

int lv_wal_find_prepare(const lv_repo *r, lv_wal_segs *s, size_t before_i, uint32_t xid, char gid[201], uint32_t *dbid)
{
    gid[0] = '\0';
    *dbid = 0;
    if (before_i >= s->n)
        before_i = s->n ? s->n - 1 : 0;
    for (size_t i = 0; i <= before_i && i < s->n; i++) {
        const lv_walsum *sum = s->v[i].sum;
        for (size_t k = 0; sum && k < sum->npoints; k++)
            if (sum->points[k].kind == LV_WALSUM_PREPARE && sum->points[k].xid == xid) {
                snprintf(gid, 201, "%s", sum->points[k].name);
                *dbid = sum->points[k].dbid;
                return LV_OK;
            }
    }
    prep_arg a = {xid, gid, dbid};
    for (size_t i = 0; i <= before_i && i < s->n; i++) { /* a PREPARE continued into the next segment */
        const lv_walsum *sum = s->v[i].sum;
        for (size_t k = 0; sum && k < sum->npoints; k++)
            if (sum->points[k].kind == LV_WALSUM_CUT_PREPARE && sum->points[k].xid == xid) {
                int rc = lv_wal_segs_scan(r, s, i, sum->points[k].lsn, prep_cb, &a);
                if (rc == 1)
                    return LV_OK;
                if (rc != LV_OK)
                    return rc;
            }
    }
    int reads = 0;
    for (size_t i = before_i + 1; i-- > 0 && i < s->n && reads < PREPARE_BACK_MAX;) {
        if (s->v[i].sum)
            continue; /* its summary said no */
        reads++;
        int rc = lv_wal_segs_scan(r, s, i, 0, prep_cb, &a);
        if (rc == 1)
            return LV_OK;
        if (rc != LV_OK)
            return rc;
    }
    return LV_OK;
}

typedef struct rp_arg {
    const char *name;
    lv_wal_point *v;
    size_t n, cap;
} rp_arg;

static int rp_cb(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    rp_arg *a = arg;
    if (rec->rmid != 0 || (rec->info & 0xF0) != 0x70)
        return LV_OK;
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK) {
        lv_err_clear();
        return LV_OK;
    }
    if (ev.kind == LV_WEV_RESTORE_POINT && strcmp(ev.name, a->name) == 0) {
        LV_GROW(a->v, a->n, a->cap);
        a->v[a->n++] = (lv_wal_point){rec->lsn, seg->obj.name.tli, ev.time_us};
    }
    return LV_OK;
}

int lv_wal_find_restore_points(const lv_repo *r, lv_wal_segs *s, const char *name, lv_wal_point **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = lv_wal_segs_summarize(r, s, 0, s->n, 0);
    if (rc != LV_OK)
        return rc;
    rp_arg a = {.name = name};
    for (size_t i = 0; i < s->n && rc == LV_OK; i++) {
        const lv_walsum *sum = s->v[i].sum;
        for (size_t k = 0; sum && k < sum->npoints && rc == LV_OK; k++) {
            const lv_walsum_point *p = &sum->points[k];
            if (p->lsn < s->range.from_lsn || p->lsn >= s->v[i].end_lsn)
                continue;
            if (p->kind == LV_WALSUM_RESTORE_POINT && strcmp(p->name, name) == 0) {
                LV_GROW(a.v, a.n, a.cap);
                a.v[a.n++] = (lv_wal_point){p->lsn, s->v[i].obj.name.tli, p->time_us};
            } else if (p->kind == LV_WALSUM_CUT_RESTORE_POINT) {
                rc = lv_wal_segs_scan(r, s, i, p->lsn, rp_cb, &a); /* the one continued into the next */
            }
        }
    }
    if (rc != LV_OK) {
        free(a.v);
        return rc;
    }
    *out = a.v;
    *n = a.n;
    return LV_OK;
}

void lv_wal_restore_cmd(uint32_t xid, uint64_t lsn, uint32_t tli, char *out, size_t n)
{
    char target[48], tl[32] = "";
    if (xid) {
        snprintf(target, sizeof target, "--target-xid %u", xid);
    } else {
        char l[LV_LSN_TEXT_MAX];
        lv_lsn_format(lsn, l);
        snprintf(target, sizeof target, "--target-lsn %s", l);
    }
    if (tli)
        snprintf(tl, sizeof tl, " --target-timeline %u", tli);
    snprintf(out, n, "labvault restore pg --to DIR %s --target-exclusive%s", target, tl);
}
