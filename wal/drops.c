/* Drops in the archived WAL (contract in wal/drops.h). */
#include "wal/drops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "catalog/wal.h"
#include "catalog/catalog.h"
#include "pg/backups.h"
#include "pg/manifest.h"
#include "wal/archive.h"
#include "wal/stanza.h"
#include "wal/walcat.h"

const char *lv_wal_drop_kind_str(lv_wal_drop_kind k)
{
    return k == LV_DROP_TABLE ? "drop" : k == LV_DROP_REWRITE ? "truncate-or-rewrite" : "drop-database";
}

typedef struct pending_db {
    uint32_t xid, dbid;
    uint64_t target;
} pending_db;

typedef struct scan_state {
    lv_wal_drop_cb cb;
    void *arg;
    int64_t since_us;
    uint32_t *created; /* xids that created a main fork, until they end */
    size_t ncreated, ccreated;
    pending_db *dbs;
    size_t ndbs, cdbs;
    uint64_t last_inval;
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
}

static int on_record(scan_state *s, const lv_walrec_reader *rd, const lv_walrec *rec, uint32_t tli)
{
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
        s->last_inval = rec->lsn;
        return LV_OK;
    case LV_WEV_DB_DROP:
        LV_GROW(s->dbs, s->ndbs, s->cdbs);
        s->dbs[s->ndbs++] = (pending_db){rec->xid, ev.dbid, s->last_inval ? s->last_inval : rec->lsn};
        s->last_inval = 0;
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
                         .dbid = ev.dbid, .tli = tli, .prepared = ev.prepared};
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
    }
    forget(s, ev.xid);
    for (uint32_t i = 0; i < ev.nsubxacts; i++)
        forget(s, lv_wal_event_subxact(&ev, i));
    return rc;
}

/* Records starting in [lo, hi) of data. *cut receives where a record continuing past the data starts
 * (0 when none). */
