/* The difference between two file snapshots (`labvault diff`): one change per entry, in name order, each
 * with its path and the node on the side that has it (the second, unless removed):
 *   '+' added, '-' removed (and everything below a directory that exists on one side only),
 *   'M' a regular file's content changed (size or extents), 'T' the type changed, 'U' only metadata
 *   changed (mode, owner, times, xattrs, symlink target, device).
 * Directories whose pages have the same ids are identical subtrees and are not read: the cost follows the
 * changes, not the size of the snapshots. */
#ifndef LV_SNAPSHOT_DIFF_H
#define LV_SNAPSHOT_DIFF_H

#include <stdint.h>

#include "repo/repo.h"
#include "snapshot/snapshot.h"

enum { LV_DIFF_ADDED = '+', LV_DIFF_REMOVED = '-', LV_DIFF_MODIFIED = 'M', LV_DIFF_TYPE = 'T', LV_DIFF_META = 'U' };

typedef struct lv_snap_diff_stats {
    uint64_t added, removed, modified, meta, type;
} lv_snap_diff_stats;

/* path: relative to the snapshot's root, valid during the call. A non-zero return stops and is returned. */
typedef int (*lv_snap_diff_fn)(void *arg, char change, const char *path, const lv_node *n);

/* id1, id2: manifest ids of files snapshots. The read errors of lv_snap_open and the tree reader. */
int lv_snap_diff(const lv_repo *r, const char *id1, const char *id2, lv_snap_diff_fn cb, void *arg,
                 lv_snap_diff_stats *st);

#endif
