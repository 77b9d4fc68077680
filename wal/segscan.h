/* Reading the archived segments of a recoverable range (wal/range.h): their summaries, and scans of chosen
 * segments record by record.
 *
 * Summaries (wal/summary.h) come from the catalog, where `wal push` recorded them; a segment without one
 * (archived before summaries existed, a rebuilt catalog, another host) is downloaded and summarized, and
 * the summary saved, so that the next question about it needs no download (lv_wal_segs_summarize).
 *
 * A scan (lv_wal_segs_scan) downloads one segment and calls cb for every record that starts in it within
 * [from_lsn, the segment's end in the range); a record continued into the next segment is read from the
 * two joined (the next one is downloaded too, and kept for the next scan). A scanned segment without a
 * summary gets one on the way. The end of valid WAL inside a segment ends its records there. */
#ifndef LV_WAL_SEGSCAN_H
#define LV_WAL_SEGSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "repo/repo.h"
#include "wal/range.h"
#include "wal/records.h"
#include "wal/summary.h"
#include "catalog/walsum.h"

typedef struct lv_wal_seg {
    lv_wal_object obj;
    uint64_t start_lsn, end_lsn;   /* the WAL of the range in this segment: [start, end) */
    lv_walsum *sum;                /* NULL: no summary known (yet) */
} lv_wal_seg;

typedef struct lv_wal_segs {
    lv_wal_range range;            /* wal/range.h, without the commit times */
    uint32_t seg_size;
    int pg_version;                /* the archive's major version (the stanza) */
    lv_wal_seg *v;
    size_t n;
    /* owned */
    lv_catalog_walsum *cat;        /* the catalog's summaries of the range */
    size_t ncat;
    lv_walsum **made;              /* summaries made by reading */
    size_t nmade, cmade;
    lv_buf cur;                    /* the last segment downloaded (index cur_i) in [0, cur_len); with
                                      have_next, only its pages from tail_lsn on in [0, cur_len), and the
                                      one after it in [cur_len, cur.len): one buffer, so a record split
                                      between them is read from both, and one segment in memory */
    size_t cur_len;
    uint64_t tail_lsn;
    size_t cur_i;
    int have_cur, have_next;
    uint64_t downloads;            /* segments downloaded so far */
} lv_wal_segs;

/* The range from (tli, from_lsn) along target_tli's history (0: the newest timeline, as
 * lv_wal_range_from), its segments and the catalog's summaries of them. Codes of lv_wal_range_to. */
int lv_wal_segs_open(const lv_repo *r, uint32_t tli, uint64_t from_lsn, uint32_t target_tli, lv_wal_segs *s);
void lv_wal_segs_free(lv_wal_segs *s);

/* Summaries for segments [i0, i1) that lack one: download, summarize, save (a catalog that cannot be
 * written is only warned about). Segments whose catalog row says their last commit is older than
 * skip_before_s (unix seconds; 0: none) are left without. LV_OK or the store's codes, LV_ERR_CORRUPT. */
int lv_wal_segs_summarize(const lv_repo *r, lv_wal_segs *s, size_t i0, size_t i1, int64_t skip_before_s);

/* Scan segment i: cb for each record starting in [max(from_lsn, its start), its end). cb's non-zero value
 * stops the scan and is returned. */
typedef int (*lv_wal_rec_cb)(void *arg, const lv_walrec_reader *rd, const lv_walrec *rec, const lv_wal_seg *seg);
int lv_wal_segs_scan(const lv_repo *r, lv_wal_segs *s, size_t i, uint64_t from_lsn, lv_wal_rec_cb cb, void *arg);

/* The oldest archived segment of timeline tli (0: of any, the lowest timeline first): its timeline and its
 * first LSN. LV_ERR_NOT_FOUND when there is no archive or no such segment. */
int lv_wal_first_segment(const lv_repo *r, uint32_t tli, uint32_t *tli_out, uint64_t *lsn);

/* Where a search of "the archive" starts: since_lsn when given (on the oldest backup's timeline), else
 * the oldest backup's start (oldest_tli/oldest_lsn, 0 when there is no backup), else the oldest archived
 * segment. LV_ERR_NOT_FOUND when there is no archive or no segment. */
int lv_wal_scan_start(const lv_repo *r, uint32_t oldest_tli, uint64_t oldest_lsn, uint64_t since_lsn, uint32_t *tli,
                      uint64_t *from);

/* The index of the segment holding lsn, or s->n when it is outside the range. */
size_t lv_wal_segs_index(const lv_wal_segs *s, uint64_t lsn);

#endif
