/* Finding, in the archived WAL, the transactions that deleted or updated many rows of a table (the
 * DELETE or UPDATE without WHERE that no drop finder sees), each with where it ended, so that a restore can
 * stop just before it (`labvault wal changes`, docs/pitr.md).
 *
 * From the per-segment summaries (wal/summary.h), not from the WAL: every segment with a summary costs a
 * few catalog rows, so a day of archive is searched in well under a second; a segment without one is read
 * once and summarized (wal/segscan.h). The summaries keep, per segment, the (transaction, relation) pairs
 * with at least LV_WALSUM_MIN_ROWS rows there; a transaction is a candidate when its rows of one relation
 * over all segments reach min_rows (deleted + updated; with inserts, inserted too). For each candidate
 * listed, the segments the summaries cannot speak for are read record by record: the one before its first
 * summarized rows (where it may have started with fewer rows) and those after its last ones up to its end
 * record (at most CHANGES_TAIL_MAX; its end found through the summaries' xid ranges, wal/targets.h), so the
 * counts are the rows its heap records changed, and its subtransactions' rows are added when its commit
 * names them. A transaction that changed fewer than LV_WALSUM_MIN_ROWS rows of the table in every segment
 * (a trickle spread over many segments) is not found.
 *
 * Listed newest first (by the end of its rows); shared catalogs are never counted; TOAST tables are counted
 * as relations of their own. */
#ifndef LV_WAL_CHANGES_H
#define LV_WAL_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "wal/range.h"
#include "catalog/walsum.h"
#include "wal/records.h"

typedef struct lv_wal_changes_opts {
    uint64_t min_rows;             /* a relation's deleted + updated rows (0: 1000) */
    int inserts;                   /* inserted rows count toward min_rows too */
    int64_t since_us;              /* only transactions that ended at or after this (unix microseconds) */
    size_t limit;                  /* the newest `limit` transactions (0: all) */
    /* only relations for which want(want_arg, db, relfilenode, lsn) says 1 (NULL: all) */
    int (*want)(void *arg, uint32_t db, uint32_t relfilenode, uint64_t lsn);
    void *want_arg;
} lv_wal_changes_opts;

typedef struct lv_wal_change_rel {
    lv_walsum_rel rel;
    uint64_t inserted, updated, deleted;
} lv_wal_change_rel;

typedef enum lv_wal_change_end {
    LV_CHANGE_OPEN = 0,            /* no end record in the archive yet: still running, or not archived */
    LV_CHANGE_COMMITTED,
    LV_CHANGE_ABORTED,
    LV_CHANGE_PREPARED             /* PREPARE TRANSACTION, not committed or rolled back yet */
} lv_wal_change_end;

typedef struct lv_wal_change {
    uint32_t xid;
    lv_wal_change_end end;
    uint64_t first_lsn, last_lsn;  /* its first and last counted row */
    uint64_t end_lsn;              /* the commit/abort record (COMMIT/ABORT PREPARED for prepared ones) */
    uint32_t end_tli;
    int64_t end_time_us;
    uint32_t dbid;                 /* the database it ran in (0 unknown) */
    int prepared;                  /* two-phase: ended with COMMIT/ABORT PREPARED */
    char gid[201];                 /* prepared: its GID ("" unknown) */
    lv_wal_change_rel *rels;       /* per relation, most rows first */
    size_t nrels;
} lv_wal_change;

typedef struct lv_wal_changes {
    lv_wal_change *v;              /* newest first */
    size_t n;
    lv_wal_range range;            /* what was searched */
    uint64_t segments, summarized, read; /* segments in the range; from summaries; downloaded */
    double seconds;
} lv_wal_changes;

/* Search the range from (tli, from_lsn) (the newest timeline's history, as wal/range.h). LV_OK, the
 * store's codes, LV_ERR_CORRUPT for a segment that does not authenticate, LV_ERR_NOT_FOUND when from_lsn's
 * segment is not archived. */
int lv_wal_changes_find(const lv_repo *r, uint32_t tli, uint64_t from_lsn, const lv_wal_changes_opts *o, lv_wal_changes *out);
void lv_wal_changes_free(lv_wal_changes *c);

#endif
