/* The previous backup (contract in backup/pg_prev.h). */
#include "backup/pg_prev.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "pg/backups.h"
#include "pg/lsn.h"

typedef struct pick {
    uint64_t best_lsn;
    int64_t best_time;
    uint32_t tli;
    char id[2 * LV_HASH_LEN + 1];
} pick;

/* The newest (highest stop LSN, then latest manifest time) of the backups offered. */
static void consider(pick *k, const lv_pg_backup_info *b)
{
    uint64_t lsn = b->s.stop_lsn;
    if (!k->id[0] || lsn > k->best_lsn || (lsn == k->best_lsn && b->time >= k->best_time)) {
        k->best_lsn = lsn;
        k->best_time = b->time;
        k->tli = b->s.timeline;
        snprintf(k->id, sizeof k->id, "%s", b->id);
    }
}

/* "backup X (timeline t) ends at A, past the switch from timeline t to u at B": k's backup, of a timeline of
 * the history that ended before k's stop. */
static void past_switch(const lv_wal_tl_span *sp, size_t n, const pick *k, char *out, size_t len)
{
    uint64_t end = 0;
    uint32_t next = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (sp[i].tli == k->tli) {
            end = sp[i].end;
            next = sp[i + 1].tli;
        }
    char a[LV_LSN_TEXT_MAX], b[LV_LSN_TEXT_MAX];
    lv_lsn_format(k->best_lsn, a);
    lv_lsn_format(end, b);
    snprintf(out, len, "backup %.12s (timeline %u) ends at %s, past the switch from timeline %u to %u at %s", k->id,
             k->tli, a, k->tli, next, b);
}

int lv_pg_prev_find(lv_repo *r, uint64_t sysid, const lv_wal_tl_span *hist, size_t nhist,
                    char id[2 * LV_HASH_LEN + 1], lv_pgman *m)
{
    memset(m, 0, sizeof *m);
    id[0] = '\0';
    if (!r->cat)
        return lv_err(LV_ERR_NOT_FOUND, "no catalog to find the previous backup in");
    uint32_t own = hist[nhist - 1].tli;
    pick same, anc, beyond; /* on this timeline; on an ancestor, on the history; on an ancestor, past its end */
    memset(&same, 0, sizeof same);
    memset(&anc, 0, sizeof anc);
    memset(&beyond, 0, sizeof beyond);
    lv_pg_backup_info *v;
    size_t n;
    int rc = lv_pg_backups_list(r->cat, &v, &n);
    if (rc != LV_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const lv_pg_backup_info *b = &v[i];
        if (b->s.sysid != sysid)
            continue;
        if (b->s.timeline == own)
            consider(&same, b);
        else if (lv_wal_history_has(hist, nhist, b->s.timeline, b->s.stop_lsn))
            consider(&anc, b);
        else if (lv_wal_history_has(hist, nhist, b->s.timeline, 0)) /* its timeline is on the history */
            consider(&beyond, b);
    }
    free(v);
    const pick *k = same.id[0] ? &same : &anc;
    char why[256];
    if (!k->id[0] && beyond.id[0]) {
        past_switch(hist, nhist, &beyond, why, sizeof why);
        return lv_err(LV_ERR_CONFLICT, "no previous backup on the history of timeline %u: %s (its WAL after the "
                      "switch is not this cluster's): take a full backup", own, why);
    }
    if (!k->id[0])
        return lv_err(LV_ERR_NOT_FOUND, "no previous backup of PostgreSQL cluster %" PRIu64 " on timeline %u or its "
                      "history in the catalog to compare with (run a full backup first, or --type full)", sysid, own);
    if (k == &anc && beyond.id[0] && beyond.best_lsn > anc.best_lsn) {
        past_switch(hist, nhist, &beyond, why, sizeof why);
        lv_warn("%s: not on the history of timeline %u, the incremental compares with backup %.12s (timeline %u)", why,
                own, anc.id, anc.tli);
    }
    if ((rc = lv_pgman_load(r, k->id, m)) != LV_OK)
        return lv_err_ctx("previous backup %.12s", k->id);
    snprintf(id, 2 * LV_HASH_LEN + 1, "%s", k->id);
    return LV_OK;
}
