/* Timeline histories in the WAL archive: which timeline covered which LSNs on the way to a given timeline
 * (the TTTTTTTT.history files PostgreSQL archives at every promotion), as recovery reads them.
 *
 * A history file has one "parentTLI<TAB>switchpoint<TAB>reason" line per ancestor ('#' comments and blank
 * lines ignored): timeline k covered [previous switchpoint, its own switchpoint), and the file's own
 * timeline begins at the last switchpoint, open-ended. Timeline 1 has no file: it covers everything. */
#ifndef LV_WAL_TIMELINE_H
#define LV_WAL_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "wal/archive.h"

#define LV_WAL_LINEAGE_MAX 64

typedef struct lv_wal_tl_span {
    uint32_t tli;
    uint64_t begin, end;           /* [begin, end); end UINT64_MAX for the last (the timeline itself) */
} lv_wal_tl_span;

/* Parse a history file of timeline own into its ancestors' spans followed by own's (*n spans, at most
 * LV_WAL_LINEAGE_MAX). -1 when malformed (a line that does not parse, timelines not increasing, switch
 * points going back). */
int lv_wal_history_parse(const char *text, size_t len, uint32_t own, lv_wal_tl_span *sp, size_t *n);

/* The history of timeline tli from the archive (one narrow listing and a read; timeline 1: no read).
 * LV_ERR_NOT_FOUND when tli > 1 has no archived history file, LV_ERR_CORRUPT when it does not parse, the
 * store's codes. */
int lv_wal_history_get(const lv_repo *r, uint32_t tli, lv_wal_tl_span *sp, size_t *n);

/* The newest timeline of the archive: the highest tli with a history file (probed upwards from 2, as
 * PostgreSQL's findNewestTimeLine does), 1 when there is none. */
int lv_wal_newest_timeline(const lv_repo *r, uint32_t *tli);

/* Is the point (tli, lsn) on the history sp: tli is one of its timelines and lsn is not past the point
 * where tli ended there? (A backup whose end is on the history can recover along it.) */
int lv_wal_history_has(const lv_wal_tl_span *sp, size_t n, uint32_t tli, uint64_t lsn);

/* The timeline of the history covering lsn (the last span with begin <= lsn), 0 when none. */
uint32_t lv_wal_history_tli_at(const lv_wal_tl_span *sp, size_t n, uint64_t lsn);

/* The timeline whose file of segment number seg recovery along the history reads (PostgreSQL's
 * XLogFileReadAnyTLI): the newest timeline that begins at or before the segment's end, so the segment
 * holding a switch point is the new timeline's (its part before the switch copied from the old one at the
 * promotion). 0 when none. */
uint32_t lv_wal_history_segment_tli(const lv_wal_tl_span *sp, size_t n, uint64_t seg, uint32_t seg_size);

#endif
