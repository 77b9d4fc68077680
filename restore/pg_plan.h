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

#include "common/buf.h"
#include "pg/backups.h"
#include "restore/pg.h"
#include "wal/range.h"

/* A parsed target: time as unix seconds with fraction (common/timefmt.h lv_time_parse_zoned: the zone is
 * required); xid; lsn; name (points at value). LV_ERR_USAGE naming the value. timeline: the caller's
 * --target-timeline (0: none). */
typedef struct lv_pg_target {
    lv_pg_target_kind kind;
    double time;
    uint64_t xid, lsn;
    const char *name;
    uint32_t timeline;
} lv_pg_target;
int lv_pg_target_parse(lv_pg_target_kind kind, const char *value, lv_pg_target *t);

/* What the plan found out about the target in the archive. */
typedef struct lv_pg_resolved {
    int found;                   /* xid and name targets: the record was found */
    uint64_t lsn;                /* the commit/abort record of the xid, the restore point */
    uint32_t tli;                /* the timeline of the segment holding it */
    int64_t time_us;
    uint32_t timeline;           /* the timeline whose history recovery follows (the target's): written as
                                    recovery_target_timeline when set; 0: 'latest' (or 'current' for an
                                    immediate target) */
    int prepared;                /* xid: the transaction was prepared (it ends with COMMIT/ABORT PREPARED):
                                    stopping before it leaves it prepared, holding its locks */
    int commit;                  /* xid: 1 commit, 0 abort */
    char gid[201];               /* prepared: its GID ("" when its PREPARE was not found) */
    uint32_t dbid;               /* the database the transaction ran in (0 unknown) */
} lv_pg_resolved;

/* Choose the backup (backup_id: a unique prefix of >= 8 hex digits, else per target as restore/pg.h
 * says), then check the target against it and the archive. *chosen, *range and *res are filled on
 * success. Codes: LV_ERR_NOT_FOUND (no such backup, no pg backup at all, the backup's own WAL missing),
 * LV_ERR_USAGE (ambiguous prefix; target outside the window or not in the archive, no backup before it:
 * the message names the window), LV_ERR_CORRUPT (the target or the backup's own end lies past a damaged
 * segment: named, with the last reachable point), the store's codes. */
int lv_pg_plan(const lv_repo *r, const char *backup_id, const lv_pg_target *t, lv_pg_backup_info *chosen,
               lv_wal_range *range, lv_pg_resolved *res);

/* The advice after stopping before a prepared transaction's COMMIT PREPARED (xid): it is prepared again in
 * the restored cluster and holds its locks. Appends two or three lines to out: what happened, and the
 * statement that discards it ("ROLLBACK PREPARED 'gid';", the GID quoted for SQL), run in database dbname
 * (NULL: not known); with gid "" how to find the GID (pg_prepared_xacts) instead. */
void lv_pg_prepared_note(const char *gid, uint32_t xid, const char *dbname, lv_buf *out);
/* "ROLLBACK PREPARED 'gid'" with the GID quoted for SQL. */
void lv_pg_rollback_prepared_sql(const char *gid, lv_buf *out);

/* The choice among the backups v[0..n) (oldest first), restore/pg_choose.c:
 *   - the target's timeline T: --target-timeline, else the newest timeline of the archive (as
 *     recovery_target_timeline = 'latest' would follow); only backups whose end lies on T's history are
 *     candidates (a backup the old primary took on timeline 1 after timeline 2 branched off cannot recover
 *     onto timeline 2); an immediate target takes any backup and stays on its timeline;
 *   - an xid is resolved to its commit or abort record, a name to its restore point (wal/targets.h), from
 *     the oldest candidate's start along T's history; not found, or a name given to several restore points,
 *     is LV_ERR_USAGE before anything is written;
 *   - the newest candidate that became consistent at or before the target: stop_lsn <= the target's LSN
 *     (xid, name, LSN), stop_time + 1 <= the time (time), any (latest, immediate); none is LV_ERR_USAGE
 *     naming the oldest backup. A given backup_id must be a candidate and before the target too. */
int lv_pg_choose(const lv_repo *r, const lv_pg_backup_info *v, size_t n, const char *backup_id, const lv_pg_target *t,
                 lv_pg_backup_info *chosen, lv_wal_range *range, lv_pg_resolved *res);

#endif
