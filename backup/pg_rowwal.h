/* Which tables the WAL changed between two LSNs: what the row counts of `backup pg` (backup/pg_relmap.h)
 * take from the archive to count only the tables that changed since the previous backup, and carry the
 * previous backup's exact count for the others.
 *
 * Every change to a permanent heap table's rows is a WAL record that references a main-fork page of its
 * relfilenode (insert, update, delete, multi-insert; prune, vacuum, freeze, lock and full-page images
 * too; only XLOG_FPI_FOR_HINT images are ignored: hint bits change no row's visibility): a table that no record in [from, to) references has the rows it had at `from`, as long as no
 * transaction that wrote before `from` was still open then (the caller's rows_seed, pg/manifest.h). What
 * the block references do not show is covered as PostgreSQL's own WAL summarizer covers it: a database
 * created or dropped in the range makes every table of that database changed (CREATE DATABASE with
 * FILE_COPY copies directories without a block reference); an SMGR truncation of a tracked relation counts
 * as a change (a TRUNCATE inside the transaction that made the file truncates in place); TRUNCATE, VACUUM
 * FULL, CLUSTER and SET TABLESPACE give a new relfilenode or tablespace, which the caller compares.
 *
 * Only the relations asked for are tracked. The segments are read from the repository (wal/segscan.h):
 * the cost follows the WAL written in the range, not the database. The per-segment block summaries of
 * issue 19 will answer the same question from the catalog. Memory: one entry per tracked relation. */
#ifndef LV_BACKUP_PG_ROWWAL_H
#define LV_BACKUP_PG_ROWWAL_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

typedef struct lv_rowwal_rel {
    uint32_t spc, db, rel;       /* tablespace, database, relfilenode */
    int changed;
} lv_rowwal_rel;

typedef struct lv_rowwal {
    lv_rowwal_rel *rels;         /* the relations to track, sorted by (spc, db, rel) at the scan */
    size_t nrels, rcap;
    uint32_t *dbs;               /* databases created or dropped in the range */
    size_t ndbs, dcap;
    uint64_t records, segments;  /* read, for the log */
} lv_rowwal;

/* Track relation (spc, db, rel): call for each before lv_rowwal_scan (duplicates are harmless). */
void lv_rowwal_track(lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel);

/* Read the archived WAL of timeline tli from `from` up to `to` (exclusive). Codes of wal/segscan.h
 * (LV_ERR_NOT_FOUND naming a missing segment, LV_ERR_CORRUPT, the store's); LV_ERR_CORRUPT when the
 * archived WAL ends before `to` (the answer would be incomplete). */
int lv_rowwal_scan(const lv_repo *r, uint32_t tli, uint64_t from, uint64_t to, lv_rowwal *w);

/* After a successful scan: may the rows of relation (spc, db, rel) have changed in the range? 1 when it
 * was referenced, truncated, its database created or dropped, or it was not tracked; else 0. */
int lv_rowwal_changed(const lv_rowwal *w, uint32_t spc, uint32_t db, uint32_t rel);

void lv_rowwal_free(lv_rowwal *w);

#endif
