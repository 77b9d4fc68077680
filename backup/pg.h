/* PostgreSQL base backups: `labvault backup pg [--type full|incr]` (docs/design.md 3-4, issue 6).
 *
 * Runs on the database host as the PostgreSQL OS user. On ONE libpq session that stays open:
 * check the cluster (archive_mode on, unless it is a standby; its system identifier is the repository's
 * stanza, or there is none yet), pg_backup_start(label, fast) (pg_start_backup(label, fast, false) before 15),
 * read the data directory and tablespaces directly, pg_backup_stop(false) (pg_stop_backup(false, false)
 * before 15: the server does not wait for the archiver; we wait for the WAL in the repository, below), keep the returned backup_label and tablespace_map in the manifest (never written into the
 * data directory). Skips what pg_basebackup skips (docs/design.md 4; backup/pg_walk.h). global/pg_control is
 * read after every other file. Only one backup per repository and
 * cluster runs at a time (opts->lock_path, a file beside the catalog; a second one is LV_ERR_LOCKED, exit 7).
 *
 * Test-only: LABVAULT_TEST_PAUSE_AFTER_START=<seconds> sleeps that long after the start (interruptible),
 * so tests can run a second backup, or signal one, while the first is in backup mode;
 * LABVAULT_TEST_PAUSE_AFTER_STOP=<seconds> after the stop, before the row counts' snapshot;
 * LABVAULT_TEST_PAUSE_BEFORE_STOP just before pg_backup_stop; LABVAULT_TEST_PAUSE_BETWEEN_DATABASES after
 * each database's row counts but the last (logged at debug level as "row counts: database NAME done").
 *
 * Relation files (base/, global/, pg_tblspc/ segment files of main, vm and init forks) are stored as
 * page runs (pg/manifest.h): a full backup groups LV_PGMAN_RUN_PAGES pages per blob; an incremental
 * reads each page, compares its pd_lsn with the previous backup's start LSN and stores only newer pages
 * (grouped into new blobs); unchanged runs reuse the previous (blob, blob_page). The previous backup is
 * the newest "pg" manifest of the same system identifier and timeline in the catalog, else of an ancestor
 * timeline on this timeline's history (backup/pg_prev.h: after a failover); without one, an incremental is
 * refused (LV_ERR_NOT_FOUND naming the reason) unless opts->fallback_full, and when the only candidates end
 * past their timeline's switch point, refused (LV_ERR_CONFLICT naming both timelines and the switch
 * point). Page checksums are verified when the cluster has them (a page whose pd_lsn is newer than
 * start_lsn may be torn and is not judged: WAL replay rewrites it); bad pages are reported and recorded
 * (manifest bad_pages).
 *
 * After the stop, per database (datallowconn): the relation map (pg_class oid, schema, name,
 * relfilenode, tablespace, relkind) for finding dropped tables later, and exact row counts of ordinary
 * tables, taken in one REPEATABLE READ snapshot. rows_lsn: the stop LSN when no transaction id was
 * assigned between that snapshot and the backup's stop (checked with pg_current_snapshot() before the
 * counts and after the stop), so a recovery to the backup's end point must have exactly these rows
 * (drills check them); 0 when writes happened, and then the counts are informational only.
 *
 * The backup is complete only once the WAL from start_lsn to stop_lsn is in the archive: it waits for
 * those segments in the repository (up to opts->archive_timeout seconds, then LV_ERR_INCOMPLETE: the
 * manifest is not written). Order: blobs flushed -> WAL present -> manifest (the commit point).
 *
 * A streaming standby (its data directory and its connection) is backed up the way pg_basebackup does it
 * there: the same start and stop functions, which the server runs as a restartpoint and its minimum
 * recovery point (the backup_label says "BACKUP FROM: standby"); pg_control, read last, ends the backup's
 * recovery at a point that covers every page read. Its WAL is the primary's: archived by the primary, or
 * by the standby with archive_mode = always, so the standby's own archive_mode is not checked. A standby
 * cannot switch segments: the wait ends when the primary archives the segment holding the stop point (it
 * is full, archive_timeout passed, or pg_switch_wal() ran there), and its timeout message says so. Row
 * counts are never exact on a standby (rows_exact false): its stop point may precede what the counting
 * snapshot sees. A backup, full or incremental, carries the previous backup's exact counts of tables the
 * WAL shows unchanged and derives those of tables it shows changed by inserts and deletes, instead of
 * counting them (backup/pg_relmap.h, backup/pg_rowwal.h), unless recount, or the WAL since the previous
 * counts is longer than the data directory and 1 GiB (reading it would cost more than counting). A full
 * backup uses the previous backup for its counts only: its files and its restore do not depend on it. A
 * promotion during the backup makes the stop fail (PostgreSQL refuses it).
 *
 * Manifest summary JSON (what `backups`, restore planning and drills read from the catalog, without
 * downloading the manifest): {"type":"full"|"incr", "label", "sysid":"<decimal>", "pg_version":150004,
 * "timeline":1, "start_lsn":"0/2000028", "stop_lsn":"0/2000100", "start_time":unix, "stop_time":unix,
 * "wal_start":"000000010000000000000002", "wal_stop":"000000010000000000000002", "files":N,
 * "bytes":N (data directory bytes), "bytes_read":N, "bytes_new":N (plaintext of new blobs),
 * "bytes_stored":N (sealed bytes uploaded), "bad_pages":N, "prev":"<id>" (incr only),
 * "rows_exact":true|false, "pgdata":"/abs/path"}. LSNs in PostgreSQL's X/X text form. */
