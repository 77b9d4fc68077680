/* Planning a PostgreSQL restore (restore/pg.h): the catalog's list of pg backups, the choice of one for
 * a target, and the check of the target against that backup and the archive (wal/range.h), all before
 * anything is written.
 *
 * The backup list comes from the catalog's manifest summaries (pg/backups.h), never from downloading
 * manifests. Times: backups record whole seconds (stop_time truncated), so a backup is "before" a time
 * target only when stop_time + 1 <= target, and a time target is reachable while it is before the second
 * after the last archived commit (commit times are whole seconds too). LSN targets are exact: stop_lsn
 * <= target < end of the gap-free archive.
 *
 * What is read: the listing of wal/ decides for every target; only a time target reads segments (for
 * the commit times, wal/range.h), so a damaged segment that an LSN, xid, name or immediate target does not
 * need cannot stop its restore (recovery fetches only what it replays). A damaged segment the time scan
 * finds ends the recoverable range before it: a target past it is LV_ERR_CORRUPT naming the segment and
 * the last point recovery can reach. */
#ifndef LV_RESTORE_PG_PLAN_H
#define LV_RESTORE_PG_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "pg/backups.h"
#include "restore/pg.h"
#include "wal/range.h"

/* A parsed target: time as unix seconds with fraction (common/timefmt.h lv_time_parse_zoned: the zone is
 * required); xid; lsn. LV_ERR_USAGE naming the value. */
typedef struct lv_pg_target {
    lv_pg_target_kind kind;
    double time;
    uint64_t xid, lsn;
} lv_pg_target;
int lv_pg_target_parse(lv_pg_target_kind kind, const char *value, lv_pg_target *t);

/* Choose the backup (backup_id: a unique prefix of >= 8 hex digits, else per target as restore/pg.h
 * says), then check the target against it and the archive. *chosen and *range are filled on success.
 * Codes: LV_ERR_NOT_FOUND (no such backup, no pg backup at all, the backup's own WAL missing),
 * LV_ERR_USAGE (ambiguous prefix; target outside the window: the message names the window),
 * LV_ERR_CORRUPT (the target or the backup's own end lies past a damaged segment: named, with the last
 * reachable point), the store's codes. */
int lv_pg_plan(const lv_repo *r, const char *backup_id, const lv_pg_target *t, lv_pg_backup_info *chosen,
               lv_wal_range *range);

#endif
