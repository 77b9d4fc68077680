/* `labvault find`: the entries of a snapshot that match any of some patterns (snapshot/pattern.h), depth
 * first in name order, each with its absolute path as it was on the host. Reads the whole tree of the
 * snapshot, one directory page at a time (snapshot/reader.h): memory follows the depth, not the size. */
#ifndef LV_SNAPSHOT_FIND_H
#define LV_SNAPSHOT_FIND_H

#include <stddef.h>

#include "repo/repo.h"
#include "snapshot/ls.h"

/* cb gets each match's absolute path ("/etc/hosts") and node, valid during the call; a non-zero return
 * stops and is returned. */
int lv_snap_find(const lv_repo *r, const char *id, const char *const *patterns, size_t npatterns, lv_snap_ls_fn cb,
                 void *arg);

#endif
