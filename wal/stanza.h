/* The repository's PostgreSQL cluster identity ("stanza"): which cluster's WAL this repository accepts.
 *
 * Object `stanza` at the repository root, sealed (lv_repo_seal, associated data "stanza"), create-only:
 * it is written once, by `labvault stanza create` (from pg_controldata) or by the first `wal push` (from
 * the segment's long page header), and never changed. Its plaintext is "name = value" lines:
 *   system-id = 7301234567890123456     the cluster's system identifier (pg_control, xlp_sysid)
 *   pg-version = 15                     major version (the WAL format differs between versions)
 *   wal-segment-size = 16777216
 *   wal-page-size = 8192
 *   created = 2026-11-21T08:00:00Z      informational
 *   source = wal push 000000010000000000000001 | pg_controldata
 *
 * A segment whose header disagrees on any of the first four is from another cluster (or another major
 * version after pg_upgrade, which makes a new system identifier anyway): LV_ERR_CONFLICT, exit 10.
 *
 * The catalog caches the stanza (meta key "wal.stanza.<repository id>"): it is immutable, so a push can
 * check a segment without a GET once the cache is warm. The repository id in the key keeps a catalog
 * that is later rebuilt for another repository from using this one's stanza. */
#ifndef LV_WAL_STANZA_H
#define LV_WAL_STANZA_H

#include <stdint.h>

#include "common/buf.h"
#include "catalog/catalog.h"
#include "repo/repo.h"
#include "wal/segment.h"

#define LV_WAL_STANZA_KEY "stanza"

typedef struct lv_wal_stanza {
    uint64_t sysid;
    int pg_version;
    uint32_t seg_size;
    uint32_t page_size;
    char created[32];
    char source[64];
} lv_wal_stanza;

/* Text form (above) and its strict parser (LV_ERR_CORRUPT naming `what` and the line). */
void lv_wal_stanza_format(const lv_wal_stanza *s, lv_buf *out);
int lv_wal_stanza_parse(const char *text, size_t n, lv_wal_stanza *s, const char *what);

/* Read the stanza object: LV_ERR_NOT_FOUND when the repository has none yet. */
int lv_wal_stanza_get(const lv_repo *r, lv_wal_stanza *out);

/* The stanza, for every reader that needs one: LV_ERR_NOT_FOUND when the repository has no WAL archive
 * yet (no stanza and no segment under wal/: history and backup-history files, which carry no cluster
 * identity, may have been pushed first); LV_ERR_CORRUPT when the stanza is missing although wal/ holds
 * archived segments: it was deleted or lost (it is never removed), and nothing may guess it again from
 * the next segment, which could be another cluster's. `stanza create` recreates it (below). */
int lv_wal_stanza_require(const lv_repo *r, lv_wal_stanza *out);

/* Create the stanza object (create-only). When one exists already: LV_OK if it describes the same
 * cluster (*existing = 1), LV_ERR_CONFLICT naming both system identifiers if not. When none exists but
 * wal/ holds archived segments (a lost stanza), s must describe the cluster of the first archived
 * segment's header, else LV_ERR_CONFLICT. */
int lv_wal_stanza_create(lv_repo *r, const lv_wal_stanza *s, int *existing);

/* Do two stanzas describe the same cluster (system identifier, version, segment and page size)? */
int lv_wal_stanza_same_cluster(const lv_wal_stanza *a, const lv_wal_stanza *b);

/* Is the segment whose header is h (file `name`) from the cluster s describes? LV_OK or
 * LV_ERR_CONFLICT with a message naming the file and both identities (both major versions when they
 * differ: a cluster upgraded with pg_upgrade has a new system identifier and another version). */
int lv_wal_stanza_match(const lv_wal_stanza *s, const lv_wal_header *h, const char *name);

/* The stanza a push checks against: the repository's, or, when it has no WAL archive yet, one created
 * from this segment's header ("the first push records it"). A lost stanza is LV_ERR_CORRUPT (above). */
int lv_wal_stanza_resolve(lv_repo *r, const lv_wal_header *h, const char *name, lv_wal_stanza *out);

/* The catalog's cached copy for repository r: get is LV_ERR_NOT_FOUND when not cached. */
int lv_wal_stanza_cache_get(lv_catalog *cat, const lv_repo *r, lv_wal_stanza *out);
int lv_wal_stanza_cache_put(lv_catalog *cat, const lv_repo *r, const lv_wal_stanza *s);
/* Forget the cached stanza (after `stanza delete`: the next push learns the repository's again). */
int lv_wal_stanza_cache_drop(lv_catalog *cat, const lv_repo *r);

#endif
