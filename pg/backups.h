/* The PostgreSQL backups the catalog knows: the "pg" manifests of catalog/manifests.h with their summaries
 * decoded (pg/summary.h), oldest first (stop_time, then stop_lsn, then id). What a restore plans with, what
 * an incremental backup compares with, what `backups` and drills list, all without a download. A row
 * whose summary does not decode is left out with a warning naming the backup. */
#ifndef LV_PG_BACKUPS_H
#define LV_PG_BACKUPS_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "pg/summary.h"

typedef struct lv_pg_backup_info {
    char id[65];
    int64_t time;      /* the manifest's time (when it was written) */
    lv_pg_summary s;
} lv_pg_backup_info;

/* *out is malloc'ed (NULL when none). */
int lv_pg_backups_list(lv_catalog *c, lv_pg_backup_info **out, size_t *n);

#endif
