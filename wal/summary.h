/* What one WAL segment holds that later questions need without reading it again: the per-segment summary
 * `wal push` computes while it has the segment in memory (and readers compute for a segment archived
 * without one, wal/segscan.h), stored in the catalog (wal/walcat.h).
 *
 *   times      the unix seconds of the first and last commit/abort record that starts in the segment (0/0:
 *              none; -1/-1: its only one continues into the next segment), as before;
 *   xid range  the lowest and highest transaction id of its commit, abort and PREPARE records (modulo
 *              2^32, around the first one): a transaction whose end is not in [xid_lo, xid_hi] is not in
 *              this segment, so `restore pg --target-xid` reads only the segments that can hold it; a
 *              transaction's end that continues into the next segment counts here (when its xid is not
 *              in its first bytes, as for COMMIT PREPARED, the range is every xid);
 *   points     every restore point (name) and PREPARE TRANSACTION (xid, database, GID) that starts here;
 *   changes    per transaction and relation, the rows its heap records inserted, updated and deleted in
 *              this segment, for the pairs with at least LV_WALSUM_MIN_ROWS rows here (one bulk statement
 *              fills whole segments; an OLTP transaction's few rows are not kept): the xid is the
 *              top-level transaction when the segment says so (its commit or abort lists the
 *              subtransaction, an XLOG_XACT_ASSIGNMENT record, or XLR_BLOCK_ID_TOPLEVEL_XID), else the
 *              subtransaction's own; and how it ended when its commit, abort or PREPARE is in the same
 *              segment.
 *
 * Counting (wal/records.h decodes the records): Heap INSERT 1, Heap2 MULTI_INSERT its tuples, UPDATE and
 * HOT_UPDATE 1 each, DELETE 1 (a speculative insertion's "super delete" and the delete half of a row moved
 * to another partition are not deletes); records of the shared catalogs are not counted. A record that
 * continues into the next segment counts in this one when its header and first block reference are here
 * (a single-row INSERT, UPDATE or DELETE; a MULTI_INSERT's tuple count is in its last bytes, so such a cut
 * record is not counted), or, when fewer of its bytes are here, once the next segment's summary is read
 * beside this one (lv_walsum_join): so a segment's counts are the records that start in it.
 *
 * The records themselves (lv_walsum, its rows and points) are the catalog's (catalog/walsum.h), where they
 * are kept. Pure: a function of the bytes (data[0..len), one segment starting at its long page header). */
#ifndef LV_WAL_SUMMARY_H
#define LV_WAL_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/walsum.h"
#include "wal/blockmap.h"
#include "wal/records.h"

#define LV_WALSUM_MIN_ROWS 100 /* rows of one relation by one transaction in a segment worth a row */

/* Summarize one segment. LV_OK (the end of valid WAL ends the summary: it never fails on WAL content), or
 * LV_ERR_CORRUPT when data does not start with a segment's long page header. */
int lv_walsum_scan(const uint8_t *data, size_t len, lv_walsum *out);
/* The same scan making the segment's block map at the same time (one pass over the records for both):
 * *map as lv_blkmap_scan(data, len, UINT64_MAX, map) would give it. */
int lv_walsum_scan_map(const uint8_t *data, size_t len, lv_walsum *out, lv_blkmap *map);

/* The change split between segment a and the next one, b (a's cut, b's lead): counted into a's row of the
 * same transaction and relation when a has one (else it is below the threshold anyway). Returns 1 when
 * counted. pg_version: the WAL's major version (for the image header's flags). */
int lv_walsum_join(lv_walsum *a, const lv_walsum *b, int pg_version);

/* The counting of a summary, record by record, for readers that need every row of some transactions
 * (wal/changes.h reads the segments around a transaction whose rows the summaries only bound): feed it
 * records (any number of segments), then take every (transaction, relation) row, subtransactions folded
 * into their transaction where the records said so, with the ends seen (lv_walsum_change; malloc'ed). */
typedef struct lv_walsum_acc lv_walsum_acc;
lv_walsum_acc *lv_walsum_acc_new(void);
void lv_walsum_acc_record(lv_walsum_acc *a, const lv_walrec_reader *rd, const lv_walrec *rec);
void lv_walsum_acc_rows(lv_walsum_acc *a, lv_walsum_change **out, size_t *n);
void lv_walsum_acc_free(lv_walsum_acc *a);

/* Is xid inside the summary's xid range (modulo 2^32)? */
int lv_walsum_has_xid(const lv_walsum *s, uint32_t xid);

#endif
