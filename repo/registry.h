/* What the modules above the repository plug into its maintenance, registered once at startup
 * (cli/register.c), before any thread runs: how each manifest kind finds the blobs it references and
 * the WAL it needs (repo check walks them, maint/check.h), and the steps of each module that refill its
 * own tables when the catalog is rebuilt from the repository (maint/rebuild.h) or brought up to date
 * with it (maint/sync.h). Check, rebuild and sync sit above the repository; the registry sits below
 * them and the modules, so neither side includes the other. (The check steps of modules that check
 * objects of their own are registered with maint/check.h, which the modules above it include.) */
#ifndef LV_REPO_REGISTRY_H
#define LV_REPO_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "repo/manifest.h"
#include "repo/repo.h"

/* Register (or, with refs NULL, unregister) the blob-reference walker of a manifest kind; up to 16 kinds.
 * LV_ERR_INTERNAL when full or kind is invalid. */
int lv_manifest_register_kind(const char *kind, lv_manifest_refs_fn refs);
lv_manifest_refs_fn lv_manifest_kind_refs(const char *kind); /* NULL when unregistered */

/* The archived WAL a manifest needs to be restorable, for repo check: a PostgreSQL backup needs every
 * segment from its start to its stop LSN on its timeline. A kind that needs WAL registers a function
 * that reads the range from the body (LV_ERR_CORRUPT when malformed); same rules as above. */
typedef struct lv_manifest_wal {
    uint32_t tli, seg_size;
    uint64_t start_lsn, stop_lsn;
} lv_manifest_wal;
typedef int (*lv_manifest_wal_fn)(const lv_manifest *m, lv_manifest_wal *out);
int lv_manifest_register_wal(const char *kind, lv_manifest_wal_fn fn);
lv_manifest_wal_fn lv_manifest_kind_wal(const char *kind); /* NULL when the kind needs no WAL */

/* A module's own rebuild step: refill its derived tables of r->cat from the repository (the transaction
 * is already open and the tables reset; do not begin or commit). Return an lv_code; any failure aborts
 * the whole rebuild (rolled back), so do not fail on a damaged object: skip it, log one error line naming
 * it, and count it in *damaged; the rebuild then ends with LV_ERR_INCOMPLETE, like for damaged packs.
 * Up to 8 steps, run in registration order; name is for messages. */
typedef int (*lv_rebuild_step_fn)(lv_repo *r, uint64_t *damaged);
typedef struct lv_rebuild_step {
    const char *name;
    lv_rebuild_step_fn fn;
} lv_rebuild_step;
int lv_catalog_rebuild_register(const char *name, lv_rebuild_step_fn fn);
/* The registered steps, in order: *out points at them; returns their number. */
size_t lv_rebuild_steps(const lv_rebuild_step **out);

/* A module's catalog-sync step (maint/sync.h): bring its tables up to date with the repository without a
 * full rebuild (inside the sync's transaction). Same limits as rebuild steps; a damaged object is
 * skipped with a warning. lists: the one store prefix the step lists (lv_store_list with exactly that
 * prefix), which the sync lists ahead with the others at once (lv_store_prefetch); NULL if none. */
typedef int (*lv_sync_step_fn)(lv_repo *r);
typedef struct lv_sync_step {
    const char *name;
    lv_sync_step_fn fn;
    const char *lists;
} lv_sync_step;
int lv_catalog_sync_register(const char *name, lv_sync_step_fn fn, const char *lists);
size_t lv_sync_steps(const lv_sync_step **out);

#endif
