/* `labvault prune`: reclaim the space of blobs no manifest references, without ever making a backup or a
 * WAL push wait, and without deleting anything a running or later backup relies on. The argument, the
 * invariants and every crash point: docs/repository-format.md, section 10.
 *
 * Work (the caller holds the exclusive maintenance lock, so two prunes never overlap):
 *   1. list manifests/, then index/, then data/;
 *   2. fill the work database (catalog/prunedb.h, on disk): every pack in data/ with its entries (from
 *      the index objects; from its own header when no index lists it), and every blob the manifests
 *      reference (each kind's reference function: pg extents with page-delta bases, file snapshot trees);
 *   3. plan: a home for every referenced blob; packs to keep, to repack (unused share > max_unused) and
 *      to delete (no home entry);
 *   4. repack: copy the home blobs of the packs to repack, sealed as they are (authenticated on the way:
 *      a damaged blob is not copied, the prune stops naming it), into new packs;
 *   5. write new index objects for every kept, repacked and rescued pack (they supersede every index
 *      listed in step 1), then delete those old index objects: from now on no catalog that syncs
 *      (maint/sync.h) sees the packs to delete;
 *   6. deletion step: wait (wait_s) until no other command's in-flight marker is live (repo/lock.h),
 *      else defer the deletion to the next prune; list index/ and manifests/ again: packs listed by an
 *      index object written meanwhile are kept, and a pack holding the only copy of a blob a manifest
 *      written meanwhile references is rescued (indexed again); delete the rest (batched).
 * safety_none skips the wait for markers (for a user who knows no other writer is active); the checks
 * of step 6 still run. dry_run stops after step 3 (nothing written). */
#ifndef LV_RETENTION_PRUNE_H
#define LV_RETENTION_PRUNE_H

#include <stdint.h>

#include "catalog/prunedb.h"
#include "repo/repo.h"

/* Kinds of manifests, for lv_prune_result.kind (repo stats): 0 file snapshots, 1 PostgreSQL backups,
 * 2 any other kind. */
#define LV_PRUNE_KINDS 3
int lv_prune_kind_index(const char *kind);

typedef struct lv_prune_opts {
    double max_unused;        /* 0..1; default 0.10 */
    int dry_run, safety_none;
    int wait_s;               /* step 6: how long to wait for in-flight markers */
    int progress;             /* a progress line on stderr */
    const char *workdir;      /* where the work database goes (the catalog's directory) */
    const char *self_marker;  /* this command's own in-flight marker, if any */
} lv_prune_opts;

typedef struct lv_prune_result {
    lv_prune_plan_stats plan;
    uint64_t manifests, indexes_before, indexes_after;
    uint64_t packs_written, bytes_written;       /* repacked into */
    uint64_t packs_deleted, bytes_deleted;       /* deleted in step 6 */
    uint64_t packs_rescued, packs_protected;     /* step 6 */
    uint64_t packs_deferred, bytes_deferred;     /* not deleted: in-flight markers */
    char deferred_by[300];
    uint64_t bytes_before, bytes_after;          /* pack bytes in data/ */
    struct {
        uint64_t blobs, raw, sealed;             /* referenced by that kind (a blob shared by two counts in both) */
    } kind[LV_PRUNE_KINDS];
    double seconds;
} lv_prune_result;

int lv_prune(lv_repo *r, const lv_prune_opts *o, lv_prune_result *res);

#endif
