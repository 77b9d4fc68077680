/* Setting restored metadata, in the one order that keeps it exact:
 *   1. owner and group (as root only): chown clears setuid/setgid, so it comes first;
 *   2. permission bits, setuid/setgid/sticky included;
 *   3. xattrs: a POSIX ACL xattr also sets the group-class mode bits, consistently with step 2 because
 *      the ACL and the mode were recorded together;
 *   4. times (atime = mtime; ctime cannot be set), last, since the steps above change ctime only.
 * A step that fails is a warning line naming the path and the step, counted in *warnings; the restore
 * goes on. Owners: by name when the name exists here, else by the recorded number. */
#ifndef LV_RESTORE_META_H
#define LV_RESTORE_META_H

#include <stdint.h>

#include "snapshot/tree.h"

typedef struct lv_owner_cache lv_owner_cache;

lv_owner_cache *lv_owner_cache_new(void);
void lv_owner_cache_free(lv_owner_cache *c);

/* On an open file or directory. */
void lv_meta_apply_fd(lv_owner_cache *c, int fd, const lv_node *n, const char *path, uint64_t *warnings);
/* On dfd/name without following it (symlinks, FIFOs, devices). */
void lv_meta_apply_at(lv_owner_cache *c, int dfd, const char *name, const lv_node *n, const char *path,
                      uint64_t *warnings);

/* Remove dfd/name and everything below it, never following symlinks. */
int lv_remove_tree(int dfd, const char *name, const char *path);

#endif
