/* The previous backup an incremental `backup pg` compares with: the "pg" backup in the catalog
 * (pg/backups.h) with the same system identifier and timeline and the highest stop LSN (then the latest
 * manifest time), loaded whole with lv_pgman_load. */
#ifndef LV_BACKUP_PG_PREV_H
#define LV_BACKUP_PG_PREV_H

#include <stdint.h>

#include "pg/manifest.h"
#include "repo/repo.h"

/* LV_ERR_NOT_FOUND (message says why) when the catalog has no such backup. */
int lv_pg_prev_find(lv_repo *r, uint64_t sysid, uint32_t timeline, char id[2 * LV_HASH_LEN + 1], lv_pgman *m);

#endif
