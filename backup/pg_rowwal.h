/* What the WAL did to tables' rows between two LSNs: what the row counts of `backup pg`
 * (backup/pg_relmap.h) take from the archive to count only what they cannot derive. For each relation asked
 * for, one of three answers: unchanged (the previous backup's count holds), changed by a known number of
 * rows (the previous count plus the rows the committed transactions inserted minus those they deleted), or
 * unknown (count it).
 *
 * Every change to a permanent heap table's rows is a WAL record that references a main-fork page of its
 * relfilenode (insert, update, delete, multi-insert; prune, vacuum, freeze, lock and full-page images
 * too): a table that no record in [from, to) references has the rows it had at `from`, as long as no
 * transaction that wrote before `from` was still open then (the caller's rows_seed, pg/manifest.h). What
 * the block references do not show is covered as PostgreSQL's own WAL summarizer covers it: a database
 * created or dropped in the range makes every table of that database unknown (CREATE DATABASE with
 * FILE_COPY copies directories without a block reference); an SMGR truncation of a tracked relation makes
 * it unknown (a TRUNCATE inside the transaction that made the file truncates in place); TRUNCATE, VACUUM
 * FULL, CLUSTER and SET TABLESPACE give a new relfilenode or tablespace, which the caller compares.
 *
 * The delta of a referenced table (wal/records.h lv_wal_rows_effect): each record's rows are kept per
 * transaction (its own xid: a subtransaction's records carry the subtransaction's) until the transaction
 * ends. A commit (COMMIT, COMMIT PREPARED) adds its own rows and those of the subtransactions it lists (every
 * committed one) to the tables; an abort (ABORT, ABORT PREPARED, a subtransaction's rollback) drops them
 * with its listed subtransactions'. A transaction without an end before `to` is not visible at `to`: a
 * recovery that stops there (a drill to the backup's end point) does not see its rows either. Records
 * whose effect on rows cannot be told (lv_wal_rows_effect's LV_ROWS_UNKNOWN: a full-page image, a heap
 * TRUNCATE, an extension's generic WAL) make the table unknown; hint-bit images change nothing. A
 * transaction's rows are kept only until its end, so memory follows the transactions open at once (and
 * the tracked relations), not the WAL's length.
 *
 * Transactions open at `from` (the previous backup's pending rows, pg/manifest.h) are given with
 * lv_rowwal_pending: their rows count once their commit is read, and their tables are changed. The ones
 * still open at `to` are what lv_rowwal_open_rows returns, for this backup's manifest.
 *
 * Only the relations asked for are tracked. The segments are read from the repository (wal/segscan.h):
 * the cost follows the WAL written in the range, not the database. */
#ifndef LV_BACKUP_PG_ROWWAL_H
#define LV_BACKUP_PG_ROWWAL_H

#include <stddef.h>
#include <stdint.h>

#include "pg/manifest.h"
#include "repo/repo.h"

typedef struct lv_rowwal_rel {
    uint32_t spc, db, rel;       /* tablespace, database, relfilenode */
    int changed;                 /* referenced (or truncated) in the range */
    int unknown;                 /* a change whose rows cannot be told: count it */
    int64_t delta;               /* rows inserted minus deleted by the transactions committed in the range */
} lv_rowwal_rel;

typedef struct lv_rowwal_xact lv_rowwal_xact; /* pg_rowwal.c */
typedef struct lv_rowwal_cell lv_rowwal_cell;

typedef struct lv_rowwal {
    lv_rowwal_rel *rels;         /* the relations to track, sorted by (spc, db, rel) at the scan */
    size_t nrels, rcap;
    uint32_t *dbs;               /* databases created or dropped in the range */
    size_t ndbs, dcap;
    uint64_t records, segments;  /* read, for the log */
    /* open transactions' rows (pg_rowwal.c): a hash of xids, each with a list of (relation, rows) */
    lv_rowwal_xact *xacts;
    size_t xcap, nxacts;
    lv_rowwal_cell *cells;
    size_t ncells, ccap, cfree;
    const lv_pgman_pending *pre; /* lv_rowwal_pending's, borrowed until the scan */
    size_t npre;
    const lv_pgman_database *snaps; /* lv_rowwal_snapshots', borrowed */
    size_t nsnaps;
} lv_rowwal;

/* Track relation (spc, db, rel): call for each before lv_rowwal_scan (duplicates are harmless). */
void lv_rowwal_track(lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel);

/* The rows of transactions open at `from` (the previous manifest's pending; borrowed until the scan):
 * entries of relations not tracked are ignored. */
void lv_rowwal_pending(lv_rowwal *w, const lv_pgman_pending *p, size_t n);

/* Counts seeded from snapshots (pg/manifest.h seed_lsn; borrowed for as long as w is used): a commit adds
 * its rows to a table only if the snapshot of the table's database (dbs[i].snap, by oid) did not see the
 * transaction; those it saw are in the counts already. Databases without a snapshot are not filtered. */
void lv_rowwal_snapshots(lv_rowwal *w, const lv_pgman_database *dbs, size_t n);

/* Read the archived WAL from (tli, from) up to `to` (exclusive) along the history of timeline to_tli (a
 * promotion in between: timeline tli up to its switch point, then the next; the transactions open at a
 * switch point were never committed on the new timeline, and add nothing). Codes of wal/segscan.h
 * (LV_ERR_NOT_FOUND naming a missing segment, LV_ERR_CORRUPT, the store's); LV_ERR_CORRUPT when the
 * archived WAL ends before `to` (the answer would be incomplete). */
int lv_rowwal_scan(const lv_repo *r, uint32_t tli, uint64_t from, uint32_t to_tli, uint64_t to, lv_rowwal *w);

/* After a successful scan: the rows of relation (spc, db, rel) at `to`, given its rows at `from`: 1 with
 * *rows = prev when no record referenced it (*derived = 0), or prev plus its delta when every change was
 * one whose rows are known (*derived = 1); 0 when it must be counted (a change of unknown rows, a
 * truncation, its database created or dropped, not tracked, or a result below 0). */
int lv_rowwal_rows(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel, int64_t prev, int64_t *rows,
                   int *derived);

/* After a successful scan: the rows of the transactions still open at `to`, per transaction and tracked
 * relation (rows not 0), sorted as the manifest requires (*out owned, free()). A transaction id that
 * precedes xmin (a snapshot's xmin taken before `to`, 0 for none) is left out: it was no longer running
 * then, so it ended without a commit or abort record (a crash, a promotion) and its rows never count. */
void lv_rowwal_open_rows(const lv_rowwal *w, uint32_t xmin, lv_pgman_pending **out, uint32_t *n);

void lv_rowwal_free(lv_rowwal *w);

#endif
