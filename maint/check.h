/* repo check: verify a repository from the store alone (the catalog is not consulted: the bucket is the
 * truth, and check must find what a stale catalog would hide).
 *
 * Structure (always): list data/, index/ and manifests/, then
 *   - every index object is readable: its SHA-256 matches its name, it authenticates, it parses;
 *   - every pack an index lists exists in data/ with exactly the size the index records (a shorter
 *     one is truncated, a missing one lost);
 *   - every pack in data/ is listed by some index; otherwise a WARNING "unindexed pack" (an interrupted
 *     backup leaves these; they are not damage, `catalog rebuild` reads them, prune removes them);
 *   - every manifest is readable, and for kinds that registered a reference function
 *     (lv_manifest_register_kind) every blob it references is listed by an index.
 * Data (read_data_percent > 0): that share of the packs in data/, rounded up and chosen at random
 * (so repeated partial checks cover the whole repository over time), is downloaded whole and
 *   - its SHA-256 must equal its name; its header must authenticate and parse; it must agree with the
 *     index entries for that pack; and every blob must unseal and hash to its id.
 *
 * Each problem is reported as one line naming the object ("pack data/ab/ab12...: ...") through the
 * callback, with a severity. Return: LV_OK when no ERROR was reported (warnings allowed),
 * LV_ERR_CORRUPT when at least one was, or the store's code (LV_ERR_UNREACHABLE, LV_ERR_AUTH,
 * LV_ERR_IO, ...) when the check could not be completed - then the report is incomplete. */
#ifndef LV_MAINT_CHECK_H
#define LV_MAINT_CHECK_H

#include <stdint.h>

#include "repo/repo.h"

typedef enum lv_check_severity { LV_CHECK_ERROR = 1, LV_CHECK_WARNING = 2 } lv_check_severity;

typedef struct lv_check_report {
    /* Called once per problem; NULL logs the line instead (lv_error / lv_warn). */
    void (*problem)(void *arg, lv_check_severity sev, const char *line);
    void *arg;
    /* Filled in by lv_repo_check. */
    uint64_t packs, indexes, manifests, blobs;  /* objects seen (blobs: listed by indexes) */
    uint64_t packs_read, bytes_read;            /* data check */
    uint64_t errors, warnings;
} lv_check_report;

/* read_data_percent: 0 (structure only) .. 100 (every pack). rep may be NULL. */
int lv_repo_check(lv_repo *r, int read_data_percent, lv_check_report *rep);

#endif
