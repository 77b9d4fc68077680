/* Deletion records: what forget and prune removed on purpose, so that repo check on any host can tell a
 * removal from a loss (its local catalog is a witness of what existed: repo/check.h).
 *
 *   deleted/<64 hex>   the name is the SHA-256 of the stored object
 *
 * Sealed with aad "labvault deletions", compressed. Plaintext, UTF-8 lines:
 *   labvault deletions 1
 *   manifest <64 hex>          a manifest forget removed (one line each)
 *   wal-before <24 hex>        forget expired every WAL file below this segment (any timeline); all F:
 *                              `stanza delete` removed the whole archive, history files included
 * An index object prune replaced needs no record: the index objects prune writes list every index id they
 * supersede, carried forward from the ones they replace (docs/repository-format.md 7.3).
 *
 * Writers record before they delete: a crash between leaves a record of something still there, which is
 * harmless. prune merges all records into one (lv_deletions_merge), so their number stays small. */
#ifndef LV_REPO_DELETED_H
#define LV_REPO_DELETED_H

#include <stddef.h>

#include "repo/repo.h"

#define LV_DELETED_AAD "labvault deletions"

typedef struct lv_deletions {
    char (*manifests)[65];   /* sorted after lv_deletions_read */
    size_t nmanifests, cap;
    char wal_before[25];     /* "" when no WAL was expired */
} lv_deletions;

void lv_deletions_add_manifest(lv_deletions *d, const char *hex);
/* Keep the later of d->wal_before and name (segment order, timeline ignored). */
void lv_deletions_wal_before(lv_deletions *d, const char *name);
/* Write one record (nothing when d is empty). */
int lv_deletions_write(lv_repo *r, const lv_deletions *d);
/* The union of every record in the repository. A record that does not authenticate or parse is
 * LV_ERR_CORRUPT naming it. */
int lv_deletions_read(const lv_repo *r, lv_deletions *out);
int lv_deletions_has_manifest(const lv_deletions *d, const char *hex);
/* Is a WAL file of this segment position below d->wal_before? */
int lv_deletions_wal_expired(const lv_deletions *d, unsigned log, unsigned seg);
/* Replace every record by one holding their union (prune). */
int lv_deletions_merge(lv_repo *r);
void lv_deletions_free(lv_deletions *d);

#endif
