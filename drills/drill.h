/* Restore drills (issue 7, docs/design.md 7): prove that a backup restores, measure RTO and RPO, keep the
 * history. docs/drills.md describes the commands and the record.
 *
 * A drill works in its own scratch directory, <scratch-dir>/drill-<id>/ (mode 0700), and removes it on
 * every exit path: success, a failed check, an error, and SIGINT/SIGTERM (each run catches interrupts,
 * common/interrupt.h, for its duration; its restore sees the same flag). Nothing a
 * drill starts outlives it: the scratch PostgreSQL is stopped (fast, or immediate after an interrupt,
 * then SIGKILL of the postmaster if it is still there) before the directory goes.
 *
 *   files drill   restore a file snapshot into scratch, then walk the snapshot's tree and compare every
 *                 entry with what is on disk: type, mode, owner (as root), mtime to the nanosecond, size,
 *                 symlink target, xattrs, and every content extent by its blob id (the keyed hash of the
 *                 bytes read back, so the comparison does not trust the restore's own bookkeeping).
 *   pg drill      restore a PostgreSQL backup (restore/pg.h) into scratch, start the same major version on
 *                 a free 127.0.0.1 port with restore_command pointing at this labvault, recover to the
 *                 target, wait until it accepts queries (and has left recovery), then run the checks
 *                 (drills/checks.h), stop it.
 *
 * The record: one JSON object (lv_drill_to_json), the same bytes in the catalog table `drills` (schema 4)
 * and in the repository object drills/<id> (sealed, aad "labvault drill <id>", create-only), so the
 * history survives the host: `catalog rebuild` refills the table from drills/ (lv_drill_register), and
 * `repo check` authenticates every record; a damaged one is damage for both (never dropped quietly). Ids
 * are "YYYYMMDDTHHMMSSZ-<8 hex>" (UTC start time and 32 random bits): they sort by time.
 *
 * Outcome: every check is in the record with its result. A drill whose checks all pass returns LV_OK;
 * a failed check (a damaged blob found by the restore is the failed check "restore") returns
 * LV_ERR_CHECK with the one-line message naming the first failed check and what it got. Errors that
 * keep the drill from running at all (no such backup, repository unreachable) return their own code and
 * are recorded as failed drills when they happen after the drill started restoring. An interrupted drill
 * is not recorded; it returns LV_ERR_INTERRUPTED after the cleanup. */
#ifndef LV_DRILLS_DRILL_H
#define LV_DRILLS_DRILL_H

#include <stdint.h>

#include "catalog/drills.h"
#include "common/buf.h"
#include "config/config.h"
#include "repo/repo.h"

#define LV_DRILL_ID_LEN 26          /* "20261121T104500Z-0123abcd" + NUL */
#define LV_DRILL_MAX_CHECKS 200     /* mismatches beyond this are counted, not listed */

typedef struct lv_drill_check {
    char *name;                      /* "restore", "connect bench", "amcheck", "rows public.t", "user: SQL",
                                        "file etc/hosts" */
    int ok;
    char *detail;                    /* what was expected and what was found, or the error */
} lv_drill_check;

struct lv_spg;

typedef struct lv_drill {
    char id[LV_DRILL_ID_LEN];
    const char *kind;                /* "pg" | "files" */
    char source[2 * LV_HASH_LEN + 1];/* backup or snapshot id */
    char host[256];
    char target[128];                /* pg: "latest", "immediate", "time 2026-..." ; files: "snapshot" */
    double started;                  /* unix time, sub-second */
    double seconds;                  /* whole drill, cleanup included */
    /* RTO: drill start -> ready for queries (files: -> restore complete) */
    double rto, rto_download, rto_write, rto_replay;
    double rpo;                      /* seconds between the newest archived commit and the recovered
                                        point; -1 unknown (files drills) */
    int64_t recovered_time;          /* unix seconds of the last replayed commit (0 unknown) */
    int64_t last_archived_time;      /* newest archived commit at drill time (0 unknown) */
    uint64_t bytes_fetched, blobs_fetched, segments_fetched, files, bytes_written;
    int pg_version;
    lv_drill_check *checks;
    uint32_t nchecks, cap_checks;
    uint64_t failed;                 /* failed checks, including those beyond LV_DRILL_MAX_CHECKS */
    char *error;                     /* first failure, one line (owned), NULL when passed */
    /* a drill kept running (lv_drill_opts.keep_running): where */
    int running;
    int port;
    char *scratch, *datadir, *sockdir, *bindir, *user, *os_user;
} lv_drill;

