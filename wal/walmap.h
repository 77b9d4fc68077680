/* WAL block maps in the repository: one sealed object per archived segment (wal/blockmap.h), beside the
 * segment's own, and their catalog rows (catalog/walmap.h).
 *
 *     walmap/<segment name>            e.g. walmap/000000010000000000000003
 *
 * Named by the segment (its timeline is in the name), sealed by lv_repo_seal with "walmap/<name>" as
 * associated data (a map copied under another name does not authenticate), zstd-compressed, create-only:
 * a map is a function of the segment's bytes and the format version, so one already there is success.
 * One object per segment, not batches: `wal push` is one process per segment (PostgreSQL calls it once per
 * file), so a batch would need state between pushes, and expiry deletes a segment's map with it; a map is
 * small (docs/wal-format.md 16 measures it). The map records the segment object's checksum, which repo
 * check compares.
 *
 * Registered with the catalog (rebuild: a row per listed map, its bytes read later, when a backup needs
 * them; sync: rows added for maps other hosts pushed, forgotten for maps gone) and with repo check (the
 * kind "walmap", checked beside the WAL archive in wal/repo_check.c: a segment without a map is a warning,
 * not damage: an incremental over it reads every page). */
#ifndef LV_WAL_WALMAP_H
#define LV_WAL_WALMAP_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "repo/object.h"
#include "repo/repo.h"
#include "wal/blockmap.h"
#include "wal/blockset.h"
#include "wal/timeline.h"

#define LV_WALMAP_PREFIX "walmap/"

extern const lv_obj_type lv_obj_walmap;

/* Store segment's encoded map (create-only; already there: LV_OK). */
int lv_walmap_store(const lv_repo *r, const char *segment, const lv_buf *encoded);

/* The map of segment: from the catalog when it holds its bytes, else from the repository (recorded in the
 * catalog then). *m parsed; encoded (may be NULL) receives the bytes. LV_ERR_NOT_FOUND when the repository
 * has no map of segment; LV_ERR_CORRUPT when it does not authenticate or parse; the store's codes. Any
 * thread with its own catalog (cat may be NULL: the repository only). */
int lv_walmap_load(const lv_repo *r, lv_catalog *cat, const char *segment, lv_blkmap *m);

/* Every map object, in key order: cb(arg, segment) with the segment's name (NULL for a key that is not a
 * map's), key and size. */
typedef int (*lv_walmap_list_cb)(void *arg, const char *segment, const char *key, uint64_t size);
int lv_walmap_list(const lv_repo *r, lv_walmap_list_cb cb, void *arg);

/* The union of the block maps of [from, to) along the timeline history hist (wal/timeline.h, nhist >= 1;
 * its last span the backup's timeline), for an incremental backup whose previous backup started at `from`
 * (on that history) and which starts at `to`: for each segment, the map of the file recovery would read
 * (lv_wal_history_segment_tli: across a switch, the old timeline's segments up to the one before the switch
 * point's, then the new timeline's; the map of the segment holding the switch point begins on the old
 * timeline, as the file does). The archived maps of the segments from from's to the one before to's (the
 * catalog's bytes, else the repository's), and for to's own segment, which is not archived yet, a scan of
 * pgdata/pg_wal/<segment> up to `to` (pgdata NULL: the archived map, whole).
 * Records split by segment boundaries are joined (lv_blkmap_join). LV_OK with *out; otherwise *out NULL,
 * `why` says why the maps cannot be used (the backup then compares every page's LSN, as before maps) and
 * the code is LV_ERR_NOT_FOUND (a map missing: pushed before maps, or not stored), LV_ERR_CORRUPT (one
 * that does not authenticate or parse), LV_ERR_INCOMPLETE (another format version, unsafe after wal_level
 * = minimal, not complete, a split record the maps cannot tell, a map that begins on another timeline than
 * the history says) or the store's codes. The error state is cleared: the caller reports `why`. */
int lv_walmap_range(const lv_repo *r, lv_catalog *cat, const char *pgdata, const lv_wal_tl_span *hist, size_t nhist,
                    uint32_t seg_size, uint64_t from, uint64_t to, lv_blkset **out, char *why, size_t whylen);

/* The rebuild and sync steps (repo/registry.h); registered by lv_walcat_register. */
int lv_walmap_rebuild(lv_repo *r, uint64_t *damaged);
int lv_walmap_sync(lv_repo *r);

/* repo check, kind "walmap" (walmap_check.c; registered at startup by cli/register.c): a segment without
 * a map, or a map without its segment, is a WARNING (an incremental over it reads every page; a map left by
 * an expiry cut short goes with the next); a key that is not a map's name a WARNING; with --read-data, the
 * share asked of the maps is downloaded: one that does not authenticate or parse, or that names another
 * checksum than the archived segment's, is an ERROR (damage), one of another format version a WARNING. */
void lv_walmap_check_register(void);

#endif
