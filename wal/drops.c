/* Drops in the archived WAL (contract in wal/drops.h). */
#include "wal/drops.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "wal/relnames.h"
#include "wal/segscan.h"
#include "wal/targets.h"
#include "wal/timeline.h"
#include "catalog/wal.h"

#define INPLACE_KEPT 256 /* recent in-place updates of pg_database remembered */

const char *lv_wal_drop_kind_str(lv_wal_drop_kind k)
{
    return k == LV_DROP_TABLE ? "drop" : k == LV_DROP_REWRITE ? "truncate-or-rewrite" : "drop-database";
}

typedef struct pending_db {
    uint32_t xid, dbid;
    uint64_t target;
} pending_db;

/* A row of pg_database: its page and line pointer, and the record that touched it. */
typedef struct dbrow {
    uint32_t xid, blkno;
    uint16_t offnum;
    uint64_t lsn;
} dbrow;

typedef struct prepared {
    uint32_t xid;
    char gid[201];
} prepared;

typedef struct scan_state {
    lv_wal_drop_cb cb;
    void *arg;
    int64_t since_us;
    uint32_t *created; /* xids that created a main fork, until they end */
    size_t ncreated, ccreated;
    pending_db *dbs;
    size_t ndbs, cdbs;
    dbrow inplace[INPLACE_KEPT]; /* the last in-place updates of pg_database rows (a ring) */
    size_t ninplace;
    dbrow *deletes; /* pg_database rows deleted by transactions still open */
    size_t ndeletes, cdeletes;
    prepared *preps; /* PREPARE TRANSACTIONs seen, until their COMMIT/ABORT PREPARED */
    size_t npreps, cpreps;
    lv_wal_rfn *rels;
    size_t crels;
} scan_state;

static int has_created(const scan_state *s, uint32_t xid)
{
    for (size_t i = 0; i < s->ncreated; i++)
        if (s->created[i] == xid)
            return 1;
    return 0;
}

static void forget(scan_state *s, uint32_t xid)
{
    for (size_t i = 0; i < s->ncreated;)
        if (s->created[i] == xid)
            s->created[i] = s->created[--s->ncreated];
        else
            i++;
    for (size_t i = 0; i < s->ndbs;)
        if (s->dbs[i].xid == xid)
            s->dbs[i] = s->dbs[--s->ndbs];
        else
            i++;
    for (size_t i = 0; i < s->ndeletes;)
        if (s->deletes[i].xid == xid)
            s->deletes[i] = s->deletes[--s->ndeletes];
        else
            i++;
}

/* Where to stop for the DROP DATABASE of transaction xid whose drop record is at lsn: the last in-place
 * update of the row its DELETE removed, before that DELETE; else the DELETE; else the drop record. */
static uint64_t db_target(const scan_state *s, uint32_t xid, uint64_t lsn)
{
    const dbrow *del = NULL;
    for (size_t i = 0; i < s->ndeletes; i++)
        if (s->deletes[i].xid == xid)
            del = &s->deletes[i];
    if (!del)
        return lsn;
    uint64_t best = 0;
    size_t n = s->ninplace < INPLACE_KEPT ? s->ninplace : INPLACE_KEPT;
    for (size_t i = 0; i < n; i++) {
        const dbrow *p = &s->inplace[i];
        if (p->blkno == del->blkno && p->offnum == del->offnum && p->lsn < del->lsn && p->lsn > best)
            best = p->lsn;
    }
    return best ? best : del->lsn;
}

static void gid_of(scan_state *s, uint32_t xid, char gid[201])
{
    gid[0] = '\0';
    for (size_t i = 0; i < s->npreps; i++)
        if (s->preps[i].xid == xid) {
            snprintf(gid, 201, "%s", s->preps[i].gid);
            s->preps[i] = s->preps[--s->npreps];
            return;
        }
}

