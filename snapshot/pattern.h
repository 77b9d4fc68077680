/* Shell patterns for snapshot paths, one rule for every command that takes them (backup's --exclude,
 * find). A pattern with a '/' is matched against the absolute path: `/var/lib/app/cache`, or `/srv/` then
 * `*` then `/tmp`, where '*' stops at '/' and a leading '.' is matched only by a '.'. One without a '/'
 * is matched against the entry's name (`*.log`). fnmatch(3) does the matching. */
#ifndef LV_SNAPSHOT_PATTERN_H
#define LV_SNAPSHOT_PATTERN_H

/* path: absolute ("/etc/hosts"); name: its last component. */
int lv_path_pattern_match(const char *pattern, const char *path, const char *name);

#endif
