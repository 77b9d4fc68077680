/* The previous backup an incremental `backup pg` compares with: a "pg" backup in the catalog
 * (pg/backups.h) with the same system identifier, on the timeline history the backup recovers along
 * (wal/timeline.h; its last span is the backup's own timeline), loaded whole with lv_pgman_load.
 *
 * A backup of the same timeline is preferred (the highest stop LSN, then the latest manifest time); else
 * one of an ancestor timeline whose stop is not past the point where that timeline ended on the history
 * (lv_wal_history_has: after a failover, the backups taken before the promotion), the newest the same way.
 * The page LSNs of a cluster increase along its history, so the incremental's rule (a page below the
 * previous start is unchanged) and its block maps (followed along the history, wal/walmap.h) hold across
 * the switch. A backup of an ancestor timeline that ends past its switch point (the old primary went on
 * writing after the promotion) holds WAL this cluster never had: never used (a warning names it when it is
 * newer than the one used). */
#ifndef LV_BACKUP_PG_PREV_H
#define LV_BACKUP_PG_PREV_H

#include <stddef.h>
#include <stdint.h>

#include "pg/manifest.h"
#include "repo/repo.h"
#include "wal/timeline.h"

/* hist: nhist >= 1 spans. LV_ERR_NOT_FOUND (message says why) when the catalog has no such backup;
 * LV_ERR_CONFLICT when the only backups of the history's timelines end past their switch points (the
 * message names the newest, both timelines and the switch point). */
int lv_pg_prev_find(lv_repo *r, uint64_t sysid, const lv_wal_tl_span *hist, size_t nhist,
                    char id[2 * LV_HASH_LEN + 1], lv_pgman *m);

#endif
