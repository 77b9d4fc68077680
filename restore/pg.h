/* PostgreSQL restore and point-in-time recovery: `labvault restore pg` (docs/design.md 6, issue 6).
 *
 * Plan first, write after: the backup is chosen and the target checked against the catalog's backups
 * and the archive (wal/range.h) before anything is written, so a refused restore leaves the target
 * directory as it was.
 *   - Without backup_id: the newest "pg" backup on the target's timeline history whose stop_time (time
 *     target) / stop_lsn (LSN target; xid and name targets resolved to their record in the archive) is
 *     at or before the target; for latest/immediate targets, the newest backup (restore/pg_plan.h).
 *   - A target before the chosen backup's consistency point (stop LSN / stop time), a time after the
 *     archive's last commit, or an LSN past the end of the gap-free archive is LV_ERR_USAGE with a
 *     message that names the recoverable window.
 * Then: the directory must not exist or be empty (LV_ERR_CONFLICT otherwise) unless delta; files are
 * written in parallel (workers threads, each with its own catalog connection), every blob authenticated
 * before a byte of it is written; tablespace links recreated (pg_tblspc/<oid> -> location, or the
 * remapped one); empty directories the server needs (pg_wal, pg_replslot, ... ) created; backup_label
 * and tablespace_map written from the manifest; recovery.signal created and postgresql.auto.conf gets
 * restore_command and the recovery_target* settings (replacing earlier labvault lines), with
 * recovery_target_timeline = 'latest'. With delta, an existing data directory is rewritten only where
 * it differs: files whose size and content hash (per page run) match are kept; files not in the
 * manifest are removed (except the excluded directories' contents, which are emptied as on a fresh
 * restore).
 *
 * Unfinished restores: the directory is marked incomplete before the first file and PG_VERSION is
 * written last (restore/pg_mark.h), so a failed, interrupted or killed restore leaves a directory that
 * PostgreSQL refuses to start; the error says so, and a delta restore into it finishes it.
 *
 * Interrupt (common/interrupt.h): stops at the next file with
 * LV_ERR_INTERRUPTED; what was written stays, marked (no recovery.signal is written until every file
 * is done, backup_label after it, PG_VERSION last). */
#ifndef LV_RESTORE_PG_H
#define LV_RESTORE_PG_H

#include <signal.h>
#include <stdint.h>

#include "repo/repo.h"

typedef enum lv_pg_target_kind {
    LV_PGT_LATEST = 0,   /* end of the archive (no recovery_target setting) */
    LV_PGT_IMMEDIATE,    /* recovery_target = 'immediate': the backup's consistency point */
    LV_PGT_TIME,         /* recovery_target_time */
    LV_PGT_XID,          /* recovery_target_xid */
    LV_PGT_LSN,          /* recovery_target_lsn */
    LV_PGT_NAME          /* recovery_target_name */
} lv_pg_target_kind;

typedef struct lv_pg_tsmap {
    const char *from, *to;  /* --tablespace-map OLD=NEW: OLD is the tablespace's name, oid or location */
} lv_pg_tsmap;

typedef struct lv_pg_restore_opts {
    const char *to;                /* data directory to create (or, with delta, update); required */
    const char *backup_id;         /* NULL: choose (above); a unique prefix of at least 8 hex digits */
    lv_pg_target_kind target;
    const char *target_value;      /* TIME: "2026-11-21 10:00:00.123+00" (PostgreSQL's syntax, also what
                                      `date --rfc-3339=ns` prints); XID: decimal; LSN: X/X; NAME */
    int target_exclusive;          /* recovery_target_inclusive = off */
    uint32_t target_timeline;      /* --target-timeline: the timeline the target is on (0: the newest of the
                                      archive); recovery follows its history (restore/pg_plan.h) */
    const char *recovery_timeline; /* recovery_target_timeline written (NULL: 'latest'); lv_pg_restore sets
                                      it from the plan, callers leave it NULL */
    const char *target_action;     /* "promote" | "pause" | "shutdown"; NULL = "promote" */
    int delta;
    const lv_pg_tsmap *tsmap;
    int ntsmap;
    const char *restore_command;   /* NULL: "'<absolute path of this labvault>' [--config F] wal fetch %f %p" */
    int workers;                   /* 0 = automatic */
    int progress;
    int dry_run;                   /* plan and check only; write nothing */
    const char *pg_bin;            /* pg-bin: when set, it must hold the backup's major version of the
                                      server (wal/pgdata.h lv_pg_bin_check), checked before anything is
                                      written; NULL: not checked (the restore may be started elsewhere) */
} lv_pg_restore_opts;

typedef struct lv_pg_restore_result {
    char backup_id[2 * LV_HASH_LEN + 1];
    uint64_t stop_lsn;             /* the chosen backup's consistency point */
    int64_t stop_time;
    uint32_t timeline;
    int pg_version;                /* major version (15) */
    uint64_t files, files_kept;    /* written / left as they were (delta) */
    uint64_t bytes_written, bytes_fetched, blobs_fetched;
    double seconds_download;       /* wall time the workers spent fetching and opening blobs (summed
                                      over workers, divided by workers) */
    double seconds_write;          /* ... writing files */
    double seconds;                /* whole restore */
    char *summary_json;            /* owned; lv_pg_restore_result_free */
    /* the target as found in the archive (xid and name targets) */
    int target_found;
    uint64_t target_lsn;
    uint32_t target_tli, recovery_timeline;
    int target_prepared;           /* an xid committed or aborted with COMMIT/ABORT PREPARED: stopped before
                                      it, the transaction stays prepared (and holds its locks) */
    char target_gid[201];          /* its GID, "" when its PREPARE record is not in the archive */
    uint32_t target_dbid;
    char target_dbname[128];       /* its database's name (the backup's map), "" when unknown */
} lv_pg_restore_result;

/* Codes: LV_ERR_USAGE (bad target, target outside the window), LV_ERR_CONFIG (pg-bin holds another
 * major version than the backup's), LV_ERR_NOT_FOUND (no such backup, no
 * backup before the target), LV_ERR_CONFLICT (target directory not empty, or a running postmaster in
 * it with delta), LV_ERR_CORRUPT (a blob failed authentication: the message names the file and the
 * blob; or the target lies past a damaged WAL segment: restore/pg_plan.h), LV_ERR_IO, LV_ERR_INTERRUPTED,
 * the store's codes. */
int lv_pg_restore(const lv_repo *r, const lv_pg_restore_opts *o, lv_pg_restore_result *res);
void lv_pg_restore_result_free(lv_pg_restore_result *res);

/* The recoverable window of the repository, for `backups` and drills: oldest backup's start ->
 * the end of the archive continuing from it (wal/range.h). */
typedef struct lv_pg_window {
    int have;                      /* 0: no pg backup */
    char oldest_backup[2 * LV_HASH_LEN + 1];
    int64_t from_time;             /* oldest backup's stop_time (earliest recoverable point) */
    uint64_t from_lsn;
    int64_t to_time;               /* last archived commit time (0 if unknown) */
    uint64_t to_lsn;               /* end of the gap-free archive */
    uint32_t to_tli;
} lv_pg_window;
int lv_pg_window_get(const lv_repo *r, lv_pg_window *w);

#endif
