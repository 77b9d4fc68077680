/* Finding, in the archived WAL, the commits that destroyed data, and the recovery target that stops just
 * before each (wal-format.md section 11; the product's headline: "back to just before the DROP TABLE").
 *
 * Signatures (PostgreSQL 13-18, checked on 15):
 *   LV_DROP_TABLE     a COMMIT / COMMIT_PREPARED whose dropped relfilenodes (files unlinked when the
 *                     commit is replayed) were not replaced in the same transaction: DROP TABLE, DROP
 *                     INDEX, DROP SCHEMA ... CASCADE. Target: --target-xid X --target-exclusive.
 *   LV_DROP_REWRITE   the same, but the transaction (or one of its subtransactions) created a main fork
 *                     (SMGR_CREATE): TRUNCATE, or a rewrite (VACUUM FULL, CLUSTER, ALTER TABLE) that
 *                     kept the data. Same target; a rewrite is listed because WAL alone cannot tell it
 *                     from a TRUNCATE.
 *   LV_DROP_DATABASE  a commit whose transaction wrote XLOG_DBASE_DROP. The database is unusable before
 *                     its commit: dropdb() first marks its pg_database row invalid with an in-place update
 *                     (Heap INPLACE on 1664/0/1262, no transaction), then deletes that row (a Heap DELETE
 *                     by the dropping transaction, same page and line pointer), and the drop record
 *                     removes its directory. The target is that in-place update of the dropped database's
 *                     own row: the last INPLACE on the row the transaction's DELETE names, before that
 *                     DELETE (an in-place update of another database's row, VACUUM advancing its
 *                     datfrozenxid, may come in between and is not it); without one (minor releases before
 *                     the invalid marking) the DELETE itself, else the drop record
 *                     (--target-lsn L --target-exclusive).
 * Aborts are not listed (their dropped files are the aborted transaction's own new ones), nor
 * SMGR_TRUNCATE records (VACUUM's truncation of empty pages, or a TRUNCATE of a table created in the
 * same transaction). A drop committed with COMMIT PREPARED is marked prepared, with the GID of its PREPARE
 * TRANSACTION when the archive has it: stopped before its COMMIT PREPARED, it is prepared again in the
 * restored cluster (restore/pg_plan.h lv_pg_prepared_note).
 *
 * The scan reads every segment of the gap-free range from from_lsn (wal/segscan.h), each downloaded once;
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
    char gid[201];          /* prepared: the GID of its PREPARE TRANSACTION ("" when not in the archive) */
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

/* `wal drops`: the scan from the right place (lv_wal_scan_start), every drop named (wal/relnames.h),
 * with the restore command that stops before it (lv_wal_restore_cmd; the timeline named when the archive
 * has more than one). */
typedef struct lv_wal_drop_named {
    const lv_wal_drop *d;
    const char *database;            /* NULL: unknown */
    const char *const *relations;    /* d->nrels names ("schema.name"), each NULL when unknown */
    const char *const *relkinds;     /* d->nrels one-letter pg_class.relkind strings, "" when unknown */
    char restore[200];               /* the command that restores to just before it */
} lv_wal_drop_named;
typedef int (*lv_wal_drop_named_cb)(void *arg, const lv_wal_drop_named *n);
int lv_wal_drops_list(const lv_repo *r, uint64_t since_lsn, int64_t since_us, lv_wal_range *range, lv_wal_drop_named_cb cb,
                      void *arg);

#endif