static int on_record(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg)
{
    scan_state *s = arg;
    lv_wal_event ev;
    if (lv_wal_event_decode(rd, rec, &ev) != LV_OK) {
        lv_err_clear(); /* a malformed record of interest behind a right CRC: skip it */
        return LV_OK;
    }
    switch (ev.kind) {
    case LV_WEV_CREATE:
        if (ev.fork == 0 && !has_created(s, rec->xid)) {
            LV_GROW(s->created, s->ncreated, s->ccreated);
            s->created[s->ncreated++] = rec->xid;
        }
        return LV_OK;
    case LV_WEV_DB_INVALIDATE:
        s->inplace[s->ninplace++ % INPLACE_KEPT] = (dbrow){0, ev.blkno, ev.offnum, rec->lsn};
        return LV_OK;
    case LV_WEV_HEAP:
        if (ev.heap_op == LV_HEAP_DELETE && ev.rfn.spc == 1664 && ev.rfn.db == 0 && ev.rfn.rel == 1262) {
            LV_GROW(s->deletes, s->ndeletes, s->cdeletes);
            s->deletes[s->ndeletes++] = (dbrow){rec->xid, ev.blkno, ev.offnum, rec->lsn};
        }
        return LV_OK;
    case LV_WEV_DB_DROP:
        LV_GROW(s->dbs, s->ndbs, s->cdbs);
        s->dbs[s->ndbs++] = (pending_db){rec->xid, ev.dbid, db_target(s, rec->xid, rec->lsn)};
        return LV_OK;
    case LV_WEV_PREPARE:
        LV_GROW(s->preps, s->npreps, s->cpreps);
        s->preps[s->npreps].xid = ev.xid;
        snprintf(s->preps[s->npreps++].gid, sizeof s->preps->gid, "%s", ev.gid);
        return LV_OK;
    case LV_WEV_COMMIT:
    case LV_WEV_ABORT:
        break;
    default:
        return LV_OK;
    }
    int rc = LV_OK;
    if (ev.kind == LV_WEV_COMMIT) {
        lv_wal_drop d = {.lsn = rec->lsn, .target_lsn = rec->lsn, .time_us = ev.time_us, .xid = ev.xid,
                         .dbid = ev.dbid, .tli = seg->obj.name.tli, .prepared = ev.prepared};
        for (size_t i = 0; i < s->ndbs; i++)
            if (s->dbs[i].xid == ev.xid) {
                d.kind = LV_DROP_DATABASE;
                d.dbid = s->dbs[i].dbid;
                d.target_lsn = s->dbs[i].target;
            }
        if (!d.kind && ev.nrels > 0) {
            d.kind = has_created(s, ev.xid) ? LV_DROP_REWRITE : LV_DROP_TABLE;
            for (uint32_t i = 0; i < ev.nsubxacts && d.kind == LV_DROP_TABLE; i++)
                if (has_created(s, lv_wal_event_subxact(&ev, i)))
                    d.kind = LV_DROP_REWRITE;
        }
        if (ev.prepared)
            gid_of(s, ev.xid, d.gid);
        if (d.kind && ev.time_us >= s->since_us) {
            if (s->crels < ev.nrels) {
                free(s->rels);
                s->crels = ev.nrels;
                s->rels = lv_xmalloc(s->crels * sizeof *s->rels);
            }
            for (uint32_t i = 0; i < ev.nrels; i++)
                s->rels[i] = lv_wal_event_rel(&ev, i);
            d.nrels = ev.nrels;
            d.rels = s->rels;
            rc = s->cb(s->arg, &d);
        }
    } else if (ev.prepared) {
        char gid[201];
        gid_of(s, ev.xid, gid);
    }
    forget(s, ev.xid);
    for (uint32_t i = 0; i < ev.nsubxacts; i++)
        forget(s, lv_wal_event_subxact(&ev, i));
    return rc;
}

static int skippable(const lv_repo *r, const lv_wal_object *o, int64_t since_us)
{
    int known = 0;
    int64_t b, e;
    if (!since_us || !r->cat || lv_catalog_wal_times(r->cat, o->name.name, &known, &b, &e) != LV_OK) {
        lv_err_clear();
        return 0;
    }
    return known && e > 0 && (e + 1) * 1000000 <= since_us;
}

/* A drop committed with COMMIT PREPARED whose PREPARE came before the scan: its GID from the summaries. */
typedef struct gid_fill {
    const lv_repo *r;
    lv_wal_segs *s;
    lv_wal_drop_cb cb;
    void *arg;
} gid_fill;

