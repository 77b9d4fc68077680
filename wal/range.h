/* What the WAL archive can recover: the archived WAL continuing without a gap from a backup's start,
 * and the commit times inside it (docs/design.md 6: a target is checked for reachability before anything is
 * written; drills measure RPO against the newest archived commit).
 *
 * The repository listing of wal/ is the truth for which segments exist. Commit times come from the
 * segments themselves (wal/records.h): `wal push` records each segment's first and last commit/abort
 * time in the catalog (wal_files begin_time/end_time, unix seconds; 0/0 = none); when the catalog does not know them (a
 * rebuilt catalog, another host), lv_wal_range_from downloads and scans the last segment of the range
 * (and, when it holds no commit, the ones before it) so the answer never depends on the catalog. The
 * segment holding the last commit is always scanned (its LSN and xid are in no catalog); segments the
 * catalog knows to hold no commit are skipped; at most 32 segments are scanned from each end, beyond
 * which the times stay 0 (wal/rangetimes.c, docs/wal.md section 8).
 *
 * Timelines: the range follows the timeline history (TTTTTTTT.history files) the way recovery with
 * recovery_target_timeline = 'latest' would: from the backup's timeline onto the newest timeline that
 * branched off at or after from_lsn. */
#ifndef LV_WAL_RANGE_H
#define LV_WAL_RANGE_H

#include <stdint.h>

#include "repo/repo.h"
#include "wal/archive.h"

typedef struct lv_wal_range {
    uint32_t start_tli, end_tli;   /* timeline of from_lsn, timeline the range ends on */
    uint64_t from_lsn;
    uint64_t end_lsn;              /* end of the last archived segment without a gap: WAL up to here is
                                      replayable (exclusive) */
    char first_segment[25], last_segment[25];
    uint64_t segments;             /* segments in the range */
    int64_t first_commit_time;     /* unix seconds of the first commit/abort record at or after from_lsn,
                                      0 when none */
    int64_t last_commit_time;      /* ... of the last commit/abort record in the range; 0 when none */
    uint64_t last_commit_lsn;      /* start LSN of that record */
    uint32_t last_commit_xid;
    char missing[25];              /* the first segment missing after the range ("" if the range ends at
                                      the newest archived segment) */
    char damaged[25];              /* the first segment read and found damaged (it does not authenticate or
                                      is not WAL): recovery cannot replay it, so the range ends before it;
                                      "" when none was (only the segments the times need are read) */
} lv_wal_range;

/* The range from from_lsn on timeline tli. LV_ERR_NOT_FOUND (message names the segment) when the
 * segment holding from_lsn is not archived; the store's codes. A segment the time scan reads and finds
 * damaged ends the range before it (out->damaged, one warning naming it and why), since recovery stops
 * there too; the times are then those of the range that is left. r->cat may be NULL (then every time
 * comes from the segments). */
int lv_wal_range_from(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out);
/* The same from the listing alone: no commit times, no segment read (a restore to an LSN, an xid, a name
 * or the backup's own end needs no time, and a segment it does not need must not stop it). */
int lv_wal_range_lsn(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out);
int lv_wal_range_lsn_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out);
/* Segments taken: each segment number from the newest timeline of the lineage that has begun by then; an
 * older timeline's copy only when its span covers the whole segment. .partial files are never used
 * (recovery asks for full names). A timeline history file that does not parse is skipped with a warning. */

/* The same range along the history of target_tli (a recovery_target_timeline) instead of the newest
 * timeline: target_tli must descend from tli at from_lsn (LV_ERR_NOT_FOUND otherwise, or when its history
 * file is not archived); target_tli == tli stays on tli; 0 is lv_wal_range_from. */
int lv_wal_range_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out);

/* The same range without the times, and its segments in WAL order (*segs: n objects, malloc'ed; the
 * caller frees it). */
int lv_wal_range_segments(const lv_repo *r, uint32_t tli, uint64_t from_lsn, lv_wal_range *out, lv_wal_object **segs,
                          size_t *n);
int lv_wal_range_segments_to(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_range *out,
                             lv_wal_object **segs, size_t *n);

/* The archive's WAL segment size (the stanza, cached in the catalog). LV_ERR_NOT_FOUND without a stanza. */
int lv_wal_seg_size(const lv_repo *r, uint32_t *seg_size);

/* Wait (polling the listing every 0.5 s, up to timeout_s seconds) until every segment from
 * start_lsn to stop_lsn (inclusive) on timeline tli is archived. A stop_lsn exactly on a segment
 * boundary (pg_backup_stop's end of WAL) needs only the segment before it, as PostgreSQL's own wait
 * does. LV_OK, or LV_ERR_INCOMPLETE naming the first missing segment. Used by `backup pg` to complete a backup. */
int lv_wal_wait_range(const lv_repo *r, uint32_t tli, uint64_t start_lsn, uint64_t stop_lsn, uint32_t seg_size,
                      int timeout_s);

#endif
