/* Relation maps and row counts of every database (backup/pg.h): after the backup's stop, for each
 * database that allows connections, pg_class's relations (oid, schema, name, relfilenode, tablespace
 * (0 resolved to the database's), relkind) and, with count_rows, exact row counts of permanent ordinary
 * tables outside pg_catalog and information_schema, read in one REPEATABLE READ transaction per database
 * (unlogged ones are not copied, backup/pg_walk.h: a restore has them empty; temporary ones belong to
 * their session).
 *
 * rows_lsn: *exact is set when every database whose tables were counted had a transaction snapshot
 * (pg_current_snapshot()) equal to stop_snapshot, the one taken on the backup session right after the stop
 * (counts carried or derived from the WAL are exact at the stop anyway, below): then no transaction id was
 * assigned and none ended in between, so a recovery to the stop LSN has exactly these rows. The databases'
 * snapshots are taken one after the other before any database is counted (4 at a time, fewer when the
 * server has no connection slot left; each connection is closed once its database is counted), so a
 * commit while one database is counted does not end the exactness of the others. A table whose
 * count fails (a damaged page) gets rows = -1 and a warning instead of failing the backup (and the
 * counts are then not exact). *seed (the manifest's rows_seed) is set when the counts are exact and no
 * transaction with an xid was in progress in the stop snapshot (none listed, and its xmax not assigned).
 *
 * Counts from the pages (pages non-NULL, a full backup's, lv_pg_rowpages below) come first, then the WAL.
 * Counts from the WAL (carry non-NULL, the previous backup's manifest with rows_seed set): a table with
 * the same oid, relfilenode and tablespace as in prev and counted there is not counted when carry->rows
 * knows its rows at this stop from prev's count and the WAL since prev's rows_lsn (backup/pg_rowwal.h):
 * unchanged (carried) or changed by committed inserts and deletes alone (derived). rows is called only
 * after the database's snapshot is fixed (it may wait for the WAL to be archived); it returns 1 with *rows
 * and *derived, or 0 (count it). The cost then follows the WAL since the previous backup, not the
 * database. Such a count is exact at the stop whatever the database's snapshot (the WAL up to the stop
 * decides it), so a database whose tables were all carried or derived keeps the counts exact under load,
 * when commits never leave the snapshots equal to stop_snapshot. When no table was counted at all,
 * *pending_known is set with *seed: the rows of the transactions open at the stop are the WAL reading's
 * (lv_rowwal_open_rows), which the caller stores in the manifest for the next backup; otherwise a seed
 * needs no transaction in progress at the stop, as above (and the manifest lists none).
 *
 * A seed from the counting snapshots (*snap_seed, with *seed): when every table was counted (none carried or
 * derived, none left out) and every database's snapshot has an xmin at or past next_xid (the start
 * checkpoint's next transaction id, 0: unknown), each database keeps its snapshot (dbs[i].snap, else
 * zeroed). A transaction such a snapshot does not see has an id at or past its xmin, so it was given its id
 * after that checkpoint's redo point was fixed, and every record it wrote follows that point: the next
 * backup reads the WAL from there (the manifest's seed_lsn) and adds only the transactions the snapshot of
 * the table's database does not see. Under steady load of short transactions a stop is never quiet, and
 * this is what lets a full backup (every table counted) seed the incrementals that follow it. */
#ifndef LV_BACKUP_PG_RELMAP_H
#define LV_BACKUP_PG_RELMAP_H

#include "backup/pg_session.h"
#include "pg/manifest.h"

typedef struct lv_pg_rowcarry {
    const lv_pgman *prev;
    int (*rows)(void *arg, uint32_t spc, uint32_t db, uint32_t relfilenode, int64_t prev, int64_t *rows,
                int *derived);
    void *arg;
    uint64_t counted, carried, derived; /* out: tables counted, counts carried unchanged, counts derived */
} lv_pg_rowcarry;

/* Counts from the pages the backup read (a full backup's, backup/pg_read.h lv_pg_read_rows): rows(arg, spc,
 * db, relfilenode) returns a table's rows at the stop, or -1 (count it, or carry it). Such a count is exact at
 * the stop whatever the snapshot, like a derived one: the table has no WAL record in the backup's range and
 * its pages were all-visible, so no transaction had written to it before the stop without committing, and
 * the rows of the transactions open at the stop (the seed's pending rows) hold none of it. It is asked
 * before carry, and only in a database whose snapshot is the stop's: there, the table's relfilenode is
 * the one it had at the stop (a TRUNCATE and COPY FREEZE committed after the stop would name a new file
 * whose pages are all-visible already). */
typedef struct lv_pg_rowpages {
    int64_t (*rows)(void *arg, uint32_t spc, uint32_t db, uint32_t relfilenode);
    void *arg;
    uint64_t used; /* out: tables whose rows came from the pages */
} lv_pg_rowpages;

/* Fills *dbs / *ndbs (owned: free with lv_pg_relmap_free). LV_ERR_PG naming the database and cause. */
int lv_pg_relmap_collect(PGconn *main, const lv_pg_conn_opts *c, int count_rows, const char *stop_snapshot,
                         uint64_t next_xid, lv_pg_rowpages *pages, lv_pg_rowcarry *carry, lv_pgman_database **dbs,
                         uint32_t *ndbs, int *exact, int *seed, int *pending_known, int *snap_seed);
void lv_pg_relmap_free(lv_pgman_database *dbs, uint32_t ndbs);

#endif
