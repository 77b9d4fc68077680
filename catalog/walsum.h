/* The per-segment WAL summaries in the catalog (schema: migration 5): what `wal push` learns of each
 * segment while it has it in memory (wal/summary.h computes them), kept so that later questions about a
 * segment need no download.
 *
 * wal_files (catalog/wal.h) gains, per segment: xid_lo, xid_hi (the range of its transaction ends),
 * summary (NULL: none; 1: complete), cut and lead (the first bytes of a record split by its end and of the
 * continuation it starts with). wal_changes: per transaction and relation, the rows a segment's heap
 * records changed (pairs with many rows only). wal_points: restore points and PREPARE TRANSACTIONs. The
 * detail rows are written before the wal_files row that says the summary is complete (lv_catalog_wal_add
 * with a summary; lv_catalog_walsum_save in one transaction), so a summary is never half there. Derived
 * from the repository: `catalog rebuild` empties them, catalog sync forgets those of segments gone. */
#ifndef LV_CATALOG_WALSUM_H
#define LV_CATALOG_WALSUM_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

typedef struct lv_walsum_rel {
    uint32_t spc, db, rel;         /* tablespace, database (0: shared), relfilenode */
} lv_walsum_rel;

typedef enum lv_walsum_end {
    LV_WALSUM_END_UNKNOWN = 0, /* the transaction's end record is not in this segment */
    LV_WALSUM_END_COMMIT,
    LV_WALSUM_END_ABORT,
    LV_WALSUM_END_PREPARE      /* PREPARE TRANSACTION: committed or rolled back later (by xid) */
} lv_walsum_end;

typedef struct lv_walsum_change {
    uint32_t xid;
    lv_walsum_rel rel;
    uint64_t inserted, updated, deleted;
    uint64_t first_lsn, last_lsn;  /* first and last counted record */
    lv_walsum_end end;
    uint64_t end_lsn;              /* the end record (commit, abort or PREPARE) when in this segment */
    int64_t end_time_us;
    uint32_t end_dbid;
    int end_prepared;              /* the end is a COMMIT/ABORT PREPARED */
} lv_walsum_change;

typedef enum lv_walsum_point_kind {
    LV_WALSUM_RESTORE_POINT = 1,
    LV_WALSUM_PREPARE,
    LV_WALSUM_CUT_RESTORE_POINT,   /* a restore point continues into the next segment (its name is there):
                                      read the two joined */
    LV_WALSUM_CUT_PREPARE          /* the PREPARE of xid continues into the next segment (GID there) */
} lv_walsum_point_kind;

typedef struct lv_walsum_point {
    lv_walsum_point_kind kind;
    uint64_t lsn;
    int64_t time_us;
    uint32_t xid, dbid;            /* PREPARE */
    char name[201];                /* the restore point's name, or the GID */
} lv_walsum_point;

#define LV_WALSUM_EDGE 64

typedef struct lv_walsum {
    int64_t begin_time, end_time;  /* above */
    int have_xids;
    uint32_t xid_lo, xid_hi;
    lv_walsum_change *changes;
    size_t nchanges;
    lv_walsum_point *points;
    size_t npoints;
    /* The edges, for a row change split by the segment boundary so early that neither segment alone can
     * tell whose it is (fewer than 28 bytes of it here): its first bytes here (cut), and the first bytes
     * of the continuation a segment starts with (lead). lv_walsum_join counts it from the two. */
    uint8_t cut[LV_WALSUM_EDGE], lead[LV_WALSUM_EDGE];
    uint32_t ncut, nlead;
} lv_walsum;

/* The summary's arrays. */
void lv_walsum_free(lv_walsum *s);

/* The detail rows of segment name (replacing its earlier ones); the caller sets the flag after them. */
int lv_catalog_walsum_rows(lv_catalog *c, const char *name, const lv_walsum *s);
/* Record the summary of a segment read after its push (a rebuilt catalog, another host): detail rows and
 * the wal_files columns, in one transaction. A segment the catalog has no row for is left as it is. */
int lv_catalog_walsum_save(lv_catalog *c, const char *name, const lv_walsum *s);

/* The summaries of the segments (any timeline) that begin in [from_lsn, to_lsn), sorted by name: *out is
 * malloc'ed (lv_catalog_walsums_free); segments without a summary are not in it. */
typedef struct lv_catalog_walsum {
    char name[25];
    lv_walsum s;
} lv_catalog_walsum;
int lv_catalog_walsums(lv_catalog *c, uint64_t from_lsn, uint64_t to_lsn, lv_catalog_walsum **out, size_t *n);
lv_catalog_walsum *lv_catalog_walsum_find(lv_catalog_walsum *v, size_t n, const char *name);
void lv_catalog_walsums_free(lv_catalog_walsum *v, size_t n);

#endif
