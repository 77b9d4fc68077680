/* Commit times of a WAL range (used by wal/range.c; contract of the times in wal/range.h).
 *
 * segs[0..n) are the range's archived segments in WAL order (out->from_lsn and out->end_lsn already
 * set). Fills first_commit_time, last_commit_time, last_commit_lsn, last_commit_xid from the catalog's
 * wal_files times where they decide the answer, else by downloading and scanning segments
 * (wal/records.h). A downloaded segment that does not authenticate or is not WAL cuts the range before
 * it (out->damaged, end_lsn, last_segment, end_tli, segments; one warning naming it) and the scan goes
 * on in what is left. Returns LV_OK (times stay 0 when no commit is found) or the store's codes. */
#ifndef LV_WAL_RANGETIMES_H
#define LV_WAL_RANGETIMES_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "wal/archive.h"
#include "wal/range.h"

int lv_wal_range_times(const lv_repo *r, uint32_t seg_size, const lv_wal_object *const *segs, size_t n,
                       lv_wal_range *out);

#endif
