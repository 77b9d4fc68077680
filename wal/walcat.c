/* The WAL archive's side of the catalog (contract in wal/walcat.h). */
#include "catalog/wal.h"
#include "wal/walcat.h"

#include <stdio.h>

#include "common/error.h"
#include "common/log.h"
#include "repo/registry.h"
#include "wal/stanza.h"
#include "wal/walmap.h"

int lv_walcat_add(lv_catalog *c, const lv_wal_row *row)
{
    const lv_wal_object *o = row->obj;
    lv_catalog_wal_file f = {o->name.name, o->name.tli, lv_wal_kind_str(o->name.kind), o->key, o->checksum,
                             row->size, o->stored_size, row->pushed, row->begin_lsn, row->end_lsn,
                             row->times_known, row->begin_time, row->end_time, row->summary};
    return lv_catalog_wal_add(c, &f);
}

int lv_walcat_journal(lv_catalog *cat, const char *op, const char *name, int rc)
{
    if (rc == LV_OK)
        return rc;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", lv_errmsg());
    if (cat && lv_catalog_wal_failure_add(cat, op, name, rc, msg) != LV_OK)
        lv_warn("cannot journal the failure in the catalog: %s", lv_errmsg());
    return lv_err(rc, "%s", msg);
}

/* Catalog rebuild (walcat.h). A second copy of a name (a conflict) keeps the first, like fetch's listing
 * order; `wal status` reports the conflict from the listing. */
typedef struct rebuild_arg {
    lv_catalog *cat;
    uint32_t seg_size;
    uint64_t rows;
} rebuild_arg;

static int rebuild_cb(void *arg, const lv_wal_object *o)
{
    rebuild_arg *a = arg;
    lv_wal_row row = {.obj = o, .pushed = -1};
    uint64_t segno;
    if ((o->name.kind == LV_WAL_SEGMENT || o->name.kind == LV_WAL_PARTIAL) && a->seg_size &&
        lv_wal_segno(&o->name, a->seg_size, &segno) == 0) {
        row.size = a->seg_size;
        row.begin_lsn = segno * a->seg_size;
        row.end_lsn = row.begin_lsn + a->seg_size;
    }
    int64_t pushed;
    if (lv_catalog_wal_pushed(a->cat, o->name.name, &pushed) == LV_OK)
        return LV_OK; /* a second copy of the name */
    lv_err_clear();
    a->rows++;
    return lv_walcat_add(a->cat, &row);
}

int lv_walcat_rebuild(lv_repo *r, uint64_t *damaged)
{
    rebuild_arg a = {.cat = r->cat};
    lv_wal_stanza s;
    int rc = lv_wal_stanza_require(r, &s);
    if (rc == LV_OK) {
        a.seg_size = s.seg_size;
    } else if (rc == LV_ERR_CORRUPT) { /* damaged or lost: rows without LSN ranges */
        lv_error("%s", lv_errmsg());
        (*damaged)++;
    } else if (rc != LV_ERR_NOT_FOUND) { /* NOT_FOUND: no archive yet */
        return lv_err_ctx("catalog rebuild: WAL archive");
    }
    lv_err_clear();
    rc = lv_wal_list(r->store, 0, rebuild_cb, &a);
    if (rc != LV_OK)
        return lv_err_ctx("catalog rebuild: WAL archive");
    lv_info("catalog rebuild: %llu WAL files", (unsigned long long)a.rows);
    return LV_OK;
}

/* Catalog sync (walcat.h): the listed names go through the catalog's set of seen names, so the
 * comparison is one statement whatever the archive's size. */
typedef struct sync_arg {
    rebuild_arg rb;
    lv_catalog_wal_seen *seen;
    const lv_repo *r;
    int stanza_read;
} sync_arg;

static int sync_cb(void *arg, const lv_wal_object *o)
{
    sync_arg *a = arg;
    int rc = lv_catalog_wal_seen_add(a->seen, o->name.name);
    if (rc != LV_OK)
        return rc;
    int64_t pushed;
    if (lv_catalog_wal_pushed(a->rb.cat, o->name.name, &pushed) == LV_OK)
        return LV_OK; /* known: most files, most of the time */
    lv_err_clear();
    if (!a->stanza_read) { /* the segment size, read once and only when a row is added */
        lv_wal_stanza s;
        if (lv_wal_stanza_get(a->r, &s) == LV_OK)
            a->rb.seg_size = s.seg_size;
        else
            lv_err_clear();
        a->stanza_read = 1;
    }
    return rebuild_cb(&a->rb, o);
}

int lv_walcat_sync(lv_repo *r)
{
    sync_arg a = {.rb = {.cat = r->cat}, .r = r};
    int rc = lv_catalog_wal_seen_begin(r->cat, &a.seen);
    if (rc == LV_OK)
        rc = lv_wal_list(r->store, 0, sync_cb, &a);
    int64_t gone = 0;
    int end = lv_catalog_wal_seen_end(a.seen, rc == LV_OK, &gone);
    if (rc == LV_OK)
        rc = end;
    if (rc == LV_OK && gone > 0)
        lv_info("catalog sync: %lld WAL files are gone from the repository", (long long)gone);
    return rc;
}

void lv_walcat_register(void)
{
    lv_catalog_rebuild_register("WAL archive", lv_walcat_rebuild);
    lv_catalog_sync_register("WAL archive", lv_walcat_sync, "wal/"); /* lv_wal_list(store, 0, ...) */
    lv_catalog_rebuild_register("WAL block maps", lv_walmap_rebuild);
    lv_catalog_sync_register("WAL block maps", lv_walmap_sync, LV_WALMAP_PREFIX);
}
