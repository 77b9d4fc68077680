/* The previous backup (contract in backup/pg_prev.h). */
#include "backup/pg_prev.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "pg/backups.h"

typedef struct pick {
    uint64_t sysid;
    uint32_t timeline;
    uint64_t best_lsn;
    int64_t best_time;
    char id[2 * LV_HASH_LEN + 1];
} pick;

static void consider(pick *k, const lv_pg_backup_info *b, int64_t time)
{
    if (b->s.sysid != k->sysid || b->s.timeline != k->timeline)
        return;
    uint64_t lsn = b->s.stop_lsn;
    if (!k->id[0] || lsn > k->best_lsn || (lsn == k->best_lsn && time >= k->best_time)) {
        k->best_lsn = lsn;
        k->best_time = time;
        snprintf(k->id, sizeof k->id, "%s", b->id);
    }
}

int lv_pg_prev_find(lv_repo *r, uint64_t sysid, uint32_t timeline, char id[2 * LV_HASH_LEN + 1], lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    id[0] = '\0';
    if (!r->cat)
        return lv_err(LV_ERR_NOT_FOUND, "no catalog to find the previous backup in");
    pick k;
    memset(&k, 0, sizeof k);
    k.sysid = sysid;
    k.timeline = timeline;
    lv_pg_backup_info *v;
    size_t n;
    int rc = lv_pg_backups_list(r->cat, &v, &n);
    if (rc != LV_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        consider(&k, &v[i], v[i].time);
    free(v);
    if (!k.id[0])
        return lv_err(LV_ERR_NOT_FOUND, "no previous backup of PostgreSQL cluster %" PRIu64 " on timeline %u in "
                      "the catalog to compare with (run a full backup first, or --type full)", sysid, timeline);
    if ((rc = lv_pgman_load(r, k.id, m)) != LV_OK)
        return lv_err_ctx("previous backup %.12s", k.id);
    snprintf(id, 2 * LV_HASH_LEN + 1, "%s", k.id);
    return LV_OK;
}
