/* The PostgreSQL backups in the catalog (contract in pg/backups.h). */
#include "pg/backups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/manifests.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sort.h"
#include "pg/manifest.h"

typedef struct list {
    lv_pg_backup_info *v;
    size_t n, cap;
} list;

static int add_row(void *arg, const lv_manifest_row *row)
{
    list *l = arg;
    LV_GROW(l->v, l->n, l->cap);
    lv_pg_backup_info *b = &l->v[l->n];
    snprintf(b->id, sizeof b->id, "%s", row->id);
    b->time = row->time;
    if (lv_pg_summary_decode(row->summary, &b->s) != LV_OK) {
        lv_warn("backup %.12s: its catalog summary lacks the PostgreSQL fields (%s); skipped", row->id, lv_errmsg());
        lv_err_clear();
        return LV_OK;
    }
    l->n++;
    return LV_OK;
}

static int cmp_backup(const void *a, const void *b)
{
    const lv_pg_backup_info *x = a, *y = b;
    if (x->s.stop_time != y->s.stop_time)
        return x->s.stop_time < y->s.stop_time ? -1 : 1;
    if (x->s.stop_lsn != y->s.stop_lsn)
        return x->s.stop_lsn < y->s.stop_lsn ? -1 : 1;
    return strcmp(x->id, y->id);
}

int lv_pg_backups_list(lv_catalog *c, lv_pg_backup_info **out, size_t *n)
{
    list l = {NULL, 0, 0};
    *out = NULL;
    *n = 0;
    int rc = lv_catalog_manifest_each(c, LV_PGMAN_KIND, add_row, &l);
    if (rc != LV_OK) {
        free(l.v);
        return rc;
    }
    lv_sort(l.v, l.n, sizeof *l.v, cmp_backup);
    *out = l.v;
    *n = l.n;
    return LV_OK;
}