static int scan_bytes(scan_state *s, const uint8_t *data, size_t len, uint64_t lo, uint64_t hi, uint32_t tli,
                      uint64_t *cut, const char *what)
{
    lv_walrec_reader rd;
    if (lv_walrec_init(&rd, data, len) != LV_OK)
        return lv_err(LV_ERR_CORRUPT, "WAL segment %s: %s", what, lv_errmsg());
    lv_walrec rec;
    lv_walrec_status st;
    int rc = LV_OK;
    while (rc == LV_OK && (st = lv_walrec_next(&rd, &rec)) == LV_WALREC_OK && rec.lsn < hi)
        if (rec.lsn >= lo)
            rc = on_record(s, &rd, &rec, tli);
    *cut = rc == LV_OK && rd.done && rd.status == LV_WALREC_CUT ? rd.pos : 0;
    lv_walrec_free(&rd);
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

int lv_wal_drops_scan(const lv_repo *r, uint32_t tli, uint64_t from_lsn, int64_t since_us, lv_wal_range *range,
                      lv_wal_drop_cb cb, void *arg)
{
    lv_wal_object *segs;
    size_t n;
    int rc = lv_wal_range_segments(r, tli, from_lsn, range, &segs, &n);
    if (rc != LV_OK)
        return rc;
    scan_state s = {.cb = cb, .arg = arg, .since_us = since_us};
    lv_buf cur = LV_BUF_INIT, next = LV_BUF_INIT, joined = LV_BUF_INIT;
    int have_next = 0;
    for (size_t i = 0; i < n && rc == LV_OK; i++) {
        if (!have_next && skippable(r, &segs[i], since_us))
            continue;
        if (have_next) {
            lv_buf t = cur;
            cur = next;
            next = t;
            have_next = 0;
        } else {
            lv_buf_reset(&cur);
            if ((rc = lv_wal_object_read(r, &segs[i], &cur)) != LV_OK)
                break;
        }
        lv_wal_header h;
        if (lv_wal_header_parse(cur.data, cur.len, &h) != LV_OK) {
            rc = lv_err(LV_ERR_CORRUPT, "archived WAL segment %s: %s", segs[i].key, lv_errmsg());
            break;
        }
        uint64_t end = h.pageaddr + h.seg_size, cut = 0;
        if (end > range->end_lsn)
            end = range->end_lsn; /* an older timeline's copy past its switch point */
        rc = scan_bytes(&s, cur.data, cur.len, from_lsn, end, segs[i].name.tli, &cut, segs[i].name.name);
        if (rc != LV_OK || !cut || cut >= end || i + 1 >= n)
            continue;
        /* A record continues into the next segment: read it from the two joined. */
        lv_buf_reset(&next);
        if ((rc = lv_wal_object_read(r, &segs[i + 1], &next)) != LV_OK)
            break;
        have_next = 1;
        lv_buf_reset(&joined);
        lv_buf_append(&joined, cur.data, cur.len);
        lv_buf_append(&joined, next.data, next.len);
        uint64_t cut2;
        rc = scan_bytes(&s, joined.data, joined.len, cut > from_lsn ? cut : from_lsn, end, segs[i].name.tli, &cut2,
                        segs[i].name.name);
    }
    lv_buf_free(&cur);
    lv_buf_free(&next);
    lv_buf_free(&joined);
    free(segs);
    free(s.created);
    free(s.dbs);
    free(s.rels);
    return rc;
}

/* ---- names and where to start (lv_wal_drops_list) -------------------------------------------------- */

typedef struct relname {
    uint32_t db, relfilenode;
    char *name; /* schema.name */
} relname;

typedef struct backup_map {
    uint64_t start_lsn;
    uint32_t tli;
    relname *rels;
    size_t nrels;
    uint32_t *dbs; /* database oids ... */
    char **dbnames; /* ... and names */
    size_t ndbs;
} backup_map;

typedef struct names {
    backup_map *b;
    size_t nb, cb;
    lv_wal_drop_named_cb cb_fn;
    void *arg;
    const char **rels; /* per drop: its relations' names */
    size_t crels;
} names;

static void load_one(names *c, const lv_repo *r, const char *id)
{
    lv_pgman pm;
    if (lv_pgman_load(r, id, &pm) != LV_OK) {
        lv_warn("backup %s: %s (its table names are not used)", id, lv_errmsg());
        lv_err_clear();
        return;
    }
    LV_GROW(c->b, c->nb, c->cb);
    backup_map *b = &c->b[c->nb++];
    memset(b, 0, sizeof *b);
    b->start_lsn = pm.start_lsn;
    b->tli = pm.timeline;
    size_t n = 0;
    for (uint32_t i = 0; i < pm.ndatabases; i++)
        n += pm.databases[i].nrelations;
    b->rels = lv_xcalloc(n ? n : 1, sizeof *b->rels);
    b->dbs = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *b->dbs);
    b->dbnames = lv_xcalloc(pm.ndatabases ? pm.ndatabases : 1, sizeof *b->dbnames);
    for (uint32_t i = 0; i < pm.ndatabases; i++) {
        const lv_pgman_database *d = &pm.databases[i];
        b->dbs[b->ndbs] = d->oid;
        b->dbnames[b->ndbs++] = lv_xstrdup(d->name);
        for (uint32_t k = 0; k < d->nrelations; k++)
            b->rels[b->nrels++] = (relname){d->oid, d->relations[k].relfilenode,
                                            lv_xasprintf("%s.%s", d->relations[k].schema, d->relations[k].name)};
    }
    lv_pgman_free(&pm);
}

/* The name of (db, relfilenode) in the newest backup that started before lsn, else in any backup. */
static const char *rel_name(const names *c, uint32_t db, uint32_t rfn, uint64_t lsn)
{
    const char *best = NULL;
    uint64_t best_lsn = 0;
    int best_before = 0;
    for (size_t i = 0; i < c->nb; i++) {
        const backup_map *b = &c->b[i];
        int before = b->start_lsn <= lsn;
        for (size_t k = 0; k < b->nrels; k++) {
            if (b->rels[k].db != db || b->rels[k].relfilenode != rfn)
                continue;
            if (!best || (before && (!best_before || b->start_lsn > best_lsn))) {
                best = b->rels[k].name;
                best_lsn = b->start_lsn;
                best_before = before;
            }
            break;
        }
    }
    return best;
}

