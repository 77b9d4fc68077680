/* WAL block maps in the repository (contract in wal/walmap.h). */
#include "wal/walmap.h"

#include <stdio.h>
#include <string.h>

#include "catalog/walmap.h"
#include "common/error.h"
#include "common/log.h"
#include "wal/segment.h"

static int segment_name_ok(const char *name)
{
    lv_wal_name n;
    int ok = lv_wal_name_parse(name, &n) == LV_OK && n.kind == LV_WAL_SEGMENT;
    lv_err_clear();
    return ok;
}

const lv_obj_type lv_obj_walmap = {.prefix = LV_WALMAP_PREFIX, .aad = LV_WALMAP_PREFIX, .aad_name = 1, .compress = 1,
                                   .name_ok = segment_name_ok};

int lv_walmap_store(const lv_repo *r, const char *segment, const lv_buf *encoded)
{
    int rc = lv_obj_put(r, &lv_obj_walmap, segment, encoded->data, encoded->len, NULL, NULL);
    if (rc == LV_ERR_CONFLICT) { /* a map is a function of its segment: the one there is this one */
        lv_err_clear();
        rc = LV_OK;
    }
    return rc;
}

int lv_walmap_load(const lv_repo *r, lv_catalog *cat, const char *segment, lv_blkmap *m)
{
    memset(m, 0, sizeof *m);
    lv_buf b = LV_BUF_INIT;
    int have = 0, rc = LV_ERR_NOT_FOUND;
    if (cat) {
        rc = lv_catalog_walmap_get(cat, segment, &have, &b);
        lv_err_clear();
    }
    if (rc == LV_OK && have) {
        rc = lv_blkmap_parse(b.data, b.len, m);
        if (rc == LV_OK) {
            lv_buf_free(&b);
            return LV_OK;
        }
        lv_debug("the catalog's block map of %s does not parse (%s): reading the repository's", segment, lv_errmsg());
        lv_err_clear();
        lv_buf_reset(&b);
    }
    rc = lv_obj_get(r, &lv_obj_walmap, segment, &b);
    if (rc == LV_OK && (rc = lv_blkmap_parse(b.data, b.len, m)) != LV_OK)
        rc = lv_err_ctx("%s%s", LV_WALMAP_PREFIX, segment);
    if (rc == LV_OK && cat && lv_catalog_walmap_put(cat, segment, m->format, b.data, b.len) != LV_OK) {
        lv_debug("cannot record the block map of %s in the catalog: %s", segment, lv_errmsg());
        lv_err_clear();
    }
    lv_buf_free(&b);
    return rc;
}

typedef struct list_arg {
    lv_walmap_list_cb cb;
    void *arg;
} list_arg;

static int list_cb(void *arg, const char *key, const char *name, uint64_t size)
{
    list_arg *a = arg;
    return a->cb(a->arg, name, key, size);
}

int lv_walmap_list(const lv_repo *r, lv_walmap_list_cb cb, void *arg)
{
    list_arg a = {cb, arg};
    return lv_obj_list(r, &lv_obj_walmap, list_cb, &a);
}

/* ---- catalog rebuild and sync ------------------------------------------------------------------ */

typedef struct sync_arg {
    lv_catalog *cat;
    lv_catalog_walmap_seen *seen;
    uint64_t rows;
} sync_arg;

static int add_cb(void *arg, const char *segment, const char *key, uint64_t size)
{
    (void)key, (void)size;
    sync_arg *a = arg;
    if (!segment)
        return LV_OK;
    int rc = a->seen ? lv_catalog_walmap_seen_add(a->seen, segment) : LV_OK;
    if (rc == LV_OK)
        rc = lv_catalog_walmap_put(a->cat, segment, 0, NULL, 0);
    a->rows++;
    return rc;
}

int lv_walmap_rebuild(lv_repo *r, uint64_t *damaged)
{
    (void)damaged; /* the maps are read when a backup needs them: nothing here can be damaged */
    sync_arg a = {.cat = r->cat};
    int rc = lv_walmap_list(r, add_cb, &a);
    if (rc == LV_OK)
        lv_info("catalog rebuild: %llu WAL block maps", (unsigned long long)a.rows);
    return rc;
}

int lv_walmap_sync(lv_repo *r)
{
    sync_arg a = {.cat = r->cat};
    int rc = lv_catalog_walmap_seen_begin(r->cat, &a.seen);
    if (rc == LV_OK)
        rc = lv_walmap_list(r, add_cb, &a);
    int64_t gone = 0;
    int end = lv_catalog_walmap_seen_end(a.seen, rc == LV_OK, &gone);
    if (rc == LV_OK)
        rc = end;
    if (rc == LV_OK && gone > 0)
        lv_info("catalog sync: %lld WAL block maps are gone from the repository", (long long)gone);
    return rc;
}
