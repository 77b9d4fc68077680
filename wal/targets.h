/* Where a recovery target is in the archived WAL: the commit or abort record of a transaction id, the
 * restore points of a name, the PREPARE TRANSACTION of a prepared transaction (its GID). `restore pg`
 * needs the LSN to choose a backup that became consistent before the target (a backup taken after an
 * accident must not be chosen for an xid or a name: recovery would end before reaching it), and the
 * finders need the commit of the transactions they list.
 *
 * They search the segments of a range (wal/segscan.h) in WAL order, reading only those whose summary can
 * hold the answer (an xid inside the segment's xid range; a restore point or PREPARE listed in it); a
 * segment without a summary is read (and summarized on the way). recovery_target_xid matches the commit
 * or abort of the transaction, for a prepared one its COMMIT/ABORT PREPARED. */
#ifndef LV_WAL_TARGETS_H
#define LV_WAL_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "wal/segscan.h"

typedef struct lv_wal_xact_end {
    uint32_t xid;
    uint64_t lsn;                /* the commit or abort record */
    uint32_t tli;                /* timeline of the segment holding it */
    int64_t time_us;
    int commit;                  /* 1 commit, 0 abort */
    int prepared;                /* COMMIT/ABORT PREPARED */
    uint32_t dbid;               /* the database it ran in (0 when the record does not say) */
    uint32_t nsubxacts;
    uint32_t *subxacts;          /* malloc'ed (lv_wal_xact_end_free) */
    char gid[201];               /* prepared: its GID when its PREPARE record was found, else "" */
    uint32_t prepare_dbid;
} lv_wal_xact_end;

/* The end of transaction xid in segments [from_i, s->n). LV_OK with the record, LV_ERR_NOT_FOUND (naming
 * the range) when it has none there, or the store's codes. For a prepared transaction, its PREPARE record
 * is looked for too (lv_wal_find_prepare). */
int lv_wal_find_xact_end(const lv_repo *r, lv_wal_segs *s, size_t from_i, uint32_t xid, lv_wal_xact_end *out);
void lv_wal_xact_end_free(lv_wal_xact_end *e);

/* The GID and database of prepared transaction xid, from its PREPARE record in segments [0, before_i]:
 * the summaries, then the segments without one read backwards from before_i (at most 64). LV_OK with
 * gid "" when it is not found (prepared before the range). */
int lv_wal_find_prepare(const lv_repo *r, lv_wal_segs *s, size_t before_i, uint32_t xid, char gid[201], uint32_t *dbid);

/* Every restore point named name in the range, in WAL order (*out malloc'ed, *n of them, with the timeline
 * of the segment holding each). Reads every segment without a summary. */
typedef struct lv_wal_point {
    uint64_t lsn;
    uint32_t tli;
    int64_t time_us;
} lv_wal_point;
int lv_wal_find_restore_points(const lv_repo *r, lv_wal_segs *s, const char *name, lv_wal_point **out, size_t *n);

/* The command that restores to just before a transaction (xid != 0: --target-xid X) or an LSN
 * (--target-lsn L), exclusive, on timeline tli (0: not named; callers name it when the archive has more
 * than one timeline). */
void lv_wal_restore_cmd(uint32_t xid, uint64_t lsn, uint32_t tli, char *out, size_t n);

#endif