static int fill_gid(void *arg, const lv_wal_drop *d)
{
    gid_fill *g = arg;
    if (!d->prepared || d->gid[0])
        return g->cb(g->arg, d);
    lv_wal_drop c = *d;
    uint32_t db;
    if (lv_wal_find_prepare(g->r, g->s, lv_wal_segs_index(g->s, d->lsn), d->xid, c.gid, &db) != LV_OK)
        lv_err_clear(); /* the GID stays unknown: the advice says how to find it */
    return g->cb(g->arg, &c);
}

int lv_wal_drops_scan(const lv_repo *r, uint32_t tli, uint64_t from_lsn, int64_t since_us, lv_wal_range *range,
                      lv_wal_drop_cb cb, void *arg)
{
    lv_wal_segs segs;
    int rc = lv_wal_segs_open(r, tli, from_lsn, 0, &segs);
    if (rc != LV_OK)
        return rc;
    *range = segs.range;
    gid_fill g = {r, &segs, cb, arg};
    scan_state s = {.cb = fill_gid, .arg = &g, .since_us = since_us};
    for (size_t i = 0; i < segs.n && rc == LV_OK; i++)
        if (!skippable(r, &segs.v[i].obj, since_us))
            rc = lv_wal_segs_scan(r, &segs, i, from_lsn, on_record, &s);
    lv_wal_segs_free(&segs);
    free(s.created);
    free(s.dbs);
    free(s.deletes);
    free(s.preps);
    free(s.rels);
    return rc;
}

/* ---- names and where to start (lv_wal_drops_list) -------------------------------------------------- */

typedef struct named_arg {
    lv_wal_names *names;
    int multi;                 /* the archive has more than one timeline: commands name it */
    lv_wal_drop_named_cb cb;
    void *arg;
    const char **rels, **kinds;
    char (*kindbuf)[2];
    size_t crels;
} named_arg;

static int named(void *arg, const lv_wal_drop *d)
{
    named_arg *c = arg;
    if (d->nrels > c->crels) {
        c->crels = d->nrels;
        c->rels = lv_xrealloc(c->rels, c->crels * sizeof *c->rels);
        c->kinds = lv_xrealloc(c->kinds, c->crels * sizeof *c->kinds);
        c->kindbuf = lv_xrealloc(c->kindbuf, c->crels * sizeof *c->kindbuf);
    }
    for (uint32_t i = 0; i < d->nrels; i++) {
        const lv_wal_relname *n = lv_wal_names_rel(c->names, d->rels[i].db, d->rels[i].rel, d->lsn);
        c->kindbuf[i][0] = n ? n->relkind : '\0';
        c->kindbuf[i][1] = '\0';
        c->kinds[i] = c->kindbuf[i];
        c->rels[i] = n ? lv_xasprintf("%s.%s", n->schema, n->name) : NULL;
    }
    lv_wal_drop_named n = {d, lv_wal_names_db(c->names, d->dbid), c->rels, c->kinds, ""};
    lv_wal_restore_cmd(d->kind == LV_DROP_DATABASE ? 0 : d->xid, d->target_lsn, c->multi ? d->tli : 0, n.restore,
                       sizeof n.restore);
    int rc = c->cb(c->arg, &n);
    for (uint32_t i = 0; i < d->nrels; i++)
        free((void *)(uintptr_t)c->rels[i]);
    return rc;
}

int lv_wal_drops_list(const lv_repo *r, uint64_t since_lsn, int64_t since_us, lv_wal_range *range, lv_wal_drop_named_cb cb,
                      void *arg)
{
    named_arg c = {.cb = cb, .arg = arg};
    int rc = lv_wal_names_load(r, &c.names);
    uint32_t tli = 0, otli = 0, newest = 1;
    uint64_t from = 0, olsn = 0;
    if (rc == LV_OK && lv_wal_names_oldest(c.names, &otli, &olsn) != LV_OK)
        lv_err_clear(); /* no backup: from the oldest segment */
    if (rc == LV_OK)
        rc = lv_wal_scan_start(r, otli, olsn, since_lsn, &tli, &from);
    if (rc == LV_OK)
        rc = lv_wal_newest_timeline(r, &newest);
    c.multi = newest > 1;
    if (rc == LV_OK)
        rc = lv_wal_drops_scan(r, tli, from, since_us, range, named, &c);
    lv_wal_names_free(c.names);
    free(c.rels);
    free(c.kinds);
    free(c.kindbuf);
    return rc;
}
