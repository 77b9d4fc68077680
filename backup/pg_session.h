/* The libpq side of `backup pg`: one session that stays open from pg_backup_start to pg_backup_stop,
 * the cluster facts a backup records, and the per-version SQL (PostgreSQL 13-18).
 *
 * Version differences handled here: pg_backup_start(label, fast) / pg_backup_stop(wait) from 15,
 * pg_start_backup(label, fast, exclusive => false) / pg_stop_backup(exclusive => false, wait) before.
 * The stop does not wait for the archiver (wait => false): backup pg waits for the WAL itself, in the
 * repository and with a timeout (wal/range.h), instead of hanging in the server when archiving is broken. */
#ifndef LV_BACKUP_PG_SESSION_H
#define LV_BACKUP_PG_SESSION_H

#include <stdint.h>

#include <libpq-fe.h>

#include "common/pgconn.h"

typedef struct lv_pgs_info {
    int version;                 /* server_version_num */
    char data_directory[4096];
    int data_checksums;
    uint32_t block_size, segment_blocks, wal_segment_size;
    uint64_t sysid;
    int in_recovery;
    uint32_t timeline;           /* of the latest checkpoint */
    char archive_mode[16];
} lv_pgs_info;

/* Connections and single statements: common/pgconn.h, with this application_name. */
#define LV_PG_APP_BACKUP "labvault backup pg"

int lv_pgs_info_get(PGconn *c, lv_pgs_info *info);

/* Start the backup; *start_lsn, *timeline (of the checkpoint it made). */
int lv_pgs_start(PGconn *c, int version, const char *label, int fast, uint64_t *start_lsn, uint32_t *timeline);
/* Stop it: *stop_lsn (end of the backup-end record), the backup_label and tablespace_map texts (owned,
 * free them; tablespace_map "" when there are no tablespaces). */
int lv_pgs_stop(PGconn *c, int version, uint64_t *stop_lsn, char **backup_label, char **tablespace_map);

/* How far the server is: the WAL it has written (primary) or replayed (standby). */
int lv_pgs_position(PGconn *c, uint64_t *lsn);

/* pg_current_snapshot()::text (txid_current_snapshot before 13 is not needed: 13 has both). */
int lv_pgs_snapshot(PGconn *c, char **out);

/* The latest checkpoint's redo point and next transaction id (pg_control_checkpoint(); 64-bit, epoch
 * included): right after lv_pgs_start, its checkpoint or a later one. A transaction given its id at or
 * past *next_xid wrote every record after *redo. */
int lv_pgs_checkpoint_xid(PGconn *c, uint64_t *redo, uint64_t *next_xid);

/* The snapshot right after the stop (*out as lv_pgs_snapshot), and *quiet: no WAL was written between the
 * stop and it. The stop ends with the backup-end record (stop_lsn is its end) and a segment switch; the
 * insert position read in the same statement, after the snapshot was taken, is then the next segment's
 * first record. Anything else written since (a commit, whose rows the snapshot would see but a recovery
 * to stop_lsn would not) moves it: the counts are then not exact at the stop. */
int lv_pgs_stop_snapshot(PGconn *c, uint64_t stop_lsn, uint32_t seg_size, char **out, int *quiet);

#endif
