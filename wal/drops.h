/* Finding, in the archived WAL, the commits that destroyed data, and the recovery target that stops just
 * before each (wal-format.md section 11; the product's headline: "back to just before the DROP TABLE").
 *
 * Signatures (PostgreSQL 13-17, checked on 15):
 *   LV_DROP_TABLE     a COMMIT / COMMIT_PREPARED whose dropped relfilenodes (files unlinked when the
 *                     commit is replayed) were not replaced in the same transaction: DROP TABLE, DROP
 *                     INDEX, DROP SCHEMA ... CASCADE. Target: --target-xid X --target-exclusive.
 *   LV_DROP_REWRITE   the same, but the transaction (or one of its subtransactions) created a main fork
 *                     (SMGR_CREATE): TRUNCATE, or a rewrite (VACUUM FULL, CLUSTER, ALTER TABLE) that
 *                     kept the data. Same target; a rewrite is listed because WAL alone cannot tell it
 *                     from a TRUNCATE.
 *   LV_DROP_DATABASE  a commit whose transaction wrote XLOG_DBASE_DROP. The database is already unusable
 *                     before its commit (the pg_database in-place update marks it invalid and the drop
 *                     record removes its directory), so the target is that in-place update's LSN
 *                     (--target-lsn L --target-exclusive), or the drop record's when there is none.
 * Aborts are not listed (their dropped files are the aborted transaction's own new ones), nor
 * SMGR_TRUNCATE records (VACUUM's truncation of empty pages, or a TRUNCATE of a table created in the
 * same transaction).
 *
 * The scan reads every segment of the gap-free range from from_lsn (wal/range.h), each downloaded once;
 * a record continued into the next segment is read from the two joined. With since_us, segments whose
 * last commit (catalog) is older are skipped without a download; drops before since_us are not
 * reported. */
#ifndef LV_WAL_DROPS_H
#define LV_WAL_DROPS_H

#include <stdint.h>

#include "repo/repo.h"
#include "wal/range.h"
#include "wal/records.h"

typedef enum lv_wal_drop_kind { LV_DROP_TABLE = 1, LV_DROP_REWRITE, LV_DROP_DATABASE } lv_wal_drop_kind;

typedef struct lv_wal_drop {
    lv_wal_drop_kind kind;
    uint64_t lsn;           /* the commit record */
    uint64_t target_lsn;    /* LV_DROP_DATABASE: where to stop (exclusive); else the commit's LSN */
    int64_t time_us;        /* commit time, unix microseconds */
    uint32_t xid;           /* the transaction (the prepared one's for COMMIT_PREPARED) */
    uint32_t dbid;          /* the database it ran in (0 when the commit does not say); for
                               LV_DROP_DATABASE the database dropped */
    uint32_t tli;           /* timeline of the segment holding the commit */
    int prepared;
    uint32_t nrels;
    const lv_wal_rfn *rels; /* valid during the callback */
} lv_wal_drop;

typedef int (*lv_wal_drop_cb)(void *arg, const lv_wal_drop *d);

/* Scan (above); *range receives the range scanned (its missing[] names a gap that ended the scan).
 * Returns LV_OK, cb's non-zero value, LV_ERR_NOT_FOUND when from_lsn's segment is not archived, the
 * store's codes, LV_ERR_CORRUPT for a segment that does not authenticate. */
int lv_wal_drops_scan(const lv_repo *r, uint32_t tli, uint64_t from_lsn, int64_t since_us, lv_wal_range *range,
                      lv_wal_drop_cb cb, void *arg);

const char *lv_wal_drop_kind_str(lv_wal_drop_kind k); /* "drop", "truncate-or-rewrite", "drop-database" */

/* `wal drops`: the scan from the right place, every drop named. Names come from the relation maps of the
 * pg backups in the catalog (pg/manifest.h): a relation's from the newest backup that started before the
 * drop and knows (database, relfilenode), else from any; NULL when none knows it. The scan starts at
 * since_lsn (non-zero), else at the oldest pg backup's start, else at the oldest archived segment
 * (LV_ERR_NOT_FOUND when there is no archive or no segment); since_us as for lv_wal_drops_scan. */
typedef struct lv_wal_drop_named {
    const lv_wal_drop *d;
    const char *database;            /* NULL: unknown */
    const char *const *relations;    /* d->nrels names, each NULL when unknown */
    char restore[160];               /* the command that restores to just before it */
} lv_wal_drop_named;
typedef int (*lv_wal_drop_named_cb)(void *arg, const lv_wal_drop_named *n);
int lv_wal_drops_list(const lv_repo *r, uint64_t since_lsn, int64_t since_us, lv_wal_range *range,
                      lv_wal_drop_named_cb cb, void *arg);

#endif
