/* repo check: verify a repository from the store, object kind by object kind, and say which kinds were
 * covered (docs/repository-format.md 7.8 is the user's view).
 *
 * Structure (always). Listings of manifests/, index/, data/ first (in that order: an object a concurrent
 * writer adds after our listing of its kind is simply not seen, and one seen can only reference objects
 * written before it, which the later listings include), then per kind:
 *   config      authenticated when the repository was opened (lv_repo_open): counted, not read again;
 *   keys/       every key object's SHA-256 equals its name and it parses (its master secret opens only
 *               with its own credential, which check does not have);
 *   index/      every index object is readable: its SHA-256 matches its name, it authenticates, it parses;
 *               every pack it lists exists in data/ with exactly the size it records (shorter: truncated;
 *               absent: lost);
 *   data/       every pack is listed by some index; otherwise a WARNING "unindexed pack" (an interrupted
 *               backup leaves these; `catalog rebuild` reads them, prune removes them);
 *   manifests/  every manifest is readable; for kinds that registered a reference function
 *               (lv_manifest_register_kind) every blob it references is listed by an index; the WAL
 *               ranges kinds declare (lv_manifest_register_wal) are collected for the WAL's own check;
 *   locks/      every lock parses; a stale one is a WARNING (`repo unlock` removes it);
 *   catalog/    copies of local catalogs written by earlier versions, which nothing reads: a WARNING each
 *               (the next backup removes them);
 *   temporary   files an interrupted put left (store.h): a WARNING each once older than
 *               LV_STORE_TEMP_STALE_S; younger ones may belong to a running put and are only counted;
 * and the kinds other modules register (lv_check_register): the stanza and wal/ (wal/repo_check.h),
 * drills/ (drills/drill.h).
 * Data (read_data_percent > 0): that share of the packs, rounded up and chosen at random (so repeated
 * partial checks cover the whole repository over time), is downloaded whole: its header must
 * authenticate and parse and its name match it, it must agree with the index entries for that pack,
 * and every blob must unseal and hash to its id. Registered kinds read the same share of their objects
 * (lv_check_sample).
 *
 * The local catalog (r->cat, when the caller attached one bound to this repository) records the objects
 * written or read on this host. Objects it records that the listing lacks are ERRORs: that is the only
 * way to see the deletion of an object nothing else references (a manifest, an index object, the newest
 * WAL segment, a drill record). Each kind reads the catalog before listing, so an object a concurrent
 * writer adds in between is never reported missing. Without a catalog such deletions cannot be seen, and
 * rep->catalog says so.
 *
 * Each problem is reported as one line naming the object ("pack data/ab/ab12...: ...") through the
 * callback, with a severity. Return: LV_OK when no ERROR was reported (warnings allowed),
 * LV_ERR_CORRUPT when at least one was, or the store's code (LV_ERR_UNREACHABLE, LV_ERR_AUTH,
 * LV_ERR_IO, ...) when the check could not be completed - then the report is incomplete. */
#ifndef LV_MAINT_CHECK_H
#define LV_MAINT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

typedef enum lv_check_severity { LV_CHECK_ERROR = 1, LV_CHECK_WARNING = 2 } lv_check_severity;

#define LV_CHECK_KINDS_MAX 16

/* One object kind and what the check did with it. */
typedef struct lv_check_kind {
    const char *name;      /* "config", "keys", "index", "data", "manifests", "stanza", "wal", ... (static) */
    uint64_t objects;      /* present (listed) */
    uint64_t read;         /* downloaded and verified (authenticated or hashed, parsed) */
    uint64_t bytes_read;
    uint64_t missing;      /* known (referenced, or recorded by the catalog) but absent */
    uint64_t errors, warnings;
} lv_check_kind;

typedef struct lv_check_report {
    /* Called once per problem; NULL logs the line instead (lv_error / lv_warn). */
    void (*problem)(void *arg, lv_check_severity sev, const char *line);
    void *arg;
    /* Filled in by lv_repo_check. */
    uint64_t packs, indexes, manifests, blobs;  /* objects seen (blobs: listed by indexes) */
    uint64_t packs_read, bytes_read;            /* data check: packs */
    uint64_t errors, warnings;
    lv_check_kind kinds[LV_CHECK_KINDS_MAX];    /* in the order they were checked */
    size_t nkinds;
    int catalog;                                /* 1 when compared with the local catalog */
} lv_check_report;

/* read_data_percent: 0 (structure only) .. 100 (every pack and WAL object). rep may be NULL. */
int lv_repo_check(lv_repo *r, int read_data_percent, lv_check_report *rep);

/* ---- for the kinds other modules check ------------------------------------------------------------ */

typedef struct lv_check lv_check; /* the check in progress */

lv_repo *lv_check_repo(lv_check *ck);  /* ->cat is the catalog to compare with, or NULL */
int lv_check_percent(const lv_check *ck);
/* The counters of kind `name` (a static string), added to the report at first use. */
lv_check_kind *lv_check_kind_of(lv_check *ck, const char *name);
/* Report a problem of kind k (counted there and in the totals). */
void lv_check_problem(lv_check *ck, lv_check_kind *k, lv_check_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Which of n objects to read: a random permutation of 0..n-1 whose first *m entries are the share
 * read_data_percent asks for, rounded up (0 when structure only). Free it with free(). */
size_t *lv_check_sample(lv_check *ck, size_t n, size_t *m);
/* A failure of the store itself (not damage of one object, nor an object gone since its listing): the
 * check cannot go on. */
int lv_check_fatal(int rc);

/* The WAL ranges the manifests that read need (repo/registry.h lv_manifest_register_wal). */
typedef struct lv_check_wal_need {
    char manifest[2 * LV_HASH_LEN + 1];
    uint32_t tli, seg_size;
    uint64_t start_lsn, stop_lsn;
} lv_check_wal_need;
const lv_check_wal_need *lv_check_wal_needs(const lv_check *ck, size_t *n);

/* What forget and prune recorded as removed on purpose (repo/deleted.h): a catalog's record of it is no
 * evidence of loss. */
struct lv_deletions;
const struct lv_deletions *lv_check_deletions(const lv_check *ck);

/* A module's check of the kinds it owns, run after the kinds above in registration order. Return LV_OK
 * (problems go through lv_check_problem) or a fatal code, which ends the check. Register at startup,
 * before any thread runs; up to 8 steps. */
typedef int (*lv_check_step_fn)(lv_check *ck);
int lv_check_register(const char *name, lv_check_step_fn fn);

#endif
