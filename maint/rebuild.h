/* catalog rebuild: recreate everything the catalog derives from the repository, from the repository
 * alone (principle 1: the bucket is the truth).
 *
 * In one catalog transaction, so a failed rebuild leaves the previous catalog untouched:
 *   1. list manifests/, index/, data/ (in that order, see maint/check.h for why);
 *   2. lv_catalog_reset (local events are kept) and bind the catalog to this repository;
 *   3. read every index object and record its packs and blobs - except packs that are missing from
 *      data/ or whose size differs (warning): recording blobs that cannot be read would make later
 *      backups skip storing them again;
 *   4. read the header (a ranged GET of the tail) of every pack in data/ that no readable index covers,
 *      and record its blobs with no index object (logged: "pack ... was not in any index");
 *   5. read every manifest and record its kind, time and summary;
 *   6. run the steps other modules registered (repo/registry.h) for the tables they derive
 *      from the repository (the WAL archive's index of wal/, ...), in registration order.
 * Unreadable objects are logged and skipped. Return: LV_OK; LV_ERR_INCOMPLETE when objects had to be
 * skipped (damaged or missing packs, unreadable manifests, damaged objects of the registered steps:
 * `repo check` tells more); the store's or catalog's code when the rebuild could not be done (then
 * nothing changed). */
#ifndef LV_MAINT_REBUILD_H
#define LV_MAINT_REBUILD_H

#include <stdint.h>

#include "repo/repo.h"

typedef struct lv_rebuild_stats {
    uint64_t indexes, packs, blobs, manifests;     /* recorded */
    uint64_t unindexed_packs;                      /* recorded from their own header */
    uint64_t bad_indexes, bad_packs, bad_manifests; /* skipped */
    uint64_t bad_other;                            /* skipped by the registered steps (drill records, ...) */
} lv_rebuild_stats;

/* r->cat must be attached. st may be NULL. */
int lv_catalog_rebuild(lv_repo *r, lv_rebuild_stats *st);

#endif
