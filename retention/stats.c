/* Repository statistics and the list of backups (contract in retention/stats.h). */
#include "retention/stats.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "pg/manifest.h"
#include "retention/forget.h"
#include "snapshot/snapshot.h"
#include "wal/archive.h"
#include "wal/stanza.h"

static int wal_cb(void *arg, const lv_wal_object *o)
{
    lv_repo_stats *st = arg;
    st->wal_files++;
    st->wal_segments += o->name.kind == LV_WAL_SEGMENT;
    st->wal_stored_bytes += o->stored_size;
    return LV_OK;
}

int lv_repo_stats_get(lv_repo *r, const lv_prune_opts *po, lv_repo_stats *out)
{
    memset(out, 0, sizeof *out);
    lv_backups b;
    int rc = lv_backups_get(r->cat, &b);
    if (rc != LV_OK)
        return rc;
    int kf = lv_prune_kind_index(LV_SNAP_KIND), kp = lv_prune_kind_index(LV_PGMAN_KIND);
    for (size_t i = 0; i < b.nsnaps; i++) {
        out->backups[kf]++;
        out->logical_bytes[kf] += b.snaps[i].s.bytes_total;
    }
    for (size_t i = 0; i < b.npgs; i++) {
        out->backups[kp]++;
        out->logical_bytes[kp] += b.pgs[i].s.bytes;
    }
    lv_backups_free(&b);
    if ((rc = lv_wal_list(r->store, 0, wal_cb, out)) != LV_OK)
        return rc;
    lv_wal_stanza s;
    if (lv_wal_stanza_get(r, &s) == LV_OK) /* no archive (or no stanza): no logical size */
        out->wal_logical_bytes = (uint64_t)s.seg_size * out->wal_segments;
    lv_err_clear();
    lv_prune_opts dry = *po;
    dry.dry_run = 1;
    dry.progress = 0;
    if ((rc = lv_prune(r, &dry, &out->prune)) != LV_OK)
        return rc;
    const lv_prune_plan_stats *p = &out->prune.plan;
    out->reclaimable_bytes = p->del_bytes + p->repack_bytes - p->repack_used_bytes;
    return LV_OK;
}