/* Which drill to run (from the command line and the [drill] options). */
typedef struct lv_drill_opts {
    const char *kind;                /* "pg" or "files" */
    const char *source;              /* backup / snapshot spec: id, prefix, "latest", "random" (pg) */
    const char *target_time;         /* pg: recover to this time; NULL = end of the archive */
    int random_target;               /* pg: a random time in the recoverable window */
    int target_immediate;            /* pg: the backup's own end point (row counts are then exact) */
    int keep;                        /* keep the scratch directory (PostgreSQL is stopped anyway) */
    /* An undo drill (drills/undo.h): recover to just before a transaction's commit (target_xid) or an LSN
     * (target_lsn), exclusive, on target_timeline's history (0: the newest) */
    uint32_t target_xid;
    const char *target_lsn;
    uint32_t target_timeline;
    int keep_running;                /* leave the scratch server running and its directory in place (when
                                        the drill passed); the caller says how to reach and stop it */
    /* called once the scratch server accepts queries, before the checks (NULL: none); its failures are
     * checks it adds to d */
    void (*ready)(void *arg, lv_drill *d, const struct lv_spg *p, const char *user);
    void *ready_arg;
    const char *scratch_dir;         /* drill-scratch-dir */
    const char *os_user;             /* drill-os-user: who runs PostgreSQL when we are root; NULL = owner
                                        of pg-data, else "postgres" */
    const char *pg_bin;              /* pg-bin; NULL = pg_config --bindir of the backup's major version */
    const char *checks_file;         /* drill-checks: user checks, "[@DB] EXPECTED | SQL" lines */
    int timeout;                     /* drill-timeout: seconds to wait for PostgreSQL to be ready */
    const char *config_file;         /* the configuration this labvault runs with (for restore_command) */
    const lv_config *cfg;
    int progress;
} lv_drill_opts;

/* The scratch directory <base>/drill-<id> (created 0700) and its removal (never following symlinks).
 * base is shared by every user who runs drills: created sticky and world-writable (1777, like /tmp), and
 * refused when it is a symlink, belongs to another user than root or the caller, or is world-writable
 * without the sticky bit; one its owner finds mode 0755 (earlier versions) is made 1777; one the caller
 * cannot write is LV_ERR_IO saying how to fix it. remove is quiet on success and logs what it could not
 * remove. */
int lv_drill_scratch_create(const char *base, const char *id, char **out);
int lv_drill_scratch_remove(const char *dir);

/* Run a drill (each installs the SIGINT/SIGTERM handlers for its duration). d is filled in
 * (lv_drill_free) whenever the drill started, also when it failed; the caller records it
 * (lv_drill_record) unless the code is LV_ERR_INTERRUPTED or d->id is "". */
int lv_drill_run_files(lv_repo *r, const lv_drill_opts *o, lv_drill *d);
int lv_drill_run_pg(lv_repo *r, const lv_drill_opts *o, lv_drill *d);

/* The comparison of a files drill: walk snapshot snap and compare every entry with the tree restored at
 * root (above); each difference is a failed check "file PATH", then a check "compare" sums them up.
 * LV_OK (differences are in d), LV_ERR_INTERRUPTED, or the error of reading the snapshot's trees. */
int lv_drill_compare_files(lv_repo *r, lv_drill *d, const char *snap, const char *root);

/* Record helpers. begin: id, host, start time. check: append one result (detail printf-style); a
 * failure sets d->error the first time. */
void lv_drill_begin(lv_drill *d, const char *kind);
void lv_drill_check_add(lv_drill *d, const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void lv_drill_free(lv_drill *d);
void lv_drill_to_json(const lv_drill *d, lv_buf *out);

/* Store the record: repository object drills/<id> first (the truth), then the catalog row. A failed
 * upload is reported (the row is still written, so the local history is complete). */
int lv_drill_record(lv_repo *r, const lv_drill *d);

/* History from the catalog, oldest first; limit 0 = all (else the newest `limit`); the row:
 * catalog/drills.h. */
int lv_drill_history(const lv_repo *r, int limit, int (*cb)(void *arg, const lv_drill_row *row), void *arg);

/* The HTML report of the whole history (drills/report.c): one self-contained page. */
int lv_drill_report_html(const lv_repo *r, lv_buf *out);

/* Register the drills' catalog-rebuild step (drill history from drills/ in the repository) and their repo
 * check step (every record authenticated; one the local catalog has and the repository lacks is missing). */
void lv_drill_register(void);

#endif
