/* Listing the entries of a file snapshot (`labvault ls`): the node at path ("" or "/" the root; leading,
 * trailing and repeated slashes ignored) and, when it is a directory, everything below it, depth first in
 * name order. Each entry comes with its path relative to the snapshot's root (the root itself is not an
 * entry). LV_ERR_NOT_FOUND when path does not exist in the snapshot. */
#ifndef LV_SNAPSHOT_LS_H
#define LV_SNAPSHOT_LS_H

#include "repo/repo.h"
#include "snapshot/snapshot.h"

/* path and n are valid during the call. A non-zero return stops and is returned. */
typedef int (*lv_snap_ls_fn)(void *arg, const char *path, const lv_node *n);

int lv_snap_ls(const lv_repo *r, const char *id, const char *path, lv_snap_ls_fn cb, void *arg);

#endif
