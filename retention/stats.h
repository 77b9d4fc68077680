/* `labvault repo stats`.
 *
 * lv_repo_stats_get: what the repository holds, by kind of backup, from the catalog (the backups and what
 * they held before deduplication), the WAL archive's listing and a dry run of prune (the blobs each kind
 * references, raw and stored, and the packs: used, unused, reclaimable now). Nothing is written. */
#ifndef LV_RETENTION_STATS_H
#define LV_RETENTION_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "retention/prune.h"

typedef struct lv_repo_stats {
    uint64_t backups[LV_PRUNE_KINDS];        /* by lv_prune_kind_index */
    uint64_t logical_bytes[LV_PRUNE_KINDS];  /* before deduplication: files bytes_total, pg bytes read */
    uint64_t wal_files, wal_segments, wal_stored_bytes, wal_logical_bytes; /* logical: segments * size */
    lv_prune_result prune;                   /* the dry run: .kind[] referenced blobs, .plan packs */
    uint64_t reclaimable_bytes;              /* what prune would free now */
} lv_repo_stats;

/* r->cat must be attached and synced; po as for lv_prune (dry_run is forced). */
int lv_repo_stats_get(lv_repo *r, const lv_prune_opts *po, lv_repo_stats *out);

#endif