static const char *db_name(const names *c, uint32_t db)
{
    for (size_t i = c->nb; i-- > 0;)
        for (size_t k = 0; k < c->b[i].ndbs; k++)
            if (c->b[i].dbs[k] == db)
                return c->b[i].dbnames[k];
    return NULL;
}

typedef struct first_seg {
    uint32_t seg_size;
    int found;
    uint32_t tli;
    uint64_t lsn;
} first_seg;

static int first_cb(void *arg, const lv_wal_object *o)
{
    first_seg *f = arg;
    uint64_t segno;
    if (o->name.kind != LV_WAL_SEGMENT || lv_wal_segno(&o->name, f->seg_size, &segno) != 0)
        return LV_OK;
    f->found = 1;
    f->tli = o->name.tli;
    f->lsn = segno * f->seg_size;
    return 1; /* the listing is in timeline, then segment order */
}

static int named(void *arg, const lv_wal_drop *d)
{
    names *c = arg;
    if (d->nrels > c->crels) {
        c->crels = d->nrels;
        c->rels = lv_xrealloc(c->rels, c->crels * sizeof *c->rels);
    }
    for (uint32_t i = 0; i < d->nrels; i++)
        c->rels[i] = rel_name(c, d->rels[i].db, d->rels[i].rel, d->lsn);
    lv_wal_drop_named n = {d, db_name(c, d->dbid), c->rels, ""};
    char target[LV_LSN_TEXT_MAX];
    lv_lsn_format(d->target_lsn, target);
    if (d->kind == LV_DROP_DATABASE)
        snprintf(n.restore, sizeof n.restore, "labvault restore pg --to DIR --target-lsn %s --target-exclusive",
                 target);
    else
        snprintf(n.restore, sizeof n.restore, "labvault restore pg --to DIR --target-xid %u --target-exclusive",
                 d->xid);
    return c->cb_fn(c->arg, &n);
}

int lv_wal_drops_list(const lv_repo *r, uint64_t since_lsn, int64_t since_us, lv_wal_range *range,
                      lv_wal_drop_named_cb cb, void *arg)
{
    names c = {.cb_fn = cb, .arg = arg};
    lv_pg_backup_info *v = NULL;
    size_t n = 0;
    int rc = r->cat ? lv_pg_backups_list(r->cat, &v, &n) : LV_OK;
    for (size_t i = 0; rc == LV_OK && i < n; i++)
        load_one(&c, r, v[i].id);
    free(v);
    /* Where to start: since_lsn; else the oldest backup's start; else the oldest archived segment. */
    uint32_t tli = 0;
    uint64_t from = 0;
    for (size_t i = 0; i < c.nb; i++)
        if (!tli || c.b[i].start_lsn < from)
            tli = c.b[i].tli, from = c.b[i].start_lsn;
    if (rc == LV_OK && (!tli || since_lsn)) {
        lv_wal_stanza st;
        first_seg f = {0};
        if ((rc = lv_wal_stanza_get(r, &st)) == LV_ERR_NOT_FOUND)
            rc = lv_err(LV_ERR_NOT_FOUND, "the repository has no WAL archive yet");
        if (rc == LV_OK)
            f.seg_size = st.seg_size;
        if (rc == LV_OK && (rc = lv_wal_list(r->store, 0, first_cb, &f)) == 1)
            rc = LV_OK;
        if (rc == LV_OK && !f.found)
            rc = lv_err(LV_ERR_NOT_FOUND, "the WAL archive holds no segment");
        if (rc == LV_OK && !tli)
            tli = f.tli, from = f.lsn;
        if (since_lsn)
            from = since_lsn;
    }
    if (rc == LV_OK)
        rc = lv_wal_drops_scan(r, tli, from, since_us, range, named, &c);
    for (size_t i = 0; i < c.nb; i++) {
        for (size_t k = 0; k < c.b[i].nrels; k++)
            free(c.b[i].rels[k].name);
        for (size_t k = 0; k < c.b[i].ndbs; k++)
            free(c.b[i].dbnames[k]);
        free(c.b[i].rels);
        free(c.b[i].dbs);
        free(c.b[i].dbnames);
    }
    free(c.b);
    free(c.rels);
    return rc;
}