#ifndef LV_BACKUP_PG_H
#define LV_BACKUP_PG_H

#include <signal.h>
#include <stdint.h>

#include "pg/summary.h"
#include "repo/repo.h"

typedef struct lv_pg_backup_opts {
    const char *pgdata;        /* data directory (pg-data option, --pgdata); required */
    const char *conninfo;      /* libpq connection string (--dbname); NULL: pg-host/port/user/database */
    const char *host, *port, *user, *database; /* used when conninfo is NULL; NULL = libpq defaults */
    int incremental;           /* --type incr */
    int fallback_full;         /* incr without a usable previous backup becomes full (not the default) */
    const char *label;         /* NULL: "labvault <time>" */
    int fast_checkpoint;       /* pg_backup_start(fast => true); default 1 */
    int archive_timeout;       /* seconds to wait for the WAL range (archive-timeout) */
    int workers;               /* parallel file readers; 0 = automatic */
    int progress;              /* progress on stderr (a terminal): bytes, rate, ETA */
    int count_rows;            /* record exact row counts (default 1) */
    int recount;               /* --recount: count(*) every table, carrying or deriving no count from the
                                  previous backup's (a full backup and an incremental do by default) */
    int page_deltas;           /* incremental: changed pages as deltas where it pays (default 1) */
    int verify_map;            /* incremental, --verify-map: compare the WAL block maps of [prev start, start)
                                  (wal/walmap.h) with the LSN rule page by page (backup/pg_read.h); the backup
                                  itself is still made by the LSN rule. Misses: LV_ERR_CHECK once committed */
    int lsn_scan;              /* incremental, --lsn-scan: compare every page's LSN even when the block maps
                                  of the range could be used (an incremental uses them by default) */
    const char *lock_path;     /* the backup lock ("<catalog>.backup-pg.lock"); NULL: no lock */
} lv_pg_backup_opts;

typedef struct lv_pg_backup_result {
    char id[2 * LV_HASH_LEN + 1];   /* the manifest id once committed */
    uint64_t files, bytes, bytes_read, bytes_new, bytes_stored, bad_pages;
    uint64_t start_lsn, stop_lsn;
    int incremental;
    double seconds;
    char map_report[1024];          /* incremental: one line, what the block maps made it read (or with
                                       verify_map: would have), or why they could not be used ("": a full or
                                       lsn_scan) */
    uint64_t map_missed;            /* verify_map: changed pages no map named */
    lv_pg_summary summary;          /* the manifest's summary, once committed */
    char *summary_json;             /* ... and its JSON text (owned; lv_pg_backup_result_free) */
} lv_pg_backup_result;

/* An interrupt (common/interrupt.h) stops the backup at the next file with LV_ERR_INTERRUPTED; it calls
 * pg_backup_stop (so the server is not left in backup mode) and commits nothing. */

/* Codes: LV_ERR_CONFIG (no pgdata, not a data directory: the message names it), LV_ERR_PG (cannot
 * connect, archive_mode off on a primary, an unsupported version, a function refused), LV_ERR_CONFLICT
 * (another cluster than the repository's stanza, or pgdata is not the connected server's data_directory),
 * LV_ERR_LOCKED, LV_ERR_INCOMPLETE (WAL did not arrive in time), LV_ERR_INTERRUPTED, LV_ERR_IO and the
 * store's codes.
 * Bad pages do not fail the backup: it commits and returns LV_ERR_INCOMPLETE with res->id set. */
int lv_pg_backup(lv_repo *r, const lv_pg_backup_opts *o, lv_pg_backup_result *res);
void lv_pg_backup_result_free(lv_pg_backup_result *res);

#endif
