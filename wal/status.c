/* `wal status` data (contract in wal/status.h). */
#include "catalog/wal.h"
#include "wal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "wal/archive.h"
#include "wal/pgdata.h"
#include "wal/walcat.h"

static lv_wal_timeline *timeline(lv_wal_status *st, uint32_t tli)
{
    if (st->ntl > 0 && st->tl[st->ntl - 1].tli == tli) /* the listing is sorted by timeline */
        return &st->tl[st->ntl - 1];
    for (size_t i = 0; i < st->ntl; i++)
        if (st->tl[i].tli == tli)
            return &st->tl[i];
    st->tl = lv_xrealloc(st->tl, (st->ntl + 1) * sizeof *st->tl);
    lv_wal_timeline *t = &st->tl[st->ntl++];
    memset(t, 0, sizeof *t);
    t->tli = tli;
    return t;
}

/* A segment (or the .partial that ends an old timeline) at segno: extend the timeline's range and
 * count a gap when segments between the previous one and this one are missing. */
static void add_segment(lv_wal_status *st, lv_wal_timeline *t, const lv_wal_name *n)
{
    uint64_t segno = 0;
    if (!st->have_stanza || lv_wal_segno(n, st->stanza.seg_size, &segno) != 0) {
        if (!t->first[0])
            memcpy(t->first, n->segment, 25);
        memcpy(t->last, n->segment, 25);
        return;
    }
    int fresh = !t->first[0];
    if (!fresh && segno > t->last_segno + 1) {
        if (t->ngaps < LV_WAL_GAPS_KEPT) {
            lv_wal_gap *g = &t->gaps[t->ngaps];
            lv_wal_segment_name(t->tli, t->last_segno + 1, st->stanza.seg_size, g->from);
            lv_wal_segment_name(t->tli, segno - 1, st->stanza.seg_size, g->to);
        }
        t->ngaps++;
        t->missing += segno - t->last_segno - 1;
    }
    if (fresh)
        memcpy(t->first, n->segment, 25);
    if (fresh || segno >= t->last_segno) {
        memcpy(t->last, n->segment, 25);
        t->last_segno = segno;
    }
}

int lv_wal_status_add(void *arg, const lv_wal_object *o)
{
    lv_wal_status *st = arg;
    /* Keys of one name are adjacent in the listing: a second checksum is a conflict. */
    if (strcmp(st->prev_name, o->name.name) == 0) {
        if (strcmp(st->prev_sum, o->checksum) != 0)
            st->conflicts++;
        return LV_OK;
    }
    snprintf(st->prev_name, sizeof st->prev_name, "%s", o->name.name);
    snprintf(st->prev_sum, sizeof st->prev_sum, "%s", o->checksum);
    st->files++;
    st->stored_bytes += o->stored_size;
    lv_wal_timeline *t = timeline(st, o->name.tli);
    t->stored_bytes += o->stored_size;
    switch (o->name.kind) {
    case LV_WAL_SEGMENT:
        t->segments++;
        add_segment(st, t, &o->name);
        if (strcmp(o->name.name, st->last) > 0) /* higher timeline first in the name, then position */
            snprintf(st->last, sizeof st->last, "%s", o->name.name);
        break;
    case LV_WAL_PARTIAL:
        t->partials++;
        add_segment(st, t, &o->name);
        break;
    case LV_WAL_BACKUP:
        t->backups++;
        break;
    default:
        t->history++;
        break;
    }
    return LV_OK;
}

int lv_wal_status_collect_pg(const char *pg_data, lv_wal_status *st)
{
    char *dir = lv_xasprintf("%s/pg_wal/archive_status", pg_data);
    lv_wal_ready *ready = NULL;
    size_t n = 0;
    int rc = lv_wal_ready_scan(dir, &ready, &n);
    free(dir);
    if (rc != LV_OK)
        return lv_err_ctx("pg-data %s", pg_data);
    st->have_pg = 1;
    st->ready = n;
    int64_t oldest = 0, now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ready[i].mtime < oldest || (ready[i].mtime == oldest &&
                                                 strcmp(ready[i].name, st->oldest_ready) < 0)) {
            oldest = ready[i].mtime;
            snprintf(st->oldest_ready, sizeof st->oldest_ready, "%s", ready[i].name);
        }
    st->oldest_ready_age = n ? (now > oldest ? now - oldest : 0) : 0;
    free(ready);
    return LV_OK;
}

int lv_wal_status_collect(lv_repo *r, lv_catalog *cat, const char *pg_data, lv_wal_status *st)
{
    memset(st, 0, sizeof *st);
    st->last_pushed = -1;
    st->dropped = -1;
    int rc = lv_wal_stanza_require(r, &st->stanza);
    if (rc == LV_OK)
        st->have_stanza = 1;
    else if (rc == LV_ERR_NOT_FOUND)
        lv_err_clear();
    else
        return rc;
    if ((rc = lv_wal_list(r->store, 0, lv_wal_status_add, st)) != LV_OK)
        return lv_err_ctx("cannot list the WAL archive");
    if (cat) {
        if (st->last[0] && lv_catalog_wal_pushed(cat, st->last, &st->last_pushed) != LV_OK)
            st->last_pushed = -1;
        st->dropped = lv_catalog_wal_failure_count(cat, "drop");
        lv_err_clear();
    }
    if (pg_data && *pg_data)
        rc = lv_wal_status_collect_pg(pg_data, st);
    return rc;
}

void lv_wal_status_free(lv_wal_status *st)
{
    free(st->tl);
    st->tl = NULL;
    st->ntl = 0;
}

int lv_wal_status_problems(const lv_wal_status *st)
{
    int gaps = 0;
    for (size_t i = 0; i < st->ntl; i++)
        gaps += st->tl[i].ngaps > 0;
    return gaps > 0 || st->conflicts > 0 || st->dropped > 0;
}
