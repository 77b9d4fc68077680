/* `labvault status`: is everything protected? One line per thing that should be, from the local catalog
 * (synced with the repository by the caller) and, for the WAL archive's lag, PostgreSQL's archive_status:
 *   pg CLUSTER        the newest PostgreSQL backup of each cluster, and its age (limit max-backup-age);
 *   files GROUP       the newest snapshot of each backup set (tag set:NAME), or of each host and set of
 *                     paths when it belongs to no set, and its age (limit max-snapshot-age);
 *   wal archive       the newest archived WAL file and when it arrived; not ok when the newest push
 *                     failure is more recent than the newest success, or (with [pg] data readable) when
 *                     the oldest .ready file waits longer than max-wal-lag;
 *   drill KIND        the newest drill of each kind that has backups: passed, and younger than
 *                     max-drill-age;
 *   repository        bytes of the packs and of the WAL objects the catalog knows (never a problem).
 * Limits ([status] options, durations; 0 turns a limit off): max-backup-age 26h, max-snapshot-age 26h,
 * max-wal-lag 15m, max-drill-age 100d. The result is ok when every line is.
 *
 * The same facts feed the Prometheus textfile (status/metrics.h). */
#ifndef LV_STATUS_STATUS_H
#define LV_STATUS_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

typedef struct lv_status_limits {
    int64_t backup_age, snapshot_age, wal_lag, drill_age; /* seconds; 0 = no limit */
} lv_status_limits;

typedef struct lv_status_item {
    char kind[8];        /* "pg", "files", "wal", "drill", "repo" */
    char name[300];      /* "cluster 7301...", "set:etc", "host vm /srv", "archive", "pg", "total" */
    int64_t newest;      /* unix seconds of the newest backup / push / drill; -1 none */
    int64_t age;         /* now - newest; -1 none */
    int64_t limit;       /* seconds; 0 none */
    int ok;
    char detail[400];    /* what is wrong, or what is worth knowing ("passed", "0 waiting") */
    uint64_t bytes;      /* repo: total; backups: logical bytes of the newest */
} lv_status_item;

typedef struct lv_status {
    lv_status_item *items;
    size_t n;
    int ok;
    uint64_t repo_bytes, pack_bytes, wal_bytes;
    uint64_t wal_failures;  /* failed pushes in the journal */
    int64_t wal_last_failure;
} lv_status;

/* pg_data (may be NULL) is read for archive_status. */
int lv_status_get(lv_repo *r, const lv_status_limits *lim, const char *pg_data, int64_t now, lv_status *st);
void lv_status_free(lv_status *st);

#endif
