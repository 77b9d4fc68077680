/* What a `backup pg` run needs besides the cluster: the previous backup an incremental compares with,
 * and the lock that keeps two backups of one repository and cluster from running at once.
 *
 * Previous backup: the "pg" manifest in the catalog with the same system identifier and timeline
 * (summary "sysid", "timeline") and the highest stop LSN (then the latest time), loaded whole with
 * lv_pgman_load. The lock: flock(LOCK_EX | LOCK_NB) on a file (beside the catalog), which holds the
 * holder's pid for the message; the kernel drops it when the process ends, however it ends. */
#ifndef LV_BACKUP_PG_PREV_H
#define LV_BACKUP_PG_PREV_H

#include <stdint.h>

#include "pg/manifest.h"
#include "repo/repo.h"

/* LV_ERR_NOT_FOUND (message says why) when the catalog has no such backup. */
int lv_pg_prev_find(lv_repo *r, uint64_t sysid, uint32_t timeline, char id[2 * LV_HASH_LEN + 1], lv_pgman *m);

/* *fd >= 0 holds the lock (close it to release). LV_ERR_LOCKED "another backup pg is running (pid N)",
 * LV_ERR_IO when the file cannot be created. */
int lv_pg_lock(const char *path, int *fd);

/* The value of "key" in a flat JSON object written by labvault (a string or a number), as text, into
 * out; 0 when found. Enough for reading our own summaries back. */
int lv_pg_summary_field(const char *json, const char *key, char *out, size_t n);

#endif
