/* What the modules above the repository plug into its maintenance, registered once at startup
 * (cli/register.c), before any thread runs: how each manifest kind finds the blobs it references (repo
 * check walks them, maint/check.h), and the steps of each module that refill its own tables when the
 * catalog is rebuilt from the repository (maint/rebuild.h) or brought up to date with it (maint/sync.h). Check and rebuild sit above every module;
 * the registry sits below them, so neither side includes the other. */
#ifndef LV_REPO_REGISTRY_H
#define LV_REPO_REGISTRY_H

#include <stddef.h>

#include "repo/manifest.h"
#include "repo/repo.h"

/* Register (or, with refs NULL, unregister) the blob-reference walker of a manifest kind; up to 16 kinds.
 * LV_ERR_INTERNAL when full or kind is invalid. */
int lv_manifest_register_kind(const char *kind, lv_manifest_refs_fn refs);
lv_manifest_refs_fn lv_manifest_kind_refs(const char *kind); /* NULL when unregistered */

/* A module's own rebuild step: refill its derived tables of r->cat from the repository (the transaction
 * is already open and the tables reset; do not begin or commit). Return an lv_code; any failure aborts
 * the whole rebuild (rolled back), so skip damaged objects with a warning rather than fail on them.
 * Up to 8 steps, run in registration order; name is for messages. */
typedef int (*lv_rebuild_step_fn)(lv_repo *r);
typedef struct lv_rebuild_step {
    const char *name;
    lv_rebuild_step_fn fn;
} lv_rebuild_step;
int lv_catalog_rebuild_register(const char *name, lv_rebuild_step_fn fn);
/* The registered steps, in order: *out points at them; returns their number. */
size_t lv_rebuild_steps(const lv_rebuild_step **out);

/* A module's catalog-sync step (maint/sync.h): bring its tables up to date with the repository without a
 * full rebuild (inside the sync's transaction). Same rules and limits as rebuild steps. */
int lv_catalog_sync_register(const char *name, lv_rebuild_step_fn fn);
size_t lv_sync_steps(const lv_rebuild_step **out);

#endif
