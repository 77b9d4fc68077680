/* Depth-first walk of a snapshot for restore, in tree order, with --include filtering.
 *
 * Paths given to the callbacks are relative to the snapshot root ("etc/nginx/nginx.conf"). A directory
 * gets dir_enter before and dir_leave after its entries; everything else gets entry. With includes
 * (snapshot paths; leading, trailing and repeated slashes ignored), an entry is visited when it is an
 * include or below one, and a directory is also visited (entered, but only the matching entries in it)
 * when an include lies below it, so its metadata is restored too. An include that matches nothing is
 * LV_ERR_NOT_FOUND naming it (checked at the end: nothing is skipped silently).
 *
 * Node views passed to the callbacks are valid until the callback returns, and a directory's node
 * stays valid from its dir_enter to its dir_leave. Memory: one tree page per level. */
#ifndef LV_RESTORE_WALK_H
#define LV_RESTORE_WALK_H

#include <stddef.h>

#include "snapshot/reader.h"

typedef struct lv_rwalk_ops {
    int (*dir_enter)(void *arg, const lv_node *n, const char *path);
    int (*dir_leave)(void *arg, const lv_node *n, const char *path);
    int (*entry)(void *arg, const lv_node *n, const char *path);
} lv_rwalk_ops;

int lv_rwalk(lv_tree_src src, const uint8_t *root, uint32_t nroot, const char *const *includes, size_t nincludes,
             const lv_rwalk_ops *ops, void *arg);

#endif
